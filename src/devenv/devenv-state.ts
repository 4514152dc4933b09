/**
 * Where the prepared local environment lives: `scripts/setup.mjs` builds the control-plane
 * binaries into a versioned cache and records the paths in `.cache/devenv.json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DevenvState {
  binDir: string;
  kubernetesVersion: string;
  etcdVersion: string;
  gatewayApiVersion: string;
  gatewayApiCrdDir: string;
}

/** The repository root (dist/src/devenv/ → three levels up, src/devenv/ → two). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error('cannot find the repository root (package.json) above ' + fileURLToPath(import.meta.url));
}

export function readDevenvState(): DevenvState {
  const file = join(repoRoot(), '.cache', 'devenv.json');
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: run 'node scripts/setup.mjs' (npm test and npm run demo do it) to build the local control plane`,
    );
  }
  const state = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevenvState>;
  if (!state.binDir || !state.gatewayApiCrdDir) {
    throw new Error(`${file} has no control-plane paths: run 'node scripts/setup.mjs' without --no-cluster`);
  }
  return state as DevenvState;
}
