import assert from 'node:assert/strict';
import type { ReconciliationSpec, ReconciliationStatus } from '../../../src/api/index.js';
import {
  decideSchedule,
  nextCronTime,
  runId,
  ERROR_RETRY_MS,
  type ScheduleInput,
} from '../../../src/controllers/reconciliation/schedule.js';

const spec = (schedule?: ReconciliationSpec['schedule']): ReconciliationSpec => ({
  legacy: { engine: 'mysql', secretRef: { name: 'legacy' } },
  target: { engine: 'postgres', secretRef: { name: 'target' } },
  checks: [
    { name: 'orders-count', type: 'count', legacy: { table: 'pos_orders' }, target: { table: 'orders' } },
  ],
  ...(schedule ? { schedule } : {}),
});

const at = (iso: string): Date => new Date(iso);
const input = (over: Partial<ScheduleInput>): ScheduleInput => ({
  spec: spec(),
  status: undefined,
  generation: 1,
  createdAt: at('2026-03-01T00:00:00Z'),
  now: at('2026-03-01T00:00:05Z'),
  ...over,
});
const finished = (
  startedAt: string,
  extra: Partial<NonNullable<ReconciliationStatus['lastRun']>> = {},
  status: Partial<ReconciliationStatus> = {},
): ReconciliationStatus => ({
  observedGeneration: 1,
  lastRun: { id: 'x', trigger: 'Initial', startedAt, finishedAt: startedAt, verdict: 'Passed', ...extra },
  ...status,
});

