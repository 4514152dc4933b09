/**
 * A controller: informers for its resource (and the kinds it owns) feed a per-key work queue;
 * a bounded number of workers call the controller's `sync(ctx)` for each key — only while this
 * process is the leader, and only once the cache of every kind it watches has synced.
 *
 * The sync contract (src/runtime/README.md has the long form):
 * - `sync(ctx)` returns `{ requeueAfter? }` (or nothing) on success, or throws. A success resets
 *   the key's backoff; a throw is retried with a per-key exponential backoff, and from the
 *   ERROR_STATUS_AFTER_FAILURES-th failure in a row the runtime writes it to status
 *   (Reconciling=True, Ready=False, reason SyncError). A `TerminalError` is not retried: Stalled=True
 *   with its reason.
 * - Status only through `ctx.status`; a write that says `written` is a claim: do the side effects
 *   that must happen once after it. Events are derived from status changes (`spec.events`).
 * - A key is never synced from a cached copy older than this process's last write of it (the
 *   version tracker), never twice at the same time, and a key changed during its sync is synced
 *   once more afterwards.
 * - Losing leadership aborts `ctx.signal` (and every API request made through `ctx.client`);
 *   deleting the object being synced aborts it too (with an ObjectDeletedError).
 */
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { splitKey, objectKey, type ObjectCache } from './cache.js';
import {
  clearErrorConditions,
  hasReason,
  markStalled,
  markSyncError,
  REASON_SYNC_ERROR,
  clipMessage,
  type KStatus,
} from './conditions.js';
import { errorMessage, isTerminalError, ObjectDeletedError } from './errors.js';
import { EventRecorder, type EventInput } from './events.js';
import { Informer, kubeTransport, type InformerOptions, type ListWatchTransport } from './informer.js';
import { apiVersionOf, type KubeClient, type KubeObject, type ResourceType } from './kube-client.js';
import { createLogger, type Logger } from './logger.js';
import { isFullKubeConfig, loadFullKubeConfig } from './kubeconfig.js';
import type { OperatorMetrics } from './metrics.js';
import type { Registry } from 'prom-client';
import { ownerKeys } from './owner-refs.js';
import { StatusWriter } from './status-writer.js';
import { VersionTracker } from './version-tracker.js';
import { WorkQueue } from './work-queue.js';
import type { BackoffOptions } from './backoff.js';
import type { ApiUse } from './api-usage.js';
import type { KubeConfig } from '@kubernetes/client-node';

/** The failure in a row from which a failing sync is written to status (earlier ones may be a blip). */
export const ERROR_STATUS_AFTER_FAILURES = 3;
/** A key skipped because its cached copy is older than our last write is looked at again after this long. */
export const STALE_RECHECK_MS = 5_000;

export interface SyncResult {
  /** Sync this key again after this many milliseconds (timers: the next planned step…). */
  requeueAfter?: number;
}

/** Operator-wide settings a controller may need, resolved once at start. */
export interface OperatorSettings {
  /** Holder identity of this process (the Lease's). */
  identity: string;
  /** Image of the Jobs the operator runs itself (shard pods…), unless a spec names another. */
  image: string;
}

/** A kind whose objects the controller creates; their events requeue the owner. */
export interface OwnedResource extends ResourceType {
  /**
   * Maps an object of this kind to owner keys. Default: its ownerReferences with controller=true
   * that point to the controller's kind.
   */
  mapToOwner?: (obj: KubeObject) => string[];
  /** Watch only objects with these labels (keeps the cache small, e.g. for ConfigMaps). */
  labelSelector?: string;
}

/** A read-only view over the cache of one watched kind. */
export interface CacheReader {
  get(key: string): KubeObject | undefined;
  list(namespace?: string): KubeObject[];
}

