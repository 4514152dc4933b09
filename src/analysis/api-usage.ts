/** Every Kubernetes request the analysis providers can make (RBAC: see src/runtime/api-usage.ts). */
import { JobActuator } from '../actuators/workloads/jobs.js';
import { use, type ApiUse } from '../runtime/api-usage.js';
import { SECRET } from '../runtime/resources.js';

export const ANALYSIS_API_USAGE: ApiUse[] = [
  use(SECRET, ['get'], 'analysis: Prometheus bearer tokens, HTTP header values'),
  ...JobActuator.apiUsage,
];
