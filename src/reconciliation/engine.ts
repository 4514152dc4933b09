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
import { hash32Js, Params } from './dialect.js';
import { SideSql, type Cell, type RunFilters } from './side-sql.js';
import { declaredColumns, type Declared } from './declared-types.js';
import { resolveWindow } from './window.js';
import { foldedColumn, foldQuery } from './fold.js';
import {
  bucketCount,
  bucketLayout,
  bucketRange,
  isIntegerKey,
  planPasses,
  passRows,
  passTotals,
  type BucketAgg,
  type BucketDef,
  type Pass,
  type TenantTotals,
} from './scan-pass.js';
import type { QueryOptions, ResultColumn, Row, SqlConnection } from './connection.js';
import type { CheckPlan, ReconciliationPlan } from './plan.js';
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
  /** The referenced Cutover's status.frozenAt, for a window with `until: frozenAt`. */
  frozenAt?: Date;
  /** Stop localizing a check after this many differing keys (default 1000). */
  maxDifferingKeys?: number;
  /** Segments per bisection step (default 16). */
  segments?: number;
  /** A segment with at most this many rows is fetched row by row (default 256). */
  leafRows?: number;
  /**
   * Rows a key-range row fetch statement of the localization reads, about (default 1000): a
   * tenant's differing segments are fetched in statements of about this many rows.
   */
  fetchRows?: number;
  /**
   * Key-range buckets of a rowHash check with one integer key, in its shared scan (default: about
   * one per 1,000 keys of the key span, 256 to 1,024; scan-pass.ts `bucketCount`).
   */
  buckets?: number;
  /**
   * A bucketed pass over a key range at least this wide (default 200000 keys) runs as
   * `splitParts` statements over adjacent key ranges at the same time, so a large table is read
   * by more than one server thread.
   */
  splitKeys?: number;
  /**
   * Statements a large bucketed pass is split into (default 1: no split; at 1M orders on 2 cores
   * two ranges were no faster than one statement).
   */
  splitParts?: number;
  /**
   * Checks over the same source share one scan per side, and integer keys are bucketed in it
   * (default true). `false` runs the reference algorithm: one scan per check and side, then
   * bisection from the whole key range of each differing tenant.
   */
  sharedScans?: boolean;
  /** Look up table sides' declared column types to cast only where needed (default true). */
  declaredTypes?: boolean;
  /**
   * With shared scans, a count/sum/rowHash side that is a simple query of one table
   * (`SELECT col [AS name], … FROM table [WHERE predicate]`) is read as that table, its
   * predicate applied per aggregate, so it shares the table's scan (default true; fold.ts).
   */
  foldQueries?: boolean;
}

/** Differing tenants of one rowHash check localized at the same time. */
const TENANTS_AT_ONCE = 3;

/**
 * How the reads that localize a tenant run: serially on PostgreSQL. They read key ranges of a
 * tenant (segment checksums, row fetches, rows by key), where parallel workers cost more CPU
 * than they save.
 */
const LOCALIZATION_READ: QueryOptions = { serial: true };

/** Rows a key-range row fetch statement reads, about (default of `RunOptions.fetchRows`). */
const FETCH_ROWS = 1000;

/** Row fetch statements of one tenant in flight at once (per side). */
const FETCHES_AT_ONCE = 2;

/** A differing bucket with at most this many rows (on the larger side) is fetched row by row. */
const BUCKET_FETCH_ROWS = 4096;

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

/**
 * A sum at the column's scale: `1333955.5` and `1333955.500` both read `1333955.50` at scale 2.
 * Digits beyond the scale are kept when they are not zeros (they are a real difference).
 */
