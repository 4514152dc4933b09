/**
 * What the Cutover controller does around its timeline, shown with the operator process
 * (`cutover operator`, as the operator's ServiceAccount) against the real control plane
 * (HTTPRoute, Jobs run by the pod runner), a MariaDB of its own, PostgreSQL and Redis:
 * - notifications across restarts: a webhook sink (an HTTP server of this test, its URL in a
 *   Secret) gets no event twice while the operator is killed right after a claim
 *   (CUTOVER_CRASH_AT) and with SIGKILL while a post is in flight; every record ends Sent, or
 *   Unconfirmed when the operator died between recording it Sending and hearing the answer;
 * - a Cutover naming a missing Secret (and then one without the key) stalls as InvalidSpec with a
 *   message naming the field and the fix, applies nothing, and goes on once the Secret is right;
 * - a rollback after a preparation that ran the schema migration runs its down Job (SchemaDown)
 *   once, in its place in the rollback order (after the replay and traffic back, before Notify);
 * - the post-cutover Reconciliation offsets (+4h/+24h/+72h) fire at the scaled times of the plan
 *   clock (`--time-scale`, `--time-origin` in the future: the real clock would never fire them).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { CutoverStatus, Reconciliation, RollbackAction } from '../../../src/api/index.js';
import { CUTOVER, RECONCILIATION } from '../../../src/controllers/kinds.js';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.js';
import { SECRET } from '../../../src/runtime/resources.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import { startOperator, type OperatorProcess } from '../../support/operator-process.js';
import { followOperator } from '../../support/api-usage.js';
import { RUN_LABEL, startPodRunner, type PodRunner } from '../../support/pod-runner.js';
import { startOwnMariadb, type OwnMariadb } from '../actuators/own-servers.js';
import {
  appWrite,
  baseCutoverSpec,
  createLegacyRoute,
  cutoverFreeze,
  cutoverObject,
  CutoverWatch,
  dropRedisPrefix,
  flagOn,
  jobLines,
  legacyReadOnly,
  legacyUrls,
  nodeJob,
  prepareLegacy,
  runUntilEachCrash,
  sleep,
  startCutoverProcess,
  stepOf,
  type CutoverObject,
  type LegacyApp,
} from '../../support/cutover-harness.js';

type ReconObject = Reconciliation & KubeObject;

/** Every Job of these plans: one line per pod run (its purpose and the documented environment). */
const LOG_JOB = `
import { appendFileSync } from 'node:fs';
appendFileSync(process.env.JOB_LOG, JSON.stringify({ cutover: process.env.CUTOVER_NAME, purpose: process.env.PURPOSE, at: Date.now(), frozenAt: process.env.CUTOVER_FROZEN_AT, switchedAt: process.env.CUTOVER_SWITCHED_AT }) + '\\n');
`;

interface JobLine {
  cutover: string;
  purpose: string;
  at: number;
  frozenAt: string;
  switchedAt: string;
}

/** One POST the webhook sink received. */
interface Post {
  text: string;
  channel?: string;
  at: number;
}

