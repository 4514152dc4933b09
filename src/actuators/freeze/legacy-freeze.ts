/**
 * Legacy write freeze on the legacy MySQL/MariaDB.
 *
 * Freeze: `SET GLOBAL read_only = ON` (and `super_read_only = ON` where the server has it: MySQL
 * ≥ 5.7.8; MariaDB has no such variable and uses the READ ONLY ADMIN privilege instead), then a
 * write by a non-privileged application user that must be refused (error 1290,
 * ER_OPTION_PREVENTS_STATEMENT). Lift: the global values from before the first freeze come back.
 *
 * Crash safety: the values before the first freeze, who froze and when are kept in the returned
 * FreezeRecord and, when `recordTable` is given, in a table on the server (written by the admin
 * connection, which read_only does not stop). A second freeze finds the open record and keeps its
 * previous values, so freezing twice is harmless and the lift still restores the state before the
 * first. POS is put into its offline-first queue through a flag before the freeze, and taken out
 * after the lift.
 */
import mysql from 'mysql2/promise';
import { createLogger } from '../../runtime/logger.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { FlagSpec, FreezeRecord, FreezeTarget, MysqlConnection, WriteHook } from '../types.js';

const log = createLogger('actuators.freeze');

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const ER_OPTION_PREVENTS_STATEMENT = 1290;

/** Anything that can flip a flag and undo it (RedisFlagStore, FlagdConfigMapStore). */
export interface FlagActuator {
  apply(spec: FlagSpec): Promise<unknown>;
  restore(service: string, key: string): Promise<unknown>;
}

export interface FreezeOptions {
  clock?: Clock;
  /** `db.table` (or `table` in the admin connection's database) where freeze records are kept. */
  recordTable?: string;
  /** The POS offline-first flag to switch on before the freeze and back after the lift. */
  posOffline?: { flags: FlagActuator; spec: FlagSpec };
  /** Seconds a SET GLOBAL read_only may wait for locks held by running transactions. */
  lockWaitTimeoutSeconds?: number;
  /** Called after each write (tests throw from it to simulate a crash). */
  onWrite?: WriteHook;
}

export function quoteMysqlIdent(name: string): string {
  const parts = name.split('.');
  if (parts.length > 2 || parts.some((p) => !IDENT.test(p)))
    throw new Error(`invalid SQL identifier '${name}'`);
  return parts.map((p) => `\`${p}\``).join('.');
}

function connOptions(c: MysqlConnection): mysql.ConnectionOptions {
  const o: mysql.ConnectionOptions = { user: c.user, connectTimeout: 10_000 };
  if (c.socketPath) o.socketPath = c.socketPath;
  else {
    o.host = c.host ?? '127.0.0.1';
    o.port = c.port ?? 3306;
  }
  if (c.password !== undefined) o.password = c.password;
  if (c.database !== undefined) o.database = c.database;
  return o;
}

async function withConnection<T>(c: MysqlConnection, fn: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection(connOptions(c));
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => undefined);
  }
}

interface ReadOnlyVars {
  readOnly: boolean;
  superReadOnly?: boolean;
}

async function readVars(conn: mysql.Connection): Promise<ReadOnlyVars> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only')",
  );
  const vars = new Map(rows.map((r) => [String(r.Variable_name), String(r.Value).toUpperCase()]));
  const out: ReadOnlyVars = { readOnly: vars.get('read_only') === 'ON' };
  if (vars.has('super_read_only')) out.superReadOnly = vars.get('super_read_only') === 'ON';
  return out;
}

