/**
 * The proxy's admin endpoints, on their own port so the proxied service's paths stay untouched:
 * `/metrics` (Prometheus), `/samples` (the rotating sample of differences, redacted, as JSON),
 * `/noise` (what noise learning has found), `/stats` (totals and the queue), `/healthz`, `/readyz`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ShadowProxy } from './proxy.js';

export interface Summary {
  requests: number;
  mirrored: number;
  compared: number;
  differing: number;
  dropped: number;
  errors: number;
  noise: number;
  tooLarge: number;
  admitted: number;
  waiting: number;
  inFlight: number;
  bufferedBytes: number;
}

/** Totals over all routes, and the queue now. */
export async function summary(proxy: ShadowProxy): Promise<Summary> {
  const m = proxy.metrics;
  const [requests, mirrored, compared, differing, dropped, errors, noise, tooLarge] = await Promise.all([
    m.total('cutover_shadow_requests_total'),
    m.total('cutover_shadow_mirrored_total'),
    m.total('cutover_shadow_compared_total'),
    m.total('cutover_shadow_differing_total'),
    m.total('cutover_shadow_dropped_total'),
    m.total('cutover_shadow_errors_total'),
    m.total('cutover_shadow_noise_total'),
    m.total('cutover_shadow_too_large_total'),
  ]);
  return { requests, mirrored, compared, differing, dropped, errors, noise, tooLarge, ...proxy.stats() };
}

export class AdminServer {
  private readonly server: http.Server;

  constructor(private readonly proxy: ShadowProxy) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
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

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const json = (body: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      const p = this.proxy;
      switch (path) {
        case '/metrics':
          res.writeHead(200, { 'content-type': p.metrics.registry.contentType }).end(await p.metrics.text());
          return;
        case '/samples':
          return json({
            service: p.rules.service,
            size: p.samples.size,
            samples: p.samples.recent(),
            firstOfEachField: p.samples.firstExamples(),
          });
        case '/noise':
          return json({
            service: p.rules.service,
            enabled: p.noise !== undefined,
            routes: p.noise?.report() ?? [],
          });
        case '/stats':
          return json({ service: p.rules.service, ...(await summary(p)) });
        case '/healthz':
        case '/livez':
        case '/readyz':
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          return;
        default:
          res
            .writeHead(404, { 'content-type': 'text/plain' })
            .end('not found: try /metrics, /samples, /noise, /stats\n');
      }
    } catch (err) {
      res
        .writeHead(500, { 'content-type': 'text/plain' })
        .end(`${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}
