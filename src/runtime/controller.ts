/**
 * A controller: informers for its resource (and the kinds it owns) feed a per-key work queue;
 * a bounded number of workers call the controller's `sync(ctx)` for each key — only while this
 * process is the leader.
 *
 * The sync contract: `sync(ctx)` returns `{ requeueAfter? }` (or nothing) on success, or throws.
 * - success: the key's retry backoff is reset; `requeueAfter` (ms) queues it again later;
 * - a throw: the key is retried after a per-key exponential backoff;
 * - a key changed during its sync is synced once more afterwards, never concurrently.
 * Losing leadership aborts `ctx.signal` (and every API request made through `ctx.client`) and
 * stops the workers at once.
 */
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { splitKey, objectKey, type ObjectCache } from './cache.js';
import { EventRecorder, type EventInput } from './events.js';
import { Informer, kubeTransport, type InformerOptions } from './informer.js';
import type { KubeClient, KubeObject, ResourceType } from './kube-client.js';
import { createLogger, type Logger } from './logger.js';
import { isFullKubeConfig, loadFullKubeConfig } from './kubeconfig.js';
import type { OperatorMetrics } from './metrics.js';
import type { Registry } from 'prom-client';
import { ownerKeys } from './owner-refs.js';
import { StatusWriter } from './status-writer.js';
import { WorkQueue } from './work-queue.js';
import type { BackoffOptions } from './backoff.js';
import type { KubeConfig } from '@kubernetes/client-node';

export interface SyncResult {
  /** Sync this key again after this many milliseconds (timers, polling a Job…). */
  requeueAfter?: number;
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

export interface SyncContext<T extends KubeObject = KubeObject> {
  /** `namespace/name`. */
  key: string;
  namespace: string | undefined;
  name: string;
  /** The cached object, or undefined when it was deleted. Read-only: clone before changing. */
  object: T | undefined;
  /** API client whose requests are aborted when leadership is lost. */
  client: KubeClient;
  /** Writes status through /status with conflict retry. */
  status: StatusWriter<T>;
  /** Records an events.k8s.io/v1 Event about the synced object (never throws). */
  event(ev: EventInput, regarding?: KubeObject): Promise<void>;
  events: EventRecorder;
  log: Logger;
  clock: Clock;
  /** Aborts when this process stops being leader or shuts down. */
  signal: AbortSignal;
  resource: ResourceType;
  /** Read-only cache of one of the controller's kinds (its own or an owned one). */
  cache(rt: ResourceType): { get(key: string): KubeObject | undefined; list(namespace?: string): KubeObject[] };
  /** Consecutive failed syncs of this key before this one. */
  failures: number;
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
}

/** True when an update changed something other than status (and resourceVersion/managedFields). */
export function metadataOrSpecChanged(old: KubeObject, cur: KubeObject): boolean {
  const a = old.metadata;
  const b = cur.metadata;
  if (a.generation === undefined || b.generation === undefined || a.generation !== b.generation) return true;
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x ?? null) === JSON.stringify(y ?? null);
  return !same(a.labels, b.labels) || !same(a.annotations, b.annotations) || !same(a.finalizers, b.finalizers) || !same(a.deletionTimestamp, b.deletionTimestamp) || !same(a.ownerReferences, b.ownerReferences);
}

function rtId(rt: ResourceType): string {
  return `${rt.group}/${rt.version}/${rt.plural}`;
}

