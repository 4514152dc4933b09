/**
 * The sample plan (samples/cutover-nokta.yaml) made playable on the local environment, for
 * `npm run demo` and the Cutover rehearsal test
 * (test/integration/controllers/cutover-rehearsal.test.ts). What it changes in the sample, and only that:
 * the images become Node scripts the pod runner runs (same env and args); Secrets, hosts, the
 * Redis key prefix, Prometheus and the SLO queries are local; the dates move into the past (the
 * Reconciliation controller's offsets are in real time, so the switch must lie in the real past
 * for its T+4h/24h/72h runs); step timeouts become 7d (a Job that takes 3 real seconds takes a day
 * of plan time); the gates are approved up front; shadow mirroring is off (the shadow proxy has
 * its own tests and needs the services it compares).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  CUTOVER_PHASES,
  type CanaryPhase,
  type Cutover,
  type JobTemplate,
  type Reconciliation,
} from '../api/index.js';
import { repoRoot } from './devenv-state.js';
import { READY_LABEL, RUN_LABEL } from './pod-runner.js';

/** The phases a plan goes through when nothing goes wrong, in order (up to SteadyState). */
export const DEMO_PHASES: readonly string[] = CUTOVER_PHASES.slice(
  0,
  CUTOVER_PHASES.indexOf('SteadyState') + 1,
);

/** Three weeks of plan in one real minute. */
export const DEMO_TIME_SCALE = 30_240;
export const DAY = 86_400_000;
/** The tables every preparation and sync Job handles (legacy and new stack, same shape). */
export const DEMO_TABLES = ['orders', 'customers', 'drivers', 'call_logs', 'invoices'];
/** The sample's Reconciliations: sign-off and shadow (one per table family). */
export const DEMO_RECONS: Record<string, string> = {
  'pos-orders': 'orders',
  customers: 'customers',
  drivers: 'drivers',
  'call-logs': 'call_logs',
  invoices: 'invoices',
};

/** The tables the rollback's replay carries back to legacy (the new stack's orders and payments). */
export const DEMO_REPLAY_TABLES = ['orders', 'invoices'];

/**
 * Every Job of the demo: one line with its environment and argv in JOB_LOG, then its work by
 * JOB_KIND (schema, bulk copy, post-load SQL, the shadow phase's remediation, delta sync shards, the rollback's replay). The legacy database is the
 * path of LEGACY_URL.
 */
export const DEMO_JOB_SCRIPT = `
import { appendFileSync } from 'node:fs';
import pg from 'pg';
import mysql from 'mysql2/promise';
const keys = ['CUTOVER_NAME','CUTOVER_FROZEN_AT','CUTOVER_SWITCHED_AT','CUTOVER_LAST_SYNC_AT','CUTOVER_REPORT_CONFIGMAP','JOB_COMPLETION_INDEX'];
const line = { kind: process.env.JOB_KIND, at: Date.now(), argv: process.argv.slice(1), ...Object.fromEntries(keys.map((k) => [k, process.env[k]])) };
appendFileSync(process.env.JOB_LOG, JSON.stringify(line) + '\\n');
const tables = ${JSON.stringify(DEMO_TABLES)};
const target = async () => { const c = new pg.Client({ connectionString: process.env.TARGET_URL }); await c.connect(); return c; };
const legacy = async () => {
  const u = new URL(process.env.LEGACY_URL);
  const socketPath = u.searchParams.get('socket');
  return mysql.createConnection({ ...(socketPath ? { socketPath } : { host: u.hostname, port: Number(u.port) }), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: u.pathname.slice(1), timezone: 'Z' });
};
const copy = async (names) => {
  const src = await legacy();
  const dst = await target();
  let n = 0;
  for (const t of names) {
    const [rows] = await src.query('SELECT id, tenant_id, total, created_at FROM ' + t);
    for (const r of rows) n += (await dst.query('INSERT INTO ' + t + ' (id, tenant_id, total, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING', [r.id, r.tenant_id, r.total, r.created_at])).rowCount;
  }
  await src.end(); await dst.end();
  console.log('copied ' + n + ' rows of ' + names.join(','));
};
switch (process.env.JOB_KIND) {
  case 'schema': {
    const c = await target();
    for (const t of tables) await c.query('CREATE TABLE IF NOT EXISTS ' + t + ' (id INT PRIMARY KEY, tenant_id TEXT NOT NULL, total NUMERIC(10,2) NOT NULL, created_at TIMESTAMPTZ NOT NULL, normalized BOOLEAN NOT NULL DEFAULT false)');
    await c.end();
    break;
  }
  case 'bulk-copy': await copy(tables); break;
  case 'post-load': {
    const c = await target();
    for (const t of tables) await c.query('UPDATE ' + t + ' SET normalized = true');
    await c.end();
    break;
  }
  case 'delta-sync': await copy(tables.filter((_, i) => i % 4 === Number(process.env.JOB_COMPLETION_INDEX))); break;
  // The shadow phase's remediation: what legacy took since the bulk copy, copied again.
  case 'remediation': await copy(tables); break;
  case 'replay': {
    // The new stack's rows since the freeze back into legacy (as the admin: legacy is read-only).
    const src = await target();
    const dst = await legacy();
    let n = 0;
    for (const t of ${JSON.stringify(DEMO_REPLAY_TABLES)}) {
      const { rows } = await src.query('SELECT id, tenant_id, total, created_at FROM ' + t + ' WHERE created_at >= $1', [process.env.CUTOVER_FROZEN_AT]);
      for (const r of rows) n += (await dst.query('INSERT IGNORE INTO ' + t + ' VALUES (?, ?, ?, ?)', [r.id, r.tenant_id, r.total, r.created_at]))[0].affectedRows;
    }
    await src.end(); await dst.end();
    console.log('replayed ' + n + ' rows since ' + process.env.CUTOVER_FROZEN_AT);
    break;
  }
  default: break;
}
`;

