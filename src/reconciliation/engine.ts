/**
 * The reconciliation engine: runs a plan's checks against a legacy and a target database.
 *
 * Each check compiles to one aggregate query per side (per tenant COUNT, SUM, sum of row hashes)
 * run on both sides concurrently. Tenants whose row-hash checksums differ are localized by
 * bisection: segment checksums in one GROUP BY query per side and range (integer keys: key
 * ranges; other keys: MD5 prefixes of the key), recursing into differing segments until a
 * segment is small, then the keys and row hashes of those segments only are fetched and diffed,
 * and the canonical values of changed rows name the columns that differ.
 *
 * Sharding (`opts.shard`): by Tenant, each shard takes the tenants whose MD5-derived number
 * modulo the shard count is its index; by KeyRange, each shard takes the rows whose key hashes
 * to its index (checks without a key — count/sum without `key`, sample and customSql — run in
 * shard 0 only). `mergeResults` of all shards gives the verdicts of an unsharded run.
 */
import { addDecimals, normalizeDecimal, parseDecimal, formatScaled } from './decimal.js';
import { dialectFor, hash32Js, Params, type Dialect, type Side } from './dialect.js';
import type { Row, SqlConnection } from './connection.js';
import type { CheckPlan, ColumnMapping, ReconciliationPlan, SideSource } from './plan.js';
import {
  errorCheck,
  finishCheck,
  finishRun,
  scoreTenant,
  type CheckResult,
  type DifferingKey,
  type RunResult,
  type ShardSpec,
  type TenantResult,
} from './result.js';

export interface Connections {
  legacy: SqlConnection;
  target: SqlConnection;
}

export interface Progress {
  checkIndex: number;
  checkCount: number;
  check: string;
  phase: 'aggregate' | 'localize' | 'sample' | 'custom' | 'done';
  tenant?: string;
  rows?: number;
}

export interface RunOptions {
  shard?: ShardSpec;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Restricts the run to these tenants (intersected with the plan's). */
  tenants?: string[];
  /** The time windows are measured from (default: now). */
  now?: Date;
  /** Stop localizing a check after this many differing keys (default 1000). */
  maxDifferingKeys?: number;
  /** Segments per bisection step (default 16). */
  segments?: number;
  /** A segment with at most this many rows is fetched row by row (default 256). */
  leafRows?: number;
}

const KEY_COLUMN_DEFAULT: Pick<ColumnMapping, 'type' | 'scale' | 'transforms' | 'precision'> = {
  type: 'text',
  scale: 0,
  transforms: [],
  precision: 0,
};

/** Everything needed to write SQL for one side of one check. */
class SideSql {
  readonly d: Dialect;

  constructor(
    readonly side: Side,
    readonly conn: SqlConnection,
    readonly src: SideSource,
    readonly check: CheckPlan,
    private readonly plan: ReconciliationPlan,
    private readonly filters: RunFilters,
  ) {
    this.d = dialectFor(conn.engine);
  }

  /**
   * The FROM item. For a whole-table aggregate on MySQL/MariaDB, the optimizer likes to read
   * rows through the (tenant, …) secondary index to skip a temporary table, which means one
   * random primary-key lookup per row (15× slower at 1M rows): `USE INDEX FOR GROUP BY ()` keeps
   * the WHERE's index use and makes it scan the table in order instead.
   */
  from(aggregate = false): string {
    if (this.src.table)
      return `${this.d.quote(this.src.table)} AS src${aggregate && this.d.engine === 'mysql' ? ' USE INDEX FOR GROUP BY ()' : ''}`;
    return `(${this.src.query ?? ''}) AS src`;
  }

  col(name: string): string {
    return `src.${this.d.quote(name)}`;
  }

  colName(c: ColumnMapping): string {
    return this.side === 'legacy' ? c.legacy : c.target;
  }

  tenant(): string {
    return this.col(this.src.tenantColumn);
  }

