import assert from 'node:assert/strict';
import { parseJsonPath, pick } from '../../../src/analysis/http-json.js';
import { jobTemplateFor } from '../../../src/analysis/job.js';
import { valueOfQueryData } from '../../../src/analysis/prometheus.js';
import {
  measureReconciliation,
  type ReconciliationLike,
} from '../../../src/analysis/reconciliation-status.js';

const rec = (
  lastRun: NonNullable<ReconciliationLike['status']>['lastRun'],
  maxVariancePercent?: string,
): ReconciliationLike => ({
  metadata: { name: 'nightly', namespace: 'ns' },
  status: {
    lastRun,
    summary: {
      ...(maxVariancePercent !== undefined ? { maxVariancePercent } : {}),
      worstCheck: 'invoices-sum',
    },
  },
});
const metric = { namespace: 'ns', name: 'nightly' };
const now = new Date('2026-12-01T12:00:00Z');

describe('analysis providers (pure parts)', () => {
  it('Prometheus: one series or a scalar is the value; empty and NaN are NoData; many series is an Error', () => {
    assert.deepEqual(
      valueOfQueryData({ resultType: 'vector', result: [{ metric: {}, value: [1, '0.25'] }] }),
      { value: 0.25 },
    );
    assert.deepEqual(valueOfQueryData({ resultType: 'scalar', result: [1, '7'] }), { value: 7 });
    assert.ok('noData' in valueOfQueryData({ resultType: 'vector', result: [] }));
    assert.ok(
      'noData' in valueOfQueryData({ resultType: 'vector', result: [{ metric: {}, value: [1, 'NaN'] }] }),
    );
    const many = valueOfQueryData({
      resultType: 'vector',
      result: [{ value: [1, '1'] }, { value: [1, '2'] }],
    });
    assert.ok('error' in many && /2 series; aggregate/.test(many.error));
    assert.ok('error' in valueOfQueryData({ resultType: 'matrix', result: [] }));
  });

  it('HTTP JSON: dot paths with indexes; anything else refused with the form to use', () => {
    assert.deepEqual(parseJsonPath('data.items[2].p95'), ['data', 'items', 2, 'p95']);
    assert.equal(pick({ data: { items: [0, 0, { p95: 1.2 }] } }, parseJsonPath('data.items[2].p95')), 1.2);
    assert.equal(pick({ data: null }, parseJsonPath('data.p95')), undefined);
    assert.throws(() => parseJsonPath('data..p95'), /dot path like data.p95/);
    assert.throws(() => parseJsonPath('$.data'), /dot path/);
  });

  it('Reconciliation: a run counts once — not again at the next measurement — and not when older than maxAge', () => {
    const r = rec({ id: 'r1', finishedAt: '2026-12-01T02:00:00Z', verdict: 'Failed' }, '3.5');
    const first = measureReconciliation(r, metric, { now });
    assert.equal(first.result, 'Failed');
    assert.equal(first.value, 3.5);
    assert.match(first.reason, /run r1 Failed \(worst check invoices-sum\)/);
    const again = measureReconciliation(r, metric, {
      now: new Date('2026-12-01T13:00:00Z'),
      previousAt: now,
    });
    assert.equal(again.result, 'NoData');
    assert.match(again.reason, /no run finished since the previous measurement/);
    const old = measureReconciliation(r, { ...metric, maxAgeMs: 6 * 3600_000 }, { now });
    assert.equal(old.result, 'NoData');
    assert.match(old.reason, /older than maxAge/);
    const fresh = measureReconciliation(r, { ...metric, maxAgeMs: 12 * 3600_000 }, { now });
    assert.equal(fresh.result, 'Failed');
  });

  it('Reconciliation: conditions judge the variance; verdicts otherwise; Error run is Error; missing is Error', () => {
    const passed = rec({ id: 'r2', finishedAt: '2026-12-01T11:00:00Z', verdict: 'Passed' }, '0.01');
    assert.equal(measureReconciliation(passed, metric, { now }).result, 'Successful');
    assert.equal(
      measureReconciliation(passed, { ...metric, successCondition: 'result <= 0.001' }, { now }).result,
      'Failed',
    );
    const errored = rec({
      id: 'r3',
      finishedAt: '2026-12-01T11:00:00Z',
      verdict: 'Error',
      error: 'connection refused',
    });
    const e = measureReconciliation(errored, metric, { now });
    assert.equal(e.result, 'Error');
    assert.match(e.reason, /connection refused/);
    assert.equal(measureReconciliation(undefined, metric, { now }).result, 'Error');
    assert.equal(measureReconciliation(rec(undefined), metric, { now }).result, 'NoData');
  });

  it('Job: the same measurement id names the same Job; the next id a new one', () => {
    const m = {
      name: 'order-journey',
      template: { namespace: 'ns', ownerName: 'canary-a', image: 'img', command: ['node', 'journey.js'] },
    };
    const a = jobTemplateFor(m, '3');
    assert.deepEqual(a, jobTemplateFor(m, '3'));
    assert.equal(a.step, 'analysis-order-journey');
    assert.equal(a.attempt, 3);
    assert.equal(jobTemplateFor(m, '4').attempt, 4);
    assert.equal(a.labels?.['cutover.nokta.io/analysis-metric'], 'order-journey');
  });
});
