/** deploy/krew/cutover.yaml: a krew Plugin manifest whose version and bin match the package. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface KrewPlugin {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    version: string;
    shortDescription: string;
    platforms: {
      selector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
      uri: string;
      sha256: string;
      bin: string;
      files: { from: string; to: string }[];
    }[];
  };
}

describe('deploy/krew/cutover.yaml', () => {
  const m = parse(readFileSync('deploy/krew/cutover.yaml', 'utf8')) as KrewPlugin;
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
    version: string;
    bin: Record<string, string>;
  };

  it('is a krew Plugin named cutover (kubectl cutover) at the package version', () => {
    assert.equal(m.apiVersion, 'krew.googlecontainertools.github.com/v1alpha2');
    assert.equal(m.kind, 'Plugin');
    assert.equal(m.metadata.name, 'cutover');
    assert.equal(m.spec.version, `v${pkg.version}`);
    assert.ok(m.spec.shortDescription.length <= 80);
  });

  it('links the bin npm installs as kubectl-cutover, from the release archive of that version', () => {
    assert.equal(pkg.bin['kubectl-cutover'], 'dist/src/plugin/main.js');
    assert.ok(existsSync(pkg.bin['kubectl-cutover']), 'built');
    for (const p of m.spec.platforms) {
      assert.equal(p.bin, `package/${pkg.bin['kubectl-cutover']}`);
      assert.ok(p.uri.endsWith(`/v${pkg.version}/kubectl-cutover-v${pkg.version}.tar.gz`), p.uri);
      assert.deepEqual(p.selector.matchExpressions, [
        { key: 'os', operator: 'In', values: ['linux', 'darwin'] },
      ]);
    }
  });
});