  keyMapping(k: string): ColumnMapping {
    return (
      this.check.columns.find((c) => c.name === k) ?? { name: k, legacy: k, target: k, ...KEY_COLUMN_DEFAULT }
    );
  }

  keyCols(): string[] {
    return this.check.key.map((k) => this.col(this.colName(this.keyMapping(k))));
  }

  keyCanon(): string[] {
    return this.check.key.map((k) =>
      this.d.canonical(this.col(this.colName(this.keyMapping(k))), this.keyMapping(k), this.side),
    );
  }

  keyText(): string {
    return this.d.concat(this.keyCanon());
  }

  columnCanon(): string[] {
    return this.check.columns.map((c) => this.d.canonical(this.col(this.colName(c)), c, this.side));
  }

  rowHash(): string {
    return this.d.hash60(this.d.concat([...this.keyCanon(), ...this.columnCanon()]));
  }

  /** WHERE conditions shared by every query of this check (window, tenants, shard). */
  where(p: Params, extra: string[] = []): string {
    const conds: string[] = [];
    const w = this.plan.window;
    if (w) {
      const column = this.src.windowColumn ?? w.column;
      const tz =
        this.side === 'legacy'
          ? (w.legacyTimeZone ?? this.check.columns.find((c) => c.legacy === column)?.legacyTimeZone)
          : undefined;
      conds.push(
        `${this.col(column)} >= ${p.add(this.d.timestampParam(this.filters.windowStart as Date, tz))}`,
      );
    }
    if (this.filters.tenants) {
      if (this.filters.tenants.length === 0) conds.push('1 = 0');
      else conds.push(`${this.tenant()} IN (${this.filters.tenants.map((t) => p.add(t)).join(', ')})`);
    }
    const shard = this.filters.shard;
    if (shard && shard.count > 1) {
      if (shard.by === 'Tenant')
        conds.push(`MOD(${this.d.hash32(this.d.text(this.tenant()))}, ${shard.count}) = ${shard.index}`);
      else if (this.check.key.length > 0 && this.check.type !== 'sample')
        conds.push(`MOD(${this.d.hash32(this.keyText())}, ${shard.count}) = ${shard.index}`);
    }
    conds.push(...extra);
    return conds.length > 0 ? ` WHERE ${conds.join(' AND ')}` : '';
  }

