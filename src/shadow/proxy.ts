/**
 * The comparing shadow proxy. Every request goes to legacy and legacy's answer goes back to the
 * client as it came (status, headers in their order and case, body bytes), written chunk by chunk
 * with backpressure. Requests the rules mirror are also admitted into a bounded queue (full →
 * dropped and counted); a worker sends each to the new stack (and, for noise learning, to a second
 * legacy backend) with a whole-answer timeout over a keep-alive pool with a connection limit; once
 * both answers are in, they are compared and the result goes to the metrics and the sample.
 * Nothing on the legacy path waits for the new stack: the only work done inline is handing each
 * chunk to a bounded capture.
 *
 * With `mirrorThread` the new stack, the comparison and its records run on a worker thread
 * (mirror-link.ts, mirror-thread.ts, mirror-engine.ts): this thread streams legacy's answer,
 * captures the bodies and, once legacy's answer and the request body are complete, posts the job;
 * the queue bound counts it until the thread says it is done. Without it (the default) the same
 * pipeline (mirror-engine.ts's recordComparison) runs inline, the request sent to the new stack
 * as soon as the request is complete.
 *
 * Upstream requests go through undici pools (HTTP/1.1, pipelining 1, keep-alive) with its raw
 * dispatch handlers: raw header buffers in, chunks out, no stream objects per exchange; measured
 * cheaper than http.request (docs/shadow-proxy.md). Upgrades (WebSocket) are tunnelled with
 * node:http, byte for byte.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { AggregatorRegistry, type Histogram } from 'prom-client';
import { createLogger, type Logger } from '../runtime/logger.js';
import { BodyCapture, BufferBudget } from './capture.js';
import { compareJson } from './compare.js';
import {
  ShadowMetrics,
  totalOf,
  type CountCell,
  type DropReason,
  type ErrorSide,
  type MetricsJson,
} from './metrics.js';
import { recordComparison } from './mirror-engine.js';
import { MirrorLink } from './mirror-link.js';
import { ownedCopy, type ThreadReport, type WireBody } from './mirror-wire.js';
import { NoiseLearner, type NoiseReport } from './noise.js';
import { pathOf } from './path-pattern.js';
import { encodingsOf } from './prepare.js';
import type { CompiledRoute, CompiledRules } from './rules.js';
import { DifferenceSamples, type DifferenceSample, type FirstExample } from './samples.js';
import {
  askUpstream,
  boundedPoolOptions,
  CancellableExchange,
  errorReason,
  headersOf,
  rawStrings,
  SHADOW_HEADER,
  upstream,
  type SideAnswer,
  type Upstream,
} from './upstream.js';
import { zoneOffsetMinutes } from './value-rules.js';

export { SHADOW_HEADER };

export interface ShadowProxyOptions {
  legacyUrl: string;
  newUrl: string;
  /** Second legacy backend for noise learning (else the rules' noise.secondaryLegacyUrl). */
  secondaryLegacyUrl?: string;
  rules: CompiledRules;
  metrics?: ShadowMetrics;
  logger?: Logger;
  /** Connections kept to legacy (default: unlimited, as a direct client would have). */
  legacyMaxSockets?: number;
  /**
   * Mirror on a worker thread (send to the new stack, compare, record) instead of inline on the
   * event loop that serves legacy's answers (default: inline).
   */
  mirrorThread?: boolean;
  /** The mirror thread's nice value (0-19; default 0 here, the same priority as the legacy path; the CLI's is 10). */
  mirrorNice?: number;
}

export interface SamplesReport {
  size: number;
  samples: DifferenceSample[];
  firstOfEachField: FirstExample[];
}

/** Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'trailer',
]);
/** How often the event loop's lateness is sampled (ms). */
const LAG_TICK_MS = 5;

/**
 * rawHeaders without hop-by-hop headers and those named in Connection (and, towards an undici
 * upstream, without Expect: node:http has already answered 100 Continue to the client).
 */
