/**
 * Stickiness end to end: a CanaryPhase service's flag at 5 % then 10 % (the controller's own
 * mapping, ./resolve.ts) written by the real flag stores, then 100,000 session keys evaluated
 * through flagd's own evaluation (@openfeature/flagd-core over the ConfigMap document) and through
 * the Redis layout (the hash read as a Redis reader reads it).
 */
import assert from 'node:assert/strict';
import { FlagdCore } from '@openfeature/flagd-core';
import { Redis } from 'ioredis';
import { FLAGD_DATA_KEY, FlagdConfigMapStore } from '../../../src/actuators/flags/flagd-configmap.js';
import { evaluateState, parseState } from '../../../src/actuators/flags/flag-model.js';
import { RedisFlagStore } from '../../../src/actuators/flags/redis-flags.js';
import { flagSpecFor, resolve } from '../../../src/controllers/canary-phase/resolve.js';
import type { KubeClient, KubeObject } from '../../../src/runtime/kube-client.js';
import { CONFIG_MAP } from '../../../src/runtime/resources.js';
import { operatorClient } from '../../support/api-usage.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { useRedis, type TestRedis } from '../../support/databases.js';
import { operatorIdentity } from '../../support/operator-identity.js';

const KEYS = 100_000;

describe('CanaryPhase stickiness: flagd-core and the Redis layout agree, 10 % ± 0.5 %, 5 % ⊂ 10 %', function () {
  this.timeout(240_000);
  let cluster: TestCluster;
  let ns: string;
  let client: KubeClient;
  let redisT: TestRedis;
  let redis: Redis;

  before(async () => {
    cluster = await useCluster();
    ns = await cluster.createNamespace('ctl-sticky');
    client = (await operatorClient(cluster, ns, 'controllers/canary-phase')).client;
    redisT = await useRedis('sticky');
    redis = new Redis(redisT.url);
  });
  after(async () => {
    redis?.disconnect();
    await redisT?.cleanup();
    client?.close();
    if (ns) {
      await (await operatorIdentity(cluster, ns)).cleanup();
      await cluster.deleteNamespace(ns);
    }
  });

  it('every session on at 5 % is still on at 10 %, and about 10 % are on, by both readers', async () => {
    await client.create(CONFIG_MAP, ns, { metadata: { name: 'flags' }, data: {} });
    const resolved = resolve(
      {
        flagProvider: { type: 'Flagd', flagd: { configMapName: 'flags' } },
        services: [{ name: 'pos', routing: 'Flag', flagKey: 'new-stack' }],
        steps: [{ weight: 5 }, { weight: 10 }],
        analysis: { metrics: [{ name: 'm', job: { command: ['true'] } }] },
      },
      ns,
      undefined,
    );
    const pos = resolved.services[0]!;
    const flagd = new FlagdConfigMapStore(client, { namespace: ns, name: 'flags' });
    const store = new RedisFlagStore(redis, redisT.prefix);
    const readers = async (): Promise<{ core: FlagdCore; redisOn: (k: string) => boolean }> => {
      const cm = await client.get<KubeObject & { data: Record<string, string> }>(CONFIG_MAP, ns, 'flags');
      const core = new FlagdCore();
      core.setConfigurations(cm.data[FLAGD_DATA_KEY]!);
      // A Redis reader: HMGET <hash> <tenant> *, first non-nil, evaluated as flags/README.md says.
      const hash = await redis.hgetall(`${redisT.prefix}flags:pos:new-stack`);
      const state = parseState(hash['*']!);
      return {
        core,
        redisOn: (k) => evaluateState('pos.new-stack', state, { tenantId: 't1', sessionId: k }) === 'on',
      };
    };
    const onKeys = async (weight: number): Promise<Set<number>> => {
      const spec = flagSpecFor(pos, weight, resolved.bucketingKey);
      await flagd.apply(spec);
      await store.apply(spec);
      const { core, redisOn } = await readers();
      const on = new Set<number>();
      for (let i = 0; i < KEYS; i++) {
        const key = `session-${i}`;
        const viaFlagd = core.resolveBooleanEvaluation('pos.new-stack', false, {
          tenantId: 't1',
          sessionId: key,
        }).value;
        assert.equal(viaFlagd, redisOn(key), `flagd and the Redis layout disagree on ${key} at ${weight} %`);
        if (viaFlagd) on.add(i);
      }
      return on;
    };
    const at5 = await onKeys(5);
    const at10 = await onKeys(10);
    const share = (at10.size / KEYS) * 100;
    console.log(`        at 5 %: ${at5.size} of ${KEYS} on; at 10 %: ${at10.size} (${share.toFixed(3)} %)`);
    assert.ok(Math.abs(share - 10) <= 0.5, `10 % ± 0.5 %: got ${share} %`);
    assert.ok(Math.abs((at5.size / KEYS) * 100 - 5) <= 0.5);
    const lost = [...at5].filter((i) => !at10.has(i));
    assert.deepEqual(lost, [], 'every session on the new stack at 5 % is still there at 10 %');
  });
});