  keyIn(p: Params, keys: Cell[][]): string {
    const cols = this.keyCols();
    if (cols.length === 1) return `${cols[0]} IN (${keys.map((k) => p.add(k[0])).join(', ')})`;
    return `(${cols.join(', ')}) IN (${keys.map((k) => `(${k.map((v) => p.add(v)).join(', ')})`).join(', ')})`;
  }
}

type Cell = string | null;

interface RunFilters {
  windowStart?: Date;
  tenants?: string[];
  shard?: ShardSpec;
}

interface TenantAgg {
  count: string;
  sums: string[];
  hash: string;
  min?: string;
  max?: string;
}

function aborted(signal?: AbortSignal): void {
  if (signal?.aborted)
    throw signal.reason instanceof Error ? signal.reason : new Error('reconciliation aborted');
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Runs both sides concurrently; if one fails, waits for the other before rethrowing. */
async function both<T>(a: Promise<T>, b: Promise<T>): Promise<[T, T]> {
  const [x, y] = await Promise.allSettled([a, b]);
  if (x.status === 'rejected') throw x.reason;
  if (y.status === 'rejected') throw y.reason;
  return [x.value, y.value];
}

function toScale(text: string | null, scale: number): string {
  if (text === null) return formatScaled({ value: 0n, scale });
  const v = parseDecimal(text);
  if (v.scale > scale) return normalizeDecimal(text);
  return formatScaled({ value: v.value * 10n ** BigInt(scale - v.scale), scale });
}

function keyLabel(canon: string[]): string {
  const plain = canon.map((c) => (c === '~' ? null : c.slice(1)));
  return plain.length === 1 ? String(plain[0]) : JSON.stringify(plain);
}

interface CheckContext {
  check: CheckPlan;
  legacy: SideSql;
  target: SideSql;
  opts: RunOptions;
  progress: (phase: Progress['phase'], tenant?: string, rows?: number) => void;
}

/** One query per side: per tenant COUNT(*), SUMs of money columns or the row-hash sum (+ key range). */
function aggregateQuery(s: SideSql): [string, unknown[]] {
  const c = s.check;
  const p = new Params(s.d.engine);
  const sel = [s.tenant(), 'COUNT(*)'];
  if (c.type === 'sum') for (const col of c.columns) sel.push(`SUM(${s.col(s.colName(col))})`);
  if (c.type === 'rowHash') {
    sel.push(`COALESCE(SUM(${s.rowHash()}), 0)`);
    if (isIntegerKey(c)) sel.push(`MIN(${s.keyCols()[0]})`, `MAX(${s.keyCols()[0]})`);
  }
  return p.bind(`SELECT ${sel.join(', ')} FROM ${s.from(true)}${s.where(p)} GROUP BY ${s.tenant()}`);
}

async function aggregate(s: SideSql): Promise<Map<string, TenantAgg>> {
  const c = s.check;
  const intKey = c.type === 'rowHash' && isIntegerKey(c);
  const rows = await s.conn.query(...aggregateQuery(s));
  const out = new Map<string, TenantAgg>();
  for (const r of rows) {
    const agg: TenantAgg = { count: r[1] ?? '0', sums: [], hash: '0' };
    if (c.type === 'sum')
      agg.sums = c.columns.map((col, i) => toScale(r[2 + i] ?? null, col.type === 'decimal' ? col.scale : 0));
    if (c.type === 'rowHash') {
      agg.hash = normalizeDecimal(r[2] ?? '0');
      if (intKey) {
        if (r[3] !== null && r[3] !== undefined) agg.min = r[3];
        if (r[4] !== null && r[4] !== undefined) agg.max = r[4];
      }
    }
    out.set(String(r[0]), agg);
  }
  return out;
}

function isIntegerKey(c: CheckPlan): boolean {
  if (c.key.length !== 1) return false;
  return c.columns.find((m) => m.name === c.key[0])?.type === 'integer';
}

interface Segment {
  /** integer mode */
  lo?: bigint;
  hi?: bigint;
  /** hash-prefix mode */
  prefix?: string;
}

interface SegAgg {
  n: string;
  h: string;
}

interface KeyedRow {
  raw: Cell[];
  canon: string[];
  hash: string;
}

class Localizer {
  found = 0;
  truncated = false;

  constructor(
    private readonly ctx: CheckContext,
    private readonly max: number,
    private readonly k: number,
    private readonly leaf: number,
  ) {}

  private segQuery(s: SideSql, tenant: string, seg: Segment, depth: number): [string, unknown[]] {
    const p = new Params(s.d.engine);
    const extra = [`${s.tenant()} = ${p.add(tenant)}`];
    let bucket: string;
    if (seg.lo !== undefined && seg.hi !== undefined) {
      const key = s.keyCols()[0] as string;
      const width = (seg.hi - seg.lo + 1n + BigInt(this.k) - 1n) / BigInt(this.k);
      extra.push(`${key} >= ${p.add(seg.lo.toString())}`, `${key} <= ${p.add(seg.hi.toString())}`);
      // inline validated integers: the bucket expression is in SELECT and GROUP BY
      bucket = s.d.intDiv(`${key} - ${seg.lo.toString()}`, width.toString());
    } else {
      const kt = s.keyText();
      if (seg.prefix) extra.push(`${s.d.md5Prefix(kt, seg.prefix.length)} = ${p.add(seg.prefix)}`);
      bucket = s.d.md5Prefix(kt, depth);
    }
    const sql = `SELECT ${bucket} AS seg, COUNT(*), COALESCE(SUM(${s.rowHash()}), 0) FROM ${s.from()}${s.where(p, extra)} GROUP BY ${bucket}`;
    return p.bind(sql);
  }

  private async segments(
    tenant: string,
    seg: Segment,
    depth: number,
  ): Promise<{ l: Map<string, SegAgg>; t: Map<string, SegAgg> }> {
    const run = async (s: SideSql): Promise<Map<string, SegAgg>> => {
      const rows = await s.conn.query(...this.segQuery(s, tenant, seg, depth));
      return new Map(rows.map((r) => [String(r[0]), { n: r[1] ?? '0', h: normalizeDecimal(r[2] ?? '0') }]));
    };
    const [l, t] = await both(run(this.ctx.legacy), run(this.ctx.target));
    return { l, t };
  }

  private async fetchRows(s: SideSql, tenant: string, segs: Segment[]): Promise<Map<string, KeyedRow>> {
    const p = new Params(s.d.engine);
    const ors = segs.map((seg) => {
      if (seg.lo !== undefined && seg.hi !== undefined) {
        const key = s.keyCols()[0] as string;
        return `(${key} >= ${p.add(seg.lo.toString())} AND ${key} <= ${p.add(seg.hi.toString())})`;
      }
      return `${s.d.md5Prefix(s.keyText(), (seg.prefix ?? '').length)} = ${p.add(seg.prefix ?? '')}`;
    });
    const extra = [`${s.tenant()} = ${p.add(tenant)}`];
    if (ors.length > 0) extra.push(`(${ors.join(' OR ')})`);
    const keyCols = s.keyCols();
    const sql = `SELECT ${[...keyCols, ...s.keyCanon(), s.rowHash()].join(', ')} FROM ${s.from()}${s.where(p, extra)}`;
    const rows = await s.conn.query(...p.bind(sql));
    const n = keyCols.length;
    const out = new Map<string, KeyedRow>();
    for (const r of rows) {
      const canon = r.slice(n, 2 * n).map((c) => c ?? '~');
      out.set(JSON.stringify(canon), { raw: r.slice(0, n), canon, hash: String(r[2 * n]) });
    }
    return out;
  }

  /** Returns the differing keys of one tenant (changed ones with their columns). */
  async tenant(
    tenant: string,
    l: TenantAgg,
    t: TenantAgg,
  ): Promise<{ keys: DifferingKey[]; differingRows: number }> {
    const leaves: Segment[] = [];
    let frontier: { seg: Segment; depth: number }[];
    const intMode = isIntegerKey(this.ctx.check) && (l.min ?? t.min) !== undefined;
    if (intMode) {
      const mins = [l.min, t.min].filter((v): v is string => v !== undefined).map((v) => BigInt(v));
      const maxs = [l.max, t.max].filter((v): v is string => v !== undefined).map((v) => BigInt(v));
      const lo = mins.reduce((a, b) => (b < a ? b : a));
      const hi = maxs.reduce((a, b) => (b > a ? b : a));
      frontier = [{ seg: { lo, hi }, depth: 1 }];
    } else frontier = [{ seg: { prefix: '' }, depth: 1 }];
    const total = Math.max(Number(l.count), Number(t.count));
    if (total <= this.leaf) {
      leaves.push(...frontier.map((f) => f.seg));
      frontier = [];
    }
    while (frontier.length > 0) {
      aborted(this.ctx.opts.signal);
      this.ctx.progress('localize', tenant, frontier.length);
      const next: { seg: Segment; depth: number }[] = [];
      const results = await mapLimit(frontier, 2, async (f) => ({
        f,
        r: await this.segments(tenant, f.seg, f.depth),
      }));
      for (const { f, r } of results) {
        const ids = new Set([...r.l.keys(), ...r.t.keys()]);
        for (const id of ids) {
          const a = r.l.get(id);
          const b = r.t.get(id);
          if (a && b && a.n === b.n && a.h === b.h) continue;
          const rows = Math.max(Number(a?.n ?? 0), Number(b?.n ?? 0));
          let sub: Segment;
          let small: boolean;
          if (f.seg.lo !== undefined && f.seg.hi !== undefined) {
            const width = (f.seg.hi - f.seg.lo + 1n + BigInt(this.k) - 1n) / BigInt(this.k);
            const lo = f.seg.lo + BigInt(id) * width;
            const hi = lo + width - 1n < f.seg.hi ? lo + width - 1n : f.seg.hi;
            sub = { lo, hi };
            small = rows <= this.leaf || hi - lo < BigInt(this.k);
          } else {
            sub = { prefix: id };
            small = rows <= this.leaf || id.length >= 12;
          }
          if (small) leaves.push(sub);
          else next.push({ seg: sub, depth: f.depth + 1 });
        }
      }
      frontier = next;
    }
    const keys: DifferingKey[] = [];
    let differing = 0;
    const changed: KeyedRow[] = [];
    for (let i = 0; i < leaves.length; i += 50) {
      if (this.found >= this.max) {
        this.truncated = true;
        break;
      }
      const batch = leaves.slice(i, i + 50);
      const [lr, tr] = await both(
        this.fetchRows(this.ctx.legacy, tenant, batch),
        this.fetchRows(this.ctx.target, tenant, batch),
      );
      for (const [id, row] of lr) {
        const other = tr.get(id);
        if (!other) {
          differing++;
          if (this.found < this.max) keys.push({ tenant, key: keyLabel(row.canon), kind: 'missing' });
          this.found++;
        } else if (other.hash !== row.hash) {
          differing++;
          changed.push(row);
        }
      }
      for (const [id, row] of tr)
        if (!lr.has(id)) {
          differing++;
          if (this.found < this.max) keys.push({ tenant, key: keyLabel(row.canon), kind: 'extra' });
          this.found++;
        }
    }
    if (changed.length > 0) {
      const room = Math.max(0, this.max - this.found);
      const named = await compareRows(
        this.ctx,
        tenant,
        changed.slice(0, room).map((r) => r.raw),
      );
      for (const c of named.changed) keys.push({ tenant, key: c.key, kind: 'changed', columns: c.columns });
      this.found += changed.length;
      if (changed.length > room) this.truncated = true;
    }
    if (this.found > this.max) this.truncated = true;
    // a truncated search still knows at least the count difference
    const countGap = Math.abs(Number(l.count) - Number(t.count));
    return { keys, differingRows: Math.max(differing, countGap, 1) };
  }
}

/** Fetches canonical values of the given keys on both sides and compares column by column. */
async function compareRows(
  ctx: CheckContext,
  tenant: string,
  keys: Cell[][],
): Promise<{ found: number; changed: { key: string; columns: string[] }[]; missing: string[] }> {
  const fetch = async (
    s: SideSql,
    batch: Cell[][],
  ): Promise<Map<string, { canon: string[]; cols: string[] }>> => {
    const p = new Params(s.d.engine);
    const extra = [`${s.tenant()} = ${p.add(tenant)}`, s.keyIn(p, batch)];
    const n = ctx.check.key.length;
    const rows: Row[] = await s.conn.query(
      ...p.bind(
        `SELECT ${[...s.keyCanon(), ...s.columnCanon()].join(', ')} FROM ${s.from()}${s.where(p, extra)}`,
      ),
    );
    return new Map(
      rows.map((r) => {
        const canon = r.slice(0, n).map((c) => c ?? '~');
        return [JSON.stringify(canon), { canon, cols: r.slice(n).map((c) => c ?? '~') }];
      }),
    );
  };
  const changed: { key: string; columns: string[] }[] = [];
  const missing: string[] = [];
  let found = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500);
    const [l, t] = await both(fetch(ctx.legacy, batch), fetch(ctx.target, batch));
    for (const [id, row] of l) {
      const other = t.get(id);
      if (!other) {
        missing.push(keyLabel(row.canon));
        continue;
      }
      found++;
      const columns = ctx.check.columns.filter((_, j) => row.cols[j] !== other.cols[j]).map((c) => c.name);
      if (columns.length > 0) changed.push({ key: keyLabel(row.canon), columns });
    }
  }
  return { found, changed, missing };
}