export interface DemoPlanOptions {
  namespace: string;
  /** Added to every plan date so that the plan lies in the real past. */
  shiftMs: number;
  /** Base URL of the local integration sandbox (payments, SMS, maps). */
  sandboxUrl: string;
  jobLog: string;
  redisPrefix: string;
  prometheusUrl: string;
  approvedBy: string;
  /** The Cutover's name (default nokta). */
  name?: string;
}

/** A plan date of the sample moved by `shiftMs`, in the sample's format. */
export const shiftDate = (t: string, shiftMs: number): string =>
  new Date(Date.parse(t) + shiftMs).toISOString().replace(/\.000Z$/, 'Z');

/** The sample Cutover, playable locally (see the file's comment for every change). */
export function demoCutover(o: DemoPlanOptions): Cutover {
  const co = parse(readFileSync(join(repoRoot(), 'samples', 'cutover-nokta.yaml'), 'utf8')) as Cutover;
  const spec = co.spec;
  const shifted = (t: string): string => shiftDate(t, o.shiftMs);
  co.metadata = {
    ...co.metadata,
    name: o.name ?? 'nokta',
    namespace: o.namespace,
    annotations: {
      'cutover.nokta.io/approve': 'reconciliation-sign-off,switch-traffic,steady-state',
      'cutover.nokta.io/approved-by': o.approvedBy,
    },
  };
  const asNode = (t: JobTemplate | undefined, kind: string): void => {
    if (!t) return;
    t.image = 'node';
    t.command = ['node', '--input-type=module', '-e', DEMO_JOB_SCRIPT, '--'];
    t.env = [
      ...(t.env ?? []).filter((e) => e.name !== 'LEGACY_URL' && e.name !== 'TARGET_URL'),
      // The replay writes into the frozen legacy: the admin account (as in the sample).
      {
        name: 'LEGACY_URL',
        secretKeyRef: { name: kind === 'replay' ? 'nokta-legacy-admin-db' : 'nokta-legacy-db', key: 'url' },
      },
      { name: 'TARGET_URL', secretKeyRef: { name: 'nokta-new-db', key: 'url' } },
      { name: 'JOB_KIND', value: kind },
      { name: 'JOB_LOG', value: o.jobLog },
    ];
    t.podLabels = { ...t.podLabels, [RUN_LABEL]: 'true' };
    t.backoffLimit = 0;
  };
  const prep = spec.preparation!;
  asNode(prep.schemaMigration!.job, 'schema');
  asNode(prep.schemaMigration!.downJob, 'schema-down');
  asNode(prep.bulkCopy!.job, 'bulk-copy');
  asNode(prep.postLoadSql!.job, 'post-load');
  const paths: Record<string, string> = {
    payments: '/payments/v1/health',
    sms: '/sms/status',
    maps: '/maps/ping',
  };
  for (const c of prep.integrationChecks ?? []) c.url = `${o.sandboxUrl}${paths[c.name] ?? '/'}`;
  asNode(spec.shadow!.remediationJob, 'remediation');
  spec.shadow!.startAt = shifted(spec.shadow!.startAt);
  spec.shadow!.endAt = shifted(spec.shadow!.endAt);
  spec.shadow!.mirroring = { enabled: false };
  spec.timeline.startAt = shifted(spec.timeline.startAt!);
  for (const step of spec.timeline.steps) {
    if (step.at) step.at = shifted(step.at);
    if (step.timeout) step.timeout = '7d';
    if (step.job) asNode(step.job, step.action === 'DeltaSync' ? 'delta-sync' : step.name);
  }
  asNode(spec.rollback!.replayJob, 'replay');
  asNode(spec.rollback!.exportJob, 'export');
  spec.flagProvider!.redis!.keyPrefix = o.redisPrefix;
  spec.prometheusAddress = o.prometheusUrl;
  for (const s of spec.slos ?? []) s.query = `max(demo_slo_seconds{slo="${s.name}"})`;
  return co;
}

