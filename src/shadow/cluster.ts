/**
 * The shadow proxy on every core: node:cluster workers, each a whole ShadowProxy (legacy path,
 * mirror queue, comparison) sharing the listening port, and a primary that only supervises and
 * serves the admin port for the whole proxy.
 *
 * - Bounds: the rules' queue.size, queue.concurrency, newStack.maxConnections and maxBufferedBytes
 *   are for the whole proxy; each of N workers gets 1/N of them (rounded up, buffered bytes down),
 *   so memory stays bounded as configured whatever N is.
 * - Admin: /metrics, /stats, /samples and /noise ask every live worker over IPC for a report
 *   (its metrics as JSON, queue, samples, noise) and aggregate: metrics with prom-client's
 *   AggregatorRegistry (counters and histograms summed), samples merged newest first, noise summed
 *   per route and field. A worker's counts live in the worker: those of a worker that dies are
 *   gone from the totals (the restart is counted in cutover_shadow_worker_restarts_total).
 * - A worker that dies is restarted (after 1 s if it lived less than 2 s), logged and counted.
 * - SIGTERM/SIGINT: every worker stops accepting, finishes its open exchanges and exits; then the
 *   primary closes the admin port.
 */
import cluster, { type Worker } from 'node:cluster';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../runtime/logger.js';
import type { AdminSource, SamplesReport, Summary } from './admin-server.js';
import { summary } from './admin-server.js';
import type { NoiseReport } from './noise.js';
import type { ShadowProxy } from './proxy.js';
import type { CompiledRules } from './rules.js';

/** Environment a worker is started with. */
export const WORKER_INDEX_ENV = 'CUTOVER_SHADOW_WORKER';
export const WORKERS_ENV = 'CUTOVER_SHADOW_WORKERS';
/** How long the primary waits for a worker's report. */
const REPORT_TIMEOUT_MS = 5_000;

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

interface WorkerReport {
  metrics: MetricsJson;
  summary: Summary;
  samples: SamplesReport;
  noise: { enabled: boolean; routes: NoiseReport[] };
}

type ToWorker = { shadow: 'report'; id: number } | { shadow: 'stop' };
type FromWorker = { shadow: 'report'; id: number; report: WorkerReport };

function isShadowMessage<T extends { shadow: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { shadow?: unknown }).shadow === 'string';
}

/** The share of the rules' bounds one of `workers` workers gets. */
export function rulesForWorker(rules: CompiledRules, workers: number): CompiledRules {
  if (workers <= 1) return rules;
  const queueSize = Math.max(1, Math.ceil(rules.queueSize / workers));
  return {
    ...rules,
    queueSize,
    concurrency: Math.min(queueSize, Math.max(1, Math.ceil(rules.concurrency / workers))),
    maxConnections: Math.max(1, Math.ceil(rules.maxConnections / workers)),
    maxBufferedBytes: Math.floor(rules.maxBufferedBytes / workers),
  };
}

// ------------------------------------------------------------------------------------ worker

/** In a worker: answers the primary's report requests; resolves when the primary says stop. */
export function serveWorker(proxy: ShadowProxy): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (m: unknown): void => {
      if (!isShadowMessage<ToWorker>(m)) return;
      if (m.shadow === 'stop') {
        process.off('message', onMessage);
        resolve();
        return;
      }
      void workerReport(proxy).then((report) => {
        const reply: FromWorker = { shadow: 'report', id: m.id, report };
        if (process.connected) process.send!(reply);
      });
    };
    process.on('message', onMessage);
    // The primary gone (killed): nothing supervises this worker any more.
    process.once('disconnect', () => {
      process.off('message', onMessage);
      resolve();
    });
  });
}

async function workerReport(p: ShadowProxy): Promise<WorkerReport> {
  const metrics = await p.metricsJson();
  return {
    metrics,
    summary: await summary(p, metrics),
    samples: await p.samplesReport(),
    noise: await p.noiseReport(),
  };
}

// ----------------------------------------------------------------------------------- primary

