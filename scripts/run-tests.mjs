#!/usr/bin/env node
// Builds the project and runs the test suites with mocha against the real services.
// usage: node scripts/run-tests.mjs [all|unit|integration|e2e] [extra mocha args...]
// The last line of the output is "N passed, N failed" (test/support/summary-reporter.cjs).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
let argv = process.argv.slice(2);
// --node <path>: run mocha on another Node binary (the Node 24 LTS of the container image).
let nodeBin = process.execPath;
const at = argv.indexOf('--node');
if (at >= 0) {
  nodeBin = argv[at + 1];
  argv = [...argv.slice(0, at), ...argv.slice(at + 2)];
}
const [which = 'all', ...extra] = argv;
const suites = {
  unit: ['unit'],
  integration: ['integration'],
  e2e: ['e2e'],
  all: ['unit', 'integration', 'e2e'],
}[which];
if (!suites) {
  process.stderr.write(`unknown suite '${which}': use all, unit, integration or e2e\n`);
  process.exit(2);
}

const bin = (name) => join(root, 'node_modules', '.bin', name);
const build = spawnSync(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  process.stdout.write('\nthe TypeScript build failed: no test ran\n0 passed, 1 failed\n');
  process.exit(1);
}
// As `npm run build` does after tsc (its postbuild): the package's bins executable.
const modes = spawnSync(process.execPath, [join(root, 'scripts', 'bin-modes.mjs')], {
  cwd: root,
  stdio: 'inherit',
});
if (modes.status !== 0) {
  process.stdout.write('\nscripts/bin-modes.mjs failed: no test ran\n0 passed, 1 failed\n');
  process.exit(1);
}

const specs = suites.map((s) => `dist/test/${s}/**/*.test.js`);
const mocha = spawnSync(
  nodeBin,
  [
    join(root, 'node_modules', 'mocha', 'bin', 'mocha.js'),
    '--require',
    'dist/test/support/hooks.js',
    '--reporter',
    'test/support/summary-reporter.cjs',
    '--timeout',
    '120000',
    '--slow',
    '5000',
    '--exit',
    ...specs,
    ...extra,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } },
);
process.exit(mocha.status ?? 1);
