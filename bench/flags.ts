/**
 * `npm run bench -- flags`: how long flipping one service's flag for 10,000 tenants takes in Redis
 * (one Lua script) and in the flagd ConfigMap (one read-modify-write of the ConfigMap), with the
 * no-op re-apply and the restore for comparison. Uses the Redis at TEST_REDIS_URL (default
 * 127.0.0.1:6379, keys under a unique prefix, removed afterwards) and the test cluster.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import * as k8s from '@kubernetes/client-node';
import { RedisFlagStore } from '../src/actuators/flags/redis-flags.js';
import { FLAGD_DATA_KEY, FlagdConfigMapStore } from '../src/actuators/flags/flagd-configmap.js';
import type { FlagSpec } from '../src/actuators/types.js';
import { KubeClient } from '../src/runtime/kube-client.js';
import { loadKubeConfig } from '../src/runtime/kubeconfig.js';
import { useCluster } from '../test/support/cluster.js';

const TENANTS = 10_000;
const RUNS = 5;

interface Timing {
  median: number;
  min: number;
  max: number;
}

function summarize(ms: number[]): Timing {
  const s = [...ms].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const fmt = (t: Timing): string =>
  `median ${t.median.toFixed(1)} ms (min ${t.min.toFixed(1)}, max ${t.max.toFixed(1)})`;

interface FlagStore {
  apply(spec: FlagSpec): Promise<unknown>;
  restore(service: string, key: string): Promise<unknown>;
}

async function measure(
  store: FlagStore,
  tenants: string[],
): Promise<{ flip: Timing; noop: Timing; restore: number }> {
  const base: FlagSpec = {
    service: 'pos',
    key: 'new-stack',
    tenants,
    enabled: false,
    percentage: 0,
    bucketingKey: 'sessionId',
  };
  await store.apply(base);
  const flips: number[] = [];
  const noops: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const spec = { ...base, enabled: true, percentage: i % 2 === 0 ? 10 : 50 };
    flips.push(await time(() => store.apply(spec)));
    noops.push(await time(() => store.apply(spec)));
  }
  const restore = await time(() => store.restore('pos', 'new-stack'));
  return { flip: summarize(flips), noop: summarize(noops), restore };
}

export async function runFlagsBench(): Promise<void> {
  const tenants = Array.from({ length: TENANTS }, (_, i) => `tenant-${String(i).padStart(5, '0')}`);
  const out = (line: string): void => void process.stdout.write(`${line}\n`);

  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
  const prefix = `bench-flags-${randomBytes(4).toString('hex')}:`;
  try {
    const r = await measure(new RedisFlagStore(redis, prefix), tenants);
    out(`redis  flip ${TENANTS} tenants (one Lua script): ${fmt(r.flip)}`);
    out(`redis  same flip again (no write):              ${fmt(r.noop)}`);
    out(`redis  restore:                                 ${r.restore.toFixed(1)} ms`);
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }

  const cluster = await useCluster();
  const ns = await cluster.createNamespace('bench-flags');
  const client = new KubeClient(await loadKubeConfig(cluster.kubeconfigPath));
  try {
    const store = new FlagdConfigMapStore(client, { namespace: ns, name: 'flags' });
    const r = await measure(store, tenants);
    const core = cluster.kc.makeApiClient(k8s.CoreV1Api);
    await store.apply({
      service: 'pos',
      key: 'new-stack',
      tenants,
      enabled: true,
      percentage: 10,
      bucketingKey: 'sessionId',
    });
    const cm = await core.readNamespacedConfigMap({ name: 'flags', namespace: ns });
    const bytes = Object.values(cm.data ?? {}).reduce((n, v) => n + Buffer.byteLength(v), 0);
    out(`flagd  flip ${TENANTS} tenants (one ConfigMap write): ${fmt(r.flip)}`);
    out(`flagd  same flip again (no write):                 ${fmt(r.noop)}`);
    out(`flagd  restore:                                    ${r.restore.toFixed(1)} ms`);
    out(
      `flagd  ConfigMap size with ${TENANTS} tenants: ${(bytes / 1024).toFixed(0)} KiB (flags doc ${(Buffer.byteLength(cm.data?.[FLAGD_DATA_KEY] ?? '') / 1024).toFixed(0)} KiB)`,
    );
  } finally {
    client.close();
    await cluster.deleteNamespace(ns);
  }
}
