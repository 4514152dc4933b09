/**
 * The demo's operator runs as a user installs it: the RBAC of deploy/operator (namespace
 * cutover-system, the `cutover-operator` ServiceAccount, its ClusterRole and binding, the
 * leader-election Role) applied with kubectl, and a kubeconfig that authenticates with a token of
 * that ServiceAccount. Whatever the sample plan asks of the API server that the install does not
 * grant is refused (HTTP 403), counted by the operator's own `cutover_api_requests_total`, which
 * the demo reads at the end (`refusedRequests`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from './devenv-state.js';
import { kubectl } from './local-cluster.js';

export const OPERATOR_NAMESPACE = 'cutover-system';
export const OPERATOR_SERVICE_ACCOUNT = 'cutover-operator';

interface RawConfig {
  clusters: { name: string; cluster: { server: string; 'certificate-authority-data'?: string } }[];
}

/** Applies deploy/operator's namespace and RBAC; writes the ServiceAccount's kubeconfig to `file`. */
export function installOperatorRbac(adminKubeconfig: string, file: string): string {
  const dir = join(repoRoot(), 'deploy', 'operator');
  const out = kubectl(adminKubeconfig, [
    'apply',
    '--server-side',
    '--field-manager=cutover-demo',
    '-f',
    join(dir, 'namespace.yaml'),
    '-f',
    join(dir, 'rbac.yaml'),
  ]);
  const token = kubectl(adminKubeconfig, [
    'create',
    'token',
    OPERATOR_SERVICE_ACCOUNT,
    '-n',
    OPERATOR_NAMESPACE,
    '--duration=24h',
  ]).trim();
  const raw = JSON.parse(
    kubectl(adminKubeconfig, ['config', 'view', '--raw', '--minify', '-o', 'json']),
  ) as RawConfig;
  const cluster = raw.clusters[0];
  if (!cluster || !token) throw new Error('no cluster in the admin kubeconfig, or no token for the operator');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: cluster.cluster }],
      users: [{ name: OPERATOR_SERVICE_ACCOUNT, user: { token } }],
      contexts: [
        {
          name: OPERATOR_SERVICE_ACCOUNT,
          context: { cluster: 'local', user: OPERATOR_SERVICE_ACCOUNT, namespace: OPERATOR_NAMESPACE },
        },
      ],
      'current-context': OPERATOR_SERVICE_ACCOUNT,
    }),
    { mode: 0o600 },
  );
  return out;
}

/** Removes what installOperatorRbac applied (the cluster-scoped objects too). */
export function uninstallOperatorRbac(adminKubeconfig: string): void {
  const dir = join(repoRoot(), 'deploy', 'operator');
  kubectl(adminKubeconfig, [
    'delete',
    '--ignore-not-found',
    '--wait=false',
    '-f',
    join(dir, 'rbac.yaml'),
    '-f',
    join(dir, 'namespace.yaml'),
  ]);
}

/** Requests the operator at `metricsUrl` sent and the API server refused (403), by verb and resource. */
export async function refusedRequests(metricsUrl: string): Promise<{ total: number; refused: string[] }> {
  const text = await (await fetch(metricsUrl)).text();
  let total = 0;
  const refused: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^cutover_api_requests_total\{([^}]*)\} (\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/.exec(line);
    if (!m) continue;
    const n = Number(m[2]);
    total += n;
    const labels: Record<string, string> = {};
    for (const x of m[1]!.matchAll(/(\w+)="([^"]*)"/g)) labels[x[1]!] = x[2]!;
    if (labels.code === '403') refused.push(`${labels.verb} ${labels.resource} (${n})`);
  }
  return { total, refused };
}
