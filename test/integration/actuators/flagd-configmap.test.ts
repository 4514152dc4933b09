import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { FlagdCore } from '@openfeature/flagd-core';
import { FLAGD_DATA_KEY, FlagdConfigMapStore } from '../../../src/actuators/flags/flagd-configmap.js';
import { evaluateFlag, flagdKey } from '../../../src/actuators/flags/flag-model.js';
import type { FlagSpec } from '../../../src/actuators/types.js';
import type { KubeClient } from '../../../src/runtime/kube-client.js';
import { operatorClient } from '../../support/api-usage.js';
import { operatorIdentity } from '../../support/operator-identity.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';

describe('actuators/flags flagd ConfigMap (real control plane + flagd-core)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: string;
  let core: k8s.CoreV1Api;
  let client: KubeClient;

  before(async () => {
    cluster = await useCluster();
    ns = await cluster.createNamespace('act-flagd');
    core = cluster.kc.makeApiClient(k8s.CoreV1Api);
    // The operator's own ServiceAccount and RBAC (deploy/operator/rbac.yaml), requests recorded.
    client = (await operatorClient(cluster, ns, 'actuators/flagd')).client;
  });
  after(async () => {
    client?.close();
    if (ns) {
      await (await operatorIdentity(cluster, ns)).cleanup();
      await cluster.deleteNamespace(ns);
    }
  });

  it('flips a service flag for its tenants in one write, idempotently; flagd evaluates it sticky; restore gives back the previous flags', async () => {
    const original = {
      $schema: 'https://flagd.dev/schema/v0/flags.json',
      flags: {
        'legacy.banner': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' },
        'pos.new-stack': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' },
      },
    };
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: { name: 'flags', namespace: ns },
        data: { [FLAGD_DATA_KEY]: JSON.stringify(original) },
      },
    });
    const store = new FlagdConfigMapStore(client, { namespace: ns, name: 'flags' });
    const tenants = Array.from({ length: 50 }, (_, i) => `tenant-${i}`);
    const spec: FlagSpec = {
      service: 'pos',
      key: 'new-stack',
      tenants,
      enabled: true,
      percentage: 10,
      bucketingKey: 'sessionId',
    };
    const first = await store.apply(spec);
    assert.equal(first.changed, true);
    const second = await store.apply(spec);
    assert.equal(second.changed, false);
    assert.equal(second.resourceVersion, first.resourceVersion, 'no second write');

    const load = async (): Promise<FlagdCore> => {
      const cm = await core.readNamespacedConfigMap({ name: 'flags', namespace: ns });
      const f = new FlagdCore();
      f.setConfigurations(cm.data![FLAGD_DATA_KEY]!);
      return f;
    };
    const at10 = await load();
    const state10 = (await store.flag('pos', 'new-stack'))!;
    await store.apply({ ...spec, percentage: 50 });
    const at50 = await load();
    const key = flagdKey('pos', 'new-stack');
    let on10 = 0;
    for (let i = 0; i < 20_000; i++) {
      const ctx = { tenantId: tenants[i % tenants.length]!, sessionId: `s-${i}` };
      const v10 = at10.resolveBooleanEvaluation(key, false, ctx).value;
      assert.equal(v10, evaluateFlag(state10, ctx) === 'on');
      if (v10) {
        on10++;
        assert.equal(
          at50.resolveBooleanEvaluation(key, false, ctx).value,
          true,
          'a session in at 10 % stays in at 50 %',
        );
      }
    }
    assert.ok(Math.abs(on10 / 200 - 10) <= 1, `share ${on10 / 200} %`);
    // A tenant outside the list keeps the flag off; the unmanaged flag is untouched.
    assert.equal(
      at50.resolveBooleanEvaluation(key, true, { tenantId: 'other', sessionId: 's-1' }).value,
      false,
    );
    assert.equal(at50.resolveBooleanEvaluation('legacy.banner', false, {}).value, true);

    // A crash right after the write: the next apply finds it done.
    const crashing = new FlagdConfigMapStore(
      client,
      { namespace: ns, name: 'flags' },
      {
        onWrite: () => {
          throw new Error('simulated operator crash');
        },
      },
    );
    await assert.rejects(
      crashing.apply({ ...spec, tenants: 'all', percentage: 100 }),
      /simulated operator crash/,
    );
    assert.equal((await store.apply({ ...spec, tenants: 'all', percentage: 100 })).changed, false);
    const all = await load();
    assert.equal(
      all.resolveBooleanEvaluation(key, false, { tenantId: 'brand-new', sessionId: 'x' }).value,
      true,
    );

    const r = await store.restore('pos', 'new-stack');
    assert.equal(r.changed, true);
    const cm = await core.readNamespacedConfigMap({ name: 'flags', namespace: ns });
    assert.deepEqual(Object.keys(cm.data ?? {}), [FLAGD_DATA_KEY]);
    assert.deepEqual(JSON.parse(cm.data![FLAGD_DATA_KEY]!), original);
    assert.equal((await store.restore('pos', 'new-stack')).changed, false);
  });

  it('creates the ConfigMap when missing and removes its flag on restore', async () => {
    const store = new FlagdConfigMapStore(client, { namespace: ns, name: 'flags-new' });
    await store.apply({
      service: 'driver',
      key: 'new-dispatch',
      tenants: ['acme'],
      enabled: true,
      percentage: 0,
      bucketingKey: 'userId',
      cohort: { name: 'pilot', attribute: 'driverId', members: ['d-1'] },
    });
    const doc = await store.document();
    const f = new FlagdCore();
    f.setConfigurations(JSON.stringify(doc));
    assert.equal(
      f.resolveBooleanEvaluation('driver.new-dispatch', false, {
        tenantId: 'acme',
        driverId: 'd-1',
        userId: 'u',
      }).value,
      true,
    );
    assert.equal(
      f.resolveBooleanEvaluation('driver.new-dispatch', true, {
        tenantId: 'acme',
        driverId: 'd-2',
        userId: 'u',
      }).value,
      false,
    );
    await store.restore('driver', 'new-dispatch');
    assert.deepEqual((await store.document()).flags, {});
  });
});
