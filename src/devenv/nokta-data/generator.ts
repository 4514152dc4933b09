/**
 * Fills the Nokta sample databases: the legacy MySQL schema and the new normalized PostgreSQL
 * schema (samples/nokta/*.sql) with the same business data at a given scale and seed, computed
 * inside each database from a number series (INSERT … SELECT, no row-by-row inserts), and
 * optionally injects known differences into the target so tests can check they are found.
 *
 * Benign differences are always present: legacy DATETIME in +03:00 vs timestamptz (same
 * instant), `total` NUMERIC(14,3) vs DECIMAL(12,2) (10.5 vs 10.500), customer names with
 * trailing blanks in legacy, e-mails mixed case in legacy and lower case in the target.
 *
 * Usage: node dist/src/devenv/nokta-data/generator.js --legacy-url URL --target-url URL
 *        [--scale 10000] [--tenants 10] [--seed nokta] [--inject]
 *        [--spread even|zipf] [--bunched 40]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { redactText } from '../../runtime/logger.js';

export interface NoktaOptions {
  /** Number of legacy orders; other families in proportion (customers /10, drivers /200, calls /5, invoices /10). */
  scale: number;
  tenants: number;
  seed: string;
  /** Start of the data's time span (180 days from here). Default: 120 days before now, midnight UTC. */
  baseDate?: Date;
  inject?: boolean;
  /**
   * How rows spread over tenants: `even` (row n → tenant n mod T + 1, the default) or `zipf`
   * (tenant i holds a share ∝ 1/i^1.1: with 50 tenants the largest holds about a quarter of
   * every table, as in a real multi-tenant POS).
   */
  spread?: 'even' | 'zipf';
  /**
   * With `inject`: besides the spread differences, change this many orders of the largest tenant
   * (a discount off by 0.01..0.40 each), the way an incident bunches errors in one tenant.
   */
  bunched?: number;
}

/** Row id → tenant, the same in SQL (`sql`, over the column `n`) and in JavaScript (`of`). */
export interface TenantSpread {
  count: number;
  sql: string;
  of(id: number): number;
}

const SPREAD_BUCKETS = 10_007;
const SPREAD_MULTIPLIER = 7_919;

/** The tenant mapping of `spread` over `T` tenants (see NoktaOptions.spread). */
export function tenantSpread(T: number, spread: 'even' | 'zipf' = 'even'): TenantSpread {
  if (spread === 'even' || T === 1) return { count: T, sql: `(MOD(n, ${T}) + 1)`, of: (id) => (id % T) + 1 };
  const weights = Array.from({ length: T }, (_, i) => 1 / (i + 1) ** 1.1);
  const total = weights.reduce((a, b) => a + b, 0);
  // upper bucket bound (exclusive) of each tenant; every tenant gets at least one bucket
  const bounds: number[] = [];
  let acc = 0;
  for (const [i, w] of weights.entries()) {
    acc += w;
    const floor = (bounds[i - 1] ?? 0) + 1;
    bounds.push(i === T - 1 ? SPREAD_BUCKETS : Math.max(floor, Math.round((acc / total) * SPREAD_BUCKETS)));
  }
  const bucket = `MOD(n * ${SPREAD_MULTIPLIER}, ${SPREAD_BUCKETS})`;
  const sql = `(CASE ${bounds
    .slice(0, -1)
    .map((b, i) => `WHEN ${bucket} < ${b} THEN ${i + 1}`)
    .join(' ')} ELSE ${T} END)`;
  return {
    count: T,
    sql,
    of: (id) => {
      const b = (id * SPREAD_MULTIPLIER) % SPREAD_BUCKETS;
      const i = bounds.findIndex((x) => b < x);
      return i < 0 ? T : i + 1;
    },
  };
}

export type InjectionKind =
  | 'missing'
  | 'extra'
  | 'amountOff'
  | 'changedTax'
  | 'changedSettlement'
  | 'wrongTenant'
  | 'timeShift'
  | 'bunched';

