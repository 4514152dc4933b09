import assert from 'node:assert/strict';
import { planFromSpec, PlanError, parseDuration } from '../../../src/reconciliation/plan.js';
import { mysqlDialect, postgresDialect, Params } from '../../../src/reconciliation/dialect.js';

const base = {
  legacy: { engine: 'mysql', secretRef: { name: 'l' } },
  target: { engine: 'postgres', secretRef: { name: 't' } },
  thresholds: { remediatePercent: 0.5, failPercent: 1 },
};

describe('reconciliation plan', () => {
  it('reads the agreed spec shape with defaults', () => {
    const plan = planFromSpec({
      ...base,
      window: { column: 'created_at', last: '90d' },
      checks: [
        { name: 'c', type: 'count', legacy: { table: 'pos_orders' }, target: { table: 'public.orders' } },
        {
          name: 'r',
          type: 'rowHash',
          legacy: { table: 'pos_orders' },
          target: { query: 'SELECT 1' },
          key: ['id'],
          columns: [{ name: 'total', type: 'decimal' }],
        },
      ],
    });
    assert.equal(plan.tenantColumn, 'tenant_id');
    assert.equal(plan.statementTimeoutSeconds, 300);
    assert.equal(plan.window?.lastMs, 90 * 86_400_000);
    assert.equal(plan.legacy.secretKey, 'url');
    assert.equal(plan.checks[1]?.columns[0]?.scale, 2);
    assert.equal(plan.checks[1]?.columns[0]?.legacy, 'total');
    assert.equal(plan.checks[0]?.legacy.tenantColumn, 'tenant_id');
  });

  it('refuses bad identifiers, missing sources and bad thresholds with every problem listed', () => {
    try {
      planFromSpec({
        ...base,
        thresholds: { remediatePercent: 2, failPercent: 1 },
        checks: [
          {
            name: 'x',
            type: 'count',
            legacy: { table: 'orders; DROP TABLE x' },
            target: { table: 'a', query: 'SELECT 1' },
          },
          {
            name: 'y',
            type: 'rowHash',
            legacy: { table: 'a' },
            target: { table: 'b' },
            columns: [{ name: 'a b', type: 'money' }],
          },
        ],
      });
      assert.fail('expected PlanError');
    } catch (e) {
      assert.ok(e instanceof PlanError);
      const text = e.problems.join('\n');
      assert.match(text, /not a valid SQL identifier/);
      assert.match(text, /exactly one of table or query/);
      assert.match(text, /remediatePercent must not exceed failPercent/);
      assert.match(text, /key is required for rowHash/);
      assert.match(text, /type must be one of/);
    }
    assert.throws(() => planFromSpec(null), PlanError);
    assert.throws(() => parseDuration('3 weeks'), PlanError);
  });
});

describe('reconciliation dialects', () => {
  it('quotes identifiers per engine', () => {
    assert.equal(mysqlDialect.quote('public.orders'), '`public`.`orders`');
    assert.equal(postgresDialect.quote('orders'), '"orders"');
  });

  it('binds MySQL positional parameters in text order whatever the assembly order', () => {
    const p = new Params('mysql');
    const a = p.add(1);
    const b = p.add(2);
    const [sql, values] = p.bind(`SELECT ${b}, ${a}`);
    assert.equal(sql, 'SELECT ?, ?');
    assert.deepEqual(values, [2, 1]);
    const q = new Params('postgres');
    q.add('x');
    assert.deepEqual(q.bind(`SELECT ${q.add('y')}`), ['SELECT $2', ['x', 'y']]);
  });

  it('formats window bounds in the legacy zone', () => {
    const t = new Date('2026-01-01T00:00:00Z');
    assert.equal(mysqlDialect.timestampParam(t, '+03:00'), '2026-01-01 03:00:00.000');
    assert.equal(mysqlDialect.timestampParam(t, 'Europe/Istanbul'), '2026-01-01 03:00:00.000');
    assert.equal(postgresDialect.timestampParam(t, undefined), '2026-01-01 00:00:00.000+00');
  });
});
