/**
 * The informer's loop logic, driven through an in-memory list/watch transport (the real
 * transport is exercised against kube-apiserver in test/integration/runtime).
 */
import { strict as assert } from 'node:assert';
import { Informer, LAST_APPLIED_ANNOTATION } from '../../../src/runtime/informer.js';
import { ApiError, type KubeObject } from '../../../src/runtime/kube-client.js';
import { MemoryTransport } from '../../support/memory-transport.js';

async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function recorder(inf: Informer): string[] {
  const seen: string[] = [];
  inf.addHandler({
    onAdd: (o) => seen.push(`add ${o.metadata.name ?? ''}`),
    onUpdate: (a, b) => seen.push(`${a === b ? 'resync' : 'update'} ${b.metadata.name ?? ''}`),
    onDelete: (o) => seen.push(`delete ${o.metadata.name ?? ''}`),
  });
  return seen;
}

const fast = { backoff: { initialMs: 5, maxMs: 40, jitter: 0 }, resyncMs: 0 };

describe('runtime/informer', () => {
  let inf: Informer | undefined;
  afterEach(async () => {
    await inf?.stop();
    inf = undefined;
  });

  it('lists, then watches from the list resourceVersion with a 5-10 minute timeout', async () => {
    const t = new MemoryTransport();
    t.put('a');
    t.put('b');
    inf = new Informer('t', t, fast);
    const seen = recorder(inf);
    inf.start();
    await inf.waitForSync();
    await waitFor('watch', () => t.watches.length === 1);
    assert.deepEqual(seen.sort(), ['add a', 'add b']);
    assert.equal(t.current.rv, '102');
    assert.ok(t.current.timeoutSeconds >= 300 && t.current.timeoutSeconds <= 600);
    assert.equal(inf.cache.size, 2);
  });

  it('applies events to the cache, and bookmarks move the resourceVersion silently', async () => {
    const t = new MemoryTransport();
    inf = new Informer('t', t, fast);
    const seen = recorder(inf);
    inf.start();
    await waitFor('watch', () => t.watches.length === 1);
    const a = t.put('a');
    t.current.onEvent({ type: 'ADDED', object: a });
    const a2 = t.put('a', 'x');
    t.current.onEvent({ type: 'MODIFIED', object: a2 });
    t.current.onEvent({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '500' } } });
    assert.equal(inf.lastResourceVersion, '500');
    t.objects.delete('a');
    t.current.onEvent({
      type: 'DELETED',
      object: { ...a2, metadata: { ...a2.metadata, resourceVersion: '501' } },
    });
    assert.deepEqual(seen, ['add a', 'update a', 'delete a']);
    assert.equal(inf.cache.size, 0);
    assert.equal(inf.lastResourceVersion, '501');
  });

  it('a stream that ends is reopened from the last resourceVersion, without a relist', async () => {
    const t = new MemoryTransport();
    inf = new Informer('t', t, fast);
    inf.start();
    await waitFor('watch', () => t.watches.length === 1);
    t.current.onEvent({ type: 'ADDED', object: t.put('a') });
    t.current.onDone();
    await waitFor('second watch', () => t.watches.length === 2);
    assert.equal(t.current.rv, String(t.rv));
    assert.equal(t.lists, 1);
    assert.equal(inf.restarts.closed, 1);
  });

  it('any other error reconnects with capped exponential backoff and keeps the resourceVersion', async () => {
    const t = new MemoryTransport();
    inf = new Informer('t', t, { ...fast, backoff: { initialMs: 20, maxMs: 60, jitter: 0 } });
    inf.start();
    await waitFor('watch', () => t.watches.length === 1);
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const n = t.watches.length;
      times.push(Date.now());
      t.current.onDone(new ApiError('connect ECONNREFUSED', 0));
      await waitFor(`watch ${n + 1}`, () => t.watches.length === n + 1);
      times.push(Date.now());
    }
    const waits = [1, 3, 5, 7].map((i) => (times[i] ?? 0) - (times[i - 1] ?? 0));
    assert.ok((waits[0] ?? 0) >= 15, `first wait ${waits[0]}`);
    assert.ok((waits[2] ?? 0) >= 50, `third wait ${waits[2]} (capped at 60)`);
    assert.ok((waits[3] ?? 0) < 200, `fourth wait ${waits[3]} stays capped`);
    assert.equal(t.lists, 1, 'no relist for a plain error');
    assert.ok(t.watches.every((w) => w.rv === '100'));
    assert.equal(inf.restarts.error, 4);
  });

  it('410 Gone (as an ERROR event or as the HTTP status) relists and emits the differences', async () => {
    const t = new MemoryTransport();
    t.put('keep');
    t.put('change');
    t.put('remove');
    inf = new Informer('t', t, fast);
    const seen = recorder(inf);
    inf.start();
    await waitFor('watch', () => t.watches.length === 1);
    seen.length = 0;
    // Changes the informer missed while its resourceVersion was compacted away:
    t.put('change', 'v2');
    t.objects.delete('remove');
    t.put('new');
    t.current.onEvent({
      type: 'ERROR',
      object: {
        metadata: {},
        kind: 'Status',
        code: 410,
        reason: 'Expired',
        message: 'too old resource version',
      },
    });
    await waitFor('relist and watch', () => t.watches.length === 2);
    assert.equal(t.lists, 2);
    assert.deepEqual(seen.sort(), ['add new', 'delete remove', 'update change']);
    assert.equal(t.current.rv, String(t.rv));
    t.current.onDone(new ApiError('Gone', 410));
    await waitFor('second relist', () => t.watches.length === 3);
    assert.equal(t.lists, 3);
    assert.equal(inf.restarts.gone, 2);
  });

  it('restarts a watch that stays silent', async () => {
    const t = new MemoryTransport();
    inf = new Informer('t', t, { ...fast, silenceMs: 60 });
    inf.start();
    await waitFor('watch', () => t.watches.length === 1);
    await waitFor('silent restart', () => t.watches.length === 2, 2000);
    assert.ok(t.watches[0]?.aborted, 'the silent watch was closed');
    assert.ok((inf.restarts.silent ?? 0) >= 1);
  });

  it('retries a failing list with backoff and only then reports synced', async () => {
    const t = new MemoryTransport();
    t.put('a');
    t.listFailures = 3;
    inf = new Informer('t', t, fast);
    inf.start();
    assert.equal(inf.hasSynced(), false);
    await inf.waitForSync();
    assert.equal(t.lists, 4);
    assert.equal(inf.restarts['list-error'], 3);
    assert.equal(inf.cache.size, 1);
  });

  it('resyncs every cached object periodically', async () => {
    const t = new MemoryTransport();
    t.put('a');
    t.put('b');
    inf = new Informer('t', t, { ...fast, resyncMs: 30 });
    const seen = recorder(inf);
    inf.start();
    await waitFor('two resyncs', () => seen.filter((s) => s.startsWith('resync')).length >= 4);
    assert.ok(seen.includes('resync a') && seen.includes('resync b'));
  });

  it('caches objects without managedFields and kubectl last-applied copy, from lists and watch events', async () => {
    const heavy = (name: string): Partial<KubeObject> => ({
      metadata: {
        name,
        managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }],
        annotations: { [LAST_APPLIED_ANNOTATION]: '{"big":"copy"}', keep: 'me' },
        labels: { app: 'x' },
      },
    });
    const t = new MemoryTransport();
    t.put('listed', 'x', heavy('listed'));
    inf = new Informer('t', t, fast);
    const seen: KubeObject[] = [];
    inf.addHandler({ onAdd: (o) => seen.push(o), onUpdate: (_a, o) => seen.push(o) });
    inf.start();
    await waitFor('watch', () => t.watches.length === 1);
    t.current.onEvent({ type: 'ADDED', object: t.put('watched', 'y', heavy('watched')) });
    t.current.onEvent({ type: 'MODIFIED', object: t.put('watched', 'z', heavy('watched')) });
    assert.equal(seen.length, 3);
    for (const o of [...seen, ...inf.cache.list()]) {
      assert.equal('managedFields' in o.metadata, false, `${o.metadata.name ?? ''} keeps managedFields`);
      assert.deepEqual(o.metadata.annotations, { keep: 'me' });
      assert.deepEqual(o.metadata.labels, { app: 'x' });
    }
    assert.equal(inf.cache.get('ns/watched')?.data, 'z');
  });

  it('stop closes the watch and ends the loop', async () => {
    const t = new MemoryTransport();
    const i = new Informer('t', t, fast);
    i.start();
    await waitFor('watch', () => t.watches.length === 1);
    await i.stop();
    assert.ok(t.current.aborted);
    t.current.onDone();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(t.watches.length, 1, 'no reconnect after stop');
  });
});
