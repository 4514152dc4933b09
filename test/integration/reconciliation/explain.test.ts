/**
 * Every statement the engine sends, checked by the servers' own EXPLAIN: the skewed Nokta data
 * with bunched differences is reconciled with every check type (table and query sides, shared
 * scans with buckets, bisection of large buckets, the reference algorithm with hash-prefix and
 * key-range bisection, row fetches, column comparison, samples), each statement is recorded as
 * it goes to the database, then explained on that database:
 * - MariaDB: no `type: index` walk that fetches each row by primary key (an index scan is only
 *   allowed when it covers the statement, `Using index`);
 * - PostgreSQL: no plan that reads the same table twice; a bucketed pass computes its per-row
 *   expressions (row hash, summed columns) below the (tenant, bucket) grouping, so a sort there
 *   carries those few numbers per row, never the rows' columns.
 * Folded query sides (fold.ts) are among them. The checks' own customSql statements are the user's and are not judged; the lookups of declared
 * column types read information_schema (the catalog, not the data) and are left out too.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { generateNokta } from '../../../src/devenv/nokta-data/generator.js';
import { runReconciliation, type RunOptions } from '../../../src/reconciliation/engine.js';
import { foldPlan, open, recordingConnection, scanNodes, skewPlan } from './helpers.js';

const BASE = new Date('2026-03-01T00:00:00Z');
const NOW = new Date(BASE.getTime() + 150 * 86_400_000);

interface Statement {
  sql: string;
  params: unknown[];
}

/** A statement's shape: the SQL without its literal numbers (bucket bounds, widths). */
function shape(sql: string): string {
  return sql.replace(/-?\d+/g, 'N');
}

/** Every node of a JSON plan of the given type. */
function nodesOf(plan: unknown, type: string, out: Record<string, unknown>[] = []): typeof out {
  if (Array.isArray(plan)) for (const p of plan) nodesOf(p, type, out);
  else if (plan && typeof plan === 'object') {
    const o = plan as Record<string, unknown>;
    if (o['Node Type'] === type) out.push(o);
    for (const v of Object.values(o)) if (typeof v === 'object') nodesOf(v, type, out);
  }
  return out;
}

