/**
 * Canonical values across engines (benign vs real differences) and bad input: missing table,
 * wrong column, wrong credentials, a database that is down or goes away mid-run, a query that
 * tries to write. Every failure is Error with a clear reason, never Passed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { stringify } from 'yaml';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { planFromSpec, PlanError, type ReconciliationPlan } from '../../../src/reconciliation/plan.js';

interface CheckSpec {
  customSql?: { legacy: string; target: string };
  target?: { query?: string };
}
import { runReconciliation } from '../../../src/reconciliation/engine.js';
import { keySet, open } from './helpers.js';

const LEGACY_DDL = [
  `CREATE TABLE pay (id INT PRIMARY KEY, tenant_id VARCHAR(10) NOT NULL, amount DECIMAL(12,2), name VARCHAR(40), email VARCHAR(80), note VARCHAR(20), paid_at DATETIME(3), ok TINYINT(1))`,
  `INSERT INTO pay VALUES
    (1, 'acme', 10.50, 'Alice   ', 'A@X.COM', '', '2026-05-01 03:00:00.125', 1),
    (2, 'acme', 20.00, 'Bob', 'b@x.com', NULL, '2026-05-01 12:00:00.000', 0),
    (3, 'acme', 30.00, 'Carol', 'c@x.com', 'n', '2026-05-02 00:30:00.000', 1),
    (4, 'beta', 40.00, 'Dan', 'd@x.com', '', '2026-05-03 10:00:00.000', NULL),
    (5, 'beta', 50.00, 'Émile ğüş', 'e@x.com', 'x', '2026-05-03 11:00:00.000', 1),
    (6, 'beta', 60.00, 'Fay', 'f@x.com', 'y', '2026-05-03 12:00:00.000', 1)`,
];
const TARGET_DDL = [
  `CREATE TABLE pay (id INT PRIMARY KEY, tenant_id TEXT NOT NULL, amount NUMERIC(14,4), name TEXT, email TEXT, note TEXT, paid_at TIMESTAMPTZ, ok BOOLEAN)`,
  // 1: 10.5000 vs 10.50, trailing blanks, e-mail case (mapped lower), same instant (+03:00 → UTC): all benign
  // 2: '' vs NULL note → real; 3: one hour shift → real; 4: NULL boolean both → equal
  // 5: 50.01 → real; 6: equal
  `INSERT INTO pay VALUES
    (1, 'acme', 10.5000, 'Alice', 'a@x.com', '', '2026-05-01 00:00:00.125+00', true),
    (2, 'acme', 20.00, 'Bob', 'b@x.com', '', '2026-05-01 09:00:00+00', false),
    (3, 'acme', 30.00, 'Carol', 'c@x.com', 'n', '2026-05-01 22:30:00+00', true),
    (4, 'beta', 40.00, 'Dan', 'd@x.com', '', '2026-05-03 07:00:00+00', NULL),
    (5, 'beta', 50.01, 'Émile ğüş', 'e@x.com', 'x', '2026-05-03 08:00:00+00', true),
    (6, 'beta', 60.00, 'Fay', 'f@x.com', 'y', '2026-05-03 09:00:00+00', true)`,
];

const columns = [
  { name: 'id', type: 'integer' },
  { name: 'amount', type: 'decimal', scale: 2 },
  { name: 'name', type: 'text' },
  { name: 'email', type: 'text', transforms: ['lower'] },
  { name: 'note', type: 'text' },
  { name: 'paid_at', type: 'timestamp', legacyTimeZone: '+03:00', precision: 3 },
  { name: 'ok', type: 'boolean' },
];

function spec(checks: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    legacy: { engine: 'mysql', secretRef: { name: 'l' } },
    target: { engine: 'postgres', secretRef: { name: 't' } },
    thresholds: { remediatePercent: 0.5, failPercent: 1 },
    statementTimeoutSeconds: 20,
    checks,
    ...extra,
  };
}

const rowHash = {
  name: 'pay-rows',
  type: 'rowHash',
  legacy: { table: 'pay' },
  target: { table: 'pay' },
  key: ['id'],
  columns,
};

describe('reconciliation canonical values and bad input (MariaDB vs PostgreSQL)', function () {
  this.timeout(60_000);
  let l: TestDatabase;
  let t: TestDatabase;

  before(async () => {
    [l, t] = await Promise.all([createMysqlDatabase('recon_canon'), createPostgresDatabase('recon_canon')]);
    const my = await mysql.createConnection(l.url);
    for (const s of LEGACY_DDL) await my.query(s);
    await my.end();
    const pc = new pg.Client({ connectionString: t.url });
    await pc.connect();
    for (const s of TARGET_DDL) await pc.query(s);
    await pc.end();
  });

  after(async () => {
    await Promise.all([l?.drop(), t?.drop()]);
  });

  it('treats 10.5/10.50, trailing blanks, mapped case and the same instant as equal; NULL vs empty, 0.01 and one hour as differences', async () => {
    const c = open(l.url, t.url);
    try {
      const r = await runReconciliation(planFromSpec(spec([rowHash])), c);
      const check = r.checks[0];
      assert.equal(check?.error, undefined);
      assert.deepEqual(
        keySet(check?.differingKeys ?? []),
        keySet([
          { tenant: 'acme', key: '2', kind: 'changed', columns: ['note'] },
          { tenant: 'acme', key: '3', kind: 'changed', columns: ['paid_at'] },
          { tenant: 'beta', key: '5', kind: 'changed', columns: ['amount'] },
        ]),
      );
      assert.equal(check?.tenants.find((x) => x.tenant === 'acme')?.variancePercent, 66.666667);
      assert.equal(check?.verdict, 'Failed');
    } finally {
      await c.close();
    }
  });

  it('localizes with text keys through MD5-prefix buckets too', async () => {
    const textKey = {
      ...rowHash,
      name: 'by-text-key',
      columns: columns.filter((x) => x.name !== 'id').concat([{ name: 'id', type: 'text' }]),
    };
    const c = open(l.url, t.url);
    try {
      const r = await runReconciliation(planFromSpec(spec([textKey])), c, { leafRows: 1, segments: 2 });
      assert.deepEqual(
        keySet(r.checks[0]?.differingKeys ?? []).map((k) => k.split('/').slice(0, 3).join('/')),
        ['acme/2/changed', 'acme/3/changed', 'beta/5/changed'],
      );
    } finally {
      await c.close();
    }
  });

  const expectError = async (
    s: Record<string, unknown>,
    pattern: RegExp,
    urls?: { legacy?: string; target?: string },
  ): Promise<void> => {
    const c = open(urls?.legacy ?? l.url, urls?.target ?? t.url, planFromSpec(s).statementTimeoutSeconds);
    try {
      const r = await runReconciliation(planFromSpec(s), c);
      assert.equal(r.verdict, 'Error');
      assert.match(r.error ?? '', pattern);
      assert.ok(r.checks.every((x) => x.verdict === 'Error' || x.verdict === 'Passed'));
      assert.ok(r.checks.some((x) => x.verdict === 'Error'));
    } finally {
      await c.close();
    }
  };

  const expectPlanError = async (plan: ReconciliationPlan, pattern: RegExp): Promise<void> => {
    const c = open(l.url, t.url, plan.statementTimeoutSeconds);
    try {
      const r = await runReconciliation(plan, c);
      assert.equal(r.verdict, 'Error');
      assert.match(r.error ?? '', pattern);
    } finally {
      await c.close();
    }
  };

  it('missing table → Error naming it', async () => {
    await expectError(
      spec([{ name: 'c', type: 'count', legacy: { table: 'no_such_table' }, target: { table: 'pay' } }]),
      /no_such_table/,
    );
    await expectError(
      spec([{ name: 'c', type: 'count', legacy: { table: 'pay' }, target: { table: 'no_such_table' } }]),
      /no_such_table.*does not exist/,
    );
  });

  it('wrong column → Error naming it', async () => {
    await expectError(spec([{ ...rowHash, columns: [...columns, { name: 'nope', type: 'text' }] }]), /nope/);
  });

  it('wrong password / unknown user → Error, and the password never appears', async () => {
    const bad = new URL(l.url);
    bad.password = 'S3cretPassw0rd';
    const c = open(bad.toString(), t.url);
    try {
      const r = await runReconciliation(planFromSpec(spec([rowHash])), c);
      assert.equal(r.verdict, 'Error');
      assert.match(r.error ?? '', /Access denied/);
      assert.doesNotMatch(JSON.stringify(r), /S3cretPassw0rd/);
    } finally {
      await c.close();
    }
    const badPg = new URL(t.url);
    badPg.username = 'no_such_role';
    badPg.password = 'S3cretPassw0rd';
    await expectError(spec([rowHash]), /no_such_role/, { target: badPg.toString() });
  });

  it('database down (nothing listening) → Error', async () => {
    await expectError(spec([rowHash]), /ECONNREFUSED|connect/, { legacy: 'mysql://root@127.0.0.1:1/x' });
    await expectError(spec([rowHash]), /ECONNREFUSED|connect/, {
      target: 'postgres://postgres@127.0.0.1:1/x',
    });
  });

  it('connection killed mid-run → Error, never Passed', async () => {
    const slow = (side: 'pg' | 'my'): Record<string, unknown> =>
      spec([
        {
          name: 'slow',
          type: 'customSql',
          customSql: {
            legacy: side === 'my' ? "SELECT 'acme', SLEEP(5)" : "SELECT 'acme', 0",
            target: side === 'pg' ? "SELECT 'acme', 0 FROM pg_sleep(5)" : "SELECT 'acme', 0",
          },
        },
      ]);
    const killer = async (side: 'pg' | 'my'): Promise<void> => {
      await new Promise((r) => setTimeout(r, 1000));
      if (side === 'pg') {
        const pc = new pg.Client({ connectionString: t.url });
        await pc.connect();
        await pc.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' AND pid <> pg_backend_pid()",
        );
        await pc.end();
      } else {
        const my = await mysql.createConnection(l.url);
        const [rows] = await my.query(
          "SELECT id FROM information_schema.processlist WHERE info LIKE '%SLEEP(5)%' AND id <> CONNECTION_ID()",
        );
        for (const row of rows as { id: number }[]) await my.query(`KILL ${row.id}`);
        await my.end();
      }
    };
    for (const side of ['pg', 'my'] as const) {
      const c = open(l.url, t.url);
      try {
        const started = Date.now();
        const [r] = await Promise.all([runReconciliation(planFromSpec(slow(side)), c), killer(side)]);
        assert.equal(r.verdict, 'Error', side);
        assert.match(r.error ?? '', side === 'pg' ? /terminat/i : /closed|lost|killed|interrupted|PROTOCOL/i);
        assert.ok(Date.now() - started < 4900, 'the run ended when the connection was killed');
      } finally {
        await c.close();
      }
    }
  });

  it('statement timeout stops a long query → Error', async () => {
    const s = spec(
      [
        {
          name: 'slow',
          type: 'customSql',
          customSql: { legacy: "SELECT 'acme', 1", target: "SELECT 'acme', 1 FROM pg_sleep(3)" },
        },
      ],
      { statementTimeoutSeconds: 1 },
    );
    await expectError(s, /statement timeout/);
    const m = spec(
      [
        {
          name: 'slow',
          type: 'customSql',
          customSql: { legacy: "SELECT 'acme', SLEEP(3)", target: "SELECT 'acme', 1" },
        },
      ],
      { statementTimeoutSeconds: 1 },
    );
    await expectError(m, /max_statement_time|interrupted|timeout/i);
  });

  it('a query that tries to write is refused by the SQL guard, and with the guard bypassed fails in the read-only transaction; nothing is written', async () => {
    const writers: { spec: Record<string, unknown>; field: string; error: RegExp }[] = [
      {
        spec: spec([
          {
            name: 'w',
            type: 'customSql',
            customSql: { legacy: 'DELETE FROM pay', target: "SELECT 'acme', 1" },
          },
        ]),
        field: "spec.checks[0].customSql.legacy: refused 'DELETE'",
        error: /READ ONLY/i,
      },
      {
        spec: spec([
          {
            name: 'w',
            type: 'customSql',
            customSql: {
              legacy: "SELECT 'acme', 1",
              target: 'WITH d AS (DELETE FROM pay RETURNING tenant_id) SELECT tenant_id, 1 FROM d',
            },
          },
        ]),
        field: "spec.checks[0].customSql.target: refused 'DELETE'",
        error: /read-only transaction/,
      },
      {
        spec: spec([
          {
            name: 'q',
            type: 'count',
            legacy: { table: 'pay' },
            target: { query: 'WITH d AS (DELETE FROM pay RETURNING tenant_id) SELECT tenant_id FROM d' },
          },
        ]),
        field: "spec.checks[0].target.query: refused 'DELETE'",
        error: /read-only|syntax|WITH/i,
      },
    ];
    for (const w of writers) {
      assert.throws(
        () => planFromSpec(w.spec),
        (e: unknown) => e instanceof PlanError && e.problems.some((p) => p.startsWith(w.field)),
      );
      // the plan as if the guard had missed the query: the read-only transaction stops it
      const checks = (w.spec.checks as Record<string, unknown>[]).map((c) => ({
        ...c,
        ...(c.customSql ? { customSql: { legacy: "SELECT 'acme', 1", target: "SELECT 'acme', 1" } } : {}),
        ...(c.legacy ? { target: { table: 'pay' } } : {}),
      }));
      const plan = planFromSpec({ ...w.spec, checks });
      const original = (w.spec.checks as CheckSpec[])[0]!;
      if (original.customSql) plan.checks[0]!.customSql = original.customSql;
      if (original.target?.query)
        plan.checks[0]!.target = { query: original.target.query, tenantColumn: 'tenant_id' };
      await expectPlanError(plan, w.error);
    }
    const my = await mysql.createConnection(l.url);
    const [rows] = await my.query('SELECT COUNT(*) AS n FROM pay');
    await my.end();
    assert.equal((rows as { n: number }[])[0]?.n, 6);
    const pc = new pg.Client({ connectionString: t.url });
    await pc.connect();
    const n = (await pc.query('SELECT COUNT(*)::int AS n FROM pay')).rows[0] as { n: number };
    await pc.end();
    assert.equal(n.n, 6);
  });

  it('CLI: exit codes 0/1/2, JSON output, shard result file, no password in output', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recon-cli-'));
    const manifest = (checks: unknown[]): string => {
      const f = join(dir, `m${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(
        f,
        stringify({
          apiVersion: 'cutover.nokta.io/v1alpha1',
          kind: 'Reconciliation',
          metadata: { name: 'x' },
          spec: spec(checks),
        }),
      );
      return f;
    };
    const cli = (
      args: string[],
      env: Record<string, string> = {},
    ): { status: number | null; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'reconcile', ...args], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
        timeout: 30_000,
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const equal = manifest([
      { name: 'c', type: 'count', legacy: { table: 'pay' }, target: { table: 'pay' } },
    ]);
    const ok = cli(['-f', equal, '--legacy-url', l.url, '--target-url', t.url, '--output', 'json']);
    assert.equal(ok.status, 0, ok.stderr);
    const res = JSON.parse(ok.stdout) as {
      verdict: string;
      checks: { tenants: { tenant: string; legacy: string }[] }[];
    };
    assert.equal(res.verdict, 'Passed');
    assert.deepEqual(
      res.checks[0]?.tenants.map((x) => [x.tenant, x.legacy]),
      [
        ['acme', '3'],
        ['beta', '3'],
      ],
    );
    const failing = manifest([rowHash]);
    const f = cli(['-f', failing, '--output', 'table'], {
      CUTOVER_LEGACY_URL: l.url,
      CUTOVER_TARGET_URL: t.url,
    });
    assert.equal(f.status, 1, f.stderr);
    assert.match(f.stdout, /pay-rows\s+rowHash\s+Failed/);
    assert.match(f.stdout, /tenant beta key 5: changed \(amount\)/);
    const resultFile = join(dir, 'shard.json');
    const shard = cli(
      [
        '-f',
        failing,
        '--legacy-url',
        l.url,
        '--target-url',
        t.url,
        '--shard-count',
        '2',
        '--result-file',
        resultFile,
        '--output',
        'json',
      ],
      { JOB_COMPLETION_INDEX: '1' },
    );
    assert.ok(shard.status === 0 || shard.status === 1, shard.stderr);
    const written = JSON.parse(readFileSync(resultFile, 'utf8')) as {
      shard: { index: number; count: number };
    };
    assert.deepEqual(written.shard, { index: 1, count: 2, by: 'Tenant' });
    // the way a shard pod gets its frozen spec: JSON in an environment variable
    const fromEnv = cli(['--spec-env', 'RECON_SPEC', '--output', 'json'], {
      RECON_SPEC: JSON.stringify({ kind: 'Reconciliation', spec: spec([rowHash]) }),
      CUTOVER_LEGACY_URL: l.url,
      CUTOVER_TARGET_URL: t.url,
    });
    assert.equal(fromEnv.status, 1, fromEnv.stderr);
    assert.equal((JSON.parse(fromEnv.stdout) as { verdict: string }).verdict, 'Failed');
    const bad = new URL(l.url);
    bad.password = 'Hunter2Secret';
    const e = cli(['-f', failing, '--legacy-url', bad.toString(), '--target-url', t.url]);
    assert.equal(e.status, 2);
    assert.match(e.stdout, /Error/);
    assert.doesNotMatch(e.stdout + e.stderr, /Hunter2Secret/);
    const invalid = cli([
      '-f',
      manifest([{ name: 'x', type: 'count', legacy: { table: 'a;b' }, target: { table: 'pay' } }]),
      '--legacy-url',
      l.url,
      '--target-url',
      t.url,
    ]);
    assert.equal(invalid.status, 2);
    assert.match(invalid.stderr, /not a valid SQL identifier/);
  });
});
