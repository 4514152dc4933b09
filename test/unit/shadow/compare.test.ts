/** Pointer patterns, value rules and the structural comparison, exhaustively and by property. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  PointerMatcher,
  generalizePointer,
  parsePointer,
  formatPointer,
} from '../../../src/shadow/json-pointer.js';
import { readInstantMicros, roundDecimal, withinTolerance } from '../../../src/shadow/value-rules.js';
import {
  compareJson,
  compareAnswers,
  MAX_DIFFERENCES,
  type PreparedAnswer,
} from '../../../src/shadow/compare.js';
import { parseRules } from '../../../src/shadow/rules.js';
import { compilePathPattern } from '../../../src/shadow/path-pattern.js';

function body(yaml: string): ReturnType<typeof parseRules>['other']['body'] {
  return parseRules(`defaults:\n${yaml.replace(/^/gm, '  ')}`).other.body;
}
const diffs = (yaml: string, a: unknown, b: unknown): string[] =>
  compareJson(body(yaml), a, b).differences.map((d) => `${d.kind} ${d.path}`);

describe('shadow: JSON Pointer patterns', () => {
  const m = new PointerMatcher<string>()
    .add('/a/*/b', 'one')
    .add('/**/id', 'any')
    .add('/x~1y/~0z', 'escaped')
    .add('/c/**', 'below');
  const at = (p: string): string[] => {
    let s = m.start();
    for (const seg of parsePointer(p)) s = m.step(s, seg);
    return m.matches(s);
  };
  it('matches *, ** and escaped segments', () => {
    assert.deepEqual(at('/a/0/b'), ['one']);
    assert.deepEqual(at('/a/k/b'), ['one']);
    assert.deepEqual(at('/a/0/0/b'), []);
    assert.deepEqual(at('/id'), ['any']);
    assert.deepEqual(at('/p/q/r/id'), ['any']);
    assert.deepEqual(at('/x~1y/~0z'), ['escaped']);
    assert.deepEqual(at('/c'), ['below']);
    assert.deepEqual(at('/c/d/e'), ['below']);
    assert.deepEqual(at('/c/id'), ['any', 'below']);
    assert.equal(m.test('/a/1/b/deeper'), true, 'a pattern covers what is below it');
    assert.equal(m.test('/q'), false);
  });
  it('generalizes indices and round-trips pointers', () => {
    assert.equal(generalizePointer('/items/12/price/0'), '/items/*/price/*');
    assert.equal(generalizePointer('/a10/1b'), '/a10/1b');
    assert.equal(formatPointer(parsePointer('/a~1b/~0/3')), '/a~1b/~0/3');
  });
});

describe('shadow: path patterns', () => {
  it('matches templates with params, * and a trailing **', () => {
    const p = compilePathPattern('/orders/{id}/items/*');
    assert.deepEqual(p.match('/orders/a%20b/items/3'), { id: 'a b' });
    assert.equal(p.test('/orders/1/items'), false);
    const rest = compilePathPattern('/api/**');
    assert.ok(rest.test('/api') && rest.test('/api/') && rest.test('/api/x/y'));
    assert.ok(!rest.test('/apis'));
    assert.throws(() => compilePathPattern('/a/**/b'), /only at the end/);
  });
});

describe('shadow: value rules', () => {
  it('rounds and compares decimals exactly', () => {
    assert.equal(roundDecimal('10.005', 2), '10.01');
    assert.equal(roundDecimal('-10.005', 2), '-10.01');
    assert.equal(roundDecimal('1e-7', 2), '0.00');
    assert.equal(roundDecimal('2', 2), '2.00');
    assert.ok(withinTolerance('10.05', '10.04', 0.01), '10.05 − 10.04 is 0.01 exactly');
    assert.ok(!withinTolerance('10.05', '10.039', 0.01));
  });
  it('reads timestamps as instants in any notation', () => {
    const t = readInstantMicros('2026-12-01T02:00:00Z')!;
    assert.equal(readInstantMicros('2026-12-01T05:00:00+03:00'), t);
    assert.equal(readInstantMicros('2026-12-01T05:00:00+0300'), t);
    assert.equal(readInstantMicros('2026-12-01 05:00:00', { assumeZone: 'Europe/Istanbul' }), t);
    assert.equal(readInstantMicros('2026-12-01 05:00:00', { assumeZone: '+03:00' }), t);
    assert.equal(readInstantMicros('2026-12-01 02:00:00.000000'), t);
    assert.equal(readInstantMicros(Date.parse('2026-12-01T02:00:00Z')), t);
    assert.equal(readInstantMicros(Date.parse('2026-12-01T02:00:00Z') / 1000, { epoch: 'Seconds' }), t);
    assert.equal(readInstantMicros('2026-12-01T02:00:00.123456Z')! - t, 123456);
    // New York in July is UTC−4, in December UTC−5.
    assert.equal(
      readInstantMicros('2026-07-01 08:00:00', { assumeZone: 'America/New_York' }),
      readInstantMicros('2026-07-01T12:00:00Z'),
    );
    assert.equal(
      readInstantMicros('2026-12-01 08:00:00', { assumeZone: 'America/New_York' }),
      readInstantMicros('2026-12-01T13:00:00Z'),
    );
    assert.equal(readInstantMicros('yesterday'), undefined);
    assert.equal(readInstantMicros('2026-13-01T00:00:00Z'), undefined);
  });
});

