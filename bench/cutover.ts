/**
 * `npm run bench -- cutover`: the time from a rollback trigger (the security annotation) to
 * traffic back on legacy as a reader of the HTTPRoute sees it, median of 10 Cutovers, each
 * switched first by the Cutover controller (in this process, real control plane, Redis flags).
 * No replay Job is configured: the figure excludes the replay's own run time. Also prints the
 * API requests the operator made and its resident memory.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import type { Cutover } from '../src/api/index.js';
import { cutoverController } from '../src/controllers/cutover/sync.js';
import { CUTOVER } from '../src/controllers/kinds.js';
import { KubeClient, type KubeObject } from '../src/runtime/kube-client.js';
import { Operator } from '../src/runtime/operator.js';
import { parseOperatorOptions } from '../src/runtime/options.js';
import { HTTP_ROUTE, SECRET } from '../src/runtime/resources.js';
import { useCluster, stopSharedCluster } from '../test/support/cluster.js';

const RUNS = 10;

type Route = KubeObject & { spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] } };

export async function runCutoverBench(): Promise<void> {
  const cluster = await useCluster();
  await cluster.applyCrds();
  await cluster.applyGatewayApiCrds();
  const ns = await cluster.createNamespace('bench-cutover');
  const admin = new KubeClient(cluster.kc);
  const prefix = `bench-cutover-${randomBytes(4).toString('hex')}:`;
  await admin.create(SECRET, ns, {
    metadata: { name: 'redis' },
    stringData: { url: 'redis://127.0.0.1:6379/0' },
  });
  const parsed = parseOperatorOptions(
    ['--no-leader-elect', '--namespaces', ns, '--listen-address', '127.0.0.1:0'],
    {},
  );
  if (parsed.kind !== 'options') throw new Error('bad options');
  let requests = 0;
  const operator = new Operator(parsed.options, [cutoverController({ timeScale: 1 })], {
    kc: cluster.kc,
    onRequest: () => requests++,
  });
  await operator.start();
  const weights = async (name: string): Promise<number> => {
    const r = await admin.get<Route>(HTTP_ROUTE, ns, name);
    return r.spec.rules[0]!.backendRefs.find((b) => b.name === 'legacy')?.weight ?? 1;
  };
  const statusOf = async (name: string): Promise<Cutover['status']> =>
    (await admin.get<Cutover & KubeObject>(CUTOVER, ns, name)).status;
  const times: number[] = [];
  const t0 = performance.now();
  try {
    for (let i = 0; i < RUNS; i++) {
      const name = `pos-${i}`;
      await admin.create(HTTP_ROUTE, ns, {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name, namespace: ns },
        spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'legacy', port: 80 }] }] },
      });
      await admin.create(CUTOVER, ns, {
        apiVersion: 'cutover.nokta.io/v1alpha1',
        kind: 'Cutover',
        metadata: { name, namespace: ns },
        spec: {
          services: [
            {
              name: `svc${i}`,
              flagKey: 'new-stack',
              traffic: {
                httpRoute: {
                  name,
                  legacyBackend: { name: 'legacy', port: 80 },
                  newBackend: { name: 'new', port: 80 },
                },
              },
              legacy: { name: 'legacy' },
              new: { name: 'new' },
            },
          ],
          databases: {
            legacy: { engine: 'mysql', url: 'mysql://bench@127.0.0.1/legacy' },
            target: { engine: 'postgres', url: 'postgres://bench@127.0.0.1/new' },
          },
          flagProvider: { type: 'Redis', redis: { secretRef: { name: 'redis' }, keyPrefix: prefix } },
          timeline: {
            steps: [
              {
                name: 'switch',
                action: 'TrafficSwitch',
                at: new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
              },
              {
                name: 'flags',
                action: 'EnableFlags',
                at: new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
              },
            ],
          },
          rollback: { triggers: { securityFlag: {} }, order: ['TrafficBack', 'FlagsOff', 'Notify'] },
        },
      });
      for (;;) {
        const st = await statusOf(name);
        if (st?.steps?.find((s) => s.name === 'flags')?.state === 'Succeeded') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const start = performance.now();
      await admin.patch(CUTOVER, ns, name, {
        metadata: { annotations: { 'cutover.nokta.io/security-incident': 'true' } },
      });
      while ((await weights(name)) !== 100) await new Promise((r) => setTimeout(r, 5));
      times.push(performance.now() - start);
    }
  } finally {
    await operator.stop();
    const redis = new Redis('redis://127.0.0.1:6379/0');
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await cluster.deleteNamespace(ns);
    admin.close();
    await stopSharedCluster();
  }
  const s = [...times].sort((a, b) => a - b);
  const rss = process.memoryUsage().rss / 1024 / 1024;
  process.stdout.write(
    [
      `cutover: trigger (security annotation) -> traffic on legacy, as the route reads back, ${RUNS} Cutovers`,
      `  median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms (min ${s[0]!.toFixed(0)}, max ${s[s.length - 1]!.toFixed(0)}); goal < 2000 ms, no replay Job`,
      `  wall ${((performance.now() - t0) / 1000).toFixed(1)} s for ${RUNS} switch + rollback plays; ${requests} API requests by the operator; RSS of this process ${rss.toFixed(0)} MB (operator in-process)`,
      '',
    ].join('\n'),
  );
}
