/**
 * TEST SUPPORT ONLY: runs `actuator-child.js` with an action and waits for it to be killed by its
 * own SIGKILL after the chosen write; fails when it exits any other way.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../src/devenv/devenv-state.js';
import type { Action } from './actuator-child.js';

export async function killMidChange(action: Action, env: Record<string, string> = {}): Promise<string> {
  const child = spawn(
    process.execPath,
    [join(repoRoot(), 'dist', 'test', 'support', 'actuator-child.js'), JSON.stringify(action)],
    {
      cwd: repoRoot(),
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve) => child.once('exit', (c, s) => resolve({ code: c, signal: s })),
  );
  if (signal !== 'SIGKILL')
    throw new Error(
      `the actuator process was to be killed after '${action.crashAt}' but exited with ${code ?? signal ?? '?'}:\n${out}`,
    );
  return out;
}