/** Informers shared between controllers, one per resource type and namespace. */
export class InformerPool {
  private readonly informers = new Map<string, Informer>();
  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions & { metrics?: OperatorMetrics } = {},
  ) {}

  get(rt: ResourceType, namespace: string | undefined, labelSelector?: string): Informer {
    const id = `${rtId(rt)}|${namespace ?? '*'}|${labelSelector ?? ''}`;
    let inf = this.informers.get(id);
    if (!inf) {
      const metrics = this.options.metrics;
      inf = new Informer(`${rt.plural}${namespace ? `@${namespace}` : ''}`, kubeTransport(this.client, rt, { namespace, labelSelector }), {
        ...this.options,
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

/** A read-only view over the caches of one kind across the watched namespaces. */
class CacheView {
  constructor(private readonly caches: Array<{ namespace: string | undefined; cache: ObjectCache }>) {}
  get(key: string): KubeObject | undefined {
    const { namespace } = splitKey(key);
    for (const c of this.caches) if (c.namespace === undefined || c.namespace === namespace) {
      const o = c.cache.get(key);
      if (o) return o;
    }
    return undefined;
  }
  list(namespace?: string): KubeObject[] {
    return this.caches.flatMap((c) => (namespace === undefined || c.namespace === undefined || c.namespace === namespace ? c.cache.list(namespace) : []));
  }
}

/** Returns a KubeClient whose requests all carry `signal`. */
function clientWithSignal(client: KubeClient, signal: AbortSignal): KubeClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'request') {
        return <R>(method: string, path: string, opts: Parameters<KubeClient['request']>[2] = {}): Promise<R> => {
          if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          const s = opts.signal ? AbortSignal.any([opts.signal, signal]) : signal;
          return target.request<R>(method, path, { ...opts, signal: s });
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
  private readonly owned: Array<{ rt: OwnedResource; informers: Array<{ namespace: string | undefined; informer: Informer }> }> = [];
  private readonly pool: InformerPool;
  private readonly events: EventRecorder;
  private readonly statusWriter: StatusWriter<T>;
  private workersStop: AbortController | undefined;
  private workers: Promise<void>[] = [];
  private readonly inFlight = new Map<string, AbortController>();
  private depthTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly spec: ControllerSpec<T>,
    private readonly deps: ControllerDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? createLogger('controller', { controller: spec.name });
    this.queue = new WorkQueue({ clock: this.clock, backoff: deps.retryBackoff });
    this.pool = deps.informerPool ?? new InformerPool(deps.client, { ...deps.informer, clock: this.clock, metrics: deps.metrics });
    this.events = deps.events ?? new EventRecorder(deps.client, { clock: this.clock });
    this.statusWriter = new StatusWriter<T>(deps.client, spec.resource);
    const namespaces: Array<string | undefined> = deps.namespaces && deps.namespaces.length > 0 ? deps.namespaces : [undefined];
    for (const ns of namespaces) {
      const inf = this.pool.get(spec.resource, ns, spec.labelSelector);
      inf.addHandler({
        onAdd: (o) => this.enqueue(objectKey(o)),
        onUpdate: (old, o) => {
          if (old === o || spec.syncOnStatusChange || metadataOrSpecChanged(old, o)) this.enqueue(objectKey(o));
        },
        onDelete: (o) => this.enqueue(objectKey(o)),
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

  get name(): string {
    return this.spec.name;
  }

  informers(): Informer[] {
    return [...this.primary.map((p) => p.informer), ...this.owned.flatMap((o) => o.informers.map((i) => i.informer))];
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

  /** Starts the workers; they stop (and in-flight syncs are aborted) when `leading` aborts. */
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
    this.workers = Array.from({ length: n }, () => this.worker(stop.signal));
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
    if (rtId(rt) === rtId(this.spec.resource)) return new CacheView(this.primary.map((p) => ({ namespace: p.namespace, cache: p.informer.cache })));
    const o = this.owned.find((x) => rtId(x.rt) === rtId(rt));
    if (!o) throw new Error(`controller ${this.spec.name} does not watch ${rt.plural}`);
    return new CacheView(o.informers.map((p) => ({ namespace: p.namespace, cache: p.informer.cache })));
  }

  private async worker(stop: AbortSignal): Promise<void> {
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

  /** Runs one sync of `key`. Exposed for tests of the contract. */
  async process(key: string, stop: AbortSignal): Promise<void> {
    const ac = new AbortController();
    this.inFlight.set(key, ac);
    const { namespace, name } = splitKey(key);
    const object = this.cacheView(this.spec.resource).get(key) as T | undefined;
    const log = this.log.child({ key });
    const failures = this.queue.failures(key);
    const client = clientWithSignal(this.deps.client, ac.signal);
    const ctx: SyncContext<T> = {
      key,
      namespace,
      name,
      object,
      client,
      status: new StatusWriter<T>(client, this.spec.resource),
      event: (ev, regarding) => {
        const target = regarding ?? object;
        return target ? this.events.record(target, this.spec.resource, ev) : Promise.resolve();
      },
      events: this.events,
      log,
      clock: this.clock,
      signal: ac.signal,
      resource: this.spec.resource,
      cache: (rt) => this.cacheView(rt),
      failures,
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
      if (ac.signal.aborted) throw ac.signal.reason instanceof Error ? ac.signal.reason : new Error('aborted');
      this.queue.forget(key);
      this.deps.metrics?.syncs.inc({ controller: this.spec.name, result: 'success' });
      if (res && typeof res.requeueAfter === 'number' && res.requeueAfter >= 0) this.queue.addAfter(key, res.requeueAfter);
    } catch (e) {
      if (ac.signal.aborted || stop.aborted) {
        this.deps.metrics?.syncs.inc({ controller: this.spec.name, result: 'aborted' });
        log.warn({ err: e }, 'sync aborted');
        // Not a failure of the key: sync it again when this process leads again.
        this.queue.add(key);
      } else {
        this.deps.metrics?.syncs.inc({ controller: this.spec.name, result: 'error' });
        this.deps.metrics?.syncErrors.inc({ controller: this.spec.name });
        const retryInMs = this.queue.addRateLimited(key);
        log.warn({ err: e, failures: failures + 1, retryInMs }, 'sync failed');
      }
    } finally {
      timer?.();
      this.inFlight.delete(key);
    }
  }

  /** The status writer for this controller's kind (outside syncs). */
  get status(): StatusWriter<T> {
    return this.statusWriter;
  }
}
