/**
 * Finalizers: added before a controller creates anything outside the object, removed once it
 * has cleaned up. Both writes carry the object's resourceVersion, so they fail with 409 rather
 * than overwrite a concurrent change; the work queue then retries with a fresh object.
 */
import type { KubeClient, KubeObject, ResourceType } from './kube-client.js';

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return (obj.metadata.finalizers ?? []).includes(finalizer);
}

export function isBeingDeleted(obj: KubeObject): boolean {
  return !!obj.metadata.deletionTimestamp;
}

async function writeFinalizers<T extends KubeObject>(
  client: KubeClient,
  rt: ResourceType,
  obj: T,
  finalizers: string[],
): Promise<T> {
  return client.patch<T>(rt, obj.metadata.namespace, obj.metadata.name ?? '', {
    metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion },
  });
}

/** Adds the finalizer unless present; returns the updated object (or the same one). */
export async function ensureFinalizer<T extends KubeObject>(
  client: KubeClient,
  rt: ResourceType,
  obj: T,
  finalizer: string,
): Promise<T> {
  if (hasFinalizer(obj, finalizer)) return obj;
  return writeFinalizers(client, rt, obj, [...(obj.metadata.finalizers ?? []), finalizer]);
}

/** Removes the finalizer if present; returns the updated object (or the same one). */
export async function removeFinalizer<T extends KubeObject>(
  client: KubeClient,
  rt: ResourceType,
  obj: T,
  finalizer: string,
): Promise<T> {
  if (!hasFinalizer(obj, finalizer)) return obj;
  return writeFinalizers(
    client,
    rt,
    obj,
    (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer),
  );
}
