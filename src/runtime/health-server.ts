/**
 * HTTP endpoints: `/metrics` (Prometheus text), `/healthz` (the process is alive and its loops
 * run) and `/readyz` (every informer has filled its cache once). Bound to `host:port`; port 0
 * picks a free port (see `address()`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperatorMetrics } from './metrics.js';

export interface HealthServerOptions {
  host: string;
  port: number;
  metrics: OperatorMetrics;
  healthy: () => boolean | string;
  ready: () => boolean | string;
}

export class HealthServer {
  private server: http.Server | undefined;

  constructor(private readonly o: HealthServerOptions) {}

  async start(): Promise<AddressInfo> {
    const server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => resolve());
    });
    return this.address();
  }

  address(): AddressInfo {
    const a = this.server?.address();
    if (!a || typeof a === 'string') throw new Error('health server not listening');
    return a;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const answer = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'Content-Type': type });
      res.end(body);
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, 'method not allowed\n');
      if (path === '/metrics')
        return answer(200, await this.o.metrics.text(), this.o.metrics.registry.contentType);
      if (path === '/healthz' || path === '/livez') return this.probe(this.o.healthy(), answer);
      if (path === '/readyz') return this.probe(this.o.ready(), answer);
      return answer(404, 'not found\n');
    } catch (e) {
      answer(500, `${e instanceof Error ? e.message : String(e)}\n`);
    }
  }

  private probe(r: boolean | string, answer: (code: number, body: string) => void): void {
    if (r === true) answer(200, 'ok\n');
    else answer(503, `${r === false ? 'not ok' : r}\n`);
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
