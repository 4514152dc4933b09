/**
 * The schema and the validator agree on every case (property): generated manifests — the samples
 * with one value replaced by a tricky one (durations like 2w, 0d, 999999w; crons like @daily,
 * @every 1h, 0 0 30 2 *; zones; times without a zone; duplicates in sets; nulls; wrong types;
 * unknown fields) or a field removed — go to the real API server (a dry-run create with strict
 * field validation, so nothing is stored) and through `validateManifest`, and both must accept
 * or both refuse. What only the operator can refuse (`operatorOnly`: cron schedules that never
 * fire, zones missing from the IANA database) counts as accepted, as the API server accepts it.
 *
 * CUTOVER_AGREEMENT_RUNS sets the number of generated manifests (default 200); a failure prints
 * the fast-check seed and the smallest manifest that disagrees.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { KubeClient, isApiError } from '../../../src/runtime/kube-client.js';
import { loadKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { KINDS, CRD_GROUP, CRD_VERSION, type KindInfo } from '../../../src/api/crds.js';
import { validateManifest } from '../../../src/api/validate.js';
import type { Schema } from '../../../src/api/schema/common.js';
import { sampleDocuments } from '../../unit/api/fixtures.js';

type Json = unknown;
type Path = (string | number)[];

const TRICKY: Json[] = [
  // durations and offsets
  '2w',
  '0d',
  '0s',
  '999999w',
  '999w',
  '9999d',
  '1w3d12h',
  '1h30m',
  '30m1h',
  '1h1h',
  '90 days',
  '',
  '1.5h',
  '+4h',
  '-30m',
  '+0h',
  '4h',
  '+2w',
  '500ms',
  '1m500ms',
  // cron schedules
  '@daily',
  '@midnight',
  '@DAILY',
  '@every 1h',
  '@every',
  '@reboot',
  '0 2 * * *',
  '0 0 30 2 *',
  '61 * * * *',
  '* * * * * *',
  '0 2 * * 7',
  '30 2 * jan mon',
  '0 0 ? * MON',
  '*/0 * * * *',
  '5-2 * * * *',
  '0  2 * * *',
  ' 0 2 * * *',
  'TZ=UTC 0 2 * * *',
  // zones
  'UTC',
  'Europe/Istanbul',
  '+03:00',
  '+15:00',
  'Mars/Olympus_Mons',
  'Not A Zone',
  'America/Argentina/Buenos_Aires',
  'Etc/GMT+3',
  // times
  '2026-12-01T02:00:00Z',
  '2026-12-01T02:00:00',
  '2026-12-01 02:00:00Z',
  '2026-02-30T00:00:00Z',
  '2026-12-01T02:00:00.123+03:00',
  '2026-12-01t02:00:00z',
  '2026-12-01T24:00:00Z',
  '2026-12-01T23:59:60Z',
  '2026-12-01',
  '2026-13-01T00:00:00Z',
  // identifiers, names, conditions, URLs
  'tenant_id',
  'a b',
  '1abc',
  'schema.table',
  'a.b.c',
  'x'.repeat(64),
  'pos',
  'Pos',
  'a-',
  'a.b',
  'result <= 1.5',
  'result<1',
  'result < -2.5',
  'latency < 1',
  'mysql://u:secret@h/db',
  'postgres://h/db',
  'http://prom:9090',
  'SELECT 1',
  'select * from t; drop table t',
  'WITH x AS (SELECT 1) SELECT * FROM x',
  // other types
  null,
  true,
  false,
  0,
  -1,
  1,
  1.5,
  100,
  101,
  65536,
  1e3,
  'abc',
  [],
  {},
  ['trim', 'trim'],
  ['lower', 'trim'],
  ['+4h', '+4h'],
  [1, 2],
  { a: 1 },
];

/** The schema node at a path of spec. */
function schemaAt(s: Schema, path: Path): Schema | undefined {
  let node: Schema | undefined = s;
  for (const p of path)
    node = typeof p === 'number' ? node?.items : (node?.properties?.[p] ?? node?.additionalProperties);
  return node;
}

