/**
 * Read-only database sessions for reconciliation.
 *
 * Every statement runs inside its own explicit read-only transaction (PostgreSQL
 * `BEGIN READ ONLY` … `ROLLBACK`, MySQL/MariaDB `START TRANSACTION READ ONLY` … `ROLLBACK`) on a
 * pooled connection, so nothing a statement sets (a `set_config`, a session variable) outlives
 * it: a rollback undoes it, and a connection whose statement failed is closed, not reused. The
 * sessions are read-only by default too, have a statement timeout, run in UTC and UTF-8, read
 * literals as the SQL guard does (src/api/sql-guard.ts) and return rows as arrays of
 * strings/nulls (numbers and decimals as exact strings).
 *
 * Nothing derived from the URL's userinfo reaches a label or an error: the label is made of the
 * host, port and database only, a URL whose password would be misread (an unencoded `/ # ? @`)
 * is refused before any driver sees it, and driver errors pass through `redactText`.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { redactText } from '../runtime/logger.js';
import { splitConnectionUrl } from '../runtime/url-redaction.js';
import { postgresDialect } from './dialect.js';
import type { Engine, ReconciliationPlan } from './plan.js';

export type Cell = string | null;
export type Row = Cell[];

export interface SqlConnection {
  readonly engine: Engine;
  /** A label for messages: 'legacy (mysql 127.0.0.1:3306/db)' — never with a password. */
  readonly label: string;
  /** Runs one statement in its own READ ONLY transaction (rolled back) on a pooled connection. */
  query(sql: string, params?: unknown[], opts?: QueryOptions): Promise<Row[]>;
  /** The same on a connection of its own, discarded afterwards (custom SQL). */
  queryIsolated(sql: string, params?: unknown[]): Promise<Row[]>;
  /**
   * The write privileges the account holds on these tables (`INSERT on orders`, `ALL on shop.*`):
   * an account that can write is more than reconciliation needs (least privilege).
   */
  writePrivileges(tables: string[]): Promise<string[]>;
  /**
   * The result columns of a query, from the server's row description of
   * `SELECT * FROM (query) AS src LIMIT 0` (no row is read): PostgreSQL only, so the canonical
   * text of a query side's columns casts only where their type needs it.
   */
  resultColumns?(query: string): Promise<ResultColumn[]>;
  close(): Promise<void>;
}

/** How one statement runs. */
export interface QueryOptions {
  /**
   * PostgreSQL: run the statement without parallel workers (`SET LOCAL
   * max_parallel_workers_per_gather = 0` inside its own read-only transaction, so the setting
   * ends with it). For small key-range reads, whose workers cost more CPU than they save.
   * MySQL/MariaDB statements run in one thread anyway: the option changes nothing there.
   */
  serial?: boolean;
}

/** A query's result column: its name, the type as information_schema names it, its scale. */
export interface ResultColumn {
  name: string;
  /** `integer`, `numeric`, `text`, … (information_schema.columns.data_type), or `other` */
  type: string;
  /** numeric: the declared scale; null when the type has none (unconstrained numeric too) */
  scale: number | null;
}

/** PostgreSQL type OIDs → information_schema data_type, for the types a light cast knows. */
const PG_TYPES = new Map<number, string>([
  [20, 'bigint'],
  [21, 'smallint'],
  [23, 'integer'],
  [25, 'text'],
  [1043, 'character varying'],
  [1700, 'numeric'],
  [1114, 'timestamp without time zone'],
  [1184, 'timestamp with time zone'],
]);

export interface ConnectOptions {
  statementTimeoutSeconds: number;
  /** Connections per side (default 4). */
  poolSize?: number;
  role: 'legacy' | 'target';
}

export class DatabaseError extends Error {
  constructor(message: string) {
    super(redactText(message));
    this.name = 'DatabaseError';
  }
}

/** A connection URL that cannot be used; the message says why and never quotes the URL. */
export class ConnectionUrlError extends DatabaseError {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionUrlError';
  }
}

/** The statements around each query: its own read-only transaction, always rolled back. */
export const READ_ONLY_TRANSACTION = {
  postgres: { begin: 'BEGIN READ ONLY', end: 'ROLLBACK' },
  mysql: { begin: 'START TRANSACTION READ ONLY', end: 'ROLLBACK' },
} as const;

/**
 * MySQL/MariaDB session settings: the SQL mode without the modes that change how literals are
 * read (the SQL guard assumes backslash escapes and "..." strings), so a query means to the
 * server what it meant to the guard.
 */