export interface ClusterOptions {
  workers: number;
  service: string;
  sampleSize: number;
  log: Logger;
}

interface Slot {
  index: number;
  worker: Worker;
  startedAt: number;
}

export class ShadowCluster implements AdminSource {
  readonly contentType: string;
  readonly service: string;
  private readonly slots = new Map<number, Slot>();
  private readonly registry = new Registry();
  private readonly restarts: Counter<'service'>;
  private readonly live: Gauge<'service'>;
  private restartCount = 0;
  private stopping = false;
  private nextId = 0;
  private readonly pending = new Map<number, (r: WorkerReport | undefined) => void>();
  private readonly exited = new Set<() => void>();

  constructor(private readonly o: ClusterOptions) {
    this.service = o.service;
    this.contentType = this.registry.contentType;
    this.restarts = new Counter({
      name: 'cutover_shadow_worker_restarts_total',
      help: 'Proxy workers that died and were restarted.',
      labelNames: ['service'],
      registers: [this.registry],
    });
    this.live = new Gauge({
      name: 'cutover_shadow_workers',
      help: 'Proxy worker processes alive.',
      labelNames: ['service'],
      registers: [this.registry],
    });
    this.restarts.inc({ service: o.service }, 0);
    cluster.on('message', (worker, m: unknown) => {
      if (!isShadowMessage<FromWorker>(m) || m.shadow !== 'report') return;
      const done = this.pending.get(m.id);
      if (done) done(m.report);
      void worker;
    });
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
  }

  /** Forks the workers; resolves with the address they listen on once all do. */
  async start(): Promise<{ address: string; port: number }> {
    const listening = Array.from({ length: this.o.workers }, (_, i) => this.fork(i));
    const addresses = await Promise.all(listening);
    return addresses[0]!;
  }

