/**
 * `npm run bench -- readonly [--statements=2000] [--scale=20000]`
 *
 * What the per-statement read-only transaction costs (issue 9: every statement runs inside
 * `BEGIN READ ONLY` / `START TRANSACTION READ ONLY` … `ROLLBACK`). Side by side, on the same
 * servers and pool size, alternating rounds:
 * - raw: the statement on a pooled connection without a transaction (what the engine did before);
 * - guarded: `SqlConnection.query`, the statement in its own read-only transaction.
 * Per statement: `SELECT 1` (the round trips alone) and a per-tenant count of a Nokta table (a
 * typical engine statement). Then a whole Nokta run with the statements it sends counted, to put
 * the per-statement cost against a run. The databases are dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { parse } from 'yaml';
import { connect, type SqlConnection } from '../src/reconciliation/connection.js';
import { runReconciliation } from '../src/reconciliation/engine.js';
import { generateNokta, samplesDir } from '../src/reconciliation/nokta/generator.js';
import { planFromSpec } from '../src/reconciliation/plan.js';

const MYSQL_ADMIN = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/mysql';
const PG_ADMIN = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function flag(args: string[], name: string, fallback: number): number {
  const inline = args.find((a) => a.startsWith(`${name}=`));
  const i = args.indexOf(name);
  const v = inline ? Number(inline.slice(name.length + 1)) : i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

function withDb(admin: string, name: string): string {
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Median of per-statement times in microseconds. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function perStatement(
  n: number,
  raw: (sql: string) => Promise<unknown>,
  guarded: (sql: string) => Promise<unknown>,
  sql: string,
): Promise<{ raw: number; guarded: number }> {
  const times = { raw: [] as number[], guarded: [] as number[] };
  for (let round = 0; round < 10; round++)
    for (const [kind, fn] of [
      ['raw', raw],
      ['guarded', guarded],
    ] as const) {
      for (let i = 0; i < n / 10; i++) {
        const t0 = performance.now();
        await fn(sql);
        times[kind].push((performance.now() - t0) * 1000);
      }
    }
  return { raw: median(times.raw), guarded: median(times.guarded) };
}

/** A connection that counts the statements it is asked to run. */
function counting(c: SqlConnection, counter: { n: number }): SqlConnection {
  return {
    engine: c.engine,
    label: c.label,
    query: (sql, params) => (counter.n++, c.query(sql, params)),
    queryIsolated: (sql, params) => (counter.n++, c.queryIsolated(sql, params)),
    writePrivileges: (tables) => c.writePrivileges(tables),
    close: () => c.close(),
  };
}

export async function runReadOnlyStatementsBench(args: string[]): Promise<void> {
  const n = flag(args, '--statements', 2000);
  const scale = flag(args, '--scale', 20_000);
  const out = (line: string): void => void process.stdout.write(line + '\n');
  const name = `bench_ro_${randomBytes(4).toString('hex')}`;
  const legacyUrl = withDb(MYSQL_ADMIN, name);
  const targetUrl = withDb(PG_ADMIN, name);
  const adminMy = await mysql.createConnection(MYSQL_ADMIN);
  const adminPg = new pg.Client({ connectionString: PG_ADMIN });
  await adminPg.connect();
  await adminMy.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await adminPg.query(`CREATE DATABASE "${name}"`);
  try {
    await generateNokta(legacyUrl, targetUrl, { scale, tenants: 10, seed: 'bench', inject: false });
    const pgPool = new pg.Pool({ connectionString: targetUrl, max: 4 });
    const myPool = mysql.createPool({ uri: legacyUrl, connectionLimit: 4 });
    const pgConn = connect('postgres', targetUrl, { role: 'target', statementTimeoutSeconds: 60 });
    const myConn = connect('mysql', legacyUrl, { role: 'legacy', statementTimeoutSeconds: 60 });
    try {
      out(`per statement, median of ${n} each (raw = no transaction, guarded = own read-only transaction):`);
      const statements: [string, string, string][] = [
        ['SELECT 1', 'SELECT 1', 'SELECT 1'],
        [
          'per-tenant count of orders',
          'SELECT tenant_id, COUNT(*) FROM pos_orders GROUP BY tenant_id',
          'SELECT tenant_id, COUNT(*) FROM orders GROUP BY tenant_id',
        ],
      ];
      for (const [what, mySql, pgSql] of statements) {
        const p = await perStatement(
          n,
          (s) => pgPool.query(s),
          (s) => pgConn.query(s),
          pgSql,
        );
        const m = await perStatement(
          n,
          (s) => myPool.query(s),
          (s) => myConn.query(s),
          mySql,
        );
        out(
          `  ${what}: PostgreSQL raw ${p.raw.toFixed(0)} µs, guarded ${p.guarded.toFixed(0)} µs (+${(p.guarded - p.raw).toFixed(0)} µs, ×${(p.guarded / p.raw).toFixed(2)}); MariaDB raw ${m.raw.toFixed(0)} µs, guarded ${m.guarded.toFixed(0)} µs (+${(m.guarded - m.raw).toFixed(0)} µs, ×${(m.guarded / m.raw).toFixed(2)})`,
        );
      }
    } finally {
      await Promise.all([pgPool.end(), myPool.end(), pgConn.close(), myConn.close()]);
    }
    const doc = parse(readFileSync(join(samplesDir(), 'reconciliation-nokta.yaml'), 'utf8')) as {
      spec: unknown;
    };
    const plan = planFromSpec(doc.spec);
    const counter = { n: 0 };
    const legacy = counting(
      connect('mysql', legacyUrl, { role: 'legacy', statementTimeoutSeconds: 600 }),
      counter,
    );
    const target = counting(
      connect('postgres', targetUrl, { role: 'target', statementTimeoutSeconds: 600 }),
      counter,
    );
    try {
      const t0 = performance.now();
      const r = await runReconciliation(plan, { legacy, target });
      const ms = performance.now() - t0;
      out(
        `whole Nokta run (${scale} orders, ${plan.checks.length} checks, verdict ${r.verdict}): ${counter.n} statements in ${(ms / 1000).toFixed(2)} s`,
      );
    } finally {
      await Promise.all([legacy.close(), target.close()]);
    }
  } finally {
    await adminMy.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await adminPg.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await adminMy.end();
    await adminPg.end();
  }
}