function paths(v: Json, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

function get(v: Json, path: Path): Json {
  let node = v;
  for (const p of path) node = (node as Record<string | number, Json> | undefined)?.[p];
  return node;
}

/** `value` at `path`; `undefined` removes the field (or the list item). */
function setAt(v: Json, path: Path, value: Json): Json {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(v)) {
    const out = (v as Json[]).map((x, i) => (i === head ? setAt(x, rest, value) : x));
    return rest.length === 0 && value === undefined ? out.filter((_, i) => i !== head) : out;
  }
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, Json> = { ...(v as Record<string, Json>) };
    if (rest.length === 0 && value === undefined) delete out[head as string];
    else out[head as string] = setAt(out[head as string], rest, value);
    return out;
  }
  return v;
}

type Mutation =
  | { kind: 'replace'; path: Path; value: Json }
  | { kind: 'remove'; path: Path }
  | { kind: 'unknown-field'; path: Path }
  | { kind: 'duplicate-item'; path: Path };

function apply(m: Json, mu: Mutation): Json {
  switch (mu.kind) {
    case 'replace':
      return setAt(m, mu.path, mu.value);
    case 'remove':
      return setAt(m, mu.path, undefined);
    case 'unknown-field': {
      const node = get(m, mu.path);
      return typeof node === 'object' && node !== null && !Array.isArray(node)
        ? setAt(m, [...mu.path, 'unexpectedField'], 'x')
        : m;
    }
    case 'duplicate-item': {
      const node = get(m, mu.path);
      return Array.isArray(node) && node.length > 0
        ? setAt(m, mu.path, [...(node as Json[]), (node as Json[])[0]])
        : m;
    }
  }
}