/** The sample's canary phase, reduced to one short step measured against Prometheus. */
export function demoCanaryPhase(o: DemoPlanOptions): CanaryPhase {
  return {
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'CanaryPhase',
    metadata: { name: 'nokta-canary', namespace: o.namespace },
    spec: {
      flagProvider: {
        type: 'Redis',
        redis: { secretRef: { name: 'nokta-redis', key: 'url' }, keyPrefix: o.redisPrefix },
      },
      services: [{ name: 'pos', routing: 'Flag', flagKey: 'canary-new-stack' }],
      steps: [{ weight: 10, pause: '2s' }],
      duration: '3s',
      autoPromote: true,
      analysis: {
        interval: '1s',
        prometheusAddress: o.prometheusUrl,
        metrics: [
          {
            name: 'pos-p95',
            prometheus: { query: 'max(demo_slo_seconds{slo="pos-invoice"})' },
            successCondition: 'result <= 1.5',
          },
        ],
      },
    },
  };
}

/**
 * A count and a sum check of one table; post-cutover: scheduled at +4h/+24h/+72h, bounded to the
 * freeze; `suspend`: runs only when the Cutover asks (the rollback's verification of the replay).
 */
export function demoReconciliation(
  namespace: string,
  name: string,
  table: string,
  postCutover = false,
  cutoverName = 'nokta',
  suspend = false,
): Reconciliation {
  return {
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'Reconciliation',
    metadata: { name, namespace },
    spec: {
      legacy: { engine: 'mysql', secretRef: { name: 'nokta-legacy-db', key: 'url' } },
      target: { engine: 'postgres', secretRef: { name: 'nokta-new-db', key: 'url' } },
      tenantColumn: 'tenant_id',
      window: {
        column: 'created_at',
        last: '90d',
        ...(postCutover ? { until: 'frozenAt', cutoverRef: { name: cutoverName } } : {}),
      },
      thresholds: { remediatePercent: 0.5, failPercent: 1.0 },
      ...(postCutover
        ? { schedule: { cutoverRef: { name: cutoverName }, offsets: ['+4h', '+24h', '+72h'] } }
        : suspend
          ? { schedule: { suspend: true } }
          : {}),
      checks: [
        { name: `${name}-count`, type: 'count', legacy: { table }, target: { table } },
        {
          name: `${name}-totals`,
          type: 'sum',
          legacy: { table },
          target: { table },
          columns: [{ name: 'total', type: 'decimal', scale: 2 }],
        },
      ],
    },
  };
}

/** What a demo namespace holds before the plan: the Secrets, routes, Ingress and legacy Deployment. */
export function demoNamespaceItems(
  namespace: string,
  u: {
    legacyAdminUrl: string;
    legacyUrl: string;
    targetUrl: string;
    redisUrl: string;
    tokens: { payments: string; sms: string };
    hookUrl: string;
  },
): object[] {
  const secret = (name: string, data: Record<string, string>): object => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: namespace },
    stringData: data,
  });
  const route = (name: string, backend: string): object => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: namespace },
    spec: { parentRefs: [{ name: 'public-gw' }], rules: [{ backendRefs: [{ name: backend, port: 8080 }] }] },
  });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    secret('nokta-legacy-admin-db', { url: u.legacyAdminUrl }),
    secret('nokta-legacy-app-db', { url: u.legacyUrl }),
    secret('nokta-legacy-db', { url: u.legacyUrl }),
    secret('nokta-new-db', { url: u.targetUrl }),
    secret('nokta-redis', { url: u.redisUrl }),
    secret('payments-sandbox', { token: u.tokens.payments }),
    secret('sms-sandbox', { token: u.tokens.sms }),
    secret('maps-sandbox', { key: u.tokens.payments }),
    secret('cutover-warroom-webhook', { url: u.hookUrl }),
    route('call-center', 'call-center-legacy'),
    route('customer-app', 'customer-api-legacy'),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'pos', namespace: namespace },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: 'pos.nokta.test',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'pos-legacy', port: { number: 8080 } } },
                },
              ],
            },
          },
        ],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'pos-legacy', namespace: namespace },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'pos-legacy' } },
        template: {
          metadata: { labels: { app: 'pos-legacy', [READY_LABEL]: 'true' } },
          spec: { containers: [{ name: 'pos', image: 'registry.nokta.io/pos:legacy' }] },
        },
      },
    },
  ];
}
