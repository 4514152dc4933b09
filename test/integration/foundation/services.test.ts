/** Foundation smoke tests: PostgreSQL, MariaDB, Redis and Prometheus are real and reachable. */
import assert from 'node:assert/strict';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import { Gauge } from 'prom-client';
import { createMysqlDatabase, createPostgresDatabase, useRedis } from '../../support/databases.js';
import { startPrometheus, startTestExporter } from '../../support/prometheus.js';

describe('foundation: services', function () {
  it('creates, uses and drops a PostgreSQL database of its own', async function () {
    const db = await createPostgresDatabase('smoke');
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query('CREATE TABLE t (id int primary key, amount numeric(12,2))');
      await c.query('INSERT INTO t VALUES (1, 10.50), (2, 0.01)');
      const r = await c.query<{ s: string }>('SELECT sum(amount)::text AS s FROM t');
      assert.equal(r.rows[0]?.s, '10.51');
    } finally {
      await c.end();
      await db.drop();
    }
    const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await admin.connect();
    const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
    await admin.end();
    assert.equal(left.rowCount, 0, 'the database is dropped');
  });

  it('creates, uses and drops a MariaDB database of its own, with time zone tables loaded', async function () {
    const db = await createMysqlDatabase('smoke');
    const c = await mysql.createConnection(db.url);
    try {
      await c.query('CREATE TABLE t (id int primary key, amount decimal(12,2))');
      await c.query('INSERT INTO t VALUES (1, 10.50), (2, 0.01)');
      const [rows] = await c.query<mysql.RowDataPacket[]>(
        "SELECT CAST(SUM(amount) AS CHAR) AS s, CONVERT_TZ('2026-01-01 03:00:00', 'Europe/Istanbul', 'UTC') AS utc FROM t",
      );
      assert.equal(rows[0]?.s, '10.51');
      assert.ok(rows[0]?.utc, 'CONVERT_TZ with named zones works (time zone tables are loaded)');
    } finally {
      await c.end();
      await db.drop();
    }
  });

  it('uses Redis under a key prefix of its own and cleans up', async function () {
    const r = await useRedis('smoke');
    const client = new Redis(r.url);
    try {
      await client.set(`${r.prefix}a`, '1');
      assert.equal(await client.get(`${r.prefix}a`), '1');
      await r.cleanup();
      assert.equal(await client.exists(`${r.prefix}a`), 0);
    } finally {
      client.disconnect();
    }
  });

  it('starts Prometheus, which scrapes a test exporter and answers a query', async function () {
    const exporter = await startTestExporter();
    const gauge = new Gauge({
      name: 'smoke_orders_per_minute',
      help: 'orders per minute',
      labelNames: ['stack'],
      registers: [exporter.registry],
    });
    gauge.set({ stack: 'legacy' }, 120);
    gauge.set({ stack: 'new' }, 118);
    const prom = await startPrometheus({ targets: [exporter.target] });
    try {
      await prom.waitForTargets();
      const result = await prom.query('sum by (stack) (smoke_orders_per_minute)');
      const byStack = Object.fromEntries(
        result.map((s): [string, number] => [s.metric.stack ?? '', Number(s.value[1])]),
      );
      assert.deepEqual(byStack, { legacy: 120, new: 118 });
    } finally {
      await prom.stop();
      await exporter.stop();
    }
  });
});
