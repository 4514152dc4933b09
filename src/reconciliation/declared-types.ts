/**
 * Declared column types of table sides, so canonical text casts only where a type needs it.
 *
 * The canonical text of a value (dialect.ts) is written to be right for any column type: every
 * decimal cast to DECIMAL(38, scale), every integer to a 64-bit integer, every text converted to
 * UTF-8, every legacy time through CONVERT_TZ and DATE_FORMAT. On a 1M-row table those casts
 * cost about as much as the scan itself. When the table's own declaration already gives the
 * canonical text, a lighter expression yields the very same bytes:
 * - integer columns: their text as is (both engines);
 * - decimal columns declared with the check's scale: their text as is (`10.50`);
 * - MySQL text columns already in utf8mb4: RTRIM without CONVERT; PostgreSQL text/varchar: RTRIM
 *   without CAST;
 * - MySQL DATETIME/TIMESTAMP columns with at least the requested fractional digits, read in UTC
 *   or a numeric offset: CAST to text after subtracting the offset, cut to the precision.
 * - PostgreSQL timestamp/timestamptz compared to the whole second: the ISO text of the UTC time
 *   cut to the second (`date_trunc`), not TO_CHAR, for the years 1-9999.
 * PostgreSQL query sides (joins) get the types of their result columns from the server's row
 * description (`SqlConnection.resultColumns`, no row read), so the same lighter forms apply to
 * them; MySQL/MariaDB query sides keep the full canonical expressions.
 */
import type { SqlConnection } from './connection.js';
import type { ColumnMapping } from './plan.js';
import { postgresDialect, type Side } from './dialect.js';

export interface DeclaredColumn {
  /** information_schema DATA_TYPE, lower case */
  type: string;
  scale: number | null;
  datetimePrecision: number | null;
  charset: string | null;
  /** false when the column is declared NOT NULL */
  nullable: boolean;
}

/** column name (lower case) → declaration */
export type Declared = Map<string, DeclaredColumn>;

const MYSQL_INT = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint']);
const PG_INT = new Set(['smallint', 'integer', 'bigint']);
const PG_TIMESTAMPTZ = 'timestamp with time zone';
const PG_TIMESTAMP = 'timestamp without time zone';
const OFFSET = /^([+-])(\d{2}):(\d{2})$/;

function num(v: string | null | undefined): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** Looks up a table's columns; `schema.table` or the connection's current schema. */
export async function declaredColumns(conn: SqlConnection, table: string): Promise<Declared> {
  const [schema, name] = table.includes('.') ? table.split('.') : [undefined, table];
  const sql =
    conn.engine === 'mysql'
      ? `SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${schema ? '?' : 'DATABASE()'} AND TABLE_NAME = ?`
      : `SELECT column_name, data_type, numeric_scale, datetime_precision, NULL, is_nullable FROM information_schema.columns WHERE table_schema = ${schema ? '$1' : 'current_schema()'} AND table_name = ${schema ? '$2' : '$1'}`;
  const rows = await conn.query(sql, schema ? [schema, name] : [name]);
  const out: Declared = new Map();
  for (const r of rows)
    out.set(String(r[0]).toLowerCase(), {
      type: String(r[1]).toLowerCase(),
      scale: num(r[2]),
      datetimePrecision: num(r[3]),
      charset: r[4] === null || r[4] === undefined ? null : String(r[4]).toLowerCase(),
      nullable: String(r[5]).toUpperCase() !== 'NO',
    });
  return out;
}

type Col = Pick<ColumnMapping, 'type' | 'scale' | 'transforms' | 'precision' | 'legacyTimeZone'>;

/**
 * The canonical text of a column's value from its declaration (NULL stays NULL, as
 * `Dialect.canonicalValue`), or undefined when only the full expression is right.
 */
export function lightValue(
  engine: 'mysql' | 'postgres',
  expr: string,
  col: Col,
  side: Side,
  declared: DeclaredColumn | undefined,
): string | undefined {
  if (!declared) return undefined;
  let e: string | undefined;
  if (engine === 'mysql') {
    if (col.type === 'integer' && MYSQL_INT.has(declared.type)) e = expr;
    else if (col.type === 'decimal' && declared.type === 'decimal' && declared.scale === col.scale) e = expr;
    else if (col.type === 'text' && declared.charset === 'utf8mb4') {
      e = `RTRIM(${expr})`;
      if (col.transforms.includes('trim')) e = `TRIM(${e})`;
      if (col.transforms.includes('lower')) e = `LOWER(${e})`;
    } else if (
      col.type === 'timestamp' &&
      (declared.type === 'datetime' || declared.type === 'timestamp') &&
      (declared.datetimePrecision ?? 0) >= col.precision
    ) {
      const tz = side === 'legacy' ? col.legacyTimeZone : undefined;
      const m = tz ? OFFSET.exec(tz) : null;
      if (!tz || tz === 'UTC' || m) {
        const seconds = m ? (Number(m[2]) * 3600 + Number(m[3]) * 60) * (m[1] === '-' ? -1 : 1) : 0;
        const utc = seconds === 0 ? expr : `(${expr} - INTERVAL ${seconds} SECOND)`;
        const length = col.precision === 0 ? 19 : 20 + col.precision;
        // CONCAT(x) is the same text as CAST(x AS CHAR) (the value's own ISO text at its declared
        // precision) for less: two DATETIMEs of 1M rows hashed 0.3 s faster (MariaDB 10.11)
        e =
          (declared.datetimePrecision ?? 0) === col.precision
            ? `CONCAT(${utc})`
            : `LEFT(CONCAT(${utc}), ${length})`;
      }
    }
    return e;
  }
  if (col.type === 'integer' && PG_INT.has(declared.type)) e = `CAST(${expr} AS TEXT)`;
  else if (col.type === 'decimal' && declared.type === 'numeric' && declared.scale === col.scale)
    e = `CAST(${expr} AS TEXT)`;
  else if (col.type === 'text' && (declared.type === 'text' || declared.type === 'character varying')) {
    e = `RTRIM(${expr}, ' ')`;
    if (col.transforms.includes('trim')) e = `BTRIM(${e}, ' ')`;
    if (col.transforms.includes('lower')) e = `LOWER(${e})`;
  } else if (
    col.type === 'timestamp' &&
    col.precision === 0 &&
    (declared.type === PG_TIMESTAMPTZ || declared.type === PG_TIMESTAMP) &&
    !(side === 'legacy' && col.legacyTimeZone && col.legacyTimeZone !== 'UTC')
  ) {
    // whole seconds: the ISO text of the UTC time cut to the second is what TO_CHAR writes, at
    // half its cost, for the years 1-9999 (the sessions run with DateStyle ISO and TimeZone
    // UTC); other values (BC, infinity, year 10000 on) keep the full expression
    const tz = declared.type === PG_TIMESTAMPTZ;
    const utc = tz ? `(${expr} AT TIME ZONE 'UTC')` : expr;
    const type = tz ? 'TIMESTAMPTZ' : 'TIMESTAMP';
    const zone = tz ? '+00' : '';
    e = `CASE WHEN ${expr} >= ${type} '0001-01-01 00:00:00${zone}' AND ${expr} < ${type} '10000-01-01 00:00:00${zone}' THEN CAST(date_trunc('second', ${utc}) AS TEXT) ELSE ${postgresDialect.canonicalValue(expr, col, side)} END`;
  }
  return e;
}
