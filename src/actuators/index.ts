/**
 * The operator changes the world only through these adapters. Each is idempotent ("make it so"),
 * keeps a restore record of what it changed (on the object, in Redis or in the ConfigMap), and can
 * be called again after a crash at any point.
 */
export * from './types.js';
export type { Ingress, Job } from './kube-types.js';
export {
  TrafficActuator,
  canaryName,
  desiredCanary,
  type TrafficResult,
  type TrafficObservation,
  type TrafficOptions,
} from './traffic/traffic.js';
export { RedisFlagStore, type RedisFlagRestore } from './flags/redis-flags.js';
export {
  FlagdConfigMapStore,
  FLAGD_DATA_KEY,
  STATE_DATA_KEY,
  type FlagdFlipResult,
} from './flags/flagd-configmap.js';
export { bucketOf, inRollout, murmur3 } from './flags/bucketing.js';
export {
  evaluateFlag,
  evaluateState,
  flagdKey,
  renderFlagdDocument,
  type FlagState,
  type Variant,
} from './flags/flag-model.js';
export { JobActuator, buildJob, type EnsureJobResult } from './workloads/jobs.js';
export { jobName } from './workloads/job-naming.js';
export { DeploymentActuator, type ScaleResult } from './workloads/deployments.js';
export {
  freezeLegacy,
  liftLegacyFreeze,
  readFreezeState,
  type FlagActuator,
  type FreezeOptions,
} from './freeze/legacy-freeze.js';
export {
  ShadowProxyActuator,
  NotOursError,
  type ShadowProxyResult,
  type ShadowProxyObservation,
  type ShadowProxyState,
} from './shadow-proxy/shadow-proxy.js';
export { proxyName, type ShadowProxyTarget, type ShadowRoute } from './shadow-proxy/objects.js';
