/**
 * The command-line tools the deploy tests drive: helm (built by scripts/setup.mjs from
 * tools/helm, path in .cache/devenv.json) and promtool (Debian's prometheus package).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../../src/devenv/devenv-state.js';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runTool(bin: string, args: string[], input?: string): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = execFile(
      bin,
      args,
      { cwd: repoRoot(), maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

export function helmBinary(): string {
  const file = join(repoRoot(), '.cache', 'devenv.json');
  const state = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { helmPath?: string }) : {};
  if (!state.helmPath || !existsSync(state.helmPath))
    throw new Error(`helm is not built: run 'node scripts/setup.mjs' (it builds helm from tools/helm)`);
  return state.helmPath;
}

export const CHART = join('deploy', 'helm', 'cutover-operator');

export const helm = (args: string[]): Promise<ToolResult> => runTool(helmBinary(), args);
export const promtool = (args: string[]): Promise<ToolResult> => runTool('promtool', args);

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

export function manifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as Manifest | null)
    .filter((d): d is Manifest => d !== null);
}

/** `helm template` of the chart with `--set` values; throws with helm's message on failure. */
export async function renderChart(
  release: string,
  namespace: string,
  set: string[] = [],
  extra: string[] = [],
): Promise<{ text: string; objects: Manifest[] }> {
  const r = await helm([
    'template',
    release,
    CHART,
    '--namespace',
    namespace,
    ...set.flatMap((s) => ['--set', s]),
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return { text: r.stdout, objects: manifests(r.stdout) };
}