function scoreLines(
  check: CheckPlan,
  lines: Omit<TenantResult, 'variancePercent' | 'verdict'>[],
): TenantResult[] {
  return lines.map((l) => scoreTenant(check.type, l, check.thresholds));
}

async function runAggregateCheck(ctx: CheckContext, maxKeys: number): Promise<CheckResult> {
  const { check } = ctx;
  ctx.progress('aggregate');
  const [l, t] = await both(aggregate(ctx.legacy), aggregate(ctx.target));
  const tenants = [...new Set([...l.keys(), ...t.keys()])];
  const empty: TenantAgg = {
    count: '0',
    sums: check.columns.map((c) => toScale(null, c.type === 'decimal' ? c.scale : 0)),
    hash: '0',
  };
  const lines: Omit<TenantResult, 'variancePercent' | 'verdict'>[] = [];
  const differingKeys: DifferingKey[] = [];
  const base: Parameters<typeof finishCheck>[0] = {
    name: check.name,
    type: check.type,
    thresholds: check.thresholds,
    differingKeys,
  };
  if (check.type === 'count') {
    for (const tn of tenants)
      lines.push({ tenant: tn, legacy: (l.get(tn) ?? empty).count, target: (t.get(tn) ?? empty).count });
  } else if (check.type === 'sum') {
    const multi = check.columns.length > 1;
    for (const tn of tenants)
      check.columns.forEach((c, i) => {
        const line: Omit<TenantResult, 'variancePercent' | 'verdict'> = {
          tenant: tn,
          legacy: (l.get(tn) ?? empty).sums[i] ?? '0',
          target: (t.get(tn) ?? empty).sums[i] ?? '0',
        };
        if (multi) line.column = c.name;
        lines.push(line);
      });
  } else {
    const loc = new Localizer(ctx, maxKeys, ctx.opts.segments ?? 16, ctx.opts.leafRows ?? 256);
    const differing = tenants.filter((tn) => {
      const a = l.get(tn) ?? empty;
      const b = t.get(tn) ?? empty;
      return a.count !== b.count || a.hash !== b.hash;
    });
    const found = new Map<string, number>();
    for (const tn of differing) {
      aborted(ctx.opts.signal);
      const r = await loc.tenant(tn, l.get(tn) ?? empty, t.get(tn) ?? empty);
      differingKeys.push(...r.keys);
      found.set(tn, r.differingRows);
    }
    for (const tn of tenants)
      lines.push({
        tenant: tn,
        legacy: (l.get(tn) ?? empty).count,
        target: (t.get(tn) ?? empty).count,
        differingRows: found.get(tn) ?? 0,
      });
    if (loc.truncated) base.differingKeysTruncated = true;
  }
  return finishCheck(base, scoreLines(check, lines));
}

