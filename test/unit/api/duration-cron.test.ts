/**
 * The one duration grammar and the cron schedules: the pattern the CRD checks and the parser the
 * operator uses accept exactly the same texts, so nothing `kubectl apply` accepts can stall the
 * operator (before: `window.last: 2w` passed the schema and stalled the controller as InvalidSpec).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DURATION_PATTERN,
  DURATION_UNITS,
  OFFSET_PATTERN,
  formatDuration,
  isDuration,
  isOffset,
  parseDuration,
  parseOffset,
} from '../../../src/api/duration.js';
import {
  CRON_DESCRIPTORS,
  CRON_PATTERN,
  cronFields,
  cronProblem,
  cronShapeOk,
} from '../../../src/api/cron.js';
import { parseDuration as parseOperatorDuration } from '../../../src/runtime/options.js';
import { parseDuration as parseWindow } from '../../../src/reconciliation/plan.js';
import { nextCronTime } from '../../../src/controllers/reconciliation/schedule.js';

const units = DURATION_UNITS.map((u) => u.unit);
/** Texts near the grammar: parts in any order, repeated, with long numbers, signs, spaces, decimals. */
const nearDuration = fc
  .array(
    fc.tuple(
      fc.oneof(fc.nat({ max: 99 }), fc.nat(), fc.constant(0)),
      fc.constantFrom(...units, 'x', 'ns', 'us', 'M', 'D', ''),
    ),
    { minLength: 0, maxLength: 4 },
  )
  .chain((parts) =>
    fc.tuple(
      fc.constant(parts.map(([n, u]) => `${n}${u}`).join('')),
      fc.constantFrom('', '+', '-', ' ', '.5'),
    ),
  )
  .map(([body, extra]) =>
    extra === '.5' ? body.replace(/^(\d+)/, '$1.5') : extra === ' ' ? `${body} ` : `${extra}${body}`,
  );

describe('api: the one duration grammar (src/api/duration.ts)', () => {
  it('the CRD pattern and the parser accept exactly the same texts (property)', () => {
    const pattern = new RegExp(DURATION_PATTERN);
    const offset = new RegExp(OFFSET_PATTERN);
    fc.assert(
      fc.property(fc.oneof(nearDuration, fc.string({ maxLength: 12 })), (t) => {
        // the CEL rule is `self != '' && self.matches(DURATION_PATTERN)`
        assert.equal(t !== '' && pattern.test(t), isDuration(t), t);
        assert.equal(t.length > 1 && offset.test(t), isOffset(t), t);
        if (isDuration(t))
          assert.equal(parseDuration(t), parseOperatorDuration(t), 'the operator flags parse the same way');
        else assert.throws(() => parseDuration(t), /must look like 90d, 12h, 30m or 1h30m/);
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips through formatDuration and keeps every accepted duration within Date range', () => {
    fc.assert(
      fc.property(fc.nat({ max: 100 * 365 * 86_400_000 }), (ms) =>
        assert.equal(parseDuration(formatDuration(ms)), ms),
      ),
    );
    const longest = DURATION_UNITS.map((u) => `${'9'.repeat(u.digits)}${u.unit}`).join('');
    const max = parseDuration(longest);
    assert.ok(max < 150 * 365.25 * 86_400_000, `${longest} = ${max} ms`);
    assert.ok(!Number.isNaN(new Date(Date.now() - max).getTime()));
  });

  it('weeks and days work everywhere: schema, engine window, offsets, operator flags', () => {
    assert.equal(parseDuration('2w'), 14 * 86_400_000);
    assert.equal(parseWindow('2w'), 14 * 86_400_000);
    assert.equal(parseOffset('+2w'), 14 * 86_400_000);
    assert.equal(parseOffset('-1d12h'), -36 * 3_600_000);
    assert.equal(parseOperatorDuration('1d'), 86_400_000);
    assert.throws(() => parseWindow('0d'), /must be longer than 0/);
    assert.throws(() => parseWindow('999999w'), /must look like 90d/);
    assert.throws(() => parseOffset('4h'), /an offset must look like \+4h/);
  });
});

describe('api: cron schedules as a CronJob takes them (src/api/cron.ts)', () => {
  it('every descriptor has its fields, which the operator schedules', () => {
    const after = new Date('2026-03-04T10:20:00Z');
    const expect: Record<string, string> = {
      '@yearly': '2027-01-01T00:00:00.000Z',
      '@annually': '2027-01-01T00:00:00.000Z',
      '@monthly': '2026-04-01T00:00:00.000Z',
      '@weekly': '2026-03-08T00:00:00.000Z',
      '@daily': '2026-03-05T00:00:00.000Z',
      '@midnight': '2026-03-05T00:00:00.000Z',
      '@hourly': '2026-03-04T11:00:00.000Z',
    };
    assert.deepEqual(Object.keys(expect).sort(), Object.keys(CRON_DESCRIPTORS).sort());
    for (const [d, next] of Object.entries(expect)) {
      assert.ok(cronShapeOk(d) && cronShapeOk(d.toUpperCase()), d);
      assert.equal(cronProblem(d), undefined, d);
      assert.equal(nextCronTime(d, after).toISOString(), next, d);
      assert.equal(nextCronTime(d.toUpperCase(), after).toISOString(), next, d);
    }
    assert.equal(cronFields(' @daily '), '0 0 * * *');
  });

  it('whatever passes the CRD shape either schedules or is named by cronProblem (property)', () => {
    const item = fc.oneof(
      fc.constant('*'),
      fc.nat({ max: 70 }).map(String),
      fc.tuple(fc.nat({ max: 40 }), fc.nat({ max: 40 })).map(([a, b]) => `${a}-${b}`),
      fc.constantFrom('jan', 'MON', 'sun-sat', '?'),
    );
    const field = fc
      .tuple(item, fc.option(fc.nat({ max: 30 }), { nil: undefined }))
      .map(([i, s]) => (s === undefined ? i : `${i}/${s}`));
    fc.assert(
      fc.property(fc.array(field, { minLength: 4, maxLength: 6 }), (fields) => {
        const expr = fields.join(' ');
        if (!new RegExp(CRON_PATTERN, 'i').test(expr)) return;
        const why = cronProblem(expr);
        if (why === undefined)
          assert.ok(nextCronTime(expr, new Date('2026-01-01T00:00:00Z')) instanceof Date, expr);
        else assert.throws(() => nextCronTime(expr, new Date('2026-01-01T00:00:00Z')), Error, expr);
      }),
      { numRuns: 2000 },
    );
  });
});
