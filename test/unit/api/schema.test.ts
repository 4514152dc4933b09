import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  API_VERSION,
  CATEGORY,
  CRD_GROUP,
  KINDS,
  collectRules,
  crdManifests,
  crdSchema,
  DATE_TIME_TYPE_GUARD,
} from '../../../src/api/crds.js';
import type { Schema } from '../../../src/api/schema/common.js';
import { renderCrdFiles } from '../../../src/api/render-crds.js';

type Obj = Record<string, unknown>;

/** Every node of a schema tree with its path. */
function walk(s: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(s, path);
  for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${path}.${k}`, visit);
  if (s.items) walk(s.items, `${path}[]`, visit);
  if (s.additionalProperties) walk(s.additionalProperties, `${path}[*]`, visit);
}

describe('api: schemas and CRDs (single source)', () => {
  it('crds/ is up to date with src/api (run `npm run generate` when this fails)', () => {
    const expected = renderCrdFiles();
    const present = readdirSync('crds')
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    assert.deepEqual(
      present,
      Object.keys(expected).sort(),
      'crds/ has other files than the generator writes',
    );
    for (const [file, text] of Object.entries(expected)) {
      assert.equal(
        readFileSync(join('crds', file), 'utf8'),
        text,
        `crds/${file} is out of date: run npm run generate`,
      );
    }
  });

  it('every CEL rule has a TypeScript twin and a message that names the fix', () => {
    let count = 0;
    for (const info of Object.values(KINDS)) {
      for (const { path, rule } of collectRules(info.spec, 'spec')) {
        count++;
        assert.equal(
          typeof rule.check,
          'function',
          `${info.kind} ${path}: rule without TS twin: ${rule.cel}`,
        );
        assert.ok(rule.cel.trim().length > 0, `${info.kind} ${path}: empty CEL`);
        assert.match(
          rule.message,
          /: /,
          `${info.kind} ${path}: message should say what is wrong, then ': ' and the fix: ${rule.message}`,
        );
        if (rule.fieldPath) assert.match(rule.fieldPath, /^\.[A-Za-z]+$/, `${info.kind} ${path}: fieldPath`);
      }
    }
    assert.ok(count >= 40, `expected at least 40 rules, found ${count}`);
  });

  it('the generated CRDs carry the rules as x-kubernetes-validations, without TS-only keys', () => {
    for (const info of Object.values(KINDS)) {
      const json = JSON.stringify(crdSchema(info.spec));
      assert.ok(
        !json.includes('"hint"') && !json.includes('"rules"') && !json.includes('"check"'),
        `${info.kind}: TS-only keys leaked`,
      );
      const n = (json.match(/"rule":/g) ?? []).length;
      const guards = (json.match(/"format":"date-time"/g) ?? []).length;
      assert.ok(guards > 0, `${info.kind}: has date-time fields`);
      assert.equal(
        (json.match(new RegExp(`"rule":"${DATE_TIME_TYPE_GUARD.rule}"`, 'g')) ?? []).length,
        guards,
        `${info.kind}: every date-time field carries the type guard`,
      );
      assert.equal(n, collectRules(info.spec).length + guards, `${info.kind}: every rule is in the CRD`);
    }
  });

  it('schemas are structural and bounded (types everywhere, maxLength on strings, maxItems on lists)', () => {
    for (const info of Object.values(KINDS)) {
      for (const root of [info.spec, info.status]) {
        walk(root, info.kind, (s, path) => {
          assert.ok(s.type, `${path}: no type`);
          if (s.type === 'string' && !s.enum && !s.format)
            assert.ok(s.maxLength, `${path}: string without maxLength (CEL cost)`);
          if (s.type === 'array') assert.ok(s.maxItems, `${path}: list without maxItems (CEL cost)`);
          if (s.type === 'object' && s.additionalProperties)
            assert.ok(s.maxProperties, `${path}: map without maxProperties`);
          if (s.required)
            for (const r of s.required)
              assert.ok(s.properties?.[r], `${path}: required ${r} is not a property`);
          if (s.default !== undefined && s.enum)
            assert.ok(s.enum.includes(s.default as string), `${path}: default not in enum`);
        });
      }
    }
  });

  it('CRD metadata: group, version, names, shortNames, category, status subresource, printer columns', () => {
    const crds = crdManifests() as Obj[];
    assert.equal(crds.length, 3);
    const byKind = new Map(crds.map((c) => [((c.spec as Obj).names as Obj).kind as string, c]));
    const expectShort: Record<string, string> = {
      Cutover: 'cuto',
      CanaryPhase: 'cphase',
      Reconciliation: 'recon',
    };
    const expectColumns: Record<string, string[]> = {
      Cutover: ['Phase', 'Step', 'Next', 'Next At', 'Age'],
      CanaryPhase: ['Phase', 'Step', 'Weight', 'Failures', 'Age'],
      Reconciliation: ['Phase', 'Variance', 'Worst', 'Last Run', 'Age'],
    };
    for (const [kind, short] of Object.entries(expectShort)) {
      const crd = byKind.get(kind);
      assert.ok(crd, kind);
      const spec = crd.spec as Obj;
      const names = spec.names as Obj;
      assert.equal(spec.group, CRD_GROUP);
      assert.equal(spec.scope, 'Namespaced');
      assert.deepEqual(names.shortNames, [short]);
      assert.deepEqual(names.categories, [CATEGORY]);
      const version = (spec.versions as Obj[])[0]!;
      assert.equal(`${CRD_GROUP}/${String(version.name)}`, API_VERSION);
      assert.deepEqual(version.subresources, { status: {} });
      const cols = (version.additionalPrinterColumns as { name: string; priority?: number }[])
        .filter((c) => !c.priority)
        .map((c) => c.name);
      assert.deepEqual(cols, expectColumns[kind]);
      const status = (((version.schema as Obj).openAPIV3Schema as Obj).properties as Obj).status as {
        properties: Obj;
      };
      for (const f of ['phase', 'observedGeneration', 'conditions'])
        assert.ok(status.properties[f], `${kind} status.${f}`);
    }
  });

  it('the YAML in crds/ parses to exactly crdManifests()', () => {
    const fromFiles = readdirSync('crds')
      .filter((f) => f.endsWith('.yaml')) // not crds/Kustomization, the list of these files
      .sort()
      .map((f) => parse(readFileSync(join('crds', f), 'utf8')) as Obj);
    const names = (xs: Obj[]) => xs.map((c) => (c.metadata as Obj).name as string).sort();
    assert.deepEqual(names(fromFiles), names(crdManifests() as Obj[]));
    for (const c of fromFiles)
      assert.deepEqual(
        c,
        crdManifests().find((d) => (d.metadata as Obj).name === (c.metadata as Obj).name),
      );
  });
});
