import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { RedisFlagStore } from '../../../src/actuators/flags/redis-flags.js';
import {
  freezeLegacy,
  liftLegacyFreeze,
  readFreezeState,
} from '../../../src/actuators/freeze/legacy-freeze.js';
import type { FlagSpec, FreezeTarget, MysqlConnection } from '../../../src/actuators/types.js';
import { startOwnMariadb, type OwnMariadb } from './own-servers.js';
import { killMidChange } from '../../support/kill-mid-change.js';

// The freeze sets GLOBAL read_only: it runs on a mariadbd of its own, never on the shared server.
describe('actuators/freeze legacy write freeze (own mariadbd)', function () {
  this.timeout(60_000);
  let server: OwnMariadb;
  let admin: MysqlConnection;
  let app: MysqlConnection;
  let redis: Redis;
  const prefix = `test-freeze-${randomBytes(4).toString('hex')}:`;

  before(async () => {
    server = await startOwnMariadb();
    admin = { socketPath: server.socket, user: 'root' };
    const user = `app_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    const conn = await mysql.createConnection({ socketPath: server.socket, user: 'root' });
    await conn.query('CREATE DATABASE legacy');
    await conn.query(
      'CREATE TABLE legacy.orders (id INT AUTO_INCREMENT PRIMARY KEY, total DECIMAL(10,2) NOT NULL)',
    );
    await conn.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await conn.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON legacy.* TO '${user}'@'%'`);
    await conn.end();
    app = { host: '127.0.0.1', port: server.port, user, password, database: 'legacy' };
    redis = new Redis('redis://127.0.0.1:6379/0');
  });
  after(async () => {
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await server?.close();
  });

  async function appInsert(): Promise<number | undefined> {
    const c = await mysql.createConnection({
      host: app.host!,
      port: app.port!,
      user: app.user,
      password: app.password!,
      database: 'legacy',
    });
    try {
      await c.query('INSERT INTO orders (total) VALUES (12.50)');
      return undefined;
    } catch (err) {
      return (err as { errno?: number }).errno;
    } finally {
      await c.end();
    }
  }

  it('writes fail while frozen, succeed after the lift; freezing twice is harmless; POS goes offline-first meanwhile', async () => {
    const flags = new RedisFlagStore(redis, prefix);
    const posOffline: FlagSpec = {
      service: 'pos',
      key: 'offline-queue',
      tenants: 'all',
      enabled: true,
      percentage: 100,
      bucketingKey: 'sessionId',
    };
    const target: FreezeTarget = {
      admin,
      verifyWith: app,
      actor: 'alice@nokta',
      reason: 'cutover day: final delta sync',
    };
    const conn = await mysql.createConnection({ socketPath: server.socket, user: 'root' });
    await conn.query('CREATE DATABASE IF NOT EXISTS cutover_meta');
    await conn.end();
    const fullOpts = { recordTable: 'cutover_meta.freeze_log', posOffline: { flags, spec: posOffline } };

    assert.equal(await appInsert(), undefined, 'writable before the freeze');
    const state0 = await readFreezeState(admin);
    assert.equal(state0.readOnly, false);
    assert.equal(state0.superReadOnly, undefined, 'MariaDB has no super_read_only');

    const rec = await freezeLegacy(target, fullOpts);
    assert.equal(rec.frozen, true);
    assert.equal(rec.verified, true);
    assert.equal(rec.frozenBy, 'alice@nokta');
    assert.ok(rec.frozenAt);
    assert.equal(await appInsert(), 1290, 'the app write is refused while frozen');
    assert.equal((await readFreezeState(admin)).readOnly, true);
    assert.equal(await flags.evaluate('pos', 'offline-queue', { tenantId: 'any', sessionId: 's1' }), 'on');

    // Freezing twice (e.g. after an operator crash): same record, still frozen, previous kept.
    const again = await freezeLegacy({ ...target, actor: 'operator-retry' }, fullOpts);
    assert.equal(again.frozenBy, 'alice@nokta');
    assert.equal(again.frozenAt, rec.frozenAt);
    assert.deepEqual(again.previous, { readOnly: false });
    assert.equal(await appInsert(), 1290);

    const lifted = await liftLegacyFreeze({ ...target, actor: 'bob@nokta' }, undefined, fullOpts);
    assert.equal(lifted.frozen, false);
    assert.equal(lifted.liftedBy, 'bob@nokta');
    assert.equal(await appInsert(), undefined, 'writable after the lift');
    assert.equal((await readFreezeState(admin)).readOnly, false);
    assert.equal(await flags.evaluate('pos', 'offline-queue', { tenantId: 'any', sessionId: 's1' }), 'off');
    // Lifting twice is harmless too.
    await liftLegacyFreeze(target, lifted, fullOpts);
    assert.equal(await appInsert(), undefined);

    const c2 = await mysql.createConnection({ socketPath: server.socket, user: 'root' });
    const [rows] = await c2.query<mysql.RowDataPacket[]>(
      'SELECT frozen_by, lifted_by, verified FROM cutover_meta.freeze_log',
    );
    await c2.end();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.frozen_by, 'alice@nokta');
    assert.equal(rows[0]!.lifted_by, 'bob@nokta');
    assert.equal(Number(rows[0]!.verified), 1);
  });

  it('a crash between the writes of a freeze or a lift: calling again finishes it with the first record', async () => {
    const c = await mysql.createConnection({ socketPath: server.socket, user: 'root' });
    await c.query('CREATE DATABASE IF NOT EXISTS cutover_meta');
    await c.end();
    const target: FreezeTarget = { admin, verifyWith: app, actor: 'operator', reason: 'crash test' };
    const recordTable = 'cutover_meta.crash_log';
    const crashAfter =
      (step: string) =>
      (s: string): void => {
        if (s === step) throw new Error(`simulated operator crash after ${s}`);
      };
    // Crash after the record, before read_only: the retry sets read_only and keeps the first record.
    await assert.rejects(
      freezeLegacy(target, { recordTable, onWrite: crashAfter('freeze-record') }),
      /simulated operator crash/,
    );
    assert.equal((await readFreezeState(admin)).readOnly, false);
    assert.equal(await appInsert(), undefined);
    const first = await freezeLegacy({ ...target, actor: 'operator-restarted' }, { recordTable });
    assert.equal(first.frozenBy, 'operator');
    assert.equal(first.verified, true);
    assert.equal(await appInsert(), 1290);
    // Crash in the lift after read_only went off, before the record was closed: the retry closes it.
    await assert.rejects(
      liftLegacyFreeze(target, first, { recordTable, onWrite: crashAfter('read_only') }),
      /simulated operator crash/,
    );
    const lifted = await liftLegacyFreeze(target, first, { recordTable });
    assert.equal(lifted.frozen, false);
    assert.equal(await appInsert(), undefined);
    const c2 = await mysql.createConnection({ socketPath: server.socket, user: 'root' });
    const [rows] = await c2.query<mysql.RowDataPacket[]>(
      'SELECT frozen_by, lifted_by FROM cutover_meta.crash_log',
    );
    await c2.end();
    assert.deepEqual(
      rows.map((r) => [String(r.frozen_by), String(r.lifted_by)]),
      [['operator', 'operator']],
    );
  });

  it('a freeze in a process killed (SIGKILL) after its record: read_only is not on yet, the next freeze finishes it with the first record', async () => {
    const c = await mysql.createConnection({ socketPath: server.socket, user: 'root' });
    await c.query('CREATE DATABASE IF NOT EXISTS cutover_meta');
    await c.end();
    const target: FreezeTarget = { admin, verifyWith: app, actor: 'killed-operator', reason: 'kill test' };
    const recordTable = 'cutover_meta.kill_log';
    await killMidChange({ kind: 'freeze', target, recordTable, crashAt: 'freeze-record' });
    assert.equal((await readFreezeState(admin)).readOnly, false, 'killed before read_only');
    assert.equal(await appInsert(), undefined, 'writes still go through');
    const record = await freezeLegacy({ ...target, actor: 'next-operator' }, { recordTable });
    assert.equal(record.frozenBy, 'killed-operator', 'the first record is kept');
    assert.equal(record.verified, true);
    // Killed in the lift right after read_only went off: the next lift closes the record.
    await killMidChange({ kind: 'lift', target, record, recordTable, crashAt: 'read_only' });
    assert.equal((await readFreezeState(admin)).readOnly, false);
    const lifted = await liftLegacyFreeze(target, record, { recordTable });
    assert.equal(lifted.frozen, false);
    const c2 = await mysql.createConnection({ socketPath: server.socket, user: 'root' });
    const [rows] = await c2.query<mysql.RowDataPacket[]>(
      'SELECT frozen_by, lifted_by FROM cutover_meta.kill_log',
    );
    await c2.end();
    assert.deepEqual(
      rows.map((r) => [String(r.frozen_by), String(r.lifted_by)]),
      [['killed-operator', 'killed-operator']],
    );
  });

  it('a freeze that a write gets through is reported, not trusted', async () => {
    // A privileged "application" user is not stopped by read_only: the verification must say so.
    const target: FreezeTarget = {
      admin,
      verifyWith: { ...admin, database: 'legacy' },
      actor: 'alice',
      reason: 'test',
    };
    await assert.rejects(freezeLegacy(target), /not effective/);
    await liftLegacyFreeze(target, { frozen: true, superReadOnly: false, previous: { readOnly: false } });
    assert.equal((await readFreezeState(admin)).readOnly, false);
  });
});
