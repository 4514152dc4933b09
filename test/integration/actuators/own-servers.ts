/**
 * Private Redis and MariaDB servers for the actuator tests that stop a server or set global
 * variables (a write freeze), which must never touch the shared instances other tests use.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../../src/devenv/processes.js';
import { startOwnMariadbServer } from '../../../src/devenv/own-mariadb.js';

export { freePort };

async function waitForPort(port: number, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
}

function stopProcess(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}

export interface OwnRedis {
  port: number;
  url: string;
  dir: string;
  /** SIGKILL: no chance to save anything beyond what the AOF already has. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A redis-server of our own, persisting with AOF fsync on every write so data survives a kill. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cutover-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        dir,
        '--daemonize',
        'no',
      ],
      { stdio: 'ignore' },
    );
    await waitForPort(port, proc, 10_000);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    kill: async () => {
      if (proc) await stopProcess(proc, 'SIGKILL');
    },
    start,
    close: async () => {
      if (proc) await stopProcess(proc, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface OwnMariadb {
  port: number;
  socket: string;
  close(): Promise<void>;
}

/** A mariadbd of our own (root over the socket and TCP, no password), in a temporary data dir. */
export async function startOwnMariadb(): Promise<OwnMariadb> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cutover-mariadb-'));
  const server = await startOwnMariadbServer(dir);
  return { port: server.port, socket: server.socket, close: () => server.stop() };
}