async function ensureRecordTable(conn: mysql.Connection, table: string): Promise<void> {
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${quoteMysqlIdent(table)} (
       id BIGINT AUTO_INCREMENT PRIMARY KEY,
       frozen_by VARCHAR(255) NOT NULL,
       frozen_at DATETIME(3) NOT NULL,
       reason TEXT NOT NULL,
       previous_read_only TINYINT NOT NULL,
       previous_super_read_only TINYINT NULL,
       verified TINYINT NULL,
       lifted_by VARCHAR(255) NULL,
       lifted_at DATETIME(3) NULL
     )`,
  );
}

async function openRecord(conn: mysql.Connection, table: string): Promise<FreezeRecord | undefined> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT frozen_by, frozen_at, reason, previous_read_only, previous_super_read_only, verified
       FROM ${quoteMysqlIdent(table)} WHERE lifted_at IS NULL ORDER BY id DESC LIMIT 1`,
  );
  const r = rows[0];
  if (!r) return undefined;
  const prev: { readOnly: boolean; superReadOnly?: boolean } = {
    readOnly: Number(r.previous_read_only) === 1,
  };
  if (r.previous_super_read_only !== null) prev.superReadOnly = Number(r.previous_super_read_only) === 1;
  return {
    frozen: true,
    frozenBy: String(r.frozen_by),
    frozenAt: new Date(r.frozen_at as Date).toISOString(),
    reason: String(r.reason),
    superReadOnly: r.previous_super_read_only !== null,
    previous: prev,
    verified: r.verified === null ? undefined : Number(r.verified) === 1,
  };
}

const toSqlTime = (iso: string): string => iso.replace('T', ' ').replace('Z', '');

/**
 * Verifies with the application user that writes are refused. Returns true when refused,
 * false when the write went through.
 */
async function probeWriteRefused(target: FreezeTarget): Promise<boolean> {
  if (!target.verifyWith) throw new Error('verifyWith is required to verify a freeze');
  const table = quoteMysqlIdent(target.verifyTable ?? 'cutover_freeze_probe');
  return withConnection(target.verifyWith, async (conn) => {
    try {
      await conn.query(`INSERT INTO ${table} (probed_at) VALUES (NOW(3))`);
      return false;
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (errno === ER_OPTION_PREVENTS_STATEMENT) return true;
      throw err;
    }
  });
}

/** Freezes legacy writes; idempotent. Throws when the verification write is not refused. */
export async function freezeLegacy(target: FreezeTarget, opts: FreezeOptions = {}): Promise<FreezeRecord> {
  const clock = opts.clock ?? systemClock;
  if (opts.posOffline) {
    await opts.posOffline.flags.apply(opts.posOffline.spec);
    opts.onWrite?.('pos-offline-flag');
  }
  const record = await withConnection(target.admin, async (conn) => {
    await conn.query('SET SESSION lock_wait_timeout = ?', [opts.lockWaitTimeoutSeconds ?? 30]);
    if (target.verifyWith) {
      // The probe table lives in the application user's database; created while still writable.
      const db = target.verifyWith.database;
      if (!db) throw new Error('verifyWith.database is required');
      await conn.query(
        `CREATE TABLE IF NOT EXISTS ${quoteMysqlIdent(db)}.${quoteMysqlIdent(target.verifyTable ?? 'cutover_freeze_probe')} (id BIGINT AUTO_INCREMENT PRIMARY KEY, probed_at DATETIME(3) NOT NULL)`,
      );
    }
    const vars = await readVars(conn);
    let rec: FreezeRecord | undefined;
    if (opts.recordTable) {
      await ensureRecordTable(conn, opts.recordTable);
      rec = await openRecord(conn, opts.recordTable);
    }
    if (!rec) {
      const frozenAt = clock.now().toISOString();
      rec = {
        frozen: true,
        frozenBy: target.actor,
        frozenAt,
        reason: target.reason,
        superReadOnly: vars.superReadOnly !== undefined,
        previous:
          vars.superReadOnly !== undefined
            ? { readOnly: vars.readOnly, superReadOnly: vars.superReadOnly }
            : { readOnly: vars.readOnly },
      };
      if (opts.recordTable) {
        await conn.query(
          `INSERT INTO ${quoteMysqlIdent(opts.recordTable)} (frozen_by, frozen_at, reason, previous_read_only, previous_super_read_only) VALUES (?, ?, ?, ?, ?)`,
          [
            target.actor,
            toSqlTime(frozenAt),
            target.reason,
            vars.readOnly ? 1 : 0,
            vars.superReadOnly === undefined ? null : vars.superReadOnly ? 1 : 0,
          ],
        );
        opts.onWrite?.('freeze-record');
      }
    }
    if (!vars.readOnly) {
      await conn.query('SET GLOBAL read_only = ON');
      opts.onWrite?.('read_only');
    }
    if (vars.superReadOnly === false) await conn.query('SET GLOBAL super_read_only = ON');
    return rec;
  });
  if (target.verifyWith) {
    const refused = await probeWriteRefused(target);
    record.verified = refused;
    if (opts.recordTable) {
      await withConnection(target.admin, (conn) =>
        conn.query(`UPDATE ${quoteMysqlIdent(opts.recordTable!)} SET verified = ? WHERE lifted_at IS NULL`, [
          refused ? 1 : 0,
        ]),
      );
    }
    if (!refused)
      throw new Error(
        'legacy freeze not effective: a write by the application user was accepted while read_only is ON',
      );
  }
  log.info(
    {
      frozenBy: record.frozenBy,
      frozenAt: record.frozenAt,
      reason: record.reason,
      verified: record.verified,
    },
    'legacy writes frozen',
  );
  return record;
}

