/**
 * SQL dialects: quoting, canonical text of a value, the 60-bit row hash and parameter style for
 * MySQL/MariaDB and PostgreSQL. The canonical text of the same value is byte-for-byte equal on
 * both engines, so MD5 of it (and the sums of MD5-derived integers) are equal too.
 *
 * Canonical text per column type:
 * - decimal: CAST to DECIMAL/NUMERIC(38, scale) then to text: `10.5` and `10.50` → `10.50`.
 * - integer: CAST to a 64-bit integer then text.
 * - text: as UTF-8 with trailing blanks removed on both sides always (MySQL PAD SPACE collations
 *   treat `'a '` and `'a'` as equal, so trailing blanks are never a difference); `lower`/`trim`
 *   only where the mapping says so.
 * - timestamp: the instant in UTC as `YYYY-MM-DD HH:MM:SS[.fff[fff]]`, truncated to `precision`.
 *   A legacy value without zone (MySQL DATETIME, PostgreSQL timestamp) is read in
 *   `legacyTimeZone` (numeric offsets such as `+03:00` always work; named zones need MySQL's
 *   time zone tables); sessions run in UTC, so MySQL TIMESTAMP and PostgreSQL timestamptz are
 *   read as UTC.
 * - boolean: `1` / `0`.
 * - NULL: the marker `~`; a non-NULL value is prefixed with `:`, so NULL and '' differ.
 * A row's hash text joins, with `|`, each column's part (SideSql.hashPart): text NULL-marked as
 * above, other types' canonical value as is (`~` for NULL, no marking at all for a column
 * declared NOT NULL); its hash is the first 15 hex digits of MD5 (60 bits) as an integer, summed
 * per tenant as DECIMAL/NUMERIC (no overflow).
 */
import type { ColumnMapping, Engine } from './plan.js';

export type Side = 'legacy' | 'target';

/**
 * Collects parameters and returns a placeholder for each. PostgreSQL placeholders are numbered
 * ($1…); MySQL's are positional (?), so `bind` reorders the values to the order the placeholders
 * appear in the final SQL text (conditions may be assembled in any order).
 */
export class Params {
  readonly values: unknown[] = [];
  constructor(private readonly engine: Engine) {}
  add(value: unknown): string {
    this.values.push(value);
    return this.engine === 'postgres' ? `$${this.values.length}` : `\u0000${this.values.length - 1}\u0000`;
  }
  bind(sql: string): [string, unknown[]] {
    if (this.engine === 'postgres') return [sql, this.values];
    const ordered: unknown[] = [];
    // eslint-disable-next-line no-control-regex -- NUL delimits placeholders: it cannot occur in SQL text we build
    const text = sql.replace(/\u0000(\d+)\u0000/g, (_, i: string) => {
      ordered.push(this.values[Number(i)]);
      return '?';
    });
    return [text, ordered];
  }
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''").replace(/\\/g, '\\\\')}'`;
}

const OFFSET = /^([+-])(\d{2}):(\d{2})$/;

export interface Dialect {
  engine: Engine;
  quote(identifier: string): string;
  /** Canonical text of a (quoted) column expression, NULL-marked. */
  canonical(
    expr: string,
    col: Pick<ColumnMapping, 'type' | 'scale' | 'transforms' | 'precision' | 'legacyTimeZone'>,
    side: Side,
  ): string;
  /** The canonical text of a value without the NULL marking (NULL stays NULL). */
  canonicalValue(
    expr: string,
    col: Pick<ColumnMapping, 'type' | 'scale' | 'transforms' | 'precision' | 'legacyTimeZone'>,
    side: Side,
  ): string;
  /** NULL-marks a canonical value: `~` for NULL, else ':' + the text. */
  marked(value: string): string;
  /** The marking of a value that is never NULL: ':' + the text. */
  prefixed(value: string): string;
  /** A timestamp expression moved by whole seconds (signed). */
  addSeconds(expr: string, seconds: number): string;
  /** Joins canonical parts with '|'. */
  concat(parts: string[]): string;
  /** 60-bit unsigned integer from MD5 of a text expression. */
  hash60(textExpr: string): string;
  /** 32-bit unsigned integer from MD5 of a text expression (shard assignment). */
  hash32(textExpr: string): string;
  /** First n hex digits of MD5 (bisection buckets for non-integer keys). */
  md5Prefix(textExpr: string, n: number): string;
  /** Plain text of any expression (tenant values, keys). */
  text(expr: string): string;
  /** Integer division of non-negative integers. */
  intDiv(a: string, b: string): string;
  /** A timestamp parameter value for comparisons with a column of this side. */
  timestampParam(instant: Date, timeZone: string | undefined): string;
}