export interface ExpectedKey {
  tenant: string;
  key: string;
  kind: 'missing' | 'extra' | 'changed';
  columns?: string[];
}

export interface Injection {
  kind: InjectionKind;
  /** Legacy table the difference belongs to. */
  family: 'pos_orders' | 'drivers';
  expected: ExpectedKey[];
}

export interface NoktaCounts {
  orders: number;
  customers: number;
  drivers: number;
  calls: number;
  invoices: number;
}

export function familyCounts(scale: number): NoktaCounts {
  return {
    orders: scale,
    customers: Math.max(1, Math.floor(scale / 10)),
    drivers: Math.max(2, Math.floor(scale / 200)),
    calls: Math.max(1, Math.floor(scale / 5)),
    invoices: Math.max(1, Math.floor(scale / 10)),
  };
}

export function samplesDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'samples', 'nokta');
}

function statements(file: string): string[] {
  return readFileSync(join(samplesDir(), file), 'utf8')
    .split(/;\s*\n/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}

function seedNumber(seed: string): number {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h % 100_003;
}

/** Small deterministic PRNG (mulberry32) for picking injection keys (and the crash tests' kill points). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Sql {
  mysql: boolean;
  seq(count: number): string;
  money(cents: string): string;
  idiv(a: string, b: string): string;
  str(e: string): string;
  /** legacy: local +03:00 DATETIME; target: timestamptz */
  ts(seconds: string): string;
}

function dialect(isMysql: boolean, base: Date): Sql {
  const b = base.toISOString().slice(0, 19).replace('T', ' ');
  return {
    mysql: isMysql,
    seq: (count) =>
      isMysql
        ? `(SELECT n FROM (SELECT a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d + 100000*g.d + 1000000*h.d + 1 AS n FROM gen_digits a, gen_digits b, gen_digits c, gen_digits e, gen_digits f, gen_digits g, gen_digits h WHERE h.d <= ${Math.floor((count - 1) / 1_000_000)}) AS all_n WHERE n <= ${count}) AS s`
        : `generate_series(CAST(1 AS BIGINT), ${count}) AS s(n)`,
    money: (c) => (isMysql ? `CAST((${c}) / 100 AS DECIMAL(12,2))` : `CAST((${c}) / 100.0 AS NUMERIC(14,2))`),
    idiv: (a, bb) => (isMysql ? `((${a}) DIV (${bb}))` : `((${a}) / (${bb}))`),
    str: (e) => (isMysql ? `CAST(${e} AS CHAR)` : `CAST(${e} AS TEXT)`),
    ts: (s) =>
      isMysql
        ? `(TIMESTAMP '${b}' + INTERVAL ((${s}) + 10800) SECOND)`
        : `(TIMESTAMPTZ '${b}+00' + (${s}) * INTERVAL '1 second')`,
  };
}

const SPAN = 180 * 86400;

function orderExprs(d: Sql, T: TenantSpread, S: number, C: number): Record<string, string> {
  const c1 = `(MOD(n * 7919 + ${S}, 20000) + 100)`;
  const c2 = `(MOD(n * 104729 + ${S}, 15000) + 50)`;
  const tax = d.idiv(`(${c1} + ${c2}) * 18`, '100');
  const disc = `(CASE WHEN MOD(n, 5) = 0 THEN ${d.idiv(c1, '10')} ELSE 0 END)`;
  return {
    id: 'n',
    tenant: T.sql,
    orderNo: `CONCAT('PO-', LPAD(${d.str('n')}, 8, '0'))`,
    customer: `MOD(n * 31, ${C}) + 1`,
    status: `(CASE WHEN MOD(n, 10) = 0 THEN 'refunded' ELSE 'paid' END)`,
    c1,
    c2,
    subtotal: d.money(`${c1} + ${c2}`),
    item1: d.money(c1),
    item2: d.money(c2),
    tax: d.money(tax),
    discount: d.money(disc),
    total: d.money(`${c1} + ${c2} + ${tax} - ${disc}`),
    paymentRef: `(CASE WHEN MOD(n, 50) = 0 THEN NULL ELSE CONCAT('pg_', ${d.str('n')}) END)`,
    method: `(CASE MOD(n, 3) WHEN 0 THEN 'card' WHEN 1 THEN 'cash' ELSE 'wallet' END)`,
    createdAt: d.ts(`MOD(n * 2654435 + ${S}, ${SPAN})`),
    currency: `(CASE WHEN MOD(n, 20) = 0 THEN 'EUR' ELSE 'TRY' END)`,
    deliveryFee: `(CASE WHEN MOD(n, 4) = 0 THEN ${d.money(`MOD(n * 13, 1500) + 500`)} ELSE ${d.money('0')} END)`,
    // edited some time after creation; never for every seventh order
    updatedAt: `(CASE WHEN MOD(n, 7) = 0 THEN NULL ELSE ${d.ts(`MOD(n * 2654435 + ${S}, ${SPAN}) + MOD(n * 7919, 86400)`)} END)`,
  };
}

