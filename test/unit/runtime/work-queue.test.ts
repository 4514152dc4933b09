import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { FakeClock } from '../../../src/runtime/clock.js';
import { WorkQueue } from '../../../src/runtime/work-queue.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('runtime/work-queue', () => {
  it('queues a key at most once', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'ns/a');
    assert.equal(await q.get(), 'ns/b');
    assert.equal(q.length, 0);
  });

  it('does not hand out a key being synced; a change during the sync queues it once more after done', async () => {
    const q = new WorkQueue();
    q.add('k');
    const k = await q.get();
    assert.equal(k, 'k');
    q.add('k');
    q.add('k');
    assert.equal(q.length, 0, 'not queued while in flight');
    let second: string | undefined;
    void q.get().then((x) => (second = x));
    await tick();
    assert.equal(second, undefined, 'a waiting worker does not get the in-flight key');
    q.done('k');
    await tick();
    assert.equal(second, 'k');
    q.done('k');
    assert.equal(q.length, 0, 'synced once more, not twice');
  });

  it('addAfter waits for the clock and keeps only the earliest timer per key', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter('k', 5000);
    q.addAfter('k', 1000);
    q.addAfter('k', 3000);
    assert.equal(q.delayed, 1);
    clock.advance(999);
    await tick();
    assert.equal(q.length, 0);
    clock.advance(1);
    await tick();
    assert.equal(q.length, 1);
    clock.advance(10_000);
    await tick();
    assert.equal(q.length, 1, 'the later timers were dropped');
  });

  it('addRateLimited backs off per key and forget resets it', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock, backoff: { initialMs: 100, maxMs: 10_000, jitter: 0 } });
    assert.equal(q.addRateLimited('a'), 100);
    clock.advance(100);
    await tick();
    assert.equal(await q.get(), 'a');
    q.done('a');
    assert.equal(q.addRateLimited('a'), 200);
    assert.equal(q.addRateLimited('b'), 100);
    assert.equal(q.failures('a'), 2);
    q.forget('a');
    assert.equal(q.failures('a'), 0);
    assert.equal(q.addRateLimited('a'), 100);
  });

  it('get resolves undefined on shutdown and on abort', async () => {
    const q = new WorkQueue();
    const ac = new AbortController();
    const p1 = q.get(ac.signal);
    ac.abort();
    assert.equal(await p1, undefined);
    const p2 = q.get();
    q.shutDown();
    assert.equal(await p2, undefined);
    q.add('x');
    assert.equal(q.length, 0, 'nothing is queued after shutdown');
  });

  it('property: with concurrent workers no key is ever synced twice at once and every add is followed by a sync', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.nat(3)), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        async (ops, workers) => {
          const q = new WorkQueue();
          const active = new Set<string>();
          const addedAt = new Map<string, number>();
          const syncStartedAt = new Map<string, number>();
          let step = 0;
          let violation = '';
          const stop = new AbortController();
          const loops = Array.from({ length: workers }, async () => {
            for (;;) {
              const k = await q.get(stop.signal);
              if (k === undefined) return;
              if (active.has(k)) violation = `key ${k} synced twice at once`;
              active.add(k);
              syncStartedAt.set(k, ++step);
              await tick();
              active.delete(k);
              q.done(k);
            }
          });
          for (const [key, pause] of ops) {
            addedAt.set(key, ++step);
            q.add(key);
            for (let i = 0; i < pause; i++) await tick();
          }
          for (let i = 0; i < 20; i++) await tick();
          stop.abort();
          await Promise.all(loops);
          assert.equal(violation, '');
          for (const [k, at] of addedAt)
            assert.ok((syncStartedAt.get(k) ?? 0) > at, `key ${k} added at ${at} not synced after`);
        },
      ),
      { numRuns: 100 },
    );
  });
});
