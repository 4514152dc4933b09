/**
 * Owner references: the objects a controller creates (Jobs, ConfigMaps, Ingresses, HTTPRoutes…)
 * point back to the custom resource that owns them, so garbage collection deletes them with it
 * and the controller maps their events back to the owner's key.
 */
import type { KubeObject, OwnerReference, ResourceType } from './kube-client.js';
import { apiVersionOf } from './kube-client.js';

export function ownerReferenceFor(
  owner: KubeObject,
  rt: ResourceType,
  o: { controller?: boolean; blockOwnerDeletion?: boolean } = {},
): OwnerReference {
  if (!owner.metadata.uid || !owner.metadata.name)
    throw new Error('owner has no uid or name (was it read from the API server?)');
  return {
    apiVersion: owner.apiVersion ?? apiVersionOf(rt),
    kind: owner.kind ?? rt.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: o.controller ?? true,
    blockOwnerDeletion: o.blockOwnerDeletion ?? true,
  };
}

/** Returns a copy of `obj` whose ownerReferences contain `ref` (replacing one with the same uid). */
export function withOwnerReference<T extends KubeObject>(obj: T, ref: OwnerReference): T {
  const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== ref.uid);
  if (ref.controller && refs.some((r) => r.controller))
    throw new Error(`${obj.metadata.name ?? ''} already has a controller owner`);
  return { ...obj, metadata: { ...obj.metadata, ownerReferences: [...refs, ref] } };
}

/** The owner reference marked controller=true, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** True when `obj` has an owner reference to `owner` (by uid). */
export function isOwnedBy(obj: KubeObject, owner: KubeObject): boolean {
  return (
    !!owner.metadata.uid && (obj.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid)
  );
}

/**
 * Maps an owned object to its controlling owner's `namespace/name` key when that owner is of the
 * given kind (group ignored in version). Owner references are namespace-local.
 */
export function ownerKeys(obj: KubeObject, owner: { group: string; kind: string }): string[] {
  const ns = obj.metadata.namespace;
  return (obj.metadata.ownerReferences ?? [])
    .filter(
      (r) =>
        r.controller === true &&
        r.kind === owner.kind &&
        (r.apiVersion.includes('/') ? r.apiVersion.split('/')[0] : '') === owner.group,
    )
    .map((r) => (ns ? `${ns}/${r.name}` : r.name));
}