function legacyInserts(d: Sql, k: NoktaCounts, T: TenantSpread, S: number): string[] {
  const o = orderExprs(d, T, S, k.customers);
  const amount = `(MOD(n * 4001 + ${S}, 500000) + 1000)`;
  const itax = d.idiv(`${amount} * 18`, '100');
  const idisc = `(CASE WHEN MOD(n, 4) = 0 THEN ${d.idiv(amount, '20')} ELSE 0 END)`;
  return [
    `INSERT INTO pos_orders (id, tenant_id, order_no, customer_id, status, subtotal, tax, discount, total, payment_ref, payment_method, created_at, currency, delivery_fee, updated_at)
     SELECT ${o.id}, ${o.tenant}, ${o.orderNo}, ${o.customer}, ${o.status}, ${o.subtotal}, ${o.tax}, ${o.discount}, ${o.total}, ${o.paymentRef}, ${o.method}, ${o.createdAt}, ${o.currency}, ${o.deliveryFee}, ${o.updatedAt} FROM ${d.seq(k.orders)}`,
    `INSERT INTO customers (id, tenant_id, name, email, address_line, city, loyalty_points, loyalty_balance, created_at)
     SELECT n, ${T.sql}, CONCAT('Customer ', n, CASE WHEN MOD(n, 7) = 0 THEN '  ' ELSE '' END),
       CASE WHEN MOD(n, 13) = 0 THEN NULL ELSE CONCAT('User', n, '@Nokta.Example') END,
       CONCAT(n, ' Istiklal Cd.'), CASE MOD(n, 3) WHEN 0 THEN 'Istanbul' WHEN 1 THEN 'Ankara' ELSE 'Izmir' END,
       MOD(n * 17, 5000), ${d.money(`MOD(n * 131 + ${S}, 100000)`)}, ${d.ts(`MOD(n * 1299709, ${SPAN})`)} FROM ${d.seq(k.customers)}`,
    `INSERT INTO drivers (id, tenant_id, name, phone, tasks_completed, route_km, settlement_amount, settled_at)
     SELECT n, ${T.sql}, CONCAT('Driver ', n), CONCAT('+90555', LPAD(n, 7, '0')), 1 + CASE WHEN MOD(n, 2) = 0 THEN 1 ELSE 0 END,
       ${d.money(`MOD(n * 37, 50000)`)}, ${d.money(`MOD(n * 977 + ${S}, 900000) + 1000`)},
       CASE WHEN MOD(n, 11) = 0 THEN NULL ELSE ${d.ts(`MOD(n * 15485863, ${SPAN})`)} END FROM ${d.seq(k.drivers)}`,
    `INSERT INTO call_logs (id, tenant_id, caller_phone, agent, queue_name, wait_seconds, duration_seconds, outcome, started_at)
     SELECT n, ${T.sql}, CONCAT('+90212', LPAD(n, 7, '0')), CASE WHEN MOD(n, 17) = 0 THEN NULL ELSE CONCAT('agent', MOD(n, 40)) END,
       CASE MOD(n, 3) WHEN 0 THEN 'orders' WHEN 1 THEN 'support' ELSE 'vip' END, MOD(n * 13, 600), MOD(n * 29, 1800) + 10,
       CASE MOD(n, 4) WHEN 1 THEN 'abandoned' WHEN 3 THEN 'transferred' ELSE 'completed' END, ${d.ts(`MOD(n * 982451, ${SPAN})`)} FROM ${d.seq(k.calls)}`,
    `INSERT INTO invoices (id, tenant_id, invoice_no, amount, tax, discount, paid_amount, payment_channel, plan_code, quota_used, issued_at)
     SELECT n, ${T.sql}, CONCAT('INV-', LPAD(n, 8, '0')), ${d.money(amount)}, ${d.money(itax)}, ${d.money(idisc)}, ${d.money(`${amount} + ${itax} - ${idisc}`)},
       CASE MOD(n, 3) WHEN 0 THEN 'card' WHEN 1 THEN 'transfer' ELSE 'cash' END, CASE MOD(n, 3) WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'enterprise' END,
       MOD(n * 7, 10000), ${d.ts(`MOD(n * 7368787, ${SPAN})`)} FROM ${d.seq(k.invoices)}`,
  ];
}

