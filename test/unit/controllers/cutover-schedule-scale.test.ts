/**
 * The post-cutover Reconciliations (T+4h/24h/72h from the Cutover's status.switchedAt) under
 * `--time-scale`: the switch time is a plan time, so the offsets fire at the scaled real times
 * (4h / N after the switch), read from the process's one plan clock.
 */
import assert from 'node:assert/strict';
import type { ReconciliationSpec, ReconciliationStatus } from '../../../src/api/index.js';
import { decideSchedule, planClockFromEnv } from '../../../src/controllers/reconciliation/schedule.js';
import { FakeClock, ScaledClock } from '../../../src/runtime/clock.js';

const SCALE = 30_240; // three weeks in one minute
const HOUR = 3_600_000;

const spec: ReconciliationSpec = {
  legacy: { engine: 'mysql', secretRef: { name: 'legacy' } },
  target: { engine: 'postgres', secretRef: { name: 'target' } },
  schedule: { cutoverRef: { name: 'nokta' }, offsets: ['+4h', '+24h', '+72h'] },
  checks: [{ name: 'orders-count', type: 'count', legacy: { table: 'orders' }, target: { table: 'orders' } }],
};

describe('cutover post-cutover offsets under --time-scale', () => {
  it('fire at switch + offset / scale of real time, each once, in order', () => {
    const real = new FakeClock('2026-12-02T07:00:00Z');
    const plan = new ScaledClock(SCALE, { plan: new Date('2026-11-16T00:00:00Z'), real: real.now() }, real);
    // The switch at plan 2026-12-01T02:30Z: about 20.8 real seconds after the start.
    const switchedAt = new Date('2026-12-01T02:30:00Z');
    const switchReal =
      real.now().getTime() + (switchedAt.getTime() - Date.parse('2026-11-16T00:00:00Z')) / SCALE;
    let status: ReconciliationStatus = { observedGeneration: 1 };
    const fired: { offset: string; real: number }[] = [];
    for (let i = 0; i < 200 && fired.length < 3; i++) {
      const d = decideSchedule({
        spec,
        status,
        generation: 1,
        createdAt: new Date('2026-12-02T07:00:00Z'),
        cutoverSwitchedAt: switchedAt,
        now: real.now(),
        plan: { now: plan.now(), scale: SCALE },
      });
      if (d.due) {
        assert.equal(d.due.kind, 'CutoverOffset');
        fired.push({ offset: d.due.detail!, real: real.now().getTime() });
        status = { ...status, completedOffsets: [...(status.completedOffsets ?? []), d.due.detail!] };
        continue;
      }
      assert.ok(d.nextAt, JSON.stringify(d));
      real.set(new Date(Math.ceil(d.nextAt.getTime())));
    }
    assert.deepEqual(
      fired.map((f) => f.offset),
      ['+4h', '+24h', '+72h'],
    );
    for (const [f, hours] of fired.map((x, i) => [x, [4, 24, 72][i]!] as const)) {
      const due = switchReal + (hours * HOUR) / SCALE;
      assert.ok(
        f.real >= due - 1 && f.real <= due + 2,
        `${f.offset} at ${f.real - switchReal} ms after the switch, not ${(hours * HOUR) / SCALE}`,
      );
    }
    // 72 plan hours are under 9 real seconds.
    assert.ok(fired[2]!.real - switchReal < 9000);
  });

  it('without a time scale the offsets are real time (unchanged)', () => {
    const now = new Date('2026-12-01T06:29:59Z');
    const d = decideSchedule({
      spec,
      status: { observedGeneration: 1 },
      generation: 1,
      createdAt: now,
      cutoverSwitchedAt: new Date('2026-12-01T02:30:00Z'),
      now,
    });
    assert.equal(d.due, undefined);
    assert.equal(d.nextAt?.toISOString(), '2026-12-01T06:30:00.000Z');
  });

  it('the process plan clock comes from CUTOVER_TIME_SCALE / CUTOVER_TIME_ORIGIN, one per setting', () => {
    assert.equal(planClockFromEnv({}), undefined);
    assert.equal(planClockFromEnv({ CUTOVER_TIME_SCALE: '1' }), undefined);
    const env = {
      CUTOVER_TIME_SCALE: String(SCALE),
      CUTOVER_TIME_ORIGIN: '2026-11-16T00:00:00Z@2026-12-02T07:00:00Z',
    };
    const a = planClockFromEnv(env)!;
    assert.equal(a, planClockFromEnv({ ...env }), 'the Cutover and Reconciliation controllers share it');
    assert.equal(a.scale, SCALE);
    const expected =
      Date.parse('2026-11-16T00:00:00Z') + (Date.now() - Date.parse('2026-12-02T07:00:00Z')) * SCALE;
    assert.ok(Math.abs(a.now().getTime() - expected) < 200 * SCALE);
  });
});
