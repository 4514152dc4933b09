/**
 * A legacy MariaDB of its own: a mariadbd (root over the socket and TCP, no password) with its data
 * in `dir`, because the cutover's freeze sets GLOBAL read_only, which must never touch a shared
 * server. The demo's runs detached, so that `npm run demo -- --keep` can leave it running for
 * `cluster:down`; the tests' (test/integration/actuators/own-servers.ts) stop with the test.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { freePort, pidAlive, startProcess, stopPid, waitFor } from './processes.js';

export interface OwnMariadbServer {
  port: number;
  socket: string;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

export async function startOwnMariadbServer(
  dir: string,
  opts: { detached?: boolean } = {},
): Promise<OwnMariadbServer> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const datadir = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  await new Promise<void>((resolve, reject) => {
    const p = spawn(
      'mariadb-install-db',
      [
        '--no-defaults',
        `--datadir=${datadir}`,
        '--user=root',
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        `--tmpdir=${dir}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`mariadb-install-db failed (${code}): ${err.slice(-2000)}`)),
    );
  });
  const port = await freePort();
  const proc = startProcess(
    'mariadbd',
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--user=root',
      `--pid-file=${join(dir, 'mysqld.pid')}`,
      '--skip-log-bin',
      '--innodb-buffer-pool-size=16M',
      '--innodb-log-file-size=8M',
      '--performance-schema=OFF',
      `--tmpdir=${dir}`,
    ],
    join(dir, 'mariadbd.log'),
    { detached: opts.detached ?? false },
  );
  const pid = proc.child.pid ?? 0;
  await waitFor(
    `mariadbd on port ${port} (log ${join(dir, 'mariadbd.log')})`,
    () =>
      new Promise<true | undefined>((resolve, reject) => {
        if (!pidAlive(pid)) return reject(new Error('mariadbd exited'));
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(undefined));
      }),
    60_000,
    100,
  );
  return {
    port,
    socket,
    pid,
    dir,
    stop: async () => {
      await stopPid(pid, 10_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
