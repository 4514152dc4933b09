/** `cutover operator` as a process: --help, bad flags, an unusable kubeconfig. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../../src/devenv/devenv-state.js';

function cutover(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), ...args], {
    cwd: repoRoot(),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cutover operator (command line)', () => {
  it('--help explains every setting and exits 0', () => {
    const r = cutover(['operator', '--help']);
    assert.equal(r.code, 0);
    for (const s of [
      'usage: cutover operator',
      '--kubeconfig',
      '--namespaces',
      '--leader-election-namespace',
      'POD_NAMESPACE',
      '--lease-duration',
      '--listen-address',
      '--workers',
      '--shutdown-timeout',
    ]) {
      assert.ok(r.stdout.includes(s), `--help mentions ${s}`);
    }
  });

  it('refuses unknown flags and bad values with exit code 2', () => {
    const a = cutover(['operator', '--bogus']);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /unknown flag '--bogus'; valid flags: /);
    const b = cutover(['operator', '--lease-duration', 'forever']);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--lease-duration: 'forever' is not a duration/);
    // Test-only controllers are not in the shipped command (test/support/widget-operator.ts adds one).
    const c = cutover(['operator', '--test-controller', 'widgets']);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /unknown flag '--test-controller'/);
    const d = cutover([
      'operator',
      '--controllers',
      'test-widgets',
      '--kubeconfig',
      '/nonexistent/kubeconfig',
    ]);
    assert.equal(d.code, 2);
    assert.match(
      d.stderr,
      /unknown controllers: test-widgets \(known: reconciliation, cutover, canary-phase\)/,
    );
  });

  it('exits 1 with a clear message when the kubeconfig cannot be read', () => {
    const r = cutover([
      'operator',
      '--kubeconfig',
      '/nonexistent/kubeconfig',
      '--listen-address',
      '127.0.0.1:0',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nonexistent\/kubeconfig/);
  });

  it('--context picks a context of the kubeconfig, and a missing one is named with the known ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'operator-context-'));
    try {
      const file = join(dir, 'kubeconfig');
      writeFileSync(
        file,
        JSON.stringify({
          'current-context': 'a',
          clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
          users: [{ name: 'u', user: { token: 't' } }],
          contexts: [
            { name: 'a', context: { cluster: 'c', user: 'u' } },
            { name: 'b', context: { cluster: 'c', user: 'u' } },
          ],
        }),
      );
      const r = cutover([
        'operator',
        '--kubeconfig',
        file,
        '--context',
        'prod',
        '--listen-address',
        '127.0.0.1:0',
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no context 'prod' \(contexts: a, b\)/);
      const env = cutover(['operator', '--listen-address', '127.0.0.1:0'], {
        KUBECONFIG: file,
        CUTOVER_CONTEXT: 'staging',
      });
      assert.equal(env.code, 1);
      assert.match(env.stderr, /no context 'staging'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
