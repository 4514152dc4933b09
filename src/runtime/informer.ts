/**
 * A list+watch informer that does not go quiet.
 *
 * - Lists, then watches from the list's resourceVersion with `allowWatchBookmarks=true`, so the
 *   resourceVersion it resumes from stays fresh even when nothing changes.
 * - 410 Gone (as the HTTP status of the watch request or as an ERROR event in the stream, e.g.
 *   after etcd compaction) → relist, and emit the differences as add/update/delete.
 * - Any other error, or a stream that ends → reconnect from the last resourceVersion, after a
 *   capped exponential backoff when the watch failed or ended at once.
 * - Each watch asks the server to end it after a random 5–10 minutes (`timeoutSeconds`), and a
 *   watchdog restarts a watch that delivered nothing (not even a bookmark) for `silenceMs`.
 * - Every `resyncMs` the handlers get an update for every cached object (a periodic resync).
 * - Cached objects keep neither `metadata.managedFields` nor kubectl's last-applied annotation
 *   (memory).
 *
 * The transport is injectable: `kubeTransport()` is the real one; unit tests drive the loop
 * logic with an in-memory one.
 */
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { ObjectCache, objectKey } from './cache.js';
import {
  ApiError,
  type KubeClient,
  type KubeObject,
  type ResourceType,
  type WatchEvent,
  type WatchHandle,
} from './kube-client.js';
import { createLogger, type Logger } from './logger.js';

export interface ListResult<T extends KubeObject> {
  items: T[];
  resourceVersion: string;
}

export interface ListWatchTransport<T extends KubeObject> {
  list(): Promise<ListResult<T>>;
  watch(
    resourceVersion: string,
    timeoutSeconds: number,
    onEvent: (ev: WatchEvent) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle>;
}

/** The real transport: one resource type, all namespaces or one. */
export function kubeTransport<T extends KubeObject>(
  client: KubeClient,
  rt: ResourceType,
  o: { namespace?: string; labelSelector?: string } = {},
): ListWatchTransport<T> {
  return {
    list: async () => {
      const l = await client.listAll<T>(rt, { namespace: o.namespace, labelSelector: o.labelSelector });
      return { items: l.items, resourceVersion: l.metadata.resourceVersion ?? '' };
    },
    watch: (resourceVersion, timeoutSeconds, onEvent, onDone) =>
      client.watch(
        rt,
        { namespace: o.namespace, labelSelector: o.labelSelector, resourceVersion, timeoutSeconds },
        onEvent,
        onDone,
      ),
  };
}

/** kubectl's client-side apply keeps a copy of the whole object in this annotation. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * managedFields and kubectl's last-applied copy are large (together often more than the object)
 * and no controller reads them: the cache does not keep them. A cached object is therefore never
 * written back whole to its main resource (status goes through /status, which ignores the rest).
 */
function stripManagedFields<T extends KubeObject>(obj: T): T {
  const m = obj.metadata;
  if (!m) return obj;
  if ('managedFields' in m) delete m.managedFields;
  if (m.annotations && LAST_APPLIED_ANNOTATION in m.annotations) {
    const rest = { ...m.annotations };
    delete rest[LAST_APPLIED_ANNOTATION];
    m.annotations = rest;
  }
  return obj;
}

export interface InformerHandler<T extends KubeObject> {
  onAdd?(obj: T): void;
  /** Also called with old === obj on a periodic resync. */
  onUpdate?(old: T, obj: T): void;
  onDelete?(obj: T): void;
}

export type WatchRestartReason = 'gone' | 'error' | 'closed' | 'silent' | 'list-error';

export interface InformerOptions {
  clock?: Clock;
  /** Periodic resync; 0 disables. Default 10 minutes. */
  resyncMs?: number;
  /** Restart a watch that delivered nothing for this long. Default 12 minutes (> the max timeoutSeconds). */
  silenceMs?: number;
  /** Watch timeoutSeconds is drawn uniformly from this range. Default [300, 600]. */
  watchTimeoutSeconds?: [number, number];
  backoff?: BackoffOptions;
  logger?: Logger;
  random?: () => number;
  /** Called on each watch restart, for metrics. */
  onRestart?: (reason: WatchRestartReason) => void;
}

interface WatchOutcome {
  kind: 'gone' | 'error' | 'closed' | 'silent' | 'stopped';
  err?: unknown;
  events: number;
  durationMs: number;
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly cache = new ObjectCache<T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private stopController = new AbortController();
  private running: Promise<void> | undefined;
  private currentWatch: WatchHandle | undefined;
  private endCurrentWatch: ((o: WatchOutcome) => void) | undefined;
  /** Counts of restarts by reason (also reported through onRestart). */
  readonly restarts: Record<WatchRestartReason, number> = {
    gone: 0,
    error: 0,
    closed: 0,
    silent: 0,
    'list-error': 0,
  };

