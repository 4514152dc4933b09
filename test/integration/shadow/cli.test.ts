/**
 * `cutover shadow-proxy` as a process: bad rules files are refused with paths and fixes (exit 1),
 * --check passes a good one, and a running proxy serves legacy, compares, reports on its admin
 * port and stops cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, fetchRaw, until, type Backend } from './backends.js';

const CLI = 'dist/src/cli/main.js';

describe('shadow: cutover shadow-proxy (the process)', function () {
  this.timeout(60_000);
  let dir: string;
  let legacy: Backend;
  let candidate: Backend;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shadow-cli-'));
    const answer =
      (body: unknown) =>
      (_req: http.IncomingMessage, res: http.ServerResponse): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
    legacy = await startBackend(answer({ id: 7, total: 10, at: 'legacy' }));
    candidate = await startBackend(answer({ id: 7, total: 10.5, at: 'new' }));
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await Promise.all([legacy.close(), candidate.close()]);
  });

  it('refuses a bad rules file with every problem, its path and its fix', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'routes:\n  - template: "/orders/{id}"\n    numbers: [{ path: total }]\nmethods: [GET, POST]\nqueue: { size: 5, concurrency: 9 }\n',
    );
    const r = spawnSync(process.execPath, [CLI, 'shadow-proxy', '--check', '--rules', file], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /bad\.yaml: 3 problem\(s\) in the comparison rules/);
    assert.match(
      r.stderr,
      /routes\[0\]\.numbers\[0\]\.path: Invalid value: "total": should match .*write a JSON Pointer like \/items\/\*\/price/,
    );
    assert.match(r.stderr, /paths: POST writes on the new stack unless it is a read/);
    assert.match(r.stderr, /queue: queue\.concurrency is more than queue\.size/);
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'service: pos\nroutes:\n  - template: "/orders/{id}"\n    ignore: [/at]\n');
    const ok = spawnSync(process.execPath, [CLI, 'shadow-proxy', '--check', '--rules', good], {
      encoding: 'utf8',
    });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /valid \(1 route\(s\), service pos\)/);
    const usage = spawnSync(process.execPath, [CLI, 'shadow-proxy', '--legacy', legacy.url], {
      encoding: 'utf8',
    });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--legacy and --new are required/);
  });

  it('serves legacy, compares, reports on the admin port and stops on SIGTERM', async () => {
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'service: pos\nroutes:\n  - template: "/orders/{id}"\n    ignore: [/at]\n');
    const child = spawn(
      process.execPath,
      [
        CLI,
        'shadow-proxy',
        '--legacy',
        legacy.url,
        '--new',
        candidate.url,
        '--rules',
        rules,
        '--listen',
        '127.0.0.1:0',
        '--metrics-listen',
        '127.0.0.1:0',
        '--report-interval',
        '200ms',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await until('listening line', () => /admin on/.test(err));
      const [, port, admin] = /listening on 127\.0\.0\.1:(\d+) .*admin on 127\.0\.0\.1:(\d+)/.exec(err)!;
      const r = await fetchRaw(`http://127.0.0.1:${port}/orders/7`);
      assert.deepEqual(JSON.parse(r.body.toString()), { id: 7, total: 10, at: 'legacy' });
      await until('a difference on the admin port', async () => {
        const s = JSON.parse((await fetchRaw(`http://127.0.0.1:${admin}/stats`)).body.toString()) as {
          differing: number;
        };
        return s.differing === 1;
      });
      const samples = JSON.parse((await fetchRaw(`http://127.0.0.1:${admin}/samples`)).body.toString()) as {
        samples: { diff: string[] }[];
      };
      assert.deepEqual(samples.samples[0]!.diff, ['~ /total: 10 → 10.5 (value)']);
      const metrics = (await fetchRaw(`http://127.0.0.1:${admin}/metrics`)).body.toString();
      assert.match(
        metrics,
        /cutover_shadow_differences_total\{service="pos",route="\/orders\/\{id\}",field="\/total",kind="value"\} 1/,
      );
      await until('a summary line', () =>
        /requests 1 {2}mirrored 1 {2}compared 1 {2}differing 1 \(100\.00%\)/.test(err),
      );
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, err);
    assert.match(err, /shadow-proxy stopping/);
  });
});
