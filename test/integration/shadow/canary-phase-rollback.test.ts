/**
 * A CanaryPhase whose analysis metric is `shadowDifferences`, inside an operator (in this
 * process, as the operator's ServiceAccount) against the real API server, reading a real comparing
 * shadow proxy between two real HTTP servers: while the new stack answers as legacy does the
 * metric succeeds; once it differs on every fourth order the difference rate crosses the
 * threshold, two failed measurements in a row roll the phase back, and the route is restored.
 */
import assert from 'node:assert/strict';
import type { CanaryPhase, CanaryPhaseSpec, CanaryPhaseStatus } from '../../../src/api/types.js';
import { canaryPhaseController } from '../../../src/controllers/canary-phase/sync.js';
import { CANARY_PHASE } from '../../../src/controllers/kinds.js';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.js';
import { loadKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { Operator } from '../../../src/runtime/operator.js';
import { parseOperatorOptions } from '../../../src/runtime/options.js';
import { EVENT, HTTP_ROUTE } from '../../../src/runtime/resources.js';
import { AdminServer } from '../../../src/shadow/admin-server.js';
import { ShadowProxy } from '../../../src/shadow/proxy.js';
import { parseRules } from '../../../src/shadow/rules.js';
import { recordingOptions } from '../../support/api-usage.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import { fetchRaw, startBackend, until, type Backend } from './backends.js';

type CP = CanaryPhase & KubeObject;
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null)) as unknown;

const RULES = `
service: pos
defaults:
  ignore: [/meta]
`;

