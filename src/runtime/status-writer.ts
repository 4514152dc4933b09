/**
 * Writes `status` only through the `/status` subresource: the one way a controller changes the
 * status of its objects.
 *
 * `update(ns, name, mutate)` reads the object, lets `mutate` compute the new status from the
 * fresh one, and PUTs it with the object's resourceVersion; on 409 Conflict it reads again and
 * retries (up to `maxRetries`), so a concurrent spec or status change never makes a status write
 * fail or overwrite the other writer. With `cached` (a controller's `ctx.status`), the first
 * attempt starts from the informer's copy instead of reading. It says whether it wrote: `written` is true only when this
 * call's PUT succeeded, so a status change doubles as a **claim** (optimistic concurrency: of two
 * writers deciding from the same version, one wins). Side effects that must happen once (start a
 * run, count a result, send an Event) come after a claim that was `written`.
 *
 * Each successful write is reported to `onWritten(before, after)`: the controller records the
 * resourceVersion (so it never syncs from an older cached copy) and derives Events from the
 * status change.
 *
 * Status messages are passed through `redactSecrets` so a credential never lands in status.
 */
import type { KubeClient, KubeObject, ResourceType } from './kube-client.js';
import { isConflict, isNotFound } from './kube-client.js';
import { redactSecrets } from './logger.js';

export type StatusOf<T> = T extends { status?: infer S } ? S : Record<string, unknown>;

/** What `update` did. */
export interface StatusUpdate<T> {
  /** True when this call wrote the status (the claim succeeded). */
  written: boolean;
  /** The object as written, or as read when nothing was written; undefined when it is gone. */
  object: T | undefined;
}

export interface StatusWriterOptions<T> {
  maxRetries?: number;
  /** Called after each successful write with the object read before it and the one written. */
  onWritten?(before: T, after: T): void | Promise<void>;
  /**
   * The informer's copy of the object: the first attempt starts from it instead of a GET (no
   * request at all when the status would not change). A stale copy costs a 409, then a GET.
   */
  cached?(namespace: string | undefined, name: string): T | undefined;
}

/** Deep-copies a status with every `message` string passed through redactSecrets. */
export function redactStatus<S>(status: S): S {
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string')
      return key === 'message' || key === 'note' || key === 'error' ? redactSecrets(v) : v;
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(status) as S;
}

export class StatusWriter<T extends KubeObject = KubeObject> {
  constructor(
    private readonly client: KubeClient,
    private readonly rt: ResourceType,
    private readonly options: StatusWriterOptions<T> = {},
  ) {}

  /**
   * Read-modify-write of the status with conflict retry. `mutate` gets a fresh copy of the object
   * each attempt and returns the whole new status, or undefined to write nothing (the claim is
   * declined: e.g. the run it would start has already started).
   */
  async update(
    namespace: string | undefined,
    name: string,
    mutate: (fresh: T) => StatusOf<T> | undefined,
  ): Promise<StatusUpdate<T>> {
    const maxRetries = this.options.maxRetries ?? 10;
    let base = this.options.cached?.(namespace, name);
    for (let attempt = 0; ; attempt++) {
      const fresh = base ?? (await this.client.tryGet<T>(this.rt, namespace, name));
      base = undefined;
      if (!fresh) return { written: false, object: undefined };
      const status = mutate(structuredClone(fresh));
      if (status === undefined) return { written: false, object: fresh };
      const redacted = redactStatus(status);
      if (JSON.stringify(redacted) === JSON.stringify(fresh.status ?? {}))
        return { written: false, object: fresh };
      let after: T;
      try {
        after = await this.client.replace<T>(
          this.rt,
          namespace,
          name,
          { ...fresh, status: redacted },
          'status',
        );
      } catch (e) {
        if (isNotFound(e)) return { written: false, object: undefined };
        if (!isConflict(e) || attempt >= maxRetries) throw e;
        // Spread racing writers apart a little before reading again.
        await new Promise((r) => setTimeout(r, Math.random() * 20 * (attempt + 1)));
        continue;
      }
      await this.options.onWritten?.(fresh, after);
      return { written: true, object: after };
    }
  }
}
