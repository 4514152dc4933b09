/**
 * What the proxy and the mirror engine share to talk to an upstream: undici pools (HTTP/1.1,
 * pipelining 1, keep-alive) with raw dispatch handlers, header helpers that read raw header
 * buffers as node:http would, error classification, and `askUpstream`: one whole answer, captured
 * within the byte budget, with a whole-answer timeout. Thread-agnostic (used on the main thread by
 * the inline mirror path and on the mirror thread).
 */
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';
import { BodyCapture, type BufferBudget } from './capture.js';
import { encodingsOf } from './prepare.js';

/** Marks the requests the new stack receives from the proxy. */
export const SHADOW_HEADER = 'x-cutover-shadow';

export interface Upstream {
  url: URL;
  prefix: string;
  pool: Pool;
  /** For upgrades only (tunnels). */
  request: typeof http.request;
}

export function upstream(raw: string, poolOptions: Pool.Options): Upstream {
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

/** Pool options for the new stack and the second legacy: a connection limit and timeouts. */
export function boundedPoolOptions(maxConnections: number, timeoutMs: number): Pool.Options {
  return {
    connections: maxConnections,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: timeoutMs,
  };
}

/** Raw header buffers (name, value, ...) as strings, byte for byte (latin1, as node:http does). */
export function rawStrings(raw: Buffer[]): string[] {
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
export function headersOf(raw: string[]): http.IncomingHttpHeaders {
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

export function errorReason(err: unknown): string {
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

export function answerHasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

/** An undici handler whose exchange the proxy can cancel before or after it connects. */
export abstract class CancellableExchange {
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

export interface CapturedAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  capture: BodyCapture;
}

export interface SideAnswer extends CapturedAnswer {
  ms: number;
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
    private readonly done: (a: CapturedAnswer) => void,
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

export interface AskRequest {
  method: string;
  target: string;
  /** Forwarded request headers (lower-case names). */
  headers: Record<string, string>;
  payload: Buffer | undefined;
}

export interface AskLimits {
  timeoutMs: number;
  maxBodyBytes: number;
  budget: BufferBudget;
  /** Called once on error or timeout, with the reason (timeout, refused, reset, error). */
  onError(reason: string): void;
}

/** Sends a mirrored request to an upstream; resolves undefined (after onError) on error or timeout. */
export function askUpstream(u: Upstream, r: AskRequest, limits: AskLimits): Promise<SideAnswer | undefined> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    // Called from the timer and the exchange only, both made below before anything can fail.
    const fail = (err: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      exchange.cancel();
      limits.onError(errorReason(err));
      resolve(undefined);
    };
    const headers: Record<string, string> = { ...r.headers, [SHADOW_HEADER]: '1' };
    if (r.payload) headers['content-length'] = String(r.payload.length);
    const exchange = new MirrorExchange(limits.maxBodyBytes, limits.budget, fail, (answer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...answer, ms: performance.now() - t0 });
    });
    const timer = setTimeout(
      () => fail(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
      limits.timeoutMs,
    );
    u.pool.dispatch(
      { method: r.method, path: u.prefix + r.target, headers, body: r.payload ?? null },
      exchange,
    );
  });
}
