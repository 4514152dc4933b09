#!/usr/bin/env node
/**
 * `npm run demo`: a full local rehearsal of the sample cutover (samples/cutover-nokta.yaml) on the
 * embedded default environment, in a few minutes:
 *
 *  1. the local control plane with the cutover and Gateway API CRDs (`npm run cluster:up`);
 *  2. the Nokta databases: a legacy MariaDB of the demo's own (the freeze sets GLOBAL read_only)
 *     with database `nokta_legacy`, the new PostgreSQL database `nokta_new`, Redis flags under
 *     the key prefix `demo-nokta:`;
 *  3. Prometheus scraping a test exporter of the four SLOs, the integration sandbox (payments,
 *     SMS, maps) and the war-room webhook;
 *  4. the namespace, Secrets, routes and legacy Deployment applied with kubectl; the operator
 *     (`cutover operator --time-scale 30240`: three weeks of plan in a minute) and a pod runner
 *     (the local control plane has no kubelet; it runs the Jobs' commands as local processes);
 *  5. the sample CanaryPhase and Cutover applied with kubectl, then its timeline followed live:
 *     preparation Jobs and probes, the shadow Reconciliations (applied with kubectl once the bulk
 *     copy is in), legacy writes during the shadow phase, the canary, the cutover night step by
 *     step, orders on the new stack after the switch, legacy hot, the post-cutover
 *     Reconciliations at +4h/+24h/+72h, steady state;
 *  6. the reports (06:00 checkpoint, final report) and what is where;
 *
 * What the demo changes in the sample is in ./demo-plan.ts. It then cleans up after itself (the
 * operator, Prometheus, the MariaDB, its databases and Redis keys, the control plane if it
 * started it); the reports stay in .cache/demo/. `--keep` leaves the control plane, the operator,
 * the MariaDB and the data up to explore (`npm run cluster:down` stops them).
 *  7. then, always, the second scenario (./demo-rollback.ts): Cutover `nokta-rb` in namespace
 *     `nokta-rollback`, its own databases and operator, played to the switch; orders and payments
 *     on the new stack; a discrepancy injected into its PostgreSQL data, so the post-cutover
 *     Reconciliation finds variance above 1 % and the operator rolls back by itself; each rollback
 *     action printed as it completes; the end checked: traffic and flags on legacy, legacy
 *     writable, the replay Job before traffic moved back, the new stack's rows in legacy.
 * Options: --keep, --rows N (rows per legacy table, default 200), --timeout SECONDS (default 300,
 * both scenarios).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { CanaryPhase, Cutover, CutoverStatus, Reconciliation } from '../api/index.js';
import { CANARY_PHASE, CUTOVER, RECONCILIATION } from '../controllers/kinds.js';
import { KubeClient, type KubeObject } from '../runtime/kube-client.js';
import { loadKubeConfig } from '../runtime/kubeconfig.js';
import { CONFIG_MAP } from '../runtime/resources.js';
import {
  clusterDir,
  clusterDown,
  clusterUp,
  DEMO_MARIADB_PID,
  kubectl,
  runningCluster,
} from './local-cluster.js';
import { repoRoot } from './devenv-state.js';
import { freePort, stopPid, stopProcess, waitFor, type ManagedProcess } from './processes.js';
import { startPodRunner, type PodRunner } from './pod-runner.js';
import { playRollbackScenario, ROLLBACK_CUTOVER, ROLLBACK_NAMESPACE } from './demo-rollback.js';
import { startPrometheus, startTestExporter, type TestExporter, type TestPrometheus } from './prometheus.js';
import { startOwnMariadbServer, type OwnMariadbServer } from './own-mariadb.js';
import { demoSloRegistry, startDemoSandbox, takeOrdersAfterSwitch } from './demo-services.js';
import { demoLegacyRowAt, demoShiftMs, startDemoOperator } from './demo-operator.js';
import {
  installOperatorRbac,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  refusedRequests,
  uninstallOperatorRbac,
} from './demo-install.js';
import {
  DEMO_PHASES,
  DEMO_RECONS,
  DEMO_TABLES,
  DEMO_TIME_SCALE,
  demoCanaryPhase,
  demoCutover,
  demoNamespaceItems,
  demoReconciliation,
} from './demo-plan.js';

const NAMESPACE = 'nokta-demo';
const LEGACY_DB = 'nokta_legacy';
const TARGET_DB = 'nokta_new';
const TARGET_URL = `postgres://postgres@127.0.0.1:5432/${TARGET_DB}`;
const REDIS_URL = 'redis://127.0.0.1:6379/0';
const REDIS_PREFIX = 'demo-nokta:';

const tty = process.stdout.isTTY;
const bold = (s: string): string => (tty ? `\x1b[1m${s}\x1b[0m` : s);
let progressShown = false;
const say = (s: string): void => {
  if (progressShown) process.stdout.write('\r\x1b[2K');
  progressShown = false;
  process.stdout.write(s + '\n');
};
const stage = (n: number, s: string): void => say(`\n${bold(`[${n}/7] ${s}`)}`);

function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive whole number`);
  return v;
}

/** What the demo started, stopped again in reverse order. */
const cleanups: { what: string; run: () => Promise<unknown> }[] = [];