const MYSQL_SQL_MODE = `SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(REPLACE(REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','), ',ANSI_QUOTES,', ','), ',ANSI,', ','))`;

function cell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function errText(e: unknown): string {
  if (e instanceof Error) {
    const rawCode = (e as { code?: unknown }).code;
    const code = typeof rawCode === 'string' || typeof rawCode === 'number' ? String(rawCode) : '';
    const nested = (e as AggregateError).errors;
    const msg =
      e.message ||
      (Array.isArray(nested)
        ? nested.map((x: unknown) => (x instanceof Error ? x.message : String(x))).join(', ')
        : '') ||
      code ||
      'error';
    return code && !msg.includes(code) ? `${msg} (${code})` : msg;
  }
  return String(e);
}

class MysqlConnection implements SqlConnection {
  readonly engine = 'mysql' as const;
  private readonly pool: mysql.Pool;
  private readonly ready = new WeakSet<object>();
  private setup: string[] | undefined;

  constructor(
    private readonly url: string,
    readonly label: string,
    private readonly opts: ConnectOptions,
  ) {
    this.pool = mysql.createPool({
      uri: url,
      connectionLimit: opts.poolSize ?? 4,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      charset: 'utf8mb4',
      connectTimeout: 10_000,
      multipleStatements: false,
      rowsAsArray: true,
    });
    this.pool.on('connection', () => undefined);
  }

  private async sessionSetup(conn: mysql.PoolConnection | mysql.Connection): Promise<void> {
    if (!this.setup) {
      const [rows] = await conn.query({ sql: 'SELECT VERSION()', rowsAsArray: true });
      const version = cell((rows as unknown[][])[0]?.[0]) ?? '';
      const timeout = version.includes('MariaDB')
        ? `SET SESSION max_statement_time = ${this.opts.statementTimeoutSeconds}`
        : `SET SESSION max_execution_time = ${this.opts.statementTimeoutSeconds * 1000}`;
      this.setup = [
        "SET time_zone = '+00:00'",
        'SET NAMES utf8mb4',
        MYSQL_SQL_MODE,
        timeout,
        'SET SESSION TRANSACTION READ ONLY',
      ];
    }
    for (const s of this.setup) await conn.query(s);
  }

  private wrap(e: unknown): DatabaseError {
    return new DatabaseError(`${this.label}: ${errText(e)}`);
  }

  async query(sql: string, params: unknown[] = []): Promise<Row[]> {
    let conn: mysql.PoolConnection | undefined;
    try {
      conn = await this.pool.getConnection();
      if (!this.ready.has(conn)) {
        await this.sessionSetup(conn);
        this.ready.add(conn);
      }
      return await this.inReadOnlyTransaction(conn, sql, params);
    } catch (e) {
      // a connection whose statement failed may be mid-transaction: close it, never reuse it
      if (conn) {
        conn.destroy();
        conn = undefined;
      }
      throw this.wrap(e);
    } finally {
      conn?.release();
    }
  }

  /** One statement in its own read-only transaction, rolled back whatever it did. */
  private async inReadOnlyTransaction(
    conn: mysql.PoolConnection | mysql.Connection,
    sql: string,
    params: unknown[],
  ): Promise<Row[]> {
    await conn.query(READ_ONLY_TRANSACTION.mysql.begin);
    const [rows] = await conn.query({ sql, values: params, rowsAsArray: true });
    await conn.query(READ_ONLY_TRANSACTION.mysql.end);
    if (!Array.isArray(rows)) throw new Error('statement returned no result set (only queries are allowed)');
    return (rows as unknown[][]).map((r) => r.map(cell));
  }

