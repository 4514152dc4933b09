/**
 * How a shared pass's rows add up per tenant (scan-pass.ts `passTotals`): counts, sums of mixed
 * scales and NULLs, a folded member's own count and sums, row-hash sums that come back as `123.0`,
 * bucket checksums (absent where a filtered member has no row), and many rows (the work yields
 * to the event loop every few thousand rows and must still add every one).
 */
import assert from 'node:assert/strict';
import { planFromSpec, type ReconciliationPlan } from '../../../src/reconciliation/plan.js';
import { SideSql } from '../../../src/reconciliation/side-sql.js';
import { foldQuery } from '../../../src/reconciliation/fold.js';
import { passQuery, passTotals, planPasses, type Pass } from '../../../src/reconciliation/scan-pass.js';
import type { Row, SqlConnection } from '../../../src/reconciliation/connection.js';
import { COUNT_AND_PAID_CHECKS, specWith } from './spec-fixtures.js';

const conn = { engine: 'mysql', label: 'legacy' } as unknown as SqlConnection;

function plan(rowsQuery?: string): ReconciliationPlan {
  return planFromSpec(
    specWith([
      ...COUNT_AND_PAID_CHECKS,
      {
        name: 'money',
        type: 'sum',
        legacy: { table: 'pos_orders' },
        target: { table: 'orders' },
        columns: [
          { name: 'total', type: 'decimal', scale: 2 },
          { name: 'tax', type: 'decimal', scale: 3 },
        ],
      },
      {
        name: 'rows',
        type: 'rowHash',
        legacy: rowsQuery ? { query: rowsQuery } : { table: 'pos_orders' },
        target: { table: 'orders' },
        key: ['id'],
        columns: [
          { name: 'id', type: 'integer' },
          { name: 'total', type: 'decimal', scale: 2 },
        ],
      },
    ]),
  );
}

/** The one legacy pass of the plan, the rowHash check bucketed by 1,000 keys. */
function pass(p: ReconciliationPlan): Pass {
  const sides = p.checks.map((c) => new SideSql('legacy', conn, c.legacy, c, p, {}));
  for (const s of sides) {
    const fold = s.src.query ? foldQuery(s.src.query, 'mysql') : undefined;
    if (fold) s.fold = fold;
  }
  const passes = planPasses(
    'legacy',
    p.checks.map((check, i) => ({
      check,
      sql: sides[i] as SideSql,
      ...(check.type === 'rowHash' ? { bucket: { lo: 1n, width: 1000n } } : {}),
    })),
  );
  assert.equal(passes.length, 1);
  return passes[0] as Pass;
}

