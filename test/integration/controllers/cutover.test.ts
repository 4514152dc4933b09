/**
 * The Cutover controller inside an operator (in this process), as the operator's own
 * ServiceAccount, against the real control plane (Gateway API HTTPRoute, Jobs run by the pod
 * runner), a MariaDB of its own (the freeze sets GLOBAL read_only), PostgreSQL (the new stack)
 * and Redis (flags, the POS offline queue flag):
 * - the cutover night plays in real seconds: legacy refuses the application's writes, the delta
 *   sync Job runs once with the documented environment, the route and the flags switch, the POS
 *   queue is drained into the new primary while legacy stays read-only, the report is written;
 * - the security annotation then rolls back: the replay Job copies the orders written on the new
 *   stack after the switch into legacy before traffic moves back; at the end traffic and flags
 *   are on legacy, legacy takes writes, and every new-stack order is in legacy;
 * - an SLO breach longer than its window rolls back;
 * - a post-cutover Reconciliation (the real Reconciliation controller, bounded to the freeze) with
 *   variance above 1 % rolls back: the replay, verified by a Reconciliation over freeze .. rollback,
 *   before traffic and flags go back and legacy is re-opened; no order written on the new stack
 *   after the switch is lost;
 * - a step that fails after the switch (its Job wrote orders on the new stack, then failed) rolls
 *   back the same way.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { CutoverSpec, CutoverStatus } from '../../../src/api/index.js';
import { cutoverController } from '../../../src/controllers/cutover/sync.js';
import { reconciliationController } from '../../../src/controllers/reconciliation/sync.js';
import { CUTOVER, RECONCILIATION } from '../../../src/controllers/kinds.js';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.js';
import type { Operator } from '../../../src/runtime/operator.js';
import { CONFIG_MAP, SECRET } from '../../../src/runtime/resources.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import { RUN_LABEL, startPodRunner, type PodRunner } from '../../support/pod-runner.js';
import { startOwnMariadb, type OwnMariadb } from '../actuators/own-servers.js';
import { Gauge, Registry } from 'prom-client';
import {
  startPrometheus,
  startTestExporter,
  type TestExporter,
  type TestPrometheus,
} from '../../support/prometheus.js';
import {
  appWrite as legacyWrite,
  createLegacyRoute,
  cutoverObject,
  CutoverWatch,
  dropRedisPrefix,
  flagOn,
  jobLines,
  legacyUrls,
  nodeJob,
  prepareLegacy,
  startInProcessOperator,
  stepOf,
  baseCutoverSpec,
  type LegacyApp,
} from '../../support/cutover-harness.js';

/** The delta sync Job: records its environment (one line per run). */
const DELTA_SYNC = `
import { appendFileSync } from 'node:fs';
const keys = ['CUTOVER_NAME','CUTOVER_FROZEN_AT','CUTOVER_SWITCHED_AT','CUTOVER_LAST_SYNC_AT','CUTOVER_REPORT_CONFIGMAP'];
appendFileSync(process.env.JOB_LOG, JSON.stringify(Object.fromEntries(keys.map((k) => [k, process.env[k]]))) + '\\n');
`;

/** The replay Job: orders written on the new stack since the freeze go into legacy (admin account). */
const REPLAY = `
import pg from 'pg';
import mysql from 'mysql2/promise';
const since = new Date(process.env.CUTOVER_FROZEN_AT);
const src = new pg.Client({ connectionString: process.env.TARGET_URL });
await src.connect();
const { rows } = await src.query('SELECT id, total, created_at FROM orders WHERE created_at >= $1 ORDER BY id', [since]);
await src.end();
const u = new URL(process.env.LEGACY_URL);
const dst = await mysql.createConnection({ socketPath: u.searchParams.get('socket'), user: 'root', database: 'legacy' });
for (const r of rows) await dst.query('INSERT IGNORE INTO orders (id, total) VALUES (?, ?)', [r.id, r.total]);
await dst.end();
console.log('replayed', rows.length);
`;

/**
 * The replay Job of a table of its own (TABLE): rows created on the new stack since the freeze,
 * with their creation time, into legacy.
 */
