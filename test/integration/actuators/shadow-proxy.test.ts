/**
 * The shadow-proxy actuator on the real control plane, as the operator's ServiceAccount: the
 * ConfigMap, Service and Deployment of the proxy (restricted pod), the route pointed at it only
 * once the Deployment is available, nothing written on a second call, another owner's object never
 * touched, a change of the rules rolled out, and `remove` restoring the HTTPRoute / Ingress exactly
 * and deleting the objects. No kubelet here: the test marks the proxy's pods ready itself.
 */
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { GATEWAY_GROUP, GATEWAY_VERSION } from '../../../src/actuators/traffic/traffic.js';
import { NotOursError, ShadowProxyActuator } from '../../../src/actuators/shadow-proxy/shadow-proxy.js';
import { RULES_KEY, proxyName, type ShadowProxyTarget } from '../../../src/actuators/shadow-proxy/objects.js';
import { KubeClient, type RequestInfo } from '../../../src/runtime/kube-client.js';
import { loadKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { operatorIdentity } from '../../support/operator-identity.js';
import { recordingOptions } from '../../support/api-usage.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { markProxyPodsReady } from './shadow-proxy-pods.js';

interface Route {
  metadata: k8s.V1ObjectMeta;
  spec: { rules: { backendRefs?: { name: string; port?: number; weight?: number }[] }[] };
}

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null)) as unknown;
const visible = (o: { metadata?: k8s.V1ObjectMeta; spec?: unknown }): unknown =>
  plain({
    annotations: o.metadata?.annotations ?? {},
    labels: o.metadata?.labels ?? {},
    ownerReferences: o.metadata?.ownerReferences ?? [],
    spec: o.spec,
  });

