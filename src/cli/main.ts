#!/usr/bin/env node
/**
 * `cutover`: one binary for the operator and its tools. Each subcommand lives in
 * `src/cli/<name>-command.ts` and exports `run(argv): Promise<number>` (the exit code), so this
 * file only dispatches and loads nothing a command does not need.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { existsSync, realpathSync } from 'node:fs';
import { didYouMean } from '../api/did-you-mean.js';

interface CommandModule {
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, string> = {
  operator: 'run the operator (controllers for Cutover, CanaryPhase and Reconciliation)',
  reconcile: 'run a Reconciliation manifest against two databases, without Kubernetes',
  validate: 'validate manifests offline with the same rules as the API server',
  'shadow-proxy':
    'serve from legacy, mirror reads to the new stack and count every difference in the answers',
  dashboard: 'serve the live war-room page of the Cutovers (acts with your identity)',
  version: 'print the version, git commit, API version and Node.js version',
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(12)} ${what}`);
  return [
    'usage: cutover <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    "'cutover <command> --help' explains a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const command = name === '--version' ? 'version' : name;
  if (!Object.prototype.hasOwnProperty.call(COMMANDS, command)) {
    const guess = didYouMean(command, Object.keys(COMMANDS));
    process.stderr.write(
      `cutover: unknown command '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}\n\n${usage()}\n`,
    );
    return 2;
  }
  const file = join(dirname(fileURLToPath(import.meta.url)), `${command}-command.js`);
  if (!existsSync(file)) {
    process.stderr.write(`cutover: command '${name}' is not part of this build (${file} missing)\n`);
    return 2;
  }
  const mod = (await import(pathToFileURL(file).href)) as CommandModule;
  return mod.run(rest);
}

/**
 * True when this file is the program node started: also through a symlink (npm's .bin, `npm
 * link`, a `kubectl-cutover` plugin on the PATH), so both sides are compared with symlinks resolved.
 */
export function isMainModule(moduleUrl: string, argv1: string | undefined = process.argv[1]): boolean {
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`cutover: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
