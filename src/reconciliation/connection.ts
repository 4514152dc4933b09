/**
 * Read-only database sessions for reconciliation.
 *
 * Every session is read-only (PostgreSQL `default_transaction_read_only`, MySQL
 * `SET SESSION TRANSACTION READ ONLY`), has a statement timeout, runs in UTC and UTF-8, and
 * returns rows as arrays of strings/nulls (numbers and decimals as exact strings). Custom SQL
 * runs in an explicit `READ ONLY` transaction on a connection that is thrown away afterwards, so
 * nothing it sets can outlive it. Error messages never carry the connection URL's password.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { redactText } from '../runtime/logger.js';
import type { Engine } from './plan.js';

export type Cell = string | null;
export type Row = Cell[];

export interface SqlConnection {
  readonly engine: Engine;
  /** A label for messages: 'legacy (mysql 127.0.0.1:3306/db)' — never with a password. */
  readonly label: string;
  query(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Runs one statement in a READ ONLY transaction on a connection discarded afterwards. */
  queryIsolated(sql: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

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

function describe(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'unparseable url';
  }
}

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
      const [rows] = await conn.query({ sql, values: params, rowsAsArray: true });
      if (!Array.isArray(rows))
        throw new Error('statement returned no result set (only queries are allowed)');
      return (rows as unknown[][]).map((r) => r.map(cell));
    } catch (e) {
      if (conn) {
        conn.destroy();
        conn = undefined;
      }
      throw this.wrap(e);
    } finally {
      conn?.release();
    }
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
      await conn.query('START TRANSACTION READ ONLY');
      const [rows] = await conn.query({ sql, values: params, rowsAsArray: true });
      await conn.query('ROLLBACK');
      if (!Array.isArray(rows))
        throw new Error('statement returned no result set (only queries are allowed)');
      return (rows as unknown[][]).map((r) => r.map(cell));
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
      options: `-c default_transaction_read_only=on -c statement_timeout=${this.opts.statementTimeoutSeconds * 1000} -c TimeZone=UTC -c client_encoding=UTF8`,
    };
  }

  private wrap(e: unknown): DatabaseError {
    return new DatabaseError(`${this.label}: ${errText(e)}`);
  }

  async query(sql: string, params: unknown[] = []): Promise<Row[]> {
    try {
      const res = await this.pool.query({
        text: sql,
        values: params,
        rowMode: 'array',
        queryMode: 'extended',
      } as pg.QueryArrayConfig);
      if (!Array.isArray(res.rows)) throw new Error('statement returned no result set');
      return (res.rows as unknown[][]).map((r) => r.map(cell));
    } catch (e) {
      throw this.wrap(e);
    }
  }

  async queryIsolated(sql: string, params: unknown[] = []): Promise<Row[]> {
    const client = new pg.Client(this.config());
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('BEGIN READ ONLY');
      const res = await client.query({
        text: sql,
        values: params,
        rowMode: 'array',
        queryMode: 'extended',
      } as pg.QueryArrayConfig);
      await client.query('ROLLBACK');
      if (res.command !== 'SELECT' || !Array.isArray(res.rows))
        throw new Error('statement returned no result set (only queries are allowed)');
      return (res.rows as unknown[][]).map((r) => r.map(cell));
    } catch (e) {
      throw this.wrap(e);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

/** Opens a pooled read-only connection; nothing is contacted until the first query. */
export function connect(engine: Engine, url: string, opts: ConnectOptions): SqlConnection {
  const label = `${opts.role} (${engine} ${describe(url)})`;
  let scheme: string;
  try {
    scheme = new URL(url).protocol.replace(':', '');
  } catch {
    throw new DatabaseError(`${opts.role}: the connection URL is not a valid URL`);
  }
  if (engine === 'postgres') {
    if (scheme !== 'postgres' && scheme !== 'postgresql')
      throw new DatabaseError(`${label}: a postgres URL must start with postgres://`);
    return new PostgresConnection(url, label, opts);
  }
  if (scheme !== 'mysql' && scheme !== 'mariadb')
    throw new DatabaseError(`${label}: a mysql URL must start with mysql://`);
  return new MysqlConnection(scheme === 'mariadb' ? url.replace(/^mariadb:/, 'mysql:') : url, label, opts);
}
