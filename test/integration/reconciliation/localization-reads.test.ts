/**
 * The reads that localize a differing tenant (segment checksums, key-range row fetches, column
 * comparison), on skewed data (50 tenants, zipf: the largest holds about a quarter of the rows)
 * with 40 differences bunched in the largest tenant and others spread over the rest:
 * - MariaDB answers each of them with a `range` access (or a primary-key lookup), never with a
 *   `ref` walk of every index entry of the tenant;
 * - PostgreSQL runs them without parallel workers (`{ serial: true }`: `SET LOCAL
 *   max_parallel_workers_per_gather = 0` in the statement's own read-only transaction);
 * - the rows of differing key ranges are fetched in statements of about 1,000 rows (a large
 *   bucket split into key sub-ranges), which PostgreSQL answers with a nested loop over the
 *   joined table's index, and the keys and verdicts are the same as with one statement per 50
 *   ranges and as the reference algorithm's.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { generateNokta } from '../../../src/devenv/nokta-data/generator.js';
import { runReconciliation, type RunOptions } from '../../../src/reconciliation/engine.js';
import type { CheckResult, RunResult } from '../../../src/reconciliation/result.js';
import { keySet, open, recordingConnection, scanNodes, skewPlan, type SentStatement } from './helpers.js';

const BASE = new Date('2026-03-01T00:00:00Z');
const NOW = new Date(BASE.getTime() + 150 * 86_400_000);

/** How a MariaDB localization read matches its tenant. */
const MYSQL_TENANT_RANGE = 'src.`tenant_id` >= ? AND src.`tenant_id` <= ?';

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

