/** The comparing shadow proxy: serves legacy, asks the new stack, diffs the answers. */
export { ShadowProxy, SHADOW_HEADER, type ShadowProxyOptions } from './proxy.js';
export { AdminServer, summary } from './admin-server.js';
export { ShadowMetrics } from './metrics.js';
export {
  compareAnswers,
  compareJson,
  type Difference,
  type DifferenceKind,
  type PreparedAnswer,
} from './compare.js';
export {
  loadRulesFile,
  parseRules,
  compileRules,
  validateRules,
  defaultRules,
  RulesError,
  type CompiledRules,
} from './rules.js';
export { shadowComparisonSchema, type ShadowComparison } from './rules-schema.js';
