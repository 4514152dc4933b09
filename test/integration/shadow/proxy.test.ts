/**
 * The shadow proxy between two real HTTP services started here: a legacy one and a new one whose
 * answers differ in controlled ways. Exact difference counts per rule kind, nothing reported on
 * ignored, benignly different or noisy fields, legacy answers byte-identical through the proxy,
 * and the new stack slow or down never touching what clients get.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import { ShadowProxy } from '../../../src/shadow/proxy.js';
import type { MetricsJson } from '../../../src/shadow/metrics.js';
import { parseRules, type CompiledRules } from '../../../src/shadow/rules.js';
import type { DifferenceSample } from '../../../src/shadow/samples.js';
import {
  startBackend,
  startStalled,
  fetchRaw,
  endToEndHeaders,
  sleep,
  until,
  type Backend,
} from './backends.js';

const RULES = `
service: pos
compareHeaders: [content-type]
excludePaths: [/healthz]
defaults:
  ignore: [/meta]
redact:
  fields: [/customer/phone]
  headers: [x-tenant-token]
forwardHeaders: [accept, x-tenant-id, x-tenant-token]
routes:
  - template: /orders/{id}
    numbers:
      - { path: /total, tolerance: 0.001 }
      - { path: /tax, scale: 2, acceptStrings: true }
    timestamps:
      - { path: /createdAt }
      - { path: /localTime, assumeZone: Europe/Istanbul }
    arrays:
      - { path: /items, order: Unordered, key: /sku }
      - { path: /tags, order: Unordered }
    strings:
      - { path: /customer/name, trim: true, ignoreCase: true }
  - template: /reports/{id}
  - template: /bytes/**
`;

type Order = Record<string, unknown> & {
  items: { sku: string; qty: number; price: number }[];
  customer: { name: string; phone: string };
};

function legacyOrder(id: string): Order {
  return {
    id,
    total: 12.5,
    tax: '1.25',
    createdAt: '2026-12-01T02:00:00Z',
    localTime: '2026-12-01 05:00:00',
    items: [
      { sku: 'a', qty: 1, price: 2.5 },
      { sku: 'b', qty: 2, price: 5 },
    ],
    tags: ['x', 'y'],
    customer: { name: 'Ayşe Yılmaz', phone: '+905551112233' },
    meta: { requestId: randomBytes(4).toString('hex') },
  };
}

/** The new stack's answer: benign differences always, plus the one the variant names. */
function newOrder(id: string): { status?: number; contentType?: string; body: unknown } {
  const o = legacyOrder(id);
  // Benign: within tolerance, same scale, same instants, other order, case and spaces, ignored meta.
  o.total = 12.5000001;
  o.tax = 1.25;
  o.createdAt = '2026-12-01T05:00:00+03:00';
  o.localTime = '2026-12-01T02:00:00.000Z';
  o.items = [...o.items].reverse();
  o.tags = ['y', 'x'];
  o.customer.name = '  ayşe yılmaz ';
  o.meta = { requestId: 'other', node: 'new-1' };
  switch (id) {
    case 'number':
      o.total = 12.51;
      break;
    case 'scale':
      o.tax = 1.26;
      break;
    case 'timestamp':
      o.createdAt = '2026-12-01T03:00:00Z';
      break;
    case 'zone':
      o.localTime = '2026-12-01T05:00:00Z';
      break;
    case 'qty':
      o.items.find((i) => i.sku === 'b')!.qty = 3;
      break;
    case 'items':
      o.items = [
        { sku: 'a', qty: 1, price: 2.5 },
        { sku: 'c', qty: 1, price: 1 },
      ];
      break;
    case 'string':
      o.customer.name = 'Ayse Yilmaz';
      break;
    case 'type':
      o.total = '12.5';
      break;
    case 'extra':
      o.discount = 0;
      break;
    case 'tags':
      o.tags = ['y', 'z'];
      break;
    case 'phone':
      o.customer.phone = '+905559998877';
      break;
    case 'status':
      return { status: 404, body: { error: 'not found' } };
    case 'header':
      return { contentType: 'text/json', body: o };
  }
  return { body: o };
}

