/** Runs `cutover operator` as a child process for end-to-end tests, with its log kept for failures. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../src/devenv/devenv-state.js';

export interface OperatorProcess {
  child: ChildProcess;
  output(): string;
  /** The port of /metrics, /healthz and /readyz, from the operator's start-up log line. */
  port(): number | undefined;
  /** SIGKILL: a crash, nothing finishes. */
  kill(): Promise<void>;
  /** SIGTERM: a clean shutdown. */
  stop(): Promise<void>;
}

export function startOperator(args: string[], env: Record<string, string> = {}): OperatorProcess {
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), 'operator', '--listen-address', '127.0.0.1:0', ...args], {
    cwd: repoRoot(),
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer): void => {
    out = (out + b.toString()).slice(-256 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  const port = (): number | undefined => {
    const m = /"port":(\d+)[^\n]*"msg":"operator started"/.exec(out);
    return m ? Number(m[1]) : undefined;
  };
  return { child, output: () => out, port, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}
