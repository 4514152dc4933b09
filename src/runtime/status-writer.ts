/**
 * Writes `status` only through the `/status` subresource.
 *
 * - `update(ns, name, mutate)`: reads the object, lets `mutate` compute the new status from the
 *   fresh one, and PUTs it with the object's resourceVersion; on 409 Conflict it reads again and
 *   retries (up to `maxRetries`), so a concurrent spec or status change never makes a status
 *   write fail or overwrite the other writer. Returns undefined when the object is gone.
 * - `patch(ns, name, status)`: JSON merge patch of the status (no read; no conflict possible; for
 *   fields that only this controller writes).
 * Status messages are passed through `redactSecrets` so a credential never lands in status.
 */
import type { KubeClient, KubeObject, ResourceType } from './kube-client.js';
import { isConflict, isNotFound } from './kube-client.js';
import { redactSecrets } from './logger.js';

export type StatusOf<T> = T extends { status?: infer S } ? S : Record<string, unknown>;

/** Deep-copies a status with every `message` string passed through redactSecrets. */
export function redactStatus<S>(status: S): S {
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') return key === 'message' || key === 'note' ? redactSecrets(v) : v;
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(status) as S;
}

export class StatusWriter<T extends KubeObject = KubeObject> {
  constructor(
    private readonly client: KubeClient,
    private readonly rt: ResourceType,
    private readonly maxRetries = 10,
  ) {}

  /**
   * Read-modify-write of the status with conflict retry. `mutate` gets a fresh copy of the object
   * each attempt and returns the whole new status (or undefined to write nothing).
   */
  async update(namespace: string | undefined, name: string, mutate: (fresh: T) => StatusOf<T> | undefined): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      const fresh = await this.client.tryGet<T>(this.rt, namespace, name);
      if (!fresh) return undefined;
      const status = mutate(structuredClone(fresh));
      if (status === undefined) return fresh;
      if (JSON.stringify(status) === JSON.stringify(fresh.status ?? {})) return fresh;
      try {
        return await this.client.replace<T>(this.rt, namespace, name, { ...fresh, status: redactStatus(status) }, 'status');
      } catch (e) {
        if (isNotFound(e)) return undefined;
        if (!isConflict(e) || attempt >= this.maxRetries) throw e;
        // Spread racing writers apart a little before reading again.
        await new Promise((r) => setTimeout(r, Math.random() * 20 * (attempt + 1)));
      }
    }
  }

  /** JSON merge patch on /status (null removes a field). */
  async patch(namespace: string | undefined, name: string, status: Partial<StatusOf<T>> | Record<string, unknown>): Promise<T> {
    return this.client.patch<T>(this.rt, namespace, name, { status: redactStatus(status) }, 'merge', { subresource: 'status' });
  }
}