describe('a shared pass added up per tenant', () => {
  it('adds counts, sums of mixed scales, NULLs, a folded member and hash sums exactly', async () => {
    const p = pass(plan());
    const [sql] = passQuery(p);
    // the columns the rows below stand for: tenant, bucket, COUNT(*), then each distinct aggregate
    assert.match(
      sql,
      /^SELECT CAST\(src\.`tenant_id` AS BINARY\), CASE .* END, COUNT\(\*\), COUNT\(CASE WHEN \(payment_method IS NOT NULL\) THEN 1 END\), SUM\(CASE WHEN \(payment_method IS NOT NULL\) THEN src\.`total` END\), SUM\(src\.`total`\), SUM\(src\.`tax`\), COALESCE\(SUM\(/,
    );
    const rows: Row[] = [
      ['7', '0', '3', '2', '10.50', '12.5', '1.250', '100'],
      ['7', '1', '2', '0', null, '0.75', null, '123.0'],
      ['8', '0', '1', '1', '-0.01', '-0.01', '0.001', '-5'],
      ['9', '-1', '1', '0', null, null, null, '0'],
    ];
    const totals = await passTotals(p, rows);
    const seven = totals.get('7');
    assert.equal(seven?.count, 5n);
    assert.deepEqual(seven?.counts.get('paid'), 2n);
    assert.deepEqual(seven?.sums.get('paid'), ['10.50']);
    assert.deepEqual(seven?.sums.get('money'), ['13.25', '1.250']);
    assert.equal(seven?.hashes.get('rows'), 223n);
    assert.deepEqual(
      [...(seven?.buckets ?? [])],
      [
        [0, { n: 3n, h: 100n }],
        [1, { n: 2n, h: 123n }],
      ],
    );
    const eight = totals.get('8');
    assert.deepEqual(eight?.sums.get('paid'), ['-0.01']);
    assert.deepEqual(eight?.sums.get('money'), ['-0.01', '0.001']);
    assert.equal(eight?.hashes.get('rows'), -5n);
    // every value NULL: the sums are NULL, not 0; the member's own count is 0
    const nine = totals.get('9');
    assert.deepEqual(nine?.sums.get('paid'), [null]);
    assert.deepEqual(nine?.sums.get('money'), [null, null]);
    assert.equal(nine?.counts.get('paid'), 0n);
    assert.deepEqual([...(nine?.buckets ?? [])], [[-1, { n: 1n, h: 0n }]]);
  });

  it('reads exponents and refuses what is not a decimal (hex text, a second point)', async () => {
    const p = pass(plan());
    const row = (total: string, hash = '1'): Row => ['7', '0', '1', '0', null, total, null, hash];
    const totals = await passTotals(p, [row('1.50E1'), row('-.5'), row('2.', '3.0')]);
    assert.deepEqual(totals.get('7')?.sums.get('money'), ['16.5', null]);
    assert.equal(totals.get('7')?.hashes.get('rows'), 5n);
    for (const bad of ['0x10', '1.2.3', '1 2', 'NaN'])
      await assert.rejects(passTotals(p, [row(bad)]), /not a decimal number/, bad);
    await assert.rejects(passTotals(p, [row('1', '0x10')]), /not a decimal number/);
  });

  it('a filtered bucketed member: buckets only where it has rows, with its own count', async () => {
    const p = pass(plan("SELECT id, tenant_id, total FROM pos_orders WHERE status = 'paid'"));
    const [sql] = passQuery(p);
    assert.match(
      sql,
      /COUNT\(CASE WHEN \(status = 'paid'\) THEN 1 END\), COALESCE\(SUM\(CASE WHEN \(status = 'paid'\)/,
    );
    // tenant, bucket, COUNT(*), paid: count + sum, money: total + tax, rows: own count + hash
    const totals = await passTotals(p, [
      ['7', '0', '3', '2', '1.00', '3.00', '0.300', '2', '42'],
      ['7', '1', '2', '1', '1.00', '2.00', '0.200', '0', '0'],
    ]);
    const seven = totals.get('7');
    assert.equal(seven?.count, 5n);
    assert.equal(seven?.counts.get('rows'), 2n);
    assert.equal(seven?.hashes.get('rows'), 42n);
    assert.deepEqual([...(seven?.buckets ?? [])], [[0, { n: 2n, h: 42n }]]);
  });

  it('adds every row of a large result (it yields to the event loop between slices)', async () => {
    const p = pass(plan());
    const rows: Row[] = [];
    for (let b = 0; b < 10_000; b++)
      rows.push([String(b % 3), String(b), '1', '1', '0.01', '0.01', '0.001', '1']);
    // an immediate queued now runs before the rows are all added only if the work yields
    let yielded = false;
    setImmediate(() => {
      yielded = true;
    });
    const totals = await passTotals(p, rows);
    assert.deepEqual([...totals.keys()].sort(), ['0', '1', '2']);
    const count = [...totals.values()].reduce((n, t) => n + t.count, 0n);
    assert.equal(count, 10_000n);
    assert.deepEqual(totals.get('0')?.sums.get('money'), ['33.34', '3.334']);
    assert.equal(totals.get('0')?.buckets.size, 3334);
    assert.ok(yielded, 'the event loop turned while the rows were added up');
  });
});
