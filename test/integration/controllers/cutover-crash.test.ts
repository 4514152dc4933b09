/**
 * The operator process (`cutover operator --controllers cutover`, as the operator's
 * ServiceAccount) killed with SIGKILL while it runs a cutover night and its rollback, against the
 * real control plane (HTTPRoute, Jobs run by the pod runner), a MariaDB of its own (the freeze),
 * PostgreSQL and Redis:
 * - at every step boundary: right after a claim and right after each kind of effect (POS queue
 *   flag, freeze, Job, route, flags, report; in the rollback also the re-opening), one process per
 *   crash point (CUTOVER_CRASH_AT), each resuming where the last one died.
 * After the run: each Job ran once (its pod wrote one line), each step started once, a
 * rollback that was asked for happened, and the end state has traffic where the database takes
 * writes (rolled back: traffic and flags on legacy, legacy writable, the POS queue drained;
 * steady state: traffic and flags on the new stack, the POS queue lifted on the new primary).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import type { Cutover, CutoverStatus } from '../../../src/api/index.js';
import { CUTOVER } from '../../../src/controllers/kinds.js';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.js';
import { HTTP_ROUTE, JOB, SECRET } from '../../../src/runtime/resources.js';
import { RedisFlagStore } from '../../../src/actuators/flags/redis-flags.js';
import { LABEL_CUTOVER } from '../../../src/controllers/cutover/world.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import { followOperator } from '../../support/api-usage.js';
import { startOperator, type OperatorProcess } from '../../support/operator-process.js';
import { RUN_LABEL, startPodRunner, type PodRunner } from '../../support/pod-runner.js';
import { startOwnMariadb, type OwnMariadb } from '../actuators/own-servers.js';

type CutoverObject = Cutover & KubeObject;

/** Every Job of these plans: one line per pod run (cutover and purpose). */
const LOG_JOB = `
import { appendFileSync } from 'node:fs';
appendFileSync(process.env.JOB_LOG, JSON.stringify({ cutover: process.env.CUTOVER_NAME, purpose: process.env.PURPOSE, frozenAt: process.env.CUTOVER_FROZEN_AT }) + '\\n');
`;

/** The step boundaries of the night, then of the rollback, in the order the plan reaches them. */
const NIGHT_POINTS = [
  'cutover:after-claim',
  'cutover:after-PosOffline',
  'cutover:after-FreezeLegacy',
  'cutover:after-CreateJob',
  'cutover:after-Traffic',
  'cutover:after-Flags',
  'cutover:after-PosOffline',
  'cutover:after-WriteReport',
];
const ROLLBACK_POINTS = [
  'cutover:after-claim',
  'cutover:after-PosOffline',
  'cutover:after-CreateJob',
  'cutover:after-Traffic',
  'cutover:after-Flags',
  'cutover:after-ReopenLegacyWrites',
  'cutover:after-PosOffline',
  'cutover:after-WriteReport',
];

