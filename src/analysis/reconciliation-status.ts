/**
 * Reconciliation-status provider: the last run of a Reconciliation as a measurement. A run is
 * counted once: only a run that finished after the previous measurement of this metric (and
 * within `maxAgeMs` of now) gives a result; otherwise the measurement is NoData. So one bad
 * nightly run read every hour is one failure, not twenty-four.
 *
 * The value is the run's largest variance (summary.maxVariancePercent). With conditions, they
 * judge it; without, the verdict does: Passed → Successful, RemediationNeeded / Failed → Failed.
 * A run that ended in Error is an Error measurement.
 */
import { judge } from './condition.js';
import type { AnalysisProvider, MeasureContext, Measurement, MetricConditions } from './types.js';

/** The part of a Reconciliation this provider reads (structurally a src/api Reconciliation). */
export interface ReconciliationLike {
  metadata: { name?: string; namespace?: string };
  status?: {
    lastRun?: { id?: string; finishedAt?: string; verdict?: string; error?: string };
    summary?: { maxVariancePercent?: string; worstCheck?: string };
  };
}

export interface ReconciliationMetric extends MetricConditions {
  namespace: string;
  name: string;
  /** A run that finished longer ago than this is not counted (NoData). */
  maxAgeMs?: number;
}

/** Looks the Reconciliation up (in a controller: its informer cache; never polled). */
export type ReconciliationLookup = (namespace: string, name: string) => ReconciliationLike | undefined;

export function measureReconciliation(
  rec: ReconciliationLike | undefined,
  metric: ReconciliationMetric,
  ctx: Pick<MeasureContext, 'now' | 'previousAt'>,
): Measurement {
  const at = ctx.now.toISOString();
  const ref = `Reconciliation ${metric.namespace}/${metric.name}`;
  if (!rec) return { result: 'Error', reason: `${ref} not found: create it or fix the name`, at };
  const run = rec.status?.lastRun;
  const finished = run?.finishedAt ? Date.parse(run.finishedAt) : NaN;
  if (!run || Number.isNaN(finished))
    return { result: 'NoData', reason: `${ref} has no finished run yet`, at };
  const runName = run.id ? `run ${run.id}` : 'the last run';
  if (ctx.previousAt && finished <= ctx.previousAt.getTime())
    return {
      result: 'NoData',
      reason: `${ref}: no run finished since the previous measurement at ${ctx.previousAt.toISOString()} (${runName} finished at ${run.finishedAt})`,
      at,
    };
  if (metric.maxAgeMs !== undefined && ctx.now.getTime() - finished > metric.maxAgeMs)
    return {
      result: 'NoData',
      reason: `${ref}: ${runName} finished at ${run.finishedAt}, older than maxAge (${metric.maxAgeMs / 1000} s)`,
      at,
    };
  if (run.verdict === 'Error')
    return {
      result: 'Error',
      reason: `${ref}: ${runName} ended in Error${run.error ? `: ${run.error.slice(0, 256)}` : ''}`,
      at,
    };
  const rawValue = rec.status?.summary?.maxVariancePercent;
  const value = rawValue !== undefined && rawValue !== '' ? Number(rawValue) : undefined;
  if (metric.successCondition !== undefined || metric.failureCondition !== undefined) {
    const j = judge(value, metric);
    return {
      ...(value !== undefined && Number.isFinite(value) ? { value } : {}),
      ...j,
      reason: `${ref} ${runName}: ${j.reason}`,
      at,
    };
  }
  const withValue = value !== undefined && Number.isFinite(value) ? { value } : {};
  if (run.verdict === 'Passed')
    return { ...withValue, result: 'Successful', reason: `${ref}: ${runName} Passed`, at };
  if (run.verdict === 'RemediationNeeded' || run.verdict === 'Failed')
    return {
      ...withValue,
      result: 'Failed',
      reason: `${ref}: ${runName} ${run.verdict}${rec.status?.summary?.worstCheck ? ` (worst check ${rec.status.summary.worstCheck})` : ''}`,
      at,
    };
  return { result: 'NoData', reason: `${ref}: ${runName} has no verdict`, at };
}

export class ReconciliationStatusProvider implements AnalysisProvider<ReconciliationMetric> {
  constructor(private readonly lookup: ReconciliationLookup) {}

  measure(metric: ReconciliationMetric, ctx: MeasureContext): Promise<Measurement> {
    return Promise.resolve(measureReconciliation(this.lookup(metric.namespace, metric.name), metric, ctx));
  }
}