/** A key-range row fetch of the orders row check on PostgreSQL (the orders ⋈ payments side). */
const isOrdersFetch = (s: SentStatement): boolean =>
  /^SELECT src\."id", /.test(s.sql) &&
  /FROM \(SELECT o\.id/.test(s.sql) &&
  / AND \(\(?src\."id" >= /.test(s.sql);

/** The join nodes of a JSON plan (Nested Loop, Hash Join, Merge Join). */
function joinNodes(plan: unknown, out: string[] = []): string[] {
  if (Array.isArray(plan)) for (const p of plan) joinNodes(p, out);
  else if (plan && typeof plan === 'object') {
    const o = plan as Record<string, unknown>;
    const type = String(o['Node Type']);
    if (/Nested Loop|Hash Join|Merge Join/.test(type)) out.push(type);
    for (const v of Object.values(o)) if (typeof v === 'object') joinNodes(v, out);
  }
  return out;
}

/** The index of the parameter a `?` right after `before` in the statement takes. */
function paramIndexAfter(sql: string, before: string): number {
  const at = sql.indexOf(`${before}?`);
  assert.ok(at >= 0, `no "${before}?" in: ${sql.slice(0, 200)}`);
  return (sql.slice(0, at + before.length).match(/\?/g) ?? []).length;
}

describe('localization reads on skewed data (MariaDB range access, PostgreSQL serial, chunked row fetches)', function () {
  this.timeout(300_000);
  const dbs: TestDatabase[] = [];
  let legacyUrl: string;
  let targetUrl: string;

  const run = async (
    opts: RunOptions,
    legacy?: SentStatement[],
    target?: SentStatement[],
  ): Promise<RunResult> => {
    const c = open(legacyUrl, targetUrl);
    try {
      const conns = {
        legacy: legacy ? recordingConnection(c.legacy, legacy) : c.legacy,
        target: target ? recordingConnection(c.target, target) : c.target,
      };
      const r = await runReconciliation(skewPlan(), conns, { now: NOW, ...opts });
      assert.notEqual(r.verdict, 'Error', r.error);
      return r;
    } finally {
      await c.close();
    }
  };

  before(async () => {
    const [l, t] = await Promise.all([
      createMysqlDatabase('recon_reads'),
      createPostgresDatabase('recon_reads'),
    ]);
    dbs.push(l, t);
    legacyUrl = l.url;
    targetUrl = t.url;
    // 100k orders: the largest tenant holds about 26,000 of them
    await generateNokta(legacyUrl, targetUrl, {
      scale: 100_000,
      tenants: 50,
      seed: 'reads',
      inject: true,
      spread: 'zipf',
      bunched: 40,
      baseDate: BASE,
    });
  });

  after(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('MariaDB: every localization read is a range access over (tenant, key), never a ref walk of the tenant', async () => {
    const sent: SentStatement[] = [];
    // bucket row fetches; buckets too large to fetch, bisected; the reference algorithm's
    // bisection from each differing tenant's whole key range
    for (const opts of [{}, { buckets: 4 }, { sharedScans: false, declaredTypes: false }])
      await run(opts, sent);
    const reads = sent.filter((s) => s.sql.includes(MYSQL_TENANT_RANGE));
    assert.ok(
      reads.some((s) => / AS seg, /.test(s.sql)),
      'segment checksums',
    );
    assert.ok(
      reads.some((s) => / OR /.test(s.sql)),
      'key-range row fetches',
    );
    assert.ok(
      reads.some((s) => / IN \(/.test(s.sql)),
      'column comparison by key',
    );
    const c = open(legacyUrl, targetUrl);
    try {
      let largestAsRef = 0;
      for (const s of reads) {
        const rows = await c.legacy.query(`EXPLAIN ${s.sql}`, s.params);
        // columns: id, select_type, table, type, possible_keys, key, key_len, ref, rows, Extra
        for (const r of rows)
          assert.ok(
            ['range', 'const', 'eq_ref'].includes(r[3] ?? ''),
            `${r[3]} access (key ${r[5]}) in: ${s.sql.slice(0, 300)}`,
          );
        // the same statement with `tenant = ?`, as it was written before
        const i = paramIndexAfter(s.sql, 'src.`tenant_id` >= ');
        const eq = s.sql.replace(MYSQL_TENANT_RANGE, 'src.`tenant_id` = ?');
        const params = [...s.params.slice(0, i), ...s.params.slice(i + 1)];
        const before = await c.legacy.query(`EXPLAIN ${eq}`, params);
        if (s.params[i] === '1' && before.some((r) => r[3] === 'ref')) largestAsRef++;
      }
      // why: written as `tenant = ?`, some reads of the largest tenant were a ref walk
      assert.ok(largestAsRef > 0, 'no read of the largest tenant was a ref access as `tenant = ?`');
    } finally {
      await c.close();
    }
  });

  it('PostgreSQL: a statement run with { serial: true } has no parallel workers, only for itself', async () => {
    const c = open(legacyUrl, targetUrl);
    try {
      const setting = "SELECT current_setting('max_parallel_workers_per_gather')";
      const plain = async (): Promise<string | null | undefined> => (await c.target.query(setting))[0]?.[0];
      const server = await plain();
      assert.notEqual(server, '0', 'the server allows parallel workers');
      assert.deepEqual(await c.target.query(setting, [], { serial: true }), [['0']]);
      // every pooled session, after serial statements: the setting ended with their transactions
      await Promise.all([1, 2, 3, 4].map(() => c.target.query(setting, [], { serial: true })));
      const after = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(() => plain()));
      assert.deepEqual(new Set(after), new Set([server]));
      // still read-only
      await assert.rejects(
        c.target.query('SELECT 1 FROM orders FOR UPDATE', [], { serial: true }),
        /read-only transaction/,
      );
      // MariaDB statements run in one thread anyway: the option is accepted and changes nothing
      assert.deepEqual(await c.legacy.query('SELECT 1', [], { serial: true }), [['1']]);
    } finally {
      await c.close();
    }
  });

  it('the engine sends its PostgreSQL localization reads serial, its passes as the planner likes', async () => {
    const sent: SentStatement[] = [];
    await run({ buckets: 4 }, undefined, sent);
    const reads = sent.filter((s) => /src\."tenant_id" = \$\d+/.test(s.sql));
    assert.ok(reads.length >= 10, `only ${reads.length} localization reads`);
    for (const s of reads) assert.equal(s.opts?.serial, true, s.sql.slice(0, 200));
    const passes = sent.filter((s) => /GROUP BY 1, 2$/.test(s.sql));
    assert.ok(passes.length > 0);
    for (const s of passes) assert.notEqual(s.opts?.serial, true, s.sql.slice(0, 200));
  });

  it('fetches differing key ranges in small statements, each a nested loop over the join index', async () => {
    const chunked: SentStatement[] = [];
    const whole: SentStatement[] = [];
    // buckets of about 1,000 rows of the largest tenant; statements of about 100 rows: at 100k
    // orders, what 1,000 rows are at 1M (a thousandth of the joined table; PostgreSQL chose a
    // hash join for 1,000 of 100,000, a nested loop for 1,000 of 1M)
    await run({ buckets: 25, fetchRows: 100 }, undefined, chunked);
    await run({ buckets: 25, fetchRows: 1_000_000 }, undefined, whole);
    const largest = (list: SentStatement[]): SentStatement[] =>
      list.filter((s) => isOrdersFetch(s) && s.params.includes('1'));
    assert.ok(largest(whole).length >= 1, 'no row fetch of the largest tenant');
    assert.ok(
      largest(chunked).length >= 2 * largest(whole).length,
      `${largest(chunked).length} statements chunked, ${largest(whole).length} whole`,
    );
    const explainer = new pg.Client({ connectionString: targetUrl });
    await explainer.connect();
    try {
      // the plan each statement runs with: serial, as the engine sends it
      const joins = async (s: SentStatement): Promise<string[]> => {
        await explainer.query('BEGIN READ ONLY');
        await explainer.query('SET LOCAL max_parallel_workers_per_gather = 0');
        const res = await explainer.query<{ 'QUERY PLAN': unknown }>(
          `EXPLAIN (FORMAT JSON) ${s.sql}`,
          s.params,
        );
        await explainer.query('ROLLBACK');
        const plan = res.rows[0]?.['QUERY PLAN'];
        const payments = scanNodes(plan).filter((x) => x.relation === 'order_payments');
        assert.equal(payments.length, 1);
        return [...joinNodes(plan), ...payments.map((x) => x.node)];
      };
      for (const s of largest(chunked)) {
        const nodes = await joins(s);
        assert.deepEqual(
          nodes,
          ['Nested Loop', 'Index Scan'],
          `${nodes.join(', ')} in: ${s.sql.slice(0, 300)}`,
        );
      }
      // why: in one statement, the largest tenant's ranges were a hash join over every payment
      const before = await Promise.all(largest(whole).map(joins));
      assert.ok(
        before.some((nodes) => nodes.includes('Hash Join') && nodes.includes('Seq Scan')),
        before.map((n) => n.join(', ')).join('; '),
      );
    } finally {
      await explainer.end();
    }
  });

  it('gives the same keys and verdicts chunked, in one statement per 50 ranges and by the reference algorithm', async () => {
    const chunked = await run({});
    for (const opts of [
      { fetchRows: 1_000_000 },
      { fetchRows: 50 },
      { buckets: 25, fetchRows: 300 },
      { buckets: 1 },
      { sharedScans: false, declaredTypes: false },
    ] as RunOptions[]) {
      const other = await run(opts);
      assert.equal(other.verdict, chunked.verdict, JSON.stringify(opts));
      assert.deepEqual(other.checks.map(comparable), chunked.checks.map(comparable), JSON.stringify(opts));
    }
    const rows = chunked.checks.find((c) => c.name === 'orders-rows');
    const tenants = new Set(rows?.differingKeys.map((k) => k.tenant));
    assert.ok((rows?.differingKeys.filter((k) => k.tenant === '1').length ?? 0) >= 40, 'bunched in tenant 1');
    assert.ok(tenants.size >= 4, `keys in ${tenants.size} tenants only`);
  });
});