describe('Cutover controller: the operator process killed at every step boundary', function () {
  this.timeout(420_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let maria: OwnMariadb;
  let redis: Redis;
  let runner: PodRunner;
  let operator: OperatorProcess | undefined;
  const prefix = `test-cutover-crash-${randomBytes(4).toString('hex')}:`;
  const jobLog = join(tmpdir(), `cutover-crash-${randomBytes(4).toString('hex')}.log`);

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('ctl-cutover-crash');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    maria = await startOwnMariadb();
    const app = { user: `app_${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('hex') };
    const root = await mysql.createConnection({ socketPath: maria.socket, user: 'root' });
    await root.query('CREATE DATABASE legacy');
    await root.query(
      'CREATE TABLE legacy.cutover_freeze_probe (id INT AUTO_INCREMENT PRIMARY KEY, probed_at DATETIME(3) NOT NULL)',
    );
    await root.query(`CREATE USER '${app.user}'@'%' IDENTIFIED BY '${app.password}'`);
    await root.query(`GRANT SELECT, INSERT ON legacy.* TO '${app.user}'@'%'`);
    await root.end();
    redis = new Redis('redis://127.0.0.1:6379/0');
    const secrets: [string, string][] = [
      ['legacy-admin', `mysql://root@localhost/legacy?socket=${encodeURIComponent(maria.socket)}`],
      ['legacy-app', `mysql://${app.user}:${app.password}@127.0.0.1:${maria.port}/legacy`],
      ['redis', 'redis://127.0.0.1:6379/0'],
    ];
    for (const [name, url] of secrets)
      await admin.create(SECRET, ns, { metadata: { name }, stringData: { url } });
    runner = startPodRunner(cluster.kc, { namespace: ns });
  });

  after(async () => {
    await operator?.kill();
    await runner?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await maria?.close();
    rmSync(jobLog, { force: true });
  });

  const start = (crashAt?: string): OperatorProcess => {
    const op = startOperator(
      [
        '--kubeconfig',
        identity.kubeconfig,
        '--namespaces',
        ns,
        '--no-leader-elect',
        '--controllers',
        'cutover',
      ],
      crashAt ? { CUTOVER_CRASH_AT: crashAt } : {},
    );
    followOperator('controllers/cutover', op);
    return op;
  };
  const status = async (name: string): Promise<CutoverStatus> =>
    (await admin.tryGet<CutoverObject>(CUTOVER, ns, name))?.status ?? {};
  const ended = (s: CutoverStatus): boolean =>
    (s.phase === 'RolledBack' && s.rollback?.review !== undefined) ||
    (s.phase === 'SteadyState' && s.report?.finalAt !== undefined);
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  async function createPlan(name: string): Promise<void> {
    await admin.create(HTTP_ROUTE, ns, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: `pos-${name}`, namespace: ns },
      spec: {
        parentRefs: [{ name: 'public-gw' }],
        rules: [{ backendRefs: [{ name: 'pos-legacy', port: 8080 }] }],
      },
    });
    const job = (purpose: string) => ({
      image: 'node',
      command: ['node', '--input-type=module', '-e', LOG_JOB],
      env: [
        { name: 'JOB_LOG', value: jobLog },
        { name: 'PURPOSE', value: purpose },
      ],
      podLabels: { [RUN_LABEL]: 'true' },
      backoffLimit: 0,
    });
    await admin.create<CutoverObject>(CUTOVER, ns, {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Cutover',
      metadata: { name, namespace: ns },
      spec: {
        services: [
          {
            name: 'pos',
            flagKey: 'pos.new-stack',
            traffic: {
              httpRoute: {
                name: `pos-${name}`,
                legacyBackend: { name: 'pos-legacy', port: 8080 },
                newBackend: { name: 'pos-v2', port: 8080 },
              },
            },
            legacy: { name: 'pos-legacy' },
            new: { name: 'pos-v2' },
          },
        ],
        databases: {
          legacy: { engine: 'mysql', secretRef: { name: 'legacy-admin' } },
          target: { engine: 'postgres', url: 'postgres://unused@127.0.0.1:5432/unused' },
        },
        flagProvider: {
          type: 'Redis',
          redis: { secretRef: { name: 'redis' }, keyPrefix: `${prefix}${name}:` },
        },
        freeze: {
          method: 'ReadOnly',
          posOffline: { service: 'pos', flagKey: 'pos.offline-queue' },
          verification: { secretRef: { name: 'legacy-app' }, table: 'cutover_freeze_probe' },
        },
        timeline: {
          startAt: new Date(Date.now() + 2000).toISOString().replace(/\.\d+Z$/, 'Z'),
          steps: [
            { name: 'freeze', action: 'Freeze', offset: '+0s' },
            { name: 'delta-sync', action: 'DeltaSync', offset: '+1s', job: job('delta-sync') },
            { name: 'switch', action: 'TrafficSwitch', offset: '+2s' },
            { name: 'flags', action: 'EnableFlags', offset: '+3s' },
            { name: 'lift', action: 'LiftFreeze', offset: '+4s' },
            { name: 'report', action: 'Report', offset: '+5s' },
          ],
        },
        rollback: {
          triggers: { securityFlag: {} },
          replayJob: job('replay'),
          keepLegacyHotFor: '3s',
        },
        postCutover: { steadyStateAfter: '3s', requireSignOff: false },
        report: { configMapName: `${name}-report` },
      },
    });
  }

  const triggerRollback = (name: string): Promise<unknown> =>
    admin.patch(CUTOVER, ns, name, {
      metadata: { annotations: { 'cutover.nokta.io/security-incident': 'true' } },
    });

  /** The invariants, after every run. */
  async function checkInvariants(name: string, rollbackAsked: boolean): Promise<void> {
    const s = await status(name);
    assert.ok(ended(s), `${name} ended: ${JSON.stringify(s).slice(0, 1500)}`);
    if (rollbackAsked) assert.equal(s.phase, 'RolledBack', `${name}: the rollback was not missed`);
    // Never a side effect twice: each Job created once and its pod run once, each step started once.
    const lines = existsSync(jobLog)
      ? readFileSync(jobLog, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { cutover: string; purpose: string; frozenAt: string })
          .filter((l) => l.cutover === name)
      : [];
    assert.equal(
      lines.filter((l) => l.purpose === 'delta-sync').length,
      1,
      `${name}: the delta sync ran once`,
    );
    assert.equal(
      lines.filter((l) => l.purpose === 'replay').length,
      s.phase === 'RolledBack' && s.switchedAt !== undefined ? 1 : 0,
      `${name}: the replay ran once, only after a switch`,
    );
    const jobs = (
      await admin.list<KubeObject>(JOB, { namespace: ns, labelSelector: `${LABEL_CUTOVER}=${name}` })
    ).items;
    assert.equal(new Set(jobs.map((j) => j.metadata.name)).size, jobs.length);
    assert.ok(jobs.length <= 2, `${name}: Jobs ${jobs.map((j) => j.metadata.name).join(', ')}`);
    for (const st of s.steps ?? [])
      assert.ok((st.attempt ?? 0) <= 1, `${name}: ${st.name} started ${st.attempt} times`);
    // Traffic never left on a database that refuses writes.
    const route = await admin.get<
      KubeObject & { spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] } }
    >(HTTP_ROUTE, ns, `pos-${name}`);
    const weights = Object.fromEntries(route.spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight ?? 1]));
    const flags = new RedisFlagStore(redis, `${prefix}${name}:`);
    const flagOn = (await flags.read('pos', 'pos-new-stack')).defaultState?.enabled === true;
    const queueOn = (await flags.read('pos', 'pos-offline-queue')).defaultState?.enabled === true;
    const root = await mysql.createConnection({ socketPath: maria.socket, user: 'root' });
    const [rows] = await root.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.read_only AS ro');
    await root.end();
    const legacyReadOnly = Number(rows[0]!.ro) === 1;
    if (s.phase === 'RolledBack') {
      assert.ok(!weights['pos-v2'], `${name}: traffic back on legacy ${JSON.stringify(weights)}`);
      assert.equal(flagOn, false, `${name}: flag off`);
      assert.equal(legacyReadOnly, false, `${name}: legacy takes writes`);
      assert.equal(queueOn, false, `${name}: the POS queue drained`);
    } else {
      assert.deepEqual(weights, { 'pos-legacy': 0, 'pos-v2': 100 }, `${name}: traffic on the new stack`);
      assert.equal(flagOn, true, `${name}: flag on`);
      assert.equal(queueOn, false, `${name}: the new primary takes writes`);
      assert.equal(legacyReadOnly, true, `${name}: legacy stays frozen`);
    }
  }

  it('killed at every step boundary of the night and of its rollback: resumes, once each, rolled back', async () => {
    const name = 'boundaries';
    await createPlan(name);
    const points = [
      ...NIGHT_POINTS.map((p) => ({ p, phase: 'night' })),
      ...ROLLBACK_POINTS.map((p) => ({ p, phase: 'rollback' })),
    ];
    const missed: string[] = [];
    for (const [i, { p, phase }] of points.entries()) {
      if (phase === 'rollback' && i === NIGHT_POINTS.length) await triggerRollback(name);
      operator = start(`${p}@${ns}/${name}`);
      const code = await Promise.race([operator.exited(), sleep(30_000).then(() => 'running' as const)]);
      if (code === 'running') {
        missed.push(`${i}:${p}`);
        await operator.kill();
      } else assert.equal(code, null, `killed itself at ${p}:\n${operator.output().slice(-2000)}`);
    }
    assert.deepEqual(missed, [], 'every boundary was reached');
    operator = start();
    for (const end = Date.now() + 60_000; !ended(await status(name)); await sleep(200))
      if (Date.now() > end)
        throw new Error(`not ended: ${JSON.stringify(await status(name)).slice(0, 1500)}`);
    await operator.stop();
    operator = undefined;
    await checkInvariants(name, true);
    const s = await status(name);
    assert.equal(s.rollback?.trigger, 'SecurityFlag');
    for (const a of s.rollback?.actions ?? [])
      assert.ok(['Succeeded', 'Skipped'].includes(a.state ?? ''), JSON.stringify(a));
  });
});
