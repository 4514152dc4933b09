/**
 * The shadowDifferences analysis metric with a real shadow proxy between two real HTTP servers
 * (legacy, and a new stack that differs on every fourth order): the difference rate read from the
 * proxy's admin /metrics endpoint and through a real Prometheus scraping it, judged by the
 * metric's conditions; too few compared answers is NoData; an unreachable proxy is an Error.
 */
import assert from 'node:assert/strict';
import { ShadowDifferencesProvider, sumSamples } from '../../../src/analysis/shadow-differences.js';
import { AdminServer } from '../../../src/shadow/admin-server.js';
import { ShadowProxy } from '../../../src/shadow/proxy.js';
import { parseRules } from '../../../src/shadow/rules.js';
import { startPrometheus, type TestPrometheus } from '../../support/prometheus.js';
import { fetchRaw, startBackend, until, type Backend } from '../shadow/backends.js';

const RULES = `
service: pos
defaults:
  ignore: [/meta]
`;

describe('analysis/shadowDifferences (a real proxy between two real HTTP servers)', function () {
  this.timeout(120_000);
  let legacy: Backend;
  let next: Backend;
  let proxy: ShadowProxy;
  let admin: AdminServer;
  let proxyUrl: string;
  let metricsUrl: string;
  let prom: TestPrometheus | undefined;
  const provider = new ShadowDifferencesProvider();
  const now = (): { now: Date } => ({ now: new Date() });

  before(async () => {
    const order = (id: number, total: number, meta: string): string =>
      JSON.stringify({ id, total, meta: { served: meta } });
    legacy = await startBackend((req, res) => {
      const id = Number(/\/orders\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      res.writeHead(200, { 'content-type': 'application/json' }).end(order(id, 10, 'legacy'));
    });
    next = await startBackend((req, res) => {
      const id = Number(/\/orders\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      // Every fourth order has another total; the ignored /meta always differs.
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(order(id, id % 4 === 0 ? 11 : 10, 'new'));
    });
    proxy = new ShadowProxy({ legacyUrl: legacy.url, newUrl: next.url, rules: parseRules(RULES) });
    const at = await proxy.listen(0, '127.0.0.1');
    proxyUrl = `http://127.0.0.1:${at.port}`;
    admin = new AdminServer(proxy);
    const a = await admin.listen(0, '127.0.0.1');
    metricsUrl = `http://127.0.0.1:${a.port}/metrics`;
  });
  after(async () => {
    await prom?.stop();
    await admin?.close();
    await proxy?.close(0);
    await legacy?.close();
    await next?.close();
  });

  it('too few compared answers is NoData, with the counts', async () => {
    const m = await provider.measure(
      { service: 'pos', metricsUrl, minCompared: 10, successCondition: 'result <= 1' },
      now(),
    );
    assert.equal(m.result, 'NoData');
    assert.equal(m.compared, 0);
    assert.match(m.reason, /0 answer\(s\) compared, fewer than 10/);
  });

  it('from the proxy endpoint: 40 orders, 10 differ → 25 %, judged by the conditions', async () => {
    for (let i = 1; i <= 40; i++) assert.equal((await fetchRaw(`${proxyUrl}/orders/${i}`)).status, 200);
    await until('40 compared', async () => {
      const text = await (await fetch(metricsUrl)).text();
      return sumSamples(text, 'cutover_shadow_compared_total', 'pos') === 40;
    });
    const failed = await provider.measure(
      { service: 'pos', metricsUrl, minCompared: 10, successCondition: 'result <= 1' },
      now(),
    );
    assert.equal(failed.result, 'Failed');
    assert.equal(failed.value, 25);
    assert.equal(failed.compared, 40);
    assert.equal(failed.differing, 10);
    const ok = await provider.measure(
      { service: 'pos', metricsUrl, successCondition: 'result <= 30' },
      now(),
    );
    assert.equal(ok.result, 'Successful');
    const other = await provider.measure(
      { service: 'billing', metricsUrl, successCondition: 'result <= 1' },
      now(),
    );
    assert.equal(other.result, 'NoData', 'another service has nothing compared');
  });

  it('through a real Prometheus scraping the proxy: totals and the increase over a window', async () => {
    prom = await startPrometheus({ targets: [new URL(metricsUrl).host] });
    await prom.waitForTargets();
    const metric = { service: 'pos', prometheus: { address: prom.url }, successCondition: 'result <= 1' };
    await until('scraped', async () => (await provider.measure(metric, now())).compared === 40);
    const m = await provider.measure(metric, now());
    assert.equal(m.value, 25);
    assert.equal(m.result, 'Failed');
    // Over a window: only what changed within it. Nothing did since the first scrape: NoData.
    const windowed = { ...metric, prometheus: { address: prom.url, window: '5m' } };
    const idle = await provider.measure(windowed, now());
    assert.equal(idle.result, 'NoData', idle.reason);
    // 20 more orders (41..60), 5 of them differ: the window sees 25 % of the new ones.
    for (let i = 41; i <= 60; i++) assert.equal((await fetchRaw(`${proxyUrl}/orders/${i}`)).status, 200);
    await until('the increase scraped', async () => {
      const w = await provider.measure(windowed, now());
      return w.compared !== undefined && w.compared >= 19;
    });
    const w = await provider.measure(windowed, now());
    assert.ok(Math.abs(w.value! - 25) < 1e-6, `window rate ${w.value}`);
    assert.equal(w.result, 'Failed');
    const bad = await provider.measure(
      { ...metric, prometheus: { address: prom.url, window: '5 minutes' } },
      now(),
    );
    assert.equal(bad.result, 'Error');
  });

  it('an unreachable proxy is an Error, not a failure', async () => {
    const m = await provider.measure(
      {
        service: 'pos',
        metricsUrl: 'http://127.0.0.1:9/metrics',
        successCondition: 'result <= 1',
        timeoutMs: 2000,
      },
      now(),
    );
    assert.equal(m.result, 'Error');
    assert.match(m.reason, /shadow proxy: cannot reach/);
  });
});
