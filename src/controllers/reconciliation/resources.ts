/** The resource types the Reconciliation controller reads and writes. */
import type { ResourceType } from '../../runtime/kube-client.js';
import { API_VERSION } from '../../api/index.js';

const [group, version] = API_VERSION.split('/') as [string, string];

export const RECONCILIATION: ResourceType = { group, version, plural: 'reconciliations', kind: 'Reconciliation' };
export const CUTOVER: ResourceType = { group, version, plural: 'cutovers', kind: 'Cutover' };
export const JOB: ResourceType = { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job' };
export const CONFIGMAP: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };
export const SECRET: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret' };

export const LABEL_RECONCILIATION = 'cutover.nokta.io/reconciliation';
export const LABEL_RUN = 'cutover.nokta.io/run';
export const LABEL_SHARD_RESULT = 'cutover.nokta.io/shard-result';
