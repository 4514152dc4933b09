/** Small helpers the Kubernetes actuators share (not-found/conflict detection is the runtime's). */
import { isConflict, type OwnerReference } from '../runtime/kube-client.js';
import { ownerReferenceFor } from '../runtime/owner-refs.js';
import { PREVIOUS_STATE_ANNOTATION, type OwnerRef } from './types.js';

/**
 * The controller owner reference (controller and blockOwnerDeletion true) to an actuator input's
 * owner, built by the runtime's `ownerReferenceFor`.
 */
export function ownerReferenceTo(o: OwnerRef): OwnerReference {
  const slash = o.apiVersion.indexOf('/');
  const group = slash >= 0 ? o.apiVersion.slice(0, slash) : '';
  const version = slash >= 0 ? o.apiVersion.slice(slash + 1) : o.apiVersion;
  return ownerReferenceFor(
    { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.name, uid: o.uid } },
    { group, version, plural: '', kind: o.kind },
  );
}

/** Runs a read-modify-write until it does not hit an optimistic-concurrency conflict (409). */
export async function retryOnConflict<T>(fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!isConflict(err) || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 20 * i));
    }
  }
}

interface Meta {
  annotations?: Record<string, string>;
}

/** The previous-state record an actuator left on an object, if any. */
export function readPreviousState<T>(meta: Meta | undefined): T | undefined {
  const raw = meta?.annotations?.[PREVIOUS_STATE_ANNOTATION];
  if (raw === undefined) return undefined;
  return JSON.parse(raw) as T;
}

export function writePreviousState(meta: Meta, value: unknown): void {
  meta.annotations = { ...(meta.annotations ?? {}), [PREVIOUS_STATE_ANNOTATION]: JSON.stringify(value) };
}

export function clearPreviousState(meta: Meta): void {
  if (!meta.annotations) return;
  const rest = { ...meta.annotations };
  delete rest[PREVIOUS_STATE_ANNOTATION];
  meta.annotations = Object.keys(rest).length > 0 ? rest : undefined;
}

/** Deep copy of JSON data. */
export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Equality of JSON data, ignoring key order and undefined members. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}

export function stableStringify(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : stableStringify(x))).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`).join(',')}}`;
}
