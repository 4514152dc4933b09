import assert from 'node:assert/strict';
import type { CanaryPhaseSpec, CanaryPhaseStatus } from '../../../src/api/types.js';
import {
  ACTION_ANNOTATION,
  APPROVE_ANNOTATION,
  decide,
  type Decision,
  type Observed,
  type TakenMeasurement,
} from '../../../src/controllers/canary-phase/decide.js';

const T0 = Date.parse('2026-11-29T02:00:00Z');
const at = (min: number): Date => new Date(T0 + min * 60_000);

function spec(
  over: Partial<CanaryPhaseSpec> = {},
  analysis: Partial<CanaryPhaseSpec['analysis']> = {},
): CanaryPhaseSpec {
  return {
    flagProvider: { type: 'Flagd', flagd: { configMapName: 'flags' } },
    services: [
      { name: 'pos', routing: 'Flag', flagKey: 'new-stack' },
      { name: 'driver', routing: 'Flag', flagKey: 'new-stack' },
    ],
    steps: [{ weight: 5, pause: '30m' }, { weight: 10 }],
    analysis: {
      interval: '10m',
      consecutiveFailureLimit: 2,
      prometheusAddress: 'http://prom:9090',
      metrics: [
        { name: 'pos-p95', services: ['pos'], prometheus: { query: 'x' }, successCondition: 'result <= 1.5' },
        {
          name: 'driver-p95',
          services: ['driver'],
          prometheus: { query: 'y' },
          successCondition: 'result <= 5',
        },
      ],
      ...analysis,
    },
    duration: '2h',
    ...over,
  };
}

/** Runs decide and, like the sync, marks Apply and Restore actions done. */
function step(o: Observed, now: Date): Decision {
  const d = decide(o, now);
  for (const a of d.actions) {
    if (a.kind === 'Apply') d.status.appliedStep = a.step;
    if (a.kind === 'Restore')
      d.status.restoredServices = [...(d.status.restoredServices ?? []), ...a.services];
  }
  return d;
}
const m = (
  metric: string,
  result: TakenMeasurement['result'],
  now: Date,
  value?: number,
): TakenMeasurement => ({
  metric,
  result,
  reason: `${result} reason`,
  at: now.toISOString(),
  ...(value !== undefined ? { value } : {}),
});

/** A phase that started at T0 and has applied step 0. */
function started(s: CanaryPhaseSpec): CanaryPhaseStatus {
  return step({ spec: s, status: {}, annotations: {} }, at(0)).status;
}
/** Takes a measurement round at `now` with the given results. */
function round(
  s: CanaryPhaseSpec,
  status: CanaryPhaseStatus,
  now: Date,
  results: TakenMeasurement[],
  annotations = {},
): Decision {
  const claim = decide({ spec: s, status, annotations }, now);
  const measure = claim.actions.find((a) => a.kind === 'Measure');
  assert.ok(measure, `a measurement is due at ${now.toISOString()}`);
  return step({ spec: s, status: claim.status, annotations, taken: results }, now);
}

