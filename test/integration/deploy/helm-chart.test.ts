/**
 * deploy/helm/cutover-operator: helm lint, what helm template renders (one image value, RBAC read
 * from deploy/operator/rbac.yaml, PodDisruptionBudget, topology spread, metrics Service, optional
 * ServiceMonitor, namespaced mode, the minimum Kubernetes version), and the rendered chart applied
 * for real to the control plane: the API server accepts every object, the Pod Security
 * "restricted" namespace admits the operator's Pods, the ServiceAccount gets what the
 * ClusterRole grants and nothing more, and the operator running as that ServiceAccount (a local
 * process: no kubelet here) takes its Lease and runs a Reconciliation to Passed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { rbacDocs } from '../../support/operator-identity.js';
import { waitFor } from '../../../src/devenv/processes.js';
import { CHART, helm, renderChart, type Manifest } from './tools.js';
import { createMysqlDatabase, createPostgresDatabase } from '../../support/databases.js';
import { startOperator } from '../../support/operator-process.js';
import { generateNokta } from '../../../src/devenv/nokta-data/generator.js';

interface Container {
  name: string;
  image: string;
  env?: Array<{ name: string; value?: string }>;
  securityContext?: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  topologySpreadConstraints?: Array<{ topologyKey: string; labelSelector: unknown }>;
}

const find = (objects: Manifest[], kind: string, name?: string): Manifest | undefined =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

function podSpec(objects: Manifest[]): PodSpec {
  const d = find(objects, 'Deployment') as unknown as { spec: { template: { spec: PodSpec } } } | undefined;
  assert.ok(d, 'the chart renders a Deployment');
  return d.spec.template.spec;
}

const envOf = (c: Container, name: string): string | undefined => c.env?.find((e) => e.name === name)?.value;

function rulesIn(
  docs: Array<{ kind: string; metadata: { name: string } }>,
  kind: string,
  name: string,
): unknown {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name) as { rules?: unknown } | undefined;
  assert.ok(d, `${kind} ${name} is there`);
  return d.rules;
}

describe('deploy/helm/cutover-operator: the Helm chart', function () {
  this.timeout(180_000);

  it('passes helm lint --strict, with the default values and with every option on', async () => {
    for (const set of [
      [],
      [
        'watchNamespaces={nokta,shop}',
        'namespace.create=true',
        'metrics.serviceMonitor.enabled=true',
        'metrics.prometheusRule.enabled=true',
        'metrics.grafanaDashboard.enabled=true',
      ],
    ]) {
      const r = await helm(['lint', '--strict', CHART, ...set.flatMap((s) => ['--set', s])]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('uses one image value everywhere the image appears: the container and the Jobs it runs (CUTOVER_IMAGE)', async () => {
    // The chart's appVersion is the operator's version (package.json): the default tag.
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    assert.match(readFileSync(`${CHART}/Chart.yaml`, 'utf8'), new RegExp(`^appVersion: '${version}'$`, 'm'));
    const byDefault = podSpec((await renderChart('cutover-operator', 'cutover-system')).objects);
    assert.equal(byDefault.containers[0]!.image, `ghcr.io/nokta/cutover-operator:${version}`);
    assert.equal(
      envOf(byDefault.containers[0]!, 'CUTOVER_IMAGE'),
      `ghcr.io/nokta/cutover-operator:${version}`,
    );

    const tagged = await renderChart('cutover-operator', 'cutover-system', [
      'image.repository=registry.example.com/ops/cutover',
      'image.tag=1.2.3',
    ]);
    const spec = podSpec(tagged.objects);
    assert.deepEqual(
      spec.containers.map((c) => c.image),
      ['registry.example.com/ops/cutover:1.2.3'],
    );
    assert.equal(envOf(spec.containers[0]!, 'CUTOVER_IMAGE'), 'registry.example.com/ops/cutover:1.2.3');
    assert.doesNotMatch(tagged.text, /ghcr\.io/, 'no image is named anywhere else');

    const digest = `sha256:${'a'.repeat(64)}`;
    const pinned = podSpec(
      (await renderChart('cutover-operator', 'cutover-system', [`image.digest=${digest}`])).objects,
    );
    assert.equal(pinned.containers[0]!.image, `ghcr.io/nokta/cutover-operator@${digest}`);
    assert.equal(envOf(pinned.containers[0]!, 'CUTOVER_IMAGE'), `ghcr.io/nokta/cutover-operator@${digest}`);
  });

  it('grants exactly the rules of deploy/operator/rbac.yaml (the one source of the operator RBAC)', async () => {
    const { objects } = await renderChart('cutover-operator', 'cutover-system');
    const source = rbacDocs();
    assert.deepEqual(
      rulesIn(objects, 'ClusterRole', 'cutover-operator'),
      rulesIn(source, 'ClusterRole', 'cutover-operator'),
    );
    assert.deepEqual(
      rulesIn(objects, 'Role', 'cutover-operator-leader-election'),
      rulesIn(source, 'Role', 'cutover-operator-leader-election'),
    );
    assert.deepEqual(
      rulesIn(objects, 'ClusterRole', 'cutover-reconciliation-shard'),
      rulesIn(source, 'ClusterRole', 'cutover-reconciliation-shard'),
    );
    const roles = objects
      .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
      .map((o) => o.metadata.name);
    assert.deepEqual(roles.sort(), [
      'cutover-operator',
      'cutover-operator-leader-election',
      'cutover-reconciliation-shard',
    ]);
  });

  it('renders a PodDisruptionBudget, topology spread, a metrics Service, and a ServiceMonitor only when asked', async () => {
    const { objects } = await renderChart('cutover-operator', 'cutover-system');
    const pdb = find(objects, 'PodDisruptionBudget') as unknown as
      { spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } } | undefined;
    assert.ok(pdb);
    assert.equal(pdb.spec.maxUnavailable, 1);
    const spec = podSpec(objects);
    assert.deepEqual(
      spec.topologySpreadConstraints?.map((t) => t.topologyKey),
      ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'],
    );
    for (const t of spec.topologySpreadConstraints ?? [])
      assert.deepEqual(t.labelSelector, { matchLabels: pdb.spec.selector.matchLabels });
    const svc = find(objects, 'Service', 'cutover-operator-metrics') as unknown as
      | { spec: { ports: Array<{ name: string; port: number }>; selector: Record<string, string> } }
      | undefined;
    assert.ok(svc);
    assert.deepEqual(svc.spec.selector, pdb.spec.selector.matchLabels);
    assert.deepEqual(
      svc.spec.ports.map((p) => [p.name, p.port]),
      [['metrics', 8080]],
    );
    assert.equal(find(objects, 'ServiceMonitor'), undefined);

    const withMonitor = await renderChart('cutover-operator', 'cutover-system', [
      'metrics.serviceMonitor.enabled=true',
      'metrics.serviceMonitor.labels.release=prom',
    ]);
    const sm = find(withMonitor.objects, 'ServiceMonitor') as unknown as
      | {
          metadata: { labels: Record<string, string> };
          spec: {
            selector: { matchLabels: Record<string, string> };
            endpoints: Array<{ port: string; honorLabels?: boolean }>;
          };
        }
      | undefined;
    assert.ok(sm);
    assert.equal(sm.metadata.labels.release, 'prom');
    assert.deepEqual(sm.spec.selector.matchLabels, pdb.spec.selector.matchLabels);
    assert.deepEqual(
      sm.spec.endpoints.map((e) => [e.port, e.honorLabels]),
      [['metrics', true]],
    );
    await assert.rejects(
      renderChart('cutover-operator', 'cutover-system', [
        'metrics.serviceMonitor.enabled=true',
        'metrics.service.enabled=false',
      ]),
      /metrics.serviceMonitor.enabled needs metrics.service.enabled/,
    );
  });

  it('ships the PrometheusRule and the Grafana dashboard of deploy/observability when asked, unchanged', async () => {
    const none = await renderChart('cutover-operator', 'cutover-system');
    assert.equal(find(none.objects, 'PrometheusRule'), undefined);
    assert.equal(find(none.objects, 'ConfigMap'), undefined);
    const { objects } = await renderChart('cutover-operator', 'cutover-system', [
      'metrics.prometheusRule.enabled=true',
      'metrics.prometheusRule.labels.release=prom',
      'metrics.grafanaDashboard.enabled=true',
      'metrics.grafanaDashboard.namespace=monitoring',
    ]);
    const rule = find(objects, 'PrometheusRule') as unknown as
      { metadata: { labels: Record<string, string> }; spec: unknown } | undefined;
    assert.ok(rule);
    assert.equal(rule.metadata.labels.release, 'prom');
    const source = parse(readFileSync('deploy/observability/prometheusrule.yaml', 'utf8')) as {
      spec: unknown;
    };
    assert.deepEqual(rule.spec, source.spec);
    const cm = find(objects, 'ConfigMap', 'cutover-operator-dashboard') as unknown as
      | { metadata: { namespace: string; labels: Record<string, string> }; data: Record<string, string> }
      | undefined;
    assert.ok(cm);
    assert.equal(cm.metadata.namespace, 'monitoring');
    assert.equal(cm.metadata.labels.grafana_dashboard, '1');
    assert.equal(
      cm.data['cutover-operator.json'],
      readFileSync('deploy/observability/grafana-dashboard.json', 'utf8'),
    );
  });

  it('watchNamespaces: RoleBindings in each watched namespace and its own, no ClusterRoleBinding, CUTOVER_NAMESPACES set', async () => {
    const { objects } = await renderChart('cutover-operator', 'ops', ['watchNamespaces={nokta,shop}']);
    assert.equal(find(objects, 'ClusterRoleBinding'), undefined);
    const bindings = objects
      .filter((o) => o.kind === 'RoleBinding')
      .map((o) => {
        const ref = (o as unknown as { roleRef: { kind: string; name: string } }).roleRef;
        return `${o.metadata.namespace}/${o.metadata.name} -> ${ref.kind}/${ref.name}`;
      })
      .sort();
    assert.deepEqual(bindings, [
      'nokta/cutover-operator -> ClusterRole/cutover-operator',
      'ops/cutover-operator -> ClusterRole/cutover-operator',
      'ops/cutover-operator-leader-election -> Role/cutover-operator-leader-election',
      'shop/cutover-operator -> ClusterRole/cutover-operator',
    ]);
    assert.equal(envOf(podSpec(objects).containers[0]!, 'CUTOVER_NAMESPACES'), 'nokta,shop');

    const all = await renderChart('cutover-operator', 'ops');
    assert.ok(find(all.objects, 'ClusterRoleBinding', 'cutover-operator'));
    assert.equal(envOf(podSpec(all.objects).containers[0]!, 'CUTOVER_NAMESPACES'), undefined);
  });

  it('refuses Kubernetes older than 1.28 (CRD validation rules with reason and fieldPath)', async () => {
    await assert.rejects(
      renderChart('cutover-operator', 'cutover-system', [], ['--kube-version', '1.27.9']),
      /chart requires kubeVersion: >=1\.28\.0-0 which is incompatible with Kubernetes v1\.27\.9/,
    );
    await renderChart('cutover-operator', 'cutover-system', [], ['--kube-version', '1.28.0']);
  });

  describe('applied to the control plane', () => {
    let cluster: TestCluster;
    const release = `cutover-helm-${randomBytes(3).toString('hex')}`;
    const ns = release;

    before(async () => {
      cluster = await useCluster();
    });

    after(async () => {
      if (!cluster) return;
      await cluster.kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
      await cluster.kubectl([
        'delete',
        `clusterrole/${release}`,
        `clusterrolebinding/${release}`,
        '--ignore-not-found',
      ]);
    });

    it('is accepted server-side; the restricted namespace admits its Pods; the ServiceAccount can do what the ClusterRole grants only', async () => {
      const { text, objects } = await renderChart(release, ns, ['namespace.create=true'], ['--include-crds']);
      assert.deepEqual(
        objects
          .filter((o) => o.kind === 'CustomResourceDefinition')
          .map((o) => o.metadata.name)
          .sort(),
        ['canaryphases.cutover.nokta.io', 'cutovers.cutover.nokta.io', 'reconciliations.cutover.nokta.io'],
      );
      const applied = await cluster.kubectl(
        ['apply', '--server-side', '--force-conflicts', '--field-manager=cutover-helm-test', '-f', '-'],
        { input: text },
      );
      assert.equal(applied.code, 0, applied.stderr);
      for (const o of objects)
        if (o.kind !== 'CustomResourceDefinition')
          assert.match(
            applied.stdout,
            new RegExp(`${o.kind.toLowerCase()}[./].*${o.metadata.name} serverside-applied`, 'i'),
          );

      const nsLabels = JSON.parse(
        (await cluster.kubectl(['get', 'namespace', ns, '-o', 'jsonpath={.metadata.labels}'])).stdout,
      ) as Record<string, string>;
      assert.equal(nsLabels['pod-security.kubernetes.io/enforce'], 'restricted');

      // No kubelet runs them, but the ReplicaSet controller creates them: admission (Pod Security
      // "restricted" included) has accepted the operator's Pod spec.
      await waitFor(
        `two operator Pods created in ${ns}`,
        async () => {
          const pods = await cluster.kubectl([
            '-n',
            ns,
            'get',
            'pods',
            '-l',
            `app.kubernetes.io/instance=${release}`,
            '-o',
            'name',
          ]);
          if (pods.stdout.trim().split('\n').filter(Boolean).length === 2) return true;
          const events = await cluster.kubectl([
            '-n',
            ns,
            'get',
            'events',
            '--field-selector',
            'reason=FailedCreate',
          ]);
          assert.doesNotMatch(events.stdout, /FailedCreate/, events.stdout);
          return undefined;
        },
        90_000,
        500,
      );

      // ...and enforces it: a Pod that may escalate privileges is refused there.
      const bad = await cluster.kubectl(['-n', ns, 'apply', '--dry-run=server', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'not-restricted' },
          spec: { containers: [{ name: 'c', image: 'busybox' }] },
        }),
      });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /violates PodSecurity "restricted:latest"/);

      const as = `system:serviceaccount:${ns}:cutover-operator`;
      const can = async (...args: string[]): Promise<string> =>
        (await cluster.kubectl(['auth', 'can-i', '--as', as, ...args])).stdout.trim();
      assert.equal(await can('watch', 'reconciliations.cutover.nokta.io', '-A'), 'yes');
      assert.equal(await can('create', 'jobs.batch', '-n', 'default'), 'yes');
      assert.equal(await can('update', 'leases.coordination.k8s.io', '-n', ns), 'yes');
      assert.equal(await can('update', 'leases.coordination.k8s.io', '-n', 'default'), 'no');
      assert.equal(await can('list', 'secrets', '-A'), 'no');
      assert.equal(await can('update', 'reconciliations.cutover.nokta.io', '-n', 'default'), 'no');
    });

    it("runs a Reconciliation to Passed as the chart's ServiceAccount, leader election included", async () => {
      const legacy = await createMysqlDatabase('helm-rbac');
      const target = await createPostgresDatabase('helm-rbac');
      const work = await cluster.createNamespace('helm-rbac');
      const operatorKubeconfig = await cluster.restrictedKubeconfig(ns, 'cutover-operator');
      const operator = startOperator([
        '--kubeconfig',
        operatorKubeconfig,
        '--namespaces',
        work,
        '--leader-election-namespace',
        ns,
        '--leader-election-id',
        release,
      ]);
      try {
        await generateNokta(legacy.url, target.url, { scale: 2000, tenants: 3, seed: 'helm-rbac' });
        for (const [name, url] of [
          ['nokta-legacy-db', legacy.url],
          ['nokta-new-db', target.url],
        ] as const) {
          const r = await cluster.kubectl([
            '-n',
            work,
            'create',
            'secret',
            'generic',
            name,
            `--from-literal=url=${url}`,
          ]);
          assert.equal(r.code, 0, r.stderr);
        }
        // The sample's customers Reconciliation, without its nightly schedule: it runs once, now.
        const recon = parse(readFileSync('samples/reconciliation-customers.yaml', 'utf8')) as {
          metadata: { namespace: string };
          spec: { schedule?: unknown };
        };
        recon.metadata.namespace = work;
        delete recon.spec.schedule;
        const applied = await cluster.kubectl(['apply', '--server-side', '-f', '-'], {
          input: JSON.stringify(recon),
        });
        assert.equal(applied.code, 0, applied.stderr);
        await waitFor(
          'customers Passed',
          async () => {
            const r = await cluster.kubectl([
              '-n',
              work,
              'get',
              'recon',
              'customers',
              '-o',
              'jsonpath={.status.phase}',
            ]);
            if (r.stdout === 'Error' || r.stdout === 'Failed')
              throw new Error(`${r.stdout}\n${operator.output().slice(-4000)}`);
            return r.stdout === 'Passed' ? true : undefined;
          },
          180_000,
          500,
        );
        const lease = await cluster.kubectl([
          '-n',
          ns,
          'get',
          'lease',
          release,
          '-o',
          'jsonpath={.spec.holderIdentity}',
        ]);
        assert.equal(lease.code, 0, lease.stderr);
        assert.notEqual(lease.stdout, '');
        assert.doesNotMatch(operator.output(), /forbidden/i);
      } finally {
        await operator.stop();
        await cluster.deleteNamespace(work);
        await legacy.drop();
        await target.drop();
      }
    });
  });
});
