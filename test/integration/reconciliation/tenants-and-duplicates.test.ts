/**
 * Two known gaps, against real MariaDB and PostgreSQL:
 * - text tenants under a case-insensitive collation ('ACME' and 'acme' in a utf8mb4_general_ci
 *   column) are two tenants, counted, summed and localized apart;
 * - a key on several rows of one side (a fan-out join on the target) is reported as a duplicate
 *   of that side, not as a changed row.
 * The shared scans and the reference algorithm give the same result.
 */
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { planFromSpec } from '../../../src/reconciliation/plan.js';
import { runReconciliation, type RunOptions } from '../../../src/reconciliation/engine.js';
import type { CheckResult, RunResult } from '../../../src/reconciliation/result.js';
import { keySet, open } from './helpers.js';

const spec = {
  legacy: { engine: 'mysql' },
  target: { engine: 'postgres' },
  tenantColumn: 'tenant',
  checks: [
    { name: 'count', type: 'count', legacy: { table: 'ledger' }, target: { table: 'ledger' } },
    {
      name: 'sum',
      type: 'sum',
      legacy: { table: 'ledger' },
      target: { table: 'ledger' },
      columns: [{ name: 'amount', type: 'decimal', scale: 2 }],
    },
    {
      name: 'rows',
      type: 'rowHash',
      legacy: { table: 'ledger' },
      target: { table: 'ledger' },
      key: ['id'],
      columns: [
        { name: 'id', type: 'integer' },
        { name: 'amount', type: 'decimal', scale: 2 },
      ],
    },
    {
      name: 'lines',
      type: 'rowHash',
      legacy: { table: 'ledger' },
      target: {
        query: 'SELECT l.id, l.tenant, x.amount FROM ledger l JOIN ledger_lines x ON x.ledger_id = l.id',
      },
      key: ['id'],
      columns: [
        { name: 'id', type: 'integer' },
        { name: 'amount', type: 'decimal', scale: 2 },
      ],
    },
  ],
};

function lines(c: CheckResult | undefined): string[] {
  return (c?.tenants ?? []).map((t) => `${t.tenant}:${t.legacy}/${t.target}:${t.verdict}`);
}

describe('tenants under a case-insensitive collation, duplicate keys (MariaDB vs PostgreSQL)', function () {
  this.timeout(60_000);
  const dbs: TestDatabase[] = [];
  let legacyUrl: string;
  let targetUrl: string;

  const run = async (opts: RunOptions): Promise<RunResult> => {
    const c = open(legacyUrl, targetUrl);
    try {
      return await runReconciliation(planFromSpec(spec), c, opts);
    } finally {
      await c.close();
    }
  };

  before(async () => {
    const [l, t] = await Promise.all([createMysqlDatabase('recon_ci'), createPostgresDatabase('recon_ci')]);
    dbs.push(l, t);
    legacyUrl = l.url;
    targetUrl = t.url;
    const my = await mysql.createConnection(legacyUrl);
    try {
      await my.query(
        'CREATE TABLE ledger (id BIGINT PRIMARY KEY, tenant VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL, amount DECIMAL(12,2) NOT NULL, KEY ledger_tenant (tenant, id)) DEFAULT CHARSET=utf8mb4',
      );
      await my.query(
        "INSERT INTO ledger VALUES (1, 'ACME', 10.00), (2, 'ACME', 20.00), (3, 'acme', 5.00), (4, 'acme', 7.00), (5, 'Beta', 1.00)",
      );
    } finally {
      await my.end();
    }
    const pc = new pg.Client({ connectionString: targetUrl });
    await pc.connect();
    try {
      await pc.query(
        'CREATE TABLE ledger (id BIGINT PRIMARY KEY, tenant TEXT NOT NULL, amount NUMERIC(12,2) NOT NULL)',
      );
      await pc.query(
        "INSERT INTO ledger VALUES (1, 'ACME', 10.00), (2, 'ACME', 20.00), (3, 'acme', 5.00), (4, 'acme', 7.01), (5, 'Beta', 1.00)",
      );
      await pc.query(
        'CREATE TABLE ledger_lines (id BIGINT PRIMARY KEY, ledger_id BIGINT NOT NULL, amount NUMERIC(12,2) NOT NULL)',
      );
      // ledger 2 is split over two lines: the join fans out
      await pc.query(
        'INSERT INTO ledger_lines VALUES (1, 1, 10.00), (2, 2, 12.00), (3, 2, 8.00), (4, 3, 5.00), (5, 4, 7.00), (6, 5, 1.00)',
      );
    } finally {
      await pc.end();
    }
  });

  after(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('keeps ACME and acme apart in counts, sums and differing keys', async () => {
    const r = await run({});
    const by = (name: string): CheckResult | undefined => r.checks.find((c) => c.name === name);
    assert.deepEqual(lines(by('count')), ['ACME:2/2:Passed', 'Beta:1/1:Passed', 'acme:2/2:Passed']);
    assert.deepEqual(lines(by('sum')), [
      'ACME:30.00/30.00:Passed',
      'Beta:1.00/1.00:Passed',
      'acme:12.00/12.01:Passed',
    ]);
    assert.deepEqual(keySet(by('rows')?.differingKeys ?? []), ['acme/4/changed/amount']);
  });

  it('reports a key on two target rows as a duplicate of the target, with its row count', async () => {
    const r = await run({});
    const c = r.checks.find((x) => x.name === 'lines');
    assert.deepEqual(
      c?.differingKeys.map((k) => [k.tenant, k.key, k.kind, k.rows]),
      [['ACME', '2', 'duplicateInTarget', 2]],
    );
    assert.equal(c?.tenants.find((t) => t.tenant === 'ACME')?.differingRows, 1);
  });

  it('gives the same results as the reference algorithm', async () => {
    const [shared, reference] = [await run({}), await run({ sharedScans: false, declaredTypes: false })];
    assert.deepEqual(shared.checks, reference.checks);
  });
});
