/**
 * The operator killed at random points while it drives 20 CanaryPhases at once (a third of them
 * rolling back): each round starts an operator that kills itself at a random write point of a
 * random unfinished phase (CUTOVER_CRASH_AT) or is SIGKILLed after a random delay, whichever
 * comes first. A last operator runs undisturbed. Every phase must end as an uninterrupted run
 * would: the passing ones Succeeded with both flags at the last step, the failing ones RolledBack
 * with both services restored (no scope half restored), no flag flipped more often than its steps
 * and restore need, every measurement round recorded once.
 * The seed is printed; CANARY_CRASH_SEED replays a run.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import { parseState } from '../../../src/actuators/flags/flag-model.js';
import type { CanaryPhase, CanaryPhaseStatus } from '../../../src/api/types.js';
import { CANARY_PHASE } from '../../../src/controllers/kinds.js';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.js';
import { SECRET } from '../../../src/runtime/resources.js';
import { followOperator } from '../../support/api-usage.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { useRedis, type TestRedis } from '../../support/databases.js';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import { startOperator, type OperatorProcess } from '../../support/operator-process.js';
import {
  startPrometheus,
  startTestExporter,
  type TestExporter,
  type TestPrometheus,
} from '../../support/prometheus.js';

type CP = CanaryPhase & KubeObject;
const POINTS = ['canary-claimed', 'canary-applied', 'canary-measured', 'canary-restored'];
const PHASES = 20;
const SERVICES = ['pos', 'driver'];
/** Kill rounds before the undisturbed operator. */
const ROUNDS = 8;
const failing = (i: number): boolean => i % 3 === 0;
const nameOf = (i: number): string => `rnd-${String(i).padStart(2, '0')}`;

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('CanaryPhase controller killed at random points during 20 phases resumes each to its end state', function () {
  this.timeout(600_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let redisT: TestRedis;
  let redis: Redis;
  let exporter: TestExporter;
  let prom: TestPrometheus;
  let operator: OperatorProcess | undefined;

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    ns = await cluster.createNamespace('ctl-canary-rnd');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    redisT = await useRedis('canary-rnd');
    redis = new Redis(redisT.url);
    const registry = new Registry();
    const gauge = new Gauge({ name: 'rnd_p95', help: 'p95', labelNames: ['phase'], registers: [registry] });
    for (let i = 0; i < PHASES; i++) gauge.set({ phase: nameOf(i) }, failing(i) ? 3 : 1);
    exporter = await startTestExporter(registry);
    prom = await startPrometheus({ targets: [exporter.target] });
    await prom.waitForTargets();
    await admin.create(SECRET, ns, { metadata: { name: 'flags-redis' }, stringData: { url: redisT.url } });
  });
  after(async () => {
    await operator?.kill();
    redis?.disconnect();
    await redisT?.cleanup();
    await prom?.stop();
    await exporter?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
  });

  const run = (crashAt?: string): OperatorProcess => {
    const op = startOperator(
      [
        '--kubeconfig',
        identity.kubeconfig,
        '--namespaces',
        ns,
        '--no-leader-elect',
        '--controllers',
        'canary-phase',
      ],
      crashAt ? { CUTOVER_CRASH_AT: crashAt } : {},
    );
    followOperator('controllers/canary-phase', op);
    return op;
  };
  const prefixOf = (name: string): string => `${redisT.prefix}${name}:`;
  const flagKey = (name: string, service: string): string => `${prefixOf(name)}flags:${service}:new-stack`;
  const statuses = async (): Promise<Map<string, CanaryPhaseStatus>> =>
    new Map(
      (await admin.listAll<CP>(CANARY_PHASE, { namespace: ns })).items.map((o) => [
        o.metadata.name,
        o.status ?? {},
      ]),
    );
  const finished = (s: CanaryPhaseStatus | undefined): boolean =>
    s?.phase === 'Succeeded' || (s?.phase === 'RolledBack' && s.restoredAt !== undefined);

  it('every phase ends as an uninterrupted run would, whatever point the operator died at', async () => {
    const seed = Number(process.env.CANARY_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    process.stdout.write(`      seed ${seed} (CANARY_CRASH_SEED replays it)\n`);
    const random = rng(seed);
    for (let i = 0; i < PHASES; i++) {
      const name = nameOf(i);
      const q = `max(rnd_p95{phase="${name}"})`;
      for (let k = 0; k < 300 && (await prom.query(q)).length === 0; k++)
        await new Promise((r) => setTimeout(r, 100));
    }
    const started = Date.now();
    for (let i = 0; i < PHASES; i++) {
      const name = nameOf(i);
      await admin.create<CP>(CANARY_PHASE, ns, {
        apiVersion: 'cutover.nokta.io/v1alpha1',
        kind: 'CanaryPhase',
        metadata: { name },
        spec: {
          flagProvider: {
            type: 'Redis',
            redis: { secretRef: { name: 'flags-redis', key: 'url' }, keyPrefix: prefixOf(name) },
          },
          services: SERVICES.map((s) => ({ name: s, flagKey: 'new-stack' })),
          // Failing phases hold one step until the second failed round rolls both services back;
          // passing ones go 10 % → 50 % and succeed at the end of the duration.
          steps: failing(i) ? [{ weight: 10, pause: '1h' }] : [{ weight: 10, pause: '2s' }, { weight: 50 }],
          ...(failing(i) ? {} : { duration: '6s', autoPromote: true }),
          analysis: {
            interval: '1s',
            consecutiveFailureLimit: 2,
            prometheusAddress: prom.url,
            metrics: [
              {
                name: 'p95',
                prometheus: { query: `max(rnd_p95{phase="${name}"})` },
                successCondition: 'result <= 1.5',
              },
            ],
          },
        },
      });
    }

    const kills: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const st = await statuses();
      const open = [...Array(PHASES).keys()].map(nameOf).filter((n) => !finished(st.get(n)));
      if (open.length === 0) break;
      const target = open[Math.floor(random() * open.length)]!;
      const point = POINTS[Math.floor(random() * POINTS.length)]!;
      const delayMs = 1500 + Math.floor(random() * 4000);
      const op = run(`${point}@${ns}/${target}`);
      operator = op;
      const how = await Promise.race([
        op.exited().then(() => `itself at ${point} of ${target}`),
        new Promise<string>((r) => setTimeout(() => r(`SIGKILL after ${delayMs} ms`), delayMs)),
      ]);
      await op.kill();
      kills.push(how);
    }
    process.stdout.write(`      kills: ${kills.join('; ')}\n`);

    operator = run();
    const end = Date.now() + 120_000;
    let st = await statuses();
    while ([...Array(PHASES).keys()].some((i) => !finished(st.get(nameOf(i))))) {
      if (Date.now() > end)
        assert.fail(
          `not finished: ${[...st.entries()]
            .filter(([, s]) => !finished(s))
            .map(([n, s]) => `${n} ${s.phase ?? '-'} ${s.message ?? ''}`)
            .join('; ')}`,
        );
      await new Promise((r) => setTimeout(r, 250));
      st = await statuses();
    }
    const elapsedS = (Date.now() - started) / 1000;

    const problems: string[] = [];
    for (let i = 0; i < PHASES; i++) {
      const name = nameOf(i);
      const s = st.get(name)!;
      const rounds = s.measurements ?? [];
      if (s.measurementsTaken !== rounds.length)
        problems.push(`${name}: ${s.measurementsTaken} rounds taken, ${rounds.length} recorded`);
      if ((s.measurementsTaken ?? 0) > elapsedS + 1)
        problems.push(
          `${name}: ${s.measurementsTaken} rounds in ${elapsedS.toFixed(0)} s: missed rounds replayed`,
        );
      for (const svc of SERVICES) {
        const hash = await redis.hgetall(flagKey(name, svc));
        const version = Number((await redis.get(`${flagKey(name, svc)}:version`)) ?? '0');
        if (failing(i)) {
          if (s.phase !== 'RolledBack') problems.push(`${name}: ${s.phase ?? '-'}, expected RolledBack`);
          if (Object.keys(hash).length !== 0)
            problems.push(`${name} ${svc}: flag not given back: ${JSON.stringify(hash)}`);
          // One flip for the step, one for the restore: a step applied twice or a restore run
          // twice over a changed flag would show as more.
          if (version !== 2) problems.push(`${name} ${svc}: version ${version}, expected 2`);
        } else {
          if (s.phase !== 'Succeeded') problems.push(`${name}: ${s.phase ?? '-'}, expected Succeeded`);
          const pct = hash['*'] !== undefined ? parseState(hash['*']).percentage : undefined;
          if (pct !== 50) problems.push(`${name} ${svc}: ${String(pct)} % at the end, expected 50`);
          if (version < 1 || version > 2)
            problems.push(`${name} ${svc}: version ${version}, expected 1 or 2 (two steps)`);
        }
      }
      if (failing(i)) {
        if (rounds.filter((m) => m.result === 'Failed').length !== 2 || s.measurementsTaken !== 2)
          problems.push(
            `${name}: rounds ${JSON.stringify(rounds.map((m) => m.result))}, expected two Failed`,
          );
        if ([...(s.restoredServices ?? [])].sort().join() !== [...SERVICES].sort().join())
          problems.push(`${name}: restored ${JSON.stringify(s.restoredServices)}: half restored`);
      } else if (rounds.some((m) => m.result !== 'Successful'))
        problems.push(`${name}: ${JSON.stringify(rounds.map((m) => m.result))}`);
    }
    assert.deepEqual(problems, [], `seed ${seed}, kills: ${kills.join('; ')}`);
  });
});
