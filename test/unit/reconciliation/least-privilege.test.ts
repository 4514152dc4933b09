/**
 * The least-privilege warning: the write grants a run found become the LeastPrivilege condition
 * (False, WriteGrants, naming them; True, ReadOnlyAccounts, when there are none) and one Warning
 * Event per change; shard results merge their grants. The verdict is not touched.
 */
import assert from 'node:assert/strict';
import {
  finishedStatus,
  LEAST_PRIVILEGE,
  type RunRecord,
} from '../../../src/controllers/reconciliation/status.js';
import { reconciliationEvents } from '../../../src/controllers/reconciliation/events.js';
import { mergeResults, type RunResult } from '../../../src/reconciliation/result.js';
import type { Reconciliation } from '../../../src/api/index.js';

const t0 = new Date('2026-03-10T02:10:00Z');
const run: RunRecord = { id: 'r1', trigger: { kind: 'Initial' }, startedAt: t0 };

function passed(writeGrants?: string[], shard?: number): RunResult {
  return {
    verdict: 'Passed',
    startedAt: t0.toISOString(),
    finishedAt: t0.toISOString(),
    rowsCompared: 0,
    checks: [],
    ...(shard !== undefined ? { shard: { index: shard, count: 2, by: 'Tenant' as const } } : {}),
    ...(writeGrants ? { writeGrants } : {}),
  };
}

const recon = (status: Reconciliation['status']): Reconciliation =>
  ({
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'Reconciliation',
    metadata: { name: 'r' },
    spec: {},
    status,
  }) as unknown as Reconciliation;

describe('least-privilege warning', () => {
  it('names the grants in a False LeastPrivilege condition and a Warning Event, once per change', () => {
    const opts = { generation: 1, now: t0 };
    const grants = ['legacy: DELETE on shop.*', 'target: INSERT, UPDATE on orders'];
    const st = finishedStatus(undefined, run, passed(grants), opts);
    const c = st.conditions?.find((x) => x.type === LEAST_PRIVILEGE);
    assert.equal(c?.status, 'False');
    assert.equal(c?.reason, 'WriteGrants');
    assert.match(c?.message ?? '', /legacy: DELETE on shop\.\*; target: INSERT, UPDATE on orders/);
    assert.equal(st.lastRun?.verdict, 'Passed', 'a warning, not a failure');
    const events = reconciliationEvents(recon(undefined), recon(st));
    assert.deepEqual(
      events.filter((e) => e.reason === 'WriteGrants').map((e) => e.type),
      ['Warning'],
    );
    // the same grants at the next run: no second Event
    const again = finishedStatus(st, { ...run, id: 'r2' }, passed(grants), opts);
    assert.equal(
      reconciliationEvents(recon(st), recon(again)).filter((e) => e.reason === 'WriteGrants').length,
      0,
    );
    const fixed = finishedStatus(again, { ...run, id: 'r3' }, passed([]), opts);
    const ok = fixed.conditions?.find((x) => x.type === LEAST_PRIVILEGE);
    assert.equal(ok?.status, 'True');
    assert.equal(ok?.reason, 'ReadOnlyAccounts');
    // not checked (no grants in the result): no condition
    assert.equal(
      finishedStatus(undefined, run, passed(), opts).conditions?.find((x) => x.type === LEAST_PRIVILEGE),
      undefined,
    );
  });

  it('merges the grants of shard results', () => {
    const merged = mergeResults([
      passed(['target: INSERT on orders'], 0),
      passed(['legacy: ALL on *.*', 'target: INSERT on orders'], 1),
    ]);
    assert.deepEqual(merged.writeGrants, ['legacy: ALL on *.*', 'target: INSERT on orders']);
    assert.equal(mergeResults([passed(undefined, 0), passed(undefined, 1)]).writeGrants, undefined);
  });
});
