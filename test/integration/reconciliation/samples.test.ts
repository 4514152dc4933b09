/**
 * Every Reconciliation manifest in samples/ and samples/nokta/ runs against the real Nokta
 * schemas (MariaDB legacy, PostgreSQL target, filled by the generator): on equal data every check
 * passes with nothing differing, and with the generator's injected differences no check errors
 * and the row checks over pos_orders and drivers report exactly the injected keys.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parseAllDocuments } from 'yaml';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import {
  generateNokta,
  samplesDir,
  type ExpectedKey,
  type GenerateResult,
} from '../../../src/devenv/nokta-data/generator.js';
import { resolveWindow } from '../../../src/reconciliation/window.js';
import {
  connect,
  mergeResults,
  planFromSpec,
  runReconciliation,
  type CheckPlan,
  type CheckResult,
  type ReconciliationPlan,
  type RunResult,
  type ShardSpec,
} from '../../../src/reconciliation/index.js';
import { keySet } from './helpers.js';

// Data spans BASE .. BASE + 180 days; the 90-day windows start on 2025-12-25 and leave the first
// five days out, so the window bounds (legacy DATETIMEs in +03:00) are exercised, while every
// injected key of seed 'samples' (the earliest on day 7, the extra order on 2026-01-01) is inside.
const BASE = new Date('2025-12-20T00:00:00Z');
const NOW = new Date('2026-03-25T00:00:00Z');
const GEN = { scale: 3000, tenants: 5, seed: 'samples' };
const ROW_FAMILIES = ['pos_orders', 'drivers'] as const;

interface Manifest {
  file: string;
  name: string;
  namespace?: string;
  plan: ReconciliationPlan;
}

interface Doc {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: unknown;
}

function documents(dir: string, prefix: string): { file: string; doc: Doc }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => ({
        file: `${prefix}${f}`,
        doc: d.toJS() as Doc,
      })),
    );
}

const SAMPLES = join(samplesDir(), '..');
const ALL_DOCS = [...documents(SAMPLES, 'samples/'), ...documents(samplesDir(), 'samples/nokta/')];
const MANIFESTS: Manifest[] = ALL_DOCS.filter((d) => d.doc.kind === 'Reconciliation').map(({ file, doc }) => {
  const m: Manifest = { file, name: doc.metadata?.name ?? '', plan: planFromSpec(doc.spec) };
  if (doc.metadata?.namespace) m.namespace = doc.metadata.namespace;
  return m;
});

async function run(
  plan: ReconciliationPlan,
  legacyUrl: string,
  targetUrl: string,
  shard?: ShardSpec,
): Promise<RunResult> {
  const legacy = connect('mysql', legacyUrl, { role: 'legacy', statementTimeoutSeconds: 60 });
  const target = connect('postgres', targetUrl, { role: 'target', statementTimeoutSeconds: 60 });
  try {
    return await runReconciliation(plan, { legacy, target }, shard ? { now: NOW, shard } : { now: NOW });
  } finally {
    await Promise.all([legacy.close(), target.close()]);
  }
}

/** The row family a rowHash/sample check reads on the legacy side, when it is one with injections. */
function rowFamily(check: CheckPlan): (typeof ROW_FAMILIES)[number] | undefined {
  if (check.type !== 'rowHash' && check.type !== 'sample') return undefined;
  return ROW_FAMILIES.find((f) => f === check.legacy.table);
}

/**
 * The injected keys a row check must report: changed rows only through the columns it compares,
 * and a sample (which draws legacy keys) never sees a row that exists in the target only.
 */
function expectedKeys(check: CheckPlan, gen: GenerateResult): ExpectedKey[] {
  const family = rowFamily(check);
  if (!family) return [];
  const compared = new Set(check.columns.map((c) => c.name));
  return gen.injections
    .filter((i) => i.family === family)
    .flatMap((i) => i.expected)
    .flatMap((k): ExpectedKey[] => {
      if (k.kind === 'extra') return check.type === 'sample' ? [] : [k];
      if (k.kind === 'missing') return [k];
      const columns = (k.columns ?? []).filter((c) => compared.has(c));
      return columns.length > 0 ? [{ ...k, columns }] : [];
    });
}

