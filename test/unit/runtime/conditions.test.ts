import { strict as assert } from 'node:assert';
import {
  conditionsEqual,
  getCondition,
  isObservedCurrent,
  type KStatus,
  kubeMicroTime,
  kubeTime,
  markReady,
  markReconciling,
  markStalled,
  setCondition,
} from '../../../src/runtime/conditions.js';

const t0 = new Date('2026-03-01T10:00:00.123Z');
const t1 = new Date('2026-03-01T10:05:00Z');

describe('runtime/conditions', () => {
  it('formats metav1.Time and MicroTime', () => {
    assert.equal(kubeTime(t0), '2026-03-01T10:00:00Z');
    assert.equal(kubeMicroTime(t0), '2026-03-01T10:00:00.123000Z');
  });

  it('lastTransitionTime changes only when status changes', () => {
    let c = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Starting', message: 'a' }, t0);
    assert.equal(getCondition(c, 'Ready')?.lastTransitionTime, '2026-03-01T10:00:00Z');
    c = setCondition(c, { type: 'Ready', status: 'False', reason: 'StillStarting', message: 'b' }, t1);
    const r = getCondition(c, 'Ready');
    assert.equal(r?.lastTransitionTime, '2026-03-01T10:00:00Z', 'same status keeps the time');
    assert.equal(r?.reason, 'StillStarting');
    assert.equal(r?.message, 'b');
    c = setCondition(c, { type: 'Ready', status: 'True', reason: 'Done', message: 'c' }, t1);
    assert.equal(getCondition(c, 'Ready')?.lastTransitionTime, '2026-03-01T10:05:00Z');
    assert.equal(c.length, 1);
  });

  it('does not mutate its input and keeps the order of others', () => {
    const a = setCondition([], { type: 'A', status: 'True', reason: 'R', message: '' }, t0);
    const b = setCondition(a, { type: 'B', status: 'True', reason: 'R', message: '' }, t0);
    const a2 = setCondition(b, { type: 'A', status: 'False', reason: 'R', message: '' }, t1);
    assert.equal(a.length, 1);
    assert.equal(b.length, 2);
    assert.deepEqual(
      a2.map((c) => c.type),
      ['A', 'B'],
    );
    assert.equal(getCondition(b, 'A')?.status, 'True');
  });

  it('kstatus: reconciling, stalled and ready are mutually consistent', () => {
    let s: KStatus = markReconciling({}, 3, t0, 'Progressing', 'working');
    assert.equal(s.observedGeneration, 3);
    assert.equal(getCondition(s.conditions, 'Reconciling')?.status, 'True');
    assert.equal(getCondition(s.conditions, 'Ready')?.status, 'False');
    s = markStalled(s, 3, t1, 'InvalidSpec', 'bad');
    assert.equal(getCondition(s.conditions, 'Reconciling'), undefined);
    assert.equal(getCondition(s.conditions, 'Stalled')?.status, 'True');
    assert.equal(
      getCondition(s.conditions, 'Ready')?.lastTransitionTime,
      '2026-03-01T10:00:00Z',
      'Ready stayed False',
    );
    s = markReady(s, 4, t1, 'Synced', 'ok');
    assert.equal(getCondition(s.conditions, 'Stalled'), undefined);
    assert.equal(getCondition(s.conditions, 'Ready')?.status, 'True');
    assert.equal(getCondition(s.conditions, 'Ready')?.observedGeneration, 4);
    assert.equal(s.observedGeneration, 4);
  });

  it('conditionsEqual and isObservedCurrent', () => {
    const a = setCondition([], { type: 'Ready', status: 'True', reason: 'R', message: 'm' }, t0);
    assert.ok(conditionsEqual(a, [...a]));
    assert.ok(
      !conditionsEqual(a, setCondition(a, { type: 'Ready', status: 'True', reason: 'R', message: 'n' }, t0)),
    );
    assert.ok(isObservedCurrent({ metadata: { generation: 2 }, status: { observedGeneration: 2 } }));
    assert.ok(!isObservedCurrent({ metadata: { generation: 3 }, status: { observedGeneration: 2 } }));
  });
});