export interface SyncContext<T extends KubeObject = KubeObject> {
  /** `namespace/name`. */
  key: string;
  namespace: string | undefined;
  name: string;
  /** The cached object, or undefined when it was deleted. Read-only: clone before changing. */
  object: T | undefined;
  /** API client whose requests are aborted when leadership is lost or the object is deleted. */
  client: KubeClient;
  /** Writes status through /status with conflict retry; `written` says whether this call wrote. */
  status: StatusWriter<T>;
  log: Logger;
  clock: Clock;
  /** Aborts when this process stops being leader, shuts down, or the object is deleted. */
  signal: AbortSignal;
  resource: ResourceType;
  /** Read-only cache of one of the controller's kinds (its own or an owned one); always synced. */
  cache(rt: ResourceType): CacheReader;
  /** Consecutive failed syncs of this key before this one. */
  failures: number;
  settings: OperatorSettings;
  /**
   * client-node's KubeConfig, for third-party libraries built on its typed APIs. Loading it
   * costs ~80 MB the first time, and requests made through it are neither counted in
   * cutover_api_requests_total nor aborted with `signal`: prefer `client`.
   */
  kubeConfig(): Promise<KubeConfig>;
  /**
   * The operator's metrics registry (served at /metrics), for a controller's own metrics; absent
   * when the controller runs without an operator (some tests).
   */
  metricsRegistry?: Registry;
}

export interface ControllerSpec<T extends KubeObject = KubeObject> {
  /** Unique, used in metrics and logs, e.g. `cutover`. */
  name: string;
  resource: ResourceType;
  owns?: OwnedResource[];
  /** Workers for this controller (default: the operator's --workers). */
  workers?: number;
  /**
   * Also sync when only the status of an object of `resource` changed (default false: an update
   * that changes neither the generation, labels, annotations, finalizers nor deletion is skipped,
   * so a controller's own status writes do not make it sync again). Owned kinds always requeue.
   */
  syncOnStatusChange?: boolean;
  /** Only objects with these labels (label selector syntax) are watched. */
  labelSelector?: string;
  sync(ctx: SyncContext<T>): Promise<SyncResult | void>;
  /**
   * The Events a status change means (old → new), recorded after each status write this
   * controller makes through `ctx.status` (so an Event is sent once, by the writer that won).
   */
  events?(before: T, after: T): EventInput[];
  /**
   * API requests the sync makes besides watching its kinds and writing status (those are derived
   * from the spec): e.g. Secrets it reads, Jobs it creates. deploy/operator/rbac.yaml is checked
   * against it (src/runtime/api-usage.ts).
   */
  uses?: ApiUse[];
}

export interface ControllerDeps {
  client: KubeClient;
  clock?: Clock;
  /** Namespaces to watch; undefined or empty = all. */
  namespaces?: string[];
  metrics?: OperatorMetrics;
  events?: EventRecorder;
  workers?: number;
  informer?: InformerOptions;
  retryBackoff?: BackoffOptions;
  logger?: Logger;
  /** Shared informers by resource+namespace (so two controllers owning ConfigMaps share one). */
  informerPool?: InformerPool;
  /** Supplies SyncContext.kubeConfig(). */
  fullKubeConfig?: () => Promise<KubeConfig>;
  settings?: OperatorSettings;
  /** Told when a sync of this controller ends (whatever its result). */
  onSynced?: () => void;
}

/** True when an update changed something other than status (and resourceVersion/managedFields). */
export function metadataOrSpecChanged(old: KubeObject, cur: KubeObject): boolean {
  const a = old.metadata;
  const b = cur.metadata;
  if (a.generation === undefined || b.generation === undefined || a.generation !== b.generation) return true;
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x ?? null) === JSON.stringify(y ?? null);
  return (
    !same(a.labels, b.labels) ||
    !same(a.annotations, b.annotations) ||
    !same(a.finalizers, b.finalizers) ||
    !same(a.deletionTimestamp, b.deletionTimestamp) ||
    !same(a.ownerReferences, b.ownerReferences)
  );
}