  constructor(
    readonly name: string,
    private readonly transport: ListWatchTransport<T>,
    private readonly options: InformerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? createLogger('informer', { informer: name });
    this.backoff = new Backoff(options.backoff ?? { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 });
    this.random = options.random ?? Math.random;
  }

  addHandler(h: InformerHandler<T>): void {
    this.handlers.push(h);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  start(): void {
    if (this.running) return;
    this.stopController = new AbortController();
    this.running = this.loop();
    if (this.options.resyncMs !== 0) void this.resyncLoop(this.options.resyncMs ?? 600_000);
  }

  async stop(): Promise<void> {
    this.stopController.abort(new Error('informer stopped'));
    this.currentWatch?.abort();
    this.endCurrentWatch?.({ kind: 'stopped', events: 0, durationMs: 0 });
    await this.running;
    this.running = undefined;
  }

  private get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  private async sleep(ms: number): Promise<void> {
    try {
      await this.clock.sleep(ms, this.stopController.signal);
    } catch {
      /* stopped */
    }
  }

  private restart(reason: WatchRestartReason): void {
    this.restarts[reason]++;
    this.options.onRestart?.(reason);
  }

  private async loop(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      if (needList) {
        try {
          const l = await this.transport.list();
          if (this.stopped) return;
          this.replace(l.items);
          this.resourceVersion = l.resourceVersion;
          needList = false;
          this.markSynced();
        } catch (e) {
          if (this.stopped) return;
          this.restart('list-error');
          const d = this.backoff.next();
          this.log.warn({ err: e, retryInMs: d }, 'list failed');
          await this.sleep(d);
          continue;
        }
      }
      const out = await this.watchOnce();
      if (out.kind === 'stopped' || this.stopped) return;
      this.restart(out.kind);
      if (out.kind === 'gone') {
        this.log.info(
          { resourceVersion: this.resourceVersion },
          'resourceVersion too old (410 Gone): relisting',
        );
        needList = true;
        // A first 410 relists at once; repeated ones back off.
        if (this.backoff.failures > 0) await this.sleep(this.backoff.next());
        else this.backoff.next();
        continue;
      }
      const healthy =
        out.kind === 'silent' || (out.kind === 'closed' && (out.events > 0 || out.durationMs >= 1000));
      if (healthy) {
        this.backoff.reset();
        this.log.debug({ reason: out.kind, events: out.events }, 'watch ended: reconnecting');
        continue;
      }
      // A watch that worked for a while before failing starts a new backoff sequence.
      if (out.events > 0 || out.durationMs >= 10_000) this.backoff.reset();
      const d = this.backoff.next();
      this.log.warn(
        { err: out.err, reason: out.kind, retryInMs: d },
        'watch failed: reconnecting after backoff',
      );
      await this.sleep(d);
    }
  }

