/**
 * `cutover shadow-proxy` as a process: bad rules files are refused with paths and fixes (exit 1),
 * --check passes a good one, and a running proxy serves legacy, compares, reports on its admin
 * port and stops cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { startBackend, fetchRaw, until, type Backend } from './backends.js';

const CLI = 'dist/src/cli/main.js';

describe('shadow: cutover shadow-proxy (the process)', function () {
  this.timeout(60_000);
  let dir: string;
  let legacy: Backend;
  let candidate: Backend;

  /** `cutover shadow-proxy` between the two backends on free ports, its stderr piped. */
  function proxyProcess(
    rules: string,
    extra: string[],
    env: Record<string, string> = {},
  ): ChildProcessByStdio<null, null, Readable> {
    return spawn(
      process.execPath,
      [CLI, 'shadow-proxy', '--legacy', legacy.url, '--new', candidate.url, '--rules', rules]
        .concat(['--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0'])
        .concat(extra),
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
    );
  }

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

  for (const thread of ['off', 'on']) {
    it(`serves legacy, compares, reports on the admin port and stops on SIGTERM (--mirror-thread ${thread})`, async () => {
      const rules = join(dir, 'rules.yaml');
      writeFileSync(rules, 'service: pos\nroutes:\n  - template: "/orders/{id}"\n    ignore: [/at]\n');
      const child = proxyProcess(rules, ['--report-interval', '200ms', '--mirror-thread', thread]);
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

    it(`with several workers: exact counts across them on the admin port, a dead worker restarted and counted, SIGTERM stops all (--mirror-thread ${thread})`, async () => {
      const rules = join(dir, 'rules-workers.yaml');
      writeFileSync(rules, 'service: pos\nroutes:\n  - template: "/orders/{id}"\n    ignore: [/at]\n');
      const child = proxyProcess(
        rules,
        ['--report-interval', '0', '--workers', '3', '--mirror-thread', thread],
        {
          LOG_LEVEL: 'info',
        },
      );
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      interface Stats {
        requests: number;
        mirrored: number;
        compared: number;
        differing: number;
        dropped: number;
        restarts: number;
        mirrorThreadRestarts?: number;
        workers: { index: number; pid: number }[];
      }
      let pids: number[] = [];
      try {
        await until('listening line', () => /admin on/.test(err));
        assert.match(
          err,
          thread === 'on' ? /3 worker\(s\), mirror thread \(nice \d+\)/ : /3 worker\(s\), mirror inline/,
        );
        const [, port, admin] = /listening on 127\.0\.0\.1:(\d+) .*admin on 127\.0\.0\.1:(\d+)/.exec(err)!;
        const stats = async (): Promise<Stats> =>
          JSON.parse((await fetchRaw(`http://127.0.0.1:${admin}/stats`)).body.toString()) as Stats;
        // 60 reads (mirrored, all differ on /total) and 10 writes (not mirrored), many connections at once.
        const answers = await Promise.all([
          ...Array.from({ length: 60 }, (_, i) => fetchRaw(`http://127.0.0.1:${port}/orders/${i}`)),
          ...Array.from({ length: 10 }, () =>
            fetchRaw(`http://127.0.0.1:${port}/orders/1`, { method: 'POST', body: '{}' }),
          ),
        ]);
        assert.ok(answers.every((a) => a.status === 200));
        await until('every read compared', async () => (await stats()).compared === 60);
        const s = await stats();
        assert.deepEqual(
          {
            requests: s.requests,
            mirrored: s.mirrored,
            compared: s.compared,
            differing: s.differing,
            dropped: s.dropped,
          },
          { requests: 70, mirrored: 60, compared: 60, differing: 60, dropped: 0 },
        );
        assert.equal(s.workers.length, 3);
        assert.equal(s.mirrorThreadRestarts, thread === 'on' ? 0 : undefined);
        pids = s.workers.map((w) => w.pid);
        assert.equal(new Set(pids).size, 3);
        const metrics = (await fetchRaw(`http://127.0.0.1:${admin}/metrics`)).body.toString();
        assert.match(metrics, /cutover_shadow_requests_total\{service="pos",route="\/orders\/\{id\}"\} 70\n/);
        assert.match(metrics, /cutover_shadow_compared_total\{service="pos",route="\/orders\/\{id\}"\} 60\n/);
        assert.match(
          metrics,
          /cutover_shadow_differences_total\{service="pos",route="\/orders\/\{id\}",field="\/total",kind="value"\} 60\n/,
        );
        assert.match(metrics, /cutover_shadow_worker_restarts_total\{service="pos"\} 0\n/);
        const samples = JSON.parse((await fetchRaw(`http://127.0.0.1:${admin}/samples`)).body.toString()) as {
          samples: { worker: number; diff: string[] }[];
        };
        assert.equal(samples.samples.length, 60);
        assert.ok(
          new Set(samples.samples.map((x) => x.worker)).size >= 2,
          'the reads were spread over workers',
        );

        // A worker killed: restarted on the same port, said in the log and the metrics.
        process.kill(pids[0]!, 'SIGKILL');
        await until('the worker restarted', async () => {
          const t = await stats();
          return t.restarts === 1 && t.workers.length === 3 && !t.workers.some((w) => w.pid === pids[0]);
        });
        assert.match(err, /worker died; restarting it/);
        const after = (await fetchRaw(`http://127.0.0.1:${admin}/metrics`)).body.toString();
        assert.match(after, /cutover_shadow_worker_restarts_total\{service="pos"\} 1\n/);
        assert.match(after, /cutover_shadow_workers\{service="pos"\} 3\n/);
        pids = (await stats()).workers.map((w) => w.pid);
        const again = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            fetchRaw(`http://127.0.0.1:${port}/orders/${i}`, { headers: { connection: 'close' } }),
          ),
        );
        assert.ok(
          again.every(
            (a) => a.status === 200 && (JSON.parse(a.body.toString()) as { total: number }).total === 10,
          ),
        );
      } finally {
        child.kill('SIGTERM');
      }
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, err);
      assert.match(err, /shadow-proxy stopping/);
      for (const pid of pids)
        assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} still running`);
    });
  }
});
