/**
 * The Reconciliation controller's metrics, in the operator's registry (so on its /metrics):
 * what the last run of each Reconciliation found, for dashboards and for CanaryPhase analysis
 * through Prometheus.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { verdictVariance, type RunResult } from '../../reconciliation/result.js';

export interface ReconciliationMetrics {
  runs: Counter<'namespace' | 'reconciliation' | 'verdict'>;
  rowsCompared: Counter<'namespace' | 'reconciliation'>;
  variance: Gauge<'namespace' | 'reconciliation' | 'check'>;
  lastRunSeconds: Gauge<'namespace' | 'reconciliation'>;
  lastRunPassed: Gauge<'namespace' | 'reconciliation'>;
  lastRunTimestamp: Gauge<'namespace' | 'reconciliation'>;
}

const byRegistry = new WeakMap<Registry, ReconciliationMetrics>();

export function reconciliationMetrics(registry: Registry): ReconciliationMetrics {
  let m = byRegistry.get(registry);
  if (!m) {
    const registers = [registry];
    m = {
      runs: new Counter({
        name: 'cutover_reconciliation_runs_total',
        help: 'Reconciliation runs finished, by verdict.',
        labelNames: ['namespace', 'reconciliation', 'verdict'],
        registers,
      }),
      rowsCompared: new Counter({
        name: 'cutover_reconciliation_rows_compared_total',
        help: 'Legacy rows compared by Reconciliation runs.',
        labelNames: ['namespace', 'reconciliation'],
        registers,
      }),
      variance: new Gauge({
        name: 'cutover_reconciliation_variance_percent',
        help: 'Variance each check of the last run rests its verdict on, percent (its worst tenant, or the total when larger).',
        labelNames: ['namespace', 'reconciliation', 'check'],
        registers,
      }),
      lastRunSeconds: new Gauge({
        name: 'cutover_reconciliation_last_run_duration_seconds',
        help: 'Duration of the last run.',
        labelNames: ['namespace', 'reconciliation'],
        registers,
      }),
      lastRunPassed: new Gauge({
        name: 'cutover_reconciliation_last_run_passed',
        help: '1 when the last run Passed, 0 otherwise.',
        labelNames: ['namespace', 'reconciliation'],
        registers,
      }),
      lastRunTimestamp: new Gauge({
        name: 'cutover_reconciliation_last_run_timestamp_seconds',
        help: 'When the last run finished, Unix time in seconds (time() minus this: its age).',
        labelNames: ['namespace', 'reconciliation'],
        registers,
      }),
    };
    byRegistry.set(registry, m);
  }
  return m;
}

export function recordRun(
  registry: Registry | undefined,
  namespace: string,
  reconciliation: string,
  result: RunResult,
): void {
  if (!registry) return;
  const m = reconciliationMetrics(registry);
  const labels = { namespace, reconciliation };
  m.runs.inc({ ...labels, verdict: result.verdict });
  m.rowsCompared.inc(labels, result.rowsCompared);
  for (const c of result.checks) m.variance.set({ ...labels, check: c.name }, verdictVariance(c));
  m.lastRunSeconds.set(
    labels,
    (new Date(result.finishedAt).getTime() - new Date(result.startedAt).getTime()) / 1000,
  );
  m.lastRunPassed.set(labels, result.verdict === 'Passed' ? 1 : 0);
  m.lastRunTimestamp.set(labels, new Date(result.finishedAt).getTime() / 1000);
}

/** Removes every series of a deleted Reconciliation (so /metrics does not report it forever). */
export async function forgetReconciliation(
  registry: Registry | undefined,
  namespace: string,
  reconciliation: string,
): Promise<void> {
  if (!registry) return;
  const m = byRegistry.get(registry);
  if (!m) return;
  for (const metric of [
    m.runs,
    m.rowsCompared,
    m.variance,
    m.lastRunSeconds,
    m.lastRunPassed,
    m.lastRunTimestamp,
  ] as Array<Counter<string> | Gauge<string>>) {
    for (const v of (await metric.get()).values) {
      if (v.labels.namespace === namespace && v.labels.reconciliation === reconciliation)
        metric.remove(v.labels);
    }
  }
}
