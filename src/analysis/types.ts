/**
 * The analysis contract: a provider measures one metric and says what the measurement means.
 * Controllers (CanaryPhase analysis, Cutover SLO triggers) map their specs onto these types;
 * nothing here depends on src/api.
 */

/** What one measurement says. `NoData` (nothing to judge) and `Error` (could not measure) are not failures by themselves: the caller's limits decide. */
export type MeasurementResult = 'Successful' | 'Failed' | 'Inconclusive' | 'Error' | 'NoData';

export const MEASUREMENT_RESULTS: readonly MeasurementResult[] = [
  'Successful',
  'Failed',
  'Inconclusive',
  'Error',
  'NoData',
];

export interface Measurement {
  /** The number measured; absent for NoData and most Errors. */
  value?: number;
  result: MeasurementResult;
  /** Why, for people: the condition that held, the error, why there was no data. Never a secret. */
  reason: string;
  /** When it was taken (ISO 8601). */
  at: string;
}

/** A measurement that has started but has no result yet (a Job still running). */
export interface PendingMeasurement {
  pending: true;
  reason: string;
  at: string;
}

export type MeasureOutcome = Measurement | PendingMeasurement;

export function isPending(o: MeasureOutcome): o is PendingMeasurement {
  return 'pending' in o;
}

/** Conditions on the value, in the grammar of ./condition.ts (e.g. `result <= 1.5`). */
export interface MetricConditions {
  successCondition?: string;
  failureCondition?: string;
}

export interface MeasureContext {
  now: Date;
  /** When this metric was measured last (by the caller's records); runs before it are not counted again. */
  previousAt?: Date;
  /**
   * A name for this measurement, unique per metric and stable across retries (e.g. the count
   * of measurements taken): a Job measurement started before a crash is adopted, not run twice.
   */
  measurementId?: string;
  signal?: AbortSignal;
}

/** Reads one key of a Secret in the namespace of the resource being analysed. */
export type SecretReader = (ref: { name: string; key: string }) => Promise<string>;

export interface AnalysisProvider<M> {
  measure(metric: M, ctx: MeasureContext): Promise<MeasureOutcome>;
}
