/** The kustomize entry points that list files: crds/Kustomization (generated) and samples/Kustomization. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { crdKustomization } from '../../../src/api/generate-crds.js';
import { renderCrdFiles } from '../../../src/api/render-crds.js';

describe('deploy: kustomizations that list files', () => {
  it('crds/Kustomization is what `npm run generate` writes: every CRD file', () => {
    assert.equal(
      readFileSync('crds/Kustomization', 'utf8'),
      crdKustomization(Object.keys(renderCrdFiles())),
      'crds/Kustomization is out of date: run npm run generate',
    );
  });

  it('samples/Kustomization creates namespace nokta and lists every sample', () => {
    const k = parse(readFileSync('samples/Kustomization', 'utf8')) as { resources: string[] };
    assert.equal(k.resources[0], 'namespace/namespace.yaml');
    const ns = parse(readFileSync('samples/namespace/namespace.yaml', 'utf8')) as {
      kind: string;
      metadata: { name: string };
    };
    assert.deepEqual([ns.kind, ns.metadata.name], ['Namespace', 'nokta']);
    const samples = readdirSync('samples')
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    assert.deepEqual(k.resources.slice(1).sort(), samples);
    for (const f of samples)
      assert.match(
        readFileSync(`samples/${f}`, 'utf8'),
        /^\s+namespace: nokta$/m,
        `${f} is in namespace nokta`,
      );
  });
});