/**
 * Lifts the freeze: restores the global values from before the first freeze (from `record`, or
 * from the open row of `recordTable`), verifies that the application user can write again, and
 * takes POS out of its offline queue. Idempotent.
 */
export async function liftLegacyFreeze(
  target: FreezeTarget,
  record: FreezeRecord | undefined,
  opts: FreezeOptions = {},
): Promise<FreezeRecord> {
  const clock = opts.clock ?? systemClock;
  const lifted = await withConnection(target.admin, async (conn) => {
    let rec = record;
    if (opts.recordTable) {
      await ensureRecordTable(conn, opts.recordTable);
      rec = (await openRecord(conn, opts.recordTable)) ?? rec;
    }
    const previous = rec?.previous ?? { readOnly: false };
    const vars = await readVars(conn);
    if (vars.superReadOnly !== undefined && vars.superReadOnly !== (previous.superReadOnly ?? false)) {
      await conn.query(`SET GLOBAL super_read_only = ${previous.superReadOnly ? 'ON' : 'OFF'}`);
    }
    if (vars.readOnly !== previous.readOnly) {
      await conn.query(`SET GLOBAL read_only = ${previous.readOnly ? 'ON' : 'OFF'}`);
      opts.onWrite?.('read_only');
    }
    const liftedAt = clock.now().toISOString();
    if (opts.recordTable) {
      await conn.query(
        `UPDATE ${quoteMysqlIdent(opts.recordTable)} SET lifted_by = ?, lifted_at = ? WHERE lifted_at IS NULL`,
        [target.actor, toSqlTime(liftedAt)],
      );
    }
    const out: FreezeRecord = {
      ...(rec ?? { superReadOnly: vars.superReadOnly !== undefined }),
      frozen: false,
      liftedBy: target.actor,
      liftedAt,
    };
    return { out, writable: !previous.readOnly };
  });
  if (target.verifyWith && lifted.writable && (await probeWriteRefused(target))) {
    throw new Error('legacy freeze lift not effective: a write by the application user is still refused');
  }
  if (opts.posOffline)
    await opts.posOffline.flags.restore(opts.posOffline.spec.service, opts.posOffline.spec.key);
  log.info({ liftedBy: lifted.out.liftedBy, liftedAt: lifted.out.liftedAt }, 'legacy freeze lifted');
  return lifted.out;
}

/** The current global read-only state of the legacy server. */
export async function readFreezeState(admin: MysqlConnection): Promise<ReadOnlyVars> {
  return withConnection(admin, readVars);
}
