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
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { KubeClient } from '../../../src/runtime/kube-client.js';
import { SECRET } from '../../../src/runtime/resources.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import type { OperatorProcess } from '../../support/operator-process.js';
import { startPodRunner, type PodRunner } from '../../support/pod-runner.js';
import { startOwnMariadb, type OwnMariadb } from '../actuators/own-servers.js';
import {
  CutoverWatch,
  dropRedisPrefix,
  legacyUrls,
  prepareLegacy,
  runUntilEachCrash,
  startCutoverProcess,
} from '../../support/cutover-harness.js';
import {
  assertCrashInvariants,
  createCrashPlan,
  crashEnded,
  triggerRollback,
  type CrashWorld,
} from '../../support/cutover-crash.js';

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
  let world: CrashWorld;
  let watch: CutoverWatch;
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
    await prepareLegacy(maria, app, [], 'SELECT, INSERT');
    redis = new Redis('redis://127.0.0.1:6379/0');
    const urls = legacyUrls(maria, app);
    const secrets: [string, string][] = [
      ['legacy-admin', urls.admin],
      ['legacy-app', urls.app],
      ['redis', 'redis://127.0.0.1:6379/0'],
    ];
    for (const [name, url] of secrets)
      await admin.create(SECRET, ns, { metadata: { name }, stringData: { url } });
    runner = startPodRunner(cluster.kc, { namespace: ns });
    world = { admin, ns, redis, prefix, maria, jobLog };
    watch = new CutoverWatch(admin, ns);
  });

  after(async () => {
    await operator?.kill();
    await runner?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    await dropRedisPrefix(redis, prefix);
    await maria?.close();
    rmSync(jobLog, { force: true });
  });

  const start = (crashAt?: string): OperatorProcess =>
    startCutoverProcess(identity.kubeconfig, ns, crashAt ? { CUTOVER_CRASH_AT: crashAt } : {});

  it('killed at every step boundary of the night and of its rollback: resumes, once each, rolled back', async () => {
    const name = 'boundaries';
    await createCrashPlan(world, name, Date.now() + 2000);
    const points = [...NIGHT_POINTS, ...ROLLBACK_POINTS];
    const { missed } = await runUntilEachCrash(
      points.map((p) => `${p}@${ns}/${name}`),
      (crashAt) => (operator = start(crashAt)),
      {
        before: async (i) => {
          if (i === NIGHT_POINTS.length) await triggerRollback(world, name);
        },
      },
    );
    assert.deepEqual(missed, [], 'every boundary was reached');
    operator = start();
    await watch.waitFor(name, 'the end', crashEnded, { ms: 60_000 });
    await operator.stop();
    operator = undefined;
    await assertCrashInvariants(world, name, true);
    const s = await watch.status(name);
    assert.equal(s.rollback?.trigger, 'SecurityFlag');
    for (const a of s.rollback?.actions ?? [])
      assert.ok(['Succeeded', 'Skipped'].includes(a.state ?? ''), JSON.stringify(a));
  });
});