function describeCheck(c: CheckResult): string {
  return `${c.name}: ${c.verdict} ${c.error ?? ''} ${JSON.stringify(c.differingKeys.slice(0, 5))}`;
}

describe('samples: every Reconciliation manifest on the real Nokta schemas (MariaDB vs PostgreSQL)', function () {
  this.timeout(60_000);
  const dbs: TestDatabase[] = [];
  let clean: { legacy: string; target: string };
  let dirty: { legacy: string; target: string };
  let gen: GenerateResult;

  before(async () => {
    const created = await Promise.all([
      createMysqlDatabase('recon_samples_clean'),
      createPostgresDatabase('recon_samples_clean'),
      createMysqlDatabase('recon_samples_inject'),
      createPostgresDatabase('recon_samples_inject'),
    ]);
    dbs.push(...created);
    const [cleanLegacy, cleanTarget, dirtyLegacy, dirtyTarget] = created;
    clean = { legacy: cleanLegacy.url, target: cleanTarget.url };
    dirty = { legacy: dirtyLegacy.url, target: dirtyTarget.url };
    [, gen] = await Promise.all([
      generateNokta(clean.legacy, clean.target, { ...GEN, inject: false, baseDate: BASE }),
      generateNokta(dirty.legacy, dirty.target, { ...GEN, inject: true, baseDate: BASE }),
    ]);
  });

  after(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('finds the Reconciliations of both sample folders, and the Cutover and CanaryPhase refer to existing ones', () => {
    const names = MANIFESTS.map((m) => m.name).sort();
    assert.deepEqual(names, [
      'call-logs',
      'customers',
      'drivers',
      'invoices',
      'nokta-financial-90d',
      'nokta-full',
      'pos-orders',
      'post-cutover',
    ]);
    const inNokta = new Set(MANIFESTS.filter((m) => m.namespace === 'nokta').map((m) => m.name));
    const refs: string[] = [];
    for (const { file, doc } of ALL_DOCS) {
      const spec = doc.spec as {
        shadow?: { reconciliations?: string[] };
        timeline?: { steps?: { reconciliations?: string[] }[] };
        postCutover?: { reconciliations?: string[] };
        analysis?: { metrics?: { reconciliation?: { name: string } }[] };
      };
      const found = [
        ...(spec.shadow?.reconciliations ?? []),
        ...(spec.timeline?.steps ?? []).flatMap((s) => s.reconciliations ?? []),
        ...(spec.postCutover?.reconciliations ?? []),
        ...(spec.analysis?.metrics ?? []).flatMap((m) => (m.reconciliation ? [m.reconciliation.name] : [])),
      ];
      if (doc.kind === 'Cutover' || doc.kind === 'CanaryPhase')
        assert.equal(doc.metadata?.namespace, 'nokta', file);
      for (const r of found) {
        assert.ok(
          inNokta.has(r),
          `${file} (${doc.kind ?? '?'}) refers to Reconciliation '${r}', which no sample defines in namespace nokta`,
        );
        refs.push(r);
      }
    }
    assert.deepEqual([...new Set(refs)].sort(), [
      'call-logs',
      'customers',
      'drivers',
      'invoices',
      'pos-orders',
      'post-cutover',
    ]);
    for (const m of MANIFESTS.filter((x) => x.namespace === 'nokta')) {
      assert.equal(m.plan.legacy.secretName, 'nokta-legacy-db', m.file);
      assert.equal(m.plan.target.secretName, 'nokta-new-db', m.file);
    }
  });

  it('keeps every injected key inside the 90-day windows at the chosen time (so windowed checks must see it)', async () => {
    const pc = new pg.Client({ connectionString: dirty.target });
    await pc.connect();
    try {
      const orders = gen.injections
        .filter((i) => i.family === 'pos_orders')
        .flatMap((i) => i.expected.map((k) => Number(k.key)));
      const drivers = gen.injections
        .filter((i) => i.family === 'drivers')
        .flatMap((i) => i.expected.map((k) => Number(k.key)));
      assert.ok(orders.length >= 7 && drivers.length >= 1);
      // the injected target lacks the missing orders: read times from the clean target (same data)
      const cc = new pg.Client({ connectionString: clean.target });
      await cc.connect();
      let times: { id: string; at: Date | null }[];
      try {
        const q = async (
          c: pg.Client,
          sql: string,
          ids: number[],
        ): Promise<{ id: string; at: Date | null }[]> =>
          (await c.query(sql, [ids])).rows as { id: string; at: Date | null }[];
        times = [
          ...(await q(
            cc,
            'SELECT id::text AS id, created_at AS at FROM orders WHERE id = ANY($1) ORDER BY id',
            orders,
          )),
          ...(await q(
            pc,
            `SELECT id::text AS id, created_at AS at FROM orders WHERE id = ANY($1) AND id > ${gen.counts.orders}`,
            orders,
          )),
          ...(await q(
            cc,
            'SELECT driver_id::text AS id, settled_at AS at FROM driver_settlements WHERE driver_id = ANY($1)',
            drivers,
          )),
        ];
      } finally {
        await cc.end();
      }
      assert.equal(times.length, new Set(orders).size + new Set(drivers).size);
      const starts = MANIFESTS.flatMap((m) =>
        m.plan.window ? [resolveWindow(m.plan.window, NOW).start?.getTime() ?? 0] : [],
      );
      assert.ok(starts.length >= 6);
      const start = Math.max(...starts);
      for (const t of times)
        assert.ok(
          t.at !== null && t.at.getTime() >= start,
          `injected key ${t.id} at ${String(t.at?.toISOString())} is outside a window`,
        );
    } finally {
      await pc.end();
    }
  });

  for (const m of MANIFESTS) {
    it(`${m.file} (${m.name}): every check passes on equal data`, async () => {
      const r = await run(m.plan, clean.legacy, clean.target);
      assert.equal(r.error, undefined, r.error);
      for (const c of r.checks) {
        assert.equal(c.error, undefined, describeCheck(c));
        assert.equal(c.verdict, 'Passed', describeCheck(c));
        assert.equal(c.variancePercent, 0, describeCheck(c));
        assert.deepEqual(c.differingKeys, [], describeCheck(c));
        // each check really compared something: tenants with rows (counts) or amounts (sums)
        assert.ok(c.tenants.length > 0, `${c.name}: no tenant compared`);
        if (c.type === 'sum')
          assert.ok(
            c.tenants.some((t) => Number(t.legacy) !== 0),
            `${c.name}: every sum is 0`,
          );
        else
          for (const t of c.tenants)
            assert.ok(Number(t.legacy) > 0, `${c.name}: tenant ${t.tenant} has nothing on the legacy side`);
      }
      assert.equal(r.checks.length, m.plan.checks.length);
      const window = m.plan.window;
      const count = r.checks.find((c) => c.name === 'orders-count');
      if (window && count) {
        // the window really cuts: the orders counted are those of the target created since its start
        const pc = new pg.Client({ connectionString: clean.target });
        await pc.connect();
        try {
          const since = resolveWindow(window, NOW).start;
          const n = (
            (await pc.query('SELECT COUNT(*)::int AS n FROM orders WHERE created_at >= $1', [since]))
              .rows[0] as { n: number }
          ).n;
          assert.ok(n > 0 && n < gen.counts.orders, `${n} orders in the window`);
          assert.equal(
            count.tenants.reduce((sum, t) => sum + Number(t.target), 0),
            n,
          );
        } finally {
          await pc.end();
        }
      }
      assert.equal(r.verdict, 'Passed');
      assert.ok(r.rowsCompared > 0, 'no rows compared row by row');
    });
  }

  for (const m of MANIFESTS) {
    it(`${m.file} (${m.name}): no error on injected differences, and the pos_orders/drivers row checks report the injected keys`, async () => {
      const r = await run(m.plan, dirty.legacy, dirty.target);
      assert.equal(r.error, undefined, r.error);
      assert.notEqual(r.verdict, 'Error');
      let expectedAny = false;
      for (const c of r.checks) {
        assert.equal(c.error, undefined, describeCheck(c));
        assert.notEqual(c.verdict, 'Error', describeCheck(c));
        const check = m.plan.checks.find((x) => x.name === c.name);
        assert.ok(check, c.name);
        if (check.type !== 'rowHash' && check.type !== 'sample') continue;
        const expected = expectedKeys(check, gen);
        if (check.type === 'rowHash') {
          // every injected key of the family, with the compared columns that differ; nothing else
          assert.deepEqual(keySet(c.differingKeys), keySet(expected), `${m.name}/${c.name}`);
          assert.notEqual(c.differingKeysTruncated, true);
        } else {
          // a sample draws some keys: what it reports is injected (a subset of the expected keys)
          const want = new Set(keySet(expected));
          for (const k of keySet(c.differingKeys))
            assert.ok(want.has(k), `${m.name}/${c.name} reports ${k}, which was not injected`);
        }
        if (expected.length > 0) {
          expectedAny = true;
          if (check.type === 'rowHash') assert.notEqual(c.verdict, 'Passed', `${m.name}/${c.name}`);
        } else assert.equal(c.verdict, 'Passed', describeCheck(c));
      }
      const rowChecks = m.plan.checks.filter((c) => rowFamily(c) !== undefined);
      assert.equal(
        expectedAny,
        rowChecks.length > 0,
        `${m.name}: row checks over pos_orders/drivers and expected keys go together`,
      );
      if (rowChecks.some((c) => c.type === 'rowHash')) assert.notEqual(r.verdict, 'Passed');
    });
  }

  it('every sample spot check over pos_orders/drivers reports exactly the injected keys when it draws every row', async () => {
    const samples = MANIFESTS.flatMap((m) =>
      m.plan.checks.filter((c) => c.type === 'sample' && rowFamily(c) !== undefined).map((c) => ({ m, c })),
    );
    assert.ok(samples.length >= 3, `${samples.length} sample checks`);
    for (const { m, c } of samples) {
      const plan: ReconciliationPlan = { ...m.plan, checks: [{ ...c, sampleSize: 100_000 }] };
      const r = await run(plan, dirty.legacy, dirty.target);
      const got = r.checks[0];
      assert.ok(got);
      assert.equal(got.error, undefined, describeCheck(got));
      const expected = expectedKeys(c, gen);
      assert.ok(expected.length > 0, `${m.name}/${c.name}`);
      assert.deepEqual(keySet(got.differingKeys), keySet(expected), `${m.name}/${c.name}`);
      assert.notEqual(got.verdict, 'Passed');
    }
  });

  it('gives the unsharded verdicts, values and keys when the IndexedJob samples run as their shards and merge', async () => {
    const sharded = MANIFESTS.filter(
      (m) => m.plan.parallelism.mode === 'IndexedJob' && m.plan.parallelism.shards > 1,
    );
    assert.ok(sharded.length >= 4, `${sharded.length} sharded samples`);
    for (const m of sharded) {
      const { shards: count, shardBy: by } = m.plan.parallelism;
      const whole = await run(m.plan, dirty.legacy, dirty.target);
      const parts = await Promise.all(
        Array.from({ length: count }, (_, index) =>
          run(m.plan, dirty.legacy, dirty.target, { index, count, by }),
        ),
      );
      const merged = mergeResults(parts);
      assert.equal(merged.verdict, whole.verdict, m.name);
      assert.equal(merged.rowsCompared, whole.rowsCompared, m.name);
      for (const check of whole.checks) {
        const got = merged.checks.find((x) => x.name === check.name);
        assert.ok(got, `${m.name}/${check.name}`);
        assert.equal(got.verdict, check.verdict, `${m.name}/${check.name}`);
        assert.deepEqual(got.tenants, check.tenants, `${m.name}/${check.name}`);
        assert.deepEqual(keySet(got.differingKeys), keySet(check.differingKeys), `${m.name}/${check.name}`);
      }
    }
  });
});
