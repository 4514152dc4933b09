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
 * Upstream requests go through undici pools (HTTP/1.1, pipelining 1, keep-alive) with its raw
 * dispatch handlers: raw header buffers in, chunks out, no stream objects per exchange; measured
 * cheaper than http.request (docs/shadow-proxy.md). Upgrades (WebSocket) are tunnelled with
 * node:http, byte for byte.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';
import { createLogger, type Logger } from '../runtime/logger.js';
import { BodyCapture, BufferBudget } from './capture.js';
import { compareAnswers, compareJson, type Difference, type PreparedAnswer } from './compare.js';
import { ShadowMetrics, type DropReason, type ErrorSide } from './metrics.js';
import { NoiseLearner, splitNoise } from './noise.js';
import { pathOf } from './path-pattern.js';
import { encodingsOf, prepareBody } from './prepare.js';
import type { CompiledRoute, CompiledRules } from './rules.js';
import { DifferenceSamples } from './samples.js';
import { zoneOffsetMinutes } from './value-rules.js';

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
/** Marks the requests the new stack receives from the proxy. */
export const SHADOW_HEADER = 'x-cutover-shadow';

interface Upstream {
  url: URL;
  prefix: string;
  pool: Pool;
  /** For upgrades only (tunnels). */
  request: typeof http.request;
}

function upstream(raw: string, poolOptions: Pool.Options): Upstream {
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`${raw}: only http:// and https:// upstreams are supported`);
  if (url.username || url.password) throw new Error('upstream URLs must not carry credentials');
  const tls = url.protocol === 'https:';
  return {
    url,
    prefix: url.pathname.replace(/\/$/, ''),
    pool: new Pool(url.origin, { pipelining: 1, ...poolOptions }),
    request: tls ? https.request : http.request,
  };
}

/** Raw header buffers (name, value, ...) as strings, byte for byte (latin1, as node:http does). */
function rawStrings(raw: Buffer[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i]!.toString('latin1');
  return out;
}

/** Headers node:http keeps once (the first) when repeated; the others are joined (set-cookie: a list). */
const SINGLE_HEADERS = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** Raw header strings as node:http's IncomingMessage.headers would hold them. */
function headersOf(raw: string[]): http.IncomingHttpHeaders {
  const h: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    const v = raw[i + 1]!;
    const had = h[k];
    if (had === undefined) h[k] = k === 'set-cookie' ? [v] : v;
    else if (k === 'set-cookie') (had as string[]).push(v);
    else if (!SINGLE_HEADERS.has(k)) h[k] = `${had as string}, ${v}`;
  }
  return h;
}

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

function errorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (
    code === 'ETIMEDOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    (err as Error | undefined)?.message === 'timeout'
  )
    return 'timeout';
  if (code === 'ECONNREFUSED') return 'refused';
  if (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'UND_ERR_SOCKET' ||
    code === 'UND_ERR_CLOSED'
  )
    return 'reset';
  return 'error';
}

function answerHasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

interface LegacyResult {
  answer: { status: number; headers: http.IncomingHttpHeaders };
  capture: BodyCapture;
  ms: number;
}

