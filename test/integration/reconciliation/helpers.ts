import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { planFromSpec, type ReconciliationPlan } from '../../../src/reconciliation/plan.js';
import {
  connect,
  type QueryOptions,
  type Row,
  type SqlConnection,
} from '../../../src/reconciliation/connection.js';
import { samplesDir } from '../../../src/devenv/nokta-data/generator.js';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import type { DifferingKey } from '../../../src/reconciliation/result.js';

export function manifestPlan(file: string): ReconciliationPlan {
  const doc = parse(readFileSync(join(samplesDir(), file), 'utf8')) as { spec: unknown };
  return planFromSpec(doc.spec);
}

export function open(
  legacyUrl: string,
  targetUrl: string,
  timeout = 60,
): { legacy: SqlConnection; target: SqlConnection; close(): Promise<void> } {
  const legacy = connect('mysql', legacyUrl, { role: 'legacy', statementTimeoutSeconds: timeout });
  const target = connect('postgres', targetUrl, { role: 'target', statementTimeoutSeconds: timeout });
  return { legacy, target, close: async () => void (await Promise.all([legacy.close(), target.close()])) };
}

/** Timestamps both engines hold (fractions, the years 999 and 9999), for the light-text tests. */
export const COMMON_TIMESTAMPS = [
  '2026-03-01 12:34:56',
  '2026-03-01 12:34:56.999999',
  '2026-03-01 23:59:59.5',
  '1999-12-31 23:59:59.000001',
  '0999-01-01 00:00:00.25',
  '9999-12-31 23:59:59.999999',
];

/**
 * Mocha hooks for a suite on one engine: a test database that `fill` sets up (given its admin
 * URL) before the suite, and the engine's own connection to it; both dropped after the suite.
 * Returns the connection's getter.
 */
export function engineDatabase(
  engine: 'mysql' | 'postgres',
  prefix: string,
  fill: (url: string) => Promise<void>,
): () => SqlConnection {
  let db: TestDatabase | undefined;
  let conn: SqlConnection | undefined;
  before(async () => {
    db = engine === 'mysql' ? await createMysqlDatabase(prefix) : await createPostgresDatabase(prefix);
    await fill(db.url);
    const role = engine === 'mysql' ? 'legacy' : 'target';
    conn = connect(engine, db.url, { role, statementTimeoutSeconds: 30 });
  });
  after(async () => {
    await conn?.close();
    await db?.drop();
  });
  return () => {
    if (!conn) throw new Error('the suite database is not set up');
    return conn;
  };
}

export function keySet(keys: { tenant: string; key: string; kind: string; columns?: string[] }[]): string[] {
  return keys
    .map((k) => `${k.tenant}/${k.key}/${k.kind}${k.columns ? `/${[...k.columns].sort().join(',')}` : ''}`)
    .sort();
}

export function sortKeys(keys: DifferingKey[]): string[] {
  return keySet(keys);
}

/** The Nokta sample's checks plus a sum check whose two sides are queries. */
export function skewPlan(): ReconciliationPlan {
  const plan = manifestPlan('reconciliation-nokta.yaml');
  const sum = plan.checks.find((c) => c.name === 'orders-financial-totals');
  if (!sum) throw new Error('the sample lost orders-financial-totals');
  plan.checks.push({
    ...sum,
    name: 'paid-totals-query-sides',
    legacy: {
      query: 'SELECT tenant_id, total FROM pos_orders WHERE payment_method IS NOT NULL',
      tenantColumn: 'tenant_id',
    },
    target: { query: 'SELECT tenant_id, amount AS total FROM order_payments', tenantColumn: 'tenant_id' },
    columns: sum.columns.filter((c) => c.name === 'total'),
  });
  return plan;
}

/**
 * Checks whose sides are simple queries of one table (`SELECT … FROM table WHERE …`), folded
 * into the table's scan, beside table checks over the same tables: a count and a rowHash over
 * the paid orders, and a sum over the orders that were not refunded.
 */
export function foldPlan(): ReconciliationPlan {
  const plan = manifestPlan('reconciliation-nokta.yaml');
  const keep = new Set(['orders-count', 'orders-financial-totals', 'orders-rows']);
  plan.checks = plan.checks.filter((c) => keep.has(c.name));
  const count = plan.checks.find((c) => c.name === 'orders-count');
  const sum = plan.checks.find((c) => c.name === 'orders-financial-totals');
  const rows = plan.checks.find((c) => c.name === 'orders-rows');
  if (!count || !sum || !rows) throw new Error('the sample lost its orders checks');
  plan.checks.push(
    {
      ...count,
      name: 'paid-orders-count',
      legacy: {
        query: "SELECT id, tenant_id FROM pos_orders WHERE status = 'paid'",
        tenantColumn: 'tenant_id',
      },
      target: { query: "SELECT id, tenant_id FROM orders WHERE status = 'paid'", tenantColumn: 'tenant_id' },
    },
    {
      ...sum,
      name: 'kept-totals',
      legacy: {
        query: "SELECT tenant_id, total, tax FROM pos_orders WHERE status <> 'refunded'",
        tenantColumn: 'tenant_id',
      },
      target: {
        query: "SELECT tenant_id, total AS total, tax FROM orders WHERE status <> 'refunded'",
        tenantColumn: 'tenant_id',
      },
      columns: sum.columns.filter((c) => c.name === 'total' || c.name === 'tax'),
    },
    {
      ...rows,
      name: 'paid-orders-rows',
      legacy: {
        query:
          "SELECT id, tenant_id, subtotal, tax, discount, total, created_at FROM pos_orders WHERE status = 'paid'",
        tenantColumn: 'tenant_id',
      },
      target: {
        query:
          "SELECT id, tenant_id, subtotal, tax, discount, total, created_at FROM orders WHERE status = 'paid' AND id > 0",
        tenantColumn: 'tenant_id',
      },
      columns: rows.columns.filter((c) =>
        ['id', 'subtotal', 'tax', 'discount', 'total', 'created_at'].includes(c.name),
      ),
    },
  );
  return plan;
}

/** A statement as the engine sent it through `query()`. */
export interface SentStatement {
  sql: string;
  params: unknown[];
  opts?: QueryOptions;
}

/** The real connection, remembering each statement (with its options) the engine sends through query(). */
export function recordingConnection(conn: SqlConnection, into: SentStatement[]): SqlConnection {
  return {
    engine: conn.engine,
    label: conn.label,
    query: (sql: string, params: unknown[] = [], opts?: QueryOptions): Promise<Row[]> => {
      into.push(opts ? { sql, params, opts } : { sql, params });
      return conn.query(sql, params, opts);
    },
    queryIsolated: (sql: string, params?: unknown[]) => conn.queryIsolated(sql, params),
    writePrivileges: (tables: string[]) => conn.writePrivileges(tables),
    ...(conn.resultColumns
      ? { resultColumns: (query: string) => conn.resultColumns?.(query) ?? Promise.resolve([]) }
      : {}),
    close: () => conn.close(),
  };
}

/** The relations a PostgreSQL JSON plan (EXPLAIN (FORMAT JSON)) reads, with the node that reads each. */
export function scanNodes(plan: unknown, out: { relation: string; node: string }[] = []): typeof out {
  if (Array.isArray(plan)) for (const p of plan) scanNodes(p, out);
  else if (plan && typeof plan === 'object') {
    const o = plan as Record<string, unknown>;
    if (typeof o['Relation Name'] === 'string')
      out.push({ relation: o['Relation Name'], node: String(o['Node Type']) });
    for (const v of Object.values(o)) if (typeof v === 'object') scanNodes(v, out);
  }
  return out;
}
