/**
 * The proxy's admin endpoints, on their own port so the proxied service's paths stay untouched:
 * `/metrics` (Prometheus), `/samples` (the rotating sample of differences, redacted, as JSON),
 * `/noise` (what noise learning has found), `/stats` (totals and the queue), `/healthz`, `/readyz`.
 * They answer for one ShadowProxy in this process, or for a whole cluster of workers through an
 * AdminSource that gathers and aggregates their reports (cluster.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { totalOf, type MetricsJson } from './metrics.js';
import type { NoiseReport } from './noise.js';
import { ShadowProxy, type SamplesReport } from './proxy.js';

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
  /** A proxy with several workers: each one's index and pid, and how many were restarted. */
  workers?: { index: number; pid: number }[];
  /** How far behind the event loop runs (ms; the most behind worker's). */
  lagMs?: number;
  restarts?: number;
  /** --mirror-thread on: how many times the mirror thread was restarted. */
  mirrorThreadRestarts?: number;
}

export type { SamplesReport };

/** What the admin endpoints serve: one proxy's figures, or a cluster's aggregated ones. */
export interface AdminSource {
  readonly service: string;
  readonly contentType: string;
  metricsText(): Promise<string>;
  /** /stats: the totals and the queue, plus whatever the source adds (workers, restarts). */
  stats(): Promise<Summary>;
  samples(): Promise<SamplesReport>;
  noise(): Promise<{ enabled: boolean; routes: NoiseReport[] }>;
}

/** The admin source of a proxy in this process. */
export function proxySource(p: ShadowProxy): AdminSource {
  return {
    service: p.rules.service,
    contentType: p.metrics.registry.contentType,
    metricsText: () => p.metricsText(),
    stats: () => summary(p),
    samples: () => p.samplesReport(),
    noise: () => p.noiseReport(),
  };
}

/** Totals over all routes, and the queue now. */
export async function summary(proxy: ShadowProxy, json?: MetricsJson): Promise<Summary> {
  const m = json ?? (await proxy.metricsJson());
  const t = (name: string): number => totalOf(m, `cutover_shadow_${name}_total`);
  return {
    requests: t('requests'),
    mirrored: t('mirrored'),
    compared: t('compared'),
    differing: t('differing'),
    dropped: t('dropped'),
    errors: t('errors'),
    noise: t('noise'),
    tooLarge: t('too_large'),
    ...proxy.stats(),
    ...(proxy.link ? { mirrorThreadRestarts: proxy.link.restarts } : {}),
  };
}

export class AdminServer {
  private readonly server: http.Server;
  private readonly source: AdminSource;

  constructor(from: ShadowProxy | AdminSource) {
    this.source = from instanceof ShadowProxy ? proxySource(from) : from;
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
      const p = this.source;
      switch (path) {
        case '/metrics':
          res.writeHead(200, { 'content-type': p.contentType }).end(await p.metricsText());
          return;
        case '/samples':
          return json({ service: p.service, ...(await p.samples()) });
        case '/noise':
          return json({ service: p.service, ...(await p.noise()) });
        case '/stats':
          return json({ service: p.service, ...(await p.stats()) });
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
