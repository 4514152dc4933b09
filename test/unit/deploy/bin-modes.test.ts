/**
 * The package's bins after a build (`npm run build` runs scripts/bin-modes.mjs as its postbuild,
 * scripts/run-tests.mjs after its tsc): executable, started through a symlink as `npm link` and
 * krew install them; and the script itself on a package whose bin tsc wrote with mode 644.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../../src/devenv/devenv-state.js';

const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

describe('package bins: executable after the build', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-bins-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the build makes them executable: postbuild of npm run build and the test runner', () => {
    assert.equal(pkg.scripts.postbuild, 'node scripts/bin-modes.mjs');
    assert.match(readFileSync(join(repoRoot(), 'scripts', 'run-tests.mjs'), 'utf8'), /bin-modes\.mjs/);
    assert.deepEqual(Object.keys(pkg.bin).sort(), ['cutover', 'kubectl-cutover']);
    for (const [name, rel] of Object.entries(pkg.bin)) {
      const mode = statSync(join(repoRoot(), rel)).mode & 0o777;
      assert.equal(mode & 0o111, 0o111, `${name} (${rel}) mode ${mode.toString(8)}`);
    }
  });

  it('each runs directly through a symlink named as its bin, as npm link and krew install it', () => {
    for (const [name, rel] of Object.entries(pkg.bin)) {
      const link = join(dir, name);
      symlinkSync(join(repoRoot(), rel), link);
      const r = spawnSync(link, name === 'kubectl-cutover' ? ['completion', 'bash'] : ['--help'], {
        encoding: 'utf8',
        cwd: dir,
      });
      assert.equal(r.error, undefined, `${name}: ${String(r.error)}`);
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.ok(r.stdout.length > 0, `${name} printed nothing`);
      if (name === 'kubectl-cutover') assert.match(r.stdout, /complete\b.*kubectl-cutover|_kubectl_cutover/);
    }
  });

  it('scripts/bin-modes.mjs sets 755 on a bin tsc wrote with 644 and refuses one without #!', () => {
    const p = join(dir, 'pkg');
    mkdirSync(join(p, 'dist'), { recursive: true });
    writeFileSync(join(p, 'package.json'), JSON.stringify({ name: 'x', bin: { x: 'dist/x.js' } }));
    writeFileSync(join(p, 'dist', 'x.js'), '#!/usr/bin/env node\nconsole.log("x ran")\n');
    chmodSync(join(p, 'dist', 'x.js'), 0o644);
    execFileSync(process.execPath, [join(repoRoot(), 'scripts', 'bin-modes.mjs'), p]);
    assert.equal(statSync(join(p, 'dist', 'x.js')).mode & 0o777, 0o755);
    assert.equal(execFileSync(join(p, 'dist', 'x.js'), { encoding: 'utf8' }), 'x ran\n');

    writeFileSync(join(p, 'dist', 'x.js'), 'console.log("no shebang")\n');
    const r = spawnSync(process.execPath, [join(repoRoot(), 'scripts', 'bin-modes.mjs'), p], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /has no #! line/);
  });
});
