import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import {
  GATEWAY_GROUP,
  GATEWAY_VERSION,
  TrafficActuator,
  canaryName,
} from '../../../src/actuators/traffic/traffic.js';
import type { TrafficTarget } from '../../../src/actuators/types.js';
import { KubeClient, type RequestInfo } from '../../../src/runtime/kube-client.js';
import { loadKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { operatorIdentity } from '../../support/operator-identity.js';
import { recordingOptions } from '../../support/api-usage.js';
import { killMidChange } from '../../support/kill-mid-change.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';

interface Route {
  metadata: k8s.V1ObjectMeta;
  spec: Record<string, unknown>;
}

/** The parts of an object an actuator may touch, for a field-by-field comparison. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null)) as unknown;
const visible = (o: { metadata?: k8s.V1ObjectMeta; spec?: unknown }): unknown =>
  plain({
    annotations: o.metadata?.annotations ?? {},
    labels: o.metadata?.labels ?? {},
    ownerReferences: o.metadata?.ownerReferences ?? [],
    spec: o.spec,
  });

describe('actuators/traffic (real control plane, Gateway API CRDs)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: string;
  let custom: k8s.CustomObjectsApi;
  let net: k8s.NetworkingV1Api;
  /** The runtime's client the actuators use, as the operator builds it; `requests` records every request. */
  let client: KubeClient;
  const requests: RequestInfo[] = [];

  before(async () => {
    cluster = await useCluster();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('act-traffic');
    custom = cluster.kc.makeApiClient(k8s.CustomObjectsApi);
    net = cluster.kc.makeApiClient(k8s.NetworkingV1Api);
    // The operator's own ServiceAccount and RBAC (deploy/operator/rbac.yaml), requests recorded.
    const id = await operatorIdentity(cluster, ns);
    const recorded = recordingOptions('actuators/traffic');
    client = new KubeClient(await loadKubeConfig(id.kubeconfig), {
      onRequest: (info) => {
        requests.push(info);
        recorded.onRequest(info);
      },
    });
  });
  after(async () => {
    client?.close();
    if (ns) {
      await (await operatorIdentity(cluster, ns)).cleanup();
      await cluster.deleteNamespace(ns);
    }
  });

  async function createRoute(name: string): Promise<Route> {
    const body = {
      apiVersion: `${GATEWAY_GROUP}/${GATEWAY_VERSION}`,
      kind: 'HTTPRoute',
      metadata: { name, namespace: ns, annotations: { team: 'platform' } },
      spec: {
        parentRefs: [{ name: 'public-gw' }],
        hostnames: [`${name}.nokta.test`],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
            backendRefs: [{ name: `${name}-legacy`, port: 8080 }],
          },
          { backendRefs: [{ name: `${name}-legacy`, port: 8080 }] },
        ],
      },
    };
    return (await custom.createNamespacedCustomObject({
      group: GATEWAY_GROUP,
      version: GATEWAY_VERSION,
      namespace: ns,
      plural: 'httproutes',
      body,
    })) as Route;
  }
  const getRoute = async (name: string): Promise<Route> =>
    (await custom.getNamespacedCustomObject({
      group: GATEWAY_GROUP,
      version: GATEWAY_VERSION,
      namespace: ns,
      plural: 'httproutes',
      name,
    })) as Route;
  const routeTarget = (name: string): TrafficTarget => ({
    kind: 'HTTPRoute',
    namespace: ns,
    name,
    ruleIndex: 0,
    legacyBackend: { name: `${name}-legacy`, port: 8080 },
    newBackend: { name: `${name}-new`, port: 9090 },
  });

  it('HTTPRoute: weights and shadow mirror; a second apply writes nothing; restore gives back the exact previous route', async () => {
    const before = await createRoute('pos');
    const traffic = new TrafficActuator(client, { managedBy: `Cutover/${ns}/demo` });
    const t = routeTarget('pos');

    const shadow = await traffic.apply(t, { newWeight: 0, mirror: true });
    assert.equal(shadow.changed, true);
    let r = await getRoute('pos');
    const rule0 = (
      r.spec.rules as { filters?: { type: string; requestMirror?: { backendRef: { name: string } } }[] }[]
    )[0]!;
    assert.equal(rule0.filters?.[0]?.type, 'RequestMirror');
    assert.equal(rule0.filters?.[0]?.requestMirror?.backendRef.name, 'pos-new');
    assert.deepEqual(await traffic.observe(t), {
      newWeight: 0,
      legacyWeight: 100,
      mirror: true,
      hasRestoreRecord: true,
    });

    const ten = await traffic.apply(t, { newWeight: 10 });
    assert.equal(ten.changed, true);
    const seen = requests.length;
    const again = await traffic.apply(t, { newWeight: 10 });
    assert.equal(again.changed, false);
    assert.deepEqual(
      requests.slice(seen).map((r) => `${r.verb} ${r.resource} ${r.code}`),
      ['GET httproutes 200'],
      'the no-op apply only read, through the runtime client',
    );
    assert.equal(again.resourceVersion, ten.resourceVersion, 'no second write');
    assert.equal((await getRoute('pos')).metadata.resourceVersion, ten.resourceVersion);
    assert.deepEqual(await traffic.observe(t), {
      newWeight: 10,
      legacyWeight: 90,
      mirror: false,
      hasRestoreRecord: true,
    });

    await traffic.apply(t, { newWeight: 100 });
    assert.equal((await traffic.observe(t)).legacyWeight, 0);
    // The second rule was never touched.
    r = await getRoute('pos');
    assert.deepEqual((r.spec.rules as unknown[])[1], (before.spec.rules as unknown[])[1]);

    const restored = await traffic.restore(t);
    assert.equal(restored.changed, true);
    assert.deepEqual(visible(await getRoute('pos')), visible(before));
    assert.equal((await traffic.restore(t)).changed, false, 'restoring twice is harmless');
  });

  it('HTTPRoute: a crash between the writes of a multi-route switch; applying again finishes it; rollback restores both', async () => {
    const a0 = await createRoute('callcenter');
    const b0 = await createRoute('billing');
    const targets = [routeTarget('callcenter'), routeTarget('billing')];
    const crashing = new TrafficActuator(client, {
      onWrite: (step) => {
        if (step.endsWith('/callcenter')) throw new Error('simulated operator crash');
      },
    });
    await assert.rejects(crashing.applyAll(targets, { newWeight: 100 }), /simulated operator crash/);
    const traffic = new TrafficActuator(client);
    assert.equal((await traffic.observe(targets[0]!)).newWeight, 100);
    assert.equal((await traffic.observe(targets[1]!)).newWeight, 0);
    const res = await traffic.applyAll(targets, { newWeight: 100 });
    assert.deepEqual(
      res.map((x) => x.changed),
      [false, true],
    );
    assert.equal((await traffic.observe(targets[1]!)).newWeight, 100);
    // Rollback, with a crash in the middle of it too.
    await assert.rejects(crashing.restoreAll(targets), /simulated operator crash/);
    await traffic.restoreAll(targets);
    assert.deepEqual(visible(await getRoute('callcenter')), visible(a0));
    assert.deepEqual(visible(await getRoute('billing')), visible(b0));
  });

  it('HTTPRoute: a process killed (SIGKILL) between the routes of a switch; applying again finishes it; restore gives back both', async () => {
    const a0 = await createRoute('support');
    const b0 = await createRoute('courier');
    const targets = [routeTarget('support'), routeTarget('courier')];
    const { kubeconfig } = await operatorIdentity(cluster, ns);
    await killMidChange(
      { kind: 'traffic', targets, desired: { newWeight: 25 }, crashAt: 'support' },
      { KUBECONFIG: kubeconfig },
    );
    const traffic = new TrafficActuator(client);
    assert.equal(
      (await traffic.observe(targets[0]!)).newWeight,
      25,
      'the first route was switched before the kill',
    );
    assert.equal((await traffic.observe(targets[1]!)).newWeight, 0, 'the second was not');
    const res = await traffic.applyAll(targets, { newWeight: 25 });
    assert.deepEqual(
      res.map((x) => x.changed),
      [false, true],
    );
    await traffic.restoreAll(targets);
    assert.deepEqual(visible(await getRoute('support')), visible(a0));
    assert.deepEqual(visible(await getRoute('courier')), visible(b0));
  });

  it('ingress-nginx: a canary Ingress derived from the stable one; idempotent; restore removes it or puts back a pre-existing one', async () => {
    const stable: k8s.V1Ingress = {
      metadata: {
        name: 'driver',
        namespace: ns,
        annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '8m' },
      },
      spec: {
        ingressClassName: 'nginx',
        tls: [{ hosts: ['driver.nokta.test'], secretName: 'driver-tls' }],
        rules: [
          {
            host: 'driver.nokta.test',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'driver-legacy', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    };
    const stable0 = await net.createNamespacedIngress({ namespace: ns, body: stable });
    const t: TrafficTarget = {
      kind: 'Ingress',
      namespace: ns,
      stableIngress: 'driver',
      canaryService: 'driver-new',
      canaryPort: 8080,
      stickiness: { header: 'X-Canary', headerValue: 'always', cookie: 'canary' },
    };
    const traffic = new TrafficActuator(client);
    const first = await traffic.apply(t, { newWeight: 20 });
    assert.equal(first.changed, true);
    const canary = await net.readNamespacedIngress({ name: canaryName('driver'), namespace: ns });
    const a = canary.metadata?.annotations ?? {};
    assert.equal(a['nginx.ingress.kubernetes.io/canary'], 'true');
    assert.equal(a['nginx.ingress.kubernetes.io/canary-weight'], '20');
    assert.equal(a['nginx.ingress.kubernetes.io/canary-by-header'], 'X-Canary');
    assert.equal(a['nginx.ingress.kubernetes.io/canary-by-header-value'], 'always');
    assert.equal(a['nginx.ingress.kubernetes.io/canary-by-cookie'], 'canary');
    assert.equal(canary.spec?.rules?.[0]?.host, 'driver.nokta.test');
    assert.deepEqual(plain(canary.spec?.rules?.[0]?.http?.paths[0]?.backend.service), {
      name: 'driver-new',
      port: { number: 8080 },
    });
    assert.equal(canary.spec?.ingressClassName, 'nginx');
    const second = await traffic.apply(t, { newWeight: 20 });
    assert.equal(second.changed, false);
    assert.equal(second.resourceVersion, first.resourceVersion);
    await traffic.apply(t, { newWeight: 100 });
    assert.equal((await traffic.observe(t)).newWeight, 100);
    await traffic.restore(t);
    await assert.rejects(
      net.readNamespacedIngress({ name: canaryName('driver'), namespace: ns }),
      (e: unknown) => (e as { code?: number }).code === 404,
    );
    assert.deepEqual(
      visible(await net.readNamespacedIngress({ name: 'driver', namespace: ns })),
      visible(stable0),
    );

    // A canary someone made by hand before the operator: restore puts it back field by field.
    const handMade = await net.createNamespacedIngress({
      namespace: ns,
      body: {
        metadata: {
          name: canaryName('driver'),
          namespace: ns,
          annotations: {
            'nginx.ingress.kubernetes.io/canary': 'true',
            'nginx.ingress.kubernetes.io/canary-weight': '5',
          },
          labels: { owner: 'ops' },
        },
        spec: {
          ingressClassName: 'nginx',
          rules: [
            {
              host: 'driver.nokta.test',
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: 'driver-old-canary', port: { number: 80 } } },
                  },
                ],
              },
            },
          ],
        },
      },
    });
    await traffic.apply(t, { newWeight: 50 });
    assert.equal((await traffic.observe(t)).newWeight, 50);
    await traffic.restore(t);
    assert.deepEqual(
      visible(await net.readNamespacedIngress({ name: canaryName('driver'), namespace: ns })),
      visible(handMade),
    );
  });
});
