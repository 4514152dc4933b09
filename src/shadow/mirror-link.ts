/**
 * The main thread's side of the mirror thread (--mirror-thread on): starts the thread, posts whole
 * jobs to it in batches (one message per event-loop turn, the bodies' buffers transferred), hears
 * which jobs are done, asks for its report (metrics, samples, noise), and restarts it when it dies:
 * the jobs it held are handed back as lost (the proxy drops them as `mirror_restart`) and the
 * restart is counted in `cutover_shadow_mirror_thread_restarts_total`.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../runtime/logger.js';
import type { ShadowMetrics } from './metrics.js';
import type {
  FromThread,
  MirrorThreadData,
  ThreadReport,
  ThreadState,
  ToThread,
  WireJob,
} from './mirror-wire.js';

export interface MirrorLinkOptions {
  data: MirrorThreadData;
  service: string;
  /** The main thread's metrics: the restarts are counted there. */
  metrics: ShadowMetrics;
  log: Logger;
  onDone(ids: number[]): void;
  /** The thread died: these jobs posted to it are lost. */
  onLost(ids: number[]): void;
}

/** How long a report may take before the thread's part is left out. */
const REPORT_TIMEOUT_MS = 5_000;

export class MirrorLink {
  state: ThreadState = { bufferedBytes: 0, inFlight: 0, queued: 0 };
  restarts = 0;
  /** The thread's kernel id and nice value, once it said it is ready. */
  thread: { tid: number | undefined; nice: number | undefined } | undefined;
  private worker: Worker | undefined;
  private startedAt = 0;
  private batch: WireJob[] = [];
  private transfer: ArrayBuffer[] = [];
  private flushScheduled = false;
  /** Jobs posted to the current thread and not done yet. */
  private readonly posted = new Set<number>();
  private readonly reports = new Map<number, (r: ThreadReport | undefined) => void>();
  private nextReport = 0;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private readyWaiters: (() => void)[] = [];

  constructor(private readonly o: MirrorLinkOptions) {
    this.start();
  }

  /** Resolves once the current thread has started (its priority set). */
  ready(): Promise<void> {
    if (this.thread) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  post(job: WireJob, transfer: ArrayBuffer[]): void {
    this.batch.push(job);
    for (const t of transfer) this.transfer.push(t);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  report(): Promise<ThreadReport | undefined> {
    const w = this.worker;
    if (!w) return Promise.resolve(undefined);
    const id = this.nextReport++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.reports.delete(id);
        resolve(undefined);
      }, REPORT_TIMEOUT_MS).unref();
      this.reports.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.send({ type: 'report', id });
    });
  }

  /** Kills the thread as a crash would (tests); it is restarted like after any death. */
  async kill(): Promise<void> {
    await this.worker?.terminate();
  }

  async stop(graceMs = 2_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.flush();
    const w = this.worker;
    if (!w) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => void w.terminate(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private send(m: ToThread, transfer: ArrayBuffer[] = []): void {
    this.worker?.postMessage(m, transfer);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.worker || this.batch.length === 0) return;
    const jobs = this.batch;
    const transfer = this.transfer;
    this.batch = [];
    this.transfer = [];
    for (const j of jobs) this.posted.add(j.id);
    this.send({ type: 'jobs', jobs }, transfer);
  }

  private start(): void {
    const w = new Worker(new URL('./mirror-thread.js', import.meta.url), { workerData: this.o.data });
    this.worker = w;
    this.thread = undefined;
    this.startedAt = Date.now();
    w.on('message', (m: FromThread) => this.receive(m));
    w.on('error', (err) => this.o.log.error({ err }, 'shadow-proxy mirror thread failed'));
    w.once('exit', (code) => this.exited(w, code));
    // Jobs that came while no thread ran.
    if (this.batch.length > 0) this.flush();
  }

  private receive(m: FromThread): void {
    switch (m.type) {
      case 'done':
        this.state = { bufferedBytes: m.bufferedBytes, inFlight: m.inFlight, queued: m.queued };
        for (const id of m.ids) this.posted.delete(id);
        this.o.onDone(m.ids);
        return;
      case 'report': {
        const r = m.report;
        this.state = { bufferedBytes: r.bufferedBytes, inFlight: r.inFlight, queued: r.queued };
        this.reports.get(m.id)?.(r);
        this.reports.delete(m.id);
        return;
      }
      case 'ready':
        this.thread = { tid: m.tid, nice: m.nice };
        if (m.niceError)
          this.o.log.warn(
            { nice: this.o.data.nice, error: m.niceError },
            'mirror thread: cannot set its priority',
          );
        for (const f of this.readyWaiters.splice(0)) f();
        return;
      case 'stopped':
        return;
    }
  }

  private exited(w: Worker, code: number): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    this.thread = undefined;
    for (const f of this.reports.values()) f(undefined);
    this.reports.clear();
    this.state = { bufferedBytes: 0, inFlight: 0, queued: 0 };
    const lost = [...this.posted];
    this.posted.clear();
    if (lost.length > 0) this.o.onLost(lost);
    if (this.stopping) return;
    this.restarts++;
    this.o.metrics.threadRestarts.inc({ service: this.o.service });
    this.o.log.warn({ code, lost: lost.length }, 'shadow-proxy mirror thread died; restarting it');
    const livedMs = Date.now() - this.startedAt;
    if (livedMs >= 2_000) this.start();
    else this.restartTimer = setTimeout(() => this.start(), 1_000);
  }
}
