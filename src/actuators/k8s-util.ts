/** Small helpers the Kubernetes actuators share. */
import { PREVIOUS_STATE_ANNOTATION } from './types.js';

/** HTTP status of a @kubernetes/client-node error, if it has one. */
export function statusCode(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    const statusCode = (err as { statusCode?: unknown }).statusCode;
    if (typeof statusCode === 'number') return statusCode;
  }
  return undefined;
}

export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;

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