function targetInserts(d: Sql, k: NoktaCounts, T: TenantSpread, S: number): string[] {
  const o = orderExprs(d, T, S, k.customers);
  const amount = `(MOD(n * 4001 + ${S}, 500000) + 1000)`;
  const itax = d.idiv(`${amount} * 18`, '100');
  const idisc = `(CASE WHEN MOD(n, 4) = 0 THEN ${d.idiv(amount, '20')} ELSE 0 END)`;
  return [
    `INSERT INTO orders (id, tenant_id, order_no, customer_id, status, subtotal, tax, discount, total, created_at, currency, delivery_fee, updated_at)
     SELECT ${o.id}, ${o.tenant}, ${o.orderNo}, ${o.customer}, ${o.status}, ${o.subtotal}, ${o.tax}, ${o.discount}, ${o.total}, ${o.createdAt}, ${o.currency}, ${o.deliveryFee}, ${o.updatedAt} FROM ${d.seq(k.orders)}`,
    `INSERT INTO order_items (id, order_id, tenant_id, sku, quantity, amount)
     SELECT 2 * n - 1, n, ${o.tenant}, CONCAT('SKU-', MOD(n, 97)), 1, ${o.item1} FROM ${d.seq(k.orders)}`,
    `INSERT INTO order_items (id, order_id, tenant_id, sku, quantity, amount)
     SELECT 2 * n, n, ${o.tenant}, CONCAT('SKU-', MOD(n, 89) + 100), 1, ${o.item2} FROM ${d.seq(k.orders)}`,
    `INSERT INTO order_payments (id, order_id, tenant_id, gateway_ref, method, amount)
     SELECT n, n, ${o.tenant}, ${o.paymentRef}, ${o.method}, ${o.total} FROM ${d.seq(k.orders)}`,
    `INSERT INTO customers (id, tenant_id, name, email, created_at)
     SELECT n, ${T.sql}, CONCAT('Customer ', n), CASE WHEN MOD(n, 13) = 0 THEN NULL ELSE CONCAT('user', n, '@nokta.example') END,
       ${d.ts(`MOD(n * 1299709, ${SPAN})`)} FROM ${d.seq(k.customers)}`,
    `INSERT INTO customer_addresses (id, customer_id, tenant_id, line1, city, is_primary)
     SELECT n, n, ${T.sql}, CONCAT(n, ' Istiklal Cd.'), CASE MOD(n, 3) WHEN 0 THEN 'Istanbul' WHEN 1 THEN 'Ankara' ELSE 'Izmir' END, TRUE FROM ${d.seq(k.customers)}`,
    `INSERT INTO customer_loyalty_balances (customer_id, tenant_id, points, balance)
     SELECT n, ${T.sql}, MOD(n * 17, 5000), ${d.money(`MOD(n * 131 + ${S}, 100000)`)} FROM ${d.seq(k.customers)}`,
    `INSERT INTO drivers (id, tenant_id, name, phone) SELECT n, ${T.sql}, CONCAT('Driver ', n), CONCAT('+90555', LPAD(${d.str('n')}, 7, '0')) FROM ${d.seq(k.drivers)}`,
    `INSERT INTO driver_tasks (id, driver_id, tenant_id, status) SELECT 2 * n - 1, n, ${T.sql}, 'done' FROM ${d.seq(k.drivers)}`,
    `INSERT INTO driver_tasks (id, driver_id, tenant_id, status) SELECT 2 * n, n, ${T.sql}, CASE WHEN MOD(n, 2) = 0 THEN 'done' ELSE 'open' END FROM ${d.seq(k.drivers)}`,
    `INSERT INTO driver_routes (id, driver_id, tenant_id, km) SELECT n, n, ${T.sql}, ${d.money(`MOD(n * 37, 50000)`)} FROM ${d.seq(k.drivers)}`,
    `INSERT INTO driver_settlements (id, driver_id, tenant_id, amount, settled_at)
     SELECT n, n, ${T.sql}, ${d.money(`MOD(n * 977 + ${S}, 900000) + 1000`)}, CASE WHEN MOD(n, 11) = 0 THEN NULL ELSE ${d.ts(`MOD(n * 15485863, ${SPAN})`)} END FROM ${d.seq(k.drivers)}`,
    `INSERT INTO call_center_calls (id, tenant_id, caller_phone, agent, duration_seconds, outcome, started_at)
     SELECT n, ${T.sql}, CONCAT('+90212', LPAD(${d.str('n')}, 7, '0')), CASE WHEN MOD(n, 17) = 0 THEN NULL ELSE CONCAT('agent', MOD(n, 40)) END,
       MOD(n * 29, 1800) + 10, CASE MOD(n, 4) WHEN 1 THEN 'abandoned' WHEN 3 THEN 'transferred' ELSE 'completed' END, ${d.ts(`MOD(n * 982451, ${SPAN})`)} FROM ${d.seq(k.calls)}`,
    `INSERT INTO call_queue_events (id, call_id, tenant_id, queue_name, wait_seconds)
     SELECT n, n, ${T.sql}, CASE MOD(n, 3) WHEN 0 THEN 'orders' WHEN 1 THEN 'support' ELSE 'vip' END, MOD(n * 13, 600) FROM ${d.seq(k.calls)}`,
    `INSERT INTO billing_invoices (id, tenant_id, invoice_no, amount, tax, discount, issued_at)
     SELECT n, ${T.sql}, CONCAT('INV-', LPAD(${d.str('n')}, 8, '0')), ${d.money(amount)}, ${d.money(itax)}, ${d.money(idisc)}, ${d.ts(`MOD(n * 7368787, ${SPAN})`)} FROM ${d.seq(k.invoices)}`,
    `INSERT INTO billing_payments (id, invoice_id, tenant_id, channel, amount)
     SELECT n, n, ${T.sql}, CASE MOD(n, 3) WHEN 0 THEN 'card' WHEN 1 THEN 'transfer' ELSE 'cash' END, ${d.money(`${amount} + ${itax} - ${idisc}`)} FROM ${d.seq(k.invoices)}`,
    `INSERT INTO billing_plan_quotas (id, invoice_id, tenant_id, plan_code, quota_used)
     SELECT n, n, ${T.sql}, CASE MOD(n, 3) WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'enterprise' END, MOD(n * 7, 10000) FROM ${d.seq(k.invoices)}`,
  ];
}

