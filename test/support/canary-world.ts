/**
 * The world the CanaryPhase controller tests share: the control plane with the CRDs, a namespace,
 * the operator's ServiceAccount identity, Redis for the flags (Secret `flags-redis` in the
 * namespace), and a real Prometheus scraping a test exporter whose gauges the test sets.
 * `useCanaryWorld` registers mocha's before/after hooks; read the fields inside tests.
 */
import { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { CanaryPhase, CanaryPhaseStatus } from '../../src/api/types.js';
import { CANARY_PHASE } from '../../src/controllers/kinds.js';
import { KubeClient, type KubeObject } from '../../src/runtime/kube-client.js';
import { SECRET } from '../../src/runtime/resources.js';
import { followOperator } from './api-usage.js';
import { useCluster, type TestCluster } from './cluster.js';
import { useRedis, type TestRedis } from './databases.js';
import { operatorIdentity, type OperatorIdentity } from './operator-identity.js';
import { startOperator, type OperatorProcess } from './operator-process.js';
import { startPrometheus, startTestExporter, type TestExporter, type TestPrometheus } from './prometheus.js';

export type CP = CanaryPhase & KubeObject;
/** The Secret (key `url`) that points the phases' Redis flag provider at the test Redis. */
export const FLAGS_REDIS_SECRET = 'flags-redis';

export interface CanaryWorld {
  cluster: TestCluster;
  ns: string;
  identity: OperatorIdentity;
  /** An admin client, for the test's own reads and writes (the operator runs as its ServiceAccount). */
  admin: KubeClient;
  redisT: TestRedis;
  redis: Redis;
  exporter: TestExporter;
  prom: TestPrometheus;
  /** The last operator process started by `runOperator` (killed after the suite). */
  operator: OperatorProcess | undefined;
  /**
   * Starts `cutover operator` as the operator's ServiceAccount with only the CanaryPhase
   * controller, in the world's namespace; `crashAt` sets CUTOVER_CRASH_AT.
   */
  runOperator(crashAt?: string): OperatorProcess;
  status(name: string): Promise<CanaryPhaseStatus | undefined>;
}

export function useCanaryWorld(opts: {
  namespace: string;
  registry: Registry;
  gatewayApi?: boolean;
}): CanaryWorld {
  const world = {
    operator: undefined,
    runOperator(crashAt?: string): OperatorProcess {
      const op = startOperator(
        [
          '--kubeconfig',
          world.identity.kubeconfig,
          '--namespaces',
          world.ns,
          '--no-leader-elect',
          '--controllers',
          'canary-phase',
        ],
        crashAt ? { CUTOVER_CRASH_AT: crashAt } : {},
      );
      followOperator('controllers/canary-phase', op);
      world.operator = op;
      return op;
    },
    async status(name: string): Promise<CanaryPhaseStatus | undefined> {
      return (await world.admin.tryGet<CP>(CANARY_PHASE, world.ns, name))?.status;
    },
  } as CanaryWorld;

  before(async () => {
    world.cluster = await useCluster();
    await world.cluster.applyCrds();
    if (opts.gatewayApi) await world.cluster.applyGatewayApiCrds();
    world.ns = await world.cluster.createNamespace(opts.namespace);
    world.identity = await operatorIdentity(world.cluster, world.ns);
    world.admin = new KubeClient(world.cluster.kc);
    world.redisT = await useRedis(opts.namespace);
    world.redis = new Redis(world.redisT.url);
    world.exporter = await startTestExporter(opts.registry);
    world.prom = await startPrometheus({ targets: [world.exporter.target] });
    await world.prom.waitForTargets();
    await world.admin.create(SECRET, world.ns, {
      metadata: { name: FLAGS_REDIS_SECRET },
      stringData: { url: world.redisT.url },
    });
  });
  after(async () => {
    await world.operator?.kill();
    world.redis?.disconnect();
    await world.redisT?.cleanup();
    await world.prom?.stop();
    await world.exporter?.stop();
    world.admin?.close();
    await world.identity?.cleanup();
    if (world.ns) await world.cluster.deleteNamespace(world.ns);
  });
  return world;
}
