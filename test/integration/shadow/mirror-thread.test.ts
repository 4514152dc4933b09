/**
 * The mirror thread (--mirror-thread on) between real HTTP services: a thread that dies is
 * restarted, the jobs it held are dropped and counted (mirror_restart), the restart is counted, and
 * legacy's answers stay byte-identical throughout; the admin port's /metrics merges the main
 * thread's figures (requests, drops) with the thread's (mirrored, compared); the thread runs at the
 * nice value it was given.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { AdminServer } from '../../../src/shadow/admin-server.js';
import { ShadowProxy } from '../../../src/shadow/proxy.js';
import { parseRules } from '../../../src/shadow/rules.js';
import { startBackend, startStalled, fetchRaw, endToEndHeaders, until, type Backend } from './backends.js';

const RULES = `
service: pos
newStack: { timeout: 30s }
queue: { size: 50, concurrency: 8 }
`;

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const body = JSON.stringify({ path: req.url, total: 12.5, items: [1, 2, 3] });
  res.sendDate = false; // the same headers from both calls of a comparison
  res.writeHead(200, 'Fine', [
    ['Content-Type', 'application/json'],
    ['X-Legacy', 'yes'],
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
    ['Content-Length', String(Buffer.byteLength(body))],
  ] as unknown as http.OutgoingHttpHeaders);
  res.end(body);
}

describe('shadow proxy: the mirror thread', function () {
  this.timeout(60_000);
  let legacy: Backend;
  let candidate: Backend;
  let stalled: Backend;
  const proxies: ShadowProxy[] = [];
  const admins: AdminServer[] = [];

  async function start(newUrl: string, nice = 0): Promise<{ proxy: ShadowProxy; url: string }> {
    const proxy = new ShadowProxy({
      legacyUrl: legacy.url,
      newUrl,
      rules: parseRules(RULES, 'thread rules'),
      mirrorThread: true,
      mirrorNice: nice,
    });
    proxies.push(proxy);
    const a = await proxy.listen(0);
    await proxy.link!.ready();
    return { proxy, url: `http://127.0.0.1:${a.port}` };
  }

  before(async () => {
    legacy = await startBackend(answer);
    candidate = await startBackend(answer);
    stalled = await startStalled();
  });

  after(async () => {
    for (const a of admins) await a.close();
    for (const p of proxies) await p.close(500);
    await Promise.all([legacy.close(), candidate.close(), stalled.close()]);
  });

  it('restarts a thread that died: its jobs dropped as mirror_restart, the restart counted, legacy served byte for byte', async () => {
    const { proxy, url } = await start(stalled.url);
    const direct = await fetchRaw(`${legacy.url}/orders/1`);
    const same = async (path: string): Promise<void> => {
      const a = await fetchRaw(`${url}${path}`);
      const d = await fetchRaw(`${legacy.url}${path}`);
      assert.equal(a.status, d.status);
      assert.equal(a.statusMessage, 'Fine');
      assert.deepEqual(endToEndHeaders(a.rawHeaders), endToEndHeaders(d.rawHeaders));
      assert.ok(a.body.equals(d.body), `${path}: body differs`);
    };
    assert.equal(direct.status, 200);
    for (let i = 0; i < 20; i++) await same(`/orders/${i}`);
    // All 20 are with the thread (the new stack never answers), and count against the queue.
    await until(
      'the thread holds the jobs',
      // (stats() shows the thread's queue as of its last report.)
      async () => {
        await proxy.link!.report();
        const s = proxy.stats();
        return s.inFlight === 8 && s.waiting === 12 && s.admitted === 20;
      },
    );
    const firstTid = proxy.link!.thread?.tid;
    await proxy.link!.kill();
    await until(
      'the jobs dropped',
      async () => (await proxy.total('cutover_shadow_dropped_total', { reason: 'mirror_restart' })) === 20,
    );
    assert.equal(proxy.stats().admitted, 0, 'the queue is free again');
    assert.equal(proxy.stats().bufferedBytes, 0, 'every held body given back');
    await proxy.link!.ready();
    assert.notEqual(proxy.link!.thread?.tid, firstTid, 'a new thread');
    assert.equal(proxy.link!.restarts, 1);
    assert.equal(await proxy.total('cutover_shadow_mirror_thread_restarts_total'), 1);
    // Serving goes on, byte for byte, and the new thread takes jobs again.
    for (let i = 20; i < 30; i++) await same(`/orders/${i}`);
    await until('the new thread holds the new jobs', () => proxy.stats().admitted === 10);
    assert.equal(await proxy.total('cutover_shadow_requests_total'), 30);
    assert.equal(
      await proxy.total('cutover_shadow_mirrored_total'),
      8,
      "sent by the new thread (its concurrency); the dead thread's counts are gone with it",
    );
  });

  it('compares again after a restart', async () => {
    const { proxy, url } = await start(candidate.url);
    for (let i = 0; i < 5; i++) await fetchRaw(`${url}/orders/${i}`);
    await until('compared', async () => (await proxy.total('cutover_shadow_compared_total')) === 5);
    await proxy.link!.kill();
    await until('restarted', () => proxy.link!.restarts === 1);
    await proxy.link!.ready();
    for (let i = 0; i < 7; i++) await fetchRaw(`${url}/orders/${i}`);
    await until('compared again', async () => (await proxy.total('cutover_shadow_compared_total')) === 7);
    assert.equal(await proxy.total('cutover_shadow_differing_total'), 0);
    assert.equal(
      await proxy.total('cutover_shadow_dropped_total'),
      0,
      'nothing was with the thread when it died',
    );
  });

  it("merges the main thread's and the mirror thread's metrics on the admin port, and runs the thread at its nice value", async () => {
    const { proxy, url } = await start(candidate.url, 7);
    const admin = new AdminServer(proxy);
    admins.push(admin);
    const at = await admin.listen(0);
    for (let i = 0; i < 12; i++) await fetchRaw(`${url}/orders/${i}`);
    await fetchRaw(`${url}/orders/x`, { method: 'DELETE' }); // not mirrored
    await until('compared', async () => (await proxy.total('cutover_shadow_compared_total')) === 12);
    await proxy.drained(); // the thread has said it is done with every job
    const text = (await fetchRaw(`http://127.0.0.1:${at.port}/metrics`)).body.toString();
    const value = (series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(series));
      assert.ok(line, `${series} not in /metrics`);
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    // From the main thread:
    assert.equal(value('cutover_shadow_requests_total{service="pos",route="other"}'), 13);
    assert.equal(value('cutover_shadow_upstream_duration_seconds_count{service="pos",side="legacy"}'), 13);
    assert.ok(text.includes('cutover_shadow_process_cpu_seconds_total'), 'process metrics');
    // From the mirror thread:
    assert.equal(value('cutover_shadow_mirrored_total{service="pos",route="other"}'), 12);
    assert.equal(value('cutover_shadow_compared_total{service="pos",route="other"}'), 12);
    assert.equal(value('cutover_shadow_upstream_duration_seconds_count{service="pos",side="new"}'), 12);
    // Both report buffered bytes and the queue: nothing held now.
    assert.equal(value('cutover_shadow_queue_depth{service="pos"}'), 0);
    assert.equal(value('cutover_shadow_buffered_bytes{service="pos"}'), 0);
    const stats = JSON.parse((await fetchRaw(`http://127.0.0.1:${at.port}/stats`)).body.toString()) as Record<
      string,
      number
    >;
    assert.equal(stats.requests, 13);
    assert.equal(stats.compared, 12);
    assert.equal(stats.mirrorThreadRestarts, 0);
    // The thread lowered its own priority, not the process's.
    assert.equal(proxy.link!.thread?.nice, 7);
    const tid = proxy.link!.thread.tid!;
    const stat = (path: string): number => {
      const s = readFileSync(path, 'utf8');
      return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[16]);
    };
    assert.equal(stat(`/proc/self/task/${tid}/stat`), 7);
    assert.equal(stat('/proc/self/stat'), 0, 'the main thread keeps its priority');
  });
});
