/**
 * `cutover` as people start it: through a symlink (npm's node_modules/.bin, `npm link`, a
 * `kubectl-cutover` plugin on the PATH), with the same flag names and the same errors in every
 * command, and `cutover version`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { kubectlBinary } from '../../support/cluster.js';
import { repoRoot } from '../../../src/devenv/devenv-state.js';
import { API_VERSION } from '../../../src/api/crds.js';

const MAIN = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    cwd: repoRoot(),
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const cutover = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, [MAIN, ...args], env);

describe('cutover (CLI): started through a symlink', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-link-'));
    // what npm does to a package's bin when it installs or links it
    chmodSync(MAIN, statSync(MAIN).mode | 0o111);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('node <symlink> runs the command (it printed nothing and exited 0 before)', () => {
    const link = join(dir, 'cutover');
    symlinkSync(MAIN, link);
    const r = run(process.execPath, [link, 'version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^cutover \d+\.\d+\.\d+/);
  });

  it("npm's node_modules/.bin/cutover (a relative symlink, run by its shebang)", () => {
    const bin = join(dir, 'node_modules', '.bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(relative(bin, MAIN), join(bin, 'cutover'));
    const r = run(join(bin, 'cutover'), ['validate', '-f', 'samples']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /manifest\(s\) in \d+ file\(s\) valid/);
    const bad = run(join(bin, 'cutover'), ['validate', '-f', 'test/fixtures/invalid/recon-window-zero.yaml']);
    assert.equal(bad.code, 1, 'the exit code comes through the symlink too');
  });

  it('a kubectl plugin: kubectl cutover ... finds kubectl-cutover on the PATH', () => {
    const plugins = join(dir, 'plugins');
    mkdirSync(plugins);
    symlinkSync(MAIN, join(plugins, 'kubectl-cutover'));
    const r = run(kubectlBinary(), ['cutover', 'version', '-o', 'json'], {
      PATH: `${plugins}:${process.env.PATH ?? ''}`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { apiVersion: string }).apiVersion, API_VERSION);
  });
});

describe('cutover version', function () {
  this.timeout(60_000);
  it('prints the version, the git commit, the API version and the Node.js version', () => {
    const r = cutover(['version']);
    assert.equal(r.code, 0, r.stderr);
    const version = (
      JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }
    ).version;
    assert.ok(r.stdout.startsWith(`cutover ${version}\n`), r.stdout);
    assert.match(
      r.stdout,
      /^cutover \S+\ngit commit: {2}[0-9a-f]{40}\nAPI version: cutover\.nokta\.io\/v1alpha1\nNode\.js: {5}v\d+\.\d+\.\d+\n$/,
    );
    const json = JSON.parse(
      cutover(['version', '-o', 'json'], { CUTOVER_GIT_COMMIT: 'abc1234' }).stdout,
    ) as Record<string, string>;
    assert.deepEqual(json, { version, gitCommit: 'abc1234', apiVersion: API_VERSION, node: process.version });
    assert.equal(cutover(['--version']).code, 0);
  });
});

describe('cutover: one command-line parser for every command', function () {
  this.timeout(120_000);
  const commands = ['operator', 'reconcile', 'validate', 'version'];

  it('every command has --help (and -h) with its usage and flags', () => {
    for (const c of commands) {
      for (const h of ['--help', '-h']) {
        const r = cutover([c, h]);
        assert.equal(r.code, 0, `${c} ${h}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`^usage: cutover ${c}`), c);
        assert.match(r.stdout, /\nflags:\n/, c);
        assert.match(r.stdout, /-h, --help\s+this text/, c);
      }
    }
  });

  it('the same names everywhere: -f/--filename, -o/--output, --kubeconfig, --context', () => {
    const help = Object.fromEntries(commands.map((c) => [c, cutover([c, '--help']).stdout]));
    for (const c of ['validate', 'reconcile']) assert.match(help[c]!, /-f, --filename PATH/, c);
    for (const c of ['validate', 'reconcile', 'version']) assert.match(help[c]!, /-o, --output /, c);
    for (const c of ['operator', 'reconcile']) {
      assert.match(help[c]!, /--kubeconfig FILE/, c);
      assert.match(help[c]!, /--context NAME/, c);
    }
  });

  it('an unknown flag is refused by name, with the closest one and the valid ones (exit 2)', () => {
    for (const [c, flag, guess] of [
      ['operator', '--namespace', '--namespaces'],
      ['reconcile', '--tennant', '--tenant'],
      ['validate', '--fileName', '--filename'],
      ['version', '--output-format', '--output'],
    ] as const) {
      const r = cutover([c, flag, 'x']);
      assert.equal(r.code, 2, `${c}: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(
          `cutover ${c}: unknown flag '${flag}' \\(did you mean ${guess}\\?\\); valid flags: .*-h/--help`,
        ),
        r.stderr,
      );
    }
    const missing = cutover(['reconcile', '-f']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /flag -f needs a value \(PATH\)/);
  });

  it('reconcile keeps --file (older Job specs) and checks -o and --shard-by values', () => {
    assert.match(cutover(['reconcile', '--file', 'no/such.yaml']).stderr, /no\/such\.yaml/);
    assert.match(
      cutover(['reconcile', '-f', 'x', '-o', 'yaml']).stderr,
      /--output must be table or json or markdown, not 'yaml'/,
    );
    assert.match(
      cutover(['reconcile', '-f', 'x', '--shard-by', 'Region']).stderr,
      /--shard-by must be Tenant or KeyRange, not 'Region'/,
    );
  });

  it('an unknown command is named, with the closest one', () => {
    const r = cutover(['valid']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'valid' \(did you mean 'validate'\?\)/);
  });
});