function rtId(rt: ResourceType): string {
  return `${rt.group}/${rt.version}/${rt.plural}`;
}

export type TransportFactory = (
  rt: ResourceType,
  namespace: string | undefined,
  labelSelector: string | undefined,
) => ListWatchTransport<KubeObject>;

/** Informers shared between controllers, one per resource type, namespace and label selector. */
export class InformerPool {
  private readonly informers = new Map<string, Informer>();
  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions & {
      metrics?: OperatorMetrics;
      transport?: TransportFactory;
    } = {},
  ) {}

  get(rt: ResourceType, namespace: string | undefined, labelSelector?: string): Informer {
    const id = `${rtId(rt)}|${namespace ?? '*'}|${labelSelector ?? ''}`;
    let inf = this.informers.get(id);
    if (!inf) {
      const { metrics, transport, ...informerOptions } = this.options;
      const t = transport
        ? transport(rt, namespace, labelSelector)
        : kubeTransport(this.client, rt, { namespace, labelSelector });
      inf = new Informer(`${rt.plural}${namespace ? `@${namespace}` : ''}`, t, {
        ...informerOptions,
        onRestart: (reason) => metrics?.watchRestarts.inc({ resource: rt.plural, reason }),
      });
      this.informers.set(id, inf);
    }
    return inf;
  }

  all(): Informer[] {
    return [...this.informers.values()];
  }

  start(): void {
    for (const i of this.informers.values()) i.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }

  hasSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }
}

/** Thrown when a cache is read before its first list: a missing object there would mean nothing. */
export class CacheNotSyncedError extends Error {
  constructor(what: string) {
    super(`the cache of ${what} has not synced yet`);
    this.name = 'CacheNotSyncedError';
  }
}

/** A read-only view over the caches of one kind across the watched namespaces. */
class CacheView implements CacheReader {
  constructor(
    private readonly what: string,
    private readonly caches: Array<{ namespace: string | undefined; informer: Informer }>,
  ) {}
  private ready(): Array<{ namespace: string | undefined; cache: ObjectCache }> {
    if (!this.caches.every((c) => c.informer.hasSynced())) throw new CacheNotSyncedError(this.what);
    return this.caches.map((c) => ({ namespace: c.namespace, cache: c.informer.cache }));
  }
  get(key: string): KubeObject | undefined {
    const { namespace } = splitKey(key);
    for (const c of this.ready())
      if (c.namespace === undefined || c.namespace === namespace) {
        const o = c.cache.get(key);
        if (o) return o;
      }
    return undefined;
  }
  list(namespace?: string): KubeObject[] {
    return this.ready().flatMap((c) =>
      namespace === undefined || c.namespace === undefined || c.namespace === namespace
        ? c.cache.list(namespace)
        : [],
    );
  }
}

/**
 * A KubeClient whose requests all carry `signal`, and whose writes that return an object of the
 * controller's kind are recorded in the version tracker (`onWrite`).
 */
function syncClient(
  client: KubeClient,
  signal: AbortSignal | undefined,
  onWrite: (obj: KubeObject) => void,
): KubeClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'request') {
        return async <R>(
          method: string,
          path: string,
          opts: Parameters<KubeClient['request']>[2] = {},
        ): Promise<R> => {
          if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
          const s = signal ? (opts.signal ? AbortSignal.any([opts.signal, signal]) : signal) : opts.signal;
          const res = await target.request<R>(method, path, { ...opts, ...(s ? { signal: s } : {}) });
          if (method !== 'GET' && res && typeof res === 'object' && 'metadata' in res)
            onWrite(res as unknown as KubeObject);
          return res;
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(receiver) : v;
    },
  });
}