async function runSampleCheck(ctx: CheckContext, seed: string): Promise<CheckResult> {
  const { check, legacy: s } = ctx;
  ctx.progress('sample');
  const p = new Params(s.d.engine);
  const n = check.key.length;
  const order = `MD5(${s.d.concat([`${p.add(seed)}`, s.keyText()])})`;
  const inner = `SELECT ${s.tenant()} AS t, ${s
    .keyCols()
    .map((k, i) => `${k} AS k${i}`)
    .join(
      ', ',
    )}, ROW_NUMBER() OVER (PARTITION BY ${s.tenant()} ORDER BY ${order}) AS rn FROM ${s.from()}${s.where(p)}`;
  const sizeParam = p.add(check.sampleSize);
  const rows = await s.conn.query(
    ...p.bind(
      `SELECT t, ${Array.from({ length: n }, (_, i) => `k${i}`).join(', ')} FROM (${inner}) AS drawn WHERE rn <= ${sizeParam}`,
    ),
  );
  const byTenant = new Map<string, Cell[][]>();
  for (const r of rows) {
    const tn = String(r[0]);
    if (!byTenant.has(tn)) byTenant.set(tn, []);
    byTenant.get(tn)?.push(r.slice(1));
  }
  const differingKeys: DifferingKey[] = [];
  const lines: Omit<TenantResult, 'variancePercent' | 'verdict'>[] = [];
  for (const [tn, keys] of byTenant) {
    aborted(ctx.opts.signal);
    ctx.progress('sample', tn, keys.length);
    const r = await compareRows(ctx, tn, keys);
    for (const m of r.missing) differingKeys.push({ tenant: tn, key: m, kind: 'missing' });
    for (const c of r.changed)
      differingKeys.push({ tenant: tn, key: c.key, kind: 'changed', columns: c.columns });
    lines.push({
      tenant: tn,
      legacy: String(keys.length),
      target: String(r.found),
      differingRows: r.missing.length + r.changed.length,
    });
  }
  return finishCheck(
    { name: check.name, type: check.type, thresholds: check.thresholds, differingKeys, seed },
    scoreLines(check, lines),
  );
}

