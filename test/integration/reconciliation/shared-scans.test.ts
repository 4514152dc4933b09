/**
 * Shared scans with key-range buckets and casts by declared type against the reference
 * algorithm (one scan per check, bisection over the whole key range, full casts), on real-shaped data: 50 tenants with a zipf spread (the
 * largest holds about a quarter of the rows), one-to-many joins and query sides, 40 differences
 * bunched in the largest tenant plus the spread ones, and an extra key below every legacy key.
 * Both must give the same verdicts, tenant lines and differing keys, and find every injection.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { generateNokta, type GenerateResult } from '../../../src/devenv/nokta-data/generator.js';
import { runReconciliation, type RunOptions } from '../../../src/reconciliation/engine.js';
import { planFromSpec } from '../../../src/reconciliation/plan.js';
import type { CheckResult, RunResult } from '../../../src/reconciliation/result.js';
import { keySet, open, skewPlan } from './helpers.js';

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

describe('shared scans with key-range buckets on skewed data (MariaDB vs PostgreSQL)', function () {
  this.timeout(120_000);
  const dbs: TestDatabase[] = [];
  let gen: GenerateResult;
  let legacyUrl: string;
  let targetUrl: string;

  const run = async (opts: RunOptions): Promise<RunResult> => {
    const c = open(legacyUrl, targetUrl);
    try {
      return await runReconciliation(skewPlan(), c, { now: NOW, ...opts });
    } finally {
      await c.close();
    }
  };

  before(async () => {
    const [l, t] = await Promise.all([
      createMysqlDatabase('recon_skew'),
      createPostgresDatabase('recon_skew'),
    ]);
    dbs.push(l, t);
    legacyUrl = l.url;
    targetUrl = t.url;
    gen = await generateNokta(legacyUrl, targetUrl, {
      scale: 20_000,
      tenants: 50,
      seed: 'skew',
      inject: true,
      spread: 'zipf',
      bunched: 40,
      baseDate: BASE,
    });
    // an order only the target has, with a key below every legacy key
    const pc = new pg.Client({ connectionString: targetUrl });
    await pc.connect();
    try {
      await pc.query(
        `INSERT INTO orders (id, tenant_id, order_no, customer_id, status, subtotal, tax, discount, total, created_at)
         VALUES (-7, 3, 'PO-NEG', 1, 'paid', 10.00, 1.80, 0, 11.80, TIMESTAMPTZ '2026-04-01 00:00:00+00')`,
      );
    } finally {
      await pc.end();
    }
  });

  after(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('finds every injected key, bunched and spread, with its tenant, and the key below the range', async () => {
    const r = await run({});
    const rows = r.checks.find((c) => c.name === 'orders-rows');
    const found = new Set(keySet(rows?.differingKeys ?? []).map((k) => k.split('/').slice(0, 3).join('/')));
    const expected = gen.injections
      .filter((i) => i.family === 'pos_orders')
      .flatMap((i) => i.expected.map((k) => `${k.tenant}/${k.key}/${k.kind}`));
    assert.equal(
      expected.filter((k) => k.startsWith('1/')).length >= 40,
      true,
      'the bunched tenant is tenant 1',
    );
    for (const k of [...expected, '3/-7/extra']) assert.ok(found.has(k), `${k} not found`);
    assert.equal(found.size, expected.length + 1, `unexpected keys: ${[...found].join(' ')}`);
  });

  it('gives the same verdicts, tenant lines and keys as the reference algorithm (full casts)', async () => {
    const [shared, reference] = [await run({}), await run({ sharedScans: false, declaredTypes: false })];
    assert.equal(shared.verdict, reference.verdict);
    assert.deepEqual(shared.checks.map(comparable), reference.checks.map(comparable));
  });

  it('a truncated key list is the one a tenant-by-tenant localization gives (tenants are localized at once)', async () => {
    const rowsOf = (r: RunResult): CheckResult | undefined => r.checks.find((c) => c.name === 'orders-rows');
    const full = rowsOf(await run({}));
    const all = full?.differingKeys ?? [];
    assert.equal(full?.differingKeysTruncated ?? false, false);
    const tenantsOf = (keys: typeof all): string[] => [...new Set(keys.map((k) => k.tenant))];
    assert.ok(tenantsOf(all).length >= 3, `keys in ${tenantsOf(all).length} tenants only`);
    const byTenant = new Map(
      tenantsOf(all).map((tn) => [tn, new Set(keySet(all.filter((k) => k.tenant === tn)))]),
    );
    const largest = Math.max(...[...byTenant.values()].map((k) => k.size));
    for (const max of [1, 2, largest, largest + 1, all.length - 1]) {
      const cut = rowsOf(await run({ maxDifferingKeys: max }));
      const again = rowsOf(await run({ maxDifferingKeys: max }));
      const keys = cut?.differingKeys ?? [];
      assert.equal(cut?.differingKeysTruncated, true, `max ${max}: not marked truncated`);
      assert.equal(keys.length, max, `max ${max}: ${keys.length} keys`);
      assert.deepEqual(keySet(again?.differingKeys ?? []), keySet(keys), `max ${max}: not the same twice`);
      // tenant by tenant: every tenant reported has all its keys, but the one the limit cut short
      let partial = 0;
      for (const tn of tenantsOf(keys)) {
        const got = keySet(keys.filter((k) => k.tenant === tn));
        for (const k of got) assert.ok(byTenant.get(tn)?.has(k), `max ${max}: ${k} is not a differing key`);
        if (got.length < (byTenant.get(tn)?.size ?? 0)) partial++;
      }
      assert.ok(partial <= 1, `max ${max}: ${partial} tenants cut short`);
    }
  });

  it('gives the same results when large passes are split into concurrent key ranges', async () => {
    // every bucketed pass split, into 3 ranges: the first holds the keys below the layout
    const [split, reference] = [
      await run({ splitKeys: 1, splitParts: 3 }),
      await run({ sharedScans: false, declaredTypes: false }),
    ];
    assert.equal(split.verdict, reference.verdict);
    assert.deepEqual(split.checks.map(comparable), reference.checks.map(comparable));
  });

  it('a window with both ends (or ending at the Cutover freeze) counts only the rows inside it', async () => {
    const from = new Date(BASE.getTime() + 30 * 86_400_000);
    const until = new Date(BASE.getTime() + 60 * 86_400_000);
    const spec = (window: Record<string, unknown>): unknown => ({
      legacy: { engine: 'mysql' },
      target: { engine: 'postgres' },
      window: { column: 'created_at', legacyTimeZone: '+03:00', ...window },
      checks: [
        { name: 'orders-count', type: 'count', legacy: { table: 'pos_orders' }, target: { table: 'orders' } },
      ],
    });
    const pc = new pg.Client({ connectionString: targetUrl });
    await pc.connect();
    let expected: string[];
    try {
      const rows = await pc.query<{ t: string; n: string }>(
        'SELECT tenant_id::text AS t, COUNT(*)::text AS n FROM orders WHERE created_at >= $1 AND created_at < $2 GROUP BY 1',
        [from, until],
      );
      expected = rows.rows.map((r) => `${r.t}:${r.n}`).sort();
    } finally {
      await pc.end();
    }
    const c = open(legacyUrl, targetUrl);
    try {
      const both = await runReconciliation(
        planFromSpec(spec({ from: from.toISOString(), until: until.toISOString() })),
        c,
        { now: NOW },
      );
      const frozen = await runReconciliation(
        planFromSpec(spec({ last: '30d', until: 'frozenAt', cutoverRef: { name: 'nokta' } })),
        c,
        { now: NOW, frozenAt: until },
      );
      for (const r of [both, frozen]) {
        const targets = r.checks[0]?.tenants.map((t) => `${t.tenant}:${t.target}`).sort();
        assert.deepEqual(
          targets?.filter((x) => !x.endsWith(':0')),
          expected,
        );
      }
      const early = await runReconciliation(
        planFromSpec(spec({ last: '30d', until: 'frozenAt', cutoverRef: { name: 'nokta' } })),
        c,
        { now: NOW },
      );
      assert.equal(early.verdict, 'Error');
      assert.match(early.error ?? '', /Cutover nokta has not frozen legacy writes yet/);
    } finally {
      await c.close();
    }
  });

  it('gives the same result when buckets are too large to fetch and are bisected first', async () => {
    // one bucket: the largest tenant's differing bucket holds ~5,000 rows, above the fetch limit
    const [one, reference] = [
      await run({ buckets: 1 }),
      await run({ sharedScans: false, declaredTypes: false }),
    ];
    assert.deepEqual(one.checks.map(comparable), reference.checks.map(comparable));
  });
});
