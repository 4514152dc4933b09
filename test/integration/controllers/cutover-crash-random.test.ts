/**
 * The operator process (`cutover operator --controllers cutover`, as the operator's
 * ServiceAccount) killed at 50 seeded random points while it runs 8 Cutovers at once, each with
 * its own MariaDB (a freeze is the server's global read_only), against the real control plane
 * (HTTPRoutes, Jobs run by the pod runner) and Redis. Half of the Cutovers are rolled back by the
 * security annotation (triggerRollback) at a random moment of their plan (from the start, after
 * the freeze, after the switch, in legacy hot, after it; it acts from the switch on), the others
 * run to steady state. The Cutovers are created one after the other over the first 40 rounds,
 * so kills land in every part of the plan.
 *
 * Each round starts an operator that either kills itself at a random occurrence of a named crash
 * point (CUTOVER_CRASH_AT=<point>[@ns/name]#n: of one Cutover or of whichever reaches it, the
 * point picked among those due next) or is SIGKILLed after a random delay (0-2.5 s after its caches
 * synced, before which nothing acts); a named point not reached within 3 s is a SIGKILL too
 * (counted apart). After every run the invariants are checked for every Cutover: no Job created
 * twice, no Job's pod run twice (and each got the recorded freeze time), no step started twice,
 * no rollback that was not asked for and none changed or lost once recorded, never steady state
 * when a rollback was asked for, never traffic on legacy while legacy refuses writes and the POS
 * queue is off, an ended Cutover stays ended with its end state (assertCrashInvariants). A last
 * operator runs undisturbed: every Cutover ends RolledBack (when asked, with the replay run) or
 * SteadyState, its end state checked again.
 * The seed is printed; CUTOVER_CRASH_SEED replays the same choices (the timing of a run may differ).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parseDuration, type CutoverStatus } from '../../../src/api/index.js';
import { CUTOVER } from '../../../src/controllers/kinds.js';
import { LABEL_CUTOVER } from '../../../src/controllers/cutover/world.js';
import { prng } from '../../../src/devenv/nokta-data/generator.js';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.js';
import { JOB, SECRET } from '../../../src/runtime/resources.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import type { OperatorProcess } from '../../support/operator-process.js';
import { startPodRunner, type PodRunner } from '../../support/pod-runner.js';
import { startOwnMariadb, type OwnMariadb } from '../actuators/own-servers.js';
import {
  dropRedisPrefix,
  flagOn,
  jobLines,
  legacyReadOnly,
  legacyUrls,
  prepareLegacy,
  routeWeights,
  sleep,
  startCutoverProcess,
  type CutoverObject,
} from '../../support/cutover-harness.js';
import {
  assertCrashInvariants,
  createCrashPlan,
  crashEnded,
  triggerRollback,
  type CrashWorld,
} from '../../support/cutover-crash.js';

const KILLS = 50;
const CUTOVERS = 8;
/** The Cutovers are created over the first SPREAD rounds, one every SPREAD / CUTOVERS. */
const SPREAD = 40;
/**
 * Times are counted from the operator's 'caches synced: workers start' (before it nothing acts):
 * a named crash point not reached within POINT_CAP_MS of it is replaced by a SIGKILL; a SIGKILL
 * after a delay comes up to DELAY_MS after it.
 */
const POINT_CAP_MS = 3000;
const DELAY_MS = 2500;
/** Legacy hot and the stable period (plan time), long enough for a trigger in each at round pace. */
const LEGACY_HOT = '15s';
const STEADY_AFTER = '25s';
const rollsBack = (i: number): boolean => i % 2 === 0;
const nameOf = (i: number): string => `rnd-${i}`;

/** When a rolling-back Cutover gets its trigger: the first check at which its status has reached this. */
const MOMENTS = ['start', 'frozen', 'switched', 'legacy-hot', 'post-cutover'] as const;
type Moment = (typeof MOMENTS)[number];
function reached(s: CutoverStatus): number {
  if (s.phase === 'PostCutover') return 4;
  if (s.phase === 'LegacyHot') return 3;
  if (s.switchedAt !== undefined) return 2;
  if (s.frozenAt !== undefined) return 1;
  return 0;
}

