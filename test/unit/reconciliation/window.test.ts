/**
 * Windows with both ends: the pure window module, the plan reader and the manifest validator
 * (the same rules the API server applies through CEL).
 */
import assert from 'node:assert/strict';
import { planFromSpec, PlanError, type WindowPlan } from '../../../src/reconciliation/plan.js';
import { resolveWindow, WindowError } from '../../../src/reconciliation/window.js';
import { validateManifest } from '../../../src/api/validate.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

function spec(window: Record<string, unknown>): Record<string, unknown> {
  return {
    legacy: { engine: 'mysql', url: 'mysql://x@h/db' },
    target: { engine: 'postgres', url: 'postgres://x@h/db' },
    window: { column: 'created_at', ...window },
    checks: [{ name: 'c', type: 'count', legacy: { table: 'a' }, target: { table: 'b' } }],
  };
}

function problems(window: Record<string, unknown>): string[] {
  try {
    planFromSpec(spec(window));
    return [];
  } catch (e) {
    if (e instanceof PlanError) return e.problems;
    throw e;
  }
}

function manifestProblems(window: Record<string, unknown>): string[] {
  return validateManifest({
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'Reconciliation',
    metadata: { name: 'w', namespace: 'default' },
    spec: spec(window),
  }).map((p) => `${p.path}: ${p.message}`);
}

describe('reconciliation windows', () => {
  it('last alone: the span up to the run time, open at the end', () => {
    const w: WindowPlan = { column: 'c', last: '30d', lastMs: 30 * DAY };
    assert.deepEqual(resolveWindow(w, NOW), { start: new Date(NOW.getTime() - 30 * DAY) });
  });

  it('from and until: both ends; last with until counts back from until', () => {
    const from = new Date('2026-04-01T00:00:00Z');
    const until = new Date('2026-05-01T00:00:00Z');
    assert.deepEqual(resolveWindow({ column: 'c', from, until }, NOW), { start: from, end: until });
    assert.deepEqual(resolveWindow({ column: 'c', until }, NOW), { end: until });
    assert.deepEqual(resolveWindow({ column: 'c', lastMs: DAY, last: '1d', until }, NOW), {
      start: new Date(until.getTime() - DAY),
      end: until,
    });
  });

  it('until: frozenAt ends at the Cutover freeze, and is an error before the freeze', () => {
    const frozenAt = new Date('2026-05-20T03:00:00Z');
    const w: WindowPlan = {
      column: 'c',
      lastMs: 7 * DAY,
      last: '7d',
      until: 'frozenAt',
      cutoverRef: 'nokta',
    };
    assert.deepEqual(resolveWindow(w, NOW, frozenAt), {
      start: new Date(frozenAt.getTime() - 7 * DAY),
      end: frozenAt,
    });
    assert.throws(() => resolveWindow(w, NOW), WindowError);
    assert.throws(() => resolveWindow(w, NOW), /Cutover nokta has not frozen legacy writes yet/);
  });

  it('an empty window is an error, not a silent pass', () => {
    const until = new Date('2026-05-01T00:00:00Z');
    assert.throws(
      () => resolveWindow({ column: 'c', from: until, until: new Date(until.getTime() - 1) }, NOW),
      /the window is empty/,
    );
  });

  it('the plan reads from/until/cutoverRef and names each bad field with the fix', () => {
    const plan = planFromSpec(
      spec({ last: '7d', until: 'frozenAt', cutoverRef: { name: 'nokta' }, legacyTimeZone: '+03:00' }),
    );
    assert.deepEqual(plan.window, {
      column: 'created_at',
      last: '7d',
      lastMs: 7 * DAY,
      until: 'frozenAt',
      cutoverRef: 'nokta',
      legacyTimeZone: '+03:00',
    });
    assert.deepEqual(
      planFromSpec(spec({ from: '2026-04-01T00:00:00Z', until: '2026-05-01T00:00:00Z' })).window,
      {
        column: 'created_at',
        from: new Date('2026-04-01T00:00:00Z'),
        until: new Date('2026-05-01T00:00:00Z'),
      },
    );
    assert.deepEqual(problems({}), ['spec.window needs last, from or until: e.g. last: 90d']);
    assert.match(problems({ last: '7d', from: '2026-04-01T00:00:00Z' }).join(), /set last or from, not both/);
    assert.match(problems({ until: 'frozenAt' }).join(), /spec.window.cutoverRef.name/);
    assert.match(
      problems({ from: 'yesterday' }).join(),
      /spec.window.from 'yesterday' is not a time: write an RFC 3339/,
    );
    assert.match(
      problems({ from: '2026-05-01T00:00:00Z', until: '2026-04-01T00:00:00Z' }).join(),
      /spec.window.from is not before spec.window.until: set from to an earlier time/,
    );
  });

  it('the manifest validator refuses the same windows at apply time', () => {
    assert.deepEqual(manifestProblems({ last: '90d' }), []);
    assert.deepEqual(manifestProblems({ last: '7d', until: 'frozenAt', cutoverRef: { name: 'nokta' } }), []);
    assert.match(manifestProblems({}).join(), /a window needs last, from or until/);
    assert.match(manifestProblems({ until: 'frozenAt' }).join(), /until: frozenAt needs cutoverRef/);
    assert.match(manifestProblems({ until: 'tomorrow' }).join(), /spec.window.until/);
    assert.match(
      manifestProblems({ from: '2026-05-01T00:00:00Z', until: '2026-04-01T00:00:00Z' }).join(),
      /from is not before until: set from to an earlier time than until/,
    );
  });
});
