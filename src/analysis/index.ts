/**
 * Analysis: measure a metric and judge it. Providers: Prometheus (instant query), HTTP JSON,
 * Reconciliation status (each run counted once), Job (a Job's success is the measurement).
 */
export * from './types.js';
export {
  parseCondition,
  checkConditions,
  holds,
  judge,
  ConditionSyntaxError,
  type ParsedCondition,
  type ComparisonOp,
} from './condition.js';
export {
  PrometheusProvider,
  valueOfQueryData,
  DEFAULT_TIMEOUT_MS,
  type PrometheusMetric,
} from './prometheus.js';
export { HttpJsonProvider, parseJsonPath, pick, type HttpJsonMetric } from './http-json.js';
export {
  ReconciliationStatusProvider,
  measureReconciliation,
  type ReconciliationMetric,
  type ReconciliationLike,
  type ReconciliationLookup,
} from './reconciliation-status.js';
export { JobProvider, jobTemplateFor, JOB_METRIC_LABEL, type JobMetric } from './job.js';
export { secretReader } from './secrets.js';
export { ANALYSIS_API_USAGE } from './api-usage.js';
export {
  ShadowDifferencesProvider,
  sumSamples,
  COMPARED_METRIC,
  DIFFERING_METRIC,
  type ShadowDifferencesMetric,
  type ShadowDifferencesMeasurement,
} from './shadow-differences.js';
