/**
 * The services around a local rehearsal of the sample plan (`npm run demo`, `npm run bench --
 * cutover`, the Cutover rehearsal test): the four SLOs as a Prometheus registry (all met), and one
 * HTTP server that is both the integration sandbox the preparation probes (payments, SMS, maps,
 * each answering 200 only to the credentials of its Secret) and the war-room webhook.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import pg from 'pg';
import { Gauge, Registry } from 'prom-client';

/** The sample's SLOs and their p95 in seconds: each within its objective. */
export const DEMO_SLOS: readonly (readonly [string, number])[] = [
  ['pos-invoice', 0.9],
  ['call-center-order', 12],
  ['driver-update', 2],
  ['dashboard', 1.1],
];

/** `demo_slo_seconds{slo}` for each of DEMO_SLOS (the demo plan's SLO queries read it). */
export function demoSloRegistry(): Registry {
  const registry = new Registry();
  const slo = new Gauge({
    name: 'demo_slo_seconds',
    help: 'p95 of each SLO',
    labelNames: ['slo'],
    registers: [registry],
  });
  for (const [n, v] of DEMO_SLOS) slo.set({ slo: n }, v);
  return registry;
}

export interface DemoSandbox {
  baseUrl: string;
  /** The credentials the sandbox accepts (the Secrets of demoNamespaceItems hold them). */
  tokens: { payments: string; sms: string };
  /** Every probe received, in order. */
  probes: { path: string; auth?: string; key?: string }[];
  /** Every webhook post's JSON body (POST /hook), in order. */
  hooks: { text?: string; channel?: string }[];
  close(): Promise<void>;
}

export async function startDemoSandbox(): Promise<DemoSandbox> {
  const tokens = { payments: randomBytes(8).toString('hex'), sms: randomBytes(8).toString('hex') };
  const probes: DemoSandbox['probes'] = [];
  const hooks: DemoSandbox['hooks'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/hook') {
        try {
          hooks.push(JSON.parse(body) as { text?: string; channel?: string });
        } catch {
          hooks.push({ text: body });
        }
        res.writeHead(200).end('ok');
        return;
      }
      const auth = req.headers.authorization;
      const key = req.headers['x-api-key'];
      probes.push({
        path: req.url ?? '',
        ...(auth ? { auth } : {}),
        ...(typeof key === 'string' ? { key } : {}),
      });
      const ok =
        (req.url === '/payments/v1/health' && auth === tokens.payments) ||
        (req.url === '/sms/status' && auth === tokens.sms) ||
        (req.url === '/maps/ping' && key === tokens.payments);
      res.writeHead(ok ? 200 : 401).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return {
    baseUrl: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    tokens,
    probes,
    hooks,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * Three orders the new stack takes after the switch (ids 200001-200003, tenant-02), dated a minute
 * of plan time after it at the earliest: the post-cutover Reconciliation, bounded to the freeze,
 * must not count them as variance.
 */
export async function takeOrdersAfterSwitch(
  targetUrl: string,
  switchedAt: string,
  planNowMs: number,
): Promise<void> {
  const at = new Date(Math.max(planNowMs, Date.parse(switchedAt) + 60_000));
  const t = new pg.Client({ connectionString: targetUrl });
  await t.connect();
  try {
    for (const id of [200_001, 200_002, 200_003])
      await t.query('INSERT INTO orders (id, tenant_id, total, created_at) VALUES ($1, $2, $3, $4)', [
        id,
        'tenant-02',
        '31.50',
        at,
      ]);
  } finally {
    await t.end();
  }
}