function forwardableRaw(raw: string[], keepUpgrade = false, dropExpect = false): string[] {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      for (const t of raw[i + 1]!.split(',')) (named ??= new Set()).add(t.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(k) || named?.has(k)) {
      if (!(keepUpgrade && (k === 'upgrade' || k === 'connection'))) continue;
    }
    if (dropExpect && k === 'expect') continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

interface LegacyResult {
  answer: { status: number; headers: http.IncomingHttpHeaders };
  capture: BodyCapture;
  ms: number;
}

/** One mirrored request, from admission to comparison. */
class MirrorJob {
  /** admitted (request body arriving) → waiting (queued) → running → done. */
  state: 'admitted' | 'waiting' | 'running' | 'done' = 'admitted';
  legacy: Promise<LegacyResult | undefined>;
  /** Legacy's answer once settled (undefined: not yet; null: abandoned), read without awaiting. */
  legacySettled: LegacyResult | null | undefined;
  private settle!: (r: LegacyResult | undefined) => void;
  requestBody: BodyCapture | undefined;
  abandoned: DropReason | undefined;
  legacyCapture: BodyCapture | undefined;
  /** Thread mode: the request body is complete; the job's id; bytes held for it (budget). */
  requestDone = false;
  id = 0;
  heldBytes = 0;
  readonly t0 = performance.now();

  constructor(
    readonly route: CompiledRoute,
    readonly method: string,
    readonly target: string,
    readonly headers: Record<string, string>,
  ) {
    this.legacy = new Promise((resolve) => (this.settle = resolve));
  }

  resolveLegacy(r: LegacyResult | undefined): void {
    if (this.legacySettled !== undefined) return;
    this.legacySettled = r ?? null;
    this.settle(r);
  }
}

export class ShadowProxy {
  readonly metrics: ShadowMetrics;
  readonly samples: DifferenceSamples;
  readonly noise: NoiseLearner | undefined;
  readonly rules: CompiledRules;
  private readonly log: Logger;
  private readonly legacy: Upstream;
  private readonly candidate: Upstream;
  private readonly secondary: Upstream | undefined;
  private readonly budget: BufferBudget;
  private readonly server: http.Server;
  private readonly waiting: MirrorJob[] = [];
  private admitted = 0;
  private inFlight = 0;
  private readonly idle: (() => void)[] = [];
  private readonly service: string;
  /** Upgraded (tunnelled) connections: the HTTP server no longer tracks them. */
  private readonly tunnels = new Set<Duplex>();
  /** How far behind the event loop runs (ms, smoothed), from a timer's lateness. */
  private lagMs = 0;
  private readonly lagTimer: NodeJS.Timeout | undefined;
  /** The mirror thread (mirrorThread: true), else undefined: mirroring inline. */
  readonly link: MirrorLink | undefined;
  /** Thread mode: jobs posted to the thread, by id; jobs still waiting for legacy or the request body. */
  private readonly posted = new Map<number, MirrorJob>();
  private readonly gathering = new Set<MirrorJob>();
  private nextJobId = 1;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  /** Plain per-route request counts, one lookup per route object. */
  private readonly requestCells = new Map<CompiledRoute, CountCell>();
  private readonly legacyDuration: Histogram.Internal<'service' | 'side'>;

  constructor(o: ShadowProxyOptions) {
    this.rules = o.rules;
    this.service = o.rules.service;
    this.metrics = o.metrics ?? new ShadowMetrics();
    this.log = o.logger ?? createLogger('shadow-proxy', { service: this.service });
    this.samples = new DifferenceSamples(o.rules);
    // Legacy: as a direct client would have it, no connection limit and no timeout of the
    // proxy's own (a slow legacy answer is the client's to wait for).
    this.legacy = upstream(o.legacyUrl, {
      connections: o.legacyMaxSockets ?? null,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    // The new stack and the second legacy: a connection limit, and timeouts within the rules'
    // whole-answer timeout (which run() enforces itself as well).
    const bounded = boundedPoolOptions(o.rules.maxConnections, o.rules.newStackTimeoutMs);
    this.candidate = upstream(o.newUrl, bounded);
    const secondaryUrl = o.secondaryLegacyUrl ?? o.rules.secondaryLegacyUrl;
    this.secondary = secondaryUrl ? upstream(secondaryUrl, bounded) : undefined;
    this.noise = this.secondary ? new NoiseLearner(o.rules.noiseMinSamples, o.rules.noiseMinRate) : undefined;
    this.legacyDuration = this.metrics.duration.labels({ service: this.service, side: 'legacy' });
    if (o.mirrorThread) {
      // The legacy (and request) bodies held for the thread's jobs count here, the new stack's
      // answers in the thread: each gets half of maxBufferedBytes.
      const threadBytes = Math.floor(o.rules.maxBufferedBytes / 2);
      this.budget = new BufferBudget(o.rules.maxBufferedBytes - threadBytes);
      this.link = new MirrorLink({
        service: this.service,
        metrics: this.metrics,
        log: this.log,
        data: {
          source: o.rules.source,
          bounds: {
            concurrency: o.rules.concurrency,
            maxConnections: o.rules.maxConnections,
            maxBufferedBytes: threadBytes,
          },
          newUrl: o.newUrl,
          secondaryLegacyUrl: secondaryUrl,
          nice: o.mirrorNice ?? 0,
        },
        onDone: (ids) => this.threadDone(ids, undefined),
        onLost: (ids) => this.threadDone(ids, 'mirror_restart'),
      });
      // A job whose legacy answer (or request body) takes longer than the new stack may is not
      // compared, as inline: its place in the queue is freed.
      this.sweepTimer = setInterval(() => this.sweep(), 250).unref();
    } else {
      this.budget = new BufferBudget(o.rules.maxBufferedBytes);
    }
    this.metrics.live = {
      service: this.service,
      queueDepth: () => this.admitted,
      bufferedBytes: () => this.budget.used,
      inFlight: this.link ? undefined : () => this.inFlight,
    };
    // The first time-zone formatter of a process loads ICU's zone data (tens of ms, measured 60-80):
    // done now, not inside the first comparison, where it would hold legacy's answers up.
    for (const zone of assumedZones(o.rules.source)) zoneOffsetMinutes(zone, Date.now());
    this.server = http.createServer(
      { keepAliveTimeout: 65_000, headersTimeout: 66_000, requestTimeout: 0 },
      (req, res) => this.handle(req, res),
    );
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.tunnel(req, socket, head),
    );
    // Mirroring and comparing share the event loop with legacy's answers: when the loop falls
    // behind, new requests are not mirrored until it catches up, so the legacy path keeps it.
    // (Only with queue.maxLag: off by default, every matching request is mirrored.)
    let last = performance.now();
    this.lagTimer =
      this.rules.maxLagMs === Infinity
        ? undefined
        : setInterval(() => {
            const now = performance.now();
            const late = Math.max(0, now - last - LAG_TICK_MS);
            last = now;
            this.lagMs = this.lagMs * 0.7 + late * 0.3;
          }, LAG_TICK_MS).unref();
    this.server.on('clientError', (err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy(err);
    });
  }

  async listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  /** Stops accepting, finishes open exchanges (up to graceMs), closes the upstream connections. */
  async close(graceMs = 5_000): Promise<void> {
    clearInterval(this.lagTimer);
    clearInterval(this.sweepTimer);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => {
      this.server.closeAllConnections();
      for (const t of this.tunnels) t.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
    await Promise.race([this.drained(), new Promise((r) => setTimeout(r, graceMs).unref())]);
    await this.link?.stop();
    const pools = [this.legacy.pool, this.candidate.pool];
    if (this.secondary) pools.push(this.secondary.pool);
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }

  /** Resolves when no mirrored exchange is pending. */
  drained(): Promise<void> {
    if (this.admitted === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  stats(): { admitted: number; waiting: number; inFlight: number; bufferedBytes: number; lagMs: number } {
    const t = this.link?.state;
    return {
      lagMs: this.lagMs,
      admitted: this.admitted,
      waiting: t ? t.queued : this.waiting.length,
      inFlight: t ? t.inFlight : this.inFlight,
      bufferedBytes: this.budget.used + (t ? t.bufferedBytes : 0),
    };
  }

  // ------------------------------------------------------------------- reports (both modes)

  private async threadReport(): Promise<ThreadReport | undefined> {
    return this.link ? this.link.report() : undefined;
  }

  /** The metrics as JSON: this thread's, merged with the mirror thread's (counters summed). */
  async metricsJson(): Promise<MetricsJson> {
    const own = await this.metrics.registry.getMetricsAsJSON();
    const t = await this.threadReport();
    if (!t) return own;
    return AggregatorRegistry.aggregate([own, t.metrics]).getMetricsAsJSON();
  }

  async metricsText(): Promise<string> {
    if (!this.link) return this.metrics.text();
    const own = await this.metrics.registry.getMetricsAsJSON();
    const t = await this.threadReport();
    return AggregatorRegistry.aggregate(t ? [own, t.metrics] : [own]).metrics();
  }

  /** Sum of a counter over the proxy (both threads), over all label sets or those matching `where`. */
  async total(name: string, where: Record<string, string> = {}): Promise<number> {
    return totalOf(await this.metricsJson(), name, where);
  }

  async samplesReport(): Promise<SamplesReport> {
    const t = await this.threadReport();
    if (t) return t.samples;
    return {
      size: this.samples.size,
      samples: this.samples.recent(),
      firstOfEachField: this.samples.firstExamples(),
    };
  }

  async noiseReport(): Promise<{ enabled: boolean; routes: NoiseReport[] }> {
    const t = await this.threadReport();
    if (t) return t.noise;
    return { enabled: this.noise !== undefined, routes: this.noise?.report() ?? [] };
  }

  // ------------------------------------------------------------------------------ legacy path

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const path = pathOf(target);
    const route = this.rules.routeFor(method, path);
    this.countRequest(route);
    const job = this.rules.mirrors(method, path) ? this.admit(route, method, target, req) : undefined;

    const exchange = new LegacyExchange(this, res, job, route.label, pathOf(target));
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    // The client went away before legacy's answer was through: stop asking legacy too.
    res.on('close', () => {
      if (!res.writableFinished) {
        exchange.cancel();
        if (job) this.abandon(job, 'legacy_incomplete');
      }
    });
    if (job?.requestBody) {
      const body = job.requestBody;
      req.on('data', (chunk: Buffer) => {
        body.push(chunk);
        if (body.bytesSeen > this.rules.maxBodyBytes) this.abandon(job, 'request_too_large');
      });
    }
    this.legacy.pool.dispatch(
      {
        method,
        path: this.legacy.prefix + target,
        headers: forwardableRaw(req.rawHeaders, false, true),
        body: hasBody ? req : null,
      },
      exchange,
    );
    // No body: nothing reads the request stream, whose 'end' would then wait for node:http to
    // dump it after the answer; read it now so a mirrored request is queued at once, as before.
    if (!hasBody) req.resume();
    if (job) {
      req.on('end', () => {
        if (job.abandoned) return;
        // A request body the budget could not hold is not sent half.
        if (job.requestBody && job.requestBody.finish().kind !== 'bytes')
          this.abandon(job, 'request_too_large');
        else if (this.link) {
          job.requestDone = true;
          this.toThread(job);
        } else this.enqueue(job);
      });
    }
  }

  /** Legacy's whole answer is through (LegacyExchange). */
  legacyDone(exchange: LegacyExchange, ms: number): void {
    this.legacyDuration.observe(ms / 1000);
    const job = exchange.job;
    if (job?.legacyCapture) {
      job.resolveLegacy({
        answer: { status: exchange.status, headers: exchange.headers! },
        capture: job.legacyCapture,
        ms,
      });
      if (this.link) this.toThread(job);
    }
  }

  private countRequest(route: CompiledRoute): void {
    let cell = this.requestCells.get(route);
    if (!cell) this.requestCells.set(route, (cell = this.metrics.requestCell(this.service, route.label)));
    cell.n++;
  }

  // ------------------------------------------------------------------------- the mirror thread

  /** Thread mode: once the request body and legacy's answer are both in, the job goes to the thread. */
  private toThread(job: MirrorJob): void {
    const legacy = job.legacySettled;
    if (job.abandoned || job.state !== 'admitted' || !job.requestDone || !legacy) return;
    if (performance.now() - job.t0 > this.rules.newStackTimeoutMs) {
      this.abandon(job, 'legacy_incomplete');
      return;
    }
    this.gathering.delete(job);
    const transfer: ArrayBuffer[] = [];
    const captured = legacy.capture.finish();
    let body: WireBody;
    if (captured.kind === 'bytes') {
      const ab = ownedCopy(captured.bytes);
      transfer.push(ab);
      body = { kind: 'bytes', bytes: ab };
    } else body = captured;
    let requestBody: ArrayBuffer | undefined;
    const rb = job.requestBody?.finish();
    if (rb?.kind === 'bytes') transfer.push((requestBody = ownedCopy(rb.bytes)));
    // The bytes now travel to the thread: the captures let go of their chunks, and the budget
    // keeps counting them until the thread is done with the job.
    let held = 0;
    for (const ab of transfer) held += ab.byteLength;
    legacy.capture.release();
    job.requestBody?.release();
    this.budget.used += held;
    job.heldBytes = held;
    job.state = 'running';
    job.id = this.nextJobId++;
    this.posted.set(job.id, job);
    this.link!.post(
      {
        id: job.id,
        method: job.method,
        target: job.target,
        headers: job.headers,
        requestBody,
        legacy: { status: legacy.answer.status, headers: legacy.answer.headers, ms: legacy.ms, body },
      },
      transfer,
    );
  }

  /** The thread is done with these jobs (compared, failed), or lost them (it died). */
  private threadDone(ids: number[], lost: DropReason | undefined): void {
    for (const id of ids) {
      const job = this.posted.get(id);
      if (!job) continue;
      this.posted.delete(id);
      if (lost) this.metrics.dropped.inc({ service: this.service, route: job.route.label, reason: lost });
      this.release(job);
    }
  }

  /** Thread mode: jobs still waiting for legacy's answer (or the request body) past the timeout. */
  private sweep(): void {
    const now = performance.now();
    for (const job of this.gathering)
      if (now - job.t0 > this.rules.newStackTimeoutMs) this.abandon(job, 'legacy_incomplete');
  }

  /** Legacy's answer for a mirrored request starts: its body is captured for the comparison. */
  legacyCapture(job: MirrorJob, headers: http.IncomingHttpHeaders): BodyCapture | undefined {
    if (job.abandoned) return undefined;
    job.legacyCapture = new BodyCapture(
      this.rules.maxBodyBytes,
      this.budget,
      encodingsOf(headers).length === 0,
    );
    return job.legacyCapture;
  }

  /** Legacy failed (refused, reset) before or while answering. */
  legacyFailed(exchange: LegacyExchange, err: Error, answered: boolean): void {
    const reason = errorReason(err);
    if (!exchange.cancelled)
      this.metrics.errors.inc({ service: this.service, route: exchange.route, side: 'legacy', reason });
    if (exchange.job) this.abandon(exchange.job, 'legacy_incomplete');
    const res = exchange.res;
    if (!answered && !res.headersSent && !exchange.cancelled) {
      this.log.warn({ reason, target: exchange.path }, 'legacy did not answer');
      res
        .writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 26 })
        .end('shadow proxy: legacy down\n');
    } else {
      res.destroy();
    }
  }

  // --------------------------------------------------------------------------- mirror queue

  private admit(
    route: CompiledRoute,
    method: string,
    target: string,
    req: http.IncomingMessage,
  ): MirrorJob | undefined {
    if (this.admitted >= this.rules.queueSize) {
      this.metrics.dropped.inc({ service: this.service, route: route.label, reason: 'queue_full' });
      return undefined;
    }
    if (this.lagMs > this.rules.maxLagMs) {
      this.metrics.dropped.inc({ service: this.service, route: route.label, reason: 'overloaded' });
      return undefined;
    }
    const headers: Record<string, string> = {};
    for (const name of this.rules.forwardHeaders) {
      const v = req.headers[name];
      if (v !== undefined) headers[name] = Array.isArray(v) ? v.join(', ') : v;
    }
    const job = new MirrorJob(route, method, target, headers);
    if (this.link) this.gathering.add(job);
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
      job.requestBody = new BodyCapture(this.rules.maxBodyBytes, this.budget, false);
    }
    this.admitted++;
    return job;
  }

  private enqueue(job: MirrorJob): void {
    job.state = 'waiting';
    this.waiting.push(job);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.rules.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      job.state = 'running';
      this.inFlight++;
      void this.run(job).finally(() => this.release(job));
    }
  }

  private abandon(job: MirrorJob, reason: DropReason): void {
    if (job.abandoned || job.state === 'done') return;
    // Thread mode: a job posted to the thread had its whole legacy answer; the thread finishes it.
    if (this.link && job.state === 'running') return;
    job.abandoned = reason;
    this.metrics.dropped.inc({ service: this.service, route: job.route.label, reason });
    job.resolveLegacy(undefined);
    if (job.state === 'waiting') {
      // Never started: its place in the queue is free now.
      this.waiting.splice(this.waiting.indexOf(job), 1);
      this.release(job);
    } else if (job.state === 'admitted') {
      this.release(job);
    }
    // running: run() sees the abandon once the new stack answers, and releases then.
  }

  private release(job: MirrorJob): void {
    if (job.state === 'done') return;
    job.state = 'done';
    job.legacyCapture?.release();
    job.requestBody?.release();
    if (job.heldBytes > 0) this.budget.give(job.heldBytes);
    if (this.link) this.gathering.delete(job);
    this.admitted--;
    if (this.admitted === 0) for (const f of this.idle.splice(0)) f();
  }

  // -------------------------------------------------------------------------- the new stack

  private async run(job: MirrorJob): Promise<void> {
    const label = { service: this.service, route: job.route.label };
    const body = job.requestBody?.finish();
    const payload = body?.kind === 'bytes' ? body.bytes : undefined;
    this.metrics.mirrored.inc(label);
    const askingSecondary = this.secondary ? this.ask(this.secondary, job, payload, 'secondary') : undefined;
    // ask() never rejects: errors and timeouts resolve undefined and are counted.
    const candidate = await this.ask(this.candidate, job, payload, 'new');
    // The in-flight slot is the new stack's: free it before waiting for legacy's last bytes.
    this.inFlight--;
    this.pump();
    const secondary = await askingSecondary;
    try {
      // Legacy gets as long as the new stack had; a longer answer (a stream) is not compared.
      // (Usually it is in already: no timer then.)
      let legacy = job.legacySettled ?? undefined;
      if (job.legacySettled === undefined) {
        let timer: NodeJS.Timeout | undefined;
        legacy = await Promise.race([
          job.legacy,
          new Promise<undefined>(
            (resolve) => (timer = setTimeout(() => resolve(undefined), this.rules.newStackTimeoutMs)),
          ),
        ]);
        clearTimeout(timer);
      }
      if (!legacy) this.abandon(job, 'legacy_incomplete');
      if (!legacy || !candidate || job.abandoned) return;
      await recordComparison(
        this,
        job,
        { ...legacy.answer, body: legacy.capture.finish(), ms: legacy.ms },
        { ...candidate, body: candidate.capture.finish() },
        secondary ? { ...secondary, body: secondary.capture.finish() } : undefined,
      );
    } catch (err) {
      this.log.error({ err }, 'comparison failed');
      this.metrics.errors.inc({ ...label, side: 'new', reason: 'compare' });
    } finally {
      candidate?.capture.release();
      secondary?.capture.release();
    }
  }

  /** Sends the job to an upstream; resolves undefined (counted) on error or timeout. */
  private ask(
    u: Upstream,
    job: MirrorJob,
    payload: Buffer | undefined,
    side: ErrorSide,
  ): Promise<SideAnswer | undefined> {
    const route = job.route.label;
    return askUpstream(
      u,
      { method: job.method, target: job.target, headers: job.headers, payload },
      {
        timeoutMs: this.rules.newStackTimeoutMs,
        maxBodyBytes: this.rules.maxBodyBytes,
        budget: this.budget,
        onError: (reason) => this.metrics.errors.inc({ service: this.service, route, side, reason }),
      },
    ).then((a) => {
      if (a) this.metrics.duration.observe({ service: this.service, side }, a.ms / 1000);
      return a;
    });
  }

  // ------------------------------------------------------------------------------ upgrades

  /** WebSocket and other upgrades go to legacy only, tunnelled byte for byte. */
  private tunnel(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const route = this.rules.routeFor(req.method ?? 'GET', pathOf(req.url ?? '/'));
    this.countRequest(route);
    const up = this.legacy.request({
      protocol: this.legacy.url.protocol,
      hostname: this.legacy.url.hostname,
      port: this.legacy.url.port,
      method: req.method,
      path: this.legacy.prefix + (req.url ?? '/'),
      headers: forwardableRaw(req.rawHeaders, true) as unknown as http.OutgoingHttpHeaders,
      setHost: false,
    });
    up.on('upgrade', (ures, usocket, uhead) => {
      this.tunnels.add(socket);
      this.tunnels.add(usocket);
      const closeBoth = (): void => {
        this.tunnels.delete(socket);
        this.tunnels.delete(usocket);
        socket.destroy();
        usocket.destroy();
      };
      socket.on('close', closeBoth);
      usocket.on('close', closeBoth);
      socket.write(rawHead(ures));
      if (uhead.length) socket.write(uhead);
      if (head.length) usocket.write(head);
      usocket.pipe(socket).pipe(usocket);
      usocket.on('error', () => socket.destroy());
      socket.on('error', () => usocket.destroy());
    });
    up.on('response', (ures) => {
      // Legacy refused the upgrade: relay its answer and close.
      socket.write(rawHead(ures));
      ures.pipe(socket);
    });
    up.on('error', (err) => {
      this.metrics.errors.inc({
        service: this.service,
        route: route.label,
        side: 'legacy',
        reason: errorReason(err),
      });
      socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    socket.on('error', () => up.destroy());
    up.end();
  }
}

/** Every timestamps rule's assumeZone in the rules (IANA names or offsets). */
function assumedZones(source: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(source)) for (const x of source) assumedZones(x, out);
  else if (source && typeof source === 'object')
    for (const [k, v] of Object.entries(source)) {
      if (k === 'assumeZone' && typeof v === 'string') out.add(v);
      else assumedZones(v, out);
    }
  return out;
}

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

function rawHead(res: http.IncomingMessage): string {
  let s = `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}\r\n`;
  for (let i = 0; i < res.rawHeaders.length; i += 2)
    s += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
  return `${s}\r\n`;
}

/** Exposed for tests: JSON comparison under a route's rules. */
export { compareJson };

/** One exchange with legacy: its answer written to the client as it arrives (undici handler). */
class LegacyExchange extends CancellableExchange implements Dispatcher.DispatchHandler {
  status = 0;
  headers: http.IncomingHttpHeaders | undefined;
  private answered = false;
  private capture: BodyCapture | undefined;
  private readonly t0 = performance.now();
  private resume: (() => void) | undefined;
  private readonly onDrain = (): void => this.resume?.();

  constructor(
    private readonly proxy: ShadowProxy,
    readonly res: http.ServerResponse,
    readonly job: MirrorJob | undefined,
    readonly route: string,
    readonly path: string,
  ) {
    super();
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (status < 200) return true; // 1xx: node:http has dealt with the client's Expect itself
    this.answered = true;
    this.status = status;
    this.resume = resume;
    const strings = rawStrings(raw);
    const res = this.res;
    res.sendDate = false;
    res.writeHead(status, statusText, forwardableRaw(strings));
    if (this.job) {
      this.headers = headersOf(strings);
      this.capture = this.proxy.legacyCapture(this.job, this.headers);
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.capture?.push(chunk);
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.onDrain);
    return false;
  }

  onComplete(trailers: string[] | null): void {
    if (trailers && trailers.length) {
      const t = trailers.map((x) => (typeof x === 'string' ? x : (x as Buffer).toString('latin1')));
      this.res.addTrailers(pairs(t));
    }
    this.res.end();
    this.proxy.legacyDone(this, performance.now() - this.t0);
  }

  onError(err: Error): void {
    this.proxy.legacyFailed(this, err, this.answered);
  }
}