  async writePrivileges(tables: string[]): Promise<string[]> {
    // SHOW GRANTS lists the account's grants (global, database, table; through roles when set)
    const grants = (await this.query('SHOW GRANTS')).map((r) => r[0] ?? '');
    const db = (await this.query('SELECT DATABASE()'))[0]?.[0] ?? '';
    const out: string[] = [];
    for (const g of grants) {
      const m = /^GRANT\s+(.+?)\s+ON\s+(?:(?:TABLE|FUNCTION|PROCEDURE)\s+)?(\S+)\s+TO\s/i.exec(g);
      if (!m) continue;
      const privileges = m[1]!.toUpperCase();
      const on = m[2]!.replace(/`/g, '');
      const [grantDb, grantTable] = on.includes('.') ? on.split('.', 2) : ['*', on];
      const covers = (table: string): boolean => {
        const [tDb, tName] = table.includes('.') ? table.split('.', 2) : [db, table];
        return (
          (grantDb === '*' || grantDb === tDb || likeMatches(grantDb!, tDb!)) &&
          (grantTable === '*' || grantTable === tName)
        );
      };
      const writes = WRITE_PRIVILEGES_MYSQL.filter((p) =>
        p === 'ALL' ? /\bALL( PRIVILEGES)?\b/.test(privileges) : new RegExp(`\\b${p}\\b`).test(privileges),
      );
      if (writes.length > 0 && tables.some(covers)) out.push(`${writes.join(', ')} on ${on}`);
    }
    return out;
  }

  async queryIsolated(sql: string, params: unknown[] = []): Promise<Row[]> {
    let conn: mysql.Connection | undefined;
    try {
      conn = await mysql.createConnection({
        uri: this.url,
        supportBigNumbers: true,
        bigNumberStrings: true,
        dateStrings: true,
        charset: 'utf8mb4',
        connectTimeout: 10_000,
        multipleStatements: false,
      });
      await this.sessionSetup(conn);
      return await this.inReadOnlyTransaction(conn, sql, params);
    } catch (e) {
      throw this.wrap(e);
    } finally {
      conn?.destroy();
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

/** Privileges that let a MySQL/MariaDB account change a table's rows or the table. */
const WRITE_PRIVILEGES_MYSQL = ['ALL', 'INSERT', 'UPDATE', 'DELETE', 'DROP', 'ALTER'] as const;

/** A database name pattern of a MySQL grant (`shop\\_%`): % and _ are wildcards, \\ escapes. */
function likeMatches(pattern: string, value: string): boolean {
  if (!/[%_]/.test(pattern)) return pattern === value;
  const re = pattern.replace(
    /\\([%_])|([.*+?^${}()|[\]\\])|(%)|(_)/g,
    (_m, esc: string, special: string, pct: string) =>
      esc ? esc : special ? `\\${special}` : pct ? '.*' : '.',
  );
  return new RegExp(`^${re}$`).test(value);
}

/** Inside a transaction: no parallel workers until it ends. */
const SERIAL_POSTGRES = 'SET LOCAL max_parallel_workers_per_gather = 0';

/** One statement in its own read-only transaction, rolled back whatever it did. */
async function inReadOnlyTransaction(
  client: pg.ClientBase,
  sql: string,
  params: unknown[],
  opts: QueryOptions = {},
): Promise<Row[]> {
  await client.query(READ_ONLY_TRANSACTION.postgres.begin);
  if (opts.serial) await client.query(SERIAL_POSTGRES);
  const res = await client.query({
    text: sql,
    values: params,
    rowMode: 'array',
    queryMode: 'extended',
  } as pg.QueryArrayConfig);
  await client.query(READ_ONLY_TRANSACTION.postgres.end);
  if (res.command !== 'SELECT' || !Array.isArray(res.rows))
    throw new Error('statement returned no result set (only queries are allowed)');
  return (res.rows as unknown[][]).map((r) => r.map(cell));
}

/** The row description of a query that returns no row, in its own read-only transaction. */
async function describeInReadOnlyTransaction(client: pg.ClientBase, query: string): Promise<ResultColumn[]> {
  await client.query(READ_ONLY_TRANSACTION.postgres.begin);
  const res = await client.query({
    text: `SELECT * FROM (${query}) AS src LIMIT 0`,
    rowMode: 'array',
    queryMode: 'extended',
  } as pg.QueryArrayConfig);
  await client.query(READ_ONLY_TRANSACTION.postgres.end);
  return res.fields.map((f) => {
    const type = PG_TYPES.get(f.dataTypeID) ?? 'other';
    // numeric(p, s): typmod = (p << 16 | s) + 4; -1 when unconstrained
    const mod = f.dataTypeModifier;
    return { name: f.name, type, scale: type === 'numeric' && mod >= 4 ? (mod - 4) & 0xffff : null };
  });
}

class PostgresConnection implements SqlConnection {
  readonly engine = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(
    private readonly url: string,
    readonly label: string,
    private readonly opts: ConnectOptions,
  ) {
    this.pool = new pg.Pool({ ...this.config(), max: opts.poolSize ?? 4 });
    // an idle client whose server went away must not crash the process; the next query fails
    this.pool.on('error', () => undefined);
  }

  private config(): pg.ClientConfig {
    return {
      connectionString: this.url,
      connectionTimeoutMillis: 10_000,
      application_name: 'cutover-reconcile',
      // standard_conforming_strings: a backslash in '...' is a character, as the SQL guard reads it;
      // DateStyle ISO: the text of a timestamp is the canonical one (declared-types.ts)
      options: `-c default_transaction_read_only=on -c statement_timeout=${this.opts.statementTimeoutSeconds * 1000} -c TimeZone=UTC -c DateStyle=ISO -c client_encoding=UTF8 -c standard_conforming_strings=on`,
    };
  }

  private wrap(e: unknown): DatabaseError {
    return new DatabaseError(`${this.label}: ${errText(e)}`);
  }

  async query(sql: string, params: unknown[] = [], opts: QueryOptions = {}): Promise<Row[]> {
    let client: pg.PoolClient | undefined;
    let failed = false;
    try {
      client = await this.pool.connect();
      return await inReadOnlyTransaction(client, sql, params, opts);
    } catch (e) {
      // a client whose statement failed may be mid-transaction: close it, never reuse it
      failed = true;
      throw this.wrap(e);
    } finally {
      client?.release(failed);
    }
  }

  async resultColumns(query: string): Promise<ResultColumn[]> {
    let client: pg.PoolClient | undefined;
    let failed = false;
    try {
      client = await this.pool.connect();
      return await describeInReadOnlyTransaction(client, query);
    } catch (e) {
      failed = true;
      throw this.wrap(e);
    } finally {
      client?.release(failed);
    }
  }

  async queryIsolated(sql: string, params: unknown[] = []): Promise<Row[]> {
    const client = new pg.Client(this.config());
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await inReadOnlyTransaction(client, sql, params);
    } catch (e) {
      throw this.wrap(e);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async writePrivileges(tables: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const table of tables) {
      const rows = await this.query(
        `SELECT p FROM unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p
          WHERE to_regclass($1) IS NOT NULL AND has_table_privilege(to_regclass($1), p)`,
        [postgresDialect.quote(table)],
      );
      const privileges = rows.map((r) => r[0] ?? '');
      if (privileges.length > 0) out.push(`${privileges.join(', ')} on ${table}`);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

/**
 * Opens a pooled read-only connection; nothing is contacted until the first query. Throws
 * ConnectionUrlError (never quoting the URL) when the URL cannot be used as written.
 */
export function connect(engine: Engine, url: string, opts: ConnectOptions): SqlConnection {
  const parts = splitConnectionUrl(url);
  if ('problem' in parts)
    throw new ConnectionUrlError(`${opts.role}: the connection URL cannot be used: ${parts.problem}`);
  try {
    new URL(url);
  } catch {
    throw new ConnectionUrlError(
      `${opts.role}: the connection URL is not a valid URL (check the host, the port and that special characters in the user name and password are percent-encoded)`,
    );
  }
  const label = `${opts.role} (${engine} ${parts.host}${parts.path})`;
  const scheme = parts.scheme;
  if (engine === 'postgres') {
    if (scheme !== 'postgres' && scheme !== 'postgresql')
      throw new ConnectionUrlError(`${label}: a postgres URL must start with postgres://`);
    return new PostgresConnection(url, label, opts);
  }
  if (scheme !== 'mysql' && scheme !== 'mariadb')
    throw new ConnectionUrlError(`${label}: a mysql URL must start with mysql://`);
  return new MysqlConnection(scheme === 'mariadb' ? url.replace(/^mariadb:/, 'mysql:') : url, label, opts);
}

/**
 * What the accounts of a run can write among the tables its checks compare (`legacy: DELETE on
 * shop.*`), for the least-privilege warning; [] when both can only read them. The tables of
 * side queries are not parsed: only `table:` sides count. A failure to ask (the database is
 * down) gives undefined: the run itself reports it.
 */
export async function accountWriteGrants(
  plan: ReconciliationPlan,
  conns: { legacy: SqlConnection; target: SqlConnection },
): Promise<string[] | undefined> {
  const out: string[] = [];
  try {
    for (const side of ['legacy', 'target'] as const) {
      const tables = [...new Set(plan.checks.flatMap((c) => (c[side].table ? [c[side].table] : [])))];
      if (tables.length === 0) continue;
      for (const grant of await conns[side].writePrivileges(tables)) out.push(`${side}: ${grant}`);
    }
  } catch {
    return undefined;
  }
  return out;
}
