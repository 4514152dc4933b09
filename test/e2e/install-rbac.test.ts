/**
 * End to end: the operator installed the way a user installs it, then run under exactly the RBAC
 * that install created. Two installs:
 *  - the Helm chart, rendered with `helm template --include-crds` (a release of its own, watching
 *    one namespace: the chart's RoleBindings), applied with `kubectl apply --server-side`;
 *  - the kustomize base deploy/operator, built by `kubectl kustomize` through an overlay that only
 *    moves it into a namespace of this test and suffixes its cluster-scoped names (so it never
 *    touches another install), applied with `kubectl apply --server-side -k`: the ClusterRoleBinding.
 * In each, the operator process runs with the installed Deployment's args and environment (its
 * fieldRefs resolved as the kubelet would) and a token of the installed ServiceAccount, leader
 * election on (the installed Lease Role); a Cutover applied with kubectl switches its traffic and
 * flags, then `kubectl cutover rollback --reason` rolls it back: route and flag on legacy again.
 * Any request the API server refuses (403, counted by the operator's own
 * cutover_api_requests_total) fails the test.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import type { CutoverStatus } from '../../src/api/index.js';
import { RedisFlagStore } from '../../src/actuators/flags/redis-flags.js';
import { repoRoot } from '../../src/devenv/devenv-state.js';
import { useCluster, type TestCluster } from '../support/cluster.js';
import { followOperator } from '../support/api-usage.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import { manifests, renderChart, type Manifest } from '../integration/deploy/tools.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface DeploymentDoc extends Manifest {
  spec: {
    template: {
      spec: {
        serviceAccountName: string;
        containers: { name: string; args?: string[]; env?: EnvVar[] }[];
      };
    };
  };
}

describe('e2e: the operator under the RBAC of its Helm chart and of its kustomize base', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let redis: Redis;
  const operators: OperatorProcess[] = [];
  const namespaces: string[] = [];
  const clusterScoped: string[][] = [];
  const dirs: string[] = [];
  const prefix = `devops-install-${randomBytes(4).toString('hex')}:`;

  before(async () => {
    cluster = await useCluster();
    await cluster.applyGatewayApiCrds();
    redis = new Redis('redis://127.0.0.1:6379/0');
  });

  after(async () => {
    for (const op of operators) await op.stop();
    for (const [kind, name] of clusterScoped)
      await cluster.kubectl(['delete', kind!, name!, '--ignore-not-found', '--wait=false']);
    for (const ns of namespaces) await cluster.deleteNamespace(ns);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });

  const kubectlOk = async (args: string[], input?: string, op?: OperatorProcess): Promise<string> => {
    const r = await cluster.kubectl(args, input === undefined ? {} : { input });
    assert.equal(
      r.code,
      0,
      `kubectl ${args.join(' ')}: ${r.stderr}\noperator log:\n${op?.output().slice(-3000) ?? ''}`,
    );
    return r.stdout;
  };

  /** Applies an install's objects server-side; returns its Deployment and notes its cluster-scoped objects. */
  const install = async (text: string, applyArgs: string[]): Promise<DeploymentDoc> => {
    await kubectlOk(
      ['apply', '--server-side', '--force-conflicts', '--field-manager=devops-install', ...applyArgs],
      applyArgs.includes('-') ? text : undefined,
    );
    const docs = manifests(text);
    for (const d of docs)
      if (
        ['ClusterRole', 'ClusterRoleBinding'].includes(d.kind) &&
        d.metadata.name !== 'cutover-reconciliation-shard'
      )
        clusterScoped.push([d.kind.toLowerCase(), d.metadata.name]);
    await kubectlOk([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/cutovers.cutover.nokta.io',
    ]);
    const dep = docs.find((d) => d.kind === 'Deployment') as DeploymentDoc | undefined;
    assert.ok(dep, 'the install has a Deployment');
    return dep;
  };

  /** The operator process with the Deployment's args and env, authenticated as its ServiceAccount. */
  const runAsInstalled = async (dep: DeploymentDoc, component: string): Promise<OperatorProcess> => {
    const ns = dep.metadata.namespace!;
    const pod = dep.spec.template.spec;
    const c = pod.containers[0]!;
    assert.equal(c.args?.[0], 'operator');
    const env: Record<string, string> = {};
    const podName = `${dep.metadata.name}-test-0`;
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      const path = e.valueFrom?.fieldRef?.fieldPath;
      if (path === 'metadata.namespace') env[e.name] = ns;
      else if (path === 'metadata.name') env[e.name] = podName;
    }
    const kubeconfig = await cluster.restrictedKubeconfig(ns, pod.serviceAccountName);
    const op = startOperator(['--kubeconfig', kubeconfig, ...(c.args ?? []).slice(1)], env);
    operators.push(op);
    followOperator(component, op);
    return op;
  };

  const forbidden = async (op: OperatorProcess): Promise<string[]> => {
    const port = op.port();
    assert.ok(port, `the operator reported its port: ${op.output().slice(-2000)}`);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return [...text.matchAll(/^cutover_api_requests_total\{[^}]*code="403"[^}]*\} (\d+)/gm)].map((m) => m[0]);
  };

  /** Routes, flags and a Cutover in `ns`; switch, then `kubectl cutover rollback`; no 403. */
  const cutoverThroughSwitchAndRollback = async (ns: string, op: OperatorProcess): Promise<void> => {
    const keyPrefix = `${prefix}${ns}:`;
    const now = new Date(Date.now() + 2000).toISOString().replace(/\.\d+Z$/, 'Z');
    const objects = [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'flags-redis', namespace: ns },
        stringData: { url: 'redis://127.0.0.1:6379/0' },
      },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'pos', namespace: ns },
        spec: {
          parentRefs: [{ name: 'public-gw' }],
          rules: [{ backendRefs: [{ name: 'pos-legacy', port: 8080 }] }],
        },
      },
      {
        apiVersion: 'cutover.nokta.io/v1alpha1',
        kind: 'Cutover',
        metadata: { name: 'night', namespace: ns },
        spec: {
          services: [
            {
              name: 'pos',
              flagKey: 'pos.new-stack',
              traffic: {
                httpRoute: {
                  name: 'pos',
                  legacyBackend: { name: 'pos-legacy', port: 8080 },
                  newBackend: { name: 'pos-v2', port: 8080 },
                },
              },
              legacy: { name: 'pos-legacy' },
              new: { name: 'pos-v2' },
            },
          ],
          databases: {
            legacy: { engine: 'mysql', secretRef: { name: 'legacy-admin' } },
            target: { engine: 'postgres', secretRef: { name: 'new-db' } },
          },
          flagProvider: { type: 'Redis', redis: { secretRef: { name: 'flags-redis' }, keyPrefix } },
          timeline: {
            startAt: now,
            steps: [
              { name: 'switch', action: 'TrafficSwitch', offset: '+0s' },
              { name: 'flags', action: 'EnableFlags', offset: '+0s' },
              { name: 'watch', action: 'Monitor', offset: '+0s', duration: '10h' },
            ],
          },
          rollback: {
            triggers: { securityFlag: {} },
            order: ['TrafficBack', 'FlagsOff', 'Notify'],
            keepLegacyHotFor: '8m',
          },
          postCutover: { steadyStateAfter: '1m' },
        },
      },
    ];
    await kubectlOk(
      ['apply', '--server-side', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
      op,
    );
    await kubectlOk(
      ['-n', ns, 'wait', 'cutover/night', '--for=jsonpath={.status.phase}=Monitoring', '--timeout=120s'],
      undefined,
      op,
    );

    const weights = async (): Promise<Record<string, number>> => {
      const r = JSON.parse(await kubectlOk(['-n', ns, 'get', 'httproute', 'pos', '-o', 'json'])) as {
        spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] };
      };
      return Object.fromEntries(r.spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight ?? 1]));
    };
    const flags = new RedisFlagStore(redis, keyPrefix);
    const flagOn = async (): Promise<boolean | undefined> =>
      (await flags.read('pos', 'pos-new-stack')).defaultState?.enabled;
    assert.deepEqual(await weights(), { 'pos-legacy': 0, 'pos-v2': 100 }, 'switched to the new stack');
    assert.equal(await flagOn(), true, 'the flag is on');

    // The user's rollback: the kubectl plugin.
    const rb = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        process.execPath,
        [
          join(repoRoot(), 'dist', 'src', 'plugin', 'main.js'),
          'rollback',
          'night',
          '-n',
          ns,
          '--reason',
          'install e2e',
          '--kubeconfig',
          cluster.kubeconfigPath,
        ],
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      ),
    );
    assert.equal(rb.code, 0, rb.out);
    await kubectlOk(
      ['-n', ns, 'wait', 'cutover/night', '--for=jsonpath={.status.phase}=RolledBack', '--timeout=120s'],
      undefined,
      op,
    );
    const st = (
      JSON.parse(await kubectlOk(['-n', ns, 'get', 'cutover', 'night', '-o', 'json'])) as {
        status: CutoverStatus;
      }
    ).status;
    assert.deepEqual(await weights(), { 'pos-legacy': 100, 'pos-v2': 0 }, 'traffic back on legacy');
    assert.equal(await flagOn(), false, 'the flag is off again');
    assert.match(JSON.stringify(st.rollback), /install e2e/);
    assert.deepEqual(await forbidden(op), [], 'no request refused by the installed RBAC');
  };

  it('Helm chart (helm template, watching one namespace): a Cutover switched and rolled back, nothing forbidden', async () => {
    const release = `devops-helm-${randomBytes(3).toString('hex')}`;
    const home = await cluster.createNamespace('devops-install-helm');
    const watched = await cluster.createNamespace('devops-install-helm-app');
    namespaces.push(home, watched);
    const { text } = await renderChart(release, home, [`watchNamespaces={${watched}}`], ['--include-crds']);
    const dep = await install(text, ['-f', '-']);
    assert.equal(dep.metadata.namespace, home);
    const op = await runAsInstalled(dep, 'e2e/install-helm');
    await cutoverThroughSwitchAndRollback(watched, op);
    // The leader-election Lease in the release namespace, through the chart's Role.
    const lease = await kubectlOk(['-n', home, 'get', 'lease', '-o', 'name']);
    assert.match(lease, /lease/);
  });

  it('kustomize base (kubectl apply -k, cluster-wide binding): a Cutover switched and rolled back, nothing forbidden', async () => {
    const suffix = `-${randomBytes(3).toString('hex')}`;
    const home = await cluster.createNamespace('devops-install-kust');
    const app = await cluster.createNamespace('devops-install-kust-app');
    namespaces.push(home, app);
    const dir = mkdtempSync(join(repoRoot(), '.cache', 'devops-install-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        namespace: home,
        nameSuffix: suffix,
        resources: [relative(dir, join(repoRoot(), 'deploy', 'operator'))],
        // The base's Namespace object is this test's namespace (created above).
        patches: [
          {
            target: { kind: 'Namespace' },
            patch: '$patch: delete\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n',
          },
        ],
      }),
    );
    const text = await kubectlOk(['kustomize', dir]);
    // The base has no CRDs (the overlays add them): applied first, as its kustomization says.
    await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', join(repoRoot(), 'crds')]);
    const dep = await install(text, ['-k', dir]);
    assert.equal(dep.metadata.namespace, home);
    assert.ok(
      manifests(text).some((d) => d.kind === 'ClusterRoleBinding'),
      'the base binds cluster-wide',
    );
    const op = await runAsInstalled(dep, 'e2e/install-kustomize');
    await cutoverThroughSwitchAndRollback(app, op);
  });
});
