/**
 * SQL for one side of one check: the FROM item, canonical text of keys and columns, the row
 * hash and the WHERE conditions shared by every statement of the check (window, tenants, shard).
 */
import { dialectFor, Params, type Dialect, type Side } from './dialect.js';
import type { SqlConnection } from './connection.js';
import type { CheckPlan, ColumnMapping, ReconciliationPlan, SideSource } from './plan.js';
import type { ShardSpec } from './result.js';
import { lightValue, type Declared } from './declared-types.js';
import { foldedColumn, type FoldedQuery } from './fold.js';

export type Cell = string | null;

export interface RunFilters {
  /** Rows with the window column at or after this instant… */
  windowStart?: Date;
  /** …and before this one. */
  windowEnd?: Date;
  tenants?: string[];
  shard?: ShardSpec;
}

/** A fixed UTC offset as a legacy time zone: `+03:00`, `-05:30`. */
const FIXED_OFFSET = /^([+-])(\d{2}):(\d{2})$/;

/** MySQL/MariaDB integer column types (information_schema DATA_TYPE). */
const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint']);

const KEY_COLUMN_DEFAULT: Pick<ColumnMapping, 'type' | 'scale' | 'transforms' | 'precision'> = {
  type: 'text',
  scale: 0,
  transforms: [],
  precision: 0,
};

