/**
 * The sample plan (samples/cutover-nokta.yaml) rehearsed from preparation to steady state with a
 * compressed clock (`cutoverController({ timeScale })`, what `cutover operator --time-scale`
 * sets): three weeks of plan in about a minute (1 real second = 8.4 plan hours). The Cutover,
 * Reconciliation and CanaryPhase controllers run in operators of this process, each as the
 * operator's ServiceAccount, against the real control plane (Jobs run by the pod runner, Ingress
 * and HTTPRoutes, a Deployment), a MariaDB of its own (legacy; the freeze sets GLOBAL read_only),
 * PostgreSQL (the new stack), Redis (flags, the POS offline queue) and Prometheus (the SLOs).
 *
 * The plan is the one `npm run demo` plays (src/devenv/demo-plan.ts: the sample with Node-script
 * Jobs, local Secrets and services, dates in the real past, 7d step timeouts, the gates approved up
 * front, shadow mirroring off), with this test's namespace, databases and services.
 *
 * Checked in the world: the preparation Jobs ran once, in order, with the documented environment,
 * and their effect is in PostgreSQL; the integration probes sent the Secret's credentials; legacy
 * refuses the application's writes from the freeze on (and still at steady state); the delta sync
 * ran once (four indexed pods) with CUTOVER_FROZEN_AT and copied the rows written during the
 * shadow phase; the sign-off used runs that started after the sync; the routes and the flags
 * switched; the POS queue flag was lifted on the new primary; the 06:00 checkpoint and the final
 * report were written; the export Job ran from the switch and was removed when legacy hot ended,
 * legacy scaled down; the post-cutover Reconciliations ran at +4h, +24h and +72h bounded to the
 * freeze (orders written on the new stack after the switch are not variance); notifications went
 * to the webhook; steady state was reached after the stable period and the sign-off.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { CanaryPhase, Cutover, CutoverStatus, Reconciliation } from '../../../src/api/index.js';
import { cutoverController } from '../../../src/controllers/cutover/sync.js';
import { reconciliationController } from '../../../src/controllers/reconciliation/sync.js';
import { canaryPhaseController } from '../../../src/controllers/canary-phase/sync.js';
import { CANARY_PHASE, CUTOVER, RECONCILIATION } from '../../../src/controllers/kinds.js';
import { KubeClient, type KubeObject, type ResourceType } from '../../../src/runtime/kube-client.js';
import { loadKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { Operator } from '../../../src/runtime/operator.js';
import { parseOperatorOptions } from '../../../src/runtime/options.js';
import type { ControllerSpec } from '../../../src/runtime/controller.js';
import { CONFIG_MAP, DEPLOYMENT, HTTP_ROUTE, INGRESS, JOB, SECRET } from '../../../src/runtime/resources.js';
import { RedisFlagStore } from '../../../src/actuators/flags/redis-flags.js';
import {
  DAY,
  DEMO_RECONS,
  DEMO_TABLES,
  DEMO_TIME_SCALE,
  demoCanaryPhase,
  demoCutover,
  demoNamespaceItems,
  demoReconciliation,
  shiftDate,
} from '../../../src/devenv/demo-plan.js';
import { demoLegacyRowAt, demoShiftMs } from '../../../src/devenv/demo-operator.js';
import { demoSloRegistry, startDemoSandbox, type DemoSandbox } from '../../../src/devenv/demo-services.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import { recordingOptions } from '../../support/api-usage.js';
import { startPodRunner, type PodRunner } from '../../support/pod-runner.js';
import { startOwnMariadb, type OwnMariadb } from '../actuators/own-servers.js';
import {
  startPrometheus,
  startTestExporter,
  type TestExporter,
  type TestPrometheus,
} from '../../support/prometheus.js';

type CutoverObject = Cutover & KubeObject;
type ReconObject = Reconciliation & KubeObject;

describe('Cutover rehearsal: the sample plan from preparation to steady state with a compressed clock', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let maria: OwnMariadb;
  let target: TestDatabase;
  let redis: Redis;
  let runner: PodRunner;
  let exporter: TestExporter | undefined;
  let prom: TestPrometheus | undefined;
  let sandbox: DemoSandbox | undefined;
  const operators: Operator[] = [];
  const prefix = `test-rehearsal-${randomBytes(4).toString('hex')}:`;
  const jobLog = join(tmpdir(), `cutover-rehearsal-${randomBytes(4).toString('hex')}.log`);
  const app = { user: `app_${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('hex') };
  let tokens = { payments: '', sms: '' };
  let probes: DemoSandbox['probes'] = [];
  let hooks: DemoSandbox['hooks'] = [];
  let baseUrl = '';

  // Plan dates move by a whole number of days so that the plan (Nov 16 .. mid-December 2026 in
  // the sample) lies in the real past; the plan clock starts at the shifted Nov 16 when the
  // operators start (preparation has eight plan days, 23 real seconds, before the shadow phase).
  // The plan is the demo's (src/devenv/demo-plan.ts), with this test's namespace, services and
  // Secrets.
  let realStart = Date.now();
  const shift = demoShiftMs();
  const shifted = (t: string): string => shiftDate(t, shift);
  const planOrigin = shifted('2026-11-16T00:00:00Z');
  const planNow = (): number => Date.parse(planOrigin) + (Date.now() - realStart) * DEMO_TIME_SCALE;
  const legacyRowAt = demoLegacyRowAt(shift);

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('ctl-cutover-rehearsal');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);

    // Legacy: five tables with 20 rows each, an application user, the freeze probe table.
    maria = await startOwnMariadb();
    const root = await mysql.createConnection({ socketPath: maria.socket, user: 'root', timezone: 'Z' });
    await root.query('CREATE DATABASE legacy');
    for (const t of DEMO_TABLES) {
      await root.query(
        `CREATE TABLE legacy.${t} (id INT PRIMARY KEY, tenant_id VARCHAR(32) NOT NULL, total DECIMAL(10,2) NOT NULL, created_at DATETIME(3) NOT NULL)`,
      );
      for (let i = 1; i <= 20; i++)
        await root.query(`INSERT INTO legacy.${t} VALUES (?, ?, ?, ?)`, [
          i,
          `tenant-${i % 3}`,
          (i * 3.25).toFixed(2),
          legacyRowAt,
        ]);
    }
    await root.query(
      'CREATE TABLE legacy.cutover_freeze_probe (id INT AUTO_INCREMENT PRIMARY KEY, probed_at DATETIME(3) NOT NULL)',
    );
    await root.query(`CREATE USER '${app.user}'@'%' IDENTIFIED BY '${app.password}'`);
    await root.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON legacy.* TO '${app.user}'@'%'`);
    await root.end();
    target = await createPostgresDatabase('ctl_rehearsal');
    redis = new Redis('redis://127.0.0.1:6379/0');

    // Integration check endpoints (credentials from Secrets) and the war-room webhook.
    sandbox = await startDemoSandbox();
    ({ tokens, probes, hooks, baseUrl } = sandbox);

    // The SLOs and the canary's metric, all met.
    const registry = demoSloRegistry();
    exporter = await startTestExporter(registry);
    prom = await startPrometheus({ targets: [exporter.target] });
    await prom.waitForTargets();

    const legacyTcp = `mysql://${app.user}:${app.password}@127.0.0.1:${maria.port}/legacy`;
    const resources: Record<string, ResourceType> = {
      Secret: SECRET,
      HTTPRoute: HTTP_ROUTE,
      Ingress: INGRESS,
      Deployment: DEPLOYMENT,
    };
    for (const item of demoNamespaceItems(ns, {
      legacyAdminUrl: `mysql://root@localhost/legacy?socket=${encodeURIComponent(maria.socket)}`,
      legacyUrl: legacyTcp,
      targetUrl: target.url,
      redisUrl: 'redis://127.0.0.1:6379/0',
      tokens,
      hookUrl: `${baseUrl}/hook`,
    }) as KubeObject[]) {
      if (item.kind === 'Namespace') continue; // made by the cluster helper
      const resource = resources[item.kind ?? ''];
      if (!resource) throw new Error(`no resource for ${item.kind}`);
      await admin.create(resource, ns, item);
    }

    runner = startPodRunner(cluster.kc, { namespace: ns });
    const kc = await loadKubeConfig(identity.kubeconfig);
    realStart = Date.now();
    const start = async (
      name: string,
      spec: ControllerSpec<KubeObject>,
      component: string,
    ): Promise<void> => {
      const parsed = parseOperatorOptions(
        ['--no-leader-elect', '--namespaces', ns, '--listen-address', '127.0.0.1:0', '--identity', name],
        {},
      );
      if (parsed.kind !== 'options') throw new Error('bad options');
      const op = new Operator(parsed.options, [spec], { kc, ...recordingOptions(component) });
      operators.push(op);
      await op.start();
    };
    await start(
      'rehearsal-cutover',
      cutoverController({
        timeScale: DEMO_TIME_SCALE,
        timeOrigin: `${planOrigin}@${new Date(realStart).toISOString()}`,
      }),
      'controllers/cutover',
    );
    await start('rehearsal-recon', reconciliationController(), 'controllers/reconciliation');
    await start('rehearsal-canary', canaryPhaseController(), 'controllers/canary-phase');
  });

  after(async () => {
    for (const op of operators) await op.stop();
    await runner?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await prom?.stop();
    await exporter?.stop();
    await sandbox?.close();
    await target?.drop();
    await maria?.close();
    rmSync(jobLog, { force: true });
  });

  /** The sample, rehearsal-ready (see the file's comment for every change). */
  const planOptions = () => ({
    namespace: ns,
    shiftMs: shift,
    sandboxUrl: baseUrl,
    jobLog,
    redisPrefix: prefix,
    prometheusUrl: prom!.url,
    approvedBy: 'rehearsal-lead',
  });

  const status = async (): Promise<CutoverStatus> =>
    (await admin.tryGet<CutoverObject>(CUTOVER, ns, 'nokta'))?.status ?? {};
  const waitFor = async (
    what: string,
    ok: (s: CutoverStatus) => boolean,
    ms = 120_000,
  ): Promise<CutoverStatus> => {
    const end = Date.now() + ms;
    for (;;) {
      const s = await status();
      if (s.phase === 'RollingBack' || s.phase === 'RolledBack')
        throw new Error(`rolled back while waiting for ${what}: ${JSON.stringify(s.rollback)}`);
      if (ok(s)) return s;
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s).slice(0, 2500)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const step = (s: CutoverStatus, name: string) => s.steps?.find((x) => x.name === name);
  const appWrite = async (id: number): Promise<'ok' | 'refused'> => {
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: maria.port,
      user: app.user,
      password: app.password,
      database: 'legacy',
      timezone: 'Z',
    });
    try {
      await c.query('INSERT INTO orders VALUES (?, ?, ?, ?)', [id, 'tenant-1', '1.00', legacyRowAt]);
      return 'ok';
    } catch (e) {
      if ((e as { errno?: number }).errno === 1290) return 'refused';
      throw e;
    } finally {
      await c.end();
    }
  };
  const jobRuns = (): Record<string, string>[] =>
    readFileSync(jobLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
  const reconciliation = (name: string, table: string, postCutover = false): ReconObject =>
    demoReconciliation(ns, name, table, postCutover) as ReconObject;

  it('plays preparation, shadow, canary, the cutover night, legacy hot and post-cutover to steady state', async () => {
    const t0 = Date.now();
    // The canary phase of the sample, reduced to one short step measured against Prometheus.
    await admin.create(CANARY_PHASE, ns, demoCanaryPhase(planOptions()) as CanaryPhase & KubeObject);
    await admin.create(CUTOVER, ns, demoCutover(planOptions()) as CutoverObject);

    // Preparation: schema, bulk copy, post-load SQL, then the three probes with their credentials.
    const prepared = await waitFor(
      'the preparation',
      (s) => (s.preparation ?? []).length === 6 && s.preparation!.every((p) => p.state === 'Succeeded'),
    );
    assert.deepEqual(
      prepared.preparation!.map((p) => p.name),
      ['schemaMigration', 'bulkCopy', 'postLoadSql', 'check:payments', 'check:sms', 'check:maps'],
    );
    assert.deepEqual(
      probes.map((p) => p.path),
      ['/payments/v1/health', '/sms/status', '/maps/ping'],
      'each integration probed once, in order',
    );
    assert.equal(probes[0]!.auth, tokens.payments);
    assert.equal(probes[2]!.key, tokens.payments);
    const t = new pg.Client({ connectionString: target.url });
    await t.connect();
    try {
      for (const table of DEMO_TABLES) {
        const { rows } = await t.query<{ n: string; norm: string }>(
          `SELECT count(*) AS n, count(*) FILTER (WHERE normalized) AS norm FROM ${table}`,
        );
        assert.deepEqual(rows[0], { n: '20', norm: '20' }, `${table}: bulk copy and post-load SQL`);
      }
      // The nightly shadow Reconciliations (one run each, after the bulk copy), then three orders
      // legacy still takes during the shadow phase: the delta sync must carry them.
      for (const [name, table] of Object.entries(DEMO_RECONS))
        await admin.create(RECONCILIATION, ns, reconciliation(name, table));
      for (const name of Object.keys(DEMO_RECONS))
        for (const end = Date.now() + 60_000; ;) {
          const r = (await admin.get<ReconObject>(RECONCILIATION, ns, name)).status;
          if (r?.lastRun?.finishedAt) {
            assert.equal(r.phase, 'Passed', `${name}: ${JSON.stringify(r)}`);
            break;
          }
          if (Date.now() > end) throw new Error(`${name} did not run: ${JSON.stringify(r)}`);
          await new Promise((res) => setTimeout(res, 200));
        }
      for (const id of [21, 22, 23]) assert.equal(await appWrite(id), 'ok');

      await waitFor(
        'the shadow phase',
        (s) => s.phase === 'Shadow' || s.phase === 'Canary' || (s.steps?.length ?? 0) > 0,
      );
      // 02:00: the freeze. From here on legacy refuses the application's writes.
      const frozen = await waitFor(
        'the freeze',
        (s) => step(s, 'freeze-legacy-writes')?.state === 'Succeeded',
      );
      assert.equal(await appWrite(100), 'refused', 'legacy refuses writes after the freeze');
      assert.equal(frozen.freeze?.verified, true);
      assert.equal(frozen.freeze?.legacyReadOnly, true);
      const flags = new RedisFlagStore(redis, prefix);
      assert.equal((await flags.read('pos', 'pos-offline-queue')).defaultState?.enabled, true);

      // The switch: then orders taken on the new stack (after the freeze, so not in legacy), and
      // the post-cutover Reconciliation that must not count them.
      const switched = await waitFor('the switch', (s) => s.switchedAt !== undefined);
      const afterSwitch = new Date(Math.max(planNow(), Date.parse(switched.switchedAt!) + 60_000));
      for (const id of [200, 201, 202])
        await t.query('INSERT INTO orders (id, tenant_id, total, created_at) VALUES ($1, $2, $3, $4)', [
          id,
          'tenant-2',
          '31.50',
          afterSwitch,
        ]);
      await admin.create(RECONCILIATION, ns, reconciliation('post-cutover', 'orders', true));

      const done = await waitFor(
        'steady state',
        (s) => s.phase === 'SteadyState' && s.report?.finalAt !== undefined,
        200_000,
      );
      const elapsed = Date.now() - t0;

      // The night, step by step, in order.
      const order = [
        'freeze-legacy-writes',
        'final-delta-sync',
        'reconciliation-sign-off',
        'switch-traffic',
        'enable-flags',
        'lift-freeze',
        'monitor-slos',
        'executive-checkpoint',
      ];
      for (const n of order)
        assert.equal(step(done, n)?.state, 'Succeeded', `${n}: ${JSON.stringify(step(done, n))}`);
      for (let i = 1; i < order.length; i++)
        assert.ok(
          Date.parse(step(done, order[i]!)!.startedAt!) >= Date.parse(step(done, order[i - 1]!)!.finishedAt!),
          `${order[i]} started after ${order[i - 1]} finished`,
        );
      assert.equal(step(done, 'final-delta-sync')!.attempt, 1);
      assert.ok(Date.parse(done.frozenAt!) >= Date.parse(shifted('2026-12-01T02:00:00Z')));
      assert.ok(Date.parse(done.switchedAt!) >= Date.parse(shifted('2026-12-01T02:30:00Z')));

      // Sign-off on runs that started after the delta sync finished.
      assert.equal(done.signOff?.afterSyncAt, done.lastSyncAt);
      assert.equal(done.signOff?.reconciliations?.length, 5);
      // (The Reconciliation controller reads the real clock: its run started after the delta
      // sync's pods ran, in real time, and it is the run the sign-off asked for.)
      const syncRealEnd = Math.max(
        ...jobRuns()
          .filter((r) => r.kind === 'delta-sync')
          .map((r) => Number(r.at)),
      );
      for (const r of done.signOff.reconciliations) {
        assert.equal(r.phase, 'Passed', JSON.stringify(r));
        assert.ok(Date.parse(r.runStartedAt!) > syncRealEnd, JSON.stringify(r));
        const recon = (await admin.get<ReconObject>(RECONCILIATION, ns, r.name!)).status;
        assert.equal(recon?.lastRerunToken, 'cutover-signoff-reconciliation-sign-off-1');
      }
      assert.deepEqual(
        (done.approvals ?? []).map((a) => [a.step, a.by]),
        [
          ['reconciliation-sign-off', 'rehearsal-lead'],
          ['switch-traffic', 'rehearsal-lead'],
          ['steady-state', 'rehearsal-lead'],
        ],
      );

      // Jobs: each preparation Job once, the delta sync once (four indexed pods), the export once;
      // no remediation (the shadow runs passed), no replay; the documented environment.
      const runs = jobRuns();
      const of = (kind: string) => runs.filter((r) => r.kind === kind);
      for (const kind of ['schema', 'bulk-copy', 'post-load']) assert.equal(of(kind).length, 1, kind);
      assert.deepEqual(
        of('delta-sync')
          .map((r) => r.JOB_COMPLETION_INDEX)
          .sort(),
        ['0', '1', '2', '3'],
      );
      assert.equal(of('remediation').length + of('replay').length + of('schema-down').length, 0);
      for (const r of runs) {
        assert.equal(r.CUTOVER_NAME, 'nokta');
        assert.equal(r.CUTOVER_REPORT_CONFIGMAP, 'nokta-cutover-report');
      }
      assert.equal(of('schema')[0]!.CUTOVER_FROZEN_AT ?? '', '', 'not frozen yet: empty');
      for (const r of of('delta-sync')) {
        assert.equal(r.CUTOVER_FROZEN_AT, done.frozenAt);
        assert.deepEqual(r.argv, ['--since', done.frozenAt]);
      }
      // The export Job (from the switch until legacy hot ends, 5.7 real seconds later) ran at most
      // once; its pod may not have started before legacy hot ended and the Job was deleted.
      assert.ok(of('export').length <= 1, 'the export ran at most once');
      for (const r of of('export')) {
        assert.equal(r.CUTOVER_SWITCHED_AT, done.switchedAt);
        assert.equal(r.CUTOVER_LAST_SYNC_AT, done.lastSyncAt);
      }
      const { rows: synced } = await t.query<{ n: string }>(
        'SELECT count(*) AS n FROM orders WHERE id IN (21, 22, 23)',
      );
      assert.equal(synced[0]!.n, '3', 'the delta sync carried the shadow-phase writes');

      // Routes and flags on the new stack; the POS queue lifted on the new primary; legacy frozen.
      const routes = async (name: string): Promise<Record<string, number>> => {
        const r = await admin.get<
          KubeObject & { spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] } }
        >(HTTP_ROUTE, ns, name);
        return Object.fromEntries(r.spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight ?? 1]));
      };
      assert.deepEqual(await routes('call-center'), { 'call-center-legacy': 0, 'call-center-v2': 100 });
      assert.deepEqual(await routes('customer-app'), { 'customer-api-legacy': 0, 'customer-api-v2': 100 });
      const canary = await admin.get<KubeObject & { metadata: { annotations?: Record<string, string> } }>(
        INGRESS,
        ns,
        'pos-canary',
      );
      assert.equal(canary.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'], '100');
      for (const [service, key] of [
        ['pos', 'pos-new-stack'],
        ['call-center', 'call-center-new-stack'],
        ['driver', 'driver-new-stack'],
        ['customer', 'customer-new-stack'],
        ['billing', 'billing-new-stack'],
      ] as const)
        assert.equal(
          (await flags.read(service, key)).defaultState?.enabled,
          true,
          `${service} flag on for all tenants`,
        );
      assert.equal((await flags.read('pos', 'pos-offline-queue')).defaultState?.enabled, false);
      assert.ok(done.freeze?.newPrimaryLiftedAt);
      assert.equal(done.freeze?.legacyReopenedAt, undefined);
      assert.equal(await appWrite(101), 'refused', 'legacy stays read-only after the cutover');

      // Legacy hot ended: legacy scaled down, the export Job removed.
      assert.ok(Date.parse(done.legacyScaledAt!) >= Date.parse(done.legacyHotUntil!));
      const dep = await admin.get<KubeObject & { spec: { replicas?: number } }>(DEPLOYMENT, ns, 'pos-legacy');
      assert.equal(dep.spec.replicas, 0);
      assert.ok(done.export?.jobName);
      const exportJob = await admin.tryGet<KubeObject>(JOB, ns, done.export.jobName);
      assert.ok(!exportJob || exportJob.metadata.deletionTimestamp, 'the export Job is deleted');

      // Post-cutover: +4h, +24h, +72h, each once, bounded to the freeze (the new-stack orders are not variance).
      const post = (await admin.get<ReconObject>(RECONCILIATION, ns, 'post-cutover')).status;
      assert.deepEqual([...(post?.completedOffsets ?? [])].sort(), ['+24h', '+4h', '+72h']);
      assert.equal(post?.runsCompleted, 3);
      assert.equal(post?.phase, 'Passed', JSON.stringify(post));

      // Reports, notifications, steady state after the stable period and the sign-off.
      const report = await admin.get<KubeObject & { data: Record<string, string> }>(
        CONFIG_MAP,
        ns,
        'nokta-cutover-report',
      );
      assert.match(report.data['checkpoint.md']!, /Executive checkpoint/);
      assert.ok(report.data['final.md'], 'the final report');
      assert.ok(Date.parse(done.steadyStateAt!) - Date.parse(done.stableSince!) >= 14 * DAY);
      // Notifications never block the plan: the last one may still be on its way.
      for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200)))
        if (hooks.some((h) => h.text?.includes('Cutover phase: SteadyState'))) break;
      const texts = hooks.map((h) => h.text ?? '');
      for (const phase of [
        'Preparation',
        'Shadow',
        'CuttingOver',
        'Monitoring',
        'LegacyHot',
        'PostCutover',
        'SteadyState',
      ])
        assert.ok(
          texts.some((x) => x.includes(`Cutover phase: ${phase}`)),
          `notified: phase ${phase}`,
        );
      assert.ok(hooks.every((h) => h.channel === '#cutover-warroom'));
      assert.ok(elapsed < 180_000, `the rehearsal took ${elapsed} ms`);
    } finally {
      await t.end();
    }
  });
});
