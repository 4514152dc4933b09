/**
 * The reads that localize a differing tenant (segment checksums, key-range row fetches, column
 * comparison), on skewed data (50 tenants, zipf: the largest holds about a quarter of the rows)
 * with 40 differences bunched in the largest tenant and others spread over the rest:
 * - MariaDB answers each of them with a `range` access (or a primary-key lookup), never with a
 *   `ref` walk of every index entry of the tenant;
 * - PostgreSQL runs them without parallel workers (`{ serial: true }`: `SET LOCAL
 *   max_parallel_workers_per_gather = 0` in the statement's own read-only transaction);
 */
import assert from 'node:assert/strict';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { generateNokta } from '../../../src/devenv/nokta-data/generator.js';
import { runReconciliation, type RunOptions } from '../../../src/reconciliation/engine.js';
import type { RunResult } from '../../../src/reconciliation/result.js';
import { open, recordingConnection, skewPlan, type SentStatement } from './helpers.js';

const BASE = new Date('2026-03-01T00:00:00Z');
const NOW = new Date(BASE.getTime() + 150 * 86_400_000);

/** How a MariaDB localization read matches its tenant. */
const MYSQL_TENANT_RANGE = 'src.`tenant_id` >= ? AND src.`tenant_id` <= ?';

/** The index of the parameter a `?` right after `before` in the statement takes. */
function paramIndexAfter(sql: string, before: string): number {
  const at = sql.indexOf(`${before}?`);
  assert.ok(at >= 0, `no "${before}?" in: ${sql.slice(0, 200)}`);
  return (sql.slice(0, at + before.length).match(/\?/g) ?? []).length;
}

describe('localization reads on skewed data (MariaDB range access, PostgreSQL serial)', function () {
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
});
