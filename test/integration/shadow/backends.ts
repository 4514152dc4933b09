/**
 * Real HTTP servers for the shadow proxy tests (a legacy and a new stack with controlled
 * differences, noise and slowness) and a client that keeps every byte and raw header.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

export interface Backend {
  url: string;
  port: number;
  /** Requests received, by path. */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startBackend(handler: http.RequestListener, port = 0): Promise<Backend> {
  const sockets = new Set<Socket>();
  const seen: Backend['seen'] = [];
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    seen,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A server that accepts connections and never answers: a stalled new stack. */
export async function startStalled(): Promise<Backend> {
  return startBackend(() => {
    /* never answers */
  });
}

export interface RawAnswer {
  status: number;
  statusMessage: string;
  rawHeaders: string[];
  body: Buffer;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export function fetchRaw(
  url: string,
  o: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string } = {},
): Promise<RawAnswer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: o.method ?? 'GET', headers: o.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
          ms: performance.now() - t0,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Raw headers without those that belong to one connection (the proxy's own keep-alive). */
export function endToEndHeaders(raw: string[]): string[][] {
  const hop = new Set(['connection', 'keep-alive', 'transfer-encoding']);
  const out: string[][] = [];
  for (let i = 0; i < raw.length; i += 2)
    if (!hop.has(raw[i]!.toLowerCase())) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(
  what: string,
  fn: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}
