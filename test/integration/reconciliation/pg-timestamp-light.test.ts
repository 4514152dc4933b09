/**
 * The lighter canonical text of PostgreSQL timestamps compared to the whole second
 * (declared-types.ts: the ISO text of the UTC time cut by date_trunc instead of TO_CHAR) gives
 * the very same text as the full expression for every value, edge values included: fractions of
 * a second, years before 1000, BC, year 10000 and later, ±infinity and NULL. Read through the
 * engine's own connection (TimeZone UTC, DateStyle ISO).
 */
import assert from 'node:assert/strict';
import { COMMON_TIMESTAMPS, engineDatabase } from './helpers.js';
import { lightValue } from '../../../src/reconciliation/declared-types.js';
import { postgresDialect } from '../../../src/reconciliation/dialect.js';

const VALUES = [
  ...COMMON_TIMESTAMPS,
  '0001-01-01 00:00:00',
  '0001-12-31 23:59:59 BC',
  '10000-01-01 00:00:00',
  '12345-06-07 08:09:10.5',
  'infinity',
  '-infinity',
];

describe('PostgreSQL timestamps: the light canonical text equals the full one', function () {
  this.timeout(60_000);
  const conn = engineDatabase('postgres', 'recon_ts_light', async (url) => {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query('CREATE TABLE t (id INT PRIMARY KEY, tz TIMESTAMPTZ, plain TIMESTAMP)');
      await admin.query("SET TimeZone = 'Europe/Istanbul'");
      for (const [i, v] of [...VALUES, null].entries())
        await admin.query('INSERT INTO t VALUES ($1, CAST($2 AS TIMESTAMPTZ), CAST($3 AS TIMESTAMP))', [
          i,
          v === null ? null : v.includes('infinity') ? v : `${v}+00`,
          v,
        ]);
    } finally {
      await admin.end();
    }
  });

  for (const [column, type] of [
    ['tz', 'timestamp with time zone'],
    ['plain', 'timestamp without time zone'],
  ] as const)
    it(`${type}: same text for every value, and the light form is the one used`, async () => {
      const col = { type: 'timestamp' as const, scale: 0, transforms: [], precision: 0 as const };
      const declared = { type, scale: null, datetimePrecision: 6, charset: null, nullable: true };
      const light = lightValue('postgres', column, col, 'target', declared);
      assert.ok(light?.includes('date_trunc'), `no light form: ${String(light)}`);
      const full = postgresDialect.canonicalValue(column, col, 'target');
      const rows = await conn().query(`SELECT id, ${light}, ${full} FROM t ORDER BY id`);
      assert.equal(rows.length, VALUES.length + 1);
      for (const [id, l, f] of rows) assert.equal(l, f, `value ${VALUES[Number(id)] ?? 'NULL'}`);
      // the ordinary values do take the light branch and read as the canonical text
      assert.equal(rows[0]?.[1], '2026-03-01 12:34:56');
      assert.equal(rows[1]?.[1], '2026-03-01 12:34:56');
      assert.equal(rows[VALUES.length]?.[1], null);
    });

  it('keeps the full expression for other precisions and for a legacy side read in a zone', () => {
    const declared = {
      type: 'timestamp with time zone',
      scale: null,
      datetimePrecision: 6,
      charset: null,
      nullable: true,
    };
    const base = { type: 'timestamp' as const, scale: 0, transforms: [] };
    assert.equal(lightValue('postgres', 'x', { ...base, precision: 3 }, 'target', declared), undefined);
    assert.equal(
      lightValue('postgres', 'x', { ...base, precision: 0, legacyTimeZone: '+03:00' }, 'legacy', declared),
      undefined,
    );
  });
});
