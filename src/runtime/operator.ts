/**
 * Builds and runs the operator from options: one API client (instrumented), shared informers,
 * a Controller per registered spec, leader election, the health/metrics server, and an orderly
 * shutdown (finish in-flight syncs, then release the Lease).
 */
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import {
  Controller,
  InformerPool,
  type ControllerSpec,
  type OperatorSettings,
  type TransportFactory,
} from './controller.js';
import { defaultImage, resolveImage } from './image.js';
import { EventRecorder } from './events.js';
import { HealthServer } from './health-server.js';
import { KubeClient, type KubeObject, type RequestInfo } from './kube-client.js';
import { isFullKubeConfig, loadFullKubeConfig, loadKubeConfig, type KubeConfigLike } from './kubeconfig.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { LeaderElector } from './leader-election.js';
import { BurstCollector, type collectGarbage } from './memory.js';
import { createLogger, type Logger } from './logger.js';
import { OperatorMetrics } from './metrics.js';
import type { OperatorOptions } from './options.js';

/** After a burst of syncs, the queues stay quiet this long before the collection (--gc-after-syncs). */
export const GC_QUIET_MS = 5_000;

export interface OperatorDeps {
  kc: KubeConfigLike;
  clock?: Clock;
  logger?: Logger;
  /** Also told about every API request (besides cutover_api_requests_total). */
  onRequest?: (r: RequestInfo) => void;
  /** The informers' list/watch transport (default: the API server through the client). */
  transport?: TransportFactory;
  /** The full garbage collection after a burst of syncs (default: V8's, src/runtime/memory.ts). */
  collectGarbage?: typeof collectGarbage;
  /** How long the queues stay quiet after a burst before collecting (default GC_QUIET_MS). */
  gcQuietMs?: number;
}

export class Operator {
  readonly metrics = new OperatorMetrics();
  readonly client: KubeClient;
  readonly controllers: Controller[];
  readonly elector: LeaderElector | undefined;
  readonly events: EventRecorder;
  private readonly pool: InformerPool;
  private readonly health: HealthServer;
  private readonly log: Logger;
  private readonly clock: Clock;
  private standalone: AbortController | undefined;
  private stopping = false;
  /** The collection after a burst of syncs (--gc-after-syncs); undefined when off. */
  private readonly collector: BurstCollector | undefined;
  /** Shared by every controller; the image is resolved in start(). */
  readonly settings: OperatorSettings;

  constructor(
    readonly options: OperatorOptions,
    specs: ControllerSpec<KubeObject>[],
    deps: OperatorDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger ?? createLogger('operator', { identity: options.identity });
    const kc = deps.kc;
    this.client = new KubeClient(kc, {
      userAgent: `cutover-operator/${options.identity}`,
      timeoutMs: options.apiTimeoutMs,
      onRequest: (r) => {
        this.metrics.apiRequests.inc({ verb: r.verb, resource: r.resource, code: String(r.code) });
        deps.onRequest?.(r);
      },
    });
    this.events = new EventRecorder(this.client, { instance: options.identity, clock: this.clock });
    this.settings = { identity: options.identity, image: options.image || defaultImage() };
    this.pool = new InformerPool(this.client, {
      clock: this.clock,
      resyncMs: options.resyncPeriodMs,
      silenceMs: options.watchSilenceMs,
      metrics: this.metrics,
      ...(deps.transport ? { transport: deps.transport } : {}),
    });
    if (options.gcAfterSyncs > 0)
      this.collector = new BurstCollector({
        minSyncs: options.gcAfterSyncs,
        quietMs: deps.gcQuietMs ?? GC_QUIET_MS,
        clock: this.clock,
        idle: () => this.controllers.every((c) => c.queue.length === 0 && c.queue.inFlight === 0),
        ...(deps.collectGarbage ? { collect: deps.collectGarbage } : {}),
        onCollected: ({ syncs, before, after }) => {
          const mb = (n: number): number => Math.round((n / 1048576) * 10) / 10;
          this.log.info(
            {
              syncs,
              heapUsedMb: [mb(before.used), mb(after.used)],
              heapCommittedMb: [mb(before.committed), mb(after.committed)],
            },
            'burst of syncs over: full garbage collection',
          );
        },
      });
    this.controllers = specs.map(
      (spec) =>
        new Controller(spec, {
          client: this.client,
          clock: this.clock,
          namespaces: options.namespaces,
          metrics: this.metrics,
          events: this.events,
          workers: options.workers,
          informerPool: this.pool,
          fullKubeConfig: () => this.fullKubeConfig(),
          settings: this.settings,
          ...(this.collector ? { onSynced: () => this.collector?.synced() } : {}),
        }),
    );
    if (options.leaderElect) {
      this.elector = new LeaderElector({
        client: this.client,
        namespace: options.leaderElectionNamespace,
        name: options.leaderElectionId,
        identity: options.identity,
        leaseDurationMs: options.leaseDurationMs,
        renewDeadlineMs: options.renewDeadlineMs,
        retryPeriodMs: options.retryPeriodMs,
        clock: this.clock,
        onStartedLeading: (signal) => this.lead(signal),
        onStoppedLeading: () => {
          this.metrics.leader.set(0);
          this.metrics.leaderTransitions.inc();
        },
        onNewLeader: (id) => this.log.info({ leader: id }, 'leader observed'),
      });
    }
    this.health = new HealthServer({
      host: options.listenHost,
      port: options.listenPort,
      metrics: this.metrics,
      healthy: () => (this.stopping ? 'shutting down' : true),
      ready: () => (this.pool.hasSynced() ? true : 'informers not synced yet'),
    });
  }

