/**
 * The operator process killed (SIGKILL, CUTOVER_CRASH_AT) at each write point of a CanaryPhase
 * sync that rolls back: after the claim, after the step is applied, after a round is measured,
 * after the restore. A new operator resumes each to the same end state: rolled back and restored,
 * the step applied once (one flag flip), each round recorded once.
 */
import assert from 'node:assert/strict';
import { Gauge, Registry } from 'prom-client';
import type { CanaryPhaseStatus } from '../../../src/api/types.js';
import { CANARY_PHASE } from '../../../src/controllers/kinds.js';
import { useCanaryWorld, FLAGS_REDIS_SECRET, type CP } from '../../support/canary-world.js';
import { waitFor } from '../../support/wait-for.js';

const POINTS = ['canary-claimed', 'canary-applied', 'canary-measured', 'canary-restored'];

describe('CanaryPhase controller killed at each write point resumes to the same end state', function () {
  this.timeout(600_000);
  const registry = new Registry();
  const gauge = new Gauge({ name: 'crash_p95', help: 'p95', labelNames: ['phase'], registers: [registry] });
  const w = useCanaryWorld({ namespace: 'ctl-canary-crash', registry });

  for (const [i, point] of POINTS.entries()) {
    it(`killed at ${point}`, async () => {
      const name = `crash-${i}`;
      const prefix = `${w.redisT.prefix}${name}:`;
      gauge.set({ phase: name }, 3);
      await waitFor(
        'the bad value scraped',
        async () => (await w.prom.query(`crash_p95{phase="${name}"}`)).length === 1,
        90_000,
      );
      await w.operator?.stop();
      const crashing = w.runOperator(`${point}@${w.ns}/${name}`);
      await w.admin.create<CP>(CANARY_PHASE, w.ns, {
        apiVersion: 'cutover.nokta.io/v1alpha1',
        kind: 'CanaryPhase',
        metadata: { name },
        spec: {
          flagProvider: {
            type: 'Redis',
            redis: { secretRef: { name: FLAGS_REDIS_SECRET, key: 'url' }, keyPrefix: prefix },
          },
          services: [{ name: 'pos', flagKey: 'new-stack' }],
          steps: [{ weight: 10, pause: '1h' }],
          analysis: {
            interval: '1s',
            consecutiveFailureLimit: 2,
            prometheusAddress: w.prom.url,
            metrics: [
              {
                name: 'p95',
                prometheus: { query: `max(crash_p95{phase="${name}"})` },
                successCondition: 'result <= 1.5',
              },
            ],
          },
        },
      });
      const code = await Promise.race([
        crashing.exited(),
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 90_000)),
      ]);
      assert.equal(code, null, `the operator killed itself at ${point}:\n${crashing.output().slice(-2000)}`);
      w.runOperator();
      const s = await waitFor(
        'rolled back and restored',
        async () => {
          const st: CanaryPhaseStatus | undefined = await w.status(name);
          return st?.phase === 'RolledBack' && st.restoredAt !== undefined ? st : undefined;
        },
        90_000,
      );
      assert.deepEqual(await w.redis.hgetall(`${prefix}flags:pos:new-stack`), {}, 'the flag given back');
      assert.equal(
        await w.redis.get(`${prefix}flags:pos:new-stack:version`),
        '2',
        'one flip for the step and one for the restore: nothing applied twice',
      );
      const failed = (s.measurements ?? []).filter((m) => m.result === 'Failed');
      assert.equal(failed.length, 2, JSON.stringify(s.measurements));
      assert.equal(s.measurementsTaken, 2, 'each round counted once');
      assert.deepEqual(s.restoredServices, ['pos']);
    });
  }
});
