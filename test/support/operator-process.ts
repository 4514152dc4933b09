/**
 * Runs `cutover operator` as a child process for integration and end-to-end tests: its output
 * kept (raw and as parsed JSON log records) for assertions and for failure messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../src/devenv/devenv-state.js';

/** One pino log line of the operator (any other line becomes `{ msg: line }`). */
export interface LogRecord {
  msg?: string;
  [k: string]: unknown;
}

export interface OperatorProcess {
  child: ChildProcess;
  /** The last 256 KiB of stdout and stderr. */
  output(): string;
  /** Every log line so far, parsed. */
  lines<T extends LogRecord = LogRecord>(): T[];
  /** The port of /metrics, /healthz and /readyz, from the operator's start-up log line. */
  port(): number | undefined;
  /** Sends a signal without waiting (no-op once exited). */
  signal(sig: NodeJS.Signals): void;
  /** The exit code (null when ended by a signal). */
  exited(): Promise<number | null>;
  /** SIGKILL: a crash, nothing finishes. */
  kill(): Promise<void>;
  /** SIGTERM: a clean shutdown. */
  stop(): Promise<void>;
}

/**
 * Starts the operator with `args` (a free `--listen-address` unless given) and extra env;
 * `nodeArgs` go to Node itself (e.g. `--heapsnapshot-signal=SIGUSR2`), `entry` replaces the
 * shipped `dist/src/cli/main.js` (e.g. a test entry that also registers a test controller).
 */
export function startOperator(
  args: string[],
  env: Record<string, string> = {},
  opts: { nodeArgs?: string[]; entry?: string } = {},
): OperatorProcess {
  const listen = args.includes('--listen-address') ? [] : ['--listen-address', '127.0.0.1:0'];
  const entry = opts.entry ?? join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), entry, 'operator', ...listen, ...args], {
    cwd: repoRoot(),
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let partial = '';
  const records: LogRecord[] = [];
  const keep = (b: Buffer): void => {
    const text = b.toString();
    out = (out + text).slice(-256 * 1024);
    partial += text;
    let i: number;
    while ((i = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, i);
      partial = partial.slice(i + 1);
      try {
        records.push(JSON.parse(line) as LogRecord);
      } catch {
        records.push({ msg: line });
      }
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const signal = (sig: NodeJS.Signals): void => {
    if (exitCode === undefined) child.kill(sig);
  };
  const port = (): number | undefined => {
    const started = records.find((r) => r.msg === 'operator started');
    return typeof started?.port === 'number' ? started.port : undefined;
  };
  return {
    child,
    output: () => out,
    lines: <T extends LogRecord = LogRecord>() => records as T[],
    port,
    signal,
    exited: () => exited,
    kill: async () => {
      signal('SIGKILL');
      await exited;
    },
    stop: async () => {
      signal('SIGTERM');
      await exited;
    },
  };
}