export class Controller<T extends KubeObject = KubeObject> {
  readonly queue: WorkQueue;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly primary: Array<{ namespace: string | undefined; informer: Informer }> = [];
  private readonly owned: Array<{
    rt: OwnedResource;
    informers: Array<{ namespace: string | undefined; informer: Informer }>;
  }> = [];
  private readonly pool: InformerPool;
  private readonly events: EventRecorder;
  private readonly settings: OperatorSettings;
  private workersStop: AbortController | undefined;
  private workers: Promise<void>[] = [];
  private readonly inFlight = new Map<string, AbortController>();
  private depthTimer: NodeJS.Timeout | undefined;
  /** The last resourceVersion this process wrote per key. */
  readonly versions = new VersionTracker();
  /** Keys whose sync waits for the cache to catch up with our last write. */
  private readonly waitingForCache = new Set<string>();
  /** Keys whose status carries an error the runtime wrote, with its reason. */
  private readonly errorsWritten = new Map<string, string>();

  constructor(
    readonly spec: ControllerSpec<T>,
    private readonly deps: ControllerDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? createLogger('controller', { controller: spec.name });
    this.queue = new WorkQueue({ clock: this.clock, backoff: deps.retryBackoff });
    this.pool =
      deps.informerPool ??
      new InformerPool(deps.client, { ...deps.informer, clock: this.clock, metrics: deps.metrics });
    this.events = deps.events ?? new EventRecorder(deps.client, { clock: this.clock });
    this.settings = deps.settings ?? { identity: 'controller', image: '' };
    const namespaces: Array<string | undefined> =
      deps.namespaces && deps.namespaces.length > 0 ? deps.namespaces : [undefined];
    for (const ns of namespaces) {
      const inf = this.pool.get(spec.resource, ns, spec.labelSelector);
      inf.addHandler({
        onAdd: (o) => this.enqueue(objectKey(o)),
        onUpdate: (old, o) => this.onPrimaryUpdate(old, o),
        onDelete: (o) => {
          const key = objectKey(o);
          this.deps.metrics?.forgetPhase(spec.resource.kind, o.metadata.namespace, o.metadata.name);
          this.versions.forget(key);
          this.waitingForCache.delete(key);
          this.errorsWritten.delete(key);
          this.cancel(key);
          this.enqueue(key);
        },
      });
      this.primary.push({ namespace: ns, informer: inf });
    }
    for (const rt of spec.owns ?? []) {
      const map = rt.mapToOwner ?? ((o: KubeObject) => ownerKeys(o, spec.resource));
      const infs = namespaces.map((ns) => {
        const inf = this.pool.get(rt, ns, rt.labelSelector);
        const h = (o: KubeObject): void => {
          for (const k of map(o)) this.enqueue(k);
        };
        inf.addHandler({ onAdd: h, onUpdate: (_old, o) => h(o), onDelete: h });
        return { namespace: ns, informer: inf };
      });
      this.owned.push({ rt, informers: infs });
    }
  }

  private onPrimaryUpdate(old: KubeObject, o: KubeObject): void {
    const key = objectKey(o);
    const caughtUp = this.versions.caughtUp(key, o.metadata.resourceVersion);
    if (!old.metadata.deletionTimestamp && o.metadata.deletionTimestamp) this.cancel(key);
    if (caughtUp && this.waitingForCache.delete(key)) return this.enqueue(key);
    if (old === o || this.spec.syncOnStatusChange || metadataOrSpecChanged(old, o)) this.enqueue(key);
  }

  /** Aborts the in-flight sync of a key whose object is being deleted. */
  private cancel(key: string): void {
    const ac = this.inFlight.get(key);
    if (ac && !ac.signal.aborted) {
      this.log.info({ key }, 'object deleted: cancelling its sync');
      ac.abort(new ObjectDeletedError(key));
    }
  }

  get name(): string {
    return this.spec.name;
  }

  informers(): Informer[] {
    return [
      ...this.primary.map((p) => p.informer),
      ...this.owned.flatMap((o) => o.informers.map((i) => i.informer)),
    ];
  }

  hasSynced(): boolean {
    return this.informers().every((i) => i.hasSynced());
  }