async function runCustomCheck(ctx: CheckContext, filters: RunFilters): Promise<CheckResult> {
  const { check } = ctx;
  ctx.progress('custom');
  const sql = check.customSql as { legacy: string; target: string };
  const [l, t] = await both(
    ctx.legacy.conn.queryIsolated(sql.legacy),
    ctx.target.conn.queryIsolated(sql.target),
  );
  const read = async (rows: Row[], side: string): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    for (const r of rows) {
      if (r.length < 2) throw new Error(`custom SQL of the ${side} side must return (tenant, metric) rows`);
      const tn = String(r[0]);
      if (filters.tenants && !filters.tenants.includes(tn)) continue;
      const sh = filters.shard;
      if (sh && sh.count > 1 && sh.by === 'Tenant' && (await hash32Js(tn)) % sh.count !== sh.index) continue;
      const metric = r[1] ?? '0';
      try {
        parseDecimal(metric);
      } catch {
        throw new Error(
          `custom SQL of the ${side} side returned a metric that is not a number for tenant ${tn}`,
        );
      }
      out.set(tn, out.has(tn) ? addDecimals(out.get(tn) ?? '0', metric) : metric);
    }
    return out;
  };
  const lm = await read(l, 'legacy');
  const tm = await read(t, 'target');
  const lines = [...new Set([...lm.keys(), ...tm.keys()])].map((tn) => ({
    tenant: tn,
    legacy: lm.get(tn) ?? '0',
    target: tm.get(tn) ?? '0',
  }));
  return finishCheck(
    { name: check.name, type: check.type, thresholds: check.thresholds, differingKeys: [] },
    scoreLines(check, lines),
  );
}

