/**
 * `npm run bench -- canary`: 20 CanaryPhases (a flag-routed service in Redis and a
 * traffic-routed HTTPRoute each), analysis every 1 s with a failure limit of 2, a real
 * Prometheus scraping gauges the bench sets. All go bad at once; for each phase, the time from
 * the deciding (second failing) measurement (`status.rollback.at`) to the moment a reader sees the
 * flag gone from Redis and the route's weights given back on the API server. Prints median and
 * worst in ms (goal: median < 1 s, worst < 2 s). Uses the Redis at 127.0.0.1:6379 (keys under a
 * unique prefix, removed afterwards) and the test cluster.
 */
import { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import type { CanaryPhase, CanaryPhaseSpec } from '../src/api/types.js';
import { closeFlagConnections } from '../src/controllers/canary-phase/exposure.js';
import { canaryPhaseController } from '../src/controllers/canary-phase/sync.js';
import { CANARY_PHASE } from '../src/controllers/kinds.js';
import { KubeClient, type KubeObject } from '../src/runtime/kube-client.js';
import { Operator } from '../src/runtime/operator.js';
import { parseOperatorOptions } from '../src/runtime/options.js';
import { HTTP_ROUTE, SECRET } from '../src/runtime/resources.js';
import { useCluster, stopSharedCluster } from '../test/support/cluster.js';
import { useRedis } from '../test/support/databases.js';
import { startPrometheus, startTestExporter } from '../test/support/prometheus.js';

const PHASES = 20;
type CP = CanaryPhase & KubeObject;
type Route = KubeObject & {
  spec: { rules: Array<{ backendRefs?: Array<{ name: string; weight?: number }> }> };
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runCanaryBench(): Promise<void> {
  const cluster = await useCluster();
  await cluster.applyCrds();
  await cluster.applyGatewayApiCrds();
  const ns = await cluster.createNamespace('bench-canary');
  const admin = new KubeClient(cluster.kc);
  const redisT = await useRedis('bench-canary');
  const redis = new Redis(redisT.url);
  const registry = new Registry();
  const gauge = new Gauge({ name: 'bench_p95', help: 'p95', labelNames: ['phase'], registers: [registry] });
  const exporter = await startTestExporter(registry);
  const prom = await startPrometheus({ targets: [exporter.target] });
  let operator: Operator | undefined;
  try {
    await prom.waitForTargets();
    await admin.create(SECRET, ns, { metadata: { name: 'flags-redis' }, stringData: { url: redisT.url } });
    const names = Array.from({ length: PHASES }, (_, i) => `phase-${String(i).padStart(2, '0')}`);
    // Each route's rules before the phase, as the API server stored them.
    const original = new Map<string, string>();
    for (const n of names) {
      gauge.set({ phase: n }, 0.5);
      const created = await admin.create<Route>(HTTP_ROUTE, ns, {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: n },
        spec: {
          parentRefs: [{ name: 'gw' }],
          rules: [{ backendRefs: [{ name: `${n}-legacy`, port: 8080 }] }],
        },
      });
      original.set(n, JSON.stringify(created.spec.rules));
    }
    const parsed = parseOperatorOptions(
      [
        '--no-leader-elect',
        '--namespaces',
        ns,
        '--listen-address',
        '127.0.0.1:0',
        '--identity',
        'bench-canary',
      ],
      {},
    );
    if (parsed.kind !== 'options') throw new Error('bad options');
    operator = new Operator(parsed.options, [canaryPhaseController()], { kc: cluster.kc });
    await operator.start();
    const spec = (n: string): CanaryPhaseSpec => ({
      flagProvider: {
        type: 'Redis',
        redis: { secretRef: { name: 'flags-redis', key: 'url' }, keyPrefix: `${redisT.prefix}${n}:` },
      },
      services: [
        { name: 'pos', routing: 'Flag', flagKey: 'new-stack' },
        {
          name: 'reports',
          routing: 'Traffic',
          traffic: {
            httpRoute: {
              name: n,
              legacyBackend: { name: `${n}-legacy`, port: 8080 },
              newBackend: { name: `${n}-v2`, port: 8080 },
            },
          },
        },
      ],
      steps: [{ weight: 10, pause: '1h' }],
      analysis: {
        interval: '1s',
        consecutiveFailureLimit: 2,
        prometheusAddress: prom.url,
        metrics: [
          {
            name: 'p95',
            prometheus: { query: `max(bench_p95{phase="${n}"})` },
            successCondition: 'result <= 1.5',
          },
        ],
      },
    });
    for (const n of names)
      await admin.create<CP>(CANARY_PHASE, ns, {
        apiVersion: 'cutover.nokta.io/v1alpha1',
        kind: 'CanaryPhase',
        metadata: { name: n },
        spec: spec(n),
      });
    // Every phase applied (the route weighted) and measured good once.
    for (;;) {
      const list = (await admin.list<CP>(CANARY_PHASE, { namespace: ns })).items;
      if (
        list.length === PHASES &&
        list.every((c) => c.status?.appliedStep === 0 && (c.status.measurementsTaken ?? 0) >= 1)
      )
        break;
      await sleep(200);
    }
    for (const n of names) gauge.set({ phase: n }, 3);
    // The reader: flag hash empty in Redis and no weights on the route, first seen at.
    const seen = new Map<string, number>();
    const started = Date.now();
    while (seen.size < PHASES && Date.now() - started < 60_000) {
      await Promise.all(
        names
          .filter((n) => !seen.has(n))
          .map(async (n) => {
            const [fields, route] = await Promise.all([
              redis.hlen(`${redisT.prefix}${n}:flags:pos:new-stack`),
              admin.get<Route>(HTTP_ROUTE, ns, n),
            ]);
            // The route as it was before the phase (the API server defaults weight 1 on it).
            if (fields === 0 && JSON.stringify(route.spec.rules) === original.get(n)) seen.set(n, Date.now());
          }),
      );
      await sleep(20);
    }
    const latencies: number[] = [];
    const rows: string[] = [];
    for (const n of names) {
      const cp = await admin.get<CP>(CANARY_PHASE, ns, n);
      const at = cp.status?.rollback?.at ? Date.parse(cp.status.rollback.at) : undefined;
      const fails = (cp.status?.measurements ?? []).filter((m) => m.result === 'Failed').length;
      if (at === undefined || !seen.has(n)) {
        const route = await admin.get<Route>(HTTP_ROUTE, ns, n);
        const fields = await redis.hlen(`${redisT.prefix}${n}:flags:pos:new-stack`);
        rows.push(
          `  ${n}: not seen restored (${cp.status?.phase ?? 'no status'}; flag fields ${fields}; rules ${JSON.stringify(route.spec.rules)} vs ${original.get(n)})`,
        );
        continue;
      }
      const ms = seen.get(n)! - at;
      latencies.push(ms);
      rows.push(`  ${n}: ${ms} ms (phase ${cp.status?.phase}, ${fails} failed measurements)`);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const median = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : NaN;
    process.stdout.write(
      `\n${rows.join('\n')}\n` +
        `deciding measurement → flags off in Redis and weights given back on the API server (${latencies.length} of ${PHASES} phases, reader polls every 20 ms):\n` +
        `  median ${median} ms, worst ${sorted.at(-1) ?? NaN} ms (goal: median < 1000 ms, worst < 2000 ms)\n`,
    );
  } finally {
    await operator?.stop();
    await closeFlagConnections();
    redis.disconnect();
    await redisT.cleanup();
    await prom.stop();
    await exporter.stop();
    admin.close();
    await cluster.deleteNamespace(ns);
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  runCanaryBench()
    .then(() => stopSharedCluster())
    .catch(async (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      await stopSharedCluster();
      process.exit(1);
    });
}