  private full: Promise<KubeConfig> | undefined;

  /** client-node's KubeConfig from the same source (loaded once, on first use). */
  fullKubeConfig(): Promise<KubeConfig> {
    const kc = this.client.kc;
    this.full ??= isFullKubeConfig(kc)
      ? Promise.resolve(kc)
      : loadFullKubeConfig(this.options.kubeconfig, process.env, { context: this.options.context });
    return this.full;
  }

  /** Builds an operator, loading the kubeconfig from the options when `deps.kc` is not given. */
  static async create(
    options: OperatorOptions,
    specs: ControllerSpec<KubeObject>[],
    deps: Partial<OperatorDeps> = {},
  ): Promise<Operator> {
    const kc =
      deps.kc ?? (await loadKubeConfig(options.kubeconfig, process.env, { context: options.context }));
    return new Operator(options, specs, { ...deps, kc });
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : !!this.standalone && !this.standalone.signal.aborted;
  }

  /** The bound address of the health/metrics server. */
  get address(): { host: string; port: number } {
    const a = this.health.address();
    return { host: a.address, port: a.port };
  }

  async start(): Promise<void> {
    try {
      const resolved = await resolveImage(this.options.image, this.client);
      this.settings.image = resolved.image;
      this.log.info(
        { image: resolved.image, source: resolved.source },
        'image of the Jobs the operator runs',
      );
    } catch (e) {
      this.log.warn(
        { err: e, image: this.settings.image },
        "could not read the operator's own Pod: using the default image",
      );
    }
    await this.health.start();
    for (const c of this.controllers) c.startInformers();
    this.pool.start();
    this.log.info(
      {
        controllers: this.controllers.map((c) => c.name),
        namespaces: this.options.namespaces.length ? this.options.namespaces : 'all',
        port: this.address.port,
      },
      'operator started',
    );
    if (this.elector) this.elector.start();
    else {
      this.standalone = new AbortController();
      this.lead(this.standalone.signal);
    }
  }

  private lead(signal: AbortSignal): void {
    this.metrics.leader.set(1);
    this.metrics.leaderTransitions.inc();
    for (const c of this.controllers) c.startWorkers(signal);
  }

  /**
   * Orderly stop: no new syncs; in-flight ones get `shutdownTimeoutMs` to finish (then they are
   * aborted); then the Lease is released and the watches closed.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info('shutting down: finishing in-flight syncs');
    const drain = Promise.all(this.controllers.map((c) => c.stopWorkers(false)));
    const timeout = new AbortController();
    const timedOut = this.clock.sleep(this.options.shutdownTimeoutMs, timeout.signal).then(
      () => true,
      () => false,
    );
    const late = await Promise.race([drain.then(() => false), timedOut]);
    timeout.abort();
    if (late) {
      this.log.warn('in-flight syncs did not finish in time: aborting them');
      await Promise.all(this.controllers.map((c) => c.stopWorkers(true)));
    }
    if (this.elector) await this.elector.shutdown();
    this.standalone?.abort(new Error('operator stopped'));
    this.metrics.leader.set(0);
    for (const c of this.controllers) await c.stop();
    this.collector?.stop();
    await this.pool.stop();
    await this.health.stop();
    this.client.close();
    this.log.info('operator stopped');
  }
}