  /** Adds a key to the queue (e.g. from a custom watch). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Starts the informers (every replica keeps a warm cache; only the leader syncs). */
  startInformers(): void {
    for (const i of this.informers()) i.start();
    if (this.deps.metrics && !this.depthTimer) {
      this.updateGauges();
      this.depthTimer = setInterval(() => this.updateGauges(), 1000);
      this.depthTimer.unref();
    }
  }

  private updateGauges(): void {
    this.deps.metrics?.queueDepth.set({ controller: this.spec.name }, this.queue.length);
    this.deps.metrics?.inFlight.set({ controller: this.spec.name }, this.queue.inFlight);
  }

  /**
   * Starts the workers; they take keys only once every watched kind's cache has synced, and stop
   * (in-flight syncs aborted) when `leading` aborts.
   */
  startWorkers(leading: AbortSignal): void {
    if (this.workersStop && !this.workersStop.signal.aborted) return;
    const stop = new AbortController();
    this.workersStop = stop;
    const onLost = (): void => {
      stop.abort(leading.reason);
      for (const ac of this.inFlight.values()) ac.abort(leading.reason);
    };
    if (leading.aborted) return onLost();
    leading.addEventListener('abort', onLost, { once: true });
    const n = Math.max(1, this.spec.workers ?? this.deps.workers ?? 2);
    const synced = this.cachesSynced(stop.signal);
    this.workers = Array.from({ length: n }, () => this.worker(stop.signal, synced));
  }

  /** Resolves true once every informer of this controller has synced, false when `stop` aborts first. */
  private async cachesSynced(stop: AbortSignal): Promise<boolean> {
    if (this.hasSynced()) return true;
    this.log.info(
      {
        informers: this.informers()
          .filter((i) => !i.hasSynced())
          .map((i) => i.name),
      },
      'waiting for caches to sync before syncing',
    );
    const t0 = this.clock.now().getTime();
    const ok = await new Promise<boolean>((resolve) => {
      const onAbort = (): void => resolve(false);
      stop.addEventListener('abort', onAbort, { once: true });
      void Promise.all(this.informers().map((i) => i.waitForSync())).then(() => {
        stop.removeEventListener('abort', onAbort);
        resolve(!stop.aborted);
      });
    });
    if (ok) this.log.info({ waitedMs: this.clock.now().getTime() - t0 }, 'caches synced: workers start');
    return ok;
  }

  /**
   * Stops taking keys. With `abortInFlight` the running syncs are aborted; otherwise they are
   * allowed to finish. Resolves when every worker has returned.
   */
  async stopWorkers(abortInFlight = false): Promise<void> {
    this.workersStop?.abort(new Error('workers stopped'));
    if (abortInFlight) for (const ac of this.inFlight.values()) ac.abort(new Error('workers stopped'));
    await Promise.all(this.workers);
    this.workers = [];
  }

  /** Stops everything (informers too). */
  async stop(): Promise<void> {
    await this.stopWorkers(false);
    this.queue.shutDown();
    if (this.depthTimer) clearInterval(this.depthTimer);
    this.depthTimer = undefined;
    if (!this.deps.informerPool) await this.pool.stop();
  }

  get inFlightKeys(): string[] {
    return [...this.inFlight.keys()];
  }

  private cacheView(rt: ResourceType): CacheView {
    if (rtId(rt) === rtId(this.spec.resource)) return new CacheView(this.spec.resource.plural, this.primary);
    const o = this.owned.find((x) => rtId(x.rt) === rtId(rt));
    if (!o) throw new Error(`controller ${this.spec.name} does not watch ${rt.plural}`);
    return new CacheView(rt.plural, o.informers);
  }

