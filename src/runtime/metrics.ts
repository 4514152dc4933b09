/**
 * The operator's Prometheus metrics (prom-client), in a registry of its own so that several
 * operators can live in one process (tests).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { API_VERSION } from '../api/crds.js';
import { operatorVersion } from './image.js';

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
  readonly buildInfo: Gauge<'version' | 'git_commit' | 'api_version' | 'node_version'>;
  readonly phase: Gauge<'kind' | 'namespace' | 'name' | 'phase'>;
  readonly phaseSince: Gauge<'kind' | 'namespace' | 'name'>;
  /** The phase last recorded per object (`kind/namespace/name`), to drop its old series. */
  private readonly phases = new Map<string, string>();

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
    // Always 1; which version runs where (and whether an operator is scraped at all).
    this.buildInfo = new Gauge({
      name: 'cutover_build_info',
      help: 'Always 1: the version of the operator (git commit from CUTOVER_GIT_COMMIT, set when the image is built), its API version and Node.js version.',
      labelNames: ['version', 'git_commit', 'api_version', 'node_version'],
      registers,
    });
    this.buildInfo.set(
      {
        version: operatorVersion(),
        git_commit: process.env.CUTOVER_GIT_COMMIT?.trim() || 'unknown',
        api_version: API_VERSION,
        node_version: process.version,
      },
      1,
    );
    this.phase = new Gauge({
      name: 'cutover_phase',
      help: '1 for the status.phase each synced object is in, by kind (only the leader, which syncs, reports it).',
      labelNames: ['kind', 'namespace', 'name', 'phase'],
      registers,
    });
    this.phaseSince = new Gauge({
      name: 'cutover_phase_since_timestamp_seconds',
      help: 'When the object entered its phase (or this process first synced it), Unix time in seconds.',
      labelNames: ['kind', 'namespace', 'name'],
      registers,
    });
    if (o.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'cutover_' });
  }

  /** Records an object's status.phase; a change (or the first sight) restarts its clock. */
  observePhase(
    kind: string,
    namespace: string | undefined,
    name: string | undefined,
    phase: unknown,
    nowMs: number,
  ): void {
    if (!name || typeof phase !== 'string' || phase === '') return;
    const id = `${kind}/${namespace ?? ''}/${name}`;
    const previous = this.phases.get(id);
    if (previous === phase) return;
    const labels = { kind, namespace: namespace ?? '', name };
    if (previous !== undefined) this.phase.remove({ ...labels, phase: previous });
    this.phases.set(id, phase);
    this.phase.set({ ...labels, phase }, 1);
    this.phaseSince.set(labels, nowMs / 1000);
  }

  /** Drops the phase series of a deleted object. */
  forgetPhase(kind: string, namespace: string | undefined, name: string | undefined): void {
    if (!name) return;
    const id = `${kind}/${namespace ?? ''}/${name}`;
    const previous = this.phases.get(id);
    if (previous === undefined) return;
    const labels = { kind, namespace: namespace ?? '', name };
    this.phase.remove({ ...labels, phase: previous });
    this.phaseSince.remove(labels);
    this.phases.delete(id);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
