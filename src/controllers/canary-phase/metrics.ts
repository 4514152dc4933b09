/**
 * The CanaryPhase controller's metrics, in the operator's registry (its /metrics): measurements by
 * result, rollbacks, the value and consecutive failures of each metric, the step's weight.
 * Counted after the status write that recorded them (the claim), so a result is counted once.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TakenMeasurement } from './decide.js';
import type { CanaryPhaseStatus } from '../../api/types.js';

export interface CanaryMetrics {
  measurements: Counter<'namespace' | 'canaryphase' | 'metric' | 'result'>;
  value: Gauge<'namespace' | 'canaryphase' | 'metric'>;
  failures: Gauge<'namespace' | 'canaryphase' | 'metric'>;
  rollbacks: Counter<'namespace' | 'canaryphase'>;
  weight: Gauge<'namespace' | 'canaryphase'>;
}

const byRegistry = new WeakMap<Registry, CanaryMetrics>();

export function canaryMetrics(registry: Registry): CanaryMetrics {
  let m = byRegistry.get(registry);
  if (!m) {
    const registers = [registry];
    const phase = ['namespace', 'canaryphase'] as const;
    m = {
      measurements: new Counter({
        name: 'cutover_canary_measurements_total',
        help: 'CanaryPhase analysis measurements, by metric and result.',
        labelNames: [...phase, 'metric', 'result'],
        registers,
      }),
      value: new Gauge({
        name: 'cutover_canary_metric_value',
        help: 'Last measured value of each analysis metric.',
        labelNames: [...phase, 'metric'],
        registers,
      }),
      failures: new Gauge({
        name: 'cutover_canary_consecutive_failures',
        help: 'Consecutive failed measurements of each analysis metric.',
        labelNames: [...phase, 'metric'],
        registers,
      }),
      rollbacks: new Counter({
        name: 'cutover_canary_rollbacks_total',
        help: 'Rollbacks decided by the analysis (per decision, whatever its scope).',
        labelNames: [...phase],
        registers,
      }),
      weight: new Gauge({
        name: 'cutover_canary_weight_percent',
        help: 'Percent of in-scope sessions the current step sends to the new stack.',
        labelNames: [...phase],
        registers,
      }),
    };
    byRegistry.set(registry, m);
  }
  return m;
}

/** Records a round written to status (`before` → `after`). */
export function recordRound(
  m: CanaryMetrics,
  namespace: string,
  name: string,
  taken: TakenMeasurement[],
  before: CanaryPhaseStatus,
  after: CanaryPhaseStatus,
): void {
  const base = { namespace, canaryphase: name };
  for (const t of taken) {
    m.measurements.inc({ ...base, metric: t.metric, result: t.result });
    if (t.value !== undefined) m.value.set({ ...base, metric: t.metric }, t.value);
    const c = (after.metrics ?? []).find((x) => x.name === t.metric);
    m.failures.set({ ...base, metric: t.metric }, c?.failures ?? 0);
  }
  if (
    after.rollback?.at &&
    (after.rollback.at !== before.rollback?.at || after.rollback.metric !== before.rollback?.metric)
  )
    m.rollbacks.inc(base);
}

export function recordWeight(
  m: CanaryMetrics,
  namespace: string,
  name: string,
  status: CanaryPhaseStatus,
): void {
  m.weight.set({ namespace, canaryphase: name }, status.currentWeight ?? 0);
}

/** Forgets every series of a deleted CanaryPhase. */
export async function forgetPhase(m: CanaryMetrics, namespace: string, name: string): Promise<void> {
  for (const metric of [m.measurements, m.value, m.failures, m.rollbacks, m.weight]) {
    const { values } = await metric.get();
    for (const v of values)
      if (v.labels.namespace === namespace && v.labels.canaryphase === name)
        (metric as Gauge<string>).remove(v.labels as Record<string, string>);
  }
}
