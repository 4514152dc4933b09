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
import { Gauge, Registry } from 'prom-client';
import { parseState } from '../../../src/actuators/flags/flag-model.js';
import type { CanaryPhaseStatus } from '../../../src/api/types.js';
import { CANARY_PHASE } from '../../../src/controllers/kinds.js';
import { prng } from '../../../src/devenv/nokta-data/generator.js';
import { useCanaryWorld, FLAGS_REDIS_SECRET, type CP } from '../../support/canary-world.js';
import { sleep, waitFor } from '../../support/wait-for.js';

const POINTS = ['canary-claimed', 'canary-applied', 'canary-measured', 'canary-restored'];
const PHASES = 20;
const SERVICES = ['pos', 'driver'];
/** Kill rounds before the undisturbed operator. */
const ROUNDS = 8;
const failing = (i: number): boolean => i % 3 === 0;
const nameOf = (i: number): string => `rnd-${String(i).padStart(2, '0')}`;

describe('CanaryPhase controller killed at random points during 20 phases resumes each to its end state', function () {
  this.timeout(600_000);
  const registry = new Registry();
  const gauge = new Gauge({ name: 'rnd_p95', help: 'p95', labelNames: ['phase'], registers: [registry] });
  for (let i = 0; i < PHASES; i++) gauge.set({ phase: nameOf(i) }, failing(i) ? 3 : 1);
  const w = useCanaryWorld({ namespace: 'ctl-canary-rnd', registry });

  const prefixOf = (name: string): string => `${w.redisT.prefix}${name}:`;
  const flagKey = (name: string, service: string): string => `${prefixOf(name)}flags:${service}:new-stack`;
  const statuses = async (): Promise<Map<string, CanaryPhaseStatus>> =>
    new Map(
      (await w.admin.listAll<CP>(CANARY_PHASE, { namespace: w.ns })).items.map((o) => [
        o.metadata.name,
        o.status ?? {},
      ]),
    );
  const finished = (s: CanaryPhaseStatus | undefined): boolean =>
    s?.phase === 'Succeeded' || (s?.phase === 'RolledBack' && s.restoredAt !== undefined);

  it('every phase ends as an uninterrupted run would, whatever point the operator died at', async () => {
    const seed = Number(process.env.CANARY_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    process.stdout.write(`      seed ${seed} (CANARY_CRASH_SEED replays it)\n`);
    const random = prng(seed);
    for (let i = 0; i < PHASES; i++) {
      const name = nameOf(i);
      const q = `max(rnd_p95{phase="${name}"})`;
      await waitFor(`${q} scraped`, async () => (await w.prom.query(q)).length > 0, 30_000);
    }
    const started = Date.now();
    for (let i = 0; i < PHASES; i++) {
      const name = nameOf(i);
      await w.admin.create<CP>(CANARY_PHASE, w.ns, {
        apiVersion: 'cutover.nokta.io/v1alpha1',
        kind: 'CanaryPhase',
        metadata: { name },
        spec: {
          flagProvider: {
            type: 'Redis',
            redis: { secretRef: { name: FLAGS_REDIS_SECRET, key: 'url' }, keyPrefix: prefixOf(name) },
          },
          services: SERVICES.map((s) => ({ name: s, flagKey: 'new-stack' })),
          // Failing phases hold one step until the second failed round rolls both services back;
          // passing ones go 10 % → 50 % and succeed at the end of the duration.
          steps: failing(i) ? [{ weight: 10, pause: '1h' }] : [{ weight: 10, pause: '2s' }, { weight: 50 }],
          ...(failing(i) ? {} : { duration: '6s', autoPromote: true }),
          analysis: {
            interval: '1s',
            consecutiveFailureLimit: 2,
            prometheusAddress: w.prom.url,
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
      const op = w.runOperator(`${point}@${w.ns}/${target}`);
      const how = await Promise.race([
        op.exited().then(() => `itself at ${point} of ${target}`),
        new Promise<string>((r) => setTimeout(() => r(`SIGKILL after ${delayMs} ms`), delayMs)),
      ]);
      await op.kill();
      kills.push(how);
    }
    process.stdout.write(`      kills: ${kills.join('; ')}\n`);

    w.runOperator();
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
      await sleep(250);
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
        const hash = await w.redis.hgetall(flagKey(name, svc));
        const version = Number((await w.redis.get(`${flagKey(name, svc)}:version`)) ?? '0');
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
