/**
 * deploy/: the kustomize base and overlays are valid for the real API server (the namespaced
 * overlay applied for real, its permissions checked with `kubectl auth can-i`), the control plane
 * serves what the CRDs need (validation rules with reason and fieldPath: Kubernetes 1.28+), and
 * the Argo CD health checks exist for every kind.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { useCluster } from '../../support/cluster.js';
import { rbacDocs } from '../../support/operator-identity.js';
import { KINDS } from '../../../src/api/index.js';
import { manifests, type Manifest } from './tools.js';
import { waitFor } from '../../../src/devenv/processes.js';

const OPERATOR_SA = 'system:serviceaccount:cutover-system:cutover-operator';

/** The minimum Kubernetes version, as the README and the chart state it. */
const MIN_MINOR = 28;

describe('deploy/: operator manifests', function () {
  this.timeout(180_000);

  before(async () => {
    const cluster = await useCluster();
    await cluster.applyCrds();
  });

  it('render with kustomize and pass a server-side dry run', async function () {
    const cluster = await useCluster();
    const ns = await cluster.kubectl(['apply', '--server-side', '-f', 'deploy/operator/namespace.yaml']);
    assert.equal(ns.code, 0, ns.stderr);
    const r = await cluster.kubectl(['apply', '--server-side', '--dry-run=server', '-k', 'deploy/operator']);
    assert.equal(r.code, 0, r.stderr);
    for (const what of [
      'namespace/cutover-system',
      'deployment.apps/cutover-operator',
      'clusterrole.rbac.authorization.k8s.io/cutover-operator',
      'clusterrolebinding.rbac.authorization.k8s.io/cutover-operator',
      'role.rbac.authorization.k8s.io/cutover-operator-leader-election',
      'serviceaccount/cutover-operator',
      'service/cutover-operator-metrics',
      'poddisruptionbudget.policy/cutover-operator',
    ]) {
      assert.match(r.stdout, new RegExp(what.replace(/\./g, '\\.')));
    }
  });

  it('the cluster-wide overlay: CRDs and operator in one server-side apply (dry run)', async () => {
    const cluster = await useCluster();
    const built = await cluster.kubectl(['kustomize', 'deploy/overlays/cluster-wide']);
    assert.equal(built.code, 0, built.stderr);
    const objects = manifests(built.stdout);
    assert.deepEqual(
      objects
        .filter((o) => o.kind === 'CustomResourceDefinition')
        .map((o) => o.metadata.name)
        .sort(),
      Object.values(KINDS)
        .map((k) => `${k.plural}.cutover.nokta.io`)
        .sort(),
    );
    // The same RBAC objects as deploy/operator/rbac.yaml, unchanged.
    for (const d of rbacDocs()) {
      const o = objects.find((x) => x.kind === d.kind && x.metadata.name === d.metadata.name);
      assert.deepEqual(o, d, `${d.kind} ${d.metadata.name}`);
    }
    const r = await cluster.kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '--dry-run=server',
      '-k',
      'deploy/overlays/cluster-wide',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /customresourcedefinition\.apiextensions\.k8s\.io\/reconciliations\.cutover\.nokta\.io/,
    );
    assert.match(r.stdout, /deployment\.apps\/cutover-operator/);
  });

  it('the namespaced overlay, applied: the operator may act in its watched namespace and its own, nowhere else', async () => {
    const cluster = await useCluster();
    const built = await cluster.kubectl(['kustomize', 'deploy/overlays/namespaced']);
    assert.equal(built.code, 0, built.stderr);
    const objects = manifests(built.stdout);
    assert.equal(
      objects.find((o) => o.kind === 'ClusterRoleBinding'),
      undefined,
      'no cluster-wide grant',
    );
    const deployment = objects.find((o) => o.kind === 'Deployment') as
      | (Manifest & {
          spec: {
            template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } };
          };
        })
      | undefined;
    assert.ok(deployment);
    assert.deepEqual(
      deployment.spec.template.spec.containers[0]!.env.find((e) => e.name === 'CUTOVER_NAMESPACES'),
      { name: 'CUTOVER_NAMESPACES', value: 'nokta' },
    );

    const r = await cluster.kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '-k',
      'deploy/overlays/namespaced',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const can = async (...args: string[]): Promise<string> =>
      (await cluster.kubectl(['auth', 'can-i', '--as', OPERATOR_SA, ...args])).stdout.trim();
    assert.equal(await can('watch', 'reconciliations.cutover.nokta.io', '-n', 'nokta'), 'yes');
    assert.equal(await can('create', 'jobs.batch', '-n', 'nokta'), 'yes');
    assert.equal(await can('get', 'secrets', '-n', 'nokta'), 'yes');
    assert.equal(await can('get', 'pods', '-n', 'cutover-system'), 'yes');
    assert.equal(await can('update', 'leases.coordination.k8s.io', '-n', 'cutover-system'), 'yes');
    assert.equal(await can('get', 'secrets', '-n', 'default'), 'no');
    assert.equal(await can('watch', 'reconciliations.cutover.nokta.io', '-A'), 'no');
    const enforce = await cluster.kubectl([
      'get',
      'namespace',
      'cutover-system',
      '-o',
      "jsonpath={.metadata.labels['pod-security\\.kubernetes\\.io/enforce']}",
    ]);
    assert.equal(enforce.stdout, 'restricted');
    // The operator's Pods pass the Pod Security "restricted" admission of cutover-system: the
    // ReplicaSet controller creates them (no kubelet runs them here).
    await waitFor(
      'the operator Pods created in cutover-system',
      async () => {
        const pods = await cluster.kubectl([
          '-n',
          'cutover-system',
          'get',
          'pods',
          '-l',
          'app.kubernetes.io/name=cutover-operator',
          '-o',
          'name',
        ]);
        return pods.stdout.trim().split('\n').filter(Boolean).length >= 2 ? true : undefined;
      },
      90_000,
      500,
    );
    // Back to the state of the other tests in this cluster: no binding left for cutover-system's
    // operator (the ClusterRole itself is the one operator-identity applies too).
    const d = await cluster.kubectl([
      'delete',
      'rolebinding',
      'cutover-operator',
      '-n',
      'nokta',
      '--ignore-not-found',
    ]);
    assert.equal(d.code, 0, d.stderr);
  });

  it(`the control plane is Kubernetes 1.${MIN_MINOR} or newer and keeps the CRDs' validation rules with reason and fieldPath`, async () => {
    const cluster = await useCluster();
    const v = await cluster.kubectl(['version', '-o', 'json']);
    assert.equal(v.code, 0, v.stderr);
    const server = (
      JSON.parse(v.stdout) as { serverVersion: { major: string; minor: string; gitVersion: string } }
    ).serverVersion;
    assert.equal(server.major, '1');
    assert.ok(Number.parseInt(server.minor, 10) >= MIN_MINOR, `server ${server.gitVersion}`);

    const chart = readFileSync('deploy/helm/cutover-operator/Chart.yaml', 'utf8');
    assert.match(chart, new RegExp(`^kubeVersion: '>=1\\.${MIN_MINOR}\\.0-0'$`, 'm'));
    assert.match(readFileSync('README.md', 'utf8'), new RegExp(`Kubernetes 1\\.${MIN_MINOR} or newer`));

    for (const k of Object.values(KINDS)) {
      const file = `crds/${k.plural}.cutover.nokta.io.yaml`;
      const wanted = countRules(readFileSync(file, 'utf8'));
      assert.ok(wanted.withReason > 0 || wanted.withFieldPath > 0 || k.kind === 'Cutover', file);
      const stored = await cluster.kubectl(['get', 'crd', `${k.plural}.cutover.nokta.io`, '-o', 'yaml']);
      assert.equal(stored.code, 0, stored.stderr);
      assert.deepEqual(countRules(stored.stdout), wanted, `the API server kept every rule of ${file}`);
    }
  });

  it('has an Argo CD health check for every kind', function () {
    for (const k of Object.values(KINDS))
      assert.ok(
        existsSync(`deploy/argocd/health/${k.kind.toLowerCase()}.lua`),
        `deploy/argocd/health/${k.kind.toLowerCase()}.lua`,
      );
  });
});

/** Counts the x-kubernetes-validations rules of a CRD and those with reason / fieldPath. */
function countRules(yamlText: string): { rules: number; withReason: number; withFieldPath: number } {
  const out = { rules: 0, withReason: 0, withFieldPath: 0 };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [key, x] of Object.entries(v)) {
        if (key === 'x-kubernetes-validations' && Array.isArray(x)) {
          for (const r of x as Array<Record<string, unknown>>) {
            out.rules++;
            if (r.reason !== undefined) out.withReason++;
            if (r.fieldPath !== undefined) out.withFieldPath++;
          }
        } else walk(x);
      }
    }
  };
  for (const m of manifests(yamlText)) walk(m);
  return out;
}
