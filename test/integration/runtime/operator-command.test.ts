/** `cutover operator` as a process: --help, bad flags, an unusable kubeconfig. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../../src/devenv/devenv-state.js';

function cutover(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
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
    for (const s of ['usage: cutover operator', '--kubeconfig', '--namespaces', '--leader-election-namespace', 'POD_NAMESPACE', '--lease-duration', '--listen-address', '--workers', '--shutdown-timeout']) {
      assert.ok(r.stdout.includes(s), `--help mentions ${s}`);
    }
  });

  it('refuses unknown flags and bad values with exit code 2', () => {
    const a = cutover(['operator', '--bogus']);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /unknown option '--bogus'/);
    const b = cutover(['operator', '--lease-duration', 'forever']);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--lease-duration: 'forever' is not a duration/);
    // Test-only controllers are not in the shipped command (test/support/widget-operator.ts adds one).
    const c = cutover(['operator', '--test-controller', 'widgets']);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /unknown option '--test-controller'/);
    const d = cutover(['operator', '--controllers', 'test-widgets', '--kubeconfig', '/nonexistent/kubeconfig']);
    assert.equal(d.code, 2);
    assert.match(d.stderr, /unknown controllers: test-widgets \(known: reconciliation\)/);
  });

  it('exits 1 with a clear message when the kubeconfig cannot be read', () => {
    const r = cutover(['operator', '--kubeconfig', '/nonexistent/kubeconfig', '--listen-address', '127.0.0.1:0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nonexistent\/kubeconfig/);
  });
});