describe('api: the API server and validateManifest accept and refuse the same manifests (property)', function () {
  this.timeout(900_000);
  let cluster: TestCluster;
  let client: KubeClient;
  let ns: string;

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    ns = await cluster.createNamespace('agreement');
    client = new KubeClient(await loadKubeConfig(cluster.kubeconfigPath), {
      userAgent: 'cutover-agreement-test',
    });
  });

  after(async () => {
    client?.close();
    if (ns) await cluster.deleteNamespace(ns);
  });

  /** Accepted by the API server? (dry-run create, strict field validation: nothing is stored). */
  async function serverAccepts(manifest: Json): Promise<{ accepted: boolean; message: string }> {
    const info = KINDS[(manifest as { kind: KindInfo['kind'] }).kind];
    const body = {
      ...(manifest as Record<string, Json>),
      metadata: { ...((manifest as { metadata?: object }).metadata ?? {}), namespace: ns },
    };
    try {
      await client.request('POST', `/apis/${CRD_GROUP}/${CRD_VERSION}/namespaces/${ns}/${info.plural}`, {
        body,
        query: { dryRun: 'All', fieldValidation: 'Strict' },
      });
      return { accepted: true, message: '' };
    } catch (e) {
      if (isApiError(e) && (e.statusCode === 422 || e.statusCode === 400))
        return { accepted: false, message: e.message };
      throw e;
    }
  }

  const samples = sampleDocuments().map((s) => s.manifest);
  const specPaths = (m: Json): Path[] => paths(m).filter((p) => p[0] === 'spec');

  // Every scalar of the samples' specs by JSON type and by field name: a field given the value of
  // another field of the same name (or else of the same type) is a change the API server often accepts (and sometimes refuses by pattern, enum or
  // rule), so both outcomes come in quantity and the borderline between them is explored.
  const isScalar = (v: Json): boolean => v === null || (v !== undefined && typeof v !== 'object');
  const scalarsByType = new Map<string, Json[]>();
  for (const s of samples)
    for (const p of specPaths(s)) {
      const v = get(s, p);
      if (!isScalar(v)) continue;
      for (const key of [typeof v, `${typeof v}:${String(p[p.length - 1])}`]) {
        const pool = scalarsByType.get(key) ?? [];
        if (!pool.some((x) => x === v)) pool.push(v);
        scalarsByType.set(key, pool);
      }
    }
  // the values of fields with the same name (any sample) when there are others, else of the same type
  const borrowed = (v: Json, field: string | number | undefined): Json[] => {
    const same = scalarsByType.get(`${typeof v}:${String(field)}`) ?? [];
    return same.length > 1 ? same : (scalarsByType.get(typeof v) ?? [null]);
  };

  const mutation = (m: Json): fc.Arbitrary<Mutation> => {
    const all = specPaths(m);
    const scalars = all.filter((p) => p.length > 1 && isScalar(get(m, p)));
    const leafOrAny = fc.constantFrom(...all.filter((p) => p.length > 1));
    const objects = all.filter((p) => {
      const n = get(m, p);
      return typeof n === 'object' && n !== null && !Array.isArray(n);
    });
    const lists = all.filter((p) => Array.isArray(get(m, p)));
    return fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          kind: fc.constant('replace' as const),
          path: leafOrAny,
          value: fc.constantFrom(...TRICKY),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('replace' as const),
          path: leafOrAny,
          value: fc.jsonValue({ maxDepth: 2 }),
        }),
      },
      {
        weight: 8,
        arbitrary: fc.constantFrom(...scalars).chain((path) =>
          fc.record({
            kind: fc.constant('replace' as const),
            path: fc.constant(path),
            value: fc.constantFrom(...borrowed(get(m, path), path[path.length - 1])),
          }),
        ),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), path: leafOrAny }) },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('unknown-field' as const),
          path: fc.constantFrom(...objects),
        }),
      },
      ...(lists.length
        ? [
            {
              weight: 1,
              arbitrary: fc.record({
                kind: fc.constant('duplicate-item' as const),
                path: fc.constantFrom(...lists),
              }),
            },
          ]
        : []),
    );
  };

  it('for the samples with one or two changes anywhere in spec', async () => {
    const runs = Number(process.env.CUTOVER_AGREEMENT_RUNS ?? 200);
    const arb = fc
      .constantFrom(...samples)
      .chain((m) =>
        fc.tuple(
          fc.constant(m),
          fc.oneof(
            { weight: 3, arbitrary: fc.tuple(mutation(m)) },
            { weight: 1, arbitrary: fc.tuple(mutation(m), mutation(m)) },
          ),
        ),
      );
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(arb, async ([m, mutations]) => {
        const manifest = mutations.reduce(apply, m);
        const offline = validateManifest(manifest).filter((p) => !p.operatorOnly);
        const server = await serverAccepts(manifest);
        if (server.accepted) accepted++;
        else refused++;
        const detail = `\nmutations: ${JSON.stringify(mutations)}\nAPI server: ${server.accepted ? 'accepted' : server.message}\nvalidateManifest: ${offline.map((p) => `${p.path}: ${p.message}`).join('\n  ') || 'accepted'}`;
        assert.equal(offline.length === 0, server.accepted, `they disagree:${detail}`);
      }),
      { numRuns: runs, endOnFailure: false },
    );
    // the generator must produce both outcomes in quantity, or the property says little
    assert.ok(accepted > runs * 0.1 && refused > runs * 0.3, `accepted ${accepted}, refused ${refused}`);
  });

  it('for each tricky string at one field of each kind of string field (exhaustive over the pool)', async () => {
    const strings = TRICKY.filter((v): v is string => typeof v === 'string');
    const disagreements: string[] = [];
    // one field per kind of string field: same type, format, pattern, enum, lengths, rules and
    // semantic check (fields alike accept alike; the property above mixes them with the rest)
    const seen = new Set<string>();
    let requests = 0;
    const started = Date.now();
    for (const m of samples) {
      const info = KINDS[(m as { kind: KindInfo['kind'] }).kind];
      const fields = specPaths(m).filter((p) => {
        const node = schemaAt(info.spec, p.slice(1));
        if (typeof get(m, p) !== 'string' || !node) return false;
        const key = JSON.stringify([
          node.type,
          node.format,
          node.pattern,
          node.enum,
          node.maxLength,
          node.minLength,
          node.rules?.map((r) => r.cel),
          node.semantic,
        ]);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      for (const path of fields) {
        await Promise.all(
          strings.map(async (value) => {
            const manifest = setAt(m, path, value);
            const offline = validateManifest(manifest).filter((p) => !p.operatorOnly);
            const server = await serverAccepts(manifest);
            requests++;
            if ((offline.length === 0) !== server.accepted) {
              disagreements.push(
                `${(m as { kind: string }).kind} ${path.join('.')} = ${JSON.stringify(value)}: API server ${server.accepted ? 'accepts' : `refuses (${server.message.slice(0, 300)})`}, validateManifest ${
                  offline.length === 0
                    ? 'accepts'
                    : `refuses (${offline
                        .map((p) => `${p.path}: ${p.message}`)
                        .join('; ')
                        .slice(0, 300)})`
                }`,
              );
            }
          }),
        );
      }
    }
    process.stdout.write(
      `      ${requests} manifests (${seen.size} fields x ${strings.length} values) in ${Math.round((Date.now() - started) / 1000)} s\n`,
    );
    assert.deepEqual(disagreements, []);
  });
});
