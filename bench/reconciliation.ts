/**
 * `npm run bench -- reconciliation [--scale=1000000] [--tenants=20] [--runs=1]` (also `--scale N`)
 *
 * Loads the Nokta sample (1M legacy orders by default; customers, drivers, calls and invoices in
 * proportion) into fresh MariaDB and PostgreSQL databases, then measures with the count, sum
 * and rowHash checks of samples/nokta/reconciliation-nokta.yaml:
 * - floor: the very same per-tenant aggregate SQL the engine generates, run raw with plain
 *   clients on both databases concurrently, check after check;
 * - equal: a full engine run on equal data (goal: within 1.5× of the floor);
 * - differences: the same run after injecting 10 differing rows into the target, including
 *   bisection down to the keys (goal: less than 2× the equal run).
 * The databases are dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { planFromSpec, type ReconciliationPlan } from '../src/reconciliation/plan.js';
import { connect } from '../src/reconciliation/connection.js';
import { aggregateSql, runReconciliation } from '../src/reconciliation/engine.js';
import {
  generateNokta,
  planInjections,
  tenantSpread,
  familyCounts,
  samplesDir,
} from '../src/devenv/nokta-data/generator.js';
import type { RunResult } from '../src/reconciliation/result.js';

const MYSQL_ADMIN = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/mysql';
const PG_ADMIN = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const inline = args.find((a) => a.startsWith(`${name}=`));
  const v = inline ? Number(inline.slice(name.length + 1)) : i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

function withDb(admin: string, name: string): string {
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.toString();
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function benchPlan(): ReconciliationPlan {
  const doc = parse(readFileSync(join(samplesDir(), 'reconciliation-nokta.yaml'), 'utf8')) as {
    spec: unknown;
  };
  const plan = planFromSpec(doc.spec);
  plan.checks = plan.checks.filter((c) => c.type === 'count' || c.type === 'sum' || c.type === 'rowHash');
  return plan;
}

/** Runs the engine's aggregate SQL raw, both databases concurrently, check after check. */
async function floor(plan: ReconciliationPlan, legacyUrl: string, targetUrl: string): Promise<number> {
  const my = await mysql.createConnection({
    uri: legacyUrl,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  const pc = new pg.Client({ connectionString: targetUrl });
  await pc.connect();
  // the engine's read-only connections are only used to pick the dialect; nothing runs on them
  const l = connect('mysql', legacyUrl, { role: 'legacy', statementTimeoutSeconds: 600 });
  const t = connect('postgres', targetUrl, { role: 'target', statementTimeoutSeconds: 600 });
  try {
    await my.query("SET time_zone = '+00:00'");
    await my.query('SET NAMES utf8mb4');
    await pc.query("SET TimeZone = 'UTC'");
    const t0 = performance.now();
    for (const check of plan.checks) {
      const [ls, lp] = aggregateSql(plan, check, 'legacy', l);
      const [ts, tp] = aggregateSql(plan, check, 'target', t);
      await Promise.all([my.query(ls, lp), pc.query(ts, tp)]);
    }
    return performance.now() - t0;
  } finally {
    await my.end();
    await pc.end();
    await Promise.all([l.close(), t.close()]);
  }
}

async function engineRun(
  plan: ReconciliationPlan,
  legacyUrl: string,
  targetUrl: string,
): Promise<{ ms: number; value: RunResult }> {
  const legacy = connect('mysql', legacyUrl, { role: 'legacy', statementTimeoutSeconds: 600 });
  const target = connect('postgres', targetUrl, { role: 'target', statementTimeoutSeconds: 600 });
  try {
    return await timed(() => runReconciliation(plan, { legacy, target }));
  } finally {
    await Promise.all([legacy.close(), target.close()]);
  }
}

function scannedRows(r: RunResult): number {
  // every check scans its legacy and target sources once: count the legacy rows it aggregated
  return r.checks.reduce((n, c) => n + (c.type === 'sum' ? 0 : Number(c.legacyValue ?? 0)), 0);
}

export async function runReconciliationBench(args: string[]): Promise<void> {
  const scale = flag(args, '--scale', 1_000_000);
  const tenants = flag(args, '--tenants', 20);
  const runs = flag(args, '--runs', 1);
  const name = `bench_recon_${randomBytes(4).toString('hex')}`;
  const legacyUrl = withDb(MYSQL_ADMIN, name);
  const targetUrl = withDb(PG_ADMIN, name);
  const out = (line: string): void => void process.stdout.write(line + '\n');
  const adminMy = await mysql.createConnection(MYSQL_ADMIN);
  const adminPg = new pg.Client({ connectionString: PG_ADMIN });
  await adminPg.connect();
  await adminMy.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await adminPg.query(`CREATE DATABASE "${name}"`);
  try {
    const counts = familyCounts(scale);
    out(
      `reconciliation bench: ${scale} legacy orders (+ ${counts.customers} customers, ${counts.drivers} drivers, ${counts.calls} calls, ${counts.invoices} invoices), ${tenants} tenants`,
    );
    const load = await timed(() =>
      generateNokta(legacyUrl, targetUrl, { scale, tenants, seed: 'bench', inject: false }),
    );
    out(`  data load (both databases, concurrently): ${fmt(load.ms)}`);
    const plan = benchPlan();
    out(`  checks: ${plan.checks.map((c) => `${c.name} (${c.type})`).join(', ')}`);
    await floor(plan, legacyUrl, targetUrl); // warm the caches once
    let floorMs = Infinity;
    let equalMs = Infinity;
    let equal: RunResult | undefined;
    for (let i = 0; i < runs; i++) {
      floorMs = Math.min(floorMs, await floor(plan, legacyUrl, targetUrl));
      const e = await engineRun(plan, legacyUrl, targetUrl);
      if (e.ms < equalMs) {
        equalMs = e.ms;
        equal = e.value;
      }
    }
    if (!equal) throw new Error('no run');
    const rows = scannedRows(equal);
    out('');
    out(`  equal data:  verdict ${equal.verdict}`);
    out(`    floor (raw aggregate SQL, both DBs concurrently): ${fmt(floorMs)}`);
    out(
      `    engine:                                          ${fmt(equalMs)}  = ${(equalMs / floorMs).toFixed(2)}× the floor (goal ≤ 1.5×)`,
    );
    out(
      `    rows per second (legacy rows of count/rowHash checks; each also read on the target): ${Math.round(rows / (equalMs / 1000)).toLocaleString('en-US')}`,
    );
    // inject 10 differing rows (missing ×2, extra, 0.01, tax, wrong tenant (2 keys), 1 h shift, settlement, + one more 0.01)
    const inj = planInjections(counts, tenantSpread(tenants), 'bench');
    const pc = new pg.Client({ connectionString: targetUrl });
    await pc.connect();
    const extraId = Math.max(1, Math.floor(scale / 3));
    try {
      for (const s of inj.statements) await pc.query(s);
      await pc.query(`UPDATE orders SET discount = discount + 0.01 WHERE id = ${extraId}`);
      await pc.query('ANALYZE');
    } finally {
      await pc.end();
    }
    const expected = inj.injections.flatMap((i) => i.expected).length + 1;
    let diffMs = Infinity;
    let diff: RunResult | undefined;
    for (let i = 0; i < runs; i++) {
      const d = await engineRun(plan, legacyUrl, targetUrl);
      if (d.ms < diffMs) {
        diffMs = d.ms;
        diff = d.value;
      }
    }
    if (!diff) throw new Error('no run');
    const rowChecks = diff.checks.filter((c) => c.type === 'rowHash');
    const found = new Set(
      rowChecks.flatMap((c) => c.differingKeys.map((k) => `${c.name}/${k.tenant}/${k.key}/${k.kind}`)),
    );
    out('');
    out(
      `  with ${expected} differing rows: verdict ${diff.verdict}, differing keys found ${found.size} of ${expected}`,
    );
    out(
      `    engine (aggregates + bisection + row fetch): ${fmt(diffMs)}  = ${(diffMs / equalMs).toFixed(2)}× the equal run (goal < 2×), ${(diffMs / floorMs).toFixed(2)}× the floor`,
    );
    for (const c of rowChecks.filter((x) => x.differingKeys.length > 0))
      out(
        `    ${c.name}: ${c.differingKeys.map((k) => `${k.tenant}/${k.key} ${k.kind}${k.columns ? `(${k.columns.join(',')})` : ''}`).join('; ')}`,
      );
  } finally {
    await adminMy.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => undefined);
    await adminPg.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
    await adminMy.end();
    await adminPg.end();
  }
}
