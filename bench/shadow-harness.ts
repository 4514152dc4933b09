/**
 * The shadow bench's lean harness: backends and a load generator on raw `net` sockets, so that on a
 * 2-core machine the CPU goes to the proxy being measured, not to the harness around it.
 *
 * - Backends answer HTTP/1.1 keep-alive requests with precomputed responses (head and 1 KB JSON
 *   body in one Buffer per order id, ids taken modulo ORDER_IDS); `stalled` accepts and never answers.
 * - The load generator keeps `connections` keep-alive sockets, one request at a time on each (no
 *   pipelining, as browsers and proxies send). Open loop: request i is planned at t0 + i/rate and its
 *   latency counts from that planned start, whether it waited for the timer, for a free socket or
 *   for the answer, so a stall cannot hide. Closed loop (rate 0): each socket sends its next
 *   request as soon as the previous answer is in.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

/** Distinct order ids the backends precompute (the generator's ids cycle through them). */
export const ORDER_IDS = 1000;

/** A 1 KB order; the new stack's differs benignly everywhere and really in 1 % of answers. */
export function order(id: number, side: 'legacy' | 'new', at: number): string {
  const items = Array.from({ length: 9 }, (_, i) => ({
    sku: `sku-${id % 97}-${i}`,
    name: `Item number ${i} of the order`,
    qty: 1 + (i % 3),
    price: 10.5 + i,
  }));
  const o = {
    id,
    tenant: `tenant-${id % 40}`,
    status: 'CLOSED',
    total: items.reduce((s, i) => s + i.qty * i.price, 0),
    createdAt: side === 'legacy' ? '2026-12-01T02:00:00Z' : '2026-12-01T05:00:00+03:00',
    items: side === 'legacy' ? items : [...items].reverse(),
    customer: { name: 'Ayşe Yılmaz', city: 'Istanbul' },
    meta: { node: side, at },
  };
  if (side === 'new' && id % 100 === 0) o.status = 'OPEN';
  return JSON.stringify(o);
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** A backend on a raw socket server: parses request heads, skips bodies, answers from a table. */
export function startBackend(kind: 'legacy' | 'new' | 'stalled'): Promise<number> {
  const at = Date.now();
  const answers: Buffer[] = [];
  if (kind !== 'stalled') {
    for (let id = 0; id < ORDER_IDS; id++) {
      const body = Buffer.from(order(id, kind, at));
      answers.push(
        Buffer.concat([
          Buffer.from(
            `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n`,
          ),
          body,
        ]),
      );
    }
  }
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => undefined);
    if (kind === 'stalled') {
      socket.resume(); // reads and discards, never answers
      return;
    }
    let pending: Buffer | undefined;
    /** Request-body bytes still to skip. */
    let skip = 0;
    socket.on('data', (chunk: Buffer) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      const out: Buffer[] = [];
      for (;;) {
        if (skip > 0) {
          const n = Math.min(skip, buf.length);
          skip -= n;
          buf = buf.subarray(n);
        }
        const end = buf.indexOf(CRLF2);
        if (end < 0) break;
        const head = buf.toString('latin1', 0, end);
        buf = buf.subarray(end + 4);
        const m = /^[A-Z]+ \S*?\/orders\/(\d+)/.exec(head);
        const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (len) skip = Number(len[1]);
        out.push(answers[Number(m?.[1] ?? 0) % ORDER_IDS]!);
      }
      if (buf.length > 0) pending = Buffer.from(buf);
      if (out.length === 1) socket.write(out[0]!);
      else if (out.length > 1) socket.write(Buffer.concat(out));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

export interface LoadResult {
  sent: number;
  ok: number;
  errors: number;
  /** Planned (open loop) but not sent: a second of requests was already waiting. */
  missed: number;
  /** Sent but unanswered within the grace after the run: counted here, not waited for. */
  unfinished: number;
  seconds: number;
  latenciesMs: number[];
}

/** How long requests still outstanding at the end of a run are waited for. */
export const GRACE_MS = 10_000;

/**
 * One keep-alive client connection with at most one request outstanding. A socket the server
 * closes (an idle keep-alive connection past the server's keepAliveTimeout, a restarted worker)
 * is replaced by a new one at once, as an HTTP client's pool would: a request written while it
 * connects waits in the socket, and a request the closed socket held is counted as failed.
 */
class Connection {
  private socket!: net.Socket;
  private buf: Buffer | undefined;
  /** Bytes the current answer has in all (head + body), once its head is parsed. */
  private need = -1;
  private status = 0;
  private chunked = false;
  private destroyed = false;
  planned = 0;
  busy = false;
  open = false;

  constructor(
    private readonly port: number,
    private readonly done: (c: Connection, status: number, planned: number) => void,
    private readonly failed: (c: Connection) => void,
  ) {
    this.connect();
  }

  private replace(): void {
    if (!this.destroyed) this.connect();
  }

  private connect(): void {
    const socket = net.connect({ port: this.port, host: '127.0.0.1', noDelay: true });
    this.socket = socket;
    this.open = false;
    let connected = false;
    socket.on('connect', () => {
      connected = true;
      this.open = true;
    });
    socket.on('data', (d: Buffer) => this.data(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.open = false;
      const busy = this.busy;
      this.busy = false;
      this.buf = undefined;
      this.need = -1;
      // A refused connection is retried after a pause, not in a tight loop (or at the next send).
      if (connected) this.replace();
      else setTimeout(() => this.socket === socket && this.replace(), 50);
      if (busy) this.failed(this);
    });
  }

  ready(): Promise<void> {
    return this.open ? Promise.resolve() : new Promise((r) => this.socket.once('connect', () => r()));
  }

  send(request: Buffer, planned: number): void {
    this.busy = true;
    this.planned = planned;
    this.buf = undefined;
    this.need = -1;
    if (this.socket.destroyed) this.replace();
    this.socket.write(request);
  }

  destroy(): void {
    this.destroyed = true;
    this.socket.destroy();
  }

  private data(d: Buffer): void {
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    const b = this.buf;
    if (this.need < 0) {
      const end = b.indexOf(CRLF2);
      if (end < 0) return;
      const head = b.toString('latin1', 0, end);
      this.status = Number(head.slice(9, 12));
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      this.chunked = !len && /\r\ntransfer-encoding:[^\r]*chunked/i.test(head);
      this.need = len ? end + 4 + Number(len[1]) : this.chunked ? Infinity : end + 4;
    }
    const complete = this.chunked
      ? b.length >= 5 && b.subarray(b.length - 5).toString('latin1') === '0\r\n\r\n'
      : b.length >= this.need;
    if (!complete) return;
    this.busy = false;
    this.buf = undefined;
    this.done(this, this.status, this.planned);
  }
}

/**
 * Open loop at `rate` for `seconds` (or closed loop when rate is 0) over `connections` sockets.
 * Requests go to /orders/{i mod ORDER_IDS}.
 */
export async function runLoad(
  port: number,
  rate: number,
  seconds: number,
  connections: number,
): Promise<LoadResult> {
  const requests = Array.from({ length: ORDER_IDS }, (_, id) =>
    Buffer.from(`GET /orders/${id} HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n\r\n`),
  );
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let missed = 0;
  let next = 0;
  const free: Connection[] = [];
  /** Planned starts waiting for a free socket (open loop). */
  const waiting: number[] = [];
  let waitHead = 0;
  let closing = false;
  let outstanding = 0;
  let settle: (() => void) | undefined;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;

  const dispatch = (c: Connection, planned: number): void => {
    sent++;
    outstanding++;
    c.send(requests[next++ % ORDER_IDS]!, planned);
  };
  const finished = (c: Connection): void => {
    outstanding--;
    if (rate > 0) {
      if (waitHead < waiting.length) dispatch(c, waiting[waitHead++]!);
      else free.push(c);
    } else if (performance.now() < end && !closing) dispatch(c, performance.now());
    if (idle() && settle) settle();
  };
  const idle = (): boolean => outstanding === 0 && waitHead >= waiting.length;
  const done = (c: Connection, status: number, planned: number): void => {
    latencies.push(performance.now() - planned);
    if (status === 200) ok++;
    else errors++;
    finished(c);
  };
  const failed = (c: Connection): void => {
    if (closing) return;
    errors++;
    finished(c); // the connection is being replaced: it takes the next request as before
  };
  const conns = Array.from({ length: connections }, () => new Connection(port, done, failed));
  await Promise.all(conns.map((c) => c.ready()));
  const start = performance.now();
  const shift = start - t0;
  if (rate > 0) {
    free.push(...conns);
    const interval = 1000 / rate;
    let i = 0;
    await new Promise<void>((resolve) => {
      // A 1 ms timer sends every request whose planned start has come; the timer's own lateness
      // is part of the latency measured (the same for direct and proxied runs).
      const tick = (): void => {
        const now = performance.now();
        for (;;) {
          const planned = start + i * interval;
          if (planned > now || planned >= end + shift) break;
          i++;
          const c = free.pop();
          if (c) dispatch(c, planned);
          else if (waiting.length - waitHead >= rate) missed++;
          else waiting.push(planned);
        }
        if (now >= end + shift) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(tick, 1);
      tick();
    });
  } else {
    for (const c of conns) dispatch(c, performance.now());
    await new Promise((r) => setTimeout(r, seconds * 1000));
  }
  // What is still outstanding gets a grace, then is counted, never waited for longer.
  if (!idle())
    await Promise.race([new Promise<void>((r) => (settle = r)), new Promise((r) => setTimeout(r, GRACE_MS))]);
  closing = true;
  const unfinished = outstanding + (waiting.length - waitHead);
  for (const c of conns) c.destroy();
  return {
    sent,
    ok,
    errors,
    missed,
    unfinished,
    seconds: (performance.now() - start) / 1000,
    latenciesMs: latencies,
  };
}
