/**
 * The built-in Kubernetes kinds the operator reads or writes, as REST coordinates: the one list
 * (controllers, actuators and the runtime import them from here; the operator's own kinds are
 * derived from the API's `KINDS` in src/controllers/kinds.ts).
 */
import type { ResourceType } from './kube-client.js';

export const CONFIG_MAP: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };
export const SECRET: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret' };
export const POD: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' };
export const JOB: ResourceType = { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job' };
export const DEPLOYMENT: ResourceType = {
  group: 'apps',
  version: 'v1',
  plural: 'deployments',
  kind: 'Deployment',
};
export const INGRESS: ResourceType = {
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'ingresses',
  kind: 'Ingress',
};
export const HTTP_ROUTE: ResourceType = {
  group: 'gateway.networking.k8s.io',
  version: 'v1',
  plural: 'httproutes',
  kind: 'HTTPRoute',
};
export const LEASE: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  kind: 'Lease',
};
export const EVENT: ResourceType = { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event' };
