/**
 * Shared scans: the count, sum and rowHash checks of a run read each source (a table or a query,
 * with its window and tenant filters) once per side, in one statement that yields, per tenant,
 * the row count, the sums every sum check over that source needs and the row-hash sum of every
 * rowHash check over it.
 *
 * A rowHash check with one integer key also gets bucket checksums from that same statement: the
 * rows are grouped by tenant and by key range (`bucket`), so localizing a difference needs no new
 * scan, only primary-key range reads of the buckets that differ. Per-tenant totals are the sums
 * of a tenant's buckets, added exactly here.
 *
 * Both databases scan at the same time: all legacy passes run one after the other on the legacy
 * database while the target passes run on the target database.
 */
import { addScaled, formatScaled, parseDecimal, parseInteger, type Scaled } from './decimal.js';
import { Params, type Side } from './dialect.js';
import type { CheckPlan } from './plan.js';
import type { Row } from './connection.js';
import type { SideSql } from './side-sql.js';

/** Key ranges of one integer key: bucket b ≥ 0 holds keys lo + b·width … lo + (b+1)·width − 1, bucket −1 the keys below lo. */
export interface BucketDef {
  lo: bigint;
  width: bigint;
  /**
   * Bucket boundaries (keys) where the pass is split into statements that run at the same time,
   * each over one key range (a primary-key range read): none, or one less than the parts.
   */
  splits?: bigint[];
}

export interface BucketAgg {
  n: bigint;
  h: bigint;
}

/** What one pass found for one tenant. */
export interface TenantTotals {
  count: bigint;
  /** check name → one (unscaled, exact) sum per column, null when every value was NULL */
  sums: Map<string, (string | null)[]>;
  /** check name → row-hash sum */
  hashes: Map<string, bigint>;
  /** bucket id → count and hash sum of the pass's bucketed rowHash check */
  buckets: Map<number, BucketAgg>;
  /** check name → smallest and largest key (unbucketed rowHash checks with an integer key) */
  keyRange: Map<string, { min?: string; max?: string }>;
  /** check name → its own row count, for members whose folded query filters the pass's rows */
  counts: Map<string, bigint>;
}

export interface Pass {
  side: Side;
  /** The SideSql of the first member: every member reads the same source with the same filters. */
  sql: SideSql;
  members: { check: CheckPlan; sql: SideSql }[];
  /** The rowHash check whose key ranges this pass groups by. */
  bucketed?: { check: CheckPlan; def: BucketDef };
}

/** Identity of what a side reads: same FROM item and same WHERE (bound) → the same rows. */
export function sourceKey(s: SideSql): string {
  const p = new Params(s.d.engine);
  // a folded query's own predicate is applied per aggregate: it reads the table's rows
  return JSON.stringify([s.conn.label, s.from(true), ...p.bind(s.where(p, [], false))]);
}

/** A member's own row filter inside a pass (a folded query's predicate), if any. */
function memberFilter(sql: SideSql): string | undefined {
  return sql.fold?.filter;
}

/**
 * Groups the members of one side into passes. Checks over the same source (or with the same
 * `key`, when given) share a pass; a pass holds at most one bucketed rowHash check (the buckets
 * are that check's key ranges).
 */
export function planPasses(
  side: Side,
  members: { check: CheckPlan; sql: SideSql; bucket?: BucketDef; key?: string }[],
): Pass[] {
  const passes: Pass[] = [];
  const bySource = new Map<string, Pass[]>();
  for (const m of members) {
    const key = m.key ?? sourceKey(m.sql);
    const list = bySource.get(key) ?? [];
    let pass = list.find((p) => !m.bucket || !p.bucketed);
    if (!pass) {
      pass = { side, sql: m.sql, members: [] };
      list.push(pass);
      passes.push(pass);
      bySource.set(key, list);
    }
    pass.members.push({ check: m.check, sql: m.sql });
    if (m.bucket) pass.bucketed = { check: m.check, def: m.bucket };
  }
  return passes;
}

/** The key column of a bucketed check on one side. */
function bucketKey(s: SideSql): string {
  return s.keyCols()[0] as string;
}

/** The bucket id of a row, the same integer on both engines. */
export function bucketExpr(s: SideSql, def: BucketDef): string {
  const key = bucketKey(s);
  // validated integers inlined: the expression is in SELECT and GROUP BY
  return `CASE WHEN ${key} < ${def.lo.toString()} THEN -1 ELSE ${s.d.intDiv(`${key} - ${def.lo.toString()}`, def.width.toString())} END`;
}

/** An unbucketed rowHash check with an integer key: its per-tenant key range seeds bisection. */
function wantsKeyRange(pass: Pass, check: CheckPlan): boolean {
  return !pass.bucketed && isIntegerKey(check);
}

