/**
 * scripts/krew-release.mjs: builds the kubectl-cutover archive and writes its sha256 and URI into
 * a krew manifest. Checked: the manifest's sha256 is the archive's, its URI is the GitHub release
 * of package.json's version, the archive is reproducible (a second build has the same sha256), and
 * the plugin unpacked from it runs through the symlink krew makes to its `bin`, with only the
 * archive's node_modules (not this checkout's) to import from.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../../../src/devenv/devenv-state.js';

interface KrewManifest {
  kind: string;
  spec: {
    version: string;
    platforms: { uri: string; sha256: string; bin: string; files: { from: string; to: string }[] }[];
  };
}

const release = (out: string, manifest: string): { archive: string; sha256: string; uri: string } =>
  JSON.parse(
    execFileSync(
      process.execPath,
      [join(repoRoot(), 'scripts', 'krew-release.mjs'), '--out', out, '--manifest', manifest],
      { cwd: repoRoot(), encoding: 'utf8' },
    ).trim(),
  ) as { archive: string; sha256: string; uri: string };

describe('krew release: the archive and the sha256 in deploy/krew/cutover.yaml', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-krew-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the archive's sha256 and the release URI of the version into the manifest; the plugin runs from it", () => {
    const version = `v${(JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version}`;
    const manifest = join(dir, 'cutover.yaml');
    copyFileSync(join(repoRoot(), 'deploy', 'krew', 'cutover.yaml'), manifest);
    const first = release(join(dir, 'a'), manifest);

    const m = parse(readFileSync(manifest, 'utf8')) as KrewManifest;
    assert.equal(m.kind, 'Plugin');
    assert.equal(m.spec.version, version);
    const platform = m.spec.platforms[0]!;
    const actual = createHash('sha256').update(readFileSync(first.archive)).digest('hex');
    assert.equal(platform.sha256, actual, "the manifest's sha256 is the archive's");
    assert.equal(first.sha256, actual);
    assert.equal(
      platform.uri,
      `https://github.com/nokta/cutover-operator/releases/download/${version}/kubectl-cutover-${version}.tar.gz`,
    );
    assert.ok(
      first.archive.endsWith(`/kubectl-cutover-${version}.tar.gz`),
      'the file has the name of the URI',
    );

    // Reproducible: the same tree gives the same bytes.
    const second = release(join(dir, 'b'), join(dir, 'cutover.yaml'));
    assert.equal(second.sha256, actual);

    // Unpacked as krew does (files: package/* to package), then run through a symlink to `bin`.
    const install = join(dir, 'install');
    mkdirSync(install);
    execFileSync('tar', ['-xzf', first.archive, '-C', install]);
    const bin = join(install, platform.bin);
    assert.equal(statSync(bin).mode & 0o111, 0o111, 'the bin is executable in the archive');
    assert.ok(statSync(join(install, 'package', 'node_modules', 'yaml')).isDirectory());
    assert.throws(
      () => statSync(join(install, 'package', 'node_modules', 'typescript')),
      'no dev dependencies',
    );
    const link = join(dir, 'kubectl-cutover');
    symlinkSync(bin, link);
    const r = spawnSync(link, ['completion', 'bash'], {
      encoding: 'utf8',
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /_kubectl_cutover/);
    const help = spawnSync(link, ['--help'], { encoding: 'utf8', cwd: dir });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: kubectl cutover COMMAND/);
  });
});