/** Picks distinct order ids and writes the target-side statements for each injected difference. */
export function planInjections(
  k: NoktaCounts,
  spread: TenantSpread,
  seed: string,
  bunched = 0,
): { statements: string[]; injections: Injection[] } {
  const T = spread.count;
  const tenantOf = (id: number): number => spread.of(id);
  const rnd = prng(seedNumber(seed) + 7);
  const used = new Set<number>();
  const pick = (max: number): number => {
    for (;;) {
      const id = 1 + Math.floor(rnd() * max);
      if (!used.has(id)) {
        used.add(id);
        return id;
      }
    }
  };
  const s: string[] = [];
  const inj: Injection[] = [];
  const t = (id: number): string => String(tenantOf(id));
  const del = (id: number): string[] => [
    `DELETE FROM order_payments WHERE order_id = ${id}`,
    `DELETE FROM order_items WHERE order_id = ${id}`,
    `DELETE FROM orders WHERE id = ${id}`,
  ];
  const m1 = pick(k.orders);
  const m2 = pick(k.orders);
  s.push(...del(m1), ...del(m2));
  inj.push({
    kind: 'missing',
    family: 'pos_orders',
    expected: [m1, m2].map((id) => ({ tenant: t(id), key: String(id), kind: 'missing' as const })),
  });
  const extra = k.orders + 1;
  const et = tenantOf(extra);
  s.push(
    `INSERT INTO orders (id, tenant_id, order_no, customer_id, status, subtotal, tax, discount, total, created_at) VALUES (${extra}, ${et}, 'PO-EXTRA', 1, 'paid', 10.00, 1.80, 0, 11.80, TIMESTAMPTZ '2026-01-01 00:00:00+00' + INTERVAL '1 day' * 0)`,
    `INSERT INTO order_items (id, order_id, tenant_id, sku, quantity, amount) VALUES (${2 * extra - 1}, ${extra}, ${et}, 'SKU-X', 1, 10.00)`,
    `INSERT INTO order_payments (id, order_id, tenant_id, gateway_ref, method, amount) VALUES (${extra}, ${extra}, ${et}, 'pg_extra', 'card', 11.80)`,
  );
  inj.push({
    kind: 'extra',
    family: 'pos_orders',
    expected: [{ tenant: String(et), key: String(extra), kind: 'extra' }],
  });
  const a = pick(k.orders);
  s.push(
    `UPDATE orders SET total = total + 0.01 WHERE id = ${a}`,
    `UPDATE order_payments SET amount = amount + 0.01 WHERE order_id = ${a}`,
  );
  inj.push({
    kind: 'amountOff',
    family: 'pos_orders',
    expected: [{ tenant: t(a), key: String(a), kind: 'changed', columns: ['total', 'paid_amount'] }],
  });
  const x = pick(k.orders);
  s.push(`UPDATE orders SET tax = tax + 1.00 WHERE id = ${x}`);
  inj.push({
    kind: 'changedTax',
    family: 'pos_orders',
    expected: [{ tenant: t(x), key: String(x), kind: 'changed', columns: ['tax'] }],
  });
  const w = pick(k.orders);
  const wt = (tenantOf(w) % T) + 1;
  s.push(
    `UPDATE orders SET tenant_id = ${wt} WHERE id = ${w}`,
    `UPDATE order_payments SET tenant_id = ${wt} WHERE order_id = ${w}`,
    `UPDATE order_items SET tenant_id = ${wt} WHERE order_id = ${w}`,
  );
  inj.push({
    kind: 'wrongTenant',
    family: 'pos_orders',
    expected: [
      { tenant: t(w), key: String(w), kind: 'missing' },
      { tenant: String(wt), key: String(w), kind: 'extra' },
    ],
  });
  const h = pick(k.orders);
  s.push(`UPDATE orders SET created_at = created_at + INTERVAL '1 hour' WHERE id = ${h}`);
  inj.push({
    kind: 'timeShift',
    family: 'pos_orders',
    expected: [{ tenant: t(h), key: String(h), kind: 'changed', columns: ['created_at'] }],
  });
  const dr = 1 + Math.floor(rnd() * k.drivers);
  s.push(`UPDATE driver_settlements SET amount = amount + 5.00 WHERE driver_id = ${dr}`);
  inj.push({
    kind: 'changedSettlement',
    family: 'drivers',
    expected: [{ tenant: t(dr), key: String(dr), kind: 'changed', columns: ['settlement_amount'] }],
  });
  if (bunched > 0) {
    // the largest tenant: tenant 1 under both spreads
    const ids: number[] = [];
    for (let tries = 0; ids.length < bunched && tries < bunched * 1000; tries++) {
      const id = pick(k.orders);
      if (tenantOf(id) === 1) ids.push(id);
      else used.delete(id);
    }
    ids.forEach((id, i) =>
      s.push(`UPDATE orders SET discount = discount + ${((i % 40) + 1) / 100} WHERE id = ${id}`),
    );
    inj.push({
      kind: 'bunched',
      family: 'pos_orders',
      expected: ids.map((id) => ({ tenant: '1', key: String(id), kind: 'changed', columns: ['discount'] })),
    });
  }
  return { statements: s, injections: inj };
}