  private fork(index: number): Promise<{ address: string; port: number }> {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index), [WORKERS_ENV]: String(this.o.workers) });
    this.slots.set(index, { index, worker, startedAt: Date.now() });
    this.live.set({ service: this.service }, this.slots.size);
    return new Promise((resolve, reject) => {
      const onListening = (addr: { address: string; port: number }): void => {
        worker.off('exit', onEarlyExit);
        resolve({ address: addr.address, port: addr.port });
      };
      const onEarlyExit = (code: number | null): void =>
        reject(new Error(`proxy worker ${index} exited with ${code} before it listened`));
      worker.once('listening', onListening);
      worker.once('exit', onEarlyExit);
    });
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const slot = [...this.slots.values()].find((s) => s.worker === worker);
    if (!slot) return;
    this.slots.delete(slot.index);
    this.live.set({ service: this.service }, this.slots.size);
    for (const f of this.exited) f();
    if (this.stopping) return;
    this.restartCount++;
    this.restarts.inc({ service: this.service });
    const lived = Date.now() - slot.startedAt;
    this.o.log.warn(
      { worker: slot.index, pid: worker.process.pid, code, signal, livedMs: lived },
      'shadow-proxy worker died; restarting it',
    );
    setTimeout(
      () => {
        if (this.stopping) return;
        this.fork(slot.index).catch((err: unknown) =>
          this.o.log.error({ err, worker: slot.index }, 'shadow-proxy worker did not start again'),
        );
      },
      lived < 2_000 ? 1_000 : 0,
    );
  }

  /** Stops every worker (each finishes its open exchanges); resolves when all exited. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const { worker } of this.slots.values()) {
      const m: ToWorker = { shadow: 'stop' };
      if (worker.isConnected()) worker.send(m);
    }
    const allExited = new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.slots.size === 0) {
          this.exited.delete(check);
          resolve();
        }
      };
      this.exited.add(check);
      check();
    });
    const timer = setTimeout(() => {
      for (const { worker } of this.slots.values()) worker.process.kill('SIGKILL');
    }, graceMs);
    await allExited;
    clearTimeout(timer);
  }

  workers(): { index: number; pid: number }[] {
    return [...this.slots.values()]
      .sort((a, b) => a.index - b.index)
      .map((s) => ({ index: s.index, pid: s.worker.process.pid ?? 0 }));
  }

  /** Every live worker's report (a worker that does not answer in time is left out). */
  private async reports(): Promise<{ index: number; report: WorkerReport }[]> {
    const asked = [...this.slots.values()].map(
      (slot) =>
        new Promise<{ index: number; report: WorkerReport } | undefined>((resolve) => {
          const id = ++this.nextId;
          const timer = setTimeout(() => finish(undefined), REPORT_TIMEOUT_MS);
          const finish = (r: WorkerReport | undefined): void => {
            clearTimeout(timer);
            this.pending.delete(id);
            resolve(r ? { index: slot.index, report: r } : undefined);
          };
          this.pending.set(id, finish);
          const m: ToWorker = { shadow: 'report', id };
          if (slot.worker.isConnected()) slot.worker.send(m);
          else finish(undefined);
        }),
    );
    return (await Promise.all(asked)).filter((r) => r !== undefined);
  }

  async metricsText(): Promise<string> {
    const reports = await this.reports();
    const own = await this.registry.getMetricsAsJSON();
    const merged = AggregatorRegistry.aggregate([...reports.map((r) => r.report.metrics), own]);
    return merged.metrics();
  }

  async stats(): Promise<Summary> {
    const reports = await this.reports();
    const total: Summary = {
      requests: 0,
      mirrored: 0,
      compared: 0,
      differing: 0,
      dropped: 0,
      errors: 0,
      noise: 0,
      tooLarge: 0,
      admitted: 0,
      waiting: 0,
      inFlight: 0,
      bufferedBytes: 0,
    };
    const keys = Object.keys(total) as (keyof typeof total)[];
    let lagMs = 0;
    let threadRestarts: number | undefined;
    for (const { report } of reports) {
      for (const k of keys) (total[k] as number) += report.summary[k] as number;
      lagMs = Math.max(lagMs, report.summary.lagMs ?? 0);
      const t = report.summary.mirrorThreadRestarts;
      if (t !== undefined) threadRestarts = (threadRestarts ?? 0) + t;
    }
    return {
      ...total,
      lagMs,
      workers: this.workers(),
      restarts: this.restartCount,
      ...(threadRestarts !== undefined ? { mirrorThreadRestarts: threadRestarts } : {}),
    };
  }

  async samples(): Promise<SamplesReport> {
    const reports = await this.reports();
    const samples = reports
      .flatMap(({ index, report }) => report.samples.samples.map((s) => ({ ...s, worker: index })))
      .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
      .slice(0, this.o.sampleSize);
    const seen = new Set<string>();
    const first = reports
      .flatMap(({ index, report }) => report.samples.firstOfEachField.map((f) => ({ ...f, worker: index })))
      .filter((f) => {
        const key = `${f.route}\u0000${f.field}\u0000${f.kind}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    return { size: this.o.sampleSize, samples, firstOfEachField: first };
  }

  async noise(): Promise<{ enabled: boolean; routes: NoiseReport[] }> {
    const reports = await this.reports();
    const routes = new Map<
      string,
      { samples: number; fields: Map<string, { count: number; noisy: boolean }> }
    >();
    for (const { report } of reports) {
      for (const r of report.noise.routes) {
        let m = routes.get(r.route);
        if (!m) routes.set(r.route, (m = { samples: 0, fields: new Map() }));
        m.samples += r.samples;
        for (const f of r.fields) {
          const had = m.fields.get(f.field);
          m.fields.set(f.field, {
            count: (had?.count ?? 0) + f.count,
            noisy: (had?.noisy ?? false) || f.noisy,
          });
        }
      }
    }
    return {
      enabled: reports.some((r) => r.report.noise.enabled),
      routes: [...routes.entries()].map(([route, r]) => ({
        route,
        samples: r.samples,
        fields: [...r.fields.entries()]
          .map(([field, f]) => ({ field, count: f.count, rate: f.count / r.samples, noisy: f.noisy }))
          .sort((a, b) => b.count - a.count),
      })),
    };
  }
}
