/**
 * The operator's own identity for tests and benchmarks: the RBAC of deploy/operator/rbac.yaml
 * (its ClusterRole bound to a ServiceAccount `cutover-operator` of the test namespace, and the
 * leader-election Role in that namespace), and a kubeconfig that authenticates as that
 * ServiceAccount. Tests of controllers and actuators use it instead of the admin kubeconfig, so a
 * verb the code needs and the role lacks fails the test as it would fail in a cluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../src/devenv/devenv-state.js';
import type { TestCluster } from './cluster.js';

export const OPERATOR_SERVICE_ACCOUNT = 'cutover-operator';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface RbacDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
  roleRef?: { apiGroup: string; kind: string; name: string };
}

export function rbacDocs(file = join(repoRoot(), 'deploy', 'operator', 'rbac.yaml')): RbacDoc[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJSON() as RbacDoc | null)
    .filter((d): d is RbacDoc => d !== null);
}

/** The rules of the operator's ClusterRole and of its leader-election Role. */
export function operatorRules(): { clusterRole: PolicyRule[]; leaderElection: PolicyRule[] } {
  const docs = rbacDocs();
  const cr = docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'cutover-operator');
  const le = docs.find((d) => d.kind === 'Role' && d.metadata.name === 'cutover-operator-leader-election');
  if (!cr || !le)
    throw new Error(
      'deploy/operator/rbac.yaml lacks the cutover-operator ClusterRole or its leader-election Role',
    );
  return { clusterRole: cr.rules ?? [], leaderElection: le.rules ?? [] };
}

export interface OperatorIdentity {
  /** Kubeconfig file of the ServiceAccount. */
  kubeconfig: string;
  namespace: string;
  serviceAccount: string;
  /** Removes the cluster-scoped binding (the namespaced objects go with the namespace). */
  cleanup(): Promise<void>;
}

const identities = new Map<string, Promise<OperatorIdentity>>();

/**
 * Applies deploy/operator/rbac.yaml for a ServiceAccount of `namespace` (the ClusterRole as is,
 * its binding renamed per namespace, the leader-election Role in `namespace`) and returns a
 * kubeconfig of that ServiceAccount. `extraRules` (a Role in the namespace) are for test-only
 * kinds such as the Widget of the runtime tests: never for what the operator's code needs.
 */
export function operatorIdentity(
  cluster: TestCluster,
  namespace: string,
  opts: { extraRules?: PolicyRule[] } = {},
): Promise<OperatorIdentity> {
  const id = `${namespace}|${JSON.stringify(opts.extraRules ?? [])}`;
  let p = identities.get(id);
  if (!p) {
    p = create(cluster, namespace, opts.extraRules);
    identities.set(id, p);
    p.catch(() => identities.delete(id));
  }
  return p;
}

async function create(
  cluster: TestCluster,
  namespace: string,
  extraRules: PolicyRule[] | undefined,
): Promise<OperatorIdentity> {
  const apply = async (doc: unknown): Promise<void> => {
    const r = await cluster.kubectl(
      ['apply', '--server-side', '--force-conflicts', '--field-manager=cutover-tests', '-f', '-'],
      { input: JSON.stringify(doc) },
    );
    if (r.code !== 0) throw new Error(`applying RBAC failed: ${r.stderr}`);
  };
  const bindingName = `cutover-operator-${namespace}`;
  for (const doc of rbacDocs()) {
    if (doc.kind === 'ServiceAccount') continue;
    const copy = structuredClone(doc);
    if (copy.metadata.namespace) copy.metadata.namespace = namespace;
    if (copy.kind === 'ClusterRoleBinding') copy.metadata.name = bindingName;
    for (const s of copy.subjects ?? []) s.namespace = namespace;
    await apply(copy);
  }
  if (extraRules?.length) {
    await apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'cutover-operator-test-extra', namespace },
      rules: extraRules,
    });
    await apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'cutover-operator-test-extra', namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cutover-operator-test-extra' },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_SERVICE_ACCOUNT, namespace }],
    });
  }
  const kubeconfig = await cluster.restrictedKubeconfig(namespace, OPERATOR_SERVICE_ACCOUNT);
  return {
    kubeconfig,
    namespace,
    serviceAccount: OPERATOR_SERVICE_ACCOUNT,
    cleanup: async () => {
      await cluster.kubectl(['delete', 'clusterrolebinding', bindingName, '--ignore-not-found']);
      for (const k of [...identities.keys()]) if (k.startsWith(`${namespace}|`)) identities.delete(k);
    },
  };
}