export function isIntegerKey(c: CheckPlan): boolean {
  if (c.key.length !== 1) return false;
  return c.columns.find((m) => m.name === c.key[0])?.type === 'integer';
}

/** One aggregate of a pass: its function and the per-row expression it aggregates. */
interface Aggregate {
  fn: 'SUM' | 'COUNT' | 'MIN' | 'MAX' | 'HASH_SUM';
  arg: string;
}

/** An aggregate over an expression (a hash sum is 0, not NULL, over no row). */
function renderAggregate(a: Aggregate, arg = a.arg): string {
  return a.fn === 'HASH_SUM' ? `COALESCE(SUM(${arg}), 0)` : `${a.fn}(${arg})`;
}

/**
 * The aggregates of a pass after COUNT(*), in the order `passTotals` reads them: every sum
 * column's SUM, then each rowHash check's hash sum (and key range). The same aggregate asked by
 * several checks (two sum checks over one column, two rowHash checks hashing the same columns)
 * is computed once: the statement has each distinct expression once, and `aggregateIndexes`
 * maps each member's values to their positions.
 */
function memberAggregates(pass: Pass): Aggregate[][] {
  return pass.members.map((m) => {
    const filter = memberFilter(m.sql);
    // a filtered member's values count only on its own rows; its first aggregate is its count
    const own = (e: string): string => (filter === undefined ? e : `CASE WHEN (${filter}) THEN ${e} END`);
    const out: Aggregate[] = filter === undefined ? [] : [{ fn: 'COUNT', arg: own('1') }];
    if (m.check.type === 'sum')
      out.push(
        ...m.check.columns.map((col): Aggregate => ({ fn: 'SUM', arg: own(m.sql.col(m.sql.colName(col))) })),
      );
    if (m.check.type !== 'rowHash') return out;
    out.push({ fn: 'HASH_SUM', arg: own(m.sql.rowHash()) });
    if (wantsKeyRange(pass, m.check))
      out.push({ fn: 'MIN', arg: own(bucketKey(m.sql)) }, { fn: 'MAX', arg: own(bucketKey(m.sql)) });
    return out;
  });
}

/** The distinct aggregates of a pass, each once. */
function passAggregates(pass: Pass): Aggregate[] {
  const seen = new Map<string, Aggregate>();
  for (const a of memberAggregates(pass).flat())
    seen.set(renderAggregate(a), seen.get(renderAggregate(a)) ?? a);
  return [...seen.values()];
}

/** Per member, the positions (0-based, after COUNT(*)) of its aggregates in the statement. */
function aggregateIndexes(pass: Pass): number[][] {
  const distinct = passAggregates(pass).map((a) => renderAggregate(a));
  return memberAggregates(pass).map((list) => list.map((a) => distinct.indexOf(renderAggregate(a))));
}

/** One key range of a split pass: keys at or above `from` (and NULL keys) and below `until`. */
export interface KeyPart {
  from?: bigint;
  until?: bigint;
}

/** The key ranges a pass runs as (one, the whole source, unless its buckets are split). */
export function passParts(pass: Pass): KeyPart[] {
  const splits = pass.bucketed?.def.splits ?? [];
  if (splits.length === 0) return [{}];
  return [undefined, ...splits].map((from, i) => {
    const part: KeyPart = {};
    if (from !== undefined) part.from = from;
    const until = splits[i];
    if (until !== undefined) part.until = until;
    return part;
  });
}

