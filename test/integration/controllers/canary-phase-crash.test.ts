/**
 * The operator process killed (SIGKILL, CUTOVER_CRASH_AT) at each write point of a CanaryPhase
 * sync that rolls back: after the claim, after the step is applied, after a round is measured,
 * after the restore. A new operator resumes each to the same end state: rolled back and restored,
 * the step applied once (one flag flip), each round recorded once.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
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

describe('CanaryPhase controller killed at each write point resumes to the same end state', function () {
  this.timeout(600_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let redisT: TestRedis;
  let redis: Redis;
  let exporter: TestExporter;
  let prom: TestPrometheus;
  let gauge: Gauge;
  let operator: OperatorProcess | undefined;

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    ns = await cluster.createNamespace('ctl-canary-crash');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    redisT = await useRedis('canary-crash');
    redis = new Redis(redisT.url);
    const registry = new Registry();
    gauge = new Gauge({ name: 'crash_p95', help: 'p95', labelNames: ['phase'], registers: [registry] });
    exporter = await startTestExporter(registry);
    prom = await startPrometheus({ targets: [exporter.target] });
    await prom.waitForTargets();
    await admin.create(SECRET, ns, { metadata: { name: 'flags-redis' }, stringData: { url: redisT.url } });
  });
  after(async () => {
    await operator?.stop();
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
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 90_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  for (const [i, point] of POINTS.entries()) {
    it(`killed at ${point}`, async () => {
      const name = `crash-${i}`;
      const prefix = `${redisT.prefix}${name}:`;
      gauge.set({ phase: name }, 3);
      await waitFor('the bad value scraped', async () =>
        (await prom.query(`crash_p95{phase="${name}"}`)).length === 1 ? true : undefined,
      );
      await operator?.stop();
      const crashing = run(`${point}@${ns}/${name}`);
      operator = crashing;
      await admin.create<CP>(CANARY_PHASE, ns, {
        apiVersion: 'cutover.nokta.io/v1alpha1',
        kind: 'CanaryPhase',
        metadata: { name },
        spec: {
          flagProvider: {
            type: 'Redis',
            redis: { secretRef: { name: 'flags-redis', key: 'url' }, keyPrefix: prefix },
          },
          services: [{ name: 'pos', flagKey: 'new-stack' }],
          steps: [{ weight: 10, pause: '1h' }],
          analysis: {
            interval: '1s',
            consecutiveFailureLimit: 2,
            prometheusAddress: prom.url,
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
      operator = run();
      const s = await waitFor('rolled back and restored', async () => {
        const st: CanaryPhaseStatus | undefined = (await admin.tryGet<CP>(CANARY_PHASE, ns, name))?.status;
        return st?.phase === 'RolledBack' && st.restoredAt !== undefined ? st : undefined;
      });
      assert.deepEqual(await redis.hgetall(`${prefix}flags:pos:new-stack`), {}, 'the flag given back');
      assert.equal(
        await redis.get(`${prefix}flags:pos:new-stack:version`),
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
