#!/usr/bin/env node
// Builds the kubectl-cutover release archive and writes its sha256 and URI into the krew manifest.
//
// The archive (kubectl-cutover-vVERSION.tar.gz) holds the plugin as npm installs it, under
// package/: package.json, the built dist/src (run `npm run build` first) and the production
// node_modules (copied from this checkout's, as `npm ls --omit=dev` lists them). It is
// reproducible: names sorted, owner 0, mtime 0, gzip without a timestamp.
//
// usage: node scripts/krew-release.mjs [--out DIR] [--manifest FILE]
//   --out       where the archive goes (default dist/release)
//   --manifest  the krew manifest to update (default deploy/krew/cutover.yaml)
// Prints one JSON line: { archive, sha256, uri, manifest }.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const opt = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : fallback;
};
const out = opt('out', join(root, 'dist', 'release'));
const manifest = opt('manifest', join(root, 'deploy', 'krew', 'cutover.yaml'));

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = `v${pkg.version}`;
const plugin = pkg.bin?.['kubectl-cutover'];
if (!plugin || !existsSync(join(root, plugin))) {
  process.stderr.write(
    `krew-release: ${plugin ?? 'the kubectl-cutover bin'} is not built: run npm run build\n`,
  );
  process.exit(1);
}
// The bins must be executable in the archive (krew links them as they are).
execFileSync(process.execPath, [join(root, 'scripts', 'bin-modes.mjs')], { stdio: 'inherit' });

const stage = mkdtempSync(join(tmpdir(), 'kubectl-cutover-release-'));
try {
  const pkgDir = join(stage, 'package');
  mkdirSync(pkgDir);
  const { devDependencies: _dev, scripts: _scripts, ...shipped } = pkg;
  writeFileSync(join(pkgDir, 'package.json'), JSON.stringify(shipped, null, 2) + '\n');
  cpSync(join(root, 'dist', 'src'), join(pkgDir, 'dist', 'src'), { recursive: true });
  const deps = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && l !== root);
  for (const dir of deps) {
    const rel = relative(root, dir);
    if (!rel.startsWith('node_modules')) throw new Error(`krew-release: unexpected dependency path ${dir}`);
    cpSync(dir, join(pkgDir, rel), { recursive: true, dereference: true });
  }
  // Dependencies' own nested node_modules came with their directories; their dev-only bins not.
  rmSync(join(pkgDir, 'node_modules', '.bin'), { recursive: true, force: true });

  mkdirSync(out, { recursive: true });
  const name = `kubectl-cutover-${version}.tar.gz`;
  const archive = join(out, name);
  const tarFile = join(stage, 'archive.tar');
  execFileSync(
    'tar',
    [
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--mode=u+rw,go+r,go-w',
      '-C',
      stage,
      '-cf',
      tarFile,
      'package',
    ],
    { stdio: 'inherit' },
  );
  writeFileSync(archive, execFileSync('gzip', ['-n', '-9', '-c', tarFile], { maxBuffer: 1 << 30 }));
  const sha256 = createHash('sha256').update(readFileSync(archive)).digest('hex');

  const uri = `https://github.com/nokta/cutover-operator/releases/download/${version}/${name}`;
  let text = readFileSync(manifest, 'utf8');
  const set = (re, value, what) => {
    if (!re.test(text)) throw new Error(`krew-release: ${manifest} has no ${what}`);
    text = text.replace(re, (_m, head) => head + value);
  };
  set(/^(\s*sha256:\s*).*$/m, sha256, 'sha256 line');
  set(/^(\s*uri:\s*).*$/m, uri, 'uri line');
  set(/^(\s*version:\s*).*$/m, version, 'spec.version line');
  writeFileSync(manifest, text);
  process.stdout.write(JSON.stringify({ archive, sha256, uri, manifest }) + '\n');
} finally {
  rmSync(stage, { recursive: true, force: true });
}