const REPLAY_TABLE = `
import pg from 'pg';
import mysql from 'mysql2/promise';
const t = process.env.TABLE;
const src = new pg.Client({ connectionString: process.env.TARGET_URL });
await src.connect();
const { rows } = await src.query('SELECT id, total, created_at FROM ' + t + ' WHERE created_at >= $1 ORDER BY id', [new Date(process.env.CUTOVER_FROZEN_AT)]);
await src.end();
const u = new URL(process.env.LEGACY_URL);
const dst = await mysql.createConnection({ socketPath: u.searchParams.get('socket'), user: 'root', database: 'legacy', timezone: 'Z' });
for (const r of rows) await dst.query('INSERT IGNORE INTO ' + t + ' (id, total, created_at) VALUES (?, ?, ?)', [r.id, r.total, r.created_at]);
await dst.end();
console.log('replayed', rows.length);
`;

/** A smoke test after the switch: orders taken on the new stack (TABLE), then a failure. */
const FAILING_SMOKE = `
import pg from 'pg';
const c = new pg.Client({ connectionString: process.env.TARGET_URL });
await c.connect();
for (const id of [400, 401, 402]) await c.query('INSERT INTO ' + process.env.TABLE + ' (id, total) VALUES ($1, 9.99)', [id]);
await c.end();
console.error('smoke test: invoice p95 too slow');
process.exit(1);
`;

/** Where the replay Jobs read the new stack and write legacy (Secrets). */
const replayEnv = [
  { name: 'TARGET_URL', secretKeyRef: { name: 'new-db', key: 'url' } },
  { name: 'LEGACY_URL', secretKeyRef: { name: 'legacy-admin', key: 'url' } },
];

