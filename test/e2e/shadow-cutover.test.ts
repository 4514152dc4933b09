/**
 * End to end: a Cutover in its shadow phase, in an operator running as its own ServiceAccount on
 * the real control plane, deploys the comparing shadow proxy of `pos` (ConfigMap, Service,
 * Deployment), points the HTTPRoute at it once it is available, and its shadowDifferences metric
 * reaches status.shadow.proxies; when the phase ends the go/no-go passes, the route is restored
 * exactly and the proxy's objects are gone.
 *
 * No kubelet: the test marks the proxy's pod ready, and runs the proxy process itself
 * (`cutover shadow-proxy` with the rules of the ConfigMap the operator wrote) between two real
 * HTTP servers on the loopback, scraped by a real Prometheus the Cutover reads the metric from.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CutoverStatus } from '../../src/api/index.js';
import { RULES_KEY, proxyName } from '../../src/actuators/shadow-proxy/objects.js';
import { SERVICE } from '../../src/actuators/shadow-proxy/shadow-proxy.js';
import { cutoverController } from '../../src/controllers/cutover/sync.js';
import { CUTOVER } from '../../src/controllers/kinds.js';
import { freePort } from '../../src/devenv/processes.js';
import { KubeClient, type KubeObject } from '../../src/runtime/kube-client.js';
import { Operator } from '../../src/runtime/operator.js';
import { CONFIG_MAP, DEPLOYMENT, HTTP_ROUTE } from '../../src/runtime/resources.js';
import { useCluster, type TestCluster } from '../support/cluster.js';
import { operatorIdentity, type OperatorIdentity } from '../support/operator-identity.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';
import { markProxyPodsReady } from '../integration/actuators/shadow-proxy-pods.js';
import { fetchRaw, startBackend, type Backend } from '../integration/shadow/backends.js';
import {
  createLegacyRoute,
  cutoverDatabases,
  cutoverObject,
  CutoverWatch,
  isoSeconds,
  posService,
  startInProcessOperator,
} from '../support/cutover-harness.js';

type Route = KubeObject & {
  spec: { rules: { backendRefs: { name: string; port?: number; weight?: number }[] }[] };
};

const IMAGE = 'ghcr.io/nokta/cutover-operator:e2e';

describe('e2e: a Cutover in its shadow phase serves pos through the comparing shadow proxy', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let operator: Operator | undefined;
  let legacy: Backend;
  let next: Backend;
  let prom: TestPrometheus;
  let proxy: ChildProcess | undefined;
  let proxyPort: number;
  let adminPort: number;
  const dir = mkdtempSync(join(tmpdir(), 'cutover-shadow-e2e-'));

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('e2e-shadow');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    // Legacy and the new stack: the new one gets the total wrong on every fourth order.
    legacy = await startBackend((req, res) => {
      const id = Number(/\/api\/orders\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, total: 10 }));
    });
    next = await startBackend((req, res) => {
      const id = Number(/\/api\/orders\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id, total: id % 4 === 0 ? 11 : 10 }));
    });
    proxyPort = await freePort();
    adminPort = await freePort();
    prom = await startPrometheus({ targets: [`127.0.0.1:${adminPort}`] });
    await createLegacyRoute(admin, ns, 'pos', 'pos-legacy', { team: 'pos' });
    operator = await startInProcessOperator(
      identity.kubeconfig,
      ns,
      'e2e-shadow',
      [cutoverController({ timeScale: 1 })],
      'e2e/shadow-cutover',
      ['--image', IMAGE],
    );
  });

  after(async () => {
    proxy?.kill('SIGTERM');
    await operator?.stop();
    await prom?.stop();
    await legacy?.close();
    await next?.close();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  const status = (): Promise<CutoverStatus> => new CutoverWatch(admin, ns).status('full');
  async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await status())}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const visible = (r: Route): unknown =>
    JSON.parse(JSON.stringify({ annotations: r.metadata.annotations ?? {}, spec: r.spec })) as unknown;

  it('deploys the proxy, routes through it, records the difference rate, and restores the route when the phase ends', async () => {
    const routeBefore = await admin.get<Route>(HTTP_ROUTE, ns, 'pos');
    const now = Date.now();
    const iso = isoSeconds;
    const endAt = now + 50_000;
    const cutover = cutoverObject('full', ns, {
      services: [posService('pos', { flag: false })],
      databases: cutoverDatabases(),
      prometheusAddress: prom.url,
      shadow: {
        startAt: iso(now - 1000),
        endAt: iso(endAt),
        comparison: [{ service: 'pos', paths: ['/api/**'], compareHeaders: ['content-type'] }],
        maxDifferencePercent: 50,
        minCompared: 20,
      },
      timeline: {
        startAt: iso(now + 3_600_000),
        steps: [{ name: 'switch-traffic', action: 'TrafficSwitch', offset: '+0s' }],
      },
    });
    await admin.create(CUTOVER, ns, cutover);

    // The operator deploys the proxy; the route is not touched until it is available.
    const name = proxyName('full', 'pos');
    await until('the proxy Deployment', () => admin.tryGet(DEPLOYMENT, ns, name));
    assert.ok(await admin.tryGet(SERVICE, ns, name));
    assert.deepEqual(visible(await admin.get<Route>(HTTP_ROUTE, ns, 'pos')), visible(routeBefore));
    assert.equal((await status()).phase, 'Shadow');

    await markProxyPodsReady(cluster.kc, ns, name);
    const routed = await until('the route through the proxy', async () => {
      const r = await admin.get<Route>(HTTP_ROUTE, ns, 'pos');
      return r.spec.rules[0]!.backendRefs.some((b) => b.name === name && b.weight === 100) ? r : undefined;
    });
    assert.deepEqual(
      routed.spec.rules[0]!.backendRefs.map((b) => [b.name, b.port, b.weight]),
      [
        ['pos-legacy', 8080, 0],
        [name, 8080, 100],
      ],
    );

    // The proxy process with the rules the operator wrote, between the two real servers.
    const cm = await admin.get<KubeObject & { data: Record<string, string> }>(CONFIG_MAP, ns, name);
    const rulesFile = join(dir, 'rules.json');
    writeFileSync(rulesFile, cm.data[RULES_KEY]!);
    proxy = spawn(
      process.execPath,
      [
        'dist/src/cli/main.js',
        'shadow-proxy',
        '--legacy',
        legacy.url,
        '--new',
        next.url,
        '--rules',
        rulesFile,
        '--listen',
        `127.0.0.1:${proxyPort}`,
        '--metrics-listen',
        `127.0.0.1:${adminPort}`,
        '--report-interval',
        '0',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await until('the proxy listening', async () => {
      try {
        return (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok ? true : undefined;
      } catch {
        return undefined;
      }
    });
    await prom.waitForTargets();
    // 40 reads through the proxy: 10 differ. Every client answer is legacy's.
    for (let i = 1; i <= 40; i++) {
      const a = await fetchRaw(`http://127.0.0.1:${proxyPort}/api/orders/${i}`);
      assert.deepEqual(JSON.parse(a.body.toString()), { id: i, total: 10 });
    }

    const measured = await until('the metric in status', async () => {
      const p = (await status()).shadow?.proxies?.find((x) => x.service === 'pos');
      return p?.compared === 40 ? p : undefined;
    });
    assert.equal(measured.state, 'Deployed');
    assert.equal(measured.differing, 10);
    assert.equal(measured.differencePercent, 25);
    assert.ok(measured.measuredAt);

    // The phase ends: 25 % <= 50 % with 40 >= 20 compared, so the proxy goes and the route is restored.
    const done = await until(
      'the shadow phase over',
      async () => {
        const s = await status();
        return s.shadow?.proxies?.[0]?.state === 'Removed' ? s : undefined;
      },
      Math.max(0, endAt - Date.now()) + 60_000,
    );
    assert.ok(Date.now() >= endAt - 1000, 'not before the end of the phase');
    assert.notEqual(done.phase, 'Shadow');
    assert.equal(done.shadow?.proxies?.[0]?.differencePercent, 25, 'the last reading stays in status');
    assert.deepEqual(visible(await admin.get<Route>(HTTP_ROUTE, ns, 'pos')), visible(routeBefore));
    for (const rt of [DEPLOYMENT, SERVICE, CONFIG_MAP])
      assert.equal(await admin.tryGet(rt, ns, name), undefined, `${rt.kind} deleted`);
  });
});