/** The one statement of a pass (or of one key range of it). Columns: tenant, [bucket], COUNT(*), sums…, hashes…. */
export function passQuery(pass: Pass, part: KeyPart = {}): [string, unknown[]] {
  const s = pass.sql;
  const p = new Params(s.d.engine);
  const range: string[] = [];
  if (pass.bucketed && (part.from !== undefined || part.until !== undefined)) {
    const own = pass.members.find((m) => m.check === pass.bucketed?.check)?.sql ?? s;
    const key = bucketKey(own);
    // validated integers inlined, as in the bucket expression; the last range keeps NULL keys
    if (part.from !== undefined)
      range.push(
        part.until === undefined
          ? `(${key} >= ${part.from.toString()} OR ${key} IS NULL)`
          : `${key} >= ${part.from.toString()}`,
      );
    if (part.until !== undefined) range.push(`${key} < ${part.until.toString()}`);
  }
  const bucket = pass.bucketed
    ? bucketExpr(pass.members.find((m) => m.check === pass.bucketed?.check)?.sql ?? s, pass.bucketed.def)
    : undefined;
  const aggregates = passAggregates(pass);
  const from = `${s.from(true)}${s.where(p, range, false)}`;
  if (bucket !== undefined && s.d.engine === 'postgres') {
    // PostgreSQL takes the (tenant, bucket) grouping for one group per key, so it sorts every
    // row it groups: the per-row expressions (the row hash, the summed columns) are computed in
    // a subquery first, so that what is grouped is a few numbers per row, not the row's columns
    // (OFFSET 0 keeps the planner from merging the subquery back into the grouping)
    const inner = [
      `${s.groupTenant()} AS t`,
      `${bucket} AS b`,
      ...aggregates.map((a, i) => `${a.arg} AS a${i}`),
    ];
    const outer = ['t', 'b', 'COUNT(*)', ...aggregates.map((a, i) => renderAggregate(a, `a${i}`))];
    return p.bind(
      `SELECT ${outer.join(', ')} FROM (SELECT ${inner.join(', ')} FROM ${from} OFFSET 0) AS pass GROUP BY 1, 2`,
    );
  }
  // grouped by position: an alias could be taken for a column of the source by PostgreSQL
  const sel = [s.groupTenant()];
  const group = ['1'];
  if (bucket !== undefined) {
    sel.push(bucket);
    group.push('2');
  }
  sel.push('COUNT(*)');
  for (const a of aggregates) sel.push(renderAggregate(a));
  // MariaDB sorts GROUP BY results unless told the order does not matter
  const unordered = s.d.engine === 'mysql' ? ' ORDER BY NULL' : '';
  return p.bind(`SELECT ${sel.join(', ')} FROM ${from} GROUP BY ${group.join(', ')}${unordered}`);
}

/** Integer text from the database (a hash sum may come back as `123.0`) → BigInt; NULL → 0. */
function bigint(text: string | null | undefined): bigint {
  return text === null || text === undefined ? 0n : parseInteger(text);
}

/** Aggregate kinds as `passTotals` adds them up. */
const enum Kind {
  Sum,
  Integer,
  Cell,
}

/** What a pass's rows add up to for one tenant, per distinct aggregate of the statement. */
interface Accumulated {
  /** rows (a Number: exact far beyond any table's row count) */
  count: number;
  /** SUM aggregates: null until a value that is not NULL */
  sum: (Scaled | null)[];
  /** COUNT and HASH_SUM aggregates */
  int: bigint[];
  /** MIN/MAX aggregates (unbucketed passes, one row per tenant): the cell */
  cell: (string | null)[];
  buckets: Map<number, BucketAgg>;
}

/** Rows handled between two turns of the event loop, so that the next pass's statement goes out meanwhile. */
const ROWS_PER_TURN = 4096;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The statements of a pass (its key ranges at the same time, each on a connection of the pool). */
export async function passRows(pass: Pass): Promise<Row[]> {
  const parts = await Promise.all(
    passParts(pass).map((part) => pass.sql.conn.query(...passQuery(pass, part))),
  );
  return parts.flat();
}

/**
 * Adds a pass's rows up per tenant. Every distinct aggregate is accumulated once per tenant, as
 * exact integers (sums as scaled integers, formatted once at the end), and the work yields to the
 * event loop every few thousand rows: a 1M-row pass grouped by tenant and bucket returns about
 * 50,000 rows, which took a second of CPU when every addition went through decimal text, while
 * the database waited for its next statement.
 */
