/**
 * The operator's Prometheus metrics (prom-client), in a registry of its own so that several
 * operators can live in one process (tests).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly syncs: Counter<'controller' | 'result'>;
  readonly syncErrors: Counter<'controller'>;
  readonly syncDuration: Histogram<'controller'>;
  readonly queueDepth: Gauge<'controller'>;
  readonly inFlight: Gauge<'controller'>;
  readonly watchRestarts: Counter<'resource' | 'reason'>;
  readonly leader: Gauge;
  readonly leaderTransitions: Counter;
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;

  constructor(o: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.syncs = new Counter({
      name: 'cutover_sync_total',
      help: 'Syncs run, by controller and result (success, error, terminal, aborted, stale: put off until the cache has our last write).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.syncErrors = new Counter({
      name: 'cutover_sync_errors_total',
      help: 'Syncs that threw, by controller.',
      labelNames: ['controller'],
      registers,
    });
    this.syncDuration = new Histogram({
      name: 'cutover_sync_duration_seconds',
      help: 'Duration of syncs, by controller.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'cutover_workqueue_depth',
      help: 'Keys waiting in the work queue, by controller.',
      labelNames: ['controller'],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'cutover_workqueue_in_flight',
      help: 'Keys being synced, by controller.',
      labelNames: ['controller'],
      registers,
    });
    this.watchRestarts = new Counter({
      name: 'cutover_watch_restarts_total',
      help: 'Watch restarts, by resource and reason (gone, error, closed, silent, list-error).',
      labelNames: ['resource', 'reason'],
      registers,
    });
    this.leader = new Gauge({
      name: 'cutover_leader',
      help: '1 while this process holds the leader Lease, else 0.',
      registers,
    });
    this.leaderTransitions = new Counter({
      name: 'cutover_leader_transitions_total',
      help: 'Times this process became or stopped being leader.',
      registers,
    });
    this.apiRequests = new Counter({
      name: 'cutover_api_requests_total',
      help: 'Requests this process sent to the Kubernetes API server (watches counted when opened), by verb, resource and HTTP code.',
      labelNames: ['verb', 'resource', 'code'],
      registers,
    });
    if (o.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'cutover_' });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