describe('controllers/canary-phase decide', () => {
  it('starts: claims step 0 and applies it to every service; the next sync applies nothing again', () => {
    const s = spec();
    const d = decide({ spec: s, status: {}, annotations: {} }, at(0));
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(d.status.currentStep, 0);
    assert.equal(d.status.appliedStep, -1, 'claimed before it is applied');
    assert.deepEqual(d.actions, [{ kind: 'Apply', step: 0, weight: 5, services: ['pos', 'driver'] }]);
    assert.equal(d.requeueAfter, 10 * 60_000, 'the first measurement is due after one interval');
    const again = decide({ spec: s, status: { ...d.status, appliedStep: 0 }, annotations: {} }, at(1));
    assert.deepEqual(again.actions, []);
  });

  it('write-ahead: a claimed step that was not applied (crash) is applied by the next sync', () => {
    const s = spec();
    const claimed = decide({ spec: s, status: {}, annotations: {} }, at(0)).status;
    const d = decide({ spec: s, status: claimed, annotations: {} }, at(1));
    assert.deepEqual(d.actions, [{ kind: 'Apply', step: 0, weight: 5, services: ['pos', 'driver'] }]);
  });

  it('waits for startAt', () => {
    const s = spec({ startAt: at(60).toISOString() });
    const d = decide({ spec: s, status: {}, annotations: {} }, at(0));
    assert.equal(d.status.phase, 'Pending');
    assert.deepEqual(d.actions, []);
    assert.equal(d.requeueAfter, 60 * 60_000);
  });

  it('one failed measurement does not roll back; two in a row do, in the same sync, every service (scope Phase)', () => {
    const s = spec();
    let st = started(s);
    const d1 = round(s, st, at(10), [
      m('pos-p95', 'Failed', at(10), 2.4),
      m('driver-p95', 'Successful', at(10), 1),
    ]);
    assert.equal(d1.status.phase, 'Progressing');
    assert.equal(d1.status.consecutiveFailures, 1);
    assert.ok(!d1.actions.some((a) => a.kind === 'Restore'));
    st = d1.status;
    const d2 = round(s, st, at(20), [
      m('pos-p95', 'Failed', at(20), 2.6),
      m('driver-p95', 'Successful', at(20), 1),
    ]);
    assert.equal(d2.status.phase, 'RolledBack');
    assert.deepEqual(d2.actions, [{ kind: 'Restore', services: ['pos', 'driver'] }]);
    assert.deepEqual(d2.status.rollback, {
      reason: 'pos-p95 failed 2 times in a row (value 2.6): Failed reason',
      metric: 'pos-p95',
      value: '2.6',
      at: at(20).toISOString(),
      services: ['pos', 'driver'],
    });
    // Restored: nothing more to do.
    const d3 = decide({ spec: s, status: d2.status, annotations: {} }, at(21));
    assert.deepEqual(d3.actions, []);
    // Not restored yet (a crash after the claim): the restore is done again.
    const d4 = decide({ spec: s, status: { ...d2.status, restoredServices: [] }, annotations: {} }, at(21));
    assert.deepEqual(d4.actions, [{ kind: 'Restore', services: ['pos', 'driver'] }]);
  });

  it('a success between two failures resets the count; Inconclusive/NoData/Error neither count nor reset it', () => {
    const s = spec({}, { inconclusive: { limit: 5 }, noData: { limit: 5 }, error: { limit: 5 } });
    let st = started(s);
    st = round(s, st, at(10), [m('pos-p95', 'Failed', at(10))]).status;
    st = round(s, st, at(20), [m('pos-p95', 'Successful', at(20))]).status;
    st = round(s, st, at(30), [m('pos-p95', 'Failed', at(30))]).status;
    assert.equal(st.phase, 'Progressing');
    st = round(s, st, at(40), [m('pos-p95', 'NoData', at(40))]).status;
    st = round(s, st, at(50), [m('pos-p95', 'Error', at(50))]).status;
    st = round(s, st, at(60), [m('pos-p95', 'Inconclusive', at(60))]).status;
    assert.equal(st.phase, 'Progressing');
    const d = round(s, st, at(70), [m('pos-p95', 'Failed', at(70))]);
    assert.equal(d.status.phase, 'RolledBack');
  });

  it('rollbackScope Service: a failing POS metric rolls back POS only; drivers stay on and go on to the next step', () => {
    const s = spec({}, { rollbackScope: 'Service' });
    let st = started(s);
    st = round(s, st, at(10), [
      m('pos-p95', 'Failed', at(10), 3),
      m('driver-p95', 'Successful', at(10), 1),
    ]).status;
    const d = round(s, st, at(20), [
      m('pos-p95', 'Failed', at(20), 3),
      m('driver-p95', 'Successful', at(20), 1),
    ]);
    assert.equal(d.status.phase, 'Progressing');
    assert.deepEqual(d.status.rolledBackServices, ['pos']);
    assert.deepEqual(d.actions, [{ kind: 'Restore', services: ['pos'] }]);
    const next = step({ spec: s, status: d.status, annotations: {} }, at(31));
    assert.equal(next.status.currentStep, 1);
    assert.deepEqual(
      next.actions.find((a) => a.kind === 'Apply'),
      { kind: 'Apply', step: 1, weight: 10, services: ['driver'] },
    );
    const measure = decide({ spec: s, status: next.status, annotations: {} }, at(40)).actions.find(
      (a) => a.kind === 'Measure',
    );
    assert.deepEqual(
      measure && measure.kind === 'Measure' ? measure.metrics : [],
      ['driver-p95'],
      'the POS metric is no longer measured',
    );
  });

  it('inconclusive, no data and errors do what their limits say: Pause (default) or Rollback', () => {
    const s = spec(
      {},
      { inconclusive: { limit: 2 }, noData: { limit: 2, onLimit: 'Rollback' }, error: { limit: 3 } },
    );
    let st = started(s);
    st = round(s, st, at(10), [m('pos-p95', 'Inconclusive', at(10))]).status;
    const p = round(s, st, at(20), [m('pos-p95', 'Inconclusive', at(20))]);
    assert.equal(p.status.phase, 'Paused');
    assert.match(p.status.pauseReason!, /pos-p95 inconclusive 2 times in a row/);
    // Paused holds the step even when its hold is over.
    const held = decide({ spec: s, status: p.status, annotations: {} }, at(45));
    assert.equal(held.status.currentStep, 0);
    // resume goes on, with the streaks reset.
    const r = step({ spec: s, status: p.status, annotations: { [ACTION_ANNOTATION]: 'resume:1' } }, at(45));
    assert.equal(r.status.phase, 'Progressing');
    assert.equal(r.status.currentStep, 1);
    // Errors: Prometheus down three times pauses, never rolls back.
    let e = started(s);
    for (const min of [10, 20]) e = round(s, e, at(min), [m('pos-p95', 'Error', at(min))]).status;
    assert.equal(e.phase, 'Progressing');
    e = round(s, e, at(30), [m('pos-p95', 'Error', at(30))]).status;
    assert.equal(e.phase, 'Paused');
    assert.equal(e.rolledBackServices, undefined);
    // No data twice with onLimit Rollback rolls back.
    let n = started(s);
    n = round(s, n, at(10), [m('pos-p95', 'NoData', at(10))]).status;
    const nd = round(s, n, at(20), [m('pos-p95', 'NoData', at(20))]);
    assert.equal(nd.status.phase, 'RolledBack');
    assert.match(nd.status.rollback!.reason!, /without data 2 times/);
  });

  it('a measurement due while the operator was down is taken once, then the next one an interval later', () => {
    const s = spec();
    const st = started(s);
    const claim = decide({ spec: s, status: st, annotations: {} }, at(95)); // 9 intervals missed
    const measures = claim.actions.filter((a) => a.kind === 'Measure');
    assert.equal(measures.length, 1);
    const done = step(
      { spec: s, status: claim.status, annotations: {}, taken: [m('pos-p95', 'Successful', at(95))] },
      at(95),
    );
    assert.equal(done.status.measurementsTaken, 1);
    assert.equal(done.status.nextMeasurementAt, at(105).toISOString());
    assert.ok(
      !decide({ spec: s, status: done.status, annotations: {} }, at(96)).actions.some(
        (a) => a.kind === 'Measure',
      ),
    );
  });

  it('a claimed round whose results were not recorded (crash) is measured again under the same round', () => {
    const s = spec();
    const claim = decide({ spec: s, status: started(s), annotations: {} }, at(10));
    const round1 = claim.status.measuringRound;
    assert.equal(round1, 1);
    const after = decide({ spec: s, status: claim.status, annotations: {} }, at(12));
    assert.deepEqual(
      after.actions.find((a) => a.kind === 'Measure'),
      {
        kind: 'Measure',
        round: 1,
        metrics: ['pos-p95', 'driver-p95'],
      },
    );
    assert.equal(after.status.measurementsTaken, 1, 'not counted twice');
  });

  it('promote skips the wait; at the last step it ends the phase; each token acts once', () => {
    const s = spec();
    const st = started(s);
    const p = step({ spec: s, status: st, annotations: { [ACTION_ANNOTATION]: 'promote:a' } }, at(1));
    assert.equal(p.status.currentStep, 1);
    assert.equal(p.status.lastActionToken, 'promote:a');
    const same = step(
      { spec: s, status: p.status, annotations: { [ACTION_ANNOTATION]: 'promote:a' } },
      at(2),
    );
    assert.equal(same.status.phase, 'Progressing', 'the same token is not acted on twice');
    const end = step(
      { spec: s, status: same.status, annotations: { [ACTION_ANNOTATION]: 'promote:b' } },
      at(3),
    );
    assert.equal(end.status.phase, 'Promoted');
    assert.deepEqual(end.actions, [], 'onSuccess Hold keeps the exposure');
  });

  it('abort gives every change back; pause holds and survives until resume', () => {
    const s = spec();
    const st = started(s);
    const paused = step({ spec: s, status: st, annotations: { [ACTION_ANNOTATION]: 'pause:1' } }, at(1));
    assert.equal(paused.status.phase, 'Paused');
    const still = decide(
      { spec: s, status: paused.status, annotations: { [ACTION_ANNOTATION]: 'pause:1' } },
      at(200),
    );
    assert.equal(still.status.phase, 'Paused');
    assert.equal(still.stalled, undefined, "a person's pause is never Stalled");
    const a = decide(
      { spec: s, status: paused.status, annotations: { [ACTION_ANNOTATION]: 'abort:2' } },
      at(5),
    );
    assert.equal(a.status.phase, 'Aborted');
    assert.deepEqual(a.actions, [{ kind: 'Restore', services: ['pos', 'driver'] }]);
  });

  it('a gate waits for its approval, becomes Stalled after the progress deadline, and goes on once approved', () => {
    const s = spec({ gates: [{ name: 'qa', beforeStep: 1 }], progressDeadline: '1h' });
    const st = started(s);
    const w = step({ spec: s, status: st, annotations: {} }, at(31));
    assert.equal(w.status.phase, 'Paused');
    assert.equal(w.status.waitingForGate, 'qa');
    assert.equal(w.status.currentStep, 0);
    const late = decide({ spec: s, status: w.status, annotations: {} }, at(95));
    assert.equal(late.stalled?.reason, 'ProgressDeadlineExceeded');
    assert.match(late.stalled.message, /gate qa/);
    const ok = step({ spec: s, status: w.status, annotations: { [APPROVE_ANNOTATION]: 'qa:1' } }, at(96));
    assert.equal(ok.status.phase, 'Progressing');
    assert.equal(ok.status.currentStep, 1);
    assert.deepEqual(ok.status.approvedGates, ['qa']);
  });

  it('ends after duration with autoPromote, giving changes back with onSuccess Restore; endBy ends it at the latest', () => {
    const s = spec({ autoPromote: true, onSuccess: 'Restore' });
    let st = started(s);
    st = step({ spec: s, status: st, annotations: {} }, at(31)).status;
    delete st.measuringRound; // the round claimed at 31 min was taken and recorded
    const holding = decide(
      { spec: s, status: { ...st, lastMeasuredAt: at(119).toISOString() }, annotations: {} },
      at(100),
    );
    assert.equal(holding.requeueAfter, 20 * 60_000, 'wakes at the end of the duration');
    const end = decide(
      { spec: s, status: { ...st, lastMeasuredAt: at(119).toISOString() }, annotations: {} },
      at(120),
    );
    assert.equal(end.status.phase, 'Succeeded');
    assert.deepEqual(end.actions, [{ kind: 'Restore', services: ['pos', 'driver'] }]);
    const noAuto = spec({ endBy: at(50).toISOString() });
    const e = decide({ spec: noAuto, status: started(noAuto), annotations: {} }, at(50));
    assert.equal(e.status.phase, 'Succeeded');
    assert.match(e.status.message!, /endBy/);
  });

  it('an operator down past the end does not end the phase before the last step is applied (found by the random crash test)', () => {
    const s = spec({ autoPromote: true });
    // Step 0 claimed and applied at the start; the operator is then down until long after the end.
    const st = started(s);
    const late = decide(
      { spec: s, status: { ...st, lastMeasuredAt: at(200).toISOString() }, annotations: {} },
      at(200),
    );
    assert.equal(late.status.currentStep, 1, 'the last step is entered');
    assert.notEqual(late.status.phase, 'Succeeded', 'not ended with the exposure short of the last step');
    assert.deepEqual(
      late.actions.filter((a) => a.kind === 'Apply').map((a) => a.kind === 'Apply' && a.step),
      [1],
    );
    // Once the apply is recorded, the next sync ends it.
    const end = decide({ spec: s, status: { ...late.status, appliedStep: 1 }, annotations: {} }, at(200));
    assert.equal(end.status.phase, 'Succeeded');
    // A round claimed before the crash is taken (and recorded) before the phase ends.
    const claimed = decide(
      { spec: s, status: { ...late.status, appliedStep: 1, measuringRound: 3 }, annotations: {} },
      at(200),
    );
    assert.notEqual(claimed.status.phase, 'Succeeded');
    assert.deepEqual(
      claimed.actions.filter((a) => a.kind === 'Measure').map((a) => a.kind === 'Measure' && a.round),
      [3],
    );
  });

  it('keeps a bounded history of measurements', () => {
    const s = spec({ duration: '30d' }, { interval: '1m' });
    let st = started(s);
    for (let i = 1; i <= 80; i++) st = round(s, st, at(i), [m('pos-p95', 'Successful', at(i), 1)]).status;
    assert.equal(st.measurements!.length, 60);
    assert.equal(st.measurements!.at(-1)!.at, at(80).toISOString());
    assert.equal(st.measurementsTaken, 80);
  });
});
