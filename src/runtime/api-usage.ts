/**
 * What the operator does with the Kubernetes API, as RBAC would say it: the source of
 * deploy/operator/rbac.yaml. A test compares the role with the union of
 * - the runtime's own usage (`RUNTIME_API_USAGE`: its Lease, Events, its own Pod),
 * - each controller's usage derived from its spec (`controllerApiUsage`: list/watch of every
 *   watched kind, status writes) plus what its sync does besides (`ControllerSpec.uses`),
 * - each actuator's `apiUsage`,
 * and fails when the role grants fewer verbs or more. Every request the test suites make through
 * the operator's clients is recorded and must be covered by this declared usage, so the
 * declaration cannot drift from the code.
 */
import type { ResourceType } from './kube-client.js';
import { EVENT, LEASE, POD } from './resources.js';

export type RbacVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface ApiUse {
  /** API group ('' for core). */
  group: string;
  /** Plural, or `plural/subresource`. */
  resource: string;
  verbs: RbacVerb[];
  /** `leader-election`: only in the Lease's namespace (a Role); default: cluster-wide (the ClusterRole). */
  scope?: 'cluster' | 'leader-election';
  /** Why, for the role's comments and for people. */
  why?: string;
}

export function use(rt: ResourceType, verbs: RbacVerb[], why?: string, subresource?: string): ApiUse {
  return {
    group: rt.group,
    resource: subresource ? `${rt.plural}/${subresource}` : rt.plural,
    verbs,
    ...(why ? { why } : {}),
  };
}

/** The runtime's own requests, whatever the controllers. */
export const RUNTIME_API_USAGE: ApiUse[] = [
  { ...use(LEASE, ['get', 'create', 'update'], 'leader election'), scope: 'leader-election' },
  use(EVENT, ['create', 'patch'], 'Events, and their series count'),
  use(POD, ['get'], "the operator's own Pod: the image of the Jobs it runs"),
];

/**
 * What a controller's spec implies: list and watch of its kind and of every kind it owns; its
 * status written through /status (a GET of the object when a write conflicts); and, when it owns
 * objects through controller ownerReferences (blockOwnerDeletion), update of its kind's
 * `finalizers`, which clusters with the OwnerReferencesPermissionEnforcement admission plugin
 * (OpenShift) require to set them.
 */
export function controllerApiUsage(spec: {
  resource: ResourceType;
  owns?: Array<ResourceType & { mapToOwner?: unknown }>;
  uses?: ApiUse[];
}): ApiUse[] {
  const out: ApiUse[] = [
    use(
      spec.resource,
      ['get', 'list', 'watch'],
      'informer; the object read again when a status write conflicts',
    ),
    use(spec.resource, ['update'], 'status', 'status'),
  ];
  for (const o of spec.owns ?? []) out.push(use(o, ['list', 'watch'], 'informer'));
  if ((spec.owns ?? []).some((o) => !o.mapToOwner))
    out.push(
      use(
        spec.resource,
        ['update'],
        'blockOwnerDeletion on owned objects (OwnerReferencesPermissionEnforcement)',
        'finalizers',
      ),
    );
  out.push(...(spec.uses ?? []));
  return out;
}

/** `group|resource|verb|scope` for every verb. */
export function usageKeys(uses: ApiUse[]): Set<string> {
  const s = new Set<string>();
  for (const u of uses)
    for (const v of u.verbs) s.add(`${u.group}|${u.resource}|${v}|${u.scope ?? 'cluster'}`);
  return s;
}
