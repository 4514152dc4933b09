import assert from 'node:assert/strict';
import fc from 'fast-check';
import { API_VERSION } from '../../../src/api/crds.js';
import { validateManifest, validateStatus, type Problem } from '../../../src/api/validate.js';
import { sampleDocuments } from './fixtures.js';

type Json = unknown;

/** Every path (list of keys) inside a JSON-like value. */
function paths(v: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

function replaceAt(v: Json, path: (string | number)[], value: Json): Json {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(v)) return (v as Json[]).map((x, i) => (i === head ? replaceAt(x, rest, value) : x));
  if (typeof v === 'object' && v !== null)
    return { ...v, [head!]: replaceAt((v as Record<string, Json>)[head!], rest, value) };
  return v;
}

function wellFormed(problems: Problem[]): void {
  assert.ok(Array.isArray(problems));
  for (const p of problems) {
    assert.equal(typeof p.path, 'string');
    assert.equal(typeof p.message, 'string');
    assert.ok(p.message.length > 0);
    assert.ok(!p.message.startsWith('internal validator error'), p.message);
  }
}

describe('api: validateManifest never throws (property)', () => {
  it('on arbitrary values', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withNullPrototype: true,
          withBigInt: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withTypedArray: true,
          withSparseArray: true,
        }),
        (x) => {
          wellFormed(validateManifest(x));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('on manifests of our kinds with an arbitrary spec', () => {
    const kind = fc.constantFrom('Reconciliation', 'CanaryPhase', 'Cutover');
    fc.assert(
      fc.property(kind, fc.anything(), fc.jsonValue(), (k, spec, status) => {
        wellFormed(
          validateManifest({ apiVersion: API_VERSION, kind: k, metadata: { name: 'x' }, spec, status }),
        );
        wellFormed(validateStatus(k, status));
      }),
      { numRuns: 500 },
    );
  });

  const samples = sampleDocuments().map((s) => s.manifest);
  it('on samples with one value anywhere replaced by an arbitrary one', () => {
    const mutated = fc
      .constantFrom(...samples)
      .chain((m) =>
        fc.tuple(
          fc.constant(m),
          fc.constantFrom(...paths(m)),
          fc.oneof(fc.jsonValue(), fc.anything(), fc.string(), fc.integer(), fc.double()),
        ),
      );
    fc.assert(
      fc.property(mutated, ([m, path, value]) => {
        const problems = validateManifest(replaceAt(m, path, value));
        wellFormed(problems);
        // A change outside the validated parts is harmless; inside, every problem points into the manifest.
        for (const p of problems)
          assert.ok(p.path === '' || /^(apiVersion|kind|metadata|spec|status)\b/.test(p.path), p.path);
      }),
      { numRuns: 800 },
    );
  });

  it('on samples with one field removed', () => {
    const removed = fc
      .constantFrom(...samples)
      .chain((m) => fc.tuple(fc.constant(m), fc.constantFrom(...paths(m).filter((p) => p.length > 1))));
    fc.assert(
      fc.property(removed, ([m, path]) => {
        wellFormed(validateManifest(replaceAt(m, path, undefined)));
      }),
      { numRuns: 500 },
    );
  });
});