export async function passTotals(pass: Pass, rows: Row[]): Promise<Map<string, TenantTotals>> {
  const aggregates = passAggregates(pass);
  const indexes = aggregateIndexes(pass);
  const first = pass.bucketed ? 3 : 2;
  const bucketed = pass.members.findIndex((m) => m.check === pass.bucketed?.check);
  const bucketedSql = pass.members[bucketed]?.sql;
  const bucketedFilter = bucketedSql !== undefined && memberFilter(bucketedSql) !== undefined;
  const bucketedIndexes = indexes[bucketed] ?? [];
  // the bucketed member's own count (a filtered member's first aggregate) and its hash
  const ownAt = bucketedFilter ? bucketedIndexes[0] : undefined;
  const hashAt = bucketedIndexes[bucketedFilter ? 1 : 0];
  const kinds = aggregates.map((a) =>
    a.fn === 'SUM' ? Kind.Sum : a.fn === 'COUNT' || a.fn === 'HASH_SUM' ? Kind.Integer : Kind.Cell,
  );
  const acc = new Map<string, Accumulated>();
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % ROWS_PER_TURN === 0) await nextTurn();
    const r = rows[i] as Row;
    const tenant = String(r[0]);
    let t = acc.get(tenant);
    if (!t) {
      t = {
        count: 0,
        sum: aggregates.map(() => null),
        int: aggregates.map(() => 0n),
        cell: aggregates.map(() => null),
        buckets: new Map(),
      };
      acc.set(tenant, t);
    }
    const n = Number(r[first - 1] ?? 0);
    t.count += n;
    for (let k = 0; k < kinds.length; k++) {
      const v = r[first + k] ?? null;
      const kind = kinds[k];
      if (kind === Kind.Sum) {
        if (v !== null) {
          const x = parseDecimal(v);
          const sum = t.sum[k] ?? null;
          t.sum[k] = sum === null ? x : addScaled(sum, x);
        }
      } else if (kind === Kind.Integer) {
        if (v !== null) t.int[k] = (t.int[k] ?? 0n) + bigint(v);
      } else t.cell[k] = v;
    }
    if (pass.bucketed && hashAt !== undefined) {
      const own = ownAt === undefined ? BigInt(n) : bigint(r[first + ownAt]);
      // a bucket without rows of a filtered member is absent, as from its query
      if (own > 0n) t.buckets.set(Number(r[1]), { n: own, h: bigint(r[first + hashAt]) });
    }
  }
  const out = new Map<string, TenantTotals>();
  for (const [tenant, a] of acc) {
    const t: TenantTotals = {
      count: BigInt(a.count),
      sums: new Map(),
      hashes: new Map(),
      buckets: a.buckets,
      keyRange: new Map(),
      counts: new Map(),
    };
    const value = (k: number): Scaled | bigint | string | null => {
      const kind = kinds[k];
      if (kind === Kind.Sum) return a.sum[k] ?? null;
      if (kind === Kind.Integer) return a.int[k] ?? 0n;
      return a.cell[k] ?? null;
    };
    pass.members.forEach((m, j) => {
      const at = (indexes[j] ?? []).map(value);
      if (memberFilter(m.sql) !== undefined) t.counts.set(m.check.name, (at.shift() as bigint | null) ?? 0n);
      if (m.check.type === 'sum')
        t.sums.set(
          m.check.name,
          m.check.columns.map((_, k) => {
            const v = at[k] as Scaled | null | undefined;
            return v ? formatScaled(v) : null;
          }),
        );
      else if (m.check.type === 'rowHash') {
        t.hashes.set(m.check.name, (at[0] as bigint | null) ?? 0n);
        if (wantsKeyRange(pass, m.check)) {
          const range: { min?: string; max?: string } = {};
          const [, min, max] = at as (string | null)[];
          if (min !== null && min !== undefined) range.min = min;
          if (max !== null && max !== undefined) range.max = max;
          t.keyRange.set(m.check.name, range);
        }
      }
    });
    out.set(tenant, t);
  }
  return out;
}

/** The key range of a bucket: [lo, hi] inclusive, or every key below `below`. */
export function bucketRange(def: BucketDef, bucket: number): { lo: bigint; hi: bigint } | { below: bigint } {
  if (bucket < 0) return { below: def.lo };
  const lo = def.lo + BigInt(bucket) * def.width;
  return { lo, hi: lo + def.width - 1n };
}

/** Keys per bucket the default bucket count aims at. */
const KEYS_PER_BUCKET = 1000n;

/**
 * The default bucket count of a key span: about one bucket per 1,000 keys, at least 256 and at
 * most 1,024. A differing bucket is fetched row by row, so narrower buckets of a large table
 * fetch fewer rows for a difference (at 1M orders: 1,024 buckets of about 980 keys, about 250
 * rows of the largest tenant, instead of 256 of about 3,900 keys and 1,000 rows); the passes
 * group into at most 1,024 buckets per tenant.
 */
export function bucketCount(min: bigint, max: bigint): number {
  const span = max - min + 1n;
  const n = span <= 0n ? 0n : (span + KEYS_PER_BUCKET / 2n) / KEYS_PER_BUCKET;
  return Number(n < 256n ? 256n : n > 1024n ? 1024n : n);
}

/**
 * Bucket layout of an integer key from its smallest and largest value: about `buckets` ranges of
 * equal width (at least 1).
 */
export function bucketLayout(min: bigint, max: bigint, buckets: number, parts = 1): BucketDef {
  const span = max - min + 1n;
  const w = span <= 0n ? 1n : (span + BigInt(buckets) - 1n) / BigInt(buckets);
  const def: BucketDef = { lo: min, width: w < 1n ? 1n : w };
  // split at bucket boundaries, so no bucket is in two statements
  const splits: bigint[] = [];
  for (let i = 1; i < parts; i++) {
    const at = min + def.width * BigInt(Math.floor((buckets * i) / parts));
    if (at > min && at <= max && !splits.includes(at)) splits.push(at);
  }
  if (splits.length > 0) def.splits = splits;
  return def;
}
