/**
 * Simple query sides folded into the table's scan (fold.ts): a count, a sum and a rowHash check
 * whose sides are `SELECT … FROM table WHERE …` read the table once with the table checks, the
 * predicate applied per aggregate. On skewed data (50 tenants, zipf: tenant 1 holds about a
 * quarter of the rows) the folded plan must give the same verdicts, tenant lines and differing
 * keys as the same checks read as derived tables and as the reference algorithm, on equal data,
 * after one missing row, after an off-by-0.01 change and after a change in the largest tenant;
 * and the legacy orders table must be scanned once where it was scanned per query before.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { generateNokta } from '../../../src/devenv/nokta-data/generator.js';
import { runReconciliation, type RunOptions } from '../../../src/reconciliation/engine.js';
import type { ReconciliationPlan } from '../../../src/reconciliation/plan.js';
import type { CheckResult, RunResult } from '../../../src/reconciliation/result.js';
import { foldPlan, keySet, open, recordingConnection, skewPlan, type SentStatement } from './helpers.js';

const BASE = new Date('2026-03-01T00:00:00Z');
const NOW = new Date(BASE.getTime() + 150 * 86_400_000);

function comparable(c: CheckResult): unknown {
  return {
    name: c.name,
    verdict: c.verdict,
    error: c.error,
    legacyValue: c.legacyValue,
    targetValue: c.targetValue,
    tenants: c.tenants,
    keys: keySet(c.differingKeys),
    truncated: c.differingKeysTruncated ?? false,
  };
}

describe('simple query sides folded into the table scan (MariaDB vs PostgreSQL, skewed data)', function () {
  this.timeout(180_000);
  const dbs: TestDatabase[] = [];
  let legacyUrl: string;
  let targetUrl: string;
  let pc: pg.Client;

  const run = async (
    plan: ReconciliationPlan,
    opts: RunOptions,
    statements?: { legacy: string[]; target: string[] },
  ): Promise<RunResult> => {
    const c = open(legacyUrl, targetUrl);
    const sent = { legacy: [] as SentStatement[], target: [] as SentStatement[] };
    try {
      const conns = statements
        ? {
            legacy: recordingConnection(c.legacy, sent.legacy),
            target: recordingConnection(c.target, sent.target),
          }
        : c;
      return await runReconciliation(plan, conns, { now: NOW, ...opts });
    } finally {
      statements?.legacy.push(...sent.legacy.map((x) => x.sql));
      statements?.target.push(...sent.target.map((x) => x.sql));
      await c.close();
    }
  };

  /** Folded, derived tables and the reference algorithm: the same results; returns the folded. */
  const agree = async (): Promise<RunResult> => {
    const folded = await run(foldPlan(), {});
    const derived = await run(foldPlan(), { foldQueries: false });
    const reference = await run(foldPlan(), { sharedScans: false, declaredTypes: false });
    for (const r of [folded, derived, reference]) assert.notEqual(r.verdict, 'Error', r.error);
    assert.deepEqual(folded.checks.map(comparable), derived.checks.map(comparable));
    assert.deepEqual(folded.checks.map(comparable), reference.checks.map(comparable));
    return folded;
  };

  const keysOf = (r: RunResult, check: string): string[] =>
    keySet(r.checks.find((c) => c.name === check)?.differingKeys ?? []);

  /** A paid order of a tenant (by its rank among the tenant's paid orders). */
  const paidOrder = async (tenantIs: string, rank: number): Promise<{ id: string; tenant: string }> => {
    const res = await pc.query<{ id: string; tenant: string }>(
      `SELECT id::text AS id, tenant_id::text AS tenant FROM orders WHERE status = 'paid' AND tenant_id ${tenantIs} ORDER BY id OFFSET $1 LIMIT 1`,
      [rank],
    );
    const row = res.rows[0];
    if (!row) throw new Error('no paid order');
    return row;
  };

  before(async () => {
    const [l, t] = await Promise.all([
      createMysqlDatabase('engine_fold'),
      createPostgresDatabase('engine_fold'),
    ]);
    dbs.push(l, t);
    legacyUrl = l.url;
    targetUrl = t.url;
    await generateNokta(legacyUrl, targetUrl, {
      scale: 20_000,
      tenants: 50,
      seed: 'fold',
      spread: 'zipf',
      baseDate: BASE,
    });
    pc = new pg.Client({ connectionString: targetUrl });
    await pc.connect();
  });

  after(async () => {
    await pc.end();
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('reads every query side as its table: no derived table, the legacy orders scanned once', async () => {
    const folded = { legacy: [] as string[], target: [] as string[] };
    const derived = { legacy: [] as string[], target: [] as string[] };
    await run(foldPlan(), {}, folded);
    await run(foldPlan(), { foldQueries: false }, derived);
    const scans = (sqls: string[]): string[] =>
      sqls.filter((s) => /COUNT\(\*\)/.test(s) && /GROUP BY 1/.test(s));
    // the join of orders-rows' target stays a derived table; the simple queries never are
    const queries = foldPlan()
      .checks.flatMap((c) => [c.legacy.query, c.target.query])
      .filter((q): q is string => q !== undefined && !q.includes('JOIN'));
    assert.equal(queries.length, 6);
    for (const q of queries)
      assert.ok(
        [...folded.legacy, ...folded.target].every((s) => !s.includes(q)),
        `read as a derived table: ${q}`,
      );
    assert.ok(derived.legacy.some((s) => s.includes(queries[0] ?? '-')));
    assert.ok(folded.legacy.some((s) => s.includes("CASE WHEN (status = 'paid') THEN")));
    // one pass: orders-rows' key-range buckets, every count, sum and row hash (paid-orders-rows
    // has no table side for key bounds: its per-tenant key range seeds its bisection)
    assert.equal(scans(folded.legacy).length, 1);
    assert.equal(scans(derived.legacy).length, 4);
  });

  it('the sample checks plus a query-side sum: the legacy orders scanned once', async () => {
    const folded = { legacy: [] as string[], target: [] as string[] };
    const plan = skewPlan();
    plan.checks = plan.checks.filter((c) => c.type === 'count' || c.type === 'sum' || c.type === 'rowHash');
    await run(plan, {}, folded);
    const ordersScans = folded.legacy.filter(
      (s) => /COUNT\(\*\)/.test(s) && /GROUP BY 1/.test(s) && s.includes('pos_orders'),
    );
    assert.equal(ordersScans.length, 1, ordersScans.join('\n'));
    assert.ok(ordersScans[0]?.includes('CASE WHEN (payment_method IS NOT NULL) THEN'));
  });

  it('equal data: the same results (all Pass, no keys)', async () => {
    const r = await agree();
    assert.equal(r.verdict, 'Passed');
    for (const c of r.checks) assert.deepEqual(c.differingKeys, [], c.name);
  });

  it('one missing row: the same results, the key missing in the folded rowHash check', async () => {
    const o = await paidOrder('<> 1', 3);
    await pc.query('DELETE FROM order_payments WHERE order_id = $1', [o.id]);
    await pc.query('DELETE FROM order_items WHERE order_id = $1', [o.id]);
    await pc.query('DELETE FROM orders WHERE id = $1', [o.id]);
    const r = await agree();
    assert.deepEqual(keysOf(r, 'paid-orders-rows'), [`${o.tenant}/${o.id}/missing`]);
    const counts = r.checks
      .find((c) => c.name === 'paid-orders-count')
      ?.tenants.find((t) => t.tenant === o.tenant);
    assert.equal(Number(counts?.legacy) - Number(counts?.target), 1);
  });

  it('one total off by 0.01: the same results, the key changed in its total', async () => {
    const o = await paidOrder('<> 1', 7);
    await pc.query('UPDATE orders SET total = total + 0.01 WHERE id = $1', [o.id]);
    const r = await agree();
    assert.ok(keysOf(r, 'paid-orders-rows').includes(`${o.tenant}/${o.id}/changed/total`));
    const sums = r.checks.find((c) => c.name === 'kept-totals')?.tenants.filter((t) => t.tenant === o.tenant);
    assert.ok(sums?.some((t) => t.column === 'total' && t.legacy !== t.target));
  });

  it('a change in the largest tenant: the same results, found in tenant 1', async () => {
    const o = await paidOrder('= 1', 1234);
    await pc.query('UPDATE orders SET tax = tax + 1 WHERE id = $1', [o.id]);
    // a refunded order of tenant 1 changed: outside the paid-orders filter, inside the table checks
    const refunded = await pc.query<{ id: string }>(
      "SELECT id::text AS id FROM orders WHERE tenant_id = 1 AND status = 'refunded' ORDER BY id LIMIT 1",
    );
    await pc.query('UPDATE orders SET discount = discount + 2 WHERE id = $1', [refunded.rows[0]?.id]);
    const r = await agree();
    const paid = keysOf(r, 'paid-orders-rows');
    assert.ok(paid.includes(`1/${o.id}/changed/tax`));
    assert.ok(
      !paid.some((k) => k.startsWith(`1/${refunded.rows[0]?.id ?? ''}/`)),
      'a refunded order in the paid check',
    );
    assert.ok(keysOf(r, 'orders-rows').includes(`1/${refunded.rows[0]?.id ?? ''}/changed/discount`));
  });
});