describe('Cutover controller in an operator (real control plane, own MariaDB, PostgreSQL, Redis, pod runner)', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let maria: OwnMariadb;
  let target: TestDatabase;
  let redis: Redis;
  let runner: PodRunner;
  let operator: Operator | undefined;
  let recOperator: Operator | undefined;
  const prefix = `test-cutover-${randomBytes(4).toString('hex')}:`;
  const jobLog = join(tmpdir(), `cutover-jobs-${randomBytes(4).toString('hex')}.log`);
  let app: LegacyApp;
  let watch: CutoverWatch;

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('ctl-cutover');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    maria = await startOwnMariadb();
    app = { user: `app_${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('hex') };
    await prepareLegacy(maria, app, [
      'CREATE TABLE legacy.orders (id INT PRIMARY KEY, total DECIMAL(10,2) NOT NULL)',
      'INSERT INTO legacy.orders VALUES (1, 10.00), (2, 20.00)',
    ]);
    target = await createPostgresDatabase('ctl_cutover');
    const t = new pg.Client({ connectionString: target.url });
    await t.connect();
    await t.query(
      'CREATE TABLE orders (id INT PRIMARY KEY, total NUMERIC(10,2) NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    await t.query(
      "INSERT INTO orders (id, total, created_at) VALUES (1, 10.00, now() - interval '1 day'), (2, 20.00, now() - interval '1 day')",
    );
    await t.end();
    redis = new Redis('redis://127.0.0.1:6379/0');
    const urls = legacyUrls(maria, app);
    const secrets: [string, string][] = [
      ['legacy-admin', urls.admin],
      ['legacy-app', urls.app],
      ['new-db', target.url],
      ['redis', 'redis://127.0.0.1:6379/0'],
    ];
    for (const [name, url] of secrets)
      await admin.create(SECRET, ns, { metadata: { name }, stringData: { url } });
    await createLegacyRoute(admin, ns, 'pos');
    watch = new CutoverWatch(admin, ns);
    runner = startPodRunner(cluster.kc, { namespace: ns });
    operator = await startInProcessOperator(
      identity.kubeconfig,
      ns,
      'ctl-cutover',
      [cutoverController({ timeScale: 1 })],
      'controllers/cutover',
    );
    // The Reconciliation controller (post-cutover runs, the replay verification) in an operator of its own.
    recOperator = await startInProcessOperator(
      identity.kubeconfig,
      ns,
      'ctl-cutover-rec',
      [reconciliationController()],
      'controllers/reconciliation',
    );
  });

  after(async () => {
    await operator?.stop();
    await recOperator?.stop();
    await runner?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    await dropRedisPrefix(redis, prefix);
    await target?.drop();
    await maria?.close();
    rmSync(jobLog, { force: true });
  });

  const waitFor = (
    what: string,
    ok: (s: CutoverStatus) => boolean,
    ms = 120_000,
    name = 'night',
  ): Promise<CutoverStatus> => watch.waitFor(name, what, ok, { ms });
  const appWrite = (id: number): Promise<'ok' | 'refused'> =>
    legacyWrite(maria, app, 'INSERT INTO orders VALUES (?, 1.00)', [id]);
  const routeWeights = (route = 'pos'): Promise<Record<string, number>> => watch.routeWeights(route);
  const flag = (key: string, keyPrefix = prefix): Promise<boolean> => flagOn(redis, keyPrefix, 'pos', key);

  it('plays the cutover night, then the security annotation rolls back without losing a write', async () => {
    const start = new Date(Date.now() + 4000);
    const podLabels = { [RUN_LABEL]: 'true' };
    const cutover = cutoverObject(
      'night',
      ns,
      baseCutoverSpec({
        route: 'pos',
        keyPrefix: prefix,
        startAt: start.getTime(),
        steps: [
          { name: 'freeze', action: 'Freeze', offset: '+0s', owner: 'Operations Lead' },
          {
            name: 'delta-sync',
            action: 'DeltaSync',
            offset: '+2s',
            job: nodeJob(DELTA_SYNC, [{ name: 'JOB_LOG', value: jobLog }], podLabels),
            timeout: '2m',
          },
          { name: 'switch', action: 'TrafficSwitch', offset: '+4s', owner: 'DevOps' },
          { name: 'flags', action: 'EnableFlags', offset: '+5s' },
          { name: 'lift', action: 'LiftFreeze', offset: '+6s' },
          { name: 'report', action: 'Report', offset: '+7s' },
        ],
        more: {
          rollback: {
            triggers: { securityFlag: {} },
            replayJob: nodeJob(REPLAY, replayEnv, podLabels),
          },
          report: { configMapName: 'night-report' },
        },
      }),
    );
    await admin.create(CUTOVER, ns, cutover);

    // 02:00 — legacy refuses the application's writes, the POS queue flag is on.
    await waitFor('the freeze', (s) => stepOf(s, 'freeze')?.state === 'Succeeded');
    assert.equal(await appWrite(100), 'refused');
    assert.equal(await flag('pos-offline-queue'), true);

    // The switch: the route sends everything to the new stack; then flags on, freeze lifted on the new primary.
    const switched = await waitFor('the report', (s) => stepOf(s, 'report')?.state === 'Succeeded');
    assert.deepEqual(await routeWeights(), { 'pos-legacy': 0, 'pos-v2': 100 });
    assert.equal(await flag('pos-new-stack'), true);
    assert.equal(await flag('pos-offline-queue'), false);
    assert.equal(await appWrite(101), 'refused', 'legacy stays read-only after the switch');
    assert.equal(switched.freeze?.verified, true);
    assert.ok(switched.freeze?.newPrimaryLiftedAt);
    const report = await admin.get<KubeObject & { data: Record<string, string> }>(
      CONFIG_MAP,
      ns,
      'night-report',
    );
    assert.match(report.data['checkpoint.md']!, /Executive checkpoint: Cutover night/);
    // The delta sync Job ran once, with the documented environment.
    const runs = jobLines(jobLog);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.CUTOVER_NAME, 'night');
    assert.equal(runs[0]!.CUTOVER_FROZEN_AT, switched.frozenAt);
    assert.equal(runs[0]!.CUTOVER_REPORT_CONFIGMAP, 'night-report');

    // Orders taken by the new stack after the switch.
    const t = new pg.Client({ connectionString: target.url });
    await t.connect();
    await t.query('INSERT INTO orders (id, total) VALUES (200, 31.50), (201, 7.25), (202, 12.00)');
    await t.end();

    // A critical security flaw: a person annotates the Cutover.
    await admin.patch(CUTOVER, ns, 'night', {
      metadata: { annotations: { 'cutover.nokta.io/security-incident': 'true' } },
    });
    const done = await waitFor('the rollback', (s) => s.phase === 'RolledBack');
    assert.equal(done.rollback?.trigger, 'SecurityFlag');
    const act = (n: string) => done.rollback!.actions!.find((a) => a.name === n)!;
    assert.equal(act('Replay').state, 'Succeeded');
    assert.ok(
      Date.parse(act('Replay').finishedAt!) <= Date.parse(act('TrafficBack').at!),
      'replay before traffic moved back',
    );
    assert.ok(Date.parse(act('PosOfflineOn').finishedAt!) <= Date.parse(act('Replay').at!));
    assert.deepEqual(await routeWeights(), { 'pos-legacy': 100, 'pos-v2': 0 });
    assert.equal(await flag('pos-new-stack'), false);
    assert.equal(await flag('pos-offline-queue'), false);
    assert.equal(await appWrite(102), 'ok', 'legacy takes writes again');
    const root = await mysql.createConnection({ socketPath: maria.socket, user: 'root', database: 'legacy' });
    const [rows] = await root.query<mysql.RowDataPacket[]>(
      'SELECT id FROM orders WHERE id IN (200, 201, 202) ORDER BY id',
    );
    await root.end();
    assert.deepEqual(
      rows.map((r) => Number(r.id)),
      [200, 201, 202],
      'every order taken by the new stack is in legacy',
    );
    assert.ok(done.rollback?.review?.dueAt);
    const review = await admin.get<KubeObject & { data: Record<string, string> }>(
      CONFIG_MAP,
      ns,
      'night-report',
    );
    assert.match(review.data['review.md']!, /Post-incident review/);
  });

  it('an SLO breach longer than its window (Prometheus, through the analysis providers) rolls back', async () => {
    const registry = new Registry();
    const latency = new Gauge({
      name: 'cutover_test_pos_invoice_seconds',
      help: 'p95',
      registers: [registry],
    });
    latency.set(0.8);
    let exporter: TestExporter | undefined;
    let prom: TestPrometheus | undefined;
    try {
      exporter = await startTestExporter(registry);
      prom = await startPrometheus({ targets: [exporter.target] });
      await prom.waitForTargets();
      await createLegacyRoute(admin, ns, 'pos-slo');
      await admin.create(
        CUTOVER,
        ns,
        cutoverObject(
          'slo',
          ns,
          baseCutoverSpec({
            route: 'pos-slo',
            keyPrefix: prefix,
            startAt: Date.now() + 3000,
            pos: false,
            steps: [
              { name: 'freeze', action: 'Freeze', offset: '+0s' },
              { name: 'switch', action: 'TrafficSwitch', offset: '+1s' },
              { name: 'flags', action: 'EnableFlags', offset: '+2s' },
              { name: 'watch', action: 'Monitor', offset: '+3s', duration: '1h' },
            ],
            more: {
              prometheusAddress: prom.url,
              slos: [
                {
                  name: 'pos-invoice',
                  service: 'pos',
                  query: 'cutover_test_pos_invoice_seconds',
                  objective: 'result <= 1.5',
                },
              ],
              rollback: {
                triggers: { sloBreach: { for: '4s' } },
                order: ['TrafficBack', 'FlagsOff', 'ReopenLegacyWrites', 'Notify'],
              },
            },
          }),
        ),
      );
      await waitFor('the switch', (s) => stepOf(s, 'flags')?.state === 'Succeeded', 60_000, 'slo');
      assert.equal(await appWrite(300), 'refused');
      const breachAt = Date.now();
      latency.set(2.4);
      const st = await waitFor('the rollback', (s) => s.phase === 'RolledBack', 90_000, 'slo');
      assert.ok(Date.now() - breachAt >= 4000, 'not before the breach lasted its window');
      assert.equal(st.rollback?.trigger, 'SloBreach');
      assert.match(st.rollback.reason!, /SLO pos-invoice .*value 2\.4/);
      assert.deepEqual(await routeWeights('pos-slo'), { 'pos-legacy': 100, 'pos-v2': 0 });
      assert.equal(await appWrite(301), 'ok');
    } finally {
      await prom?.stop();
      await exporter?.stop();
    }
  });
  /** Tables of a rollback test: legacy (MariaDB) and new stack (PostgreSQL), the same rows 1..10. */
  const rollbackTables = async (table: string, extraOnNewStack: boolean): Promise<void> => {
    const root = await mysql.createConnection({ socketPath: maria.socket, user: 'root', database: 'legacy' });
    await root.query(
      `CREATE TABLE ${table} (id INT PRIMARY KEY, tenant_id VARCHAR(32) NOT NULL DEFAULT 'kadikoy', total DECIMAL(10,2) NOT NULL, created_at DATETIME(3) NOT NULL)`,
    );
    await root.query(
      `INSERT INTO ${table} (id, total, created_at) VALUES ${Array.from({ length: 10 }, (_, i) => `(${i + 1}, 5.00, UTC_TIMESTAMP(3) - INTERVAL 1 DAY)`).join(', ')}`,
    );
    await root.end();
    const t = new pg.Client({ connectionString: target.url });
    await t.connect();
    await t.query(
      `CREATE TABLE ${table} (id INT PRIMARY KEY, tenant_id TEXT NOT NULL DEFAULT 'kadikoy', total NUMERIC(10,2) NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    const n = extraOnNewStack ? 11 : 10;
    await t.query(
      `INSERT INTO ${table} (id, total, created_at) SELECT g, 5.00, now() - interval '1 day' FROM generate_series(1, ${n}) g`,
    );
    await t.end();
  };
  const rollbackCutover = (
    name: string,
    table: string,
    steps: CutoverSpec['timeline']['steps'],
    rollback: Partial<NonNullable<CutoverSpec['rollback']>>,
    more: Partial<CutoverSpec> = {},
  ) =>
    cutoverObject(
      name,
      ns,
      baseCutoverSpec({
        route: `pos-${name}`,
        keyPrefix: `${prefix}${name}:`,
        startAt: Date.now() + 3000,
        steps,
        more: {
          rollback: {
            replayJob: nodeJob(REPLAY_TABLE, [{ name: 'TABLE', value: table }, ...replayEnv], {
              [RUN_LABEL]: 'true',
            }),
            ...rollback,
          },
          report: { configMapName: `${name}-report` },
          ...more,
        },
      }),
    );
  /** The end state of a rollback that loses no write. */
  const assertRolledBackWithoutLoss = async (
    name: string,
    table: string,
    done: CutoverStatus,
    newStackIds: number[],
  ): Promise<void> => {
    const act = (n: string) => done.rollback!.actions!.find((a) => a.name === n)!;
    assert.equal(act('PosOfflineOn').state, 'Succeeded');
    assert.equal(act('Replay').state, 'Succeeded');
    assert.ok(Date.parse(act('PosOfflineOn').finishedAt!) <= Date.parse(act('Replay').at!));
    assert.ok(
      Date.parse(act('Replay').finishedAt!) <= Date.parse(act('TrafficBack').at!),
      'the replay ran before traffic moved back',
    );
    assert.ok(Date.parse(act('TrafficBack').finishedAt!) <= Date.parse(act('ReopenLegacyWrites').at!));
    assert.deepEqual(await routeWeights(`pos-${name}`), { 'pos-legacy': 100, 'pos-v2': 0 });
    assert.equal(await flag('pos-new-stack', `${prefix}${name}:`), false, 'flag off');
    assert.equal(await flag('pos-offline-queue', `${prefix}${name}:`), false, 'queue drained');
    assert.equal(await appWrite(500 + newStackIds[0]!), 'ok', 'legacy takes writes again');
    const root = await mysql.createConnection({ socketPath: maria.socket, user: 'root', database: 'legacy' });
    const [rows] = await root.query<mysql.RowDataPacket[]>(
      `SELECT id FROM ${table} WHERE id IN (${newStackIds.join(', ')}) ORDER BY id`,
    );
    await root.end();
    assert.deepEqual(
      rows.map((r) => Number(r.id)),
      newStackIds,
      'every row written on the new stack after the switch is in legacy',
    );
  };

  it('a post-cutover Reconciliation above 1 % rolls back: replay verified over freeze .. rollback, no write lost', async () => {
    const table = 'orders_var';
    await rollbackTables(table, true); // one row the bulk load invented: 10 % variance before the freeze
    await createLegacyRoute(admin, ns, 'pos-variance');
    const recon = (name: string, post: boolean): KubeObject & Record<string, unknown> => ({
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Reconciliation',
      metadata: { name, namespace: ns },
      spec: {
        legacy: { engine: 'mysql', secretRef: { name: 'legacy-app', key: 'url' } },
        target: { engine: 'postgres', secretRef: { name: 'new-db', key: 'url' } },
        window: post
          ? { column: 'created_at', last: '30d', until: 'frozenAt', cutoverRef: { name: 'variance' } }
          : { column: 'created_at', last: '30d' },
        thresholds: { remediatePercent: 0.5, failPercent: 1.0 },
        schedule: post ? { cutoverRef: { name: 'variance' }, offsets: ['+6s'] } : { suspend: true }, // runs only when the rollback asks (its rerun token)
        checks: [{ name: 'count', type: 'count', legacy: { table }, target: { table } }],
      },
    });
    await admin.create(RECONCILIATION, ns, recon('variance-post', true));
    await admin.create(RECONCILIATION, ns, recon('variance-replay', false));
    await admin.create(
      CUTOVER,
      ns,
      rollbackCutover(
        'variance',
        table,
        [
          { name: 'freeze', action: 'Freeze', offset: '+0s' },
          { name: 'switch', action: 'TrafficSwitch', offset: '+1s' },
          { name: 'flags', action: 'EnableFlags', offset: '+2s' },
          { name: 'lift', action: 'LiftFreeze', offset: '+3s' },
          { name: 'watch', action: 'Monitor', offset: '+3s', duration: '1h' },
        ],
        { triggers: { reconciliationVariance: { percent: 1 } }, verifyReconciliation: 'variance-replay' },
        { postCutover: { reconciliations: ['variance-post'], steadyStateAfter: '1h' } },
      ),
    );
    await waitFor('the flags', (s) => stepOf(s, 'flags')?.state === 'Succeeded', 60_000, 'variance');
    // Orders taken on the new stack after the switch, before the T+6s run finds the variance.
    const t = new pg.Client({ connectionString: target.url });
    await t.connect();
    await t.query(`INSERT INTO ${table} (id, total) VALUES (300, 12.00), (301, 4.50), (302, 8.25)`);
    await t.end();
    const done = await waitFor('the rollback', (s) => s.phase === 'RolledBack', 120_000, 'variance').catch(
      async (e: Error) => {
        const r = await admin.get<KubeObject & { status?: unknown }>(RECONCILIATION, ns, 'variance-post');
        throw new Error(`${e.message}\nReconciliation variance-post: ${JSON.stringify(r.status)}`);
      },
    );
    assert.equal(done.rollback?.trigger, 'ReconciliationVariance');
    assert.match(done.rollback.reason!, /Reconciliation variance-post: variance [\d.]+ % > 1 %/);
    const verify = done.rollback.actions!.find((a) => a.name === 'VerifyReplay')!;
    assert.equal(verify.state, 'Succeeded', JSON.stringify(verify));
    const replayRecon = await admin.get<KubeObject & { metadata: { annotations?: Record<string, string> } }>(
      RECONCILIATION,
      ns,
      'variance-replay',
    );
    assert.equal(
      replayRecon.metadata.annotations?.['cutover.nokta.io/window'],
      `${done.rollback.window!.from}/${done.rollback.window!.to}`,
      'the verification compared freeze .. rollback',
    );
    await assertRolledBackWithoutLoss('variance', table, done, [300, 301, 302]);
  });

  it('a step that fails after the switch rolls back: the replay before traffic moves back, no write lost', async () => {
    const table = 'orders_step';
    await rollbackTables(table, false);
    await createLegacyRoute(admin, ns, 'pos-stepfail');
    await admin.create(
      CUTOVER,
      ns,
      rollbackCutover(
        'stepfail',
        table,
        [
          { name: 'freeze', action: 'Freeze', offset: '+0s' },
          { name: 'switch', action: 'TrafficSwitch', offset: '+1s' },
          { name: 'flags', action: 'EnableFlags', offset: '+2s' },
          {
            name: 'smoke',
            action: 'Job',
            offset: '+3s',
            onFailure: 'Rollback',
            job: nodeJob(
              FAILING_SMOKE,
              [
                { name: 'TABLE', value: table },
                { name: 'TARGET_URL', secretKeyRef: { name: 'new-db', key: 'url' } },
              ],
              { [RUN_LABEL]: 'true' },
            ),
          },
          { name: 'lift', action: 'LiftFreeze', offset: '+4s' },
        ],
        { triggers: { stepFailed: { enabled: true } } },
      ),
    );
    const done = await waitFor('the rollback', (s) => s.phase === 'RolledBack', 120_000, 'stepfail');
    assert.equal(done.rollback?.trigger, 'StepFailed');
    assert.match(done.rollback.reason!, /step smoke failed: Job .* failed/);
    assert.equal(done.steps?.find((x) => x.name === 'lift')?.state, 'Pending', 'no step after the failure');
    assert.equal(
      done.rollback.actions!.find((a) => a.name === 'VerifyReplay')!.state,
      'Skipped',
      'no verifyReconciliation in this plan',
    );
    await assertRolledBackWithoutLoss('stepfail', table, done, [400, 401, 402]);
  });
});
