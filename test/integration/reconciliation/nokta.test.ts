/**
 * The engine against real MariaDB and PostgreSQL with the Nokta sample: every injected
 * difference is found with its tenant and key, benign differences are not reported, counts,
 * sums and variance are exact, and sharded runs merge to the unsharded verdicts.
 */
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { generateNokta, type GenerateResult } from '../../../src/devenv/nokta-data/generator.js';
import { runReconciliation } from '../../../src/reconciliation/engine.js';
import { mergeResults, type RunResult } from '../../../src/reconciliation/result.js';
import { variancePercent } from '../../../src/reconciliation/decimal.js';
import { keySet, manifestPlan, open } from './helpers.js';

const BASE = new Date('2026-03-01T00:00:00Z');
const NOW = new Date(BASE.getTime() + 150 * 86_400_000);

describe('reconciliation engine on the Nokta sample (MariaDB vs PostgreSQL)', function () {
  this.timeout(60_000);
  const dbs: TestDatabase[] = [];
  let gen: GenerateResult;
  let legacyUrl: string;
  let targetUrl: string;
  let cleanLegacyUrl: string;
  let cleanTargetUrl: string;
  let full: RunResult;

  before(async () => {
    const [l, t, cl, ct] = await Promise.all([
      createMysqlDatabase('recon_nokta'),
      createPostgresDatabase('recon_nokta'),
      createMysqlDatabase('recon_clean'),
      createPostgresDatabase('recon_clean'),
    ]);
    dbs.push(l, t, cl, ct);
    legacyUrl = l.url;
    targetUrl = t.url;
    cleanLegacyUrl = cl.url;
    cleanTargetUrl = ct.url;
    [gen] = await Promise.all([
      generateNokta(legacyUrl, targetUrl, {
        scale: 4000,
        tenants: 8,
        seed: 'itest',
        inject: true,
        baseDate: BASE,
      }),
      generateNokta(cleanLegacyUrl, cleanTargetUrl, {
        scale: 4000,
        tenants: 8,
        seed: 'itest',
        inject: false,
        baseDate: BASE,
      }),
    ]);
    const c = open(legacyUrl, targetUrl);
    try {
      full = await runReconciliation(manifestPlan('reconciliation-nokta.yaml'), c, { now: NOW });
    } finally {
      await c.close();
    }
  });

  after(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('passes every check on equal data despite the benign differences', async () => {
    const c = open(cleanLegacyUrl, cleanTargetUrl);
    try {
      const r = await runReconciliation(manifestPlan('reconciliation-nokta.yaml'), c, { now: NOW });
      for (const check of r.checks) {
        assert.equal(
          check.verdict,
          'Passed',
          `${check.name}: ${JSON.stringify(check.differingKeys.slice(0, 5))} ${check.error ?? ''}`,
        );
        assert.equal(check.differingKeys.length, 0);
        assert.equal(check.variancePercent, 0);
      }
      assert.equal(r.verdict, 'Passed');
      // row-level checks: orders 4000, sample 25 × 8 tenants, customers 400, drivers 20, calls 800, invoices 400
      assert.equal(r.rowsCompared, 4000 + 25 * 8 + 400 + 20 + 800 + 400);
    } finally {
      await c.close();
    }
  });

  it('finds every injected difference in orders with its exact tenant, key and columns, and nothing else', () => {
    const orders = full.checks.find((c) => c.name === 'orders-rows');
    assert.ok(orders);
    const expected = gen.injections.filter((i) => i.family === 'pos_orders').flatMap((i) => i.expected);
    assert.deepEqual(keySet(orders.differingKeys), keySet(expected));
    const kinds = new Set(gen.injections.map((i) => i.kind));
    for (const k of [
      'missing',
      'extra',
      'amountOff',
      'changedTax',
      'changedSettlement',
      'wrongTenant',
      'timeShift',
    ])
      assert.ok(kinds.has(k as never), k);
    // the one-hour shift and the 0.01 are reported as changed columns
    const shift = gen.injections.find((i) => i.kind === 'timeShift')?.expected[0];
    assert.deepEqual(orders.differingKeys.find((k) => k.key === shift?.key)?.columns, ['created_at']);
    const cent = gen.injections.find((i) => i.kind === 'amountOff')?.expected[0];
    assert.deepEqual(orders.differingKeys.find((k) => k.key === cent?.key)?.columns, [
      'total',
      'paid_amount',
    ]);
    assert.notEqual(orders.verdict, 'Passed');
  });

  it('finds the changed settlement in drivers and nothing in the families without injections', () => {
    const drivers = full.checks.find((c) => c.name === 'drivers-rows');
    const expected = gen.injections.filter((i) => i.family === 'drivers').flatMap((i) => i.expected);
    assert.deepEqual(keySet(drivers?.differingKeys ?? []), keySet(expected));
    for (const name of [
      'customers-rows',
      'calls-rows',
      'invoices-rows',
      'invoice-totals',
      'refunded-orders',
    ]) {
      const c = full.checks.find((x) => x.name === name);
      assert.equal(c?.verdict, 'Passed', name);
      assert.equal(c?.differingKeys.length, 0, name);
    }
  });

  it('reports exact counts, sums and variance per tenant (checked against direct SQL)', async () => {
    const my = await mysql.createConnection({ uri: legacyUrl, decimalNumbers: false });
    const pc = new pg.Client({ connectionString: targetUrl });
    await pc.connect();
    try {
      const [lrows] = await my.query(
        'SELECT tenant_id, COUNT(*) AS n, CAST(SUM(total) AS CHAR) AS s, CAST(SUM(tax) AS CHAR) AS tx FROM pos_orders GROUP BY tenant_id',
      );
      const trows = (
        await pc.query(
          'SELECT tenant_id, COUNT(*)::text AS n, SUM(total)::text AS s, SUM(tax)::text AS tx FROM orders GROUP BY tenant_id',
        )
      ).rows as { tenant_id: number; n: string; s: string; tx: string }[];
      const count = full.checks.find((c) => c.name === 'orders-count');
      const sums = full.checks.find((c) => c.name === 'orders-financial-totals');
      for (const l of lrows as { tenant_id: number; n: number; s: string; tx: string }[]) {
        const t = trows.find((r) => r.tenant_id === l.tenant_id);
        assert.ok(t);
        const ct = count?.tenants.find((x) => x.tenant === String(l.tenant_id));
        assert.equal(ct?.legacy, String(l.n));
        assert.equal(ct?.target, t.n);
        assert.equal(ct?.variancePercent, variancePercent(String(l.n), t.n));
        const st = sums?.tenants.find((x) => x.tenant === String(l.tenant_id) && x.column === 'total');
        assert.equal(st?.legacy, l.s);
        assert.equal(Number(st?.target), Number(t.s));
        assert.equal(st?.variancePercent, variancePercent(l.s, t.s));
        const tax = sums?.tenants.find((x) => x.tenant === String(l.tenant_id) && x.column === 'tax');
        assert.equal(tax?.legacy, l.tx);
      }
      // the rowHash variance is differing rows / legacy rows for each tenant
      const rows = full.checks.find((c) => c.name === 'orders-rows');
      for (const t of rows?.tenants ?? []) {
        const differing = rows?.differingKeys.filter((k) => k.tenant === t.tenant).length ?? 0;
        assert.equal(t.differingRows, differing, `tenant ${t.tenant}`);
        assert.equal(t.variancePercent, Math.round((differing / Number(t.legacy)) * 100 * 1e6) / 1e6);
      }
    } finally {
      await my.end();
      await pc.end();
    }
  });

  it('spot-checks a seeded sample and repeats it with the same seed', async () => {
    const plan = manifestPlan('reconciliation-nokta.yaml');
    plan.checks = plan.checks.filter((c) => c.name === 'orders-spot-check');
    const check = plan.checks[0];
    assert.ok(check);
    check.sampleSize = 600; // more than any tenant has: every legacy row is drawn
    const c = open(legacyUrl, targetUrl);
    try {
      const all = await runReconciliation(plan, c, { now: NOW });
      const expected = gen.injections
        .filter((i) => i.family === 'pos_orders')
        .flatMap((i) => i.expected)
        .filter((k) => k.kind !== 'extra'); // a sample draws legacy keys
      assert.deepEqual(keySet(all.checks[0]?.differingKeys ?? []), keySet(expected));
      check.sampleSize = 40;
      check.seed = 'repeat-me';
      const a = await runReconciliation(plan, c, { now: NOW });
      const b = await runReconciliation(plan, c, { now: NOW });
      assert.deepEqual(a.checks[0]?.tenants, b.checks[0]?.tenants);
      assert.deepEqual(a.checks[0]?.differingKeys, b.checks[0]?.differingKeys);
      assert.equal(a.checks[0]?.seed, 'repeat-me');
      assert.equal(
        a.checks[0]?.tenants.reduce((n, t) => n + Number(t.legacy), 0),
        40 * 8,
      );
    } finally {
      await c.close();
    }
  });

  it('gives the same verdicts, values and keys when sharded by tenant or key range and merged', async () => {
    const plan = manifestPlan('reconciliation-nokta.yaml');
    const spot = plan.checks.find((x) => x.type === 'sample');
    assert.ok(spot);
    spot.sampleSize = 600; // every row: the sample then finds the injected keys too
    const c = open(legacyUrl, targetUrl);
    try {
      const whole = await runReconciliation(plan, c, { now: NOW });
      assert.ok((whole.checks.find((x) => x.type === 'sample')?.differingKeys.length ?? 0) > 0);
      for (const by of ['Tenant', 'KeyRange'] as const) {
        const parts = await Promise.all(
          [0, 1, 2].map((index) => runReconciliation(plan, c, { now: NOW, shard: { index, count: 3, by } })),
        );
        const merged = mergeResults(parts);
        assert.equal(merged.verdict, whole.verdict, by);
        assert.equal(merged.rowsCompared, whole.rowsCompared, by);
        for (const check of whole.checks) {
          const m = merged.checks.find((x) => x.name === check.name);
          assert.ok(m, `${by} ${check.name}`);
          assert.equal(m.verdict, check.verdict, `${by} ${check.name}`);
          assert.deepEqual(m.tenants, check.tenants, `${by} ${check.name}`);
          assert.equal(m.variancePercent, check.variancePercent, `${by} ${check.name}`);
          assert.equal(m.legacyValue, check.legacyValue, `${by} ${check.name}`);
          assert.deepEqual(keySet(m.differingKeys), keySet(check.differingKeys), `${by} ${check.name}`);
        }
      }
    } finally {
      await c.close();
    }
  });

  it('restricts a run to the requested tenants', async () => {
    const c = open(legacyUrl, targetUrl);
    try {
      const r = await runReconciliation(manifestPlan('reconciliation-nokta.yaml'), c, {
        now: NOW,
        tenants: ['3'],
      });
      for (const check of r.checks)
        assert.ok(
          check.tenants.every((t) => t.tenant === '3'),
          check.name,
        );
    } finally {
      await c.close();
    }
  });

  it('runs the 90-day financial manifest with windows in the legacy zone (equal data passes, counts match SQL)', async () => {
    const c = open(cleanLegacyUrl, cleanTargetUrl);
    const pc = new pg.Client({ connectionString: cleanTargetUrl });
    await pc.connect();
    try {
      const r = await runReconciliation(manifestPlan('reconciliation-financial-90d.yaml'), c, { now: NOW });
      assert.equal(r.verdict, 'Passed', JSON.stringify(r.checks.map((x) => [x.name, x.verdict, x.error])));
      const cutoff = new Date(NOW.getTime() - 90 * 86_400_000);
      const n = (await pc.query('SELECT COUNT(*)::int AS n FROM orders WHERE created_at >= $1', [cutoff]))
        .rows[0] as { n: number };
      assert.ok(n.n > 0 && n.n < 4000);
      assert.equal(r.rowsCompared, n.n);
    } finally {
      await pc.end();
      await c.close();
    }
  });
});
