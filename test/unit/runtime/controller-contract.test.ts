/**
 * The controller's contract where it depends only on what the caches hold, driven through
 * in-memory list/watch transports: no sync before every watched kind's cache has synced, no sync
 * from a cached copy older than this process's last write, an object deleted mid-sync cancels
 * that sync. (Status writes, claims and errors in status are tested against kube-apiserver in
 * test/integration/runtime/controller.test.ts.)
 */
import { strict as assert } from 'node:assert';
import { Controller, InformerPool, type SyncContext } from '../../../src/runtime/controller.js';
import { ObjectDeletedError } from '../../../src/runtime/errors.js';
import { KubeClient, type ResourceType } from '../../../src/runtime/kube-client.js';
import { VersionTracker } from '../../../src/runtime/version-tracker.js';
import { MemoryTransport } from '../../support/memory-transport.js';

const WIDGET: ResourceType = {
  group: 'test.cutover.nokta.io',
  version: 'v1',
  plural: 'widgets',
  kind: 'Widget',
};
const CM: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };

/** A client for a cluster that does not exist: these tests must not send a single request. */
const offline = new KubeClient({
  getCurrentCluster: () => null,
  applyToHTTPSOptions: () => Promise.resolve(),
});

async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('runtime/controller contract (in-memory caches)', () => {
  let stopAll: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const s of stopAll) await s();
    stopAll = [];
  });

  function setup(
    sync: (ctx: SyncContext) => Promise<void>,
    owns: ResourceType[] = [],
  ): { widgets: MemoryTransport; configmaps: MemoryTransport; controller: Controller; start: () => void } {
    const widgets = new MemoryTransport();
    const configmaps = new MemoryTransport();
    const pool = new InformerPool(offline, {
      resyncMs: 0,
      transport: (rt) => (rt.plural === 'widgets' ? widgets : configmaps),
    });
    const controller = new Controller(
      { name: 'contract', resource: WIDGET, owns, sync: (ctx) => sync(ctx) },
      { client: offline, informerPool: pool, namespaces: ['ns'], workers: 2 },
    );
    const leading = new AbortController();
    stopAll.push(async () => {
      leading.abort();
      await controller.stop();
      await pool.stop();
    });
    return {
      widgets,
      configmaps,
      controller,
      start: () => {
        pool.start();
        controller.startWorkers(leading.signal);
      },
    };
  }

  it('syncs nothing until the cache of every watched kind has synced: an owned object is never read as missing', async () => {
    const seen: string[] = [];
    const { widgets, configmaps, start } = setup(
      async (ctx) => {
        seen.push(`${ctx.key}: ${ctx.cache(CM).get('ns/settings') ? 'found' : 'missing'}`);
      },
      [CM],
    );
    widgets.put('w1');
    configmaps.put('settings');
    configmaps.holdLists();
    start();
    await sleep(150);
    assert.deepEqual(seen, [], 'no sync while the ConfigMap cache is still listing');
    configmaps.releaseLists();
    await waitFor('the first sync', () => seen.length === 1);
    assert.deepEqual(seen, ['ns/w1: found']);
  });

  it('refuses to read a cache that has not synced instead of answering "not there"', async () => {
    const { widgets, configmaps, controller } = setup(() => Promise.resolve(), [CM]);
    widgets.put('w1');
    configmaps.holdLists();
    await assert.rejects(controller.process('ns/w1', new AbortController().signal), /has not synced yet/);
  });

  it('does not sync from a cached copy older than its own last write, and syncs once the watch delivers it', async () => {
    const synced: string[] = [];
    const { widgets, controller, start } = setup(async (ctx) => {
      synced.push(ctx.object?.metadata.resourceVersion ?? 'gone');
    });
    widgets.put('w1'); // resourceVersion 101
    start();
    await waitFor('the first sync', () => synced.length === 1);
    // This process wrote w1 at resourceVersion 150; the watch lags and first delivers 120.
    controller.versions.record('ns/w1', '150');
    const lagging = widgets.put('w1', 'old', { metadata: { resourceVersion: '120', generation: 2 } });
    widgets.current.onEvent({ type: 'MODIFIED', object: lagging });
    await sleep(150);
    assert.deepEqual(
      synced,
      ['101'],
      'the spec change at 120 is not synced from a copy older than our write',
    );
    const caughtUp = widgets.put('w1', 'new', { metadata: { resourceVersion: '150', generation: 2 } });
    widgets.current.onEvent({ type: 'MODIFIED', object: caughtUp });
    await waitFor('the sync once the cache caught up', () => synced.length === 2);
    assert.deepEqual(
      synced,
      ['101', '150'],
      'synced once, from the copy with our write, although only status changed',
    );
  });

  it('cancels the sync of an object that is deleted mid-sync, then syncs it as gone', async () => {
    const log: string[] = [];
    const { widgets, start } = setup(async (ctx) => {
      if (!ctx.object) {
        log.push('gone');
        return;
      }
      log.push('started');
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      log.push(ctx.signal.reason instanceof ObjectDeletedError ? 'cancelled: deleted' : 'cancelled');
      throw ctx.signal.reason;
    });
    const w = widgets.put('w1');
    start();
    await waitFor('the sync to start', () => log.includes('started'));
    const t0 = Date.now();
    widgets.objects.delete('w1');
    widgets.current.onEvent({
      type: 'DELETED',
      object: { ...w, metadata: { ...w.metadata, resourceVersion: '300' } },
    });
    await waitFor('the cancelled sync and the sync of the deleted object', () => log.length === 3);
    assert.deepEqual(log, ['started', 'cancelled: deleted', 'gone']);
    assert.ok(Date.now() - t0 < 500, `cancelled in ${Date.now() - t0} ms`);
  });
});

describe('runtime/version tracker', () => {
  it('calls a copy stale only when it is older than the last write, and forgets once caught up', () => {
    const t = new VersionTracker();
    assert.equal(t.isStale('a', '5'), false, 'nothing written');
    t.record('a', '10');
    t.record('a', '7');
    assert.equal(t.isStale('a', '9'), true);
    assert.equal(t.isStale('a', '10'), false);
    assert.equal(t.isStale('a', '11'), false);
    assert.equal(t.caughtUp('a', '9'), false);
    assert.equal(t.size, 1);
    assert.equal(t.caughtUp('a', '12'), true);
    assert.equal(t.size, 0, 'caught up: nothing kept');
    // resourceVersions that are not integers are never called stale.
    t.record('b', 'abc');
    assert.equal(t.isStale('b', 'abb'), false);
    t.record('c', '100000000000000000000000');
    assert.equal(
      t.isStale('c', '99999999999999999999999'),
      true,
      'compared as integers, not as floats or strings',
    );
  });
});
