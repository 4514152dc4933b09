/**
 * `cutover version`: the package version, the git commit it was built from (when known), the API
 * version of the custom resources and the Node.js version. The commit comes from
 * `CUTOVER_GIT_COMMIT` (set when the image is built), else from the `.git` of a checkout.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_VERSION } from '../api/crds.js';
import { helpText, OUTPUT, parseCommandLine, UsageError, type CommandSpec } from './args.js';

export const VERSION_COMMAND: CommandSpec = {
  name: 'version',
  usage: '[-o text|json]',
  description:
    'Prints the version of cutover, the git commit it was built from (when known), the API version of its custom resources and the Node.js version.',
  flags: [OUTPUT(['text', 'json'], 'text')],
};

export interface VersionInfo {
  version: string;
  gitCommit?: string;
  apiVersion: string;
  node: string;
}

/** The package root: dist/src/cli/ → three levels up (src/cli/ → two, when run from sources). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return dir;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The commit HEAD points at, read from the files of `.git` (a worktree's `.git` file too), without running git. */
export function gitCommit(root: string): string | undefined {
  let gitDir = join(root, '.git');
  if (!existsSync(gitDir)) return undefined;
  if (statSync(gitDir).isFile()) {
    const m = /^gitdir: (.+)$/m.exec(readText(gitDir) ?? '');
    if (!m) return undefined;
    gitDir = isAbsolute(m[1]!) ? m[1]! : join(root, m[1]!);
  }
  const common = readText(join(gitDir, 'commondir'));
  const commonDir = common ? (isAbsolute(common) ? common : join(gitDir, common)) : gitDir;
  const head = readText(join(gitDir, 'HEAD'));
  if (!head) return undefined;
  if (/^[0-9a-f]{40}$/.test(head)) return head;
  const ref = /^ref: (.+)$/.exec(head)?.[1];
  if (!ref) return undefined;
  const loose = readText(join(gitDir, ref)) ?? readText(join(commonDir, ref));
  if (loose && /^[0-9a-f]{40}$/.test(loose)) return loose;
  const packed = readText(join(commonDir, 'packed-refs')) ?? '';
  for (const line of packed.split('\n')) {
    const [sha, name] = line.split(' ');
    if (name === ref && sha && /^[0-9a-f]{40}$/.test(sha)) return sha;
  }
  return undefined;
}

export function versionInfo(env: NodeJS.ProcessEnv = process.env): VersionInfo {
  const root = packageRoot();
  let version = 'unknown';
  try {
    version =
      (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ??
      'unknown';
  } catch {
    // keep 'unknown'
  }
  const fromEnv = env.CUTOVER_GIT_COMMIT?.trim();
  const commit = fromEnv || gitCommit(root);
  return {
    version,
    ...(commit ? { gitCommit: commit } : {}),
    apiVersion: API_VERSION,
    node: process.version,
  };
}

export function run(argv: string[]): Promise<number> {
  let output: string;
  try {
    const parsed = parseCommandLine(VERSION_COMMAND, argv);
    if (parsed.help) {
      process.stdout.write(helpText(VERSION_COMMAND) + '\n');
      return Promise.resolve(0);
    }
    output = (parsed.flags.output as string | undefined) ?? 'text';
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return Promise.resolve(2);
  }
  const v = versionInfo();
  if (output === 'json') process.stdout.write(JSON.stringify(v, null, 2) + '\n');
  else {
    process.stdout.write(
      [
        `cutover ${v.version}`,
        `git commit:  ${v.gitCommit ?? 'unknown'}`,
        `API version: ${v.apiVersion}`,
        `Node.js:     ${v.node}`,
      ].join('\n') + '\n',
    );
  }
  return Promise.resolve(0);
}
