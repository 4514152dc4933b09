/** Every Kubernetes request the actuators can make (RBAC: see src/runtime/api-usage.ts). */
import type { ApiUse } from '../runtime/api-usage.js';
import { FlagdConfigMapStore } from './flags/flagd-configmap.js';
import { ShadowProxyActuator } from './shadow-proxy/shadow-proxy.js';
import { TrafficActuator } from './traffic/traffic.js';
import { DeploymentActuator } from './workloads/deployments.js';
import { JobActuator } from './workloads/jobs.js';

export const ACTUATORS_API_USAGE: ApiUse[] = [
  ...TrafficActuator.apiUsage,
  ...FlagdConfigMapStore.apiUsage,
  ...JobActuator.apiUsage,
  ...DeploymentActuator.apiUsage,
  ...ShadowProxyActuator.apiUsage,
];
