import assert from 'node:assert/strict';
import { finishedStatus, idleStatus, invalidSpecStatus, runningStatus, MAX_KEYS_IN_STATUS, MAX_TENANTS_IN_STATUS, type RunRecord } from '../../../src/controllers/reconciliation/status.js';
import type { RunResult, CheckResult } from '../../../src/reconciliation/index.js';
import { fitReport } from '../../../src/controllers/reconciliation/results-io.js';

const t0 = new Date('2026-03-10T02:10:00Z');
const t1 = new Date('2026-03-10T02:11:00Z');
const run: RunRecord = { id: 'o1abc', trigger: { kind: 'CutoverOffset', detail: '+4h' }, startedAt: t0 };

function check(name: string, verdict: CheckResult['verdict'], variance: number, tenants = 3, keys = 0): CheckResult {
  return {
    name,
    type: 'sum',
    verdict,
    variancePercent: variance,
    legacyValue: '100.00',
    targetValue: '99.00',
    worstTenant: 't1',
    thresholds: { remediatePercent: 0.5, failPercent: 1 },
    tenants: Array.from({ length: tenants }, (_, i) => ({ tenant: `t${i}`, legacy: '10', target: '10', variancePercent: i === 1 ? variance : 0, verdict: i === 1 ? verdict : 'Passed' })),
    differingKeys: Array.from({ length: keys }, (_, i) => ({ tenant: 't1', key: String(i), kind: 'changed' as const, columns: ['amount'] })),
  };
}
const result = (verdict: RunResult['verdict'], checks: CheckResult[], error?: string): RunResult => ({
  verdict,
  startedAt: t0.toISOString(),
  finishedAt: t1.toISOString(),
  rowsCompared: 1234,
  checks,
  ...(error ? { error } : {}),
});

describe('reconciliation status (pure)', function () {
  it('marks a started run Running and Reconciling, not Ready', function () {
    const st = runningStatus(undefined, run, 4, t0, 3);
    assert.equal(st.phase, 'Running');
    assert.equal(st.lastRun?.id, 'o1abc');
    assert.equal(st.lastRun?.finishedAt, undefined);
    assert.deepEqual(st.shards, { total: 3, succeeded: 0, failed: 0 });
    assert.equal(st.conditions?.find((c) => c.type === 'Reconciling')?.status, 'True');
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
    assert.equal(st.observedGeneration, 4);
  });

  it('records a passed run: Ready, Passed, the summary and the completed offset', function () {
    const st = finishedStatus(runningStatus(undefined, run, 1, t0), run, result('Passed', [check('orders', 'Passed', 0)]), { generation: 1, now: t1, reportConfigMap: 'r-report' });
    assert.equal(st.phase, 'Passed');
    assert.equal(st.lastRun?.verdict, 'Passed');
    assert.equal(st.lastRun?.finishedAt, t1.toISOString());
    assert.deepEqual(st.completedOffsets, ['+4h']);
    assert.equal(st.summary?.rowsCompared, '1234');
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(st.conditions?.find((c) => c.type === 'Passed')?.status, 'True');
    assert.equal(st.conditions?.find((c) => c.type === 'Reconciling'), undefined);
    assert.equal(st.reportConfigMap, 'r-report');
    assert.equal(st.runsCompleted, 1);
  });

  it('a failed run names the worst check and tenant, caps tenants and keys for the status', function () {
    const st = finishedStatus(undefined, run, result('Failed', [check('orders', 'Passed', 0), check('payments', 'Failed', 2.5, 80, 35)]), { generation: 1, now: t1 });
    assert.equal(st.phase, 'Failed');
    assert.equal(st.summary?.worstCheck, 'payments');
    assert.equal(st.summary?.worstTenant, 't1');
    assert.equal(st.summary?.maxVariancePercent, '2.5');
    const payments = st.checks?.find((c) => c.name === 'payments');
    assert.equal(payments?.tenants?.length, MAX_TENANTS_IN_STATUS);
    assert.equal(payments?.tenants?.[0]?.tenant, 't1', 'worst tenant first');
    assert.equal(payments?.differingKeys?.length, MAX_KEYS_IN_STATUS);
    assert.equal(st.conditions?.find((c) => c.type === 'Failed')?.status, 'True');
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.reason, 'Failed');
  });

  it('shows the variance the verdict rests on: a row under the wrong tenant is 0 % in total, 100 % for the tenant', function () {
    const moved: CheckResult = {
      ...check('refunded-orders', 'Failed', 0),
      tenants: [
        { tenant: '3', legacy: '1', target: '0', variancePercent: 100, verdict: 'Failed' },
        { tenant: '4', legacy: '0', target: '1', variancePercent: 100, verdict: 'Failed' },
      ],
    };
    const st = finishedStatus(undefined, run, result('Failed', [check('orders', 'Passed', 0.1), moved]), { generation: 1, now: t1 });
    assert.equal(st.checks?.find((c) => c.name === 'refunded-orders')?.variancePercent, 100);
    assert.equal(st.summary?.maxVariancePercent, '100');
    assert.equal(st.summary?.worstCheck, 'refunded-orders');
  });

  it('an Error run is never Passed, keeps the previous verdict conditions and does not complete its offset', function () {
    const passed = finishedStatus(undefined, run, result('Passed', [check('orders', 'Passed', 0)]), { generation: 1, now: t1 });
    const rerun: RunRecord = { ...run, id: 'o2' };
    const st = finishedStatus({ ...passed, completedOffsets: [] }, rerun, result('Error', [], 'legacy (mysql 127.0.0.1:3306/x): connect ECONNREFUSED'), { generation: 1, now: t1 });
    assert.equal(st.phase, 'Error');
    assert.equal(st.lastRun?.verdict, 'Error');
    assert.match(st.lastRun?.error ?? '', /ECONNREFUSED/);
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.reason, 'RunError');
    assert.deepEqual(st.completedOffsets, []);
  });

  it('an invalid spec stalls with the message; idle status plans the next run', function () {
    const st = invalidSpecStatus(undefined, "spec.checks[0].legacy.table: 'x;drop' is not an identifier", 2, t0);
    assert.equal(st.conditions?.find((c) => c.type === 'Stalled')?.reason, 'InvalidSpec');
    const idle = idleStatus(st, 3, new Date('2026-03-11T02:00:00Z'), undefined, t1);
    assert.equal(idle.nextRunAt, '2026-03-11T02:00:00.000Z');
    assert.equal(idle.conditions?.find((c) => c.type === 'Stalled'), undefined);
    assert.equal(idle.phase, 'Pending');
  });

  it('fits an oversized report into a ConfigMap by cutting keys, and says so', function () {
    const big = result('Failed', [check('rows', 'Failed', 5, 10, 50_000)]);
    const { json, truncated } = fitReport(big, 200_000);
    assert.ok(truncated);
    assert.ok(json.length <= 200_000);
    const parsed = JSON.parse(json) as RunResult;
    assert.equal(parsed.checks[0]?.differingKeysTruncated, true);
    assert.equal(fitReport(result('Passed', [check('a', 'Passed', 0)])).truncated, false);
  });
});
