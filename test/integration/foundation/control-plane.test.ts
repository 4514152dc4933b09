/**
 * Foundation smoke tests: the local control plane serves the API, runs controllers (Jobs really
 * complete through the test pod runner), enforces RBAC, and the custom-resource machinery works
 * end to end with @kubernetes/client-node.
 */
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { startPodRunner, RUN_LABEL, type PodRunner } from '../../support/pod-runner.js';
import { waitFor as waitForProbe } from '../../../src/devenv/processes.js';

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  waitForProbe(what, probe, timeoutMs);

const smokeCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'gadgets.smoke.cutover.nokta.io' },
  spec: {
    group: 'smoke.cutover.nokta.io',
    scope: 'Namespaced',
    names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                properties: { size: { type: 'integer', minimum: 0 } },
                required: ['size'],
              },
              status: { type: 'object', properties: { seen: { type: 'integer' } } },
            },
          },
        },
      },
    ],
  },
};

describe('foundation: local Kubernetes control plane', function () {
  let cluster: TestCluster;
  let ns: string;
  let runner: PodRunner;

  before(async function () {
    cluster = await useCluster();
    ns = await cluster.createNamespace('smoke');
    runner = startPodRunner(cluster.kc, { namespace: ns });
  });

  after(async function () {
    await runner?.stop();
    await cluster?.deleteNamespace(ns);
  });

  it('serves the API with kubectl and reports its version', async function () {
    const r = await cluster.kubectl(['version', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout) as { serverVersion: { gitVersion: string } };
    assert.match(v.serverVersion.gitVersion, /^v1\.3[3-9]\./);
  });

  it('applies a CRD, then creates, watches, updates status of and deletes a custom resource', async function () {
    const applied = await cluster.kubectl(['apply', '--server-side', '-f', '-'], {
      input: stringify(smokeCrd),
    });
    assert.equal(applied.code, 0, applied.stderr);
    const est = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/gadgets.smoke.cutover.nokta.io',
    ]);
    assert.equal(est.code, 0, est.stderr);

    const api = cluster.kc.makeApiClient(k8s.CustomObjectsApi);
    const group = 'smoke.cutover.nokta.io';
    // Established can come a moment before the new REST endpoint serves: wait for a list.
    await waitFor('gadgets endpoint', async () => {
      await api.listNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural: 'gadgets' });
      return true;
    });
    const events: string[] = [];
    let watchError: unknown;
    const watch = new k8s.Watch(cluster.kc);
    const req = await watch.watch(
      `/apis/${group}/v1/namespaces/${ns}/gadgets`,
      {},
      (type: string, obj: { metadata?: { name?: string } }) => events.push(`${type}:${obj.metadata?.name}`),
      (err: unknown) => {
        watchError = err;
      },
    );
    try {
      await api.createNamespacedCustomObject({
        group,
        version: 'v1',
        namespace: ns,
        plural: 'gadgets',
        body: { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name: 'g1' }, spec: { size: 3 } },
      });
      // Schema validation is enforced by the API server.
      await assert.rejects(
        api.createNamespacedCustomObject({
          group,
          version: 'v1',
          namespace: ns,
          plural: 'gadgets',
          body: { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name: 'bad' }, spec: { size: -1 } },
        }),
        (e: unknown) => (e as { code?: number }).code === 422,
      );
      await api.patchNamespacedCustomObjectStatus(
        { group, version: 'v1', namespace: ns, plural: 'gadgets', name: 'g1', body: { status: { seen: 7 } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const got = (await api.getNamespacedCustomObject({
        group,
        version: 'v1',
        namespace: ns,
        plural: 'gadgets',
        name: 'g1',
      })) as { status?: { seen?: number }; metadata: { generation: number } };
      assert.equal(got.status?.seen, 7);
      assert.equal(got.metadata.generation, 1, 'a status write must not bump the generation');
      await api.deleteNamespacedCustomObject({
        group,
        version: 'v1',
        namespace: ns,
        plural: 'gadgets',
        name: 'g1',
      });
      await waitFor(
        'ADDED, MODIFIED and DELETED events',
        async () =>
          ['ADDED:g1', 'MODIFIED:g1', 'DELETED:g1'].every((e) => events.includes(e)) ? true : undefined,
        15_000,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}; events: ${events.join(' ')}; watch ended with: ${String(watchError)}`);
      });
    } finally {
      req.abort();
    }
  });

  it('runs a Job to completion: the Job controller sees the pod the test runner ran succeed', async function () {
    const batch = cluster.kc.makeApiClient(k8s.BatchV1Api);
    await batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: 'hello' },
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { labels: { [RUN_LABEL]: 'true' } },
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'main',
                  image: 'cutover-operator:dev',
                  command: ['node', '-e', 'console.log("hello from " + process.env.GREETING)'],
                  env: [{ name: 'GREETING', value: 'the job' }],
                },
              ],
            },
          },
        },
      },
    });
    const done = await waitFor('Job Complete', async () => {
      const j = await batch.readNamespacedJob({ name: 'hello', namespace: ns });
      return j.status?.conditions?.find((c) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
    });
    assert.equal(done.status?.succeeded, 1);
    const run = [...runner.runs.values()].find((r) => r.name.startsWith('hello-'));
    assert.ok(run, 'the pod runner ran the Job pod');
    assert.match(run.output, /hello from the job/);
  });

  it('fails a Job whose pod exits non-zero, with the reason on the Job', async function () {
    const batch = cluster.kc.makeApiClient(k8s.BatchV1Api);
    await batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: 'broken' },
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { labels: { [RUN_LABEL]: 'true' } },
            spec: {
              restartPolicy: 'Never',
              containers: [{ name: 'main', image: 'x', command: ['node', '-e', 'process.exit(3)'] }],
            },
          },
        },
      },
    });
    const failed = await waitFor('Job Failed', async () => {
      const j = await batch.readNamespacedJob({ name: 'broken', namespace: ns });
      return j.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
    });
    assert.equal(failed.reason, 'BackoffLimitExceeded');
  });

  it('denies a restricted ServiceAccount what its Role does not grant', async function () {
    const rbac = cluster.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'configmap-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    });
    const kubeconfig = await cluster.restrictedKubeconfig(ns, 'reader');
    const allowed = await cluster.kubectl(['get', 'configmaps', '-n', ns], { kubeconfig });
    assert.equal(allowed.code, 0, allowed.stderr);
    const denied = await cluster.kubectl(['get', 'secrets', '-n', ns], { kubeconfig });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /forbidden/i);
    assert.match(denied.stderr, new RegExp(`system:serviceaccount:${ns}:reader`));
    const write = await cluster.kubectl(['create', 'configmap', 'x', '-n', ns], { kubeconfig });
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /forbidden/i);
  });
});
