/**
 * The demo's second scenario (`npm run demo` runs it after the first): the sample Cutover again,
 * as `nokta-rb` in its own namespace with its own legacy database (on the demo's MariaDB), new
 * PostgreSQL database, Redis prefix, operator and pod runner, played to the switch. Orders and
 * payments (invoices) are then taken on the new stack, a discrepancy is injected into the new
 * PostgreSQL data (rows from before the freeze changed and lost), and the post-cutover
 * Reconciliation finds variance above 1 %: the Cutover's `reconciliationVariance` trigger makes the
 * operator roll back by itself, in the sample's order (POS offline, replay of the new stack's
 * writes since the freeze into legacy, its verification, traffic and flags back, legacy writes
 * reopened, queue drained, schema down, notify). Each rollback action is printed as it completes;
 * the end is checked against the world: traffic and flags on legacy, legacy writable, the replay
 * Job ran before traffic moved back, the rows taken on the new stack after the switch in legacy.
 *
 * The sample's export Job (new-stack changes, followed until legacy hot ends) is a Node script
 * that exits at once here: the demo publishes its lag (0 s) in the `<cutover>-export` ConfigMap,
 * as the real export would, so that the replay does not wait for an export that does not exist.
 */
import * as k8s from '@kubernetes/client-node';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Cutover, CutoverStatus, Reconciliation } from '../api/index.js';
import { CUTOVER, RECONCILIATION } from '../controllers/kinds.js';
import { flagStoreKey, LABEL_CUTOVER } from '../controllers/cutover/world.js';
import type { KubeClient, KubeObject } from '../runtime/kube-client.js';
import { Redis } from 'ioredis';
import { RedisFlagStore } from '../actuators/flags/redis-flags.js';
import { kubectl } from './local-cluster.js';
import { freePort, stopProcess, type ManagedProcess } from './processes.js';
import { startPodRunner } from './pod-runner.js';
import type { OwnMariadbServer } from './own-mariadb.js';
import { demoLegacyRowAt, demoShiftMs, startDemoOperator } from './demo-operator.js';
import { refusedRequests } from './demo-install.js';
import {
  DEMO_RECONS,
  DEMO_REPLAY_TABLES,
  DEMO_TABLES,
  demoCanaryPhase,
  demoCutover,
  demoNamespaceItems,
  demoReconciliation,
} from './demo-plan.js';

export const ROLLBACK_NAMESPACE = 'nokta-rollback';
export const ROLLBACK_CUTOVER = 'nokta-rb';
const LEGACY_DB = 'nokta_rb_legacy';
const TARGET_DB = 'nokta_rb_new';
const TARGET_URL = `postgres://postgres@127.0.0.1:5432/${TARGET_DB}`;
/** Rows taken on the new stack after the switch (orders, then payments in invoices). */
export const AFTER_SWITCH_IDS = [300_001, 300_002, 300_003];

export interface RollbackScenario {
  kcPath: string;
  /** The operator's own kubeconfig (its ServiceAccount, see demo-install.ts). */
  operatorKubeconfig: string;
  admin: KubeClient;
  maria: OwnMariadbServer;
  app: { user: string; password: string };
  rows: number;
  sandboxUrl: string;
  hookUrl: string;
  tokens: { payments: string; sms: string };
  prometheusUrl: string;
  redisUrl: string;
  redisPrefix: string;
  jobLog: string;
  operatorLog: string;
  keep: boolean;
  timeoutMs: number;
  say: (s: string) => void;
  bold: (s: string) => string;
  /** Seconds since the demo started. */
  elapsed: () => string;
  /** Registers what to stop or delete when the demo ends. */
  cleanup: (what: string, run: () => Promise<unknown>) => void;
  /** Under --keep: the operator that stays up (cluster:down stops it). */
  keepOperator: (pid: number) => void;
}

export interface RollbackOutcome {
  status: CutoverStatus;
  /** The checks of the end state, each with its result. */
  checks: { what: string; ok: boolean }[];
}