async function main(): Promise<void> {
  const keep = flag('keep');
  const rows = arg('rows', 200);
  const timeoutMs = arg('timeout', 300) * 1000;
  const t0 = Date.now();
  const demoDir = join(repoRoot(), '.cache', 'demo');
  rmSync(join(demoDir, 'reports'), { recursive: true, force: true });
  mkdirSync(join(demoDir, 'reports'), { recursive: true });
  const jobLog = join(demoDir, 'jobs.log');
  const operatorLog = join(demoDir, 'operator.log');
  rmSync(jobLog, { force: true });
  rmSync(operatorLog, { force: true });

  // ── 1 ────────────────────────────────────────────────────────────────────────────────────
  stage(1, 'Local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) with the CRDs');
  const wasRunning = runningCluster() !== undefined;
  const cluster = await clusterUp((l) => say('  ' + l));
  const kcPath = cluster.kubeconfigPath;
  if (!wasRunning && !keep)
    cleanups.push({ what: 'the control plane', run: () => clusterDown(() => undefined) });
  const kc = (): string => kcPath;

  // ── 2 ────────────────────────────────────────────────────────────────────────────────────
  stage(
    2,
    `Nokta databases: legacy MariaDB '${LEGACY_DB}', new PostgreSQL '${TARGET_DB}', Redis flags '${REDIS_PREFIX}*'`,
  );
  // A MariaDB an earlier `--keep` run left: this run makes its own.
  const keptMariadb = join(clusterDir(), DEMO_MARIADB_PID);
  if (existsSync(keptMariadb)) {
    await stopPid(Number(readFileSync(keptMariadb, 'utf8')), 10_000);
    rmSync(keptMariadb, { force: true });
  }
  const maria: OwnMariadbServer = await startOwnMariadbServer(join(demoDir, 'mariadb'), { detached: true });
  if (keep) writeFileSync(join(clusterDir(), DEMO_MARIADB_PID), String(maria.pid));
  else cleanups.push({ what: 'the legacy MariaDB', run: () => maria.stop() });
  const app = { user: 'nokta_app', password: randomBytes(12).toString('hex') };
  const shiftMs = demoShiftMs();
  const legacyRowAt = demoLegacyRowAt(shiftMs);
  {
    const root = await mysql.createConnection({ socketPath: maria.socket, user: 'root', timezone: 'Z' });
    await root.query(`CREATE DATABASE ${LEGACY_DB}`);
    for (const t of DEMO_TABLES) {
      await root.query(
        `CREATE TABLE ${LEGACY_DB}.${t} (id INT PRIMARY KEY, tenant_id VARCHAR(32) NOT NULL, total DECIMAL(10,2) NOT NULL, created_at DATETIME(3) NOT NULL)`,
      );
      const values: unknown[][] = [];
      for (let i = 1; i <= rows; i++)
        values.push([
          i,
          `tenant-${String(i % 12).padStart(2, '0')}`,
          ((i * 3.25) % 997).toFixed(2),
          legacyRowAt,
        ]);
      await root.query(`INSERT INTO ${LEGACY_DB}.${t} VALUES ?`, [values]);
    }
    await root.query(`CREATE USER '${app.user}'@'%' IDENTIFIED BY '${app.password}'`);
    await root.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${LEGACY_DB}.* TO '${app.user}'@'%'`);
    await root.end();
  }
  say(
    `  legacy MariaDB on 127.0.0.1:${maria.port}: ${DEMO_TABLES.length} tables × ${rows} rows over 12 tenants`,
  );
  const legacyUrl = `mysql://${app.user}:${app.password}@127.0.0.1:${maria.port}/${LEGACY_DB}`;
  const legacyAdminUrl = `mysql://root@localhost/${LEGACY_DB}?socket=${encodeURIComponent(maria.socket)}`;
  {
    const p = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await p.connect();
    try {
      await p.query(`DROP DATABASE IF EXISTS "${TARGET_DB}" WITH (FORCE)`);
      await p.query(`CREATE DATABASE "${TARGET_DB}"`);
    } finally {
      await p.end();
    }
  }
  if (!keep)
    cleanups.push({
      what: `the PostgreSQL database ${TARGET_DB}`,
      run: async () => {
        const p = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
        await p.connect();
        await p.query(`DROP DATABASE IF EXISTS "${TARGET_DB}" WITH (FORCE)`).finally(() => p.end());
      },
    });
  say(
    `  new PostgreSQL database ${TARGET_DB} (empty: the preparation Jobs create the schema and copy the data)`,
  );
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  const dropKeys = async (): Promise<number> => {
    const keys = await redis.keys(`${REDIS_PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    return keys.length;
  };
  await dropKeys();
  cleanups.push({
    what: 'the Redis connection',
    run: async () => {
      if (!keep) await dropKeys();
      redis.disconnect();
    },
  });
  say(`  Redis ${REDIS_URL}, flags under '${REDIS_PREFIX}' (the operator writes them)`);

  // ── 3 ────────────────────────────────────────────────────────────────────────────────────
  stage(
    3,
    'Prometheus with a test exporter of the four SLOs, the integration sandbox and the war-room webhook',
  );
  const registry = demoSloRegistry();
  const exporter: TestExporter = await startTestExporter(registry);
  cleanups.push({ what: 'the test exporter', run: () => exporter.stop() });
  const prom: TestPrometheus = await startPrometheus({ targets: [exporter.target] });
  cleanups.push({ what: 'Prometheus', run: () => prom.stop() });
  await prom.waitForTargets();
  say(
    `  Prometheus ${prom.url} scraping ${exporter.target}: pos-invoice 0.9 s, call-center-order 12 s, driver-update 2 s, dashboard 1.1 s`,
  );
  const sandbox = await startDemoSandbox();
  cleanups.push({ what: 'the sandbox', run: () => sandbox.close() });
  const { baseUrl, tokens } = sandbox;
  const hooks = sandbox.hooks;
  const hookTexts = (): string[] => hooks.map((h) => h.text ?? '');
  say(`  sandbox and webhook ${baseUrl}`);

  // ── 4 ────────────────────────────────────────────────────────────────────────────────────
  stage(
    4,
    `Namespace ${NAMESPACE}, Secrets, routes and legacy Deployment with kubectl; the operator and the pod runner`,
  );
  if (kubectl(kc(), ['get', 'namespace', NAMESPACE, '--ignore-not-found', '-o', 'name']).trim()) {
    say(`  deleting the namespace ${NAMESPACE} of an earlier run`);
    kubectl(kc(), ['delete', 'namespace', NAMESPACE, '--wait=true', '--timeout=120s']);
  }
  const items = demoNamespaceItems(NAMESPACE, {
    legacyAdminUrl,
    legacyUrl,
    targetUrl: TARGET_URL,
    redisUrl: REDIS_URL,
    tokens,
    hookUrl: `${baseUrl}/hook`,
  });
  say(
    kubectl(kc(), ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }))
      .trimEnd()
      .replace(/^/gm, '  '),
  );
  if (!keep)
    cleanups.push({
      what: `the namespace ${NAMESPACE}`,
      run: async () =>
        wasRunning ? kubectl(kc(), ['delete', 'namespace', NAMESPACE, '--wait=false']) : undefined,
    });

  // The operator an earlier `--keep` run left (after the namespace it served is gone).
  const keptOperator = join(clusterDir(), 'operator.pid');
  if (existsSync(keptOperator)) {
    await stopPid(Number(readFileSync(keptOperator, 'utf8')), 10_000);
    rmSync(keptOperator, { force: true });
  }

  const nodeKc = new k8s.KubeConfig();
  nodeKc.loadFromFile(kcPath);
  const runner: PodRunner = startPodRunner(nodeKc, { namespace: NAMESPACE });
  cleanups.push({ what: 'the pod runner', run: () => runner.stop() });

  // The operator as installed: deploy/operator's RBAC, a token of its ServiceAccount.
  const operatorKc = join(demoDir, 'operator.kubeconfig');
  say(installOperatorRbac(kcPath, operatorKc).trimEnd().replace(/^/gm, '  kubectl: '));
  if (!keep)
    cleanups.push({
      what: 'the operator RBAC',
      run: async () => (wasRunning ? uninstallOperatorRbac(kcPath) : undefined),
    });
  say(
    `  the operator runs as ServiceAccount ${OPERATOR_NAMESPACE}/${OPERATOR_SERVICE_ACCOUNT} (kubeconfig ${operatorKc}), not as the admin`,
  );
  // The plan's clock starts at the shifted Nov 16 when the operator starts (see demo-operator.ts).
  const started = startDemoOperator({
    name: 'operator',
    kubeconfig: operatorKc,
    namespace: NAMESPACE,
    log: operatorLog,
    shiftMs,
    metricsPort: await freePort(),
  });
  const { planOrigin, planNow } = started;
  const operator: ManagedProcess = started.process;
  // Under --keep the second scenario's operator is the one left up (the first stops when its plan is done).
  cleanups.push({ what: 'the operator', run: () => stopProcess(operator, 10_000) });
  say(
    `  operator pid ${operator.child.pid}: cutover operator --namespaces ${NAMESPACE} --time-scale ${DEMO_TIME_SCALE} --time-origin ${planOrigin}@now (1 real second = ${(DEMO_TIME_SCALE / 3600).toFixed(1)} plan hours); log ${operatorLog}`,
  );

  // ── 5 ────────────────────────────────────────────────────────────────────────────────────
  stage(5, 'The sample CanaryPhase and Cutover applied with kubectl; the timeline, live');
  const planOpts = {
    namespace: NAMESPACE,
    shiftMs,
    sandboxUrl: baseUrl,
    jobLog,
    redisPrefix: REDIS_PREFIX,
    prometheusUrl: prom.url,
    approvedBy: 'demo-lead',
  };
  const apply = (objs: object[]): void => {
    const out = kubectl(
      kc(),
      ['apply', '--server-side', '--field-manager=cutover-demo', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }),
    );
    for (const l of out.trim().split('\n')) say(`  ${clock()}  kubectl: ${l}`);
  };
  const clock = (): string => {
    const real = ((Date.now() - t0) / 1000).toFixed(0).padStart(3);
    const plan = new Date(planNow()).toISOString().slice(0, 16).replace('T', ' ');
    return `${real}s  plan ${plan}`;
  };
  apply([demoCanaryPhase(planOpts), demoCutover(planOpts)]);

  const admin = new KubeClient(await loadKubeConfig(kcPath));
  cleanups.push({ what: 'the API client', run: async () => admin.close() });
  const seen = new Map<string, string>();
  const note = (key: string, value: string, line: () => string): void => {
    if (seen.get(key) === value) return;
    seen.set(key, value);
    say(`  ${clock()}  ${line()}`);
  };
  const appWrite = async (id: number): Promise<'ok' | 'refused'> => {
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: maria.port,
      user: app.user,
      password: app.password,
      database: LEGACY_DB,
      timezone: 'Z',
    });
    try {
      await c.query('INSERT INTO orders VALUES (?, ?, ?, ?)', [id, 'tenant-01', '12.50', legacyRowAt]);
      return 'ok';
    } catch (e) {
      if ((e as { errno?: number }).errno === 1290) return 'refused';
      throw e;
    } finally {
      await c.end();
    }
  };
  let shadowReconsApplied = false;
  let shadowWrites = false;
  let frozenChecked = false;
  let postApplied = false;
  let lastProgress = 0;
  const order = DEMO_PHASES;
  const deadline = Date.now() + timeoutMs;
  let st: CutoverStatus = {};
  for (;;) {
    st = (await admin.tryGet<Cutover & KubeObject>(CUTOVER, NAMESPACE, 'nokta'))?.status ?? {};
    const phase = st.phase ?? 'Pending';
    note('phase', phase, () => bold(`Cutover phase ${phase}`) + (st.message ? `: ${st.message}` : ''));
    for (const p of st.preparation ?? [])
      note(
        `prep:${p.name}`,
        p.state ?? '',
        () =>
          `preparation ${p.name}: ${p.state}${p.jobName ? ` (Job ${p.jobName})` : ''}${p.message && p.state !== 'Succeeded' ? ` ${p.message}` : ''}`,
      );
    for (const s of st.steps ?? [])
      note(
        `step:${s.name}`,
        s.state ?? '',
        () =>
          `step ${s.name}: ${s.state}${s.jobName ? ` (Job ${s.jobName})` : ''}${s.startedAt && s.state === 'Succeeded' ? ` started ${s.startedAt.slice(11, 16)} finished ${s.finishedAt?.slice(11, 16) ?? '-'} plan time` : ''}`,
      );
    if (st.switchedAt)
      note('switched', st.switchedAt, () => `traffic switched to the new stack at ${st.switchedAt} (plan)`);
    if (st.legacyScaledAt)
      note(
        'scaled',
        st.legacyScaledAt,
        () => `legacy hot ended: legacy scaled down at ${st.legacyScaledAt} (plan)`,
      );
    const canary = (await admin.tryGet<CanaryPhase & KubeObject>(CANARY_PHASE, NAMESPACE, 'nokta-canary'))
      ?.status;
    if (canary?.phase)
      note(
        'canary',
        `${canary.phase}/${canary.currentWeight ?? ''}`,
        () =>
          `CanaryPhase nokta-canary: ${canary.phase}${canary.currentWeight !== undefined ? `, pos at ${canary.currentWeight} %` : ''}`,
      );
    for (const name of [...Object.keys(DEMO_RECONS), 'post-cutover']) {
      const r = (await admin.tryGet<Reconciliation & KubeObject>(RECONCILIATION, NAMESPACE, name))?.status;
      if (r?.lastRun?.finishedAt)
        note(
          `recon:${name}`,
          r.lastRun.finishedAt,
          () =>
            `Reconciliation ${name}: ${r.lastRun?.verdict ?? r.phase}, max variance ${r.summary?.maxVariancePercent ?? '0'} %${name === 'post-cutover' ? ` (offsets done: ${(r.completedOffsets ?? []).join(' ') || '-'})` : ''}`,
        );
    }

    // The world around the plan, as it happens during a real cutover.
    const prepDone =
      (st.preparation ?? []).length >= 6 && st.preparation!.every((p) => p.state === 'Succeeded');
    if (prepDone && !shadowReconsApplied) {
      shadowReconsApplied = true;
      say(`  ${clock()}  the bulk copy is in: the nightly shadow Reconciliations, one per table family`);
      apply(Object.entries(DEMO_RECONS).map(([n, t]) => demoReconciliation(NAMESPACE, n, t)));
    }
    if (shadowReconsApplied && !shadowWrites && (phase === 'Canary' || phase === 'AwaitingCutover')) {
      shadowWrites = true;
      for (const id of [100_001, 100_002, 100_003]) await appWrite(id);
      say(
        `  ${clock()}  legacy still takes orders before the freeze: 3 written (the delta sync must carry them)`,
      );
    }
    const freeze = (st.steps ?? []).find((s) => s.name === 'freeze-legacy-writes');
    if (freeze?.state === 'Succeeded' && !frozenChecked) {
      frozenChecked = true;
      say(
        `  ${clock()}  an order written to legacy now: ${await appWrite(100_100)} (legacy is read-only from the freeze on)`,
      );
    }
    if (st.switchedAt && !postApplied) {
      postApplied = true;
      await takeOrdersAfterSwitch(TARGET_URL, st.switchedAt, planNow());
      say(
        `  ${clock()}  3 orders taken on the new stack after the switch; the post-cutover Reconciliation (+4h, +24h, +72h, bounded to the freeze)`,
      );
      apply([demoReconciliation(NAMESPACE, 'post-cutover', 'orders', true)]);
    }

    if (phase === 'RollingBack' || phase === 'RolledBack' || phase === 'Failed' || phase === 'Aborted')
      throw new Error(
        `the Cutover ended ${phase}: ${JSON.stringify(st.rollback ?? st.message ?? {})}; see ${operatorLog}`,
      );
    if (phase === 'SteadyState' && st.report?.finalAt) break;
    if (Date.now() > deadline)
      throw new Error(`no steady state within ${timeoutMs / 1000} s (phase ${phase}); see ${operatorLog}`);

    const done = (st.steps ?? []).filter((s) => s.state === 'Succeeded').length;
    const current =
      st.currentStep ??
      (st.steps ?? []).find((s) => s.state === 'Running' || s.state === 'AwaitingApproval')?.name ??
      '-';
    const idx = Math.max(0, order.indexOf(phase));
    const bar = '#'.repeat(idx) + '-'.repeat(order.length - 1 - idx);
    const progress = `  progress [${bar}] ${phase}, step ${current}, ${done}/${(st.steps ?? []).length || 8} steps done, next ${st.nextStep ?? '-'}${st.nextStepAt ? ` at ${st.nextStepAt.slice(0, 16).replace('T', ' ')}` : ''}, plan ${new Date(planNow()).toISOString().slice(0, 16).replace('T', ' ')}, ${((Date.now() - t0) / 1000).toFixed(0)} s`;
    if (tty) {
      process.stdout.write('\r\x1b[2K' + progress.slice(0, (process.stdout.columns || 120) - 1));
      progressShown = true;
    } else if (Date.now() - lastProgress > 10_000) {
      lastProgress = Date.now();
      say(progress);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  // ── 6 ────────────────────────────────────────────────────────────────────────────────────
  stage(
    6,
    `Steady state at ${st.steadyStateAt} (plan time), ${((Date.now() - t0) / 1000).toFixed(0)} s after the start; the reports`,
  );
  say(
    kubectl(kc(), ['-n', NAMESPACE, 'get', 'cutover,canaryphase,reconciliation'])
      .trimEnd()
      .replace(/^/gm, '  '),
  );
  const report = await admin.get<KubeObject & { data?: Record<string, string> }>(
    CONFIG_MAP,
    NAMESPACE,
    st.report?.configMap ?? 'nokta-cutover-report',
  );
  for (const [key, text] of Object.entries(report.data ?? {})) {
    writeFileSync(join(demoDir, 'reports', key), text);
    say(`\n${bold(`── ${key} (ConfigMap ${report.metadata.name}) ──`)}`);
    say(text.trimEnd());
  }
  writeFileSync(join(demoDir, 'reports', 'cutover-status.json'), JSON.stringify(st, null, 2) + '\n');
  // Notifications never block the plan: the last one may still be on its way.
  await waitFor(
    'the steady-state notification',
    async () => (hookTexts().some((h) => h.includes('SteadyState')) ? true : undefined),
    15_000,
  ).catch(() => undefined);
  writeFileSync(join(demoDir, 'reports', 'warroom-notifications.txt'), hookTexts().join('\n') + '\n');
  const jobs = existsSync(jobLog) ? readFileSync(jobLog, 'utf8').trim().split('\n').length : 0;
  const legacyNow = await appWrite(100_200);
  // Every legacy order (the 3 taken before the freeze too, carried by the delta sync) is on the
  // new stack, with the 3 taken there after the switch.
  const legacyOrders = await (async () => {
    const c = await mysql.createConnection({ socketPath: maria.socket, user: 'root', database: LEGACY_DB });
    try {
      const [r] = await c.query('SELECT id FROM orders');
      return (r as { id: number }[]).map((x) => x.id);
    } finally {
      await c.end();
    }
  })();
  const newOrders = await (async () => {
    const c = new pg.Client({ connectionString: TARGET_URL });
    await c.connect();
    try {
      return new Set((await c.query<{ id: number }>('SELECT id FROM orders')).rows.map((x) => x.id));
    } finally {
      await c.end();
    }
  })();
  const notCarried = legacyOrders.filter((id) => !newOrders.has(id));
  if (notCarried.length > 0 || !legacyOrders.includes(100_001))
    throw new Error(
      `legacy orders missing on the new stack: ${notCarried.slice(0, 10).join(', ') || 'the 3 written before the freeze were not taken by legacy'}`,
    );

  say(`\n${bold('What is where')}`);
  const where: [string, string][] = [
    [
      'reports',
      `${join(demoDir, 'reports')} (checkpoint.md, final.md, cutover-status.json, ${hooks.length} war-room notifications)`,
    ],
    ['operator log', operatorLog],
    ['Jobs run', `${jobs} pods (${jobLog})`],
    [
      'legacy MariaDB',
      `127.0.0.1:${maria.port}/${LEGACY_DB}: read-only since the freeze (an order now: ${legacyNow})`,
    ],
    [
      'new PostgreSQL',
      `${TARGET_URL}: serving, ${newOrders.size} orders: every one of legacy's ${legacyOrders.length} plus ${newOrders.size - legacyOrders.length} taken after the switch`,
    ],
    ['Redis flags', `${REDIS_URL} keys ${REDIS_PREFIX}* (the flags the operator set)`],
    ['cluster', `KUBECONFIG=${kcPath} kubectl -n ${NAMESPACE} get cutover nokta -o yaml`],
    ['plugin', `KUBECONFIG=${kcPath} node dist/src/plugin/main.js status nokta -n ${NAMESPACE}`],
  ];
  // Without --keep, only the files stay: the rest is cleaned up below.
  for (const [k, v] of keep ? where : where.slice(0, 3)) say(`  ${k.padEnd(15)} ${v}`);
  if (!keep)
    say('  (npm run demo -- --keep leaves the cluster, the operator and the databases up to explore)');
  say(`  first scenario done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  // ── 7 ────────────────────────────────────────────────────────────────────────────────────
  stage(
    7,
    `Second scenario: Cutover ${ROLLBACK_CUTOVER} in ${ROLLBACK_NAMESPACE} to the switch, a discrepancy on the new stack, the operator rolls back by itself`,
  );
  // Nothing the plan needed was refused by the install's RBAC.
  const api = await refusedRequests(started.metricsUrl);
  if (api.refused.length > 0)
    throw new Error(
      `the API server refused the operator (403): ${api.refused.join(', ')}; see ${operatorLog}`,
    );
  say(`  the operator sent ${api.total} API requests as its ServiceAccount; none refused`);
  await stopProcess(operator, 10_000); // its Cutover is at steady state: the CPU goes to the second
  const rollbackLog = join(demoDir, 'operator-rollback.log');
  rmSync(rollbackLog, { force: true });
  const rb = await playRollbackScenario({
    kcPath,
    operatorKubeconfig: operatorKc,
    admin,
    maria,
    app,
    rows,
    sandboxUrl: baseUrl,
    hookUrl: `${baseUrl}/hook`,
    tokens,
    prometheusUrl: prom.url,
    redisUrl: REDIS_URL,
    redisPrefix: `${REDIS_PREFIX}rb:`,
    jobLog,
    operatorLog: rollbackLog,
    keep,
    timeoutMs: Math.max(30_000, deadline - Date.now()),
    say,
    bold,
    elapsed: () => ((Date.now() - t0) / 1000).toFixed(0).padStart(3),
    cleanup: (what, run) => cleanups.push({ what, run }),
    keepOperator: (pid) => writeFileSync(join(clusterDir(), 'operator.pid'), String(pid)),
  });
  writeFileSync(join(demoDir, 'reports', 'rollback-status.json'), JSON.stringify(rb.status, null, 2) + '\n');
  const failed = rb.checks.filter((c) => !c.ok);
  if (failed.length)
    throw new Error(`the rollback scenario's end state: ${failed.map((c) => c.what).join('; ')}`);
  say(
    `  RolledBack (${rb.status.rollback?.trigger}) at ${rb.status.rollback?.completedAt ?? '-'} (plan): legacy serving, no write lost; status in ${join(demoDir, 'reports', 'rollback-status.json')}`,
  );
  say(`\nDemo done in ${((Date.now() - t0) / 1000).toFixed(0)} s.`);
  if (keep)
    say(
      `Everything stays up (--keep): the control plane, the operator, the MariaDB. Stop it all with: npm run cluster:down`,
    );
}

async function cleanup(): Promise<void> {
  const done: string[] = [];
  for (const c of cleanups.reverse()) {
    try {
      await c.run();
      done.push(c.what);
    } catch (e) {
      process.stderr.write(
        `demo: cleaning up ${c.what} failed: ${e instanceof Error ? e.message : String(e)}\n`,
      );
    }
  }
  if (done.length) say(`Cleaned up: ${done.join(', ')}.`);
}

let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  say('\ninterrupted: cleaning up');
  void cleanup().then(() => process.exit(130));
});

main().then(
  async () => {
    if (!interrupted) await cleanup();
    process.exit(0);
  },
  async (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    if (!interrupted) await cleanup();
    process.exit(1);
  },
);