export interface GenerateResult {
  counts: NoktaCounts;
  injections: Injection[];
  baseDate: Date;
}

function defaultBase(): Date {
  const d = new Date(Date.now() - 120 * 86_400_000);
  d.setUTCHours(0, 0, 0, 0);
  return d;
}

/** Creates the schemas in two empty databases and fills them. */
export async function generateNokta(
  legacyUrl: string,
  targetUrl: string,
  opts: NoktaOptions,
): Promise<GenerateResult> {
  const counts = familyCounts(opts.scale);
  const base = opts.baseDate ?? defaultBase();
  const S = seedNumber(opts.seed);
  const T = tenantSpread(Math.max(1, opts.tenants), opts.spread);
  const loadLegacy = async (): Promise<void> => {
    const conn = await mysql.createConnection({ uri: legacyUrl, multipleStatements: false });
    try {
      await conn.query("SET time_zone = '+00:00'");
      for (const st of statements('legacy-mysql.sql')) await conn.query(st);
      await conn.query('CREATE TEMPORARY TABLE gen_digits (d INT NOT NULL PRIMARY KEY)');
      await conn.query('INSERT INTO gen_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)');
      for (const st of legacyInserts(dialect(true, base), counts, T, S)) await conn.query(st);
    } finally {
      await conn.end();
    }
  };
  const inj = planInjections(counts, T, opts.seed, opts.bunched ?? 0);
  const loadTarget = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: targetUrl });
    await client.connect();
    try {
      await client.query("SET TimeZone = 'UTC'");
      for (const st of statements('target-postgres.sql')) await client.query(st);
      for (const st of targetInserts(dialect(false, base), counts, T, S)) await client.query(st);
      if (opts.inject) for (const st of inj.statements) await client.query(st);
      await client.query('ANALYZE');
    } finally {
      await client.end();
    }
  };
  const [a, b] = await Promise.allSettled([loadLegacy(), loadTarget()]);
  if (a.status === 'rejected')
    throw new Error(
      redactText(`loading legacy: ${String(a.reason instanceof Error ? a.reason.message : a.reason)}`),
    );
  if (b.status === 'rejected')
    throw new Error(
      redactText(`loading target: ${String(b.reason instanceof Error ? b.reason.message : b.reason)}`),
    );
  return { counts, injections: opts.inject ? inj.injections : [], baseDate: base };
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const argv = process.argv.slice(2);
  const legacy = arg(argv, '--legacy-url') ?? process.env.CUTOVER_LEGACY_URL;
  const target = arg(argv, '--target-url') ?? process.env.CUTOVER_TARGET_URL;
  if (!legacy || !target) {
    process.stderr.write(
      'usage: generator --legacy-url mysql://… --target-url postgres://… [--scale N] [--tenants N] [--seed S] [--inject] [--spread even|zipf] [--bunched N]\n',
    );
    process.exitCode = 2;
  } else {
    generateNokta(legacy, target, {
      scale: Number(arg(argv, '--scale') ?? 10000),
      tenants: Number(arg(argv, '--tenants') ?? 10),
      seed: arg(argv, '--seed') ?? 'nokta',
      inject: argv.includes('--inject'),
      spread: arg(argv, '--spread') === 'zipf' ? 'zipf' : 'even',
      bunched: Number(arg(argv, '--bunched') ?? 0),
    }).then(
      (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
      (e: unknown) => {
        process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = 2;
      },
    );
  }
}
