/**
 * Reports a finance team can read: money at the column's scale on both sides, every tenant whose
 * values differ listed (under the threshold: "within tolerance"), a Markdown report, and a key
 * list cut at the cap said plainly.
 */
import assert from 'node:assert/strict';
import { toScale } from '../../../src/reconciliation/engine.js';
import { finishCheck, finishRun, scoreTenant, type CheckResult } from '../../../src/reconciliation/result.js';
import { differs, formatMarkdown, formatTable, truncationNote } from '../../../src/reconciliation/report.js';
import { markdownReport } from '../../../src/controllers/reconciliation/results-io.js';

const th = { remediatePercent: 0.5, failPercent: 1.0 };

function sumCheck(): CheckResult {
  const lines = [
    { tenant: '1', column: 'tax', legacy: toScale('1333955.5', 2), target: toScale('1333971.400', 2) },
    { tenant: '2', column: 'tax', legacy: toScale('500.00', 2), target: toScale('500.0', 2) },
    { tenant: '3', column: 'tax', legacy: toScale('100.00', 2), target: toScale('150.00', 2) },
  ];
  return finishCheck(
    { name: 'taxes', type: 'sum', thresholds: th, differingKeys: [] },
    lines.map((l) => scoreTenant('sum', l, th)),
  );
}

function rowCheck(truncated: boolean): CheckResult {
  const c = finishCheck(
    {
      name: 'orders|rows',
      type: 'rowHash',
      thresholds: th,
      differingKeys: [
        { tenant: '1', key: '42', kind: 'changed', columns: ['paid_amount'] },
        { tenant: '1', key: '43', kind: 'missing' },
      ],
    },
    [scoreTenant('rowHash', { tenant: '1', legacy: '100000', target: '99999', differingRows: 2500 }, th)],
  );
  if (truncated) c.differingKeysTruncated = true;
  return c;
}

describe('reconciliation reports', () => {
  it('prints money at the column scale on both sides, keeping real digits beyond it', () => {
    assert.equal(toScale('1333955.5', 2), '1333955.50');
    assert.equal(toScale('1333955.500', 2), '1333955.50');
    assert.equal(toScale('10.505', 2), '10.505');
    assert.equal(toScale(null, 2), '0.00');
    assert.equal(toScale('-3', 2), '-3.00');
    assert.equal(toScale('12', 0), '12');
    const c = sumCheck();
    assert.equal(c.tenants[0]?.legacy, '1333955.50');
    assert.equal(c.tenants[0]?.target, '1333971.40');
  });

  it('table: lists every tenant whose values differ, marking those under the threshold', () => {
    const c = sumCheck();
    assert.deepEqual(
      c.tenants.map((t) => [t.tenant, differs(t)]),
      [
        ['1', true],
        ['2', false],
        ['3', true],
      ],
    );
    const text = formatTable(finishRun(new Date(0), new Date(1000), [c]));
    assert.match(
      text,
      /tenant 1 tax: legacy 1333955\.50, target 1333971\.40, variance 0\.001192% → within tolerance/,
    );
    assert.match(text, /tenant 3 tax: legacy 100\.00, target 150\.00, variance 50% → Failed/);
    assert.doesNotMatch(text, /tenant 2 /);
  });

  it('says plainly when the key list stopped at the cap', () => {
    assert.equal(truncationNote(rowCheck(false)), undefined);
    const note = truncationNote(rowCheck(true)) ?? '';
    assert.match(note, /incomplete: localization stopped at 2 keys of at least 2500 differing rows/);
    const text = formatTable(finishRun(new Date(0), new Date(1000), [rowCheck(true)]));
    assert.ok(text.includes(note));
  });

  it('markdown: summary table, differing tenants with verdicts, every key, escaped cells', () => {
    const md = formatMarkdown(finishRun(new Date(0), new Date(1000), [sumCheck(), rowCheck(true)]));
    assert.match(md, /^# Reconciliation report: Failed$/m);
    assert.match(md, /^\| Check \| Type \| Verdict \| Legacy \| Target \|/m);
    assert.match(md, /^\| 1 \| tax \| 1333955\.50 \| 1333971\.40 \| 0\.001192 \| within tolerance \|$/m);
    assert.match(md, /^\| 1 \| 42 \| changed \| paid_amount \|$/m);
    assert.match(md, /^## orders\|rows \(rowHash\): Failed$/m);
    assert.match(md, /^\| orders\\\|rows \| rowHash \| Failed \|/m);
    assert.match(md, /\*\*Note:\*\* the key list is incomplete/);
    assert.doesNotMatch(md, /^\| 2 \| tax/m);
  });

  it('markdown in a ConfigMap is cut with a note when it would not fit', () => {
    const big = rowCheck(false);
    big.differingKeys = Array.from({ length: 20_000 }, (_, i) => ({
      tenant: '1',
      key: String(i),
      kind: 'missing' as const,
    }));
    const md = markdownReport(finishRun(new Date(0), new Date(1000), [big]), 50_000);
    assert.ok(Buffer.byteLength(md) <= 50_000);
    assert.match(md, /The report was cut here to fit a ConfigMap; report\.json has every check/);
  });
});