describe('Cutover lifecycle: notifications across restarts, InvalidSpec, SchemaDown, scaled post-cutover offsets', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let maria: OwnMariadb;
  let target: TestDatabase;
  let redis: Redis;
  let runner: PodRunner;
  let sink: Server | undefined;
  let operator: OperatorProcess | undefined;
  let watch: CutoverWatch;
  let app: LegacyApp;
  const prefix = `test-cutover-life-${randomBytes(4).toString('hex')}:`;
  const jobLog = join(tmpdir(), `cutover-lifecycle-${randomBytes(4).toString('hex')}.log`);
  const posts: Post[] = [];
  /** When set, the sink holds the next post unanswered and hands it here. */
  let hold: ((p: Post, res: ServerResponse) => void) | undefined;

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('ctl-cutover-life');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    maria = await startOwnMariadb();
    app = { user: `app_${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('hex') };
    await prepareLegacy(maria, app, [
      'CREATE TABLE legacy.orders (id INT PRIMARY KEY, tenant_id VARCHAR(32) NOT NULL, total DECIMAL(10,2) NOT NULL)',
      "INSERT INTO legacy.orders VALUES (1, 'tenant-1', 10.00), (2, 'tenant-2', 20.00)",
    ]);
    target = await createPostgresDatabase('ctl_cutover_life');
    const t = new pg.Client({ connectionString: target.url });
    await t.connect();
    await t.query(
      'CREATE TABLE orders (id INT PRIMARY KEY, tenant_id TEXT NOT NULL, total NUMERIC(10,2) NOT NULL)',
    );
    await t.query("INSERT INTO orders VALUES (1, 'tenant-1', 10.00), (2, 'tenant-2', 20.00)");
    await t.end();
    redis = new Redis('redis://127.0.0.1:6379/0');

    // The war-room webhook: every post recorded as it arrives (before any answer).
    sink = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const msg = JSON.parse(body) as { text: string; channel?: string };
        const p: Post = { text: msg.text, ...(msg.channel ? { channel: msg.channel } : {}), at: Date.now() };
        posts.push(p);
        const h = hold;
        if (h) {
          hold = undefined;
          h(p, res);
          return;
        }
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => sink!.listen(0, '127.0.0.1', r));
    const addr = sink.address();
    const hookUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`;

    const urls = legacyUrls(maria, app);
    const secrets: [string, string][] = [
      ['legacy-admin', urls.admin],
      ['legacy-app', urls.app],
      ['new-db', target.url],
      ['redis', 'redis://127.0.0.1:6379/0'],
      ['warroom', hookUrl],
    ];
    for (const [name, url] of secrets)
      await admin.create(SECRET, ns, { metadata: { name }, stringData: { url } });
    runner = startPodRunner(cluster.kc, { namespace: ns });
    watch = new CutoverWatch(admin, ns);
  });

  // Each plan starts from a writable legacy (a freeze of an earlier plan stays until a rollback).
  beforeEach(async () => {
    const root = await mysql.createConnection({ socketPath: maria.socket, user: 'root' });
    await root.query('SET GLOBAL read_only = 0').finally(() => root.end());
  });

  // Each test's Cutover goes with it: the next test's operator must not sync it (a frozen legacy it left).
  afterEach(async () => {
    await operator?.kill();
    operator = undefined;
    for (const c of (await admin.list<CutoverObject>(CUTOVER, { namespace: ns })).items)
      await admin.delete(CUTOVER, ns, c.metadata.name).catch(() => undefined);
  });

  after(async () => {
    await operator?.kill();
    await runner?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    await dropRedisPrefix(redis, prefix);
    await new Promise<void>((r) => (sink ? sink.close(() => r()) : r()));
    await target?.drop();
    await maria?.close();
    rmSync(jobLog, { force: true });
  });

  const start = (env: Record<string, string> = {}): OperatorProcess =>
    (operator = startCutoverProcess(identity.kubeconfig, ns, env));
  const logJob = (purpose: string) =>
    nodeJob(
      LOG_JOB,
      [
        { name: 'JOB_LOG', value: jobLog },
        { name: 'PURPOSE', value: purpose },
      ],
      { [RUN_LABEL]: 'true' },
    );
  const jobsOf = (name: string, purpose: string): JobLine[] =>
    jobLines<JobLine>(jobLog).filter((l) => l.cutover === name && l.purpose === purpose);
  const conditions = (s: CutoverStatus) =>
    (s as { conditions?: { type: string; status: string; reason?: string; message?: string }[] })
      .conditions ?? [];
  const stalled = (s: CutoverStatus) =>
    conditions(s).find((c) => c.type === 'Stalled' && c.status === 'True');

  it('notifications: no event posted twice across a kill after the claim and a kill with a post in flight; records end Sent or Unconfirmed', async () => {
    const name = 'notify';
    await createLegacyRoute(admin, ns, `pos-${name}`);
    await admin.create<CutoverObject>(
      CUTOVER,
      ns,
      cutoverObject(
        name,
        ns,
        baseCutoverSpec({
          route: `pos-${name}`,
          keyPrefix: `${prefix}${name}:`,
          startAt: Date.now() + 4000,
          pos: false,
          targetUrl: target.url,
          steps: [
            { name: 'switch', action: 'TrafficSwitch', offset: '+0s' },
            { name: 'flags', action: 'EnableFlags', offset: '+1s' },
            { name: 'report', action: 'Report', offset: '+2s' },
          ],
          more: {
            rollback: { keepLegacyHotFor: '2s', replayJob: logJob('replay') },
            postCutover: { steadyStateAfter: '2s', requireSignOff: false },
            report: { configMapName: `${name}-report` },
            notifications: { slack: { webhookSecretRef: { name: 'warroom' }, channel: '#cutover-warroom' } },
          },
        }),
      ),
    );

    // 1. Killed right after its first claim: the claim recorded notifications Sending, none was handed over.
    const { missed } = await runUntilEachCrash([`cutover:after-claim@${ns}/${name}`], (at) =>
      start({ CUTOVER_CRASH_AT: at }),
    );
    assert.deepEqual(missed, []);
    operator = undefined;
    const afterClaim = await watch.status(name);
    const claimedSending = (afterClaim.notifications ?? [])
      .filter((n) => n.state === 'Sending')
      .map((n) => n.event!);
    assert.ok(
      claimedSending.length > 0,
      `recorded Sending before the post: ${JSON.stringify(afterClaim.notifications)}`,
    );
    assert.equal(posts.length, 0, 'nothing was posted before the crash');

    // 2. Killed with SIGKILL while the sink holds a post unanswered: it arrived, the operator never heard back.
    let inFlight: Post | undefined;
    const held = new Promise<ServerResponse>((resolve) => {
      hold = (p, res) => {
        inFlight = p;
        resolve(res);
      };
    });
    const second = start();
    const res = await Promise.race([held, sleep(60_000).then(() => undefined)]);
    assert.ok(res, `a post reached the sink: ${second.output().slice(-1500)}`);
    await second.kill();
    operator = undefined;
    res.destroy();
    const inFlightText = inFlight!.text;

    // 3. A clean run to steady state; then every delivery settles.
    start();
    await watch.waitFor(
      name,
      'steady state',
      (s) => s.phase === 'SteadyState' && s.report?.finalAt !== undefined,
      {
        ms: 90_000,
        noRollback: true,
      },
    );
    const done = await watch.waitFor(
      name,
      'every notification settled',
      (s) =>
        (s.notifications ?? []).every(
          (n) => n.state === 'Sent' || n.state === 'Unconfirmed' || n.state === 'Failed',
        ),
      { ms: 30_000 },
    );
    await sleep(2000); // a duplicate would arrive now
    const records = done.notifications ?? [];
    const texts = posts.map((p) => p.text);

    // No event posted twice, restarts included.
    const dupes = texts.filter((t, i) => texts.indexOf(t) !== i);
    assert.deepEqual(dupes, [], `posted twice: ${JSON.stringify(dupes)}`);
    // Every record ended Sent, or Unconfirmed where the operator died before hearing the answer.
    for (const n of records) assert.ok(n.state === 'Sent' || n.state === 'Unconfirmed', JSON.stringify(n));
    // Those Sending at the first crash were never handed over: Unconfirmed, and not posted.
    for (const e of claimedSending)
      assert.equal(
        records.find((n) => n.event === e)?.state,
        'Unconfirmed',
        `${e}: ${JSON.stringify(records)}`,
      );
    for (const e of claimedSending.filter((x) => x.startsWith('phase:')))
      assert.ok(!texts.some((t) => t.endsWith(`Cutover phase: ${e.slice(6)}`)), `${e} was not posted`);
    // The one in flight at the kill: posted once, Unconfirmed (not posted again).
    assert.equal(texts.filter((t) => t === inFlightText).length, 1);
    const unconfirmed = records.filter((n) => n.state === 'Unconfirmed').length;
    const sent = records.filter((n) => n.state === 'Sent').length;
    assert.ok(
      unconfirmed >= claimedSending.length + 1,
      `${unconfirmed} Unconfirmed: ${JSON.stringify(records)}`,
    );
    // Each Sent record was posted exactly once; the posts are the Sent ones and at most the Unconfirmed.
    assert.ok(
      posts.length >= sent && posts.length <= sent + unconfirmed,
      `${posts.length} posts, ${sent} Sent, ${unconfirmed} Unconfirmed`,
    );
    for (const n of records.filter((x) => x.state === 'Sent' && x.event?.startsWith('phase:')))
      assert.equal(
        texts.filter((t) => t === `[${ns}/${name}] Cutover phase: ${n.event!.slice(6)}`).length,
        1,
        `${n.event} posted once`,
      );
    // Phases reached after the restarts were notified, on the channel of the spec.
    // The last phase was notified (after both restarts) and its delivery recorded.
    assert.ok(texts.includes(`[${ns}/${name}] Cutover phase: SteadyState`), JSON.stringify(texts));
    assert.equal(records.find((n) => n.event === 'phase:SteadyState')?.state, 'Sent');
    assert.ok(posts.every((p) => p.channel === '#cutover-warroom'));
  });

  it('a missing Secret, then one without the key: Stalled/InvalidSpec naming the field and the fix, nothing applied; goes on once the Secret is right', async () => {
    const name = 'late-secret';
    await createLegacyRoute(admin, ns, `pos-${name}`);
    const freeze = cutoverFreeze({ pos: false });
    freeze.verification = { secretRef: { name: 'late-app' }, table: 'cutover_freeze_probe' };
    start();
    await admin.create<CutoverObject>(
      CUTOVER,
      ns,
      cutoverObject(
        name,
        ns,
        baseCutoverSpec({
          route: `pos-${name}`,
          keyPrefix: `${prefix}${name}:`,
          startAt: Date.now() + 1000,
          pos: false,
          targetUrl: target.url,
          steps: [
            { name: 'freeze', action: 'Freeze', offset: '+0s' },
            { name: 'switch', action: 'TrafficSwitch', offset: '+1s' },
          ],
          more: { freeze, report: { configMapName: `${name}-report` } },
        }),
      ),
    );
    const missing = await watch.waitFor(name, 'InvalidSpec', (s) => stalled(s)?.reason === 'InvalidSpec', {
      ms: 60_000,
    });
    assert.match(
      stalled(missing)!.message!,
      new RegExp(
        `spec\\.freeze\\.verification\\.secretRef: Secret late-app does not exist in namespace ${ns}; create it \\(kubectl create secret generic late-app -n ${ns} --from-literal=url=\\.\\.\\.\\)`,
      ),
    );
    // Past the planned times, still nothing applied: legacy writable, traffic on legacy, no step started.
    await sleep(3000);
    const still = await watch.status(name);
    assert.equal(stalled(still)?.reason, 'InvalidSpec');
    assert.equal(await legacyReadOnly(maria), false, 'legacy not frozen');
    assert.deepEqual(await watch.routeWeights(`pos-${name}`), { 'pos-legacy': 1 });
    for (const st of still.steps ?? [])
      assert.ok(!['Running', 'Succeeded'].includes(st.state ?? ''), JSON.stringify(st));
    assert.equal(still.frozenAt, undefined);

    // The Secret, with the wrong key: the message says which key is missing and which it has.
    const urls = legacyUrls(maria, app);
    await admin.create(SECRET, ns, { metadata: { name: 'late-app' }, stringData: { uri: urls.app } });
    const wrongKey = await watch.waitFor(
      name,
      'InvalidSpec for the key',
      (s) => stalled(s)?.message?.includes("has no key 'url'") === true,
      { ms: 30_000 },
    );
    assert.match(
      stalled(wrongKey)!.message!,
      /spec\.freeze\.verification\.secretRef: Secret late-app has no key 'url' \(it has: uri\); add the key or set spec\.freeze\.verification\.secretRef\.key/,
    );
    assert.ok(!JSON.stringify(wrongKey).includes(app.password), 'no Secret value in status');
    assert.equal(await legacyReadOnly(maria), false);

    // The key added: it goes on by itself, freeze then switch.
    await admin.patch(SECRET, ns, 'late-app', { stringData: { url: urls.app } });
    const done = await watch.waitFor(name, 'the switch', (s) => stepOf(s, 'switch')?.state === 'Succeeded', {
      ms: 60_000,
      noRollback: true,
    });
    assert.equal(stalled(done), undefined, JSON.stringify(conditions(done)));
    assert.equal(stepOf(done, 'freeze')?.state, 'Succeeded');
    assert.equal(done.freeze?.verified, true);
    assert.equal(await legacyReadOnly(maria), true, 'frozen once the Secret is there');
    assert.deepEqual(await watch.routeWeights(`pos-${name}`), { 'pos-legacy': 0, 'pos-v2': 100 });
  });

  it('a rollback after the schema migration ran: its down Job once, after the replay and traffic back, before Notify', async () => {
    const name = 'schema';
    await createLegacyRoute(admin, ns, `pos-${name}`);
    const order: RollbackAction[] = [
      'PosOfflineOn',
      'Replay',
      'TrafficBack',
      'FlagsOff',
      'ReopenLegacyWrites',
      'DrainQueue',
      'SchemaDown',
      'Notify',
    ];
    start();
    await admin.create<CutoverObject>(
      CUTOVER,
      ns,
      cutoverObject(
        name,
        ns,
        baseCutoverSpec({
          route: `pos-${name}`,
          keyPrefix: `${prefix}${name}:`,
          startAt: Date.now() + 4000,
          targetUrl: target.url,
          steps: [
            { name: 'freeze', action: 'Freeze', offset: '+0s' },
            { name: 'switch', action: 'TrafficSwitch', offset: '+1s' },
            { name: 'flags', action: 'EnableFlags', offset: '+2s' },
          ],
          more: {
            preparation: {
              schemaMigration: {
                version: '2026.11.1',
                job: logJob('schema-up'),
                downJob: logJob('schema-down'),
              },
            },
            rollback: {
              triggers: { securityFlag: {} },
              order,
              replayJob: logJob('replay'),
              keepLegacyHotFor: '1h',
            },
            report: { configMapName: `${name}-report` },
          },
        }),
      ),
    );
    const prepared = await watch.waitFor(
      name,
      'the flags',
      (s) => stepOf(s, 'flags')?.state === 'Succeeded',
      {
        ms: 90_000,
        noRollback: true,
      },
    );
    assert.equal(prepared.preparation?.find((p) => p.name === 'schemaMigration')?.state, 'Succeeded');
    assert.equal(jobsOf(name, 'schema-up').length, 1);
    assert.equal(jobsOf(name, 'schema-down').length, 0, 'no down Job without a rollback');

    await admin.patch(CUTOVER, ns, name, {
      metadata: { annotations: { 'cutover.nokta.io/security-incident': 'true' } },
    });
    const done = await watch.waitFor(
      name,
      'rolled back',
      (s) => s.phase === 'RolledBack' && s.rollback?.completedAt !== undefined,
      {
        ms: 90_000,
      },
    );
    const actions = done.rollback?.actions ?? [];
    assert.deepEqual(
      actions.map((a) => a.name),
      order,
    );
    for (const a of actions) assert.equal(a.state, 'Succeeded', JSON.stringify(a));
    const act = (n: string) => actions.find((a) => a.name === n)!;
    const down = act('SchemaDown');
    assert.ok(down.jobName, JSON.stringify(down));
    // In its place: after the replay finished and traffic went back, before Notify.
    for (const before of ['Replay', 'TrafficBack', 'ReopenLegacyWrites', 'DrainQueue'])
      assert.ok(
        Date.parse(act(before).finishedAt!) <= Date.parse(down.at!),
        `${before} before SchemaDown: ${JSON.stringify(actions)}`,
      );
    assert.ok(Date.parse(down.finishedAt!) <= Date.parse(act('Notify').at!));
    // Once, after the replay's pod, with the documented environment.
    await sleep(2000);
    const downRuns = jobsOf(name, 'schema-down');
    assert.equal(downRuns.length, 1, 'the down Job ran once');
    assert.equal(jobsOf(name, 'replay').length, 1, 'the replay ran once');
    assert.equal(jobsOf(name, 'schema-up').length, 1, 'the up Job was not run again');
    assert.ok(downRuns[0]!.at >= jobsOf(name, 'replay')[0]!.at);
    assert.equal(downRuns[0]!.frozenAt, done.frozenAt);
    assert.equal(downRuns[0]!.switchedAt, done.switchedAt);
    // The world is back on legacy.
    const weights = await watch.routeWeights(`pos-${name}`);
    assert.ok(
      !weights['pos-v2'] && weights['pos-legacy']! > 0,
      `traffic on legacy: ${JSON.stringify(weights)}`,
    );
    assert.equal(await flagOn(redis, `${prefix}${name}:`, 'pos', 'pos-new-stack'), false);
    // (Into the probe table: the orders must stay as they are for the Reconciliation of the next test.)
    assert.equal(
      await appWrite(maria, app, 'INSERT INTO cutover_freeze_probe (probed_at) VALUES (?)', [new Date()]),
      'ok',
      'legacy writable',
    );
  });

  it('post-cutover Reconciliation offsets fire at the scaled times of the plan clock (--time-scale, origin in the future)', async () => {
    const name = 'offsets';
    // 4h of plan = 1 real second: +4h, +24h and +72h fire 1, 6 and 18 s after the switch.
    const SCALE = 14_400;
    const HOUR = 3_600_000;
    const planOrigin = '2027-03-01T00:00:00Z';
    const realOrigin = Date.now() + 3000;
    await createLegacyRoute(admin, ns, `pos-${name}`);
    await admin.create<ReconObject>(RECONCILIATION, ns, {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Reconciliation',
      metadata: { name: 'post-cutover', namespace: ns },
      spec: {
        legacy: { engine: 'mysql', secretRef: { name: 'legacy-app', key: 'url' } },
        target: { engine: 'postgres', secretRef: { name: 'new-db', key: 'url' } },
        schedule: { cutoverRef: { name }, offsets: ['+4h', '+24h', '+72h'] },
        checks: [
          { name: 'orders-count', type: 'count', legacy: { table: 'orders' }, target: { table: 'orders' } },
        ],
      },
    });
    await admin.create<CutoverObject>(
      CUTOVER,
      ns,
      cutoverObject(
        name,
        ns,
        baseCutoverSpec({
          route: `pos-${name}`,
          keyPrefix: `${prefix}${name}:`,
          // Plan 01:00: a quarter of a real second after the origin.
          startAt: Date.parse(planOrigin) + HOUR,
          pos: false,
          targetUrl: target.url,
          steps: [
            { name: 'switch', action: 'TrafficSwitch', offset: '+0s' },
            { name: 'flags', action: 'EnableFlags', offset: '+10m' },
          ],
          more: {
            rollback: { keepLegacyHotFor: '48h', replayJob: logJob('replay') },
            postCutover: { steadyStateAfter: '14d', requireSignOff: false },
            report: { configMapName: `${name}-report` },
          },
        }),
      ),
    );
    operator = startOperator(
      [
        '--kubeconfig',
        identity.kubeconfig,
        '--namespaces',
        ns,
        '--no-leader-elect',
        '--controllers',
        'cutover,reconciliation',
        '--time-scale',
        String(SCALE),
        '--time-origin',
        `${planOrigin}@${new Date(realOrigin).toISOString()}`,
      ],
      {},
    );
    followOperator('controllers/cutover+reconciliation', operator);

    // Every run as it starts (real times: the Reconciliation controller records real times).
    const runs = new Map<string, { trigger: string; startedAt: number }>();
    let switchedAt: string | undefined;
    for (const end = Date.now() + 90_000; ; await sleep(100)) {
      switchedAt ??= (await watch.status(name)).switchedAt;
      const r = (await admin.get<ReconObject>(RECONCILIATION, ns, 'post-cutover')).status;
      if (r?.lastRun?.id && r.lastRun.startedAt && !runs.has(r.lastRun.id))
        runs.set(r.lastRun.id, {
          trigger: r.lastRun.trigger ?? '',
          startedAt: Date.parse(r.lastRun.startedAt),
        });
      if ((r?.completedOffsets ?? []).length === 3) break;
      if (Date.now() > end)
        throw new Error(
          `not all offsets ran: ${JSON.stringify(r)}; runs ${JSON.stringify([...runs.values()])}`,
        );
    }
    assert.ok(switchedAt, 'switched');
    const post = (await admin.get<ReconObject>(RECONCILIATION, ns, 'post-cutover')).status!;
    assert.deepEqual(post.completedOffsets, ['+4h', '+24h', '+72h']);
    assert.equal(post.runsCompleted, 3);
    assert.equal(post.phase, 'Passed', JSON.stringify(post));
    // The switch on the plan clock, in real time; each offset due offset/SCALE after it.
    const switchReal = realOrigin + (Date.parse(switchedAt) - Date.parse(planOrigin)) / SCALE;
    const list = [...runs.values()].sort((a, b) => a.startedAt - b.startedAt);
    assert.equal(list.length, 3, `three runs, one per offset: ${JSON.stringify(list)}`);
    for (const [i, hours] of [4, 24, 72].entries()) {
      const run = list[i]!;
      assert.equal(run.trigger, `CutoverOffset:+${hours}h`, JSON.stringify(run));
      const due = switchReal + (hours * HOUR) / SCALE;
      // Never early; late by at most a few seconds of a loaded machine (the offsets are 5 and 12 s apart).
      assert.ok(run.startedAt >= due - 50, `+${hours}h started ${run.startedAt - due} ms before it was due`);
      assert.ok(run.startedAt <= due + 4000, `+${hours}h started ${run.startedAt - due} ms after it was due`);
    }
  });
});