/** Everything needed to write SQL for one side of one check. */
export class SideSql {
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
    const table = this.table();
    if (table)
      return `${this.d.quote(table)} AS src${aggregate && this.d.engine === 'mysql' ? ' USE INDEX FOR GROUP BY ()' : ''}`;
    return `(${this.src.query ?? ''}) AS src`;
  }

  /**
   * A simple query side read as its table (fold.ts): set by the engine only when every column
   * this side names is one of the query's plain columns.
   */
  fold?: FoldedQuery;

  /** The table this side reads directly: its own, or the table of its folded query. */
  table(): string | undefined {
    return this.src.table ?? this.fold?.table;
  }

  /** The source's column behind a name (a folded query's output name → its table column). */
  sourceColumn(name: string): string {
    return this.fold ? (foldedColumn(this.fold, name, this.d.engine) ?? name) : name;
  }

  col(name: string): string {
    return `src.${this.d.quote(this.sourceColumn(name))}`;
  }

  /** Every column name this side refers to (tenant, window, keys, compared columns). */
  referencedColumns(): string[] {
    const names = [this.src.tenantColumn];
    if (this.plan.window) names.push(this.src.windowColumn ?? this.plan.window.column);
    for (const k of this.check.key) names.push(this.colName(this.keyMapping(k)));
    for (const c of this.check.columns) names.push(this.colName(c));
    return names;
  }

  colName(c: ColumnMapping): string {
    return this.side === 'legacy' ? c.legacy : c.target;
  }

  tenant(): string {
    return this.col(this.src.tenantColumn);
  }

  /**
   * This tenant exactly (the localization reads): the plain comparison lets an index led by the
   * tenant narrow the read, the binary one keeps 'acme' from matching 'ACME' under a
   * case-insensitive collation.
   *
   * On MySQL/MariaDB the plain comparison is written as a range, `tenant >= ? AND tenant <= ?`:
   * with `tenant = ?` MariaDB answered a key-range read of the largest tenant with `ref` access
   * on the `(tenant, id)` index, reading every index entry of the tenant and filtering the key
   * ranges afterwards; the range form makes the tenant and the key ranges one `range` access over
   * both index columns.
   */
  tenantIs(p: Params, tenant: string): string {
    const plain =
      this.d.engine === 'mysql'
        ? `${this.tenant()} >= ${p.add(tenant)} AND ${this.tenant()} <= ${p.add(tenant)}`
        : `${this.tenant()} = ${p.add(tenant)}`;
    return this.binaryTenant() ? `${plain} AND ${this.groupTenant()} = ${p.add(tenant)}` : plain;
  }

  /**
   * Whether the tenant is grouped and matched by its binary value: on MySQL/MariaDB, unless the
   * side reads a table (its own or a folded query's, where `USE INDEX FOR GROUP BY ()` keeps
   * the index walk away) whose tenant column is declared an integer, which has no collation to
   * merge tenants. Grouping a 1M-row scan by `CAST(tenant AS BINARY)` cost 20-50 % more than by
   * the integer column itself.
   */
  private binaryTenant(): boolean {
    if (this.d.engine !== 'mysql') return false;
    if (this.table() === undefined) return true;
    const declared = this.declaredOf(this.src.tenantColumn);
    return !declared || !INTEGER_TYPES.has(declared.type);
  }

  /**
   * The tenant as grouped by: on MySQL/MariaDB its binary value, so tenants that a
   * case-insensitive collation calls equal ('ACME', 'acme') stay apart, and so that no index led
   * by the tenant can deliver the grouping (MariaDB would otherwise walk that index and fetch
   * every row by primary key, 10-25× slower than a scan, on table and query sides alike).
   * An integer tenant of a table side is grouped as it is (see binaryTenant).
   */
  groupTenant(): string {
    return this.binaryTenant() ? `CAST(${this.tenant()} AS BINARY)` : this.tenant();
  }

  keyMapping(k: string): ColumnMapping {
    return (
      this.check.columns.find((c) => c.name === k) ?? { name: k, legacy: k, target: k, ...KEY_COLUMN_DEFAULT }
    );
  }

  keyCols(): string[] {
    return this.check.key.map((k) => this.col(this.colName(this.keyMapping(k))));
  }

  /** The source table's declared column types (table sides), when they were looked up. */
  declared?: Declared;

  private declaredOf(name: string): ReturnType<Declared['get']> {
    return this.declared?.get(this.sourceColumn(name).toLowerCase());
  }

  /**
   * Canonical text of a column's value (NULL stays NULL): the lighter form its declared type
   * allows, else the full one. `expr` replaces the column (a shifted time, in the row hash).
   */
  canonicalValue(c: ColumnMapping, expr = this.col(this.colName(c))): string {
    const declared = this.declaredOf(this.colName(c));
    return (
      lightValue(this.d.engine, expr, c, this.side, declared) ?? this.d.canonicalValue(expr, c, this.side)
    );
  }

  /** Canonical text of a column, NULL-marked (`~` for NULL, else ':' + the text). */
  canonical(c: ColumnMapping): string {
    return this.d.marked(this.canonicalValue(c));
  }

  /**
   * A column's part of the row hash text. Text keeps its NULL marking (`~`, else ':' + text), so
   * a '|' inside a value can only be taken for a column boundary if it is followed by ':'. Other
   * types' canonical text holds neither '|' nor '~': their value as is, `~` for NULL. A column
   * declared NOT NULL needs no COALESCE at all (text: just the ':' before it), which keeps the
   * hash of a table side about as cheap as a plain MD5 of its columns.
   *
   * A timestamp whose legacy side is read at a fixed offset (`legacyTimeZone: +03:00`) is hashed
   * as the time at that offset: the legacy value as it is stored, the target's UTC time moved by
   * the offset. The same instants give the same texts as in UTC (the shift is by whole minutes),
   * and the legacy side, which holds most of the rows' wall-clock times, is spared a date
   * computation per row. The canonical text (column comparison, samples) stays the UTC one.
   */
  hashPart(c: ColumnMapping): string {
    const declared = this.declaredOf(this.colName(c));
    const notNull = declared !== undefined && !declared.nullable;
    if (c.type === 'text') return notNull ? this.d.prefixed(this.canonicalValue(c)) : this.canonical(c);
    const v = c.type === 'timestamp' ? this.timestampHashValue(c) : this.canonicalValue(c);
    return notNull ? v : `COALESCE(${v}, '~')`;
  }

  /** A timestamp's text in the row hash: at the legacy side's fixed offset when it has one. */
  private timestampHashValue(c: ColumnMapping): string {
    const m = c.legacyTimeZone ? FIXED_OFFSET.exec(c.legacyTimeZone) : null;
    const seconds = m ? (Number(m[2]) * 3600 + Number(m[3]) * 60) * (m[1] === '-' ? -1 : 1) : 0;
    if (seconds === 0) return this.canonicalValue(c);
    const local: ColumnMapping = { ...c };
    delete local.legacyTimeZone;
    if (this.side === 'legacy') return this.canonicalValue(local);
    return this.canonicalValue(local, this.d.addSeconds(this.col(this.colName(c)), seconds));
  }

  keyCanon(): string[] {
    return this.check.key.map((k) => this.canonical(this.keyMapping(k)));
  }

  keyText(): string {
    return this.d.concat(this.keyCanon());
  }

  columnCanon(): string[] {
    return this.check.columns.map((c) => this.canonical(c));
  }

  /**
   * The 60-bit hash of a row: MD5 of its key and columns' hash parts joined with '|' (a key
   * column that is also among the compared columns is hashed once).
   */
  rowHash(): string {
    const keys = this.check.key.filter((k) => !this.check.columns.some((c) => c.name === k));
    const parts = [...keys.map((k) => this.keyMapping(k)), ...this.check.columns].map((c) =>
      this.hashPart(c),
    );
    return this.d.hash60(this.d.concat(parts));
  }

  /**
   * WHERE conditions shared by every query of this check (window, tenants, shard) and, unless
   * `withFilter` is false (a shared pass applies it per aggregate), a folded query's predicate.
   */
  where(p: Params, extra: string[] = [], withFilter = true): string {
    const conds: string[] = [];
    if (withFilter && this.fold?.filter !== undefined) conds.push(`(${this.fold.filter})`);
    const w = this.plan.window;
    if (w) {
      const column = this.src.windowColumn ?? w.column;
      const tz =
        this.side === 'legacy'
          ? (w.legacyTimeZone ?? this.check.columns.find((c) => c.legacy === column)?.legacyTimeZone)
          : undefined;
      if (this.filters.windowStart)
        conds.push(`${this.col(column)} >= ${p.add(this.d.timestampParam(this.filters.windowStart, tz))}`);
      if (this.filters.windowEnd)
        conds.push(`${this.col(column)} < ${p.add(this.d.timestampParam(this.filters.windowEnd, tz))}`);
    }
    if (this.filters.tenants) {
      if (this.filters.tenants.length === 0) conds.push('1 = 0');
      else {
        const list = (): string => (this.filters.tenants ?? []).map((t) => p.add(t)).join(', ');
        conds.push(`${this.tenant()} IN (${list()})`);
        // under a case-insensitive collation IN matches 'ACME' for 'acme': keep only the exact ones
        if (this.binaryTenant()) conds.push(`${this.groupTenant()} IN (${list()})`);
      }
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