/** Action kinds of the night's steps and of the rollback's actions (the crash point after each). */
const STEP_KINDS: Record<string, string[]> = {
  freeze: ['PosOffline', 'FreezeLegacy'],
  'delta-sync': ['CreateJob'],
  switch: ['Traffic'],
  flags: ['Flags'],
  lift: ['PosOffline'],
  report: ['WriteReport'],
};
const ROLLBACK_KINDS: Record<string, string[]> = {
  PosOfflineOn: ['PosOffline'],
  Replay: ['CreateJob'],
  TrafficBack: ['Traffic'],
  FlagsOff: ['Flags'],
  ReopenLegacyWrites: ['ReopenLegacyWrites'],
  DrainQueue: ['PosOffline'],
};

/**
 * The crash points a Cutover reaches next, from its status, when that is due within `withinMs`
 * (none while it waits for its plan): a claim and the actions of its next step or rollback action.
 */
function duePoints(s: CutoverStatus, asked: boolean, withinMs: number): string[] {
  const due = (at: string | undefined): boolean =>
    at === undefined || Date.parse(at) <= Date.now() + withinMs;
  let kinds: string[];
  if (crashEnded(s)) kinds = [];
  else if (s.rollback) {
    const next = s.rollback.actions?.find((a) => a.state !== 'Succeeded' && a.state !== 'Skipped');
    kinds = ['claim', ...(next ? (ROLLBACK_KINDS[next.name ?? ''] ?? []) : ['WriteReport'])];
  } else if (asked && s.switchedAt !== undefined) kinds = ['claim', 'PosOffline'];
  else if (s.steps === undefined) kinds = ['claim'];
  else {
    const step = s.steps.find((x) => x.state !== 'Succeeded');
    if (step) kinds = due(step.plannedAt) ? ['claim', ...(STEP_KINDS[step.name ?? ''] ?? [])] : [];
    else if (!due(s.legacyHotUntil)) kinds = [];
    else {
      const steady =
        s.stableSince && new Date(Date.parse(s.stableSince) + parseDuration(STEADY_AFTER)).toISOString();
      kinds = ['claim', 'ScaleLegacy', ...(due(steady) ? ['WriteReport'] : [])];
    }
  }
  return kinds.map((k) => `cutover:after-${k}`);
}

/** What one Cutover of the test is, and what the checks have seen of it so far. */
interface Tracked {
  i: number;
  name: string;
  w: CrashWorld;
  moment?: Moment;
  created: boolean;
  /** The trigger was set (while the Cutover was not at steady state). */
  asked: boolean;
  /** Job name → uid: a name seen with another uid was created twice. */
  jobUids: Map<string, string>;
  /** Step name → startedAt: a step whose start changes was started again. */
  stepStarts: Map<string, string>;
  rollback?: string;
  ended?: string;
}