/** Differences each variant must produce: kind → count. */
const EXPECTED: Record<string, Record<string, number>> = {
  same: {},
  meta: {},
  number: { number: 1 },
  scale: { number: 1 },
  timestamp: { timestamp: 1 },
  zone: { timestamp: 1 },
  qty: { value: 1 },
  items: { missing: 1, extra: 1 },
  string: { string: 1 },
  type: { type: 1 },
  extra: { extra: 1 },
  tags: { value: 1 },
  phone: { value: 1 },
  status: { status: 1 },
  header: { header: 1 },
};

function json(res: http.ServerResponse, body: unknown, status = 200, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const LARGE = randomBytes(3 * 1024 * 1024);
const GZIPPED = zlib.gzipSync(Buffer.from(JSON.stringify(legacyOrder('gz'))));

/** Legacy: orders, reports with a random field, and byte-exactness fixtures. */
function legacyHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const [, first, id] = url.pathname.split('/');
  if (first === 'orders') return json(res, legacyOrder(id!));
  if (first === 'reports')
    return json(res, {
      id,
      rows: [1, 2, 3],
      generatedAt: new Date(Date.now() - Math.floor(Math.random() * 1e6)).toISOString(),
      cacheKey: randomBytes(6).toString('hex'),
    });
  if (first === 'healthz') return json(res, { ok: true });
  if (first === 'bytes') {
    res.sendDate = false;
    switch (id) {
      case 'chunked': {
        res.writeHead(
          200,
          'Fine Thanks',
          [
            ['Content-Type', 'text/plain'],
            ['Set-Cookie', 'a=1; HttpOnly'],
            ['Set-Cookie', 'b=2'],
            ['X-Odd-CASE', 'v'],
            ['Date', 'Tue, 01 Dec 2026 02:00:00 GMT'],
          ].flat(),
        );
        let n = 0;
        const t = setInterval(() => {
          res.write(`chunk ${n}\n`.repeat(100));
          if (++n === 5) {
            clearInterval(t);
            res.end('end\n');
          }
        }, 5);
        return;
      }
      case 'gzip':
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'content-length': GZIPPED.length,
          vary: 'accept-encoding',
        });
        return void res.end(GZIPPED);
      case 'large':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': LARGE.length });
        return void res.end(LARGE);
      case 'error':
        res.writeHead(500, 'Internal Oops', { 'content-type': 'text/html', 'content-length': 21 });
        return void res.end('<h1>legacy broke</h1>');
      case 'empty':
        res.writeHead(204, { 'x-empty': 'yes' });
        return void res.end();
      case 'text':
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end('legacy text');
    }
  }
  json(res, { error: 'no such route' }, 404);
}

function newHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const [, first, id] = url.pathname.split('/');
  if (first === 'orders') {
    const a = newOrder(id!);
    return json(res, a.body, a.status ?? 200, a.contentType);
  }
  if (first === 'reports')
    return json(res, { id, rows: [1, 2, 3], generatedAt: new Date().toISOString(), cacheKey: 'new' });
  if (first === 'bytes') {
    if (id === 'gzip') return json(res, legacyOrder('gz'));
    if (id === 'large') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': LARGE.length });
      return void res.end(LARGE);
    }
    if (id === 'text') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('new text');
    }
    if (id === 'error') {
      res.writeHead(500, { 'content-type': 'text/html' });
      return void res.end('<h1>legacy broke</h1>');
    }
    if (id === 'empty') {
      res.writeHead(204);
      return void res.end();
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    return void res.end(`chunk 0\n`);
  }
  json(res, { error: 'no such route' }, 404);
}

/** A metric of the whole proxy (both threads with the mirror thread). */
async function metricOf(proxy: ShadowProxy, name: string): Promise<MetricsJson[number]> {
  const m = (await proxy.metricsJson()).find((x) => x.name === name);
  assert.ok(m, `${name} missing`);
  return m;
}

async function recent(proxy: ShadowProxy): Promise<DifferenceSample[]> {
  return (await proxy.samplesReport()).samples;
}

