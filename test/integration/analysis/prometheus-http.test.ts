import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { Gauge, Registry } from 'prom-client';
import { HttpJsonProvider } from '../../../src/analysis/http-json.js';
import { PrometheusProvider } from '../../../src/analysis/prometheus.js';
import { freePort } from '../../../src/devenv/processes.js';
import {
  startPrometheus,
  startTestExporter,
  type TestExporter,
  type TestPrometheus,
} from '../../support/prometheus.js';

/** Serves `handler` on a free loopback port. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, server };
}
const close = (s: Server): Promise<void> =>
  new Promise((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });

describe('analysis providers against a real Prometheus and HTTP servers', function () {
  this.timeout(120_000);
  let exporter: TestExporter;
  let prom: TestPrometheus;
  let latency: Gauge;
  let errors: Gauge;
  const provider = new PrometheusProvider();

  before(async () => {
    const registry = new Registry();
    latency = new Gauge({ name: 'pos_invoice_p95_seconds', help: 'p95', registers: [registry] });
    errors = new Gauge({
      name: 'pos_errors_ratio',
      help: 'errors',
      labelNames: ['service'],
      registers: [registry],
    });
    exporter = await startTestExporter(registry);
    prom = await startPrometheus({ targets: [exporter.target] });
    await prom.waitForTargets();
  });
  after(async () => {
    await prom?.stop();
    await exporter?.stop();
  });

  /** Sets the gauge and waits until Prometheus has scraped that value. */
  async function scraped(query: string, value: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const r = await prom.query(query);
      if (r.length === 1 && Number(r[0]!.value[1]) === value) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`prometheus never showed ${query} = ${value}`);
  }

  it('measures the value the exporter shows and judges it by the conditions', async () => {
    const metric = {
      address: prom.url,
      query: 'max(pos_invoice_p95_seconds)',
      successCondition: 'result <= 1.5',
      failureCondition: 'result > 2',
    };
    latency.set(0.8);
    await scraped('max(pos_invoice_p95_seconds)', 0.8);
    const ok = await provider.measure(metric, { now: new Date() });
    assert.deepEqual([ok.value, ok.result], [0.8, 'Successful']);
    latency.set(1.7);
    await scraped('max(pos_invoice_p95_seconds)', 1.7);
    const mid = await provider.measure(metric, { now: new Date() });
    assert.deepEqual([mid.value, mid.result], [1.7, 'Inconclusive']);
    latency.set(2.4);
    await scraped('max(pos_invoice_p95_seconds)', 2.4);
    const bad = await provider.measure(metric, { now: new Date() });
    assert.deepEqual([bad.value, bad.result], [2.4, 'Failed']);
    assert.match(bad.reason, /2\.4: result > 2 holds/);
  });

  it('no series and NaN are NoData; several series and a bad query are Errors', async () => {
    const none = await provider.measure(
      { address: prom.url, query: 'pos_invoice_p95_seconds{service="nope"}', successCondition: 'result < 1' },
      { now: new Date() },
    );
    assert.equal(none.result, 'NoData');
    latency.set(NaN);
    await (async () => {
      for (let i = 0; i < 200; i++) {
        const r = await prom.query('pos_invoice_p95_seconds');
        if (r.length === 1 && r[0]!.value[1] === 'NaN') return;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error('NaN never scraped');
    })();
    const nan = await provider.measure(
      { address: prom.url, query: 'max(pos_invoice_p95_seconds)', successCondition: 'result < 1' },
      { now: new Date() },
    );
    assert.equal(nan.result, 'NoData');
    assert.match(nan.reason, /NaN/);
    errors.set({ service: 'pos' }, 0.01);
    errors.set({ service: 'driver' }, 0.02);
    await scraped('count(pos_errors_ratio)', 2);
    const many = await provider.measure(
      { address: prom.url, query: 'pos_errors_ratio', successCondition: 'result < 1' },
      { now: new Date() },
    );
    assert.equal(many.result, 'Error');
    assert.match(many.reason, /2 series; aggregate/);
    const syntax = await provider.measure(
      { address: prom.url, query: 'sum(', successCondition: 'result < 1' },
      { now: new Date() },
    );
    assert.equal(syntax.result, 'Error');
    assert.match(syntax.reason, /refused the query: bad_data/);
  });

  it('a Prometheus that is down or does not answer in time is an Error, never a failure', async () => {
    const port = await freePort();
    const down = await provider.measure(
      { address: `http://127.0.0.1:${port}`, query: 'up', successCondition: 'result == 1' },
      { now: new Date() },
    );
    assert.equal(down.result, 'Error');
    assert.match(down.reason, /cannot reach .*ECONNREFUSED/);
    const hang = await serve(() => undefined); // accepts and never answers
    try {
      const started = Date.now();
      const slow = await provider.measure(
        { address: hang.url, query: 'up', successCondition: 'result == 1', timeoutMs: 300 },
        { now: new Date() },
      );
      assert.equal(slow.result, 'Error');
      assert.match(slow.reason, /no answer .* within 300 ms/);
      assert.ok(Date.now() - started < 30_000, 'the timeout ended the wait');
    } finally {
      await close(hang.server);
    }
  });

  it('sends the bearer token to an authenticating proxy in front of Prometheus, and never shows it', async () => {
    const token = 's3cr3t-token-value';
    const proxy = await serve((req, res) => {
      if (req.headers.authorization !== `Bearer ${token}`) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"status":"error","error":"unauthorized"}');
        return;
      }
      fetch(prom.url + req.url!).then(
        async (r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()),
        () => res.writeHead(502).end(),
      );
    });
    try {
      latency.set(1.1);
      await scraped('max(pos_invoice_p95_seconds)', 1.1);
      const metric = {
        address: proxy.url,
        query: 'max(pos_invoice_p95_seconds)',
        successCondition: 'result < 2',
        tokenSecretRef: { name: 'prom-token', key: 'token' },
      };
      const secrets = new Map([['prom-token/token', `${token}\n`]]);
      const withToken = new PrometheusProvider((ref) => {
        const v = secrets.get(`${ref.name}/${ref.key}`);
        return v === undefined ? Promise.reject(new Error('no such key')) : Promise.resolve(v);
      });
      const ok = await withToken.measure(metric, { now: new Date() });
      assert.deepEqual([ok.value, ok.result], [1.1, 'Successful']);
      secrets.set('prom-token/token', 'wrong');
      const refused = await withToken.measure(metric, { now: new Date() });
      assert.equal(refused.result, 'Error');
      assert.match(refused.reason, /unauthorized/);
      assert.doesNotMatch(JSON.stringify([ok, refused]), /s3cr3t|wrong/);
    } finally {
      await close(proxy.server);
    }
  });

  it('HTTP JSON: picks the number by its path; absent is NoData; HTTP errors, non-numbers and slowness are Errors', async () => {
    let body: unknown = { data: { p95: 0.7 } };
    let status = 200;
    const api = await serve((req, res) => {
      if (req.headers['x-api-key'] !== 'k3y') {
        res.writeHead(403).end('{}');
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    try {
      const p = new HttpJsonProvider((ref) =>
        ref.name === 'qa' && ref.key === 'apiKey'
          ? Promise.resolve('k3y')
          : Promise.reject(new Error('no such key')),
      );
      const metric = {
        url: `${api.url}/qa/summary?window=1h`,
        jsonPath: 'data.p95',
        successCondition: 'result < 1',
        header: { name: 'x-api-key', secretRef: { name: 'qa', key: 'apiKey' } },
      };
      assert.equal((await p.measure(metric, { now: new Date() })).result, 'Successful');
      body = { data: { p95: '1.4' } };
      const s = await p.measure(metric, { now: new Date() });
      assert.deepEqual([s.value, s.result], [1.4, 'Failed']);
      body = { data: {} };
      assert.equal((await p.measure(metric, { now: new Date() })).result, 'NoData');
      body = { data: { p95: 'fast' } };
      const word = await p.measure(metric, { now: new Date() });
      assert.equal(word.result, 'Error');
      assert.match(word.reason, /'fast', not a number/);
      status = 503;
      const unavailable = await p.measure(metric, { now: new Date() });
      assert.equal(unavailable.result, 'Error');
      assert.match(unavailable.reason, /HTTP 503/);
      assert.doesNotMatch(unavailable.reason, /window=1h/, 'the query string is left out of messages');
      const noKey = await new HttpJsonProvider().measure(
        { ...metric, header: undefined },
        { now: new Date() },
      );
      assert.equal(noKey.result, 'Error');
      assert.match(noKey.reason, /HTTP 403/);
    } finally {
      await close(api.server);
    }
  });
});