export async function playRollbackScenario(s: RollbackScenario): Promise<RollbackOutcome> {
  const { say, kcPath } = s;
  const shiftMs = demoShiftMs();
  const legacyRowAt = demoLegacyRowAt(shiftMs);
  // Legacy: its own database on the demo's MariaDB (root may write while the first plan's freeze
  // holds the server read-only).
  {
    const root = await mysql.createConnection({ socketPath: s.maria.socket, user: 'root', timezone: 'Z' });
    await root.query(`DROP DATABASE IF EXISTS ${LEGACY_DB}`);
    await root.query(`CREATE DATABASE ${LEGACY_DB}`);
    for (const t of DEMO_TABLES) {
      await root.query(
        `CREATE TABLE ${LEGACY_DB}.${t} (id INT PRIMARY KEY, tenant_id VARCHAR(32) NOT NULL, total DECIMAL(10,2) NOT NULL, created_at DATETIME(3) NOT NULL)`,
      );
      const values: unknown[][] = [];
      for (let i = 1; i <= s.rows; i++)
        values.push([
          i,
          `tenant-${String(i % 12).padStart(2, '0')}`,
          ((i * 3.25) % 997).toFixed(2),
          legacyRowAt,
        ]);
      await root.query(`INSERT INTO ${LEGACY_DB}.${t} VALUES ?`, [values]);
    }
    await root.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${LEGACY_DB}.* TO '${s.app.user}'@'%'`);
    await root.end();
  }
  const legacyUrl = `mysql://${s.app.user}:${s.app.password}@127.0.0.1:${s.maria.port}/${LEGACY_DB}`;
  const legacyAdminUrl = `mysql://root@localhost/${LEGACY_DB}?socket=${encodeURIComponent(s.maria.socket)}`;
  const pgAdmin = async (sql: string): Promise<void> => {
    const p = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await p.connect();
    await p.query(sql).finally(() => p.end());
  };
  await pgAdmin(`DROP DATABASE IF EXISTS "${TARGET_DB}" WITH (FORCE)`);
  await pgAdmin(`CREATE DATABASE "${TARGET_DB}"`);
  if (!s.keep)
    s.cleanup(`the PostgreSQL database ${TARGET_DB}`, () =>
      pgAdmin(`DROP DATABASE IF EXISTS "${TARGET_DB}" WITH (FORCE)`),
    );
  if (!s.keep)
    s.cleanup(`the MariaDB database ${LEGACY_DB}`, async () => {
      const root = await mysql.createConnection({ socketPath: s.maria.socket, user: 'root' });
      await root.query(`DROP DATABASE IF EXISTS ${LEGACY_DB}`).finally(() => root.end());
    });
  say(
    `  legacy ${LEGACY_DB} (${DEMO_TABLES.length} tables × ${s.rows} rows) on the demo's MariaDB, new ${TARGET_DB}, flags under '${s.redisPrefix}'`,
  );

  if (kubectl(kcPath, ['get', 'namespace', ROLLBACK_NAMESPACE, '--ignore-not-found', '-o', 'name']).trim())
    kubectl(kcPath, ['delete', 'namespace', ROLLBACK_NAMESPACE, '--wait=true', '--timeout=120s']);
  const items = demoNamespaceItems(ROLLBACK_NAMESPACE, {
    legacyAdminUrl,
    legacyUrl,
    targetUrl: TARGET_URL,
    redisUrl: s.redisUrl,
    tokens: s.tokens,
    hookUrl: s.hookUrl,
  });
  kubectl(kcPath, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  if (!s.keep)
    s.cleanup(`the namespace ${ROLLBACK_NAMESPACE}`, async () =>
      kubectl(kcPath, ['delete', 'namespace', ROLLBACK_NAMESPACE, '--wait=false']),
    );
  say(`  namespace ${ROLLBACK_NAMESPACE}: Secrets, routes, legacy Deployment (${items.length} objects)`);

  const nodeKc = new k8s.KubeConfig();
  nodeKc.loadFromFile(kcPath);
  const runner = startPodRunner(nodeKc, { namespace: ROLLBACK_NAMESPACE });
  s.cleanup('the second pod runner', () => runner.stop());
  // Its own operator, its plan moved into the real past like the first one's.
  const started = startDemoOperator({
    name: 'operator-rollback',
    kubeconfig: s.operatorKubeconfig,
    namespace: ROLLBACK_NAMESPACE,
    log: s.operatorLog,
    shiftMs,
    metricsPort: await freePort(),
  });
  const { planNow } = started;
  const operator: ManagedProcess = started.process;
  if (s.keep) s.keepOperator(operator.child.pid!);
  else s.cleanup('the second operator', () => stopProcess(operator, 10_000));
  say(`  operator pid ${operator.child.pid} for ${ROLLBACK_NAMESPACE}; log ${s.operatorLog}`);

  const clock = (): string =>
    `${s.elapsed()}s  plan ${new Date(planNow()).toISOString().slice(0, 16).replace('T', ' ')}`;
  const apply = (objs: object[]): void => {
    const out = kubectl(
      kcPath,
      ['apply', '--server-side', '--field-manager=cutover-demo', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }),
    );
    for (const l of out.trim().split('\n')) say(`  ${clock()}  kubectl: ${l}`);
  };
  const planOpts = {
    namespace: ROLLBACK_NAMESPACE,
    name: ROLLBACK_CUTOVER,
    shiftMs,
    sandboxUrl: s.sandboxUrl,
    jobLog: s.jobLog,
    redisPrefix: s.redisPrefix,
    prometheusUrl: s.prometheusUrl,
    approvedBy: 'demo-lead',
  };
  apply([
    demoCanaryPhase(planOpts),
    demoCutover(planOpts),
    demoReconciliation(ROLLBACK_NAMESPACE, 'replay-window', 'orders', false, ROLLBACK_CUTOVER, true),
  ]);

  const seen = new Map<string, string>();
  const note = (key: string, value: string, line: () => string): void => {
    if (seen.get(key) === value) return;
    seen.set(key, value);
    say(`  ${clock()}  ${line()}`);
  };
  let reconsApplied = false;
  let injected = false;
  const deadline = Date.now() + s.timeoutMs;
  let st: CutoverStatus = {};
  for (;;) {
    st =
      (await s.admin.tryGet<Cutover & KubeObject>(CUTOVER, ROLLBACK_NAMESPACE, ROLLBACK_CUTOVER))?.status ??
      {};
    const phase = st.phase ?? 'Pending';
    note(
      'phase',
      phase,
      () => s.bold(`Cutover ${ROLLBACK_CUTOVER} phase ${phase}`) + (st.message ? `: ${st.message}` : ''),
    );
    for (const x of st.steps ?? [])
      if (x.state === 'Succeeded' || x.state === 'Failed')
        note(`step:${x.name}`, x.state, () => `step ${x.name}: ${x.state}`);
    const prepDone =
      (st.preparation ?? []).length >= 6 && st.preparation!.every((p) => p.state === 'Succeeded');
    if (prepDone && !reconsApplied) {
      reconsApplied = true;
      say(`  ${clock()}  the bulk copy is in: the shadow Reconciliations`);
      apply(
        Object.entries(DEMO_RECONS).map(([n, t]) =>
          demoReconciliation(ROLLBACK_NAMESPACE, n, t, false, ROLLBACK_CUTOVER),
        ),
      );
    }
    if (st.switchedAt && !injected) {
      injected = true;
      const at = new Date(Math.max(planNow(), Date.parse(st.switchedAt) + 60_000));
      const t = new pg.Client({ connectionString: TARGET_URL });
      await t.connect();
      try {
        for (const table of DEMO_REPLAY_TABLES)
          for (const id of AFTER_SWITCH_IDS)
            await t.query(`INSERT INTO ${table} (id, tenant_id, total, created_at) VALUES ($1, $2, $3, $4)`, [
              id,
              'tenant-03',
              '42.75',
              at,
            ]);
        say(
          `  ${clock()}  ${AFTER_SWITCH_IDS.length} orders and ${AFTER_SWITCH_IDS.length} payments (invoices) taken on the new stack after the switch`,
        );
        // The discrepancy: rows from before the freeze lost and changed on the new stack.
        const lost = (await t.query('DELETE FROM orders WHERE id <= 10')).rowCount;
        const changed = (await t.query('UPDATE orders SET total = total + 500 WHERE id BETWEEN 11 AND 20'))
          .rowCount;
        say(
          `  ${clock()}  ${s.bold('discrepancy injected')} into ${TARGET_DB}.orders: ${lost} rows lost, ${changed} totals changed (legacy keeps the originals)`,
        );
      } finally {
        await t.end();
      }
      // The export's lag, as the export Job would publish it (see the file's comment).
      kubectl(
        kcPath,
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            name: `${ROLLBACK_CUTOVER}-export`,
            namespace: ROLLBACK_NAMESPACE,
            labels: { [LABEL_CUTOVER]: ROLLBACK_CUTOVER },
          },
          data: { lagSeconds: '0' },
        }),
      );
      say(`  ${clock()}  the post-cutover Reconciliation (+4h, bounded to the freeze)`);
      apply([demoReconciliation(ROLLBACK_NAMESPACE, 'post-cutover', 'orders', true, ROLLBACK_CUTOVER)]);
    }
    const post = (
      await s.admin.tryGet<Reconciliation & KubeObject>(RECONCILIATION, ROLLBACK_NAMESPACE, 'post-cutover')
    )?.status;
    if (post?.lastRun?.finishedAt)
      note(
        'recon:post',
        post.lastRun.finishedAt,
        () =>
          `Reconciliation post-cutover: ${post.lastRun?.verdict ?? post.phase}, max variance ${post.summary?.maxVariancePercent ?? '0'} %`,
      );
    const rb = st.rollback;
    if (rb?.trigger)
      note('trigger', rb.trigger, () => s.bold(`rollback started by ${rb.trigger}: ${rb.reason ?? ''}`));
    for (const a of rb?.actions ?? [])
      if (a.state === 'Succeeded' || a.state === 'Skipped' || a.state === 'Failed')
        note(
          `rb:${a.name}`,
          a.state,
          () => `rollback action ${a.name}: ${a.state}${a.message ? ` (${a.message})` : ''}`,
        );
    if (phase === 'RolledBack') break;
    if (phase === 'Failed' || phase === 'Aborted' || phase === 'SteadyState')
      throw new Error(
        `the rollback scenario ended ${phase}: ${JSON.stringify(st.rollback ?? st.message ?? {})}`,
      );
    if (Date.now() > deadline)
      throw new Error(`no rollback within ${s.timeoutMs / 1000} s (phase ${phase}); see ${s.operatorLog}`);
    await new Promise((r) => setTimeout(r, 250));
  }

  // The end state, checked against the world.
  const checks: { what: string; ok: boolean }[] = [];
  const check = (what: string, ok: boolean): void => {
    checks.push({ what, ok });
    say(`  ${ok ? 'ok  ' : 'FAIL'}  ${what}`);
  };
  const routes = JSON.parse(
    kubectl(kcPath, ['-n', ROLLBACK_NAMESPACE, 'get', 'httproute', '-o', 'json']),
  ) as {
    items: {
      metadata: { name: string };
      spec: { rules?: { backendRefs?: { name: string; weight?: number }[] }[] };
    }[];
  };
  const onLegacy = routes.items.every((r) =>
    (r.spec.rules ?? []).every((rule) =>
      (rule.backendRefs ?? []).every((b) => b.name.endsWith('-legacy') || b.weight === 0),
    ),
  );
  const ingress = JSON.parse(
    kubectl(kcPath, ['-n', ROLLBACK_NAMESPACE, 'get', 'ingress', 'pos', '-o', 'json']),
  ) as {
    spec: { rules: { http: { paths: { backend: { service: { name: string } } }[] } }[] };
  };
  const posBackend = ingress.spec.rules[0]!.http.paths[0]!.backend.service.name;
  check(
    `traffic back on legacy: HTTPRoutes ${routes.items.map((r) => r.metadata.name).join(', ')} and Ingress pos → ${posBackend}`,
    onLegacy && posBackend === 'pos-legacy',
  );
  // The flags as an application reads them (the operator's Redis store under the demo's prefix).
  const redis = new Redis(s.redisUrl, { lazyConnect: true });
  await redis.connect();
  const store = new RedisFlagStore(redis, s.redisPrefix);
  const flags: string[] = [];
  let flagsOn = 0;
  try {
    const cutover = await s.admin.get<Cutover & KubeObject>(CUTOVER, ROLLBACK_NAMESPACE, ROLLBACK_CUTOVER);
    for (const svc of cutover.spec.services)
      if (svc.flagKey) {
        const f = await store.read(svc.name, flagStoreKey(svc.flagKey));
        if (!f.defaultState) {
          flags.push(`${svc.flagKey} never set`);
          flagsOn++; // the switch set every flag: one the store lacks was not put back by the rollback
          continue;
        }
        const states = [f.defaultState, ...Object.values(f.tenants)];
        const on = states.some((x) => x.enabled && (x.percentage ?? 100) > 0);
        if (on) flagsOn++;
        flags.push(`${svc.flagKey} ${on ? 'on' : 'off'}`);
      }
  } finally {
    redis.disconnect();
  }
  check(`flags back on legacy: ${flags.join(', ')}`, flags.length > 0 && flagsOn === 0);
  const app = await mysql.createConnection({
    host: '127.0.0.1',
    port: s.maria.port,
    user: s.app.user,
    password: s.app.password,
    database: LEGACY_DB,
    timezone: 'Z',
  });
  let writable = false;
  try {
    await app.query('INSERT INTO orders VALUES (?, ?, ?, ?)', [300_100, 'tenant-03', '9.99', new Date()]);
    writable = true;
  } catch (e) {
    if ((e as { errno?: number }).errno !== 1290) throw e;
  }
  check('legacy writable: an order written to legacy now is taken', writable);
  const actions = st.rollback?.actions ?? [];
  const replay = actions.find((a) => a.name === 'Replay');
  const back = actions.find((a) => a.name === 'TrafficBack');
  check(
    `the replay Job ${replay?.jobName ?? '-'} finished (${replay?.finishedAt ?? '-'}) before traffic moved back (${back?.finishedAt ?? '-'})`,
    replay?.state === 'Succeeded' &&
      back?.state === 'Succeeded' &&
      Date.parse(replay.finishedAt ?? '') <= Date.parse(back.at ?? back.finishedAt ?? ''),
  );
  let found = 0;
  for (const table of DEMO_REPLAY_TABLES) {
    const [rows] = await app.query(`SELECT id FROM ${table} WHERE id IN (?)`, [AFTER_SWITCH_IDS]);
    found += (rows as unknown[]).length;
  }
  await app.end();
  const expected = AFTER_SWITCH_IDS.length * DEMO_REPLAY_TABLES.length;
  check(
    `no write lost: ${found}/${expected} rows taken on the new stack after the switch are in legacy`,
    found === expected,
  );
  const api = await refusedRequests(started.metricsUrl);
  check(
    `the operator's ${api.total} API requests as its ServiceAccount: none refused${api.refused.length ? ` (refused: ${api.refused.join(', ')})` : ''}`,
    api.refused.length === 0,
  );
  return { status: st, checks };
}
