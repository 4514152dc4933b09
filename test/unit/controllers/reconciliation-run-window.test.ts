import assert from 'node:assert/strict';
import type { Reconciliation, ReconciliationSpec } from '../../../src/api/index.js';
import { runSpec, RunWindowError } from '../../../src/controllers/reconciliation/run-window.js';
import { planFromSpec } from '../../../src/reconciliation/plan.js';

const spec = (window?: ReconciliationSpec['window']): ReconciliationSpec => ({
  legacy: { engine: 'mysql', secretRef: { name: 'legacy' } },
  target: { engine: 'postgres', secretRef: { name: 'target' } },
  checks: [{ name: 'orders', type: 'count', legacy: { table: 'pos_orders' }, target: { table: 'orders' } }],
  ...(window ? { window } : {}),
});
const recon = (
  s: ReconciliationSpec,
  annotations?: Record<string, string>,
): Pick<Reconciliation, 'spec' | 'metadata'> => ({
  spec: s,
  metadata: { name: 'r', namespace: 'ns', ...(annotations ? { annotations } : {}) },
});
const FROZEN = '2026-12-02T02:00:00Z';

describe('reconciliation run window: the spec a run compares', () => {
  it('until: frozenAt becomes the Cutover status.frozenAt, and the plan then ends there', () => {
    const s = spec({ column: 'created_at', last: '90d', until: 'frozenAt', cutoverRef: { name: 'nokta' } });
    const out = runSpec(recon(s), FROZEN);
    assert.equal(out.window?.until, '2026-12-02T02:00:00.000Z');
    assert.equal(out.window?.last, '90d');
    const plan = planFromSpec(out);
    assert.deepEqual(plan.window?.until, new Date(FROZEN));
    assert.equal(s.window?.until, 'frozenAt', 'the object itself is not changed');
  });

  it('until: frozenAt stays as is while the Cutover has not frozen (the engine says the fix)', () => {
    const s = spec({ column: 'created_at', until: 'frozenAt', cutoverRef: { name: 'nokta' } });
    assert.equal(runSpec(recon(s), undefined).window?.until, 'frozenAt');
    assert.equal(runSpec(recon(s), 'not a time').window?.until, 'frozenAt');
  });

  it('the window annotation replaces both ends and drops last and cutoverRef', () => {
    const s = spec({ column: 'created_at', last: '90d', until: 'frozenAt', cutoverRef: { name: 'nokta' } });
    const out = runSpec(
      recon(s, { 'cutover.nokta.io/window': `${FROZEN}/2026-12-02T05:30:00+03:00` }),
      FROZEN,
    );
    assert.deepEqual(out.window, {
      column: 'created_at',
      from: '2026-12-02T02:00:00.000Z',
      until: '2026-12-02T02:30:00.000Z',
    });
  });

  it('a bad window annotation is an error naming the annotation and the fix', () => {
    const s = spec({ column: 'created_at', last: '1d' });
    assert.throws(() => runSpec(recon(s, { 'cutover.nokta.io/window': FROZEN })), /must be FROM\/TO/);
    assert.throws(
      () => runSpec(recon(s, { 'cutover.nokta.io/window': `yesterday/${FROZEN}` })),
      (e: unknown) =>
        e instanceof RunWindowError && /FROM 'yesterday' is not an RFC 3339 time/.test(e.message),
    );
    assert.throws(
      () => runSpec(recon(s, { 'cutover.nokta.io/window': `${FROZEN}/${FROZEN}` })),
      /the window is empty/,
    );
    assert.throws(
      () => runSpec(recon(spec(), { 'cutover.nokta.io/window': `${FROZEN}/2026-12-03T00:00:00Z` })),
      /needs spec\.window\.column/,
    );
  });

  it('a spec without frozenAt or annotation is returned unchanged', () => {
    const s = spec({ column: 'created_at', last: '7d' });
    assert.equal(runSpec(recon(s), FROZEN), s);
  });
});
