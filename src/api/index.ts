/** The API of cutover.nokta.io/v1alpha1: schemas, CRDs, types and the offline validator. */
export {
  API_VERSION,
  ANNOTATIONS,
  CATEGORY,
  CONDITION_TYPES,
  REASON_INVALID_SPEC,
  CRD_GROUP,
  CRD_VERSION,
  KINDS,
  crdManifests,
  kindInfo,
  type KindInfo,
} from './crds.js';
export {
  validateManifest,
  validateStatus,
  withDefaults,
  formatPath,
  looksLikeOurs,
  type Problem,
} from './validate.js';
export {
  CRON_PATTERN,
  DURATION_PATTERN,
  NAME_PATTERN,
  OFFSET_PATTERN,
  SQL_IDENTIFIER_PATTERN,
  SQL_TABLE_PATTERN,
  conditionHolds,
  parseCondition,
  parseDurationMs,
  type ParsedCondition,
} from './schema/common.js';
export {
  DURATION_FORMAT,
  DurationError,
  formatDuration,
  isDuration,
  isOffset,
  parseDuration,
  parseOffset,
} from './duration.js';
export { CRON_DESCRIPTORS, cronFields, cronProblem } from './cron.js';
export type * from './types.js';
export { RECONCILIATION_PHASES, CHECK_TYPES, COLUMN_TYPES, VERDICTS } from './schema/reconciliation.js';
export { CANARY_PHASES } from './schema/canary-phase.js';
export { CUTOVER_PHASES, STEP_ACTIONS, STEP_STATES } from './schema/cutover.js';