describe('shadow: structural comparison', () => {
  it('reports each kind of difference once, at its path', () => {
    assert.deepEqual(
      diffs(
        '{}',
        { a: 1, b: 'x', c: [1, 2], d: { e: null } },
        { a: 2, b: 1, c: [1], d: { e: null }, f: true },
      ),
      ['value /a', 'type /b', 'missing /c/1', 'extra /f'],
    );
  });
  it('ignores paths with wildcards, and everything below them', () => {
    assert.deepEqual(
      diffs(
        'ignore: [/meta, /items/*/updatedAt, /**/etag]',
        { meta: { a: 1 }, items: [{ updatedAt: 1, q: 1 }], x: { etag: 'a' } },
        { meta: { a: 2 }, items: [{ updatedAt: 2, q: 1 }], x: { etag: 'b' } },
      ),
      [],
    );
    assert.deepEqual(
      diffs('ignore: [/meta]', { n: 1 }, { n: 1, meta: { x: 1 } }),
      [],
      'an extra ignored field is no difference',
    );
  });
  it('numbers: tolerance, scale, strings holding numbers', () => {
    const rules = 'numbers: [{ path: /t, tolerance: 0.01 }, { path: /s, scale: 2, acceptStrings: true }]';
    assert.deepEqual(diffs(rules, { t: 10.05, s: '1.005' }, { t: 10.04, s: 1.01 }), []);
    assert.deepEqual(diffs(rules, { t: 10.05, s: '1.004' }, { t: 10.03, s: 1.01 }), [
      'number /t',
      'number /s',
    ]);
    assert.deepEqual(diffs(rules, { t: 1 }, { t: '1' }), ['type /t'], 'strings only with acceptStrings');
  });
  it('timestamps: instants, tolerance, and values that are no timestamp', () => {
    const rules = 'timestamps: [{ path: /a }, { path: /b, tolerance: 1s }]';
    assert.deepEqual(
      diffs(
        rules,
        { a: '2026-01-01T00:00:00Z', b: '2026-01-01T00:00:00.000Z' },
        { a: '2026-01-01T03:00:00+03:00', b: '2026-01-01T00:00:00.900Z' },
      ),
      [],
    );
    assert.deepEqual(
      diffs(
        rules,
        { a: '2026-01-01T00:00:00Z', b: '2026-01-01T00:00:00Z' },
        { a: '2026-01-01T00:00:01Z', b: '2026-01-01T00:00:02Z' },
      ),
      ['timestamp /a', 'timestamp /b'],
    );
    assert.deepEqual(diffs(rules, { a: 'soon' }, { a: '2026-01-01T00:00:00Z' }), ['timestamp /a']);
  });
  it('strings: trim, case and white space', () => {
    assert.deepEqual(
      diffs(
        'strings: [{ path: /n, trim: true, ignoreCase: true, collapseWhitespace: true }]',
        { n: 'Ada  Lovelace' },
        { n: ' ada lovelace ' },
      ),
      [],
    );
    assert.deepEqual(diffs('strings: [{ path: /n, trim: true }]', { n: 'Ada' }, { n: 'ada' }), ['string /n']);
  });
  it('arrays: ordered, as sets by key, as sets by content (with rules inside)', () => {
    assert.deepEqual(diffs('{}', [1, 2], [2, 1]), ['value /0', 'value /1']);
    const byKey = 'arrays: [{ path: /i, order: Unordered, key: /id }]';
    assert.deepEqual(
      diffs(
        byKey,
        {
          i: [
            { id: 1, v: 'a' },
            { id: 2, v: 'b' },
          ],
        },
        {
          i: [
            { id: 2, v: 'b' },
            { id: 1, v: 'a' },
          ],
        },
      ),
      [],
    );
    assert.deepEqual(
      diffs(
        byKey,
        {
          i: [
            { id: 1, v: 'a' },
            { id: 2, v: 'b' },
          ],
        },
        {
          i: [
            { id: 2, v: 'c' },
            { id: 3, v: 'a' },
          ],
        },
      ),
      ['value /i/1/v', 'missing /i/0', 'extra /i/1'],
    );
    const bySet = 'arrays: [{ path: /t, order: Unordered }]\nnumbers: [{ path: /t/*/p, scale: 1 }]';
    assert.deepEqual(diffs(bySet, { t: [{ p: 1.04 }, { p: 2 }] }, { t: [{ p: 2 }, { p: 1.01 }] }), []);
    assert.deepEqual(diffs(bySet, { t: ['a', 'b', 'b'] }, { t: ['b', 'a', 'a'] }), ['value /t/2']);
  });
  it('nullEqualsMissing', () => {
    assert.deepEqual(diffs('nullEqualsMissing: true', { a: null, b: 1 }, { b: 1, c: null }), []);
    assert.deepEqual(diffs('{}', { a: null }, {}), ['missing /a']);
  });
  it('stops listing after MAX_DIFFERENCES', () => {
    const a = Array.from({ length: 1000 }, (_, i) => i);
    const r = compareJson(
      body('{}'),
      a,
      a.map((x) => x + 1),
    );
    assert.equal(r.differences.length, MAX_DIFFERENCES);
    assert.equal(r.truncated, true);
  });
  it('compares status, headers, and bodies by hash or type', () => {
    const route = parseRules('compareHeaders: [content-type, cache-control]').other;
    const ans = (
      status: number,
      headers: PreparedAnswer['headers'],
      b: PreparedAnswer['body'],
    ): PreparedAnswer => ({ status, headers, body: b });
    const json = (v: unknown): PreparedAnswer['body'] => ({ type: 'json', value: v });
    assert.deepEqual(
      compareAnswers(
        route,
        ans(200, { 'content-type': 'application/json' }, json({ a: 1 })),
        ans(500, { 'content-type': 'text/html' }, json({ a: 2 })),
      ).differences.map((d) => d.path),
      ['status', 'header:content-type'],
      'no body diff when statuses differ',
    );
    const bytes = (sha256: string): PreparedAnswer['body'] => ({
      type: 'bytes',
      sha256,
      size: 1,
      preview: '"x"',
    });
    assert.deepEqual(
      compareAnswers(route, ans(200, {}, bytes('a')), ans(200, {}, bytes('b'))).differences.map(
        (d) => d.kind,
      ),
      ['hash'],
    );
    assert.deepEqual(
      compareAnswers(route, ans(200, {}, json(1)), ans(200, {}, bytes('b'))).differences.map((d) => d.kind),
      ['body-type'],
    );
    const big = compareAnswers(route, ans(200, {}, { type: 'too-large', size: 9 }), ans(200, {}, json(1)));
    assert.deepEqual([big.tooLarge, big.differences.length], [true, 0]);
  });
  it('finds nothing between a document and its copy, and exactly the changed leaf (property)', () => {
    const none = body('{}');
    fc.assert(
      fc.property(fc.jsonValue(), (v) => compareJson(none, v, structuredClone(v)).differences.length === 0),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.oneof(fc.integer(), fc.string()), {
          minKeys: 1,
        }),
        fc.nat(),
        (o, n) => {
          const keys = Object.keys(o);
          const k = keys[n % keys.length]!;
          const copy: Record<string, unknown> = {
            ...o,
            [k]: typeof o[k] === 'number' ? o[k] + 1 : `${String(o[k])}!`,
          };
          const d = compareJson(none, o, copy).differences;
          return d.length === 1 && d[0]!.path === formatPointer([k]) && d[0]!.kind === 'value';
        },
      ),
    );
  });
});
