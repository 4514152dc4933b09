/**
 * The long-lived local cluster of `npm run cluster:up` / `cluster:down` and the demo: a
 * LocalControlPlane whose processes outlive the command, with its state in `.cache/cluster/`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalControlPlane, type ControlPlaneState } from './control-plane.js';
import { readDevenvState, repoRoot } from './devenv-state.js';
import { pidAlive, stopPid } from './processes.js';

export function clusterDir(): string {
  return join(repoRoot(), '.cache', 'cluster');
}

/** The pid of the demo's MariaDB when `npm run demo -- --keep` left it running. */
export const DEMO_MARIADB_PID = 'demo-mariadb.pid';

const stateFile = (): string => join(clusterDir(), 'state.json');

export function runningCluster(): ControlPlaneState | undefined {
  if (!existsSync(stateFile())) return undefined;
  const state = JSON.parse(readFileSync(stateFile(), 'utf8')) as ControlPlaneState;
  const pids = Object.values(state.pids);
  return pids.length > 0 && pids.every(pidAlive) ? state : undefined;
}

export function kubectl(kubeconfig: string, args: string[], input?: string): string {
  return execFileSync(join(readDevenvState().binDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Applies every YAML file in `dir` server-side and waits for CRDs to be established. */
export function applyCrdDir(kubeconfig: string, dir: string): number {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')) : [];
  if (files.length === 0) return 0;
  kubectl(kubeconfig, ['apply', '--server-side', '--force-conflicts', '-f', dir]);
  kubectl(kubeconfig, ['wait', '--for=condition=Established', '--timeout=60s', '-f', dir]);
  return files.length;
}

/** Starts the local cluster unless one is running; returns its state either way. */
export async function clusterUp(log: (line: string) => void): Promise<ControlPlaneState> {
  const existing = runningCluster();
  if (existing) {
    log(`a local cluster is already running at ${existing.server}`);
    return existing;
  }
  rmSync(clusterDir(), { recursive: true, force: true });
  const t0 = Date.now();
  const plane = new LocalControlPlane({ dir: clusterDir(), detached: true });
  await plane.start();
  const state = plane.state();
  writeFileSync(stateFile(), JSON.stringify(state, null, 2) + '\n');
  log(`control plane up in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${state.server}`);
  const crds = applyCrdDir(state.kubeconfigPath, join(repoRoot(), 'crds'));
  const gw = applyCrdDir(state.kubeconfigPath, readDevenvState().gatewayApiCrdDir);
  log(`applied ${crds} cutover CRD file(s) and ${gw} Gateway API CRD file(s)`);
  return state;
}

export async function clusterDown(log: (line: string) => void): Promise<void> {
  if (!existsSync(stateFile())) {
    log('no local cluster state in ' + clusterDir());
    return;
  }
  const state = JSON.parse(readFileSync(stateFile(), 'utf8')) as ControlPlaneState;
  const operatorPid = join(clusterDir(), 'operator.pid');
  if (existsSync(operatorPid)) await stopPid(Number(readFileSync(operatorPid, 'utf8')));
  const mariadbPid = join(clusterDir(), DEMO_MARIADB_PID);
  if (existsSync(mariadbPid)) await stopPid(Number(readFileSync(mariadbPid, 'utf8')), 10_000);
  for (const name of ['kube-controller-manager', 'kube-apiserver', 'etcd']) {
    const pid = state.pids[name];
    if (pid) await stopPid(pid);
  }
  rmSync(clusterDir(), { recursive: true, force: true });
  log('local cluster stopped');
}