describe('CanaryPhase with a shadowDifferences metric (real control plane, a real shadow proxy)', function () {
  this.timeout(240_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let operator: Operator | undefined;
  let legacy: Backend;
  let next: Backend;
  let proxy: ShadowProxy;
  let adminServer: AdminServer;
  let proxyUrl: string;
  let metricsUrl: string;
  /** The new stack differs (another total) on every fourth order once this is on. */
  let differ = false;

  before(async () => {
    const order = (id: number, total: number, meta: string): string =>
      JSON.stringify({ id, total, meta: { served: meta } });
    legacy = await startBackend((req, res) => {
      const id = Number(/\/orders\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      res.writeHead(200, { 'content-type': 'application/json' }).end(order(id, 10, 'legacy'));
    });
    next = await startBackend((req, res) => {
      const id = Number(/\/orders\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(order(id, differ && id % 4 === 0 ? 11 : 10, 'new'));
    });
    proxy = new ShadowProxy({ legacyUrl: legacy.url, newUrl: next.url, rules: parseRules(RULES) });
    proxyUrl = `http://127.0.0.1:${(await proxy.listen(0, '127.0.0.1')).port}`;
    adminServer = new AdminServer(proxy);
    metricsUrl = `http://127.0.0.1:${(await adminServer.listen(0, '127.0.0.1')).port}/metrics`;

    cluster = await useCluster();
    await cluster.applyCrds();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('shadow-canary');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    const kc = await loadKubeConfig(identity.kubeconfig);
    const parsed = parseOperatorOptions(
      [
        '--no-leader-elect',
        '--namespaces',
        ns,
        '--listen-address',
        '127.0.0.1:0',
        '--identity',
        'shadow-canary',
      ],
      {},
    );
    if (parsed.kind !== 'options') throw new Error('bad options');
    operator = new Operator(parsed.options, [canaryPhaseController()], {
      kc,
      onRequest: recordingOptions('controllers/canary-phase').onRequest,
    });
    await operator.start();
  });

  after(async () => {
    await operator?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    await adminServer?.close();
    await proxy?.close(0);
    await legacy?.close();
    await next?.close();
  });

  const status = async (name: string): Promise<CanaryPhaseStatus | undefined> =>
    (await admin.tryGet<CP>(CANARY_PHASE, ns, name))?.status;
  async function waitStatus(
    name: string,
    what: string,
    ok: (s: CanaryPhaseStatus) => boolean,
    ms = 90_000,
  ): Promise<CanaryPhaseStatus> {
    const end = Date.now() + ms;
    for (;;) {
      const s = await status(name);
      if (s && ok(s)) return s;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  /** Sends orders from..to through the proxy and waits until the proxy compared them all. */
  async function orders(from: number, to: number): Promise<void> {
    for (let i = from; i <= to; i++) assert.equal((await fetchRaw(`${proxyUrl}/orders/${i}`)).status, 200);
    await until(`orders up to ${to} compared`, async () => {
      const text = await (await fetch(metricsUrl)).text();
      const m = /^cutover_shadow_compared_total\{[^}]*service="pos"[^}]*\} (\S+)$/m.exec(text);
      return Number(m?.[1] ?? 0) === to;
    });
  }

  it('succeeds while the answers agree; rolls back when the difference rate crosses the threshold', async () => {
    const route = await admin.create(HTTP_ROUTE, ns, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'pos', annotations: { team: 'platform' } },
      spec: {
        parentRefs: [{ name: 'public-gw' }],
        rules: [{ backendRefs: [{ name: 'pos-legacy', port: 8080 }] }],
      },
    });
    // 20 orders answered alike: 0 % differ.
    await orders(1, 20);
    const spec: CanaryPhaseSpec = {
      services: [
        {
          name: 'pos',
          routing: 'Traffic',
          traffic: {
            httpRoute: {
              name: 'pos',
              legacyBackend: { name: 'pos-legacy', port: 8080 },
              newBackend: { name: 'pos-v2', port: 8080 },
            },
          },
        },
      ],
      steps: [{ weight: 10, pause: '1h' }],
      analysis: {
        interval: '1s',
        consecutiveFailureLimit: 2,
        metrics: [
          {
            name: 'pos-shadow-differences',
            services: ['pos'],
            shadowDifferences: { service: 'pos', metricsUrl, minCompared: 10, timeout: '5s' },
            successCondition: 'result <= 1',
          },
        ],
      },
    };
    await admin.create<CP>(CANARY_PHASE, ns, {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'CanaryPhase',
      metadata: { name: 'pos-shadow' },
      spec,
    });
    const ok = await waitStatus(
      'pos-shadow',
      'step applied and a successful measurement of 0 %',
      (s) =>
        s.appliedStep === 0 &&
        (s.measurements ?? []).some(
          (m) => m.metric === 'pos-shadow-differences' && m.result === 'Successful',
        ),
    );
    const first = ok.measurements!.find((m) => m.result === 'Successful')!;
    assert.equal(Number(first.value), 0, JSON.stringify(first));
    assert.equal(ok.phase, 'Progressing');
    const routed = await admin.get<KubeObject & { spec: { rules: Array<{ backendRefs: unknown[] }> } }>(
      HTTP_ROUTE,
      ns,
      'pos',
    );
    assert.equal(routed.spec.rules[0]!.backendRefs.length, 2, 'the weight split is on');

    // The new stack starts to differ on every fourth order: 60 more orders, 15 of them differ,
    // 15 / 80 = 18.75 % in the end, far over the 1 % threshold.
    differ = true;
    await orders(21, 80);
    const rolled = await waitStatus(
      'pos-shadow',
      'rolled back',
      (s) => s.phase === 'RolledBack' && s.restoredAt !== undefined,
    );
    const mine = (rolled.measurements ?? []).filter((m) => m.metric === 'pos-shadow-differences');
    assert.equal(mine.at(-1)!.result, 'Failed', JSON.stringify(mine));
    assert.equal(mine.at(-2)!.result, 'Failed', JSON.stringify(mine));
    // Each failed value is a real rate read from the proxy: over the threshold, at most 18.75 %.
    for (const m of mine.filter((x) => x.result === 'Failed')) {
      const v = Number(m.value);
      assert.ok(v > 1 && v <= 18.75, `failed measurement ${JSON.stringify(m)}`);
    }
    assert.equal(rolled.rollback?.metric, 'pos-shadow-differences');
    assert.ok(Number(rolled.rollback?.value) > 1, JSON.stringify(rolled.rollback));
    assert.match(rolled.rollback?.reason ?? '', /pos-shadow-differences failed 2 times in a row/);
    assert.deepEqual(rolled.rollback?.services, ['pos']);
    // The route exactly as it was.
    const back = await admin.get<KubeObject & { spec: unknown }>(HTTP_ROUTE, ns, 'pos');
    assert.deepEqual(plain(back.spec), plain((route as KubeObject & { spec: unknown }).spec));
    assert.deepEqual(back.metadata.annotations, { team: 'platform' });
    const events = (await admin.list(EVENT, { namespace: ns })).items.filter(
      (e) => (e.regarding as { name?: string }).name === 'pos-shadow',
    );
    assert.ok(
      events.some((e) => e.reason === 'RolledBack' && /pos-shadow-differences/.test(String(e.note))),
      JSON.stringify(events.map((e) => [e.reason, e.note])),
    );
  });

  it('an unreachable proxy is an error, not a failure: the phase does not roll back on it', async () => {
    await admin.create(HTTP_ROUTE, ns, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'pos2' },
      spec: {
        parentRefs: [{ name: 'public-gw' }],
        rules: [{ backendRefs: [{ name: 'pos-legacy', port: 8080 }] }],
      },
    });
    await admin.create<CP>(CANARY_PHASE, ns, {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'CanaryPhase',
      metadata: { name: 'pos-unreachable' },
      spec: {
        services: [
          {
            name: 'pos',
            routing: 'Traffic',
            traffic: {
              httpRoute: {
                name: 'pos2',
                legacyBackend: { name: 'pos-legacy', port: 8080 },
                newBackend: { name: 'pos-v2', port: 8080 },
              },
            },
          },
        ],
        steps: [{ weight: 10, pause: '1h' }],
        analysis: {
          interval: '1s',
          consecutiveFailureLimit: 1,
          error: { limit: 2, onLimit: 'Pause' },
          metrics: [
            {
              name: 'pos-shadow-differences',
              shadowDifferences: { service: 'pos', metricsUrl: 'http://127.0.0.1:9/metrics', timeout: '2s' },
              successCondition: 'result <= 1',
            },
          ],
        },
      },
    });
    const paused = await waitStatus(
      'pos-unreachable',
      'paused after two errors',
      (s) => s.phase === 'Paused',
    );
    const mine = (paused.measurements ?? []).filter((m) => m.metric === 'pos-shadow-differences');
    assert.ok(mine.length >= 2 && mine.every((m) => m.result === 'Error'), JSON.stringify(mine));
    assert.match(mine[0]!.message ?? '', /shadow proxy: cannot reach/);
    assert.equal(paused.rollback, undefined);
  });
});