async function kinds(proxy: ShadowProxy, route: string): Promise<Record<string, number>> {
  const data = await metricOf(proxy, 'cutover_shadow_differences_total');
  const out: Record<string, number> = {};
  for (const v of data.values)
    if (v.labels.route === route) out[String(v.labels.kind)] = (out[String(v.labels.kind)] ?? 0) + v.value;
  return out;
}

for (const mirrorThread of [false, true])
  describe(`shadow proxy: two real services (mirror ${mirrorThread ? 'thread' : 'inline'})`, function () {
    this.timeout(120_000);
    let legacy: Backend;
    let legacy2: Backend;
    let candidate: Backend;
    let rules: CompiledRules;
    const proxies: ShadowProxy[] = [];

    async function startProxy(
      o: { newUrl?: string; secondary?: string; rules?: CompiledRules } = {},
    ): Promise<{ proxy: ShadowProxy; url: string }> {
      const proxy = new ShadowProxy({
        legacyUrl: legacy.url,
        newUrl: o.newUrl ?? candidate.url,
        secondaryLegacyUrl: o.secondary,
        rules: o.rules ?? rules,
        mirrorThread,
      });
      proxies.push(proxy);
      const a = await proxy.listen(0);
      return { proxy, url: `http://127.0.0.1:${a.port}` };
    }

    before(async () => {
      rules = parseRules(RULES, 'test rules');
      legacy = await startBackend(legacyHandler);
      legacy2 = await startBackend(legacyHandler);
      candidate = await startBackend(newHandler);
    });

    after(async () => {
      for (const p of proxies) await p.close(500);
      await Promise.all([legacy.close(), legacy2.close(), candidate.close()]);
    });

    it('counts exactly the differences each rule kind should find, and none on benign or ignored ones', async () => {
      const { proxy, url } = await startProxy();
      const total: Record<string, number> = {};
      for (const [variant, expected] of Object.entries(EXPECTED)) {
        const before = await kinds(proxy, '/orders/{id}');
        const compared = await proxy.total('cutover_shadow_compared_total');
        const r = await fetchRaw(`${url}/orders/${variant}`);
        assert.equal(r.status, 200);
        assert.equal((JSON.parse(r.body.toString()) as { id: string }).id, variant, 'legacy answered');
        await until(
          `comparison of ${variant}`,
          async () => (await proxy.total('cutover_shadow_compared_total')) === compared + 1,
        );
        const after = await kinds(proxy, '/orders/{id}');
        const delta: Record<string, number> = {};
        for (const [k, v] of Object.entries(after))
          if (v - (before[k] ?? 0) > 0) delta[k] = v - (before[k] ?? 0);
        assert.deepEqual(
          delta,
          expected,
          `variant ${variant}: ${JSON.stringify((await recent(proxy))[0]?.diff)}`,
        );
        for (const [k, v] of Object.entries(expected)) total[k] = (total[k] ?? 0) + v;
      }
      const differing = Object.values(EXPECTED).filter((e) => Object.keys(e).length > 0).length;
      assert.equal(
        await proxy.total('cutover_shadow_compared_total', { route: '/orders/{id}' }),
        Object.keys(EXPECTED).length,
      );
      assert.equal(await proxy.total('cutover_shadow_differing_total', { route: '/orders/{id}' }), differing);
      assert.deepEqual(await kinds(proxy, '/orders/{id}'), total);
      // Fields are labelled as generalized pointers.
      const fields = (await metricOf(proxy, 'cutover_shadow_differences_total')).values.map(
        (v) => `${v.labels.field}|${v.labels.kind}`,
      );
      for (const f of [
        '/total|number',
        '/tax|number',
        '/createdAt|timestamp',
        '/localTime|timestamp',
        '/items/*/qty|value',
        '/items/*|missing',
        '/items/*|extra',
        '/customer/name|string',
        '/discount|extra',
        '/tags/*|value',
        'status|status',
        'header:content-type|header',
      ]) {
        assert.ok(fields.includes(f), `${f} not in ${fields.join(', ')}`);
      }
      assert.ok(!fields.some((f) => f.startsWith('/meta')), 'ignored /meta reported');

      // The sample shows a readable diff, with the phone redacted and the forwarded headers.
      await fetchRaw(`${url}/orders/phone?token=s3cr3t&page=2`, {
        headers: { 'x-tenant-id': 'ist-01', 'x-tenant-token': 'very-secret', authorization: 'Bearer abc' },
      });
      await until(
        'phone sample',
        async () => (await recent(proxy))[0]?.target.startsWith('/orders/phone?') ?? false,
      );
      const s = (await recent(proxy))[0]!;
      assert.equal(s.target, '/orders/phone?token=***&page=2');
      assert.deepEqual(s.differences, [
        { path: '/customer/phone', kind: 'value', legacy: '***', new: '***' },
      ]);
      assert.deepEqual(s.diff, ['~ /customer/phone: "***" → "***" (value)']);
      assert.equal(s.requestHeaders['x-tenant-id'], 'ist-01');
      assert.equal(s.requestHeaders['x-tenant-token'], '***');
      assert.equal(s.requestHeaders.authorization, undefined, 'authorization is not forwarded unless listed');
      assert.ok(!JSON.stringify(await recent(proxy)).includes('5551112233'), 'phone leaked into samples');
      const seenByNew = candidate.seen.find((x) => x.url.startsWith('/orders/phone?'))!;
      assert.equal(seenByNew.headers['x-tenant-id'], 'ist-01');
      assert.equal(seenByNew.headers['x-cutover-shadow'], '1');
      assert.equal(seenByNew.headers.authorization, undefined);
      const numberSample = (await recent(proxy)).find((x) => x.target === '/orders/number')!;
      assert.deepEqual(numberSample.diff, ['~ /total: 12.5 → 12.51 (number)']);
      const items = (await recent(proxy)).find((x) => x.target === '/orders/items')!;
      assert.deepEqual(items.diff, [
        '- /items/1: {"sku":"b","qty":2,"price":5} (missing in new)',
        '+ /items/1: {"sku":"c","qty":1,"price":1} (only in new)',
      ]);
    });

    it('mirrors only what the rules select and labels unknown paths as other', async () => {
      const { proxy, url } = await startProxy();
      await fetchRaw(`${url}/healthz`);
      await fetchRaw(`${url}/orders/same`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      await fetchRaw(`${url}/unknown/path`);
      await until('one compared', async () => (await proxy.total('cutover_shadow_compared_total')) === 1);
      await sleep(100);
      assert.equal(await proxy.total('cutover_shadow_requests_total'), 3);
      assert.equal(
        await proxy.total('cutover_shadow_mirrored_total'),
        1,
        'healthz excluded, POST not a mirrored method',
      );
      assert.equal(await proxy.total('cutover_shadow_mirrored_total', { route: 'other' }), 1);
    });

    it('learns noise from a second legacy backend: random fields are noise, not differences', async () => {
      const withoutNoise = await startProxy();
      const withNoise = await startProxy({ secondary: legacy2.url });
      for (let i = 0; i < 25; i++) {
        await fetchRaw(`${withoutNoise.url}/reports/${i}`);
        await fetchRaw(`${withNoise.url}/reports/${i}`);
      }
      await until(
        'all compared',
        async () =>
          (await withNoise.proxy.total('cutover_shadow_compared_total')) === 25 &&
          (await withoutNoise.proxy.total('cutover_shadow_compared_total')) === 25,
      );
      // Without a second legacy backend the random fields count as differences on every request...
      assert.equal(await withoutNoise.proxy.total('cutover_shadow_differing_total'), 25);
      // ...with it they are noise: no difference at all, 2 noisy fields per request.
      assert.equal(await withNoise.proxy.total('cutover_shadow_differing_total'), 0);
      assert.equal(await withNoise.proxy.total('cutover_shadow_differences_total'), 0);
      assert.equal(await withNoise.proxy.total('cutover_shadow_noise_total', { field: '/generatedAt' }), 25);
      assert.equal(await withNoise.proxy.total('cutover_shadow_noise_total', { field: '/cacheKey' }), 25);
      const report = (await withNoise.proxy.noiseReport()).routes.find((r) => r.route === '/reports/{id}')!;
      assert.equal(report.samples, 25);
      assert.deepEqual(report.fields.map((f) => [f.field, f.noisy]).sort(), [
        ['/cacheKey', true],
        ['/generatedAt', true],
      ]);
      // A real difference on a route with noise is still one.
      const before = await withNoise.proxy.total('cutover_shadow_differing_total');
      await fetchRaw(`${withNoise.url}/orders/number`);
      await until(
        'order compared',
        async () => (await withNoise.proxy.total('cutover_shadow_compared_total')) === 26,
      );
      assert.equal(await withNoise.proxy.total('cutover_shadow_differing_total'), before + 1);
    });

    it('gives legacy answers back byte for byte: chunked, compressed, large, HEAD, errors, 204', async () => {
      const { proxy, url } = await startProxy();
      const cases: { path: string; method?: string; headers?: http.OutgoingHttpHeaders }[] = [
        { path: '/bytes/chunked' },
        { path: '/bytes/gzip', headers: { 'accept-encoding': 'gzip' } },
        { path: '/bytes/large' },
        { path: '/bytes/error' },
        { path: '/bytes/empty' },
        { path: '/bytes/text' },
        { path: '/orders/same', method: 'HEAD' },
        { path: '/no/such/thing' },
      ];
      for (const c of cases) {
        const direct = await fetchRaw(`${legacy.url}${c.path}`, c);
        const proxied = await fetchRaw(`${url}${c.path}`, c);
        assert.equal(proxied.status, direct.status, c.path);
        assert.equal(proxied.statusMessage, direct.statusMessage, c.path);
        const strip = (h: string[][]): string[][] => h.filter(([k]) => k!.toLowerCase() !== 'date');
        assert.deepEqual(
          strip(endToEndHeaders(proxied.rawHeaders)),
          strip(endToEndHeaders(direct.rawHeaders)),
          c.path,
        );
        if (c.path === '/bytes/chunked')
          assert.deepEqual(
            endToEndHeaders(proxied.rawHeaders),
            endToEndHeaders(direct.rawHeaders),
            'legacy Date kept',
          );
        assert.equal(
          createHash('sha256').update(proxied.body).digest('hex'),
          createHash('sha256').update(direct.body).digest('hex'),
          c.path,
        );
        assert.equal(proxied.body.length, direct.body.length, c.path);
      }
      await until('compared', async () => (await proxy.total('cutover_shadow_compared_total')) >= 7);
      await sleep(200);
      const k = await kinds(proxy, '/bytes/**');
      // The gzip answer equals the new stack's plain one once decoded; the 3 MB one is over
      // maxBodyBytes but identity-encoded, so compared by hash (equal); the texts differ by hash;
      // the error pages are equal; the chunked one differs (by hash).
      assert.deepEqual(k, { hash: 2 });
      assert.equal(await proxy.total('cutover_shadow_too_large_total'), 0);
    });

    it('passes request bodies, query strings and upgrades through to legacy', async () => {
      const echo = await startBackend((req, res) => {
        if (req.headers.upgrade) return;
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              method: req.method,
              url: req.url,
              host: req.headers.host,
              body: Buffer.concat(chunks).toString('base64'),
            }),
          );
        });
      });
      const proxy = new ShadowProxy({ legacyUrl: echo.url, newUrl: candidate.url, rules, mirrorThread });
      proxies.push(proxy);
      const port = (await proxy.listen(0)).port;
      const body = randomBytes(200_000);
      const r = await fetchRaw(`http://127.0.0.1:${port}/upload?x=1&y=%20z`, {
        method: 'PUT',
        body,
        headers: { host: 'pos.example', 'content-type': 'application/octet-stream' },
      });
      const got = JSON.parse(r.body.toString()) as {
        method: string;
        url: string;
        host: string;
        body: string;
      };
      assert.equal(got.method, 'PUT');
      assert.equal(got.url, '/upload?x=1&y=%20z');
      assert.equal(got.host, 'pos.example', 'Host is passed as the client sent it');
      assert.ok(Buffer.from(got.body, 'base64').equals(body));
      await echo.close();

      // An upgrade (WebSocket) is tunnelled to legacy byte for byte.
      const ws = http.createServer();
      ws.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${String(req.headers.upgrade)}\r\nConnection: Upgrade\r\n\r\n`,
        );
        socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
      });
      await new Promise<void>((resolve) => ws.listen(0, '127.0.0.1', resolve));
      const wsProxy = new ShadowProxy({
        legacyUrl: `http://127.0.0.1:${(ws.address() as AddressInfo).port}`,
        newUrl: candidate.url,
        rules,
        mirrorThread,
      });
      proxies.push(wsProxy);
      const wsPort = (await wsProxy.listen(0)).port;
      const echoed = await new Promise<string>((resolve, reject) => {
        const req = http.request({
          port: wsPort,
          host: '127.0.0.1',
          path: '/live',
          headers: { connection: 'Upgrade', upgrade: 'websocket' },
        });
        req.on('upgrade', (res, socket) => {
          assert.equal(res.statusCode, 101);
          socket.once('data', (d: Buffer) => {
            resolve(d.toString());
            socket.destroy();
          });
          socket.write('ping');
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(echoed, 'echo:ping');
      ws.closeAllConnections();
      ws.close();
    });

    it('never lets a slow or dead new stack touch legacy answers', async () => {
      const slow = await startBackend((req, res) => {
        const t = setTimeout(() => json(res, { late: true }), 10_000);
        res.on('close', () => clearTimeout(t));
      });
      const slowRules = parseRules(
        `${RULES}\nnewStack: { timeout: 2s }\nqueue: { size: 8, concurrency: 4 }\n`,
        'slow',
      );
      const viaSlow = await startProxy({ newUrl: slow.url, rules: slowRules });
      const viaDead = await startProxy({ newUrl: 'http://127.0.0.1:9', rules: slowRules });
      for (const target of [viaSlow, viaDead]) {
        const answers = await Promise.all(
          Array.from({ length: 60 }, (_, i) => fetchRaw(`${target.url}/orders/same?i=${i}`)),
        );
        for (const a of answers) {
          assert.equal(a.status, 200);
          assert.equal((JSON.parse(a.body.toString()) as { id: string }).id, 'same');
        }
        // Had legacy answers waited for the new stack they would take its 10 s, or the 2 s timeout.
        const slowest = Math.max(...answers.map((a) => a.ms));
        assert.ok(slowest < 1_500, `slowest legacy answer took ${slowest.toFixed(0)} ms`);
      }
      await until(
        'slow timeouts counted',
        async () =>
          (await viaSlow.proxy.total('cutover_shadow_errors_total', {
            side: 'new',
            reason: 'timeout',
          })) > 0,
      );
      await until(
        'refusals counted',
        async () =>
          (await viaDead.proxy.total('cutover_shadow_errors_total', {
            side: 'new',
            reason: 'refused',
          })) > 0,
      );
      // The queue of 8 was full for most of the burst of 60: the rest was dropped and counted.
      const dropped = await viaSlow.proxy.total('cutover_shadow_dropped_total', {
        reason: 'queue_full',
      });
      assert.ok(dropped >= 52, `dropped ${dropped}`);
      await viaSlow.proxy.drained();
      // Every request was either sent to the new stack or dropped (and counted), none lost.
      const allDropped = await viaSlow.proxy.total('cutover_shadow_dropped_total');
      assert.equal((await viaSlow.proxy.total('cutover_shadow_mirrored_total')) + allDropped, 60);
      assert.equal(await viaSlow.proxy.total('cutover_shadow_compared_total'), 0);
      assert.equal(viaSlow.proxy.stats().bufferedBytes, 0, 'every capture released');
      await slow.close();
    });

    it('answers 502 when legacy is down, and counts it', async () => {
      const proxy = new ShadowProxy({
        legacyUrl: 'http://127.0.0.1:9',
        newUrl: candidate.url,
        rules,
        mirrorThread,
      });
      proxies.push(proxy);
      const port = (await proxy.listen(0)).port;
      const r = await fetchRaw(`http://127.0.0.1:${port}/orders/same`);
      assert.equal(r.status, 502);
      assert.equal(
        await proxy.total('cutover_shadow_errors_total', { side: 'legacy', reason: 'refused' }),
        1,
      );
      await until(
        'drop counted',
        async () =>
          (await proxy.total('cutover_shadow_dropped_total', { reason: 'legacy_incomplete' })) === 1,
      );
      assert.equal(await proxy.total('cutover_shadow_compared_total'), 0);
    });

    it('with queue.maxLag, a proxy short of CPU stops mirroring (counted as overloaded) and legacy still answers every request; mirroring resumes once it catches up', async () => {
      const lagRules = parseRules(`${RULES}\nqueue: { maxLag: 5ms }\n`, 'lag');
      const via = await startProxy({ newUrl: candidate.url, rules: lagRules });
      // This process's event loop (the proxy's) blocked for 40 ms every 50 ms: CPU it does not get.
      const hog = setInterval(() => {
        const end = performance.now() + 40;
        while (performance.now() < end);
      }, 50);
      let hogged: { status: number; body: Buffer }[];
      try {
        await sleep(300);
        hogged = [];
        for (let i = 0; i < 20; i++) hogged.push(await fetchRaw(`${via.url}/orders/same?i=${i}`));
      } finally {
        clearInterval(hog);
      }
      for (const a of hogged) {
        assert.equal(a.status, 200);
        assert.equal((JSON.parse(a.body.toString()) as { id: string }).id, 'same');
      }
      const overloaded = await via.proxy.total('cutover_shadow_dropped_total', {
        reason: 'overloaded',
      });
      assert.ok(overloaded >= 10, `overloaded ${overloaded} of 20 while the loop was behind`);
      // Caught up: every request is mirrored and compared again.
      await until('the lag to decay', async () => via.proxy.stats().lagMs < 1);
      const mirroredBefore = await via.proxy.total('cutover_shadow_mirrored_total');
      for (let i = 0; i < 10; i++)
        assert.equal((await fetchRaw(`${via.url}/orders/same?j=${i}`)).status, 200);
      await via.proxy.drained();
      assert.equal((await via.proxy.total('cutover_shadow_mirrored_total')) - mirroredBefore, 10);
      assert.equal(
        await via.proxy.total('cutover_shadow_dropped_total', { reason: 'overloaded' }),
        overloaded,
      );
    });

    it('holds the queue bound and the buffered bytes under a stalled new stack', async () => {
      const stalled = await startStalled();
      const bound = parseRules(
        `${RULES}\nnewStack: { timeout: 1s }\nqueue: { size: 30, concurrency: 5 }\nmaxBodyBytes: 65536\nmaxBufferedBytes: 1048576\n`,
        'bounded',
      );
      const big = randomBytes(40 * 1024).toString('base64');
      const heavy = await startBackend((_req, res) => json(res, { big }));
      const proxy = new ShadowProxy({
        legacyUrl: heavy.url,
        newUrl: stalled.url,
        rules: bound,
        mirrorThread,
      });
      proxies.push(proxy);
      const port = (await proxy.listen(0)).port;
      let maxAdmitted = 0;
      let maxBuffered = 0;
      const watch = setInterval(() => {
        const s = proxy.stats();
        maxAdmitted = Math.max(maxAdmitted, s.admitted);
        maxBuffered = Math.max(maxBuffered, s.bufferedBytes);
      }, 2);
      try {
        for (let wave = 0; wave < 4; wave++) {
          await Promise.all(
            Array.from({ length: 200 }, (_, i) => fetchRaw(`http://127.0.0.1:${port}/orders/${wave}-${i}`)),
          );
        }
      } finally {
        clearInterval(watch);
      }
      assert.ok(maxAdmitted <= 30, `admitted ${maxAdmitted} > queue size 30`);
      assert.ok(maxBuffered <= 1048576, `buffered ${maxBuffered} > maxBufferedBytes`);
      assert.ok((await proxy.total('cutover_shadow_dropped_total', { reason: 'queue_full' })) > 500);
      await proxy.drained();
      assert.equal(proxy.stats().admitted, 0);
      assert.equal(proxy.stats().bufferedBytes, 0, 'every capture released');
      await Promise.all([stalled.close(), heavy.close()]);
    });
  });
