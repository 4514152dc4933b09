/**
 * The light canonical text of MariaDB DATETIME and TIMESTAMP columns (declared-types.ts) is
 * `CONCAT(x)` (or `LEFT(CONCAT(x), n)` below the declared precision), chosen over
 * `CAST(x AS CHAR)` because it costs less per row: the same text for every value, edge values
 * included (the first and last representable instants, fractions, NULL), and the same text as
 * the full canonical expression (DATE_FORMAT) where no zone is involved. Read through the
 * engine's own connection.
 */
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { COMMON_TIMESTAMPS, engineDatabase } from './helpers.js';
import { lightValue } from '../../../src/reconciliation/declared-types.js';
import { mysqlDialect } from '../../../src/reconciliation/dialect.js';

const VALUES = [...COMMON_TIMESTAMPS, '1000-01-01 00:00:00'];

/** TIMESTAMP holds 1970-2038 only: the other values are stored as NULL there. */
const inTimestampRange = (v: string): boolean => v >= '1970-01-02' && v < '2038-01-01';

describe('MariaDB timestamps: the light canonical text is CONCAT, the same text as CAST', function () {
  this.timeout(60_000);
  const conn = engineDatabase('mysql', 'recon_my_ts_light', async (url) => {
    const admin = await mysql.createConnection(url);
    try {
      await admin.query(
        'CREATE TABLE t (id INT PRIMARY KEY, d0 DATETIME NULL, d3 DATETIME(3) NULL, d6 DATETIME(6) NULL, ts TIMESTAMP(6) NULL DEFAULT NULL)',
      );
      await admin.query("SET time_zone = '+00:00'");
      for (const [i, v] of [...VALUES, null].entries())
        await admin.query('INSERT INTO t VALUES (?, ?, ?, ?, ?)', [
          i,
          v,
          v,
          v,
          v !== null && inTimestampRange(v) ? v : null,
        ]);
    } finally {
      await admin.end();
    }
  });

  const columns = [
    ['d0', 'datetime', 0],
    ['d3', 'datetime', 3],
    ['d6', 'datetime', 6],
    ['ts', 'timestamp', 6],
  ] as const;

  for (const [column, type, declaredPrecision] of columns)
    for (const precision of [0, 3, 6].filter((p) => p <= declaredPrecision) as (0 | 3 | 6)[])
      it(`${type}(${declaredPrecision}) compared to precision ${precision}: CONCAT reads as CAST and as the full text`, async () => {
        const declared = {
          type,
          scale: null,
          datetimePrecision: declaredPrecision,
          charset: null,
          nullable: true,
        };
        const col = { type: 'timestamp' as const, scale: 0, transforms: [], precision };
        const light = lightValue('mysql', column, col, 'legacy', declared);
        assert.ok(
          light?.includes(`CONCAT(${column})`) && !light.includes('CAST'),
          `light form: ${String(light)}`,
        );
        const length = precision === 0 ? 19 : 20 + precision;
        const cast =
          precision === declaredPrecision
            ? `CAST(${column} AS CHAR)`
            : `LEFT(CAST(${column} AS CHAR), ${length})`;
        const full = mysqlDialect.canonicalValue(column, col, 'legacy');
        // the fixed-offset form the row hash uses on a legacy side read at +03:00
        const zoned = { ...col, legacyTimeZone: '+03:00' };
        const lightZoned = lightValue('mysql', column, zoned, 'legacy', declared);
        assert.ok(lightZoned?.includes('INTERVAL 10800 SECOND'), String(lightZoned));
        const castZoned = cast.replace(`CAST(${column} `, `CAST((${column} - INTERVAL 10800 SECOND) `);
        const rows = await conn().query(
          `SELECT id, ${light}, ${cast}, ${full}, ${lightZoned}, ${castZoned} FROM t ORDER BY id`,
        );
        assert.equal(rows.length, VALUES.length + 1);
        let nonNull = 0;
        for (const [id, l, c, f, lz, cz] of rows) {
          const what = `value ${VALUES[Number(id)] ?? 'NULL'}`;
          assert.equal(l, c, what);
          assert.equal(l, f, what);
          assert.equal(lz, cz, `${what} at +03:00`);
          if (l !== null) {
            nonNull++;
            assert.equal(typeof l, 'string', what);
          }
        }
        assert.equal(nonNull, type === 'timestamp' ? VALUES.filter(inTimestampRange).length : VALUES.length);
        // a value reads as its own text at the compared precision
        if (type === 'datetime') {
          assert.equal(
            rows[0]?.[1],
            precision === 0 ? '2026-03-01 12:34:56' : `2026-03-01 12:34:56.${'0'.repeat(precision)}`,
          );
          if (declaredPrecision === 6 && precision === 6)
            assert.equal(rows[1]?.[1], '2026-03-01 12:34:56.999999');
        }
      });
});
