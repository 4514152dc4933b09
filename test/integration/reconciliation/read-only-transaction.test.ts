/**
 * Read-only that a query cannot switch off (issue 9): every statement runs in its own read-only
 * transaction, rolled back, on both engines. The probe's attack — a check whose query turns
 * `default_transaction_read_only` off on a pooled PostgreSQL connection, then a check that
 * advances a sequence — is refused by the SQL guard, and even with the guard bypassed nothing is
 * written and the run is Error, never Passed. Also: the write grants of the account are found.
 */
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { planFromSpec, PlanError, type ReconciliationPlan } from '../../../src/reconciliation/plan.js';
import { runReconciliation } from '../../../src/reconciliation/engine.js';
import { connect } from '../../../src/reconciliation/connection.js';

const ATTACK =
  "SELECT tenant_id FROM orders WHERE set_config('default_transaction_read_only','off',false)='off'";
const NEXTVAL = "SELECT tenant_id FROM orders WHERE nextval('order_seq') > 0";

async function pgScalar(url: string, sql: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return String((await c.query<{ v: unknown }>(sql)).rows[0]?.v);
  } finally {
    await c.end();
  }
}

describe('reconciliation: every statement in its own read-only transaction', function () {
  this.timeout(60_000);
  let l: TestDatabase;
  let t: TestDatabase;

  before(async () => {
    [l, t] = await Promise.all([createMysqlDatabase('recon_ro'), createPostgresDatabase('recon_ro')]);
    const my = await mysql.createConnection(l.url);
    await my.query('CREATE TABLE orders (id INT PRIMARY KEY, tenant_id VARCHAR(10) NOT NULL)');
    await my.query("INSERT INTO orders VALUES (1, 'acme'), (2, 'acme'), (3, 'beta')");
    await my.query('CREATE SEQUENCE order_seq');
    await my.end();
    const pc = new pg.Client({ connectionString: t.url });
    await pc.connect();
    await pc.query('CREATE TABLE orders (id INT PRIMARY KEY, tenant_id TEXT NOT NULL)');
    await pc.query("INSERT INTO orders VALUES (1, 'acme'), (2, 'acme'), (3, 'beta')");
    await pc.query('CREATE SEQUENCE order_seq');
    await pc.end();
  });

  after(async () => {
    await Promise.all([l?.drop(), t?.drop()]);
  });

  it('PostgreSQL: a set_config on a pooled connection does not outlive its statement; nextval is refused', async () => {
    // one pooled connection, so the second statement runs on the session the first one changed
    const c = connect('postgres', t.url, { role: 'target', statementTimeoutSeconds: 20, poolSize: 1 });
    try {
      assert.deepEqual(await c.query(ATTACK), [['acme'], ['acme'], ['beta']]);
      assert.deepEqual(await c.query("SELECT current_setting('default_transaction_read_only')"), [['on']]);
      assert.deepEqual(await c.query("SELECT current_setting('transaction_read_only')"), [['on']]);
      await assert.rejects(c.query(NEXTVAL), /read-only transaction/);
      // the connection whose statement failed was closed; the next statement still works
      assert.deepEqual(await c.query('SELECT COUNT(*) FROM orders'), [['3']]);
    } finally {
      await c.close();
    }
    assert.equal(
      await pgScalar(t.url, 'SELECT is_called AS v FROM order_seq'),
      'false',
      'the sequence never moved',
    );
  });

  it('MariaDB: each statement runs inside START TRANSACTION READ ONLY', async () => {
    const c = connect('mysql', l.url, { role: 'legacy', statementTimeoutSeconds: 20, poolSize: 1 });
    try {
      assert.deepEqual(await c.query('SELECT @@in_transaction'), [['1']]);
      await assert.rejects(c.query('SELECT NEXTVAL(order_seq)'), /READ ONLY/);
      // literals are read with backslash escapes and "..." as strings whatever the server's sql_mode
      assert.deepEqual(await c.query("SELECT 'a\\'b', \"x\""), [["a'b", 'x']]);
    } finally {
      await c.close();
    }
  });

  const spec = (target: { query?: string; table?: string }[]): Record<string, unknown> => ({
    legacy: { engine: 'mysql', secretRef: { name: 'l' } },
    target: { engine: 'postgres', secretRef: { name: 't' } },
    statementTimeoutSeconds: 20,
    checks: target.map((side, i) => ({
      name: `c${i}`,
      type: 'count',
      legacy: { table: 'orders' },
      target: side,
    })),
  });

  it('the attack of the probe is refused by the plan, naming the field and the token', () => {
    assert.throws(
      () => planFromSpec(spec([{ query: ATTACK }, { query: NEXTVAL }])),
      (e: unknown) =>
        e instanceof PlanError &&
        e.problems.some((p) => p.startsWith("spec.checks[0].target.query: refused 'set_config'")) &&
        e.problems.some((p) => p.startsWith("spec.checks[1].target.query: refused 'nextval'")),
    );
  });

  it('with the guard bypassed, the same run writes nothing and is Error, never Passed', async () => {
    // the plan as if the guard had missed both queries
    const plan: ReconciliationPlan = planFromSpec(spec([{ table: 'orders' }, { table: 'orders' }]));
    plan.checks[0]!.target = { query: ATTACK, tenantColumn: 'tenant_id' };
    plan.checks[1]!.target = { query: NEXTVAL, tenantColumn: 'tenant_id' };
    const legacy = connect('mysql', l.url, { role: 'legacy', statementTimeoutSeconds: 20, poolSize: 1 });
    const target = connect('postgres', t.url, { role: 'target', statementTimeoutSeconds: 20, poolSize: 1 });
    try {
      const r = await runReconciliation(plan, { legacy, target });
      assert.equal(r.verdict, 'Error');
      assert.match(r.error ?? '', /read-only transaction/);
      assert.equal(r.checks[1]?.verdict, 'Error');
    } finally {
      await Promise.all([legacy.close(), target.close()]);
    }
    assert.equal(
      await pgScalar(t.url, 'SELECT is_called AS v FROM order_seq'),
      'false',
      'the sequence never moved',
    );
  });

  it('finds the write grants of the account on the compared tables (PostgreSQL and MariaDB)', async () => {
    const user = `recon_ro_${Date.now() % 1_000_000}`;
    const admin = new pg.Client({ connectionString: t.url });
    await admin.connect();
    const my = await mysql.createConnection(l.url);
    try {
      await admin.query(`CREATE ROLE ${user} LOGIN`);
      await admin.query(`GRANT SELECT ON orders TO ${user}`);
      await my.query(`CREATE USER '${user}'@'%'`);
      await my.query(`GRANT SELECT ON \`${l.name}\`.orders TO '${user}'@'%'`);
      const pgUrl = new URL(t.url);
      pgUrl.username = user;
      const myUrl = new URL(l.url);
      myUrl.username = user;
      const readOnly = {
        target: connect('postgres', pgUrl.toString(), { role: 'target', statementTimeoutSeconds: 20 }),
        legacy: connect('mysql', myUrl.toString(), { role: 'legacy', statementTimeoutSeconds: 20 }),
      };
      try {
        assert.deepEqual(await readOnly.target.writePrivileges(['orders']), []);
        assert.deepEqual(await readOnly.legacy.writePrivileges(['orders']), []);
        await admin.query(`GRANT INSERT, UPDATE ON orders TO ${user}`);
        await my.query(`GRANT DELETE ON \`${l.name}\`.* TO '${user}'@'%'`);
        assert.deepEqual(await readOnly.target.writePrivileges(['orders']), ['INSERT, UPDATE on orders']);
        assert.deepEqual(await readOnly.legacy.writePrivileges(['orders']), [`DELETE on ${l.name}.*`]);
        // another database's grant does not count
        assert.deepEqual(await readOnly.legacy.writePrivileges(['other_db.orders']), []);
      } finally {
        await Promise.all([readOnly.target.close(), readOnly.legacy.close()]);
      }
    } finally {
      await admin.query(`DROP OWNED BY ${user}`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${user}`).catch(() => undefined);
      await admin.end();
      await my.query(`DROP USER IF EXISTS '${user}'@'%'`).catch(() => undefined);
      await my.end();
    }
  });
});