describe('actuators/shadow-proxy (real control plane, operator ServiceAccount)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: string;
  let custom: k8s.CustomObjectsApi;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let net: k8s.NetworkingV1Api;
  let client: KubeClient;
  const requests: RequestInfo[] = [];

  before(async () => {
    cluster = await useCluster();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('act-shadow');
    custom = cluster.kc.makeApiClient(k8s.CustomObjectsApi);
    core = cluster.kc.makeApiClient(k8s.CoreV1Api);
    apps = cluster.kc.makeApiClient(k8s.AppsV1Api);
    net = cluster.kc.makeApiClient(k8s.NetworkingV1Api);
    const id = await operatorIdentity(cluster, ns);
    const recorded = recordingOptions('actuators/shadow-proxy');
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
    return (await custom.createNamespacedCustomObject({
      group: GATEWAY_GROUP,
      version: GATEWAY_VERSION,
      namespace: ns,
      plural: 'httproutes',
      body: {
        apiVersion: `${GATEWAY_GROUP}/${GATEWAY_VERSION}`,
        kind: 'HTTPRoute',
        metadata: { name, namespace: ns, annotations: { team: 'platform' } },
        spec: {
          parentRefs: [{ name: 'public-gw' }],
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
              backendRefs: [{ name: `${name}-legacy`, port: 8080 }],
            },
          ],
        },
      },
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

  const target = (service: string, extra: Partial<ShadowProxyTarget> = {}): ShadowProxyTarget => ({
    namespace: ns,
    service,
    ownerName: 'full',
    managedBy: `Cutover/${ns}/full`,
    image: 'ghcr.io/nokta/cutover-operator:0.1.0',
    rules: { paths: ['/api/**'], defaults: { ignore: ['/meta'] }, queue: { size: 500, concurrency: 32 } },
    route: {
      kind: 'HTTPRoute',
      name: service,
      legacyBackend: { name: `${service}-legacy`, port: 8080 },
      newBackend: { name: `${service}-new`, port: 9090 },
    },
    ...extra,
  });

  it('HTTPRoute: objects first (restricted pod), the route only once the proxy is available; a second call writes nothing; remove restores the route exactly', async () => {
    const before = await createRoute('pos');
    const shadow = new ShadowProxyActuator(client);
    const t = target('pos');
    const name = proxyName('full', 'pos');
    assert.equal(name, 'full-shadow-pos');

    const first = await shadow.ensure(t);
    assert.equal(first.state, 'Deploying');
    assert.deepEqual(first.changed, ['ConfigMap', 'Service', 'Deployment']);
    assert.deepEqual(
      visible(await getRoute('pos')),
      visible(before),
      'not routed before the proxy is available',
    );

    const cm = await core.readNamespacedConfigMap({ name, namespace: ns });
    assert.deepEqual(JSON.parse(cm.data![RULES_KEY]!), { ...t.rules, service: 'pos' });
    const svc = await core.readNamespacedService({ name, namespace: ns });
    assert.deepEqual(
      svc.spec?.ports?.map((p) => [p.name, p.port]),
      [
        ['http', 8080],
        ['metrics', 9464],
      ],
    );
    assert.deepEqual(svc.spec?.selector, { 'app.kubernetes.io/instance': name });
    const d = await apps.readNamespacedDeployment({ name, namespace: ns });
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0]!;
    assert.equal(c.image, t.image);
    assert.deepEqual(c.args, [
      'shadow-proxy',
      '--legacy',
      `http://pos-legacy.${ns}.svc:8080`,
      '--new',
      `http://pos-new.${ns}.svc:9090`,
      '--rules',
      '/etc/cutover-shadow/rules.json',
      '--listen',
      ':8080',
      '--metrics-listen',
      ':9464',
      '--report-interval',
      '1m',
      '--workers',
      '1',
    ]);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
    assert.deepEqual(plain(c.resources), {
      requests: { cpu: '250m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });
    assert.equal(pod.volumes?.[0]?.configMap?.name, name);
    assert.equal(d.metadata?.annotations?.['cutover.nokta.io/managed-by'], `Cutover/${ns}/full`);

    await markProxyPodsReady(cluster.kc, ns, name);
    const routed = await shadow.ensure(t);
    assert.equal(routed.state, 'Routed');
    assert.deepEqual(routed.changed, ['Route']);
    const r = await getRoute('pos');
    assert.deepEqual(
      r.spec.rules[0]!.backendRefs!.map((b) => [b.name, b.port, b.weight]),
      [
        ['pos-legacy', 8080, 0],
        [name, 8080, 100],
      ],
    );
    assert.deepEqual(await shadow.observe(t), { deployed: true, available: true, routed: true });

    const seen = requests.length;
    const again = await shadow.ensure(t);
    assert.deepEqual(again, { state: 'Routed', changed: [], name });
    assert.ok(
      requests.slice(seen).every((x) => x.verb === 'GET'),
      'the second ensure only read',
    );

    const removed = await shadow.remove(t);
    assert.deepEqual(removed.changed, ['Route', 'Deployment', 'Service', 'ConfigMap']);
    assert.deepEqual(visible(await getRoute('pos')), visible(before), 'the route as it was');
    assert.deepEqual(await shadow.observe(t), { deployed: false, available: false, routed: false });
    await assert.rejects(core.readNamespacedConfigMap({ name, namespace: ns }), /404|not found/i);
    assert.deepEqual((await shadow.remove(t)).changed, [], 'removing twice is harmless');
  });

  it('a change of the rules rewrites the ConfigMap and rolls the Deployment; the Service is left alone', async () => {
    await createRoute('billing');
    const shadow = new ShadowProxyActuator(client);
    const name = proxyName('full', 'billing');
    await shadow.ensure(target('billing'));
    const d0 = await apps.readNamespacedDeployment({ name, namespace: ns });
    const s0 = await core.readNamespacedService({ name, namespace: ns });
    const changed = await shadow.ensure(
      target('billing', { rules: { paths: ['/api/**'], defaults: { ignore: ['/meta', '/etag'] } } }),
    );
    assert.deepEqual(changed.changed, ['ConfigMap', 'Deployment']);
    const d1 = await apps.readNamespacedDeployment({ name, namespace: ns });
    assert.notEqual(
      d1.spec!.template.metadata!.annotations!['cutover.nokta.io/rules-hash'],
      d0.spec!.template.metadata!.annotations!['cutover.nokta.io/rules-hash'],
    );
    const s1 = await core.readNamespacedService({ name, namespace: ns });
    assert.equal(s1.metadata?.resourceVersion, s0.metadata?.resourceVersion);
    await shadow.remove(target('billing'));
  });

  it("another owner's object of the same name is never changed or deleted", async () => {
    await createRoute('driver');
    const name = proxyName('full', 'driver');
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name, namespace: ns }, data: { mine: 'yes' } },
    });
    const shadow = new ShadowProxyActuator(client);
    await assert.rejects(shadow.ensure(target('driver')), NotOursError);
    await assert.rejects(shadow.remove(target('driver')), NotOursError);
    const cm = await core.readNamespacedConfigMap({ name, namespace: ns });
    assert.deepEqual(cm.data, { mine: 'yes' });
    await assert.rejects(apps.readNamespacedDeployment({ name, namespace: ns }), /404|not found/i);
  });

  it('Ingress: legacy taken from the stable Ingress; the canary Ingress at 100 % to the proxy; remove deletes it and leaves the stable one as it was', async () => {
    const stable = await net.createNamespacedIngress({
      namespace: ns,
      body: {
        metadata: { name: 'customer', namespace: ns },
        spec: {
          rules: [
            {
              host: 'customer.nokta.test',
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: 'customer-legacy', port: { number: 8081 } } },
                  },
                ],
              },
            },
          ],
        },
      },
    });
    const t = target('customer', {
      route: { kind: 'Ingress', name: 'customer', newBackend: { name: 'customer-new', port: 9091 } },
    });
    const name = proxyName('full', 'customer');
    const shadow = new ShadowProxyActuator(client);
    assert.equal((await shadow.ensure(t)).state, 'Deploying');
    const d = await apps.readNamespacedDeployment({ name, namespace: ns });
    const args = d.spec!.template.spec!.containers[0]!.args!;
    assert.equal(args[args.indexOf('--legacy') + 1], `http://customer-legacy.${ns}.svc:8081`);
    assert.equal(args[args.indexOf('--new') + 1], `http://customer-new.${ns}.svc:9091`);
    await markProxyPodsReady(cluster.kc, ns, name);
    assert.equal((await shadow.ensure(t)).state, 'Routed');
    const canary = await net.readNamespacedIngress({ name: 'customer-canary', namespace: ns });
    assert.equal(canary.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight'], '100');
    assert.deepEqual(plain(canary.spec?.rules?.[0]?.http?.paths[0]?.backend.service), {
      name,
      port: { number: 8080 },
    });
    assert.equal((await shadow.observe(t)).routed, true);
    await shadow.remove(t);
    await assert.rejects(
      net.readNamespacedIngress({ name: 'customer-canary', namespace: ns }),
      /404|not found/i,
    );
    const after = await net.readNamespacedIngress({ name: 'customer', namespace: ns });
    assert.deepEqual(visible(after), visible(stable));
  });
});
