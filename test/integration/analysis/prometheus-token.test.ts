/**
 * The Prometheus provider's bearer token, end to end: read from a real Kubernetes Secret by the
 * operator's ServiceAccount (the reader the CanaryPhase controller gives it), sent to a real
 * Prometheus. Prometheus itself can require only basic auth (its --web.config.file), so a small
 * reverse proxy in front of it refuses every request without the right `Authorization: Bearer`
 * header, as an authenticating gateway (kube-rbac-proxy, an ingress with auth) does.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import { PrometheusProvider } from '../../../src/analysis/prometheus.js';
import { secretReader } from '../../../src/analysis/secrets.js';
import { freePort } from '../../../src/devenv/processes.js';
import { KubeClient } from '../../../src/runtime/kube-client.js';
import { SECRET } from '../../../src/runtime/resources.js';
import { operatorClient } from '../../support/api-usage.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { operatorIdentity } from '../../support/operator-identity.js';
import {
  startPrometheus,
  startTestExporter,
  type TestExporter,
  type TestPrometheus,
} from '../../support/prometheus.js';

const TOKEN = 'canary-reader-7f3a9c1e5b';

interface TokenProxy {
  url: string;
  /** Authorization headers seen, in order ('' when absent). */
  seen: string[];
  stop(): Promise<void>;
}

/** Forwards to `upstream` only requests carrying `Authorization: Bearer <token>`; 401 otherwise. */
async function startTokenProxy(upstream: string, token: string): Promise<TokenProxy> {
  const seen: string[] = [];
  const target = new URL(upstream);
  const server: Server = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    seen.push(auth);
    if (auth !== `Bearer ${token}`) {
      res
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' })
        .end('Unauthorized\n');
      return;
    }
    const up = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', (e) => res.writeHead(502).end(e.message));
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('Prometheus provider: bearer token from a Secret, through a token-checking proxy', function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let ns: string;
  let client: KubeClient;
  let exporter: TestExporter;
  let prom: TestPrometheus;
  let proxy: TokenProxy;
  let provider: PrometheusProvider;
  const query = 'max(canary_pos_invoice_p95_seconds)';

  before(async () => {
    cluster = await useCluster();
    ns = await cluster.createNamespace('prom-token');
    client = (await operatorClient(cluster, ns, 'analysis/prometheus')).client;
    const registry = new Registry();
    new Gauge({ name: 'canary_pos_invoice_p95_seconds', help: 'p95', registers: [registry] }).set(0.9);
    exporter = await startTestExporter(registry);
    prom = await startPrometheus({ targets: [exporter.target] });
    await prom.waitForTargets();
    for (let i = 0; i < 200 && (await prom.query(query)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    proxy = await startTokenProxy(prom.url, TOKEN);
    // Created with the admin client: the operator only reads Secrets.
    const admin = new KubeClient(cluster.kc);
    await admin.create(SECRET, ns, {
      metadata: { name: 'prometheus-reader' },
      stringData: { token: `${TOKEN}\n`, wrong: 'not-the-token' },
    });
    admin.close();
    provider = new PrometheusProvider(secretReader(client, ns));
  });
  after(async () => {
    await proxy?.stop();
    await prom?.stop();
    await exporter?.stop();
    client?.close();
    if (ns) {
      await (await operatorIdentity(cluster, ns)).cleanup();
      await cluster.deleteNamespace(ns);
    }
  });

  const metric = (key?: string, name = 'prometheus-reader') => ({
    address: proxy.url,
    query,
    successCondition: 'result <= 1.5',
    ...(key ? { tokenSecretRef: { name, key } } : {}),
  });

  it('the proxy refuses a query without the token (what the provider meets without a Secret)', async () => {
    const m = await provider.measure(metric(), { now: new Date() });
    assert.equal(m.result, 'Error');
    assert.match(m.reason, /refused the query: HTTP 401/);
    assert.equal(proxy.seen.at(-1), '');
  });

  it('reads the token from the Secret (trailing newline trimmed) and measures through the proxy', async () => {
    const m = await provider.measure(metric('token'), { now: new Date() });
    assert.equal(m.result, 'Successful', m.reason);
    assert.equal(m.value, 0.9);
    assert.equal(proxy.seen.at(-1), `Bearer ${TOKEN}`);
  });

  it('a wrong token is an Error (not a Failed canary) and the token is in no reason', async () => {
    const m = await provider.measure(metric('wrong'), { now: new Date() });
    assert.equal(m.result, 'Error');
    assert.match(m.reason, /HTTP 401/);
    assert.ok(!m.reason.includes('not-the-token'));
  });

  it('a missing Secret or key is an Error naming the Secret and key, never the value', async () => {
    const noKey = await provider.measure(metric('absent'), { now: new Date() });
    assert.equal(noKey.result, 'Error');
    assert.match(noKey.reason, /token Secret prometheus-reader key absent: .*has no key absent/);
    const noSecret = await provider.measure(metric('token', 'no-such-secret'), { now: new Date() });
    assert.equal(noSecret.result, 'Error');
    assert.match(noSecret.reason, /token Secret no-such-secret key token/);
    for (const m of [noKey, noSecret]) assert.ok(!m.reason.includes(TOKEN));
    assert.ok(!proxy.seen.includes('Bearer '), 'no request was sent with an empty token');
  });
});