export function toScale(text: string | null, scale: number): string {
  if (text === null) return formatScaled({ value: 0n, scale });
  let { value, scale: s } = parseDecimal(text);
  while (s > scale && value % 10n === 0n) {
    value /= 10n;
    s--;
  }
  if (s > scale) return formatScaled({ value, scale: s });
  return formatScaled({ value: value * 10n ** BigInt(scale - s), scale });
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

interface Segment {
  /** integer mode */
  lo?: bigint;
  hi?: bigint;
  /** every key below this one (the keys under a bucket layout's start) */
  below?: bigint;
  /** hash-prefix mode */
  prefix?: string;
}

interface SegAgg {
  n: string;
  h: string;
}

/** A segment to fetch row by row, with the larger side's row count (as far as known). */
interface Leaf {
  seg: Segment;
  rows: number;
}

/**
 * The row fetches of a tenant's leaves: statements of about `rows` rows each (at most 50 key
 * ranges). A key range of more rows is split into equal key sub-ranges first. On PostgreSQL a
 * fetch of a query side that joins (orders ⋈ order_payments) is then a nested loop over the
 * joined table's index: fetched 40 ranges at a time (40,000 rows of the largest tenant at 1M
 * orders) it was a hash join over the whole joined table.
 */
export function fetchChunks(leaves: Leaf[], rows: number): Segment[][] {
  const per = Math.max(1, rows);
  const out: Segment[][] = [];
  let cur: Segment[] = [];
  let n = 0;
  for (const leaf of leaves)
    for (const part of splitLeaf(leaf, per)) {
      if (cur.length > 0 && (n + part.rows > per || cur.length >= 50)) {
        out.push(cur);
        cur = [];
        n = 0;
      }
      cur.push(part.seg);
      n += part.rows;
    }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** A key range of more than `per` rows as equal key sub-ranges of about `per` rows each. */
function splitLeaf(leaf: Leaf, per: number): Leaf[] {
  const { seg, rows } = leaf;
  if (seg.lo === undefined || seg.hi === undefined || rows <= per) return [leaf];
  const span = seg.hi - seg.lo + 1n;
  let parts = BigInt(Math.ceil(rows / per));
  if (parts > span) parts = span;
  const width = (span + parts - 1n) / parts;
  const out: Leaf[] = [];
  for (let lo = seg.lo; lo <= seg.hi; lo += width) {
    const hi = lo + width - 1n < seg.hi ? lo + width - 1n : seg.hi;
    out.push({ seg: { lo, hi }, rows: Math.ceil((rows * Number(hi - lo + 1n)) / Number(span)) });
  }
  return out;
}

interface KeyedRow {
  raw: Cell[];
  canon: string[];
  hash: string;
  /** rows with this key on this side (more than 1: a duplicate key, e.g. from a fan-out join) */
  rows: number;
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
    const extra = [s.tenantIs(p, tenant)];
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
      const rows = await s.conn.query(...this.segQuery(s, tenant, seg, depth), LOCALIZATION_READ);
      return new Map(rows.map((r) => [String(r[0]), { n: r[1] ?? '0', h: normalizeDecimal(r[2] ?? '0') }]));
    };
    const [l, t] = await both(run(this.ctx.legacy), run(this.ctx.target));
    return { l, t };
  }

  private async fetchRows(s: SideSql, tenant: string, segs: Segment[]): Promise<Map<string, KeyedRow>> {
    const p = new Params(s.d.engine);
    const ors = segs.map((seg) => {
      if (seg.below !== undefined) return `${s.keyCols()[0] as string} < ${p.add(seg.below.toString())}`;
      if (seg.lo !== undefined && seg.hi !== undefined) {
        const key = s.keyCols()[0] as string;
        return `(${key} >= ${p.add(seg.lo.toString())} AND ${key} <= ${p.add(seg.hi.toString())})`;
      }
      return `${s.d.md5Prefix(s.keyText(), (seg.prefix ?? '').length)} = ${p.add(seg.prefix ?? '')}`;
    });
    const extra = [s.tenantIs(p, tenant)];
    if (ors.length > 0) extra.push(`(${ors.join(' OR ')})`);
    const keyCols = s.keyCols();
    const sql = `SELECT ${[...keyCols, ...s.keyCanon(), s.rowHash()].join(', ')} FROM ${s.from()}${s.where(p, extra)}`;
    const rows = await s.conn.query(...p.bind(sql), LOCALIZATION_READ);
    const n = keyCols.length;
    const out = new Map<string, KeyedRow>();
    for (const r of rows) {
      const canon = r.slice(n, 2 * n).map((c) => c ?? '~');
      const id = JSON.stringify(canon);
      const seen = out.get(id);
      if (seen) seen.rows++;
      else out.set(id, { raw: r.slice(0, n), canon, hash: String(r[2 * n]), rows: 1 });
    }
    return out;
  }

  /** Returns the differing keys of one tenant (changed ones with their columns). */
  async tenant(
    tenant: string,
    l: TenantAgg,
    t: TenantAgg,
    start?: { seg: Segment; rows: number }[],
  ): Promise<{ keys: DifferingKey[]; differingRows: number }> {
    const leaves: Leaf[] = [];
    let frontier: { seg: Segment; depth: number }[];
    const intMode = isIntegerKey(this.ctx.check) && (l.min ?? t.min) !== undefined;
    if (start) {
      // differing buckets of the shared scan: fetch the small ones, bisect the large ones
      frontier = [];
      for (const b of start)
        if (b.seg.below !== undefined || b.rows <= BUCKET_FETCH_ROWS) leaves.push(b);
        else frontier.push({ seg: b.seg, depth: 1 });
    } else if (intMode) {
      const mins = [l.min, t.min].filter((v): v is string => v !== undefined).map((v) => BigInt(v));
      const maxs = [l.max, t.max].filter((v): v is string => v !== undefined).map((v) => BigInt(v));
      const lo = mins.reduce((a, b) => (b < a ? b : a));
      const hi = maxs.reduce((a, b) => (b > a ? b : a));
      frontier = [{ seg: { lo, hi }, depth: 1 }];
    } else frontier = [{ seg: { prefix: '' }, depth: 1 }];
    const total = Math.max(Number(l.count), Number(t.count));
    if (!start && total <= this.leaf) {
      leaves.push(...frontier.map((f) => ({ seg: f.seg, rows: total })));
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
          if (small) leaves.push({ seg: sub, rows });
          else next.push({ seg: sub, depth: f.depth + 1 });
        }
      }
      frontier = next;
    }
    const keys: DifferingKey[] = [];
    let differing = 0;
    const changed: KeyedRow[] = [];
    const chunks = fetchChunks(leaves, this.ctx.opts.fetchRows ?? FETCH_ROWS);
    const fetched = new Map<number, Promise<[Map<string, KeyedRow>, Map<string, KeyedRow>]>>();
    const fetch = (i: number): void => {
      const chunk = chunks[i];
      if (!chunk || fetched.has(i)) return;
      const read = both(
        this.fetchRows(this.ctx.legacy, tenant, chunk),
        this.fetchRows(this.ctx.target, tenant, chunk),
      );
      // a chunk read ahead and then not needed (the key limit was reached) must not fail the run
      read.catch(() => undefined);
      fetched.set(i, read);
    };
    for (let i = 0; i < chunks.length; i++) {
      if (this.found >= this.max) {
        this.truncated = true;
        break;
      }
      // the next chunks are read while this one is compared
      for (let j = i; j < i + FETCHES_AT_ONCE; j++) fetch(j);
      const [lr, tr] = (await fetched.get(i)) ?? [new Map<string, KeyedRow>(), new Map<string, KeyedRow>()];
      // a key on several rows of one side is reported as such, not compared value by value
      for (const [side, rowsOf] of [
        ['Legacy', lr],
        ['Target', tr],
      ] as const)
        for (const [id, row] of rowsOf)
          if (row.rows > 1) {
            differing += row.rows - 1;
            if (this.found < this.max)
              keys.push({ tenant, key: keyLabel(row.canon), kind: `duplicateIn${side}`, rows: row.rows });
            this.found++;
            lr.delete(id);
            tr.delete(id);
          }
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
    const extra = [s.tenantIs(p, tenant), s.keyIn(p, batch)];
    const n = ctx.check.key.length;
    const rows: Row[] = await s.conn.query(
      ...p.bind(
        `SELECT ${[...s.keyCanon(), ...s.columnCanon()].join(', ')} FROM ${s.from()}${s.where(p, extra)}`,
      ),
      LOCALIZATION_READ,
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

/** What the shared scans found for one check: per-tenant totals of each side, and its buckets. */
interface ScannedCheck {
  l: Map<string, TenantAgg>;
  t: Map<string, TenantAgg>;
  buckets?: {
    def: BucketDef;
    l: Map<string, Map<number, BucketAgg>>;
    t: Map<string, Map<number, BucketAgg>>;
  };
}

function tenantAggs(check: CheckPlan, totals: Map<string, TenantTotals>): Map<string, TenantAgg> {
  const out = new Map<string, TenantAgg>();
  for (const [tenant, x] of totals) {
    // a member whose folded query filters the table's rows has its own count; a tenant none of
    // whose rows pass the filter is absent, as it is from the query's own result
    const own = x.counts.get(check.name);
    if (own === 0n) continue;
    const agg: TenantAgg = { count: (own ?? x.count).toString(), sums: [], hash: '0' };
    if (check.type === 'sum') {
      const sums = x.sums.get(check.name) ?? [];
      agg.sums = check.columns.map((col, i) =>
        toScale(sums[i] ?? null, col.type === 'decimal' ? col.scale : 0),
      );
    }
    if (check.type === 'rowHash') {
      agg.hash = (x.hashes.get(check.name) ?? 0n).toString();
      const range = x.keyRange.get(check.name);
      if (range?.min !== undefined) agg.min = range.min;
      if (range?.max !== undefined) agg.max = range.max;
    }
    out.set(tenant, agg);
  }
  return out;
}

/** Differing buckets of one tenant, as key-range segments with the larger side's row count. */
function differingBuckets(
  def: BucketDef,
  l: Map<number, BucketAgg> | undefined,
  t: Map<number, BucketAgg> | undefined,
): { seg: Segment; rows: number }[] {
  const ids = [...new Set([...(l?.keys() ?? []), ...(t?.keys() ?? [])])].sort((a, b) => a - b);
  const out: { seg: Segment; rows: number }[] = [];
  for (const id of ids) {
    const a = l?.get(id);
    const b = t?.get(id);
    if (a && b && a.n === b.n && a.h === b.h) continue;
    const n = (a?.n ?? 0n) > (b?.n ?? 0n) ? (a?.n ?? 0n) : (b?.n ?? 0n);
    out.push({ seg: bucketRange(def, id), rows: Number(n) });
  }
  return out;
}

async function runAggregateCheck(
  ctx: CheckContext,
  maxKeys: number,
  scanned: ScannedCheck,
): Promise<CheckResult> {
  const { check } = ctx;
  const { l, t } = scanned;
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
    const localizer = (): Localizer =>
      new Localizer(ctx, maxKeys, ctx.opts.segments ?? 16, ctx.opts.leafRows ?? 256);
    const differing = tenants.filter((tn) => {
      const a = l.get(tn) ?? empty;
      const b = t.get(tn) ?? empty;
      return a.count !== b.count || a.hash !== b.hash;
    });
    const localize = (
      loc: Localizer,
      tn: string,
    ): Promise<{ keys: DifferingKey[]; differingRows: number }> => {
      aborted(ctx.opts.signal);
      const bk = scanned.buckets;
      const start = bk ? differingBuckets(bk.def, bk.l.get(tn), bk.t.get(tn)) : undefined;
      return loc.tenant(tn, l.get(tn) ?? empty, t.get(tn) ?? empty, start);
    };
    // the differing tenants are localized a few at a time, each by a localizer of its own; their
    // keys are then taken in tenant order. While the keys found so far stay under the limit this
    // is exactly what one localizer going through the tenants in turn finds; from the first tenant
    // that reaches it on, the tenants are localized again one after the other, by one localizer
    // that starts from the keys found before it, so the truncated list is the sequential one too.
    const alone = await mapLimit(differing, TENANTS_AT_ONCE, async (tn) => {
      const loc = localizer();
      return { r: await localize(loc, tn), loc };
    });
    const found = new Map<string, number>();
    let before = 0;
    let i = 0;
    for (; i < differing.length; i++) {
      const x = alone[i];
      if (!x || x.loc.truncated || before + x.loc.found >= maxKeys) break;
      differingKeys.push(...x.r.keys);
      found.set(differing[i] as string, x.r.differingRows);
      before += x.loc.found;
    }
    const loc = localizer();
    loc.found = before;
    for (; i < differing.length; i++) {
      const tn = differing[i] as string;
      const r = await localize(loc, tn);
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
  const inner = `SELECT ${s.groupTenant()} AS t, ${s
    .keyCols()
    .map((k, i) => `${k} AS k${i}`)
    .join(
      ', ',
    )}, ROW_NUMBER() OVER (PARTITION BY ${s.groupTenant()} ORDER BY ${order}) AS rn FROM ${s.from()}${s.where(p)}`;
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

/** A shared-scan member before passes are planned. */
interface ScanMember {
  check: CheckPlan;
  ctx: CheckContext;
  bucket?: BucketDef;
}

/** The key range of a bucketed check from the sides that are tables (an index lookup each). */
async function keyBounds(ctx: CheckContext): Promise<{ min: bigint; max: bigint } | undefined> {
  const sides = [ctx.legacy, ctx.target].filter((s) => s.src.table !== undefined);
  if (sides.length === 0) return undefined;
  const ranges = await Promise.all(
    sides.map(async (s) => {
      const key = s.keyCols()[0] as string;
      const rows = await s.conn.query(`SELECT MIN(${key}), MAX(${key}) FROM ${s.from()}`);
      const [min, max] = rows[0] ?? [];
      return min === null || min === undefined || max === null || max === undefined
        ? undefined
        : { min: BigInt(min), max: BigInt(max) };
    }),
  );
  const known = ranges.filter((r): r is { min: bigint; max: bigint } => r !== undefined);
  if (known.length === 0) return undefined;
  return {
    min: known.reduce((m, r) => (r.min < m ? r.min : m), known[0]?.min ?? 0n),
    max: known.reduce((m, r) => (r.max > m ? r.max : m), known[0]?.max ?? 0n),
  };
}

/**
 * Runs passes one after the other on one database; a failed pass fails only its own checks.
 * Each pass's result is its own promise, settled as soon as that pass is done (never rejected:
 * an error is its value), so a check can go on with its localization while later passes run.
 */
function runPasses(passes: Pass[], opts: RunOptions): Map<Pass, Promise<Map<string, TenantTotals> | Error>> {
  const out = new Map<Pass, Promise<Map<string, TenantTotals> | Error>>();
  const failed = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
  // each pass's statement goes out as soon as the previous pass's rows are in: the rows are
  // added up meanwhile (passTotals yields to the event loop), the database does not wait for it
  let previous: Promise<unknown> = Promise.resolve();
  for (const pass of passes) {
    const rows = previous.then(() => {
      aborted(opts.signal);
      return passRows(pass);
    });
    previous = rows.catch(() => undefined);
    out.set(
      pass,
      rows.then(
        (r) => passTotals(pass, r).catch(failed),
        (e: unknown) => failed(e),
      ),
    );
  }
  return out;
}

/**
 * The bucket layouts of the rowHash checks with one integer key (a MIN/MAX index lookup on each
 * table side), all at once. A check whose lookup fails gets none: it localizes by bisection, and
 * its own scan reports the error.
 */
async function bucketLayouts(members: ScanMember[], opts: RunOptions): Promise<void> {
  await Promise.all(
    members
      .filter((m) => m.check.type === 'rowHash' && isIntegerKey(m.check))
      .map(async (m) => {
        try {
          const bounds = await keyBounds(m.ctx);
          if (!bounds) return;
          const wide = bounds.max - bounds.min + 1n >= BigInt(opts.splitKeys ?? 200_000);
          const buckets = opts.buckets ?? bucketCount(bounds.min, bounds.max);
          m.bucket = bucketLayout(bounds.min, bounds.max, buckets, wide ? (opts.splitParts ?? 1) : 1);
        } catch {
          // no layout
        }
      }),
  );
}

/**
 * The shared scans of every count, sum and rowHash check (their bucket layouts already set by
 * `bucketLayouts`): one pass per source and side, both databases at once. Returns per check a
 * promise of what it needs, or of the error of a pass it was part of, settled when its own two
 * passes are done.
 */
function sharedScans(
  members: ScanMember[],
  opts: RunOptions,
  shared: boolean,
): Map<CheckPlan, Promise<ScannedCheck | Error>> {
  const out = new Map<CheckPlan, Promise<ScannedCheck | Error>>();
  // without sharing (the reference algorithm), each check is its own source
  const own = (
    m: ScanMember,
    s: SideSql,
  ): { check: CheckPlan; sql: SideSql; bucket?: BucketDef; key?: string } => {
    const x: { check: CheckPlan; sql: SideSql; bucket?: BucketDef; key?: string } = {
      check: m.check,
      sql: s,
    };
    if (m.bucket) x.bucket = m.bucket;
    if (!shared) x.key = m.check.name;
    return x;
  };
  const legacyPasses = planPasses(
    'legacy',
    members.map((m) => own(m, m.ctx.legacy)),
  );
  const targetPasses = planPasses(
    'target',
    members.map((m) => own(m, m.ctx.target)),
  );
  for (const m of members) m.ctx.progress('aggregate');
  const l = runPasses(legacyPasses, opts);
  const t = runPasses(targetPasses, opts);
  const find = (passes: Pass[], check: CheckPlan): Pass | undefined =>
    passes.find((p) => p.members.some((x) => x.check === check));
  for (const m of members) {
    const lp = find(legacyPasses, m.check);
    const tp = find(targetPasses, m.check);
    const scanned = async (): Promise<ScannedCheck | Error> => {
      const [lr, tr] = await Promise.all([lp ? l.get(lp) : undefined, tp ? t.get(tp) : undefined]);
      if (lr instanceof Error || tr instanceof Error || !lr || !tr)
        return lr instanceof Error ? lr : tr instanceof Error ? tr : new Error('no scan ran');
      const out: ScannedCheck = { l: tenantAggs(m.check, lr), t: tenantAggs(m.check, tr) };
      if (m.bucket && lp?.bucketed?.check === m.check && tp?.bucketed?.check === m.check) {
        const per = (totals: Map<string, TenantTotals>): Map<string, Map<number, BucketAgg>> =>
          new Map([...totals].map(([tenant, x]) => [tenant, x.buckets]));
        out.buckets = { def: m.bucket, l: per(lr), t: per(tr) };
      }
      return out;
    };
    out.set(m.check, scanned());
  }
  return out;
}

/**
 * Reads the declared column types of every table side (one information_schema query per table),
 * so canonical text casts only where a type needs it. A failed lookup keeps the full casts.
 */
async function lookUpDeclaredTypes(contexts: CheckContext[]): Promise<void> {
  const cache = new Map<string, Promise<Declared | undefined>>();
  const sides = contexts.flatMap((c) => [c.legacy, c.target]).filter((s) => s.table() !== undefined);
  await Promise.all(
    sides.map(async (s) => {
      const id = `${s.side}\u0000${s.table() ?? ''}`;
      if (!cache.has(id))
        cache.set(
          id,
          declaredColumns(s.conn, s.table() ?? '').then(
            (d) => (d.size > 0 ? d : undefined),
            () => undefined,
          ),
        );
      const declared = await cache.get(id);
      if (declared) s.declared = declared;
    }),
  );
  // PostgreSQL query sides (joins): their result columns' types from the row description
  const queries = contexts
    .flatMap((c) => [c.legacy, c.target])
    .filter(
      (s) => s.table() === undefined && s.src.query !== undefined && s.conn.resultColumns !== undefined,
    );
  await Promise.all(
    queries.map(async (s) => {
      const query = s.src.query ?? '';
      const id = `${s.side}\u0000query\u0000${query}`;
      if (!cache.has(id))
        cache.set(
          id,
          (s.conn.resultColumns?.(query) ?? Promise.resolve([])).then(
            (cols) => resultDeclared(cols),
            () => undefined,
          ),
        );
      const declared = await cache.get(id);
      if (declared) s.declared = declared;
    }),
  );
}

/**
 * A query's result columns as declarations (nullable: a query says nothing about NULLs), keyed
 * by lower-case name as table columns are; none when two names differ only in case.
 */
function resultDeclared(cols: ResultColumn[]): Declared | undefined {
  const out: Declared = new Map();
  for (const c of cols) {
    const key = c.name.toLowerCase();
    if (out.has(key)) return undefined;
    out.set(key, { type: c.type, scale: c.scale, datetimePrecision: null, charset: null, nullable: true });
  }
  return out.size > 0 ? out : undefined;
}

const SCANNED = new Set<CheckPlan['type']>(['count', 'sum', 'rowHash']);

/** Reads a simple query side as its table when every column the side names is a plain one. */
function foldSide(s: SideSql): void {
  if (s.src.query === undefined) return;
  const fold = foldQuery(s.src.query, s.d.engine);
  if (!fold) return;
  if (s.referencedColumns().every((name) => foldedColumn(fold, name, s.d.engine) !== undefined))
    s.fold = fold;
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
  let windowError: string | undefined;
  if (plan.window)
    try {
      const w = resolveWindow(plan.window, now, opts.frozenAt);
      if (w.start) filters.windowStart = w.start;
      if (w.end) filters.windowEnd = w.end;
    } catch (e) {
      windowError = errMessage(e);
    }
  const planTenants = plan.tenants;
  if (planTenants && opts.tenants && opts.tenants.length > 0)
    filters.tenants = planTenants.filter((t) => opts.tenants?.includes(t));
  else if (planTenants) filters.tenants = planTenants;
  else if (opts.tenants && opts.tenants.length > 0) filters.tenants = opts.tenants;
  if (opts.shard) filters.shard = opts.shard;
  const checks = checksForShard(plan, opts.shard);
  const results: CheckResult[] = [];
  let runError: string | undefined = windowError;
  const maxKeys = opts.maxDifferingKeys ?? 1000;
  const contexts = checks.map((check, i): CheckContext => {
    const progress = (phase: Progress['phase'], tenant?: string, rows?: number): void => {
      const p: Progress = { checkIndex: i + 1, checkCount: checks.length, check: check.name, phase };
      if (tenant !== undefined) p.tenant = tenant;
      if (rows !== undefined) p.rows = rows;
      opts.onProgress?.(p);
    };
    return {
      check,
      legacy: new SideSql('legacy', connections.legacy, check.legacy, check, plan, filters),
      target: new SideSql('target', connections.target, check.target, check, plan, filters),
      opts,
      progress,
    };
  });
  const scannable = contexts.filter((c) => SCANNED.has(c.check.type));
  // key-range shards filter every check by its own key: such checks cannot share a scan
  const shared =
    opts.sharedScans !== false && !(opts.shard && opts.shard.count > 1 && opts.shard.by === 'KeyRange');
  if (shared && opts.foldQueries !== false)
    for (const ctx of scannable) for (const s of [ctx.legacy, ctx.target]) foldSide(s);
  // the preflight, the declared types' lookups and the bucket layouts' index lookups are all
  // small statements: they run at the same time (read-only; a failed preflight still fails the run)
  const members: ScanMember[] = scannable.map((ctx) => ({ check: ctx.check, ctx }));
  if (!runError) {
    const [pre] = await Promise.allSettled([
      preflight(plan, connections),
      opts.declaredTypes !== false ? lookUpDeclaredTypes(contexts) : Promise.resolve(),
      shared ? bucketLayouts(members, opts) : Promise.resolve(),
    ]);
    if (pre.status === 'rejected') runError = errMessage(pre.reason);
  }
  // each count/sum/rowHash check goes on (localizing its differences) as soon as its own passes
  // are done, while the passes of later checks still run; the promises never reject
  const aggregated = new Map<CheckPlan, Promise<CheckResult | Error>>();
  if (!runError && scannable.length > 0)
    try {
      aborted(opts.signal);
      const scans = sharedScans(members, opts, shared);
      for (const ctx of scannable) {
        const scanned = scans.get(ctx.check) ?? Promise.resolve(new Error('the check was not scanned'));
        aggregated.set(
          ctx.check,
          (async (): Promise<CheckResult | Error> => {
            try {
              const x = await scanned;
              return x instanceof Error ? x : await runAggregateCheck(ctx, maxKeys, x);
            } catch (e) {
              return e instanceof Error ? e : new Error(String(e));
            }
          })(),
        );
      }
    } catch (e) {
      runError = errMessage(e);
    }
  for (const ctx of contexts) {
    const { check, progress } = ctx;
    if (runError) {
      results.push(errorCheck(check.name, check.type, check.thresholds, runError));
      continue;
    }
    try {
      aborted(opts.signal);
      let r: CheckResult;
      if (check.type === 'sample')
        r = await runSampleCheck(ctx, check.seed ?? Math.random().toString(36).slice(2, 10));
      else if (check.type === 'customSql') r = await runCustomCheck(ctx, filters);
      else {
        const done = await (aggregated.get(check) ?? new Error('the check was not scanned'));
        if (done instanceof Error) throw done;
        r = done;
      }
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