describe('EXPLAIN of every statement the engine sends (MariaDB and PostgreSQL)', function () {
  this.timeout(180_000);
  const dbs: TestDatabase[] = [];
  const legacy: Statement[] = [];
  const target: Statement[] = [];
  let c: ReturnType<typeof open>;
  let targetUrl: string;

  before(async () => {
    const [l, t] = await Promise.all([
      createMysqlDatabase('recon_explain'),
      createPostgresDatabase('recon_explain'),
    ]);
    dbs.push(l, t);
    targetUrl = t.url;
    await generateNokta(l.url, t.url, {
      scale: 20_000,
      tenants: 50,
      seed: 'explain',
      inject: true,
      spread: 'zipf',
      bunched: 40,
      baseDate: BASE,
    });
    c = open(l.url, t.url);
    const conns = {
      legacy: recordingConnection(c.legacy, legacy),
      target: recordingConnection(c.target, target),
    };
    const runs: RunOptions[] = [{}, { buckets: 1 }, { sharedScans: false, declaredTypes: false }];
    for (const opts of runs) {
      const r = await runReconciliation(skewPlan(), conns, { now: NOW, ...opts });
      assert.notEqual(r.verdict, 'Error', r.error);
    }
    // query sides folded into the table scan, and their localization with the predicate in WHERE
    const folded = await runReconciliation(foldPlan(), conns, { now: NOW });
    assert.notEqual(folded.verdict, 'Error', folded.error);
  });

  after(async () => {
    await c.close();
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('sends statements of every kind (scan, bucket bisection, row fetch, column comparison, sample)', () => {
    const all = [...legacy, ...target].map((s) => s.sql);
    assert.ok(
      all.some((s) => /GROUP BY 1, 2/.test(s)),
      'a bucketed scan',
    );
    assert.ok(
      all.some((s) => /MIN\(.*MAX\(/.test(s)),
      'key bounds or key ranges',
    );
    assert.ok(
      all.some((s) => /ROW_NUMBER\(\)/.test(s)),
      'a sample draw',
    );
    assert.ok(
      all.some((s) => / OR /.test(s) || / >= .* <= /.test(s)),
      'a key-range row fetch',
    );
    assert.ok(
      legacy.some((s) => s.sql.includes("CASE WHEN (status = 'paid') THEN")) &&
        target.some((s) => s.sql.includes("CASE WHEN (status = 'paid' AND id > 0) THEN")),
      'a pass with a folded query side on each engine',
    );
    assert.ok(
      legacy.some((s) => s.sql.includes("WHERE (status = 'paid')") && !/GROUP BY 1/.test(s.sql)),
      'a folded side localized with its predicate',
    );
  });

  it('MariaDB: no statement walks an index with a primary-key fetch per row', async () => {
    const seen = new Map<string, Statement>();
    for (const s of legacy)
      if (!/^SELECT 1$|CONVERT_TZ\('2020|information_schema/.test(s.sql)) seen.set(shape(s.sql), s);
    assert.ok(seen.size >= 8, `only ${seen.size} statement shapes`);
    for (const s of seen.values()) {
      const rows = await c.legacy.query(`EXPLAIN ${s.sql}`, s.params);
      // columns: id, select_type, table, type, possible_keys, key, key_len, ref, rows, Extra
      for (const r of rows) {
        const type = r[3];
        const extra = r[9] ?? '';
        assert.ok(
          type !== 'index' || extra.includes('Using index'),
          `index walk (${r[2]}, key ${r[5]}, ${extra}) in: ${s.sql.slice(0, 300)}`,
        );
      }
    }
  });

  it('PostgreSQL: no statement reads the same table twice', async () => {
    const seen = new Map<string, Statement>();
    for (const s of target) if (!/^SELECT 1$|information_schema/.test(s.sql)) seen.set(shape(s.sql), s);
    assert.ok(seen.size >= 8, `only ${seen.size} statement shapes`);
    const explainer = new pg.Client({ connectionString: targetUrl });
    await explainer.connect();
    try {
      for (const s of seen.values()) {
        // the engine's connection runs only SELECTs: EXPLAIN goes through a plain client
        const res = await explainer.query<{ 'QUERY PLAN': unknown }>(
          `EXPLAIN (FORMAT JSON) ${s.sql}`,
          s.params,
        );
        const scans = scanNodes(res.rows[0]?.['QUERY PLAN']);
        const relations = scans.map((x) => x.relation);
        assert.equal(
          new Set(relations).size,
          relations.length,
          `a table read twice (${scans.map((x) => `${x.node} ${x.relation}`).join(', ')}) in: ${s.sql.slice(0, 300)}`,
        );
      }
    } finally {
      await explainer.end();
    }
  });

  it('PostgreSQL: a bucketed pass groups narrow rows (its row hash and sums computed below the grouping)', async () => {
    const passes = new Map<string, Statement>();
    for (const s of target) if (/GROUP BY 1, 2$/.test(s.sql)) passes.set(shape(s.sql), s);
    assert.ok(passes.size >= 3, `only ${passes.size} bucketed pass shapes`);
    const explainer = new pg.Client({ connectionString: targetUrl });
    await explainer.connect();
    try {
      for (const s of passes.values()) {
        assert.match(
          s.sql,
          /^SELECT t, b, COUNT\(\*\), .* FROM \(SELECT .* OFFSET 0\) AS pass GROUP BY 1, 2$/,
        );
        // the statement's columns after tenant, bucket and COUNT(*): one per aggregate
        const aggregates = (s.sql.match(/ AS a\d+\b/g) ?? []).length;
        for (const sorted of [false, true]) {
          // the planner's own choice, and a sort forced where it would hash: both stay narrow
          await explainer.query(`SET enable_hashagg = ${sorted ? 'off' : 'on'}`);
          const res = await explainer.query<{ 'QUERY PLAN': unknown }>(
            `EXPLAIN (FORMAT JSON, VERBOSE) ${s.sql}`,
            s.params,
          );
          for (const sort of nodesOf(res.rows[0]?.['QUERY PLAN'], 'Sort')) {
            const output = (sort['Output'] as string[] | undefined) ?? [];
            assert.ok(
              output.length <= 2 + aggregates,
              `a sort of ${output.length} columns per row (${output.join(', ').slice(0, 200)}) in: ${s.sql.slice(0, 300)}`,
            );
          }
        }
      }
    } finally {
      await explainer.end();
    }
  });
});