describe('Cutover controller: the operator process killed at 50 random points', function () {
  this.timeout(420_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  const marias: OwnMariadb[] = [];
  let redis: Redis;
  let runner: PodRunner;
  let operator: OperatorProcess | undefined;
  const tracked: Tracked[] = [];
  const prefix = `test-cutover-rnd-${randomBytes(4).toString('hex')}:`;
  const jobLog = join(tmpdir(), `cutover-crash-rnd-${randomBytes(4).toString('hex')}.log`);
  const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('ctl-cutover-rnd');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    const t0 = Date.now();
    redis = new Redis('redis://127.0.0.1:6379/0');
    await admin.create(SECRET, ns, {
      metadata: { name: 'redis' },
      stringData: { url: 'redis://127.0.0.1:6379/0' },
    });
    // One MariaDB per Cutover: a freeze is the whole server's read_only.
    marias.push(...(await Promise.all([...Array(CUTOVERS).keys()].map(() => startOwnMariadb()))));
    for (let i = 0; i < CUTOVERS; i++) {
      const maria = marias[i]!;
      const app = {
        user: `app_${randomBytes(3).toString('hex')}`,
        password: randomBytes(12).toString('hex'),
      };
      await prepareLegacy(maria, app, [], 'SELECT, INSERT');
      const urls = legacyUrls(maria, app);
      const legacySecrets = { admin: `legacy-admin-${i}`, app: `legacy-app-${i}` };
      await admin.create(SECRET, ns, {
        metadata: { name: legacySecrets.admin },
        stringData: { url: urls.admin },
      });
      await admin.create(SECRET, ns, {
        metadata: { name: legacySecrets.app },
        stringData: { url: urls.app },
      });
      tracked.push({
        i,
        name: nameOf(i),
        w: { admin, ns, redis, prefix, maria, jobLog, legacySecrets },
        created: false,
        asked: false,
        jobUids: new Map(),
        stepStarts: new Map(),
      });
    }
    runner = startPodRunner(cluster.kc, { namespace: ns });
    process.stdout.write(
      `      ${CUTOVERS} MariaDBs and Secrets in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`,
    );
  });

  after(async () => {
    await operator?.kill();
    await runner?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    await dropRedisPrefix(redis, prefix);
    await Promise.all(marias.map((m) => m.close()));
    rmSync(jobLog, { force: true });
  });

  const statuses = async (): Promise<Map<string, CutoverStatus>> =>
    new Map(
      (await admin.listAll<CutoverObject>(CUTOVER, { namespace: ns })).items.map((o) => [
        o.metadata.name,
        o.status ?? {},
      ]),
    );

  /** The invariants of every created Cutover, after a run (`where` names the run in messages). */
  async function checkAll(where: string): Promise<void> {
    const st = await statuses();
    const lines = jobLines<{ cutover: string; purpose: string; frozenAt: string }>(jobLog);
    const jobs = (await admin.list<KubeObject>(JOB, { namespace: ns, labelSelector: LABEL_CUTOVER })).items;
    for (const t of tracked.filter((x) => x.created)) {
      const s = st.get(t.name) ?? {};
      const at = `${where}: ${t.name}`;
      // No Job created twice, no pod run twice, no step started twice.
      for (const j of jobs.filter((x) => x.metadata.labels?.[LABEL_CUTOVER] === t.name)) {
        const seen = t.jobUids.get(j.metadata.name!);
        assert.ok(
          seen === undefined || seen === j.metadata.uid,
          `${at}: Job ${j.metadata.name} created again`,
        );
        t.jobUids.set(j.metadata.name!, j.metadata.uid!);
      }
      assert.ok(t.jobUids.size <= 2, `${at}: Jobs ${[...t.jobUids.keys()].join(', ')}`);
      for (const purpose of ['delta-sync', 'replay']) {
        const runs = lines.filter((l) => l.cutover === t.name && l.purpose === purpose);
        assert.ok(runs.length <= 1, `${at}: the ${purpose} Job's pod ran ${runs.length} times`);
        if (runs[0])
          assert.equal(runs[0].frozenAt, s.frozenAt, `${at}: ${purpose} got the recorded freeze time`);
      }
      for (const step of s.steps ?? []) {
        assert.ok((step.attempt ?? 0) <= 1, `${at}: step ${step.name} started ${step.attempt} times`);
        if (step.startedAt === undefined) continue;
        const seen = t.stepStarts.get(step.name!);
        assert.ok(seen === undefined || seen === step.startedAt, `${at}: step ${step.name} started again`);
        t.stepStarts.set(step.name!, step.startedAt);
      }
      // A rollback only when asked for, never lost once recorded, never steady state instead.
      const rb = s.rollback ? `${s.rollback.trigger} ${s.rollback.triggeredAt}` : undefined;
      if (rb !== undefined)
        assert.ok(t.asked, `${at}: a rollback nobody asked for: ${JSON.stringify(s.rollback)}`);
      if (t.rollback !== undefined)
        assert.equal(rb, t.rollback, `${at}: the recorded rollback changed or vanished`);
      t.rollback = rb;
      assert.notEqual(s.phase, 'Failed', `${at}: the rollback failed: ${s.message ?? ''}`);
      if (t.asked)
        assert.notEqual(s.phase, 'SteadyState', `${at}: steady state though a rollback was asked for`);
      if (t.ended !== undefined) assert.equal(s.phase, t.ended, `${at}: left its end state ${t.ended}`);
      // Never traffic on legacy while legacy refuses writes and the POS queue does not hold them.
      const weights = await routeWeights(admin, ns, `pos-${t.name}`);
      if ((weights['pos-legacy'] ?? 0) > 0 && (await legacyReadOnly(t.w.maria)))
        assert.ok(
          await flagOn(redis, `${prefix}${t.name}:`, 'pos', 'pos-offline-queue'),
          `${at}: traffic ${JSON.stringify(weights)} on a frozen legacy with the POS queue off`,
        );
      if (crashEnded(s)) {
        await assertCrashInvariants(t.w, t.name, t.asked);
        t.ended ??= s.phase;
      }
    }
  }

  /** Creates the Cutovers due before `round` and sets the rollback triggers whose moment has come. */
  async function plan(round: number, random: () => number, notes: string[]): Promise<void> {
    for (const t of tracked)
      if (!t.created && round >= Math.floor((t.i * SPREAD) / CUTOVERS)) {
        await createCrashPlan(t.w, t.name, Date.now() + 2000, 1, {
          keepLegacyHotFor: LEGACY_HOT,
          steadyStateAfter: STEADY_AFTER,
        });
        t.created = true;
        if (rollsBack(t.i)) t.moment = MOMENTS[Math.floor(random() * MOMENTS.length)]!;
        notes.push(`r${round} created ${t.name}${t.moment ? ` (rollback at ${t.moment})` : ''}`);
      }
    const st = await statuses();
    for (const t of tracked) {
      if (!t.created || t.asked || t.moment === undefined) continue;
      const s = st.get(t.name) ?? {};
      if (s.phase === 'SteadyState') {
        notes.push(`r${round} ${t.name} reached steady state before its rollback moment ${t.moment}`);
        t.moment = undefined;
        continue;
      }
      if (reached(s) < MOMENTS.indexOf(t.moment)) continue;
      await triggerRollback(t.w, t.name);
      t.asked = true;
      notes.push(`r${round} rollback asked of ${t.name} (${t.moment}, phase ${s.phase ?? '-'})`);
    }
  }

  it('resumes every Cutover after each kill, keeps the invariants after every run, ends each where it should', async () => {
    const seed = Number(process.env.CUTOVER_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    process.stdout.write(`      seed ${seed} (CUTOVER_CRASH_SEED replays it), load ${loadavg()}\n`);
    const random = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const started = Date.now();
    const kills: string[] = [];
    const notes: string[] = [];
    let named = 0;
    /** From the spawn to 'caches synced', each round (ms). */
    const startups: number[] = [];
    let missed = 0;
    for (let round = 0; round < KILLS; round++) {
      await plan(round, random, notes);
      const st = await statuses();
      // Cutovers with something due (a startup takes a second or two).
      const dueOf = (t: Tracked): string[] => duePoints(st.get(t.name) ?? {}, t.asked, POINT_CAP_MS + 2000);
      const open = tracked.filter((t) => t.created && dueOf(t).length > 0);
      let crashAt: string | undefined;
      let waitMs: number;
      if (open.length > 0 && random() < 0.5) {
        // A named point: of one Cutover (2 in 3) or of whichever reaches it (1 in 3), its n-th time.
        const target = random() < 2 / 3 ? pick(open) : undefined;
        const points = target ? dueOf(target) : [...new Set(open.flatMap(dueOf))];
        const point = pick(points);
        // Its first to third claim; an action's first time mostly (most act once per process).
        const nth = 1 + Math.floor(point === 'cutover:after-claim' ? random() * 3 : random() * 1.4);
        crashAt = `${point}${target ? `@${ns}/${target.name}` : ''}#${nth}`;
        waitMs = POINT_CAP_MS;
      } else waitMs = Math.floor(random() * DELAY_MS);
      const spawned = Date.now();
      operator = startCutoverProcess(identity.kubeconfig, ns, crashAt ? { CUTOVER_CRASH_AT: crashAt } : {});
      const op = operator;
      let gone = false;
      let syncedAt: number | undefined;
      void op.exited().then(() => (gone = true));
      const synced = async (): Promise<void> => {
        const end = Date.now() + 30_000;
        while (!gone && Date.now() < end && !op.lines().some((l) => l.msg === 'caches synced: workers start'))
          await sleep(25);
        if (gone) return;
        syncedAt = Date.now();
        startups.push(syncedAt - spawned);
      };
      const code = await Promise.race([
        op.exited(),
        synced().then(async () => {
          await sleep(waitMs);
          return 'running' as const;
        }),
      ]);
      if (code !== 'running' && (code !== null || !operator.output().includes('crash point reached')))
        assert.fail(`round ${round}: the operator exited ${code}:\n${operator.output().slice(-3000)}`);
      await operator.kill();
      const ms = Date.now() - (syncedAt ?? spawned);
      if (crashAt && code === null) {
        named++;
        kills.push(`${crashAt.replace(`@${ns}/`, '@')} (${ms} ms)`);
      } else if (crashAt) {
        missed++;
        kills.push(`${crashAt.replace(`@${ns}/`, '@')} not reached: SIGKILL at ${ms} ms`);
      } else kills.push(`SIGKILL at ${ms} ms`);
      const output = operator.output();
      operator = undefined;
      try {
        await checkAll(`after kill ${round} (${kills.at(-1)})`);
      } catch (e) {
        (e as Error).message += `\nseed ${seed}\n${notes.join('\n')}\noperator:\n${output.slice(-3000)}`;
        throw e;
      }
    }
    const killedS = (Date.now() - started) / 1000;
    const sorted = [...startups].sort((a, b) => a - b);
    process.stdout.write(
      `      operator start to 'caches synced': median ${sorted[sorted.length >> 1]} ms, max ${sorted.at(-1)} ms (times below count from it)\n`,
    );
    process.stdout.write(
      `      ${kills.length} kills in ${killedS.toFixed(0)} s: ${named} at a named point, ${missed} named not reached (SIGKILL), ${kills.length - named - missed} after a delay\n`,
    );
    process.stdout.write(`      ${kills.map((k, i) => `${i}: ${k}`).join('\n      ')}\n`);
    process.stdout.write(`      ${notes.join('\n      ')}\n`);

    // The undisturbed operator: every Cutover ends, rolled back when asked, else at steady state.
    await plan(KILLS, random, notes);
    operator = startCutoverProcess(identity.kubeconfig, ns);
    const end = Date.now() + 90_000;
    for (;;) {
      const st = await statuses();
      const open = tracked.filter((t) => !crashEnded(st.get(t.name) ?? {}));
      if (open.length === 0) break;
      if (Date.now() > end)
        assert.fail(
          `seed ${seed}: not ended: ${open.map((t) => `${t.name} ${JSON.stringify(st.get(t.name)).slice(0, 1200)}`).join('\n')}\n${operator.output().slice(-3000)}`,
        );
      await sleep(250);
    }
    await operator.stop();
    operator = undefined;
    await checkAll('at the end');
    const st = await statuses();
    for (const t of tracked) {
      const s = st.get(t.name)!;
      await assertCrashInvariants(t.w, t.name, t.asked);
      assert.equal(s.phase, t.asked ? 'RolledBack' : 'SteadyState', `${t.name}: ${s.phase}`);
      if (t.asked) {
        for (const a of s.rollback?.actions ?? [])
          assert.ok(['Succeeded', 'Skipped'].includes(a.state ?? ''), `${t.name}: ${JSON.stringify(a)}`);
        assert.equal(s.rollback?.trigger, 'SecurityFlag');
        assert.equal(
          s.rollback?.actions?.find((a) => a.name === 'Replay')?.state,
          'Succeeded',
          `${t.name}: replayed before traffic moved back`,
        );
      }
    }
    const totalS = (Date.now() - started) / 1000;
    const rolledBack = tracked.filter((t) => t.asked).length;
    process.stdout.write(
      `      ${tracked.length} Cutovers ended (${rolledBack} rolled back, ${tracked.length - rolledBack} steady state) ${totalS.toFixed(0)} s after the first kill; load ${loadavg()}\n`,
    );
  });
});
