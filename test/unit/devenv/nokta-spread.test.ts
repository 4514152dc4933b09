/**
 * The Nokta generator's tenant spreads: `zipf` gives 50 tenants a real-shaped skew (the largest
 * holds about a quarter of the rows, every tenant has some), `even` is row n → n mod T + 1.
 */
import assert from 'node:assert/strict';
import { familyCounts, planInjections, tenantSpread } from '../../../src/devenv/nokta-data/generator.js';

function shares(spread: ReturnType<typeof tenantSpread>, rows: number): number[] {
  const counts = new Array<number>(spread.count).fill(0);
  for (let id = 1; id <= rows; id++) counts[spread.of(id) - 1] = (counts[spread.of(id) - 1] ?? 0) + 1;
  return counts.map((c) => c / rows);
}

describe('Nokta tenant spread', () => {
  it('zipf over 50 tenants: the largest holds about a quarter, shares fall with rank, none is empty', () => {
    const s = shares(tenantSpread(50, 'zipf'), 200_000);
    assert.ok((s[0] ?? 0) > 0.2 && (s[0] ?? 0) < 0.3, `largest share ${s[0]}`);
    assert.ok((s[1] ?? 0) < (s[0] ?? 0) && (s[9] ?? 0) < (s[1] ?? 0));
    assert.ok(
      s.every((x) => x > 0),
      'every tenant has rows',
    );
  });

  it('even spread is n mod T + 1, in SQL and in JavaScript', () => {
    const e = tenantSpread(8);
    assert.equal(e.sql, '(MOD(n, 8) + 1)');
    assert.deepEqual(
      [1, 7, 8, 9].map((n) => e.of(n)),
      [2, 8, 1, 2],
    );
  });

  it('bunched injections change that many orders, all in the largest tenant, on distinct keys', () => {
    const spread = tenantSpread(50, 'zipf');
    const { injections } = planInjections(familyCounts(100_000), spread, 'unit', 40);
    const bunched = injections.find((i) => i.kind === 'bunched');
    assert.equal(bunched?.expected.length, 40);
    assert.ok(bunched?.expected.every((k) => k.tenant === '1' && spread.of(Number(k.key)) === 1));
    const keys = injections.flatMap((i) => i.expected.map((k) => `${k.tenant}/${k.key}`));
    assert.equal(new Set(keys).size, keys.length);
  });
});