describe('reconciliation schedule (pure)', function () {
  it('runs once when there is no schedule, and again only for a new generation', function () {
    assert.deepEqual(decideSchedule(input({})).due, { kind: 'Initial' });
    assert.equal(decideSchedule(input({ status: finished('2026-03-01T00:00:01Z') })).due, undefined);
    assert.deepEqual(decideSchedule(input({ status: finished('2026-03-01T00:00:01Z'), generation: 2 })).due, {
      kind: 'SpecChanged',
    });
  });

  it('runs on a new rerun token, even when suspended, and not twice for the same token', function () {
    const status = finished('2026-03-01T00:00:01Z', {}, { lastRerunToken: 'a' });
    assert.deepEqual(
      decideSchedule(input({ status, rerunToken: 'b', spec: spec({ suspend: true, cron: '0 2 * * *' }) }))
        .due,
      { kind: 'Rerun', detail: 'b' },
    );
    assert.equal(decideSchedule(input({ status, rerunToken: 'a' })).due, undefined);
  });

  it('runs a cron schedule at its next time after the last run, in UTC, and says when', function () {
    const s = spec({ cron: '0 2 * * *' });
    const status = finished('2026-03-01T02:00:00Z');
    const before = decideSchedule(input({ spec: s, status, now: at('2026-03-02T01:59:59Z') }));
    assert.equal(before.due, undefined);
    assert.equal(before.nextAt?.toISOString(), '2026-03-02T02:00:00.000Z');
    const due = decideSchedule(input({ spec: s, status, now: at('2026-03-02T02:00:00Z') }));
    assert.deepEqual(due.due, { kind: 'Cron', detail: '2026-03-02T02:00:00.000Z' });
    // Several missed times run once: the next after the last run is due, whatever came since.
    const late = decideSchedule(input({ spec: s, status, now: at('2026-03-05T10:00:00Z') }));
    assert.equal(late.due?.kind, 'Cron');
    assert.equal(
      nextCronTime('*/15 * * * *', at('2026-03-01T00:07:00Z')).toISOString(),
      '2026-03-01T00:15:00.000Z',
    );
  });

  it('a spec change does not run a cron schedule early', function () {
    const s = spec({ cron: '0 2 * * *' });
    const d = decideSchedule(
      input({
        spec: s,
        status: finished('2026-03-01T02:00:00Z'),
        generation: 3,
        now: at('2026-03-01T12:00:00Z'),
      }),
    );
    assert.equal(d.due, undefined);
  });

  it('waits for the Cutover to switch, then runs each offset once in order (T+4h, T+24h, T+72h)', function () {
    const s = spec({ cutoverRef: { name: 'nokta' }, offsets: ['+24h', '+4h', '+72h'] });
    const waiting = decideSchedule(input({ spec: s }));
    assert.equal(waiting.due, undefined);
    assert.match(waiting.waitingFor ?? '', /Cutover nokta has not switched/);
    const switchedAt = at('2026-03-10T02:30:00Z');
    const early = decideSchedule(
      input({ spec: s, cutoverSwitchedAt: switchedAt, now: at('2026-03-10T06:29:59Z') }),
    );
    assert.equal(early.due, undefined);
    assert.equal(early.nextAt?.toISOString(), '2026-03-10T06:30:00.000Z');
    assert.deepEqual(
      decideSchedule(input({ spec: s, cutoverSwitchedAt: switchedAt, now: at('2026-03-10T06:30:00Z') })).due,
      { kind: 'CutoverOffset', detail: '+4h' },
    );
    const after4 = finished('2026-03-10T06:30:00Z', {}, { completedOffsets: ['+4h'] });
    const next = decideSchedule(
      input({ spec: s, status: after4, cutoverSwitchedAt: switchedAt, now: at('2026-03-10T07:00:00Z') }),
    );
    assert.equal(next.nextAt?.toISOString(), '2026-03-11T02:30:00.000Z');
    // All three overdue (the operator was down): the earliest pending first.
    const all = decideSchedule(
      input({ spec: s, status: after4, cutoverSwitchedAt: switchedAt, now: at('2026-03-20T00:00:00Z') }),
    );
    assert.deepEqual(all.due, { kind: 'CutoverOffset', detail: '+24h' });
    const done = finished('2026-03-13T02:30:00Z', {}, { completedOffsets: ['+4h', '+24h', '+72h'] });
    assert.deepEqual(
      decideSchedule(
        input({ spec: s, status: done, cutoverSwitchedAt: switchedAt, now: at('2026-03-20T00:00:00Z') }),
      ),
      {},
    );
  });

  it('retries a run that ended in Error after the retry delay, never leaving it for good', function () {
    const status = finished('2026-03-01T00:00:01Z', { verdict: 'Error', trigger: 'CutoverOffset:+4h' });
    const soon = decideSchedule(input({ status, now: at('2026-03-01T00:00:30Z') }));
    assert.equal(soon.due, undefined);
    assert.equal(soon.nextAt?.getTime(), at('2026-03-01T00:00:01Z').getTime() + ERROR_RETRY_MS);
    const later = decideSchedule(input({ status, now: at('2026-03-01T00:01:01Z') }));
    assert.deepEqual(later.due, { kind: 'Retry', detail: 'CutoverOffset:+4h' });
  });

  it('gives run ids that are short, name-safe, and differ for the next run within the same second', function () {
    const id = runId({ kind: 'Cron' }, at('2026-03-01T02:00:00.900Z'), 7);
    assert.equal(id, runId({ kind: 'Cron' }, at('2026-03-01T02:00:00.100Z'), 7));
    assert.match(id, /^c[0-9a-z]{6,8}-7$/);
    // a rerun claimed in the same second as the run before it (the e2e rerun tests do this)
    const a = runId({ kind: 'Rerun', detail: 't1' }, at('2026-03-01T02:00:00.100Z'), 2);
    const b = runId({ kind: 'Rerun', detail: 't2' }, at('2026-03-01T02:00:00.400Z'), 3);
    assert.notEqual(a, b);
    assert.match(runId({ kind: 'Initial' }, at('2026-03-01T02:00:00Z'), 1234), /^i[0-9a-z]{6,8}-ya$/);
  });
});

describe('Cutover references (which Reconciliations a Cutover wakes)', function () {
  it('follows each Reconciliation to the Cutover it references now, and forgets deleted ones', async function () {
    const { CutoverReferences } = await import('../../../src/controllers/reconciliation/sync.js');
    const refs = new CutoverReferences();
    const cutover = (ns: string, name: string): { metadata: { namespace: string; name: string } } => ({
      metadata: { namespace: ns, name },
    });
    refs.record('nokta/post-cutover', 'nokta', 'nokta');
    refs.record('nokta/nightly', 'nokta', undefined);
    refs.record('other/post-cutover', 'other', 'nokta');
    assert.deepEqual(refs.reconciliationsOf(cutover('nokta', 'nokta')), ['nokta/post-cutover']);
    refs.record('nokta/post-cutover', 'nokta', 'nokta-v2');
    assert.deepEqual(refs.reconciliationsOf(cutover('nokta', 'nokta')), []);
    assert.deepEqual(refs.reconciliationsOf(cutover('nokta', 'nokta-v2')), ['nokta/post-cutover']);
    refs.record('nokta/post-cutover', 'nokta', undefined);
    assert.deepEqual(refs.reconciliationsOf(cutover('nokta', 'nokta-v2')), []);
    assert.deepEqual(refs.reconciliationsOf(cutover('other', 'nokta')), ['other/post-cutover']);
  });
});