function formatInZone(instant: Date, timeZone: string | undefined): string {
  const iso = (d: Date): string => d.toISOString().replace('T', ' ').replace('Z', '');
  if (!timeZone || timeZone === 'UTC') return iso(instant);
  const m = OFFSET.exec(timeZone);
  if (m) {
    const minutes = (Number(m[2]) * 60 + Number(m[3])) * (m[1] === '-' ? -1 : 1);
    return iso(new Date(instant.getTime() + minutes * 60_000));
  }
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(instant);
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '00';
  const ms = String(instant.getUTCMilliseconds()).padStart(3, '0');
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}.${ms}`;
}

function tsLength(precision: number): number {
  return precision === 0 ? 19 : 20 + precision;
}

export const mysqlDialect: Dialect = {
  engine: 'mysql',
  quote: (id) =>
    id
      .split('.')
      .map((p) => `\`${p.replace(/`/g, '``')}\``)
      .join('.'),
  canonical(expr, col, side) {
    return this.marked(this.canonicalValue(expr, col, side));
  },
  marked: (e) => `COALESCE(CONCAT(':', ${e}), '~')`,
  prefixed: (e) => `CONCAT(':', ${e})`,
  addSeconds: (e, seconds) => `(${e} + INTERVAL ${Math.trunc(seconds)} SECOND)`,
  canonicalValue(expr, col, side) {
    let e: string;
    switch (col.type) {
      case 'decimal':
        e = `CAST(CAST(${expr} AS DECIMAL(38,${col.scale})) AS CHAR)`;
        break;
      case 'integer':
        e = `CAST(CAST(${expr} AS SIGNED) AS CHAR)`;
        break;
      case 'boolean':
        e = `CASE WHEN ${expr} IS NULL THEN NULL WHEN ${expr} THEN '1' ELSE '0' END`;
        break;
      case 'timestamp': {
        const tz = side === 'legacy' ? col.legacyTimeZone : undefined;
        const zone = !tz || tz === 'UTC' ? undefined : tz;
        const utc = zone ? `CONVERT_TZ(${expr}, ${sqlString(zone)}, '+00:00')` : expr;
        e = `LEFT(DATE_FORMAT(${utc}, '%Y-%m-%d %H:%i:%s.%f'), ${tsLength(col.precision)})`;
        break;
      }
      default: {
        e = `RTRIM(CONVERT(${expr} USING utf8mb4))`;
        if (col.transforms.includes('trim')) e = `TRIM(${e})`;
        if (col.transforms.includes('lower')) e = `LOWER(${e})`;
      }
    }
    return e;
  },
  concat: (parts) => (parts.length === 1 ? (parts[0] as string) : `CONCAT_WS('|', ${parts.join(', ')})`),
  hash60: (t) => `CAST(CONV(SUBSTRING(MD5(${t}), 1, 15), 16, 10) AS UNSIGNED)`,
  hash32: (t) => `CAST(CONV(SUBSTRING(MD5(${t}), 1, 8), 16, 10) AS UNSIGNED)`,
  md5Prefix: (t, n) => `SUBSTRING(MD5(${t}), 1, ${n})`,
  text: (e) => `CONVERT(${e} USING utf8mb4)`,
  intDiv: (a, b) => `((${a}) DIV (${b}))`,
  timestampParam: (instant, tz) => formatInZone(instant, tz),
};

export const postgresDialect: Dialect = {
  engine: 'postgres',
  quote: (id) =>
    id
      .split('.')
      .map((p) => `"${p.replace(/"/g, '""')}"`)
      .join('.'),
  canonical(expr, col, side) {
    return this.marked(this.canonicalValue(expr, col, side));
  },
  marked: (e) => `COALESCE(':' || ${e}, '~')`,
  prefixed: (e) => `(':' || ${e})`,
  addSeconds: (e, seconds) => `(${e} + INTERVAL '${Math.trunc(seconds)} seconds')`,
  canonicalValue(expr, col, side) {
    let e: string;
    switch (col.type) {
      case 'decimal':
        e = `CAST(CAST(${expr} AS NUMERIC(38,${col.scale})) AS TEXT)`;
        break;
      case 'integer':
        e = `CAST(CAST(${expr} AS BIGINT) AS TEXT)`;
        break;
      case 'boolean':
        e = `CASE WHEN ${expr} IS NULL THEN NULL WHEN CAST(${expr} AS TEXT) IN ('true', 't', '1') THEN '1' ELSE '0' END`;
        break;
      case 'timestamp': {
        const tz = side === 'legacy' ? col.legacyTimeZone : undefined;
        let utc: string;
        const m = tz ? OFFSET.exec(tz) : null;
        if (!tz || tz === 'UTC') utc = `(CAST(${expr} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')`;
        else if (m) utc = `(CAST(${expr} AS TIMESTAMP) - INTERVAL ${sqlString(`${m[1]}${m[2]}:${m[3]}`)})`;
        else utc = `((CAST(${expr} AS TIMESTAMP) AT TIME ZONE ${sqlString(tz)}) AT TIME ZONE 'UTC')`;
        e = `LEFT(TO_CHAR(${utc}, 'YYYY-MM-DD HH24:MI:SS.US'), ${tsLength(col.precision)})`;
        break;
      }
      default: {
        e = `RTRIM(CAST(${expr} AS TEXT), ' ')`;
        if (col.transforms.includes('trim')) e = `BTRIM(${e}, ' ')`;
        if (col.transforms.includes('lower')) e = `LOWER(${e})`;
      }
    }
    return e;
  },
  concat: (parts) => (parts.length === 1 ? (parts[0] as string) : `CONCAT_WS('|', ${parts.join(', ')})`),
  hash60: (t) => `(('x' || SUBSTR(MD5(${t}), 1, 15))::BIT(60)::BIGINT)`,
  hash32: (t) => `(('x' || SUBSTR(MD5(${t}), 1, 8))::BIT(32)::BIGINT)`,
  md5Prefix: (t, n) => `SUBSTR(MD5(${t}), 1, ${n})`,
  text: (e) => `CAST(${e} AS TEXT)`,
  intDiv: (a, b) => `((${a}) / (${b}))`,
  timestampParam: (instant, tz) => `${formatInZone(instant, tz)}${tz ? '' : '+00'}`,
};

export function dialectFor(engine: Engine): Dialect {
  return engine === 'postgres' ? postgresDialect : mysqlDialect;
}

/** The same 32-bit MD5-derived number in JavaScript (shard assignment of custom-check tenants). */
export async function hash32Js(text: string): Promise<number> {
  const { createHash } = await import('node:crypto');
  return parseInt(createHash('md5').update(text, 'utf8').digest('hex').slice(0, 8), 16);
}
