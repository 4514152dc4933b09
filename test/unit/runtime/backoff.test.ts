import { strict as assert } from 'node:assert';
import { Backoff, KeyedBackoff, backoffDelay } from '../../../src/runtime/backoff.js';

describe('runtime/backoff', () => {
  it('doubles from the initial delay and caps at the maximum', () => {
    const o = { initialMs: 100, maxMs: 1000, jitter: 0 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, o)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });

  it('jitter only shortens the delay, by at most the jitter fraction', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, { initialMs: 100, maxMs: 10_000, jitter: 0.5 });
      assert.ok(d >= 400 && d <= 800, String(d));
    }
  });

  it('Backoff resets after a success', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 100, jitter: 0 });
    assert.deepEqual([b.next(), b.next(), b.next()], [10, 20, 40]);
    assert.equal(b.failures, 3);
    b.reset();
    assert.equal(b.next(), 10);
  });

  it('KeyedBackoff keeps one sequence per key', () => {
    const k = new KeyedBackoff({ initialMs: 10, maxMs: 100, jitter: 0 });
    assert.equal(k.next('a'), 10);
    assert.equal(k.next('a'), 20);
    assert.equal(k.next('b'), 10);
    assert.equal(k.failures('a'), 2);
    k.forget('a');
    assert.equal(k.failures('a'), 0);
    assert.equal(k.next('a'), 10);
  });
});
