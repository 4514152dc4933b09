import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addDecimals,
  compareDecimals,
  normalizeDecimal,
  parseDecimal,
  parseInteger,
  sumDecimals,
  variancePercent,
  ratioPercent,
} from '../../../src/reconciliation/decimal.js';
import {
  finishCheck,
  finishRun,
  mergeResults,
  scoreTenant,
  verdictFor,
  type CheckResult,
  type RunResult,
} from '../../../src/reconciliation/result.js';

const th = { remediatePercent: 0.5, failPercent: 1.0 };

describe('reconciliation decimals', () => {
  it('adds money exactly, never through floats', () => {
    assert.equal(addDecimals('0.1', '0.2'), '0.3');
    assert.equal(addDecimals('10.5', '-10.50'), '0.00');
    assert.equal(sumDecimals(['99999999999999999.99', '0.01']), '100000000000000000.00');
    assert.equal(addDecimals('-0.01', '0'), '-0.01');
    assert.equal(normalizeDecimal('10.500'), '10.5');
    assert.equal(compareDecimals('10.5', '10.50'), 0);
    assert.equal(compareDecimals('1e2', '100'), 0);
  });

  it('reads the plain form and every other form the same way, and refuses what is not a decimal', () => {
    const read = (t: string): string => {
      const x = parseDecimal(t);
      return `${x.value}/${x.scale}`;
    };
    const same: [string, string][] = [
      ['-123.45', '-12345/2'],
      ['7', '7/0'],
      ['007.50', '750/2'],
      ['+.5', '5/1'],
      ['-.5', '-5/1'],
      ['5.', '5/0'],
      ['-0.00', '0/2'],
      [' 1.5', '15/1'],
      ['1.5 ', '15/1'],
      ['1.50E1', '150/1'],
      ['1e2', '100/0'],
    ];
    for (const [t, want] of same) assert.equal(read(t), want, t);
    for (const bad of [
      '',
      '.',
      '-',
      '0x10',
      '0b1',
      '0o7',
      '.-5',
      '.+5',
      '. 5',
      '1.2.3',
      '1 2',
      '1_000',
      'NaN',
      '--5',
    ])
      assert.throws(() => parseDecimal(bad), /not a decimal number/, bad);
    assert.equal(parseInteger('123'), 123n);
    assert.equal(parseInteger('123.000'), 123n);
    assert.equal(parseInteger('-4.0'), -4n);
    assert.throws(() => parseInteger('123.5'), /not an integer: '123.5'/);
  });

  it('sums integers in cents the same as BigInt does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), { maxLength: 30 }),
        (cents) => {
          const text = cents.map((c) => {
            const neg = c < 0n;
            const a = (neg ? -c : c).toString().padStart(3, '0');
            return `${neg ? '-' : ''}${a.slice(0, -2)}.${a.slice(-2)}`;
          });
          const expected = cents.reduce((a, b) => a + b, 0n);
          assert.equal(compareDecimals(sumDecimals(text), `${expected}e-2`), 0);
        },
      ),
    );
  });

  it('computes variance |legacy - target| / |legacy| in percent, defined when legacy is 0', () => {
    assert.equal(variancePercent('100', '99'), 1);
    assert.equal(variancePercent('1000.00', '1000.01'), 0.001);
    assert.equal(variancePercent('0', '0'), 0);
    assert.equal(variancePercent('0', '5'), 100);
    assert.equal(variancePercent('-200', '-198'), 1);
    assert.equal(variancePercent('3', '2'), 33.333333);
    assert.equal(ratioPercent(1, 3), 33.333333);
    assert.equal(ratioPercent(0, 0), 0);
    assert.equal(ratioPercent(2, 0), 100);
  });
});

describe('reconciliation verdicts', () => {
  it('applies thresholds inclusively', () => {
    assert.equal(verdictFor(0, th), 'Passed');
    assert.equal(verdictFor(0.49, th), 'Passed');
    assert.equal(verdictFor(0.5, th), 'RemediationNeeded');
    assert.equal(verdictFor(1.0, th), 'Failed');
  });

  it('makes any differing row at least RemediationNeeded for row-level checks', () => {
    const t = scoreTenant(
      'rowHash',
      { tenant: '1', legacy: '100000', target: '100000', differingRows: 1 },
      th,
    );
    assert.equal(t.variancePercent, 0.001);
    assert.equal(t.verdict, 'RemediationNeeded');
    const c = scoreTenant('count', { tenant: '1', legacy: '100000', target: '99999' }, th);
    assert.equal(c.verdict, 'Passed');
  });

  it('reports the worst tenant and totals, and Error wins over everything', () => {
    const tenants = [
      scoreTenant('sum', { tenant: 'a', legacy: '100.00', target: '100.00' }, th),
      scoreTenant('sum', { tenant: 'b', legacy: '50.00', target: '49.00' }, th),
    ];
    const check = finishCheck({ name: 's', type: 'sum', thresholds: th, differingKeys: [] }, tenants);
    assert.equal(check.verdict, 'Failed');
    assert.equal(check.worstTenant, 'b');
    assert.equal(check.legacyValue, '150.00');
    assert.equal(check.targetValue, '149.00');
    assert.equal(check.variancePercent, 0.666667);
    const run = finishRun(new Date(0), new Date(1), [
      check,
      { ...check, name: 'e', verdict: 'Error', error: 'down', tenants: [] },
    ]);
    assert.equal(run.verdict, 'Error');
    assert.match(run.error ?? '', /e: down/);
  });
});

function shardRun(index: number, checks: CheckResult[]): RunResult {
  const r = finishRun(new Date(1000 + index), new Date(2000 + index), checks);
  r.shard = { index, count: 2, by: 'KeyRange' };
  return r;
}

describe('mergeResults', () => {
  it('adds key-range shards of the same tenant and recomputes variance and verdict', () => {
    const part = (legacy: string, target: string, differing: number): CheckResult =>
      finishCheck(
        {
          name: 'rows',
          type: 'rowHash',
          thresholds: th,
          differingKeys: differing
            ? [{ tenant: 't1', key: legacy, kind: 'changed', columns: ['total'] }]
            : [],
        },
        [scoreTenant('rowHash', { tenant: 't1', legacy, target, differingRows: differing }, th)],
      );
    const merged = mergeResults([shardRun(0, [part('100', '100', 1)]), shardRun(1, [part('100', '100', 0)])]);
    assert.equal(merged.checks[0]?.tenants[0]?.legacy, '200');
    assert.equal(merged.checks[0]?.variancePercent, 0.5);
    assert.equal(merged.checks[0]?.verdict, 'RemediationNeeded');
    assert.equal(merged.rowsCompared, 200);
    assert.equal(merged.startedAt, new Date(1000).toISOString());
    assert.equal(merged.shardsMerged, 2);
  });

  it('is Error when a shard is missing or failed', () => {
    const ok = finishCheck({ name: 'c', type: 'count', thresholds: th, differingKeys: [] }, [
      scoreTenant('count', { tenant: 'x', legacy: '1', target: '1' }, th),
    ]);
    assert.equal(mergeResults([shardRun(0, [ok])]).verdict, 'Error');
    const bad: CheckResult = { ...ok, verdict: 'Error', error: 'legacy down', tenants: [] };
    const m = mergeResults([shardRun(0, [ok]), shardRun(1, [bad])]);
    assert.equal(m.verdict, 'Error');
    assert.equal(m.checks[0]?.error, 'legacy down');
  });
});