  private watchOnce(): Promise<WatchOutcome> {
    const [lo, hi] = this.options.watchTimeoutSeconds ?? [300, 600];
    const timeoutSeconds = Math.round(lo + (hi - lo) * this.random());
    const silenceMs = this.options.silenceMs ?? 12 * 60_000;
    const started = this.clock.now().getTime();
    let events = 0;
    let lastActivity = started;
    let gone = false;
    let errEvent: unknown;
    return new Promise<WatchOutcome>((resolve) => {
      let settled = false;
      const watchdog = new AbortController();
      const end = (o: Omit<WatchOutcome, 'events' | 'durationMs'> & Partial<WatchOutcome>): void => {
        if (settled) return;
        settled = true;
        watchdog.abort();
        this.endCurrentWatch = undefined;
        const h = this.currentWatch;
        this.currentWatch = undefined;
        h?.abort();
        resolve({ events, durationMs: this.clock.now().getTime() - started, ...o });
      };
      this.endCurrentWatch = end;
      const onEvent = (ev: WatchEvent): void => {
        if (settled) return;
        lastActivity = this.clock.now().getTime();
        events++;
        if (ev.type === 'ERROR') {
          const code = ev.object.code;
          if (code === 410) gone = true;
          else
            errEvent = new ApiError(
              `watch error event: ${ev.object.message ?? ''}`,
              code ?? 0,
              ev.object.reason,
            );
          // The server closes the stream after an ERROR event; end now in case it does not.
          end(gone ? { kind: 'gone' } : { kind: 'error', err: errEvent });
          return;
        }
        const rv = ev.object.metadata?.resourceVersion;
        if (ev.type === 'BOOKMARK') {
          if (rv) this.resourceVersion = rv;
          return;
        }
        this.apply(ev);
        if (rv) this.resourceVersion = rv;
      };
      const onDone = (err?: unknown): void => {
        if (gone || (err instanceof ApiError && err.statusCode === 410)) end({ kind: 'gone' });
        else if (err || errEvent) end({ kind: 'error', err: err ?? errEvent });
        else end({ kind: 'closed' });
      };
      this.transport.watch(this.resourceVersion, timeoutSeconds, onEvent, onDone).then(
        (h) => {
          if (settled) h.abort();
          else this.currentWatch = h;
        },
        (e: unknown) => end({ kind: 'error', err: e }),
      );
      // Watchdog: a watch that delivers nothing for silenceMs is restarted.
      void (async () => {
        const step = Math.max(10, Math.min(silenceMs / 4, 30_000));
        while (!settled) {
          try {
            await this.clock.sleep(step, AbortSignal.any([watchdog.signal, this.stopController.signal]));
          } catch {
            return;
          }
          if (settled) return;
          if (this.clock.now().getTime() - lastActivity >= silenceMs) {
            this.log.warn({ silenceMs }, 'watch silent: restarting');
            end({ kind: 'silent' });
          }
        }
      })();
    });
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    const w = this.syncWaiters;
    this.syncWaiters = [];
    for (const r of w) r();
  }

  private apply(ev: WatchEvent): void {
    const obj = stripManagedFields(ev.object as unknown as T);
    if (ev.type === 'DELETED') {
      const old = this.cache.delete(objectKey(obj));
      this.emit((h) => h.onDelete?.(old ?? obj));
      return;
    }
    const old = this.cache.set(obj);
    if (old) this.emit((h) => h.onUpdate?.(old, obj));
    else this.emit((h) => h.onAdd?.(obj));
  }

  /** Replaces the cache with a fresh list, emitting the differences. */
  private replace(items: T[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      const obj = stripManagedFields(item);
      const key = objectKey(obj);
      seen.add(key);
      const old = this.cache.set(obj);
      if (!old) this.emit((h) => h.onAdd?.(obj));
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion)
        this.emit((h) => h.onUpdate?.(old, obj));
    }
    for (const key of this.cache.keys()) {
      if (seen.has(key)) continue;
      const old = this.cache.delete(key);
      if (old) this.emit((h) => h.onDelete?.(old));
    }
  }

  private async resyncLoop(ms: number): Promise<void> {
    while (!this.stopped) {
      await this.sleep(ms);
      if (this.stopped || !this.synced) continue;
      for (const obj of this.cache.list()) this.emit((h) => h.onUpdate?.(obj, obj));
    }
  }

  private emit(f: (h: InformerHandler<T>) => void): void {
    for (const h of this.handlers) {
      try {
        f(h);
      } catch (e) {
        this.log.error({ err: e }, 'informer handler threw');
      }
    }
  }
}