/** Which checks a shard runs (checks that cannot be split run in shard 0 only). */
export function checksForShard(plan: ReconciliationPlan, shard?: ShardSpec): CheckPlan[] {
  if (!shard || shard.count <= 1 || shard.by === 'Tenant') return plan.checks;
  return plan.checks.filter(
    (c) =>
      shard.index === 0 ||
      ((c.type === 'count' || c.type === 'sum' || c.type === 'rowHash') && c.key.length > 0),
  );
}

async function preflight(plan: ReconciliationPlan, c: Connections): Promise<void> {
  const zones = new Set(
    plan.checks
      .flatMap((ch) => ch.columns.map((col) => col.legacyTimeZone))
      .filter((z): z is string => !!z && z !== 'UTC' && !/^[+-]\d{2}:\d{2}$/.test(z)),
  );
  const probe = async (conn: SqlConnection, legacy: boolean): Promise<void> => {
    await conn.query('SELECT 1');
    if (legacy && conn.engine === 'mysql')
      for (const z of zones) {
        const rows = await conn.query("SELECT CONVERT_TZ('2020-01-01 00:00:00', ?, '+00:00')", [z]);
        if (rows[0]?.[0] === null || rows[0]?.[0] === undefined)
          throw new Error(
            `${conn.label}: time zone '${z}' is unknown to the server (load the time zone tables with mysql_tzinfo_to_sql, or use a numeric offset such as +03:00)`,
          );
      }
  };
  await both(probe(c.legacy, true), probe(c.target, false));
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs a plan (or one shard of it) and returns its result; never throws for database errors. */
export async function runReconciliation(
  plan: ReconciliationPlan,
  connections: Connections,
  opts: RunOptions = {},
): Promise<RunResult> {
  const startedAt = new Date();
  const now = opts.now ?? startedAt;
  const filters: RunFilters = {};
  if (plan.window) filters.windowStart = new Date(now.getTime() - plan.window.lastMs);
  const planTenants = plan.tenants;
  if (planTenants && opts.tenants && opts.tenants.length > 0)
    filters.tenants = planTenants.filter((t) => opts.tenants?.includes(t));
  else if (planTenants) filters.tenants = planTenants;
  else if (opts.tenants && opts.tenants.length > 0) filters.tenants = opts.tenants;
  if (opts.shard) filters.shard = opts.shard;
  const checks = checksForShard(plan, opts.shard);
  const results: CheckResult[] = [];
  let runError: string | undefined;
  try {
    await preflight(plan, connections);
  } catch (e) {
    runError = errMessage(e);
  }
  const maxKeys = opts.maxDifferingKeys ?? 1000;
  for (const [i, check] of checks.entries()) {
    const progress = (phase: Progress['phase'], tenant?: string, rows?: number): void => {
      const p: Progress = { checkIndex: i + 1, checkCount: checks.length, check: check.name, phase };
      if (tenant !== undefined) p.tenant = tenant;
      if (rows !== undefined) p.rows = rows;
      opts.onProgress?.(p);
    };
    if (runError) {
      results.push(errorCheck(check.name, check.type, check.thresholds, runError));
      continue;
    }
    try {
      aborted(opts.signal);
      const ctx: CheckContext = {
        check,
        legacy: new SideSql('legacy', connections.legacy, check.legacy, check, plan, filters),
        target: new SideSql('target', connections.target, check.target, check, plan, filters),
        opts,
        progress,
      };
      let r: CheckResult;
      if (check.type === 'sample')
        r = await runSampleCheck(ctx, check.seed ?? Math.random().toString(36).slice(2, 10));
      else if (check.type === 'customSql') r = await runCustomCheck(ctx, filters);
      else r = await runAggregateCheck(ctx, maxKeys);
      results.push(r);
      progress(
        'done',
        undefined,
        r.type === 'sum' || r.type === 'customSql'
          ? undefined
          : r.tenants.reduce((n, t) => n + Number(t.legacy), 0),
      );
    } catch (e) {
      results.push(errorCheck(check.name, check.type, check.thresholds, errMessage(e)));
    }
  }
  const run = finishRun(startedAt, new Date(), results, runError);
  if (opts.shard) run.shard = opts.shard;
  return run;
}

/**
 * The per-tenant aggregate SQL of a count/sum/rowHash check for one side, exactly as the engine
 * runs it (for benchmarks and for `EXPLAIN`).
 */
export function aggregateSql(
  plan: ReconciliationPlan,
  check: CheckPlan,
  side: Side,
  conn: SqlConnection,
  now: Date = new Date(),
): [string, unknown[]] {
  const filters: RunFilters = {};
  if (plan.window) filters.windowStart = new Date(now.getTime() - plan.window.lastMs);
  if (plan.tenants) filters.tenants = plan.tenants;
  return aggregateQuery(
    new SideSql(side, conn, side === 'legacy' ? check.legacy : check.target, check, plan, filters),
  );
}
