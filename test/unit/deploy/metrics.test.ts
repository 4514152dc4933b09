/** The metrics the observability pack reads: build info, phases with their start, last-run time. */
import assert from 'node:assert/strict';
import { OperatorMetrics } from '../../../src/runtime/metrics.js';
import { forgetReconciliation, recordRun } from '../../../src/controllers/reconciliation/metrics.js';
import { API_VERSION } from '../../../src/api/crds.js';
import type { RunResult } from '../../../src/reconciliation/result.js';

async function series(m: OperatorMetrics, name: string): Promise<Array<{ labels: object; value: number }>> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (metric?.values ?? []).map((v) => ({ labels: v.labels, value: v.value }));
}

describe('deploy: metrics of the dashboard and the alerts', () => {
  it('cutover_build_info is 1 with the version, API version and Node.js version', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    const [info, ...rest] = await series(m, 'cutover_build_info');
    assert.equal(rest.length, 0);
    assert.equal(info!.value, 1);
    const labels = info!.labels as Record<string, string>;
    assert.equal(labels.version, '0.1.0');
    assert.equal(labels.api_version, API_VERSION);
    assert.equal(labels.node_version, process.version);
    assert.ok(labels.git_commit);
  });

  it('cutover_phase: one series per object, the old phase removed; the clock restarts only on a change', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    m.observePhase('Cutover', 'nokta', 'nokta', 'CuttingOver', 1_000_000);
    m.observePhase('Cutover', 'nokta', 'nokta', 'CuttingOver', 2_000_000);
    assert.deepEqual(await series(m, 'cutover_phase_since_timestamp_seconds'), [
      { labels: { kind: 'Cutover', namespace: 'nokta', name: 'nokta' }, value: 1000 },
    ]);
    m.observePhase('Cutover', 'nokta', 'nokta', 'RollingBack', 3_000_000);
    m.observePhase('Reconciliation', 'nokta', 'customers', undefined, 3_000_000);
    m.observePhase('Reconciliation', 'nokta', 'customers', '', 3_000_000);
    assert.deepEqual(await series(m, 'cutover_phase'), [
      { labels: { kind: 'Cutover', namespace: 'nokta', name: 'nokta', phase: 'RollingBack' }, value: 1 },
    ]);
    assert.deepEqual(await series(m, 'cutover_phase_since_timestamp_seconds'), [
      { labels: { kind: 'Cutover', namespace: 'nokta', name: 'nokta' }, value: 3000 },
    ]);
    m.forgetPhase('Cutover', 'nokta', 'nokta');
    assert.deepEqual(await series(m, 'cutover_phase'), []);
    assert.deepEqual(await series(m, 'cutover_phase_since_timestamp_seconds'), []);
  });

  it('cutover_reconciliation_last_run_timestamp_seconds is when the last run finished, gone with the Reconciliation', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    const run: RunResult = {
      verdict: 'Passed',
      startedAt: '2026-06-01T02:00:00.000Z',
      finishedAt: '2026-06-01T02:00:42.500Z',
      rowsCompared: 10,
      checks: [],
    };
    recordRun(m.registry, 'nokta', 'customers', run);
    assert.deepEqual(await series(m, 'cutover_reconciliation_last_run_timestamp_seconds'), [
      {
        labels: { namespace: 'nokta', reconciliation: 'customers' },
        value: Date.parse('2026-06-01T02:00:42.500Z') / 1000,
      },
    ]);
    await forgetReconciliation(m.registry, 'nokta', 'customers');
    assert.deepEqual(await series(m, 'cutover_reconciliation_last_run_timestamp_seconds'), []);
  });
});
