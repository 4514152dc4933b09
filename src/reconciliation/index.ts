/**
 * Public API of the reconciliation engine (used by the CLI and the Reconciliation controller).
 */
export { planFromSpec, PlanError, parseDuration, isIdentifier } from './plan.js';
export type {
  ReconciliationPlan,
  CheckPlan,
  ColumnMapping,
  SideSource,
  DatabaseRef,
  Thresholds,
  Engine,
  CheckType,
} from './plan.js';
export { runReconciliation, checksForShard } from './engine.js';
export type { Connections, Progress, RunOptions } from './engine.js';
export { mergeResults, verdictFor, verdictVariance, worstVerdict } from './result.js';
export type { RunResult, CheckResult, TenantResult, DifferingKey, Verdict, ShardSpec } from './result.js';
export { accountWriteGrants, connect, ConnectionUrlError, DatabaseError } from './connection.js';
export type { QueryOptions, SqlConnection } from './connection.js';
export { variancePercent, addDecimals, sumDecimals } from './decimal.js';
export { formatMarkdown, formatTable } from './report.js';
export { resolveWindow, WindowError } from './window.js';
export type { ResolvedWindow } from './window.js';
