import assert from 'node:assert/strict';
import { planFromSpec } from '../../../src/reconciliation/plan.js';
import { SideSql } from '../../../src/reconciliation/side-sql.js';
import { bucketCount, bucketLayout } from '../../../src/reconciliation/scan-pass.js';
import type { SqlConnection } from '../../../src/reconciliation/connection.js';
import type { DeclaredColumn } from '../../../src/reconciliation/declared-types.js';

function conn(engine: 'mysql' | 'postgres'): SqlConnection {
  const refuse = (): Promise<never> => Promise.reject(new Error('no database in this test'));
  return {
    engine,
    label: `${engine} (test)`,
    query: refuse,
    queryIsolated: refuse,
    writePrivileges: refuse,
    close: () => Promise.resolve(),
  };
}

const plan = planFromSpec({
  legacy: { engine: 'mysql', secretRef: { name: 'l', key: 'url' } },
  target: { engine: 'postgres', secretRef: { name: 't', key: 'url' } },
  tenantColumn: 'tenant_id',
  checks: [
    {
      name: 'rows',
      type: 'rowHash',
      legacy: { table: 'pos_orders' },
      target: { query: 'SELECT id, tenant_id, total, payment_ref FROM orders' },
      key: ['id'],
      columns: [
        { name: 'id', type: 'integer' },
        { name: 'total', type: 'decimal', scale: 2 },
        { name: 'payment_ref', type: 'text' },
      ],
    },
  ],
});
const check = plan.checks[0];
if (!check) throw new Error('no check');

const notNull = (type: string, scale: number | null = null): DeclaredColumn => ({
  type,
  scale,
  datetimePrecision: null,
  charset: type === 'varchar' ? 'utf8mb4' : null,
  nullable: false,
});

describe('row hash parts', () => {
  it('hashes a key that is also a compared column once', () => {
    const s = new SideSql('target', conn('postgres'), check.target, check, plan, {});
    const hash = s.rowHash();
    assert.equal(hash.split('src."id"').length - 1, 1, hash);
  });

  it('drops the NULL marking of columns declared NOT NULL (text keeps its ":" prefix), keeps it for undeclared sides', () => {
    const legacy = new SideSql('legacy', conn('mysql'), check.legacy, check, plan, {});
    legacy.declared = new Map([
      ['id', notNull('bigint')],
      ['total', notNull('decimal', 2)],
      ['payment_ref', notNull('varchar')],
    ]);
    const [id, total, ref] = (check.columns ?? []).map((c) => legacy.hashPart(c));
    assert.equal(id, 'src.`id`');
    assert.equal(total, 'src.`total`');
    // text keeps ':' + text, so a '|' in a value can only pass for a boundary before ':'; never
    // NULL, it needs no COALESCE to '~'
    assert.equal(ref, "CONCAT(':', RTRIM(src.`payment_ref`))");
    const target = new SideSql('target', conn('postgres'), check.target, check, plan, {});
    const [tid, ttotal] = (check.columns ?? []).map((c) => target.hashPart(c));
    assert.equal(tid, `COALESCE(CAST(CAST(src."id" AS BIGINT) AS TEXT), '~')`);
    assert.equal(ttotal, `COALESCE(CAST(CAST(src."total" AS NUMERIC(38,2)) AS TEXT), '~')`);
  });

  it('keeps the NULL marking of nullable declared columns', () => {
    const legacy = new SideSql('legacy', conn('mysql'), check.legacy, check, plan, {});
    legacy.declared = new Map([['total', { ...notNull('decimal', 2), nullable: true }]]);
    const total = check.columns.find((c) => c.name === 'total');
    if (!total) throw new Error('no total');
    assert.equal(legacy.hashPart(total), "COALESCE(src.`total`, '~')");
  });
});

describe('bucket layout splits', () => {
  it('splits a key range at bucket boundaries, and not at all into one part', () => {
    assert.deepEqual(bucketLayout(1n, 1000n, 10, 1), { lo: 1n, width: 100n });
    assert.deepEqual(bucketLayout(1n, 1000n, 10, 2), { lo: 1n, width: 100n, splits: [501n] });
    assert.deepEqual(bucketLayout(1n, 1000n, 10, 3).splits, [301n, 601n]);
  });

  it('takes about one bucket per 1,000 keys of the span by default, 256 to 1,024', () => {
    assert.equal(bucketCount(1n, 1n), 256);
    assert.equal(bucketCount(1n, 100_000n), 256);
    assert.equal(bucketCount(1n, 300_000n), 300);
    assert.equal(bucketCount(-7n, 600_000n), 600);
    assert.equal(bucketCount(1n, 1_000_000n), 1000);
    assert.equal(bucketCount(1n, 1_024_499n), 1024);
    assert.equal(bucketCount(1n, 50_000_000n), 1024);
    assert.equal(bucketCount(5n, 1n), 256);
  });
});

describe('row hash parts: timestamps', () => {
  it('hashes a timestamp read at a fixed legacy offset as the time at that offset on both sides', () => {
    const tsPlan = planFromSpec({
      legacy: { engine: 'mysql', secretRef: { name: 'l', key: 'url' } },
      target: { engine: 'postgres', secretRef: { name: 't', key: 'url' } },
      tenantColumn: 'tenant_id',
      checks: [
        {
          name: 'rows',
          type: 'rowHash',
          legacy: { table: 'pos_orders' },
          target: { table: 'orders' },
          key: ['id'],
          columns: [
            { name: 'id', type: 'integer' },
            { name: 'created_at', type: 'timestamp', legacyTimeZone: '+03:00' },
            { name: 'paid_at', type: 'timestamp', legacyTimeZone: '-05:30' },
            { name: 'seen_at', type: 'timestamp', legacyTimeZone: 'Europe/Istanbul' },
          ],
        },
      ],
    });
    const c = tsPlan.checks[0];
    if (!c) throw new Error('no check');
    const [, created, paid, seen] = c.columns;
    if (!created || !paid || !seen) throw new Error('no columns');
    const legacy = new SideSql('legacy', conn('mysql'), c.legacy, c, tsPlan, {});
    legacy.declared = new Map([
      ['created_at', { ...notNull('datetime'), datetimePrecision: 0 }],
      ['paid_at', { ...notNull('datetime'), datetimePrecision: 0, nullable: true }],
    ]);
    const target = new SideSql('target', conn('postgres'), c.target, c, tsPlan, {});
    target.declared = new Map([['created_at', notNull('timestamp with time zone')]]);
    // legacy: the stored wall-clock time, no date computation per row
    assert.equal(legacy.hashPart(created), 'CONCAT(src.`created_at`)');
    assert.equal(legacy.hashPart(paid), "COALESCE(CONCAT(src.`paid_at`), '~')");
    // target: its UTC time moved by the offset, in the light form of its declared type
    const tCreated = target.hashPart(created);
    assert.ok(
      tCreated.includes(
        `date_trunc('second', ((src."created_at" + INTERVAL '10800 seconds') AT TIME ZONE 'UTC'))`,
      ),
      tCreated,
    );
    assert.ok(!tCreated.startsWith('COALESCE'), tCreated);
    assert.ok(target.hashPart(paid).includes(`(src."paid_at" + INTERVAL '-19800 seconds')`));
    // a named zone keeps the UTC text on both sides
    assert.ok(legacy.hashPart(seen).includes('CONVERT_TZ(src.`seen_at`'));
    assert.ok(!target.hashPart(seen).includes('INTERVAL'));
    // the canonical text (column comparison, samples) stays UTC
    assert.ok(legacy.canonical(created).includes('INTERVAL 10800 SECOND'));
  });
});