interface SideAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
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
    const bounded: Pool.Options = {
      connections: o.rules.maxConnections,
      headersTimeout: o.rules.newStackTimeoutMs,
      bodyTimeout: o.rules.newStackTimeoutMs,
      connectTimeout: o.rules.newStackTimeoutMs,
    };
    this.candidate = upstream(o.newUrl, bounded);
    const secondaryUrl = o.secondaryLegacyUrl ?? o.rules.secondaryLegacyUrl;
    this.secondary = secondaryUrl ? upstream(secondaryUrl, bounded) : undefined;
    this.noise = this.secondary ? new NoiseLearner(o.rules.noiseMinSamples, o.rules.noiseMinRate) : undefined;
    this.budget = new BufferBudget(o.rules.maxBufferedBytes);
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
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => {
      this.server.closeAllConnections();
      for (const t of this.tunnels) t.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
    await Promise.race([this.drained(), new Promise((r) => setTimeout(r, graceMs).unref())]);
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
    return {
      lagMs: this.lagMs,
      admitted: this.admitted,
      waiting: this.waiting.length,
      inFlight: this.inFlight,
      bufferedBytes: this.budget.used,
    };
  }

  // ------------------------------------------------------------------------------ legacy path

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const path = pathOf(target);
    const route = this.rules.routeFor(method, path);
    this.metrics.requests.inc({ service: this.service, route: route.label });
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
        else this.enqueue(job);
      });
    }
  }

  /** Legacy's whole answer is through (LegacyExchange). */
  legacyDone(exchange: LegacyExchange, ms: number): void {
    this.metrics.duration.observe({ service: this.service, side: 'legacy' }, ms / 1000);
    const job = exchange.job;
    if (job?.legacyCapture)
      job.resolveLegacy({
        answer: { status: exchange.status, headers: exchange.headers! },
        capture: job.legacyCapture,
        ms,
      });
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
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
      job.requestBody = new BodyCapture(this.rules.maxBodyBytes, this.budget, false);
    }
    this.admitted++;
    this.metrics.queueDepth.set({ service: this.service }, this.admitted);
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
      this.metrics.inFlight.set({ service: this.service }, this.inFlight);
      void this.run(job).finally(() => this.release(job));
    }
  }

  private abandon(job: MirrorJob, reason: DropReason): void {
    if (job.abandoned || job.state === 'done') return;
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
    this.admitted--;
    this.metrics.queueDepth.set({ service: this.service }, this.admitted);
    this.metrics.bufferedBytes.set({ service: this.service }, this.budget.used);
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
    this.metrics.inFlight.set({ service: this.service }, this.inFlight);
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
      await this.compare(job, legacy, candidate, secondary);
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
    const t0 = performance.now();
    return new Promise((resolve) => {
      let done = false;
      // Called from the timer and the exchange only, both made below before anything can fail.
      const fail = (err: unknown): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        exchange.cancel();
        this.metrics.errors.inc({
          service: this.service,
          route: job.route.label,
          side,
          reason: errorReason(err),
        });
        resolve(undefined);
      };
      const headers: Record<string, string> = { ...job.headers, [SHADOW_HEADER]: '1' };
      if (payload) headers['content-length'] = String(payload.length);
      const exchange = new MirrorExchange(this.rules.maxBodyBytes, this.budget, fail, (answer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const ms = performance.now() - t0;
        this.metrics.duration.observe({ service: this.service, side }, ms / 1000);
        resolve({ ...answer, ms });
      });
      const timer = setTimeout(
        () => fail(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
        this.rules.newStackTimeoutMs,
      );
      u.pool.dispatch(
        { method: job.method, path: u.prefix + job.target, headers, body: payload ?? null },
        exchange,
      );
    });
  }

  // ----------------------------------------------------------------------------- comparison

  private async prepare(
    method: string,
    a: { status: number; headers: http.IncomingHttpHeaders },
    capture: BodyCapture,
  ): Promise<PreparedAnswer> {
    return {
      status: a.status,
      headers: a.headers,
      body: await prepareBody(
        capture.finish(),
        a.headers,
        answerHasBody(method, a.status),
        this.rules.maxBodyBytes,
      ),
    };
  }

  private async compare(
    job: MirrorJob,
    legacy: LegacyResult,
    candidate: SideAnswer,
    secondary: SideAnswer | undefined,
  ): Promise<void> {
    const route = job.route;
    const label = { service: this.service, route: route.label };
    const [l, n, s] = await Promise.all([
      this.prepare(job.method, legacy.answer, legacy.capture),
      this.prepare(job.method, candidate, candidate.capture),
      secondary ? this.prepare(job.method, secondary, secondary.capture) : undefined,
    ]);
    const result = compareAnswers(route, l, n);
    let noiseDiffs: Difference[] | undefined;
    if (s && this.noise) {
      noiseDiffs = compareAnswers(route, l, s).differences;
      this.noise.observe(route.label, noiseDiffs);
    }
    const { real, noise } = splitNoise(route.label, result.differences, noiseDiffs, this.noise);
    this.metrics.compared.inc(label);
    if (result.tooLarge) this.metrics.tooLarge.inc(label);
    for (const d of noise)
      this.metrics.noise.inc({ ...label, field: this.metrics.fieldLabel(route.label, d.field) });
    if (real.length > 0 || result.truncated) {
      this.metrics.differing.inc(label);
      for (const d of real)
        this.metrics.differences.inc({
          ...label,
          field: this.metrics.fieldLabel(route.label, d.field),
          kind: d.kind,
        });
      this.samples.add({
        route: route.label,
        method: job.method,
        target: job.target,
        requestHeaders: job.headers,
        legacy: l,
        candidate: n,
        legacyMs: legacy.ms,
        newMs: candidate.ms,
        differences: real,
        noise,
        truncated: result.truncated,
      });
    }
  }

  // ------------------------------------------------------------------------------ upgrades

  /** WebSocket and other upgrades go to legacy only, tunnelled byte for byte. */
  private tunnel(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const route = this.rules.routeFor(req.method ?? 'GET', pathOf(req.url ?? '/'));
    this.metrics.requests.inc({ service: this.service, route: route.label });
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

/** An undici handler whose exchange the proxy can cancel before or after it connects. */
abstract class CancellableExchange {
  protected abort: ((err?: Error) => void) | undefined;
  cancelled = false;

  cancel(): void {
    this.cancelled = true;
    this.abort?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.cancelled) abort();
  }
}

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

/** One request to the new stack (or the second legacy): the whole answer, captured (undici handler). */
class MirrorExchange extends CancellableExchange implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: http.IncomingHttpHeaders = {};
  private capture: BodyCapture | undefined;

  constructor(
    private readonly maxBodyBytes: number,
    private readonly budget: BufferBudget,
    private readonly fail: (err: unknown) => void,
    private readonly done: (a: {
      status: number;
      headers: http.IncomingHttpHeaders;
      capture: BodyCapture;
    }) => void,
  ) {
    super();
  }

  onHeaders(status: number, raw: Buffer[]): boolean {
    if (status < 200) return true;
    this.status = status;
    this.headers = headersOf(rawStrings(raw));
    this.capture = new BodyCapture(this.maxBodyBytes, this.budget, encodingsOf(this.headers).length === 0);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.capture!.push(chunk);
    return true;
  }

  onComplete(): void {
    this.done({ status: this.status, headers: this.headers, capture: this.capture! });
  }

  onError(err: Error): void {
    this.capture?.release();
    this.fail(err);
  }
}