  private async worker(stop: AbortSignal, synced: Promise<boolean>): Promise<void> {
    if (!(await synced)) return;
    while (!stop.aborted) {
      const key = await this.queue.get(stop);
      if (key === undefined) return;
      if (stop.aborted) {
        // Taken just as leadership ended: put it back for the next term.
        this.queue.done(key);
        this.queue.add(key);
        return;
      }
      try {
        await this.process(key, stop);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Records a write this process made of an object of the controller's kind. */
  private recordWrite(obj: KubeObject): void {
    const r = this.spec.resource;
    if (obj.kind !== r.kind || (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionOf(r))) return;
    this.versions.record(objectKey(obj), obj.metadata.resourceVersion);
  }

  /** cutover_phase and cutover_phase_since_timestamp_seconds of the object (status.phase). */
  private observePhase(o: T): void {
    const phase = (o as { status?: { phase?: unknown } }).status?.phase;
    this.deps.metrics?.observePhase(
      this.spec.resource.kind,
      o.metadata.namespace,
      o.metadata.name,
      phase,
      this.clock.now().getTime(),
    );
  }

  private statusWriter(client: KubeClient, withSpecEvents: boolean): StatusWriter<T> {
    return new StatusWriter<T>(client, this.spec.resource, {
      cached: (namespace, name) => {
        const key = namespace ? `${namespace}/${name}` : name;
        const o = this.cacheView(this.spec.resource).get(key) as T | undefined;
        return o && !this.versions.isStale(key, o.metadata.resourceVersion) ? o : undefined;
      },
      onWritten: async (before, after) => {
        this.recordWrite(after);
        this.observePhase(after);
        if (!withSpecEvents || !this.spec.events) return;
        let evs: EventInput[] = [];
        try {
          evs = this.spec.events(before, after);
        } catch (e) {
          this.log.error({ err: e, key: objectKey(after) }, 'events() threw');
        }
        for (const ev of evs) await this.events.record(after, this.spec.resource, ev);
      },
    });
  }

  /** Runs one sync of `key`. Exposed for tests of the contract. */
  async process(key: string, stop: AbortSignal): Promise<void> {
    const { namespace, name } = splitKey(key);
    const object = this.cacheView(this.spec.resource).get(key) as T | undefined;
    const log = this.log.child({ key });
    if (object && this.versions.isStale(key, object.metadata.resourceVersion)) {
      // The cache has not seen our last write yet: deciding from it would repeat work.
      this.waitingForCache.add(key);
      this.queue.addAfter(key, STALE_RECHECK_MS);
      this.deps.metrics?.syncs.inc({ controller: this.spec.name, result: 'stale' });
      log.debug(
        { cached: object.metadata.resourceVersion },
        'cached copy older than our last write: waiting for the watch',
      );
      return;
    }
    this.waitingForCache.delete(key);
    if (object) this.observePhase(object);
    const ac = new AbortController();
    this.inFlight.set(key, ac);
    const failures = this.queue.failures(key);
    const client = syncClient(this.deps.client, ac.signal, (o) => this.recordWrite(o));
    const ctx: SyncContext<T> = {
      key,
      namespace,
      name,
      object,
      client,
      status: this.statusWriter(client, true),
      log,
      clock: this.clock,
      signal: ac.signal,
      resource: this.spec.resource,
      cache: (rt) => this.cacheView(rt),
      failures,
      settings: this.settings,
      ...(this.deps.metrics ? { metricsRegistry: this.deps.metrics.registry } : {}),
      kubeConfig: () => {
        if (this.deps.fullKubeConfig) return this.deps.fullKubeConfig();
        const kc = this.deps.client.kc;
        return isFullKubeConfig(kc) ? Promise.resolve(kc) : loadFullKubeConfig();
      },
    };
    const timer = this.deps.metrics?.syncDuration.startTimer({ controller: this.spec.name });
    try {
      const res = await this.spec.sync(ctx);
      if (ac.signal.aborted)
        throw ac.signal.reason instanceof Error ? ac.signal.reason : new Error('aborted');
      this.queue.forget(key);
      this.deps.metrics?.syncs.inc({ controller: this.spec.name, result: 'success' });
      if (res && typeof res.requeueAfter === 'number' && res.requeueAfter >= 0)
        this.queue.addAfter(key, res.requeueAfter);
      const reason = this.errorsWritten.get(key);
      if (reason !== undefined) await this.clearError(key, reason, stop, log);
    } catch (e) {
      if (ac.signal.aborted || stop.aborted) {
        this.deps.metrics?.syncs.inc({ controller: this.spec.name, result: 'aborted' });
        if (ac.signal.reason instanceof ObjectDeletedError)
          log.info('sync cancelled: the object was deleted');
        else log.warn({ err: e }, 'sync aborted');
        // Not a failure of the key: sync it again (when this process leads again).
        this.queue.add(key);
      } else if (isTerminalError(e)) {
        this.deps.metrics?.syncs.inc({ controller: this.spec.name, result: 'terminal' });
        this.queue.forget(key);
        log.warn({ reason: e.reason, err: e }, 'sync failed for good: stalled until the object changes');
        await this.writeError(key, e.reason, errorMessage(e), true, stop, log);
      } else {
        this.deps.metrics?.syncs.inc({ controller: this.spec.name, result: 'error' });
        this.deps.metrics?.syncErrors.inc({ controller: this.spec.name });
        const retryInMs = this.queue.addRateLimited(key);
        log.warn({ err: e, failures: failures + 1, retryInMs }, 'sync failed');
        if (failures + 1 >= ERROR_STATUS_AFTER_FAILURES)
          await this.writeError(key, REASON_SYNC_ERROR, errorMessage(e), false, stop, log);
      }
    } finally {
      timer?.();
      this.inFlight.delete(key);
      this.deps.onSynced?.();
    }
  }

  /**
   * Writes a failing sync to the object's status (and an Event when the condition changes):
   * SyncError (retrying) or a TerminalError's reason (Stalled). Never throws.
   */
  private async writeError(
    key: string,
    reason: string,
    message: string,
    terminal: boolean,
    stop: AbortSignal,
    log: Logger,
  ): Promise<void> {
    const { namespace, name } = splitKey(key);
    if (stop.aborted || !this.cacheView(this.spec.resource).get(key)) return;
    try {
      const now = this.clock.now();
      const writer = this.statusWriter(
        syncClient(this.deps.client, stop, (o) => this.recordWrite(o)),
        false,
      );
      const r = await writer.update(namespace, name, (fresh) => {
        const st = (fresh.status ?? {}) as KStatus;
        const gen = fresh.metadata.generation;
        return (terminal
          ? markStalled(st, gen, now, reason, clipMessage(message))
          : markSyncError(st, gen, now, message)) as T['status'] as never;
      });
      if (!r.object) return;
      this.errorsWritten.set(key, reason);
      // The Event follows the status change: one per new error, not one per retry.
      if (r.written)
        await this.events.record(r.object, this.spec.resource, {
          type: 'Warning',
          reason,
          action: 'Sync',
          note: message,
        });
    } catch (e) {
      log.warn({ err: e }, 'could not write the sync error to status');
    }
  }

  /** After a success: removes the runtime's error conditions if the controller did not replace them. */
  private async clearError(key: string, reason: string, stop: AbortSignal, log: Logger): Promise<void> {
    this.errorsWritten.delete(key);
    const { namespace, name } = splitKey(key);
    try {
      const now = this.clock.now();
      const writer = this.statusWriter(
        syncClient(this.deps.client, stop, (o) => this.recordWrite(o)),
        false,
      );
      await writer.update(namespace, name, (fresh) => {
        const st = (fresh.status ?? {}) as KStatus;
        return hasReason(st, reason)
          ? (clearErrorConditions(st, reason, fresh.metadata.generation, now) as never)
          : undefined;
      });
    } catch (e) {
      log.warn({ err: e }, 'could not clear the sync error from status');
    }
  }
}
