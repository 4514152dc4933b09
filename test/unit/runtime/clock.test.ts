import assert from 'node:assert/strict';
import { systemClock, MAX_TIMER_MS } from '../../../src/runtime/clock.js';

describe('systemClock.sleep', () => {
  it('sleeps past the longest Node timer instead of firing at once (a requeue 40 days ahead)', async () => {
    const ac = new AbortController();
    let woke = false;
    const long = systemClock.sleep(40 * 24 * 3_600_000, ac.signal).then(
      () => {
        woke = true;
      },
      (e: unknown) => e,
    );
    assert.ok(40 * 24 * 3_600_000 > MAX_TIMER_MS);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(woke, false, 'a 40-day sleep resolved within 100 ms');
    ac.abort();
    const outcome = await long;
    assert.ok(outcome instanceof Error, 'the aborted sleep rejects');
    assert.equal(woke, false);
  });

  it('still resolves a short sleep after its delay', async () => {
    const t0 = Date.now();
    await systemClock.sleep(30);
    assert.ok(Date.now() - t0 >= 29);
  });
});
