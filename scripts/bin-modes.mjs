#!/usr/bin/env node
// After `tsc`: makes every `bin` of package.json executable (mode 755), as `npm link`, `npm
// install -g` and krew run them directly. tsc writes its output with mode 644.
// usage: node scripts/bin-modes.mjs [package-dir]   (default: the repository root)
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? dirname(dirname(fileURLToPath(import.meta.url))));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const bins = typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {});
let failed = false;
for (const [name, rel] of Object.entries(bins)) {
  const file = join(root, rel);
  if (!existsSync(file)) {
    process.stderr.write(`bin-modes: ${name}: ${rel} does not exist (run tsc first)\n`);
    failed = true;
    continue;
  }
  if (!readFileSync(file, 'utf8').startsWith('#!')) {
    process.stderr.write(`bin-modes: ${name}: ${rel} has no #! line\n`);
    failed = true;
    continue;
  }
  chmodSync(file, statSync(file).mode | 0o755);
}
process.exit(failed ? 1 : 0);
