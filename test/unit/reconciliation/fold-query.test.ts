/**
 * Which query sides fold into their table's scan (fold.ts), and the SQL of a shared pass with a
 * folded member: the table once, the predicate only around the member's own aggregates.
 */
import assert from 'node:assert/strict';
import { foldedColumn, foldQuery } from '../../../src/reconciliation/fold.js';
import { planFromSpec } from '../../../src/reconciliation/plan.js';
import { Params } from '../../../src/reconciliation/dialect.js';
import { SideSql } from '../../../src/reconciliation/side-sql.js';
import { passQuery, planPasses, sourceKey } from '../../../src/reconciliation/scan-pass.js';
import type { SqlConnection } from '../../../src/reconciliation/connection.js';
import { COUNT_AND_PAID_CHECKS, specWith } from './spec-fixtures.js';

describe('folding simple query sides into the table scan', () => {
  it('folds SELECT plain columns FROM one table [WHERE a plain predicate]', () => {
    const f = foldQuery('SELECT tenant_id, total FROM pos_orders WHERE payment_method IS NOT NULL', 'mysql');
    assert.equal(f?.table, 'pos_orders');
    assert.equal(f?.filter, 'payment_method IS NOT NULL');
    assert.deepEqual(
      [...(f?.columns ?? [])],
      [
        ['tenant_id', 'tenant_id'],
        ['total', 'total'],
      ],
    );
    const g = foldQuery('select Tenant_Id, Amount as Total\n from public.Order_Payments', 'postgres');
    assert.equal(g?.table, 'public.order_payments');
    assert.equal(g?.filter, undefined);
    // PostgreSQL folds bare names to lower case: "Total" is not the output name, total is
    assert.equal(g && foldedColumn(g, 'total', 'postgres'), 'amount');
    assert.equal(g && foldedColumn(g, 'Total', 'postgres'), undefined);
    const h = foldQuery(
      "SELECT id, tenant_id FROM orders WHERE status IN ('paid', 'it''s') AND total >= 0.01",
      'mysql',
    );
    assert.equal(h?.filter, "status IN ('paid', 'it''s') AND total >= 0.01");
    assert.equal(h && foldedColumn(h, 'TENANT_ID', 'mysql'), 'tenant_id');
    // words of a clause inside a string literal are only text
    assert.ok(foldQuery("SELECT id, tenant_id FROM t WHERE note <> 'select from group by'", 'postgres'));
  });

  it('reads anything else as a derived table', () => {
    const refused = [
      'SELECT * FROM pos_orders',
      'SELECT DISTINCT tenant_id, total FROM pos_orders',
      'SELECT tenant_id, total * 2 AS total FROM pos_orders',
      'SELECT tenant_id, total t FROM pos_orders',
      'SELECT tenant_id, total, total FROM pos_orders',
      'SELECT o.tenant_id, o.total FROM pos_orders o',
      'SELECT tenant_id, total FROM pos_orders o',
      'SELECT tenant_id, total FROM orders o JOIN order_payments p ON p.order_id = o.id',
      'SELECT tenant_id, total FROM pos_orders, customers',
      'SELECT tenant_id, total FROM pos_orders WHERE id IN (SELECT order_id FROM refunds)',
      'SELECT tenant_id, total FROM pos_orders WHERE total > 0 GROUP BY tenant_id, total',
      'SELECT tenant_id, total FROM pos_orders WHERE total > 0 ORDER BY total LIMIT 10',
      'SELECT tenant_id, total FROM pos_orders WHERE total > 0 UNION SELECT tenant_id, total FROM x',
      'SELECT tenant_id, total FROM pos_orders WHERE total > (SELECT AVG(total) FROM pos_orders)',
      'SELECT tenant_id, total FROM pos_orders WHERE RAND() < 0.5',
      'SELECT tenant_id, total FROM pos_orders WHERE pos_orders.total > 0',
      'SELECT tenant_id, total FROM pos_orders WHERE total > ?',
      'SELECT tenant_id, total FROM pos_orders WHERE total > $1',
      'SELECT tenant_id, total FROM pos_orders WHERE total > @floor',
      'SELECT tenant_id, total FROM pos_orders WHERE "total" > 0',
      'SELECT tenant_id, total FROM pos_orders WHERE `total` > 0',
      "SELECT tenant_id, total FROM pos_orders WHERE note = 'a\\'b'",
      'SELECT tenant_id, total FROM pos_orders WHERE total > 0 -- comment',
      'SELECT tenant_id, total FROM pos_orders WHERE total > 0 /* c */',
      'SELECT tenant_id, total FROM pos_orders WHERE total > 0; DELETE FROM pos_orders',
      "SELECT tenant_id, total FROM pos_orders WHERE note = 'open",
      'SELECT tenant_id, total FROM pos_orders WHERE total > 0 FOR UPDATE',
      'WITH x AS (SELECT 1) SELECT tenant_id, total FROM x',
    ];
    for (const q of refused) assert.equal(foldQuery(q, 'mysql'), undefined, q);
  });

  it('a folded member shares the table pass; its predicate guards only its own aggregates', () => {
    const plan = planFromSpec(specWith(COUNT_AND_PAID_CHECKS));
    const conn = { engine: 'mysql', label: 'legacy' } as unknown as SqlConnection;
    const [count, paid] = plan.checks.map(
      (c) => new SideSql('legacy', conn, c.legacy, c, plan, { tenants: ['7'] }),
    );
    if (!count || !paid || !plan.checks[0] || !plan.checks[1]) throw new Error('two checks');
    const folded = foldQuery(paid.src.query ?? '', 'mysql');
    if (folded) paid.fold = folded;
    assert.equal(sourceKey(paid), sourceKey(count));
    const passes = planPasses('legacy', [
      { check: plan.checks[0], sql: count },
      { check: plan.checks[1], sql: paid },
    ]);
    assert.equal(passes.length, 1);
    const [sql, params] = passQuery(passes[0] as (typeof passes)[number]);
    assert.equal(
      sql,
      'SELECT CAST(src.`tenant_id` AS BINARY), COUNT(*), COUNT(CASE WHEN (payment_method IS NOT NULL) THEN 1 END), SUM(CASE WHEN (payment_method IS NOT NULL) THEN src.`total` END) FROM `pos_orders` AS src USE INDEX FOR GROUP BY () WHERE src.`tenant_id` IN (?) AND CAST(src.`tenant_id` AS BINARY) IN (?) GROUP BY 1 ORDER BY NULL',
    );
    assert.deepEqual(params, ['7', '7']);
    // an integer tenant declared by the table is grouped as it is (no collation to keep apart)
    const intTenant = new Map([
      ['tenant_id', { type: 'int', scale: 0, datetimePrecision: null, charset: null, nullable: false }],
    ]);
    count.declared = intTenant;
    paid.declared = intTenant;
    const [plainSql] = passQuery(
      planPasses('legacy', [
        { check: plan.checks[0], sql: count },
        { check: plan.checks[1], sql: paid },
      ])[0] as (typeof passes)[number],
    );
    assert.match(plainSql, /^SELECT src\.`tenant_id`, COUNT\(\*\)/);
    assert.match(plainSql, / WHERE src\.`tenant_id` IN \(\?\) GROUP BY 1/);
    // a text tenant keeps its binary value
    count.declared = new Map([
      [
        'tenant_id',
        { type: 'varchar', scale: null, datetimePrecision: null, charset: 'utf8mb4', nullable: false },
      ],
    ]);
    assert.match(
      passQuery(
        planPasses('legacy', [{ check: plan.checks[0], sql: count }])[0] as (typeof passes)[number],
      )[0],
      /^SELECT CAST\(src\.`tenant_id` AS BINARY\)/,
    );
    delete count.declared;
    delete paid.declared;
    // read alone (bounds, localization, row fetches) the predicate is a WHERE condition
    const p = new Params('mysql');
    assert.match(paid.where(p), /^ WHERE \(payment_method IS NOT NULL\) AND /);
    assert.equal(paid.from(), '`pos_orders` AS src');
  });
});
