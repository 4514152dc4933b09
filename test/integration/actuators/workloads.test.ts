import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { DeploymentActuator } from '../../../src/actuators/workloads/deployments.js';
import { JobActuator } from '../../../src/actuators/workloads/jobs.js';
import { PREVIOUS_STATE_ANNOTATION, type JobTemplateInput } from '../../../src/actuators/types.js';
import type { KubeClient } from '../../../src/runtime/kube-client.js';
import { operatorClient } from '../../support/api-usage.js';
import { operatorIdentity } from '../../support/operator-identity.js';
import { killMidChange } from '../../support/kill-mid-change.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { RUN_LABEL, READY_LABEL, startPodRunner, type PodRunner } from '../../support/pod-runner.js';

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null)) as unknown;

describe('actuators/workloads Jobs and Deployments (real control plane)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: string;
  let runner: PodRunner;
  let jobs: JobActuator;
  let client: KubeClient;

  before(async () => {
    cluster = await useCluster();
    ns = await cluster.createNamespace('act-work');
    runner = startPodRunner(cluster.kc, { namespace: ns });
    // The operator's own ServiceAccount and RBAC (deploy/operator/rbac.yaml), requests recorded.
    client = (await operatorClient(cluster, ns, 'actuators/workloads')).client;
    jobs = new JobActuator(client);
  });
  after(async () => {
    await runner?.stop();
    client?.close();
    if (ns) {
      await (await operatorIdentity(cluster, ns)).cleanup();
      await cluster.deleteNamespace(ns);
    }
  });

  const template = (
    step: string,
    script: string,
    extra: Partial<JobTemplateInput> = {},
  ): JobTemplateInput => ({
    namespace: ns,
    ownerName: 'cutover-demo',
    step,
    image: 'cutover-operator:test',
    command: ['node', '-e', script],
    labels: { [RUN_LABEL]: 'true' },
    backoffLimit: 0,
    ...extra,
  });

  it('a Job created twice under the same step is one Job, and it completes', async () => {
    const t = template('delta-sync', "console.log('synced 42 rows')");
    const a = await jobs.ensureJob(t);
    const b = await jobs.ensureJob(t);
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(a.name, b.name);
    const batch = cluster.kc.makeApiClient(k8s.BatchV1Api);
    const list = await batch.listNamespacedJob({
      namespace: ns,
      labelSelector: 'cutover.nokta.io/step=delta-sync',
    });
    assert.equal(list.items.length, 1);
    const done = await jobs.waitForJob(ns, a.name, { timeoutMs: 60_000, pollMs: 250 });
    assert.equal(done.state, 'Succeeded');
    assert.equal(done.succeeded, 1);
    // A new attempt is a new Job.
    const retry = await jobs.ensureJob({ ...t, attempt: 1 });
    assert.notEqual(retry.name, a.name);
    assert.equal(retry.created, true);
  });

  it('a Job carries its owner reference; a Job of the same name owned by someone else is not adopted', async () => {
    const core = cluster.kc.makeApiClient(k8s.CoreV1Api);
    const owner = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'owner-a', namespace: ns } },
    });
    const other = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'owner-b', namespace: ns } },
    });
    const ref = (cm: k8s.V1ConfigMap) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: cm.metadata!.name!,
      uid: cm.metadata!.uid!,
    });
    // Never started: parallelism 0 keeps the Job from creating pods.
    const t = template('bulk-copy', "console.log('copied')", { owner: ref(owner), parallelism: 0 });
    const r = await jobs.ensureJob(t);
    assert.equal(r.job.metadata?.ownerReferences?.[0]?.uid, owner.metadata?.uid);
    assert.equal((await jobs.ensureJob(t)).created, false);
    await assert.rejects(jobs.ensureJob({ ...t, owner: ref(other) }), /not owned by ConfigMap\/owner-b/);
    assert.equal(await jobs.setParallelism(ns, r.name, 0), false);
    assert.equal(await jobs.setParallelism(ns, r.name, 1), true, 'the shards worked on at once can change');
    assert.equal(await jobs.setParallelism(ns, r.name, 0), true);
    assert.equal((await jobs.observeJob(ns, r.name)).state, 'Running');
    await jobs.deleteJob(ns, r.name);
    await jobs.deleteJob(ns, r.name);
  });

  it('a failed Job reports its reason and the failed pod exit code and message', async () => {
    const r = await jobs.ensureJob(
      template('replay', "console.error('replay failed: legacy is read-only'); process.exit(3)"),
    );
    const o = await jobs.waitForJob(ns, r.name, { timeoutMs: 60_000, pollMs: 250 });
    assert.equal(o.state, 'Failed');
    assert.equal(o.reason, 'BackoffLimitExceeded');
    assert.equal(o.podFailure?.exitCode, 3);
    assert.match(o.podFailure?.message ?? '', /legacy is read-only/);
  });

  it('an Indexed Job runs one pod per shard with the given parallelism', async () => {
    const r = await jobs.ensureJob(
      template('reconcile-shard', "console.log('shard', process.env.JOB_COMPLETION_INDEX)", {
        indexed: true,
        completions: 3,
        parallelism: 2,
      }),
    );
    assert.equal(r.job.spec?.completionMode, 'Indexed');
    const o = await jobs.waitForJob(ns, r.name, { timeoutMs: 90_000, pollMs: 250 });
    assert.equal(o.state, 'Succeeded');
    assert.equal(o.succeeded, 3);
    const outputs = [...runner.runs.values()]
      .filter((x) => x.name.startsWith(r.name))
      .map((x) => x.output.trim())
      .sort();
    assert.deepEqual(outputs, ['shard 0', 'shard 1', 'shard 2']);
  });

  it('scaling a Deployment: idempotent, finishes after a crash between its writes, restore brings the replicas back', async () => {
    const apps = cluster.kc.makeApiClient(k8s.AppsV1Api);
    const labels = { app: 'legacy-pos', [READY_LABEL]: 'true' };
    const created = await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'legacy-pos', namespace: ns },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'legacy-pos' } },
          template: {
            metadata: { labels },
            spec: {
              containers: [
                {
                  name: 'app',
                  image: 'legacy-pos:1',
                  command: ['node', '-e', 'setInterval(() => {}, 1000)'],
                },
              ],
            },
          },
        },
      },
    });
    const crashing = new DeploymentActuator(client, {
      onWrite: (step) => {
        if (step.endsWith('/record')) throw new Error('simulated operator crash');
      },
    });
    await assert.rejects(crashing.scaleDeployment(ns, 'legacy-pos', 0), /simulated operator crash/);
    let d = await apps.readNamespacedDeployment({ name: 'legacy-pos', namespace: ns });
    assert.equal(d.spec?.replicas, 3, 'crashed after the record, before the scale');
    assert.equal(d.metadata?.annotations?.[PREVIOUS_STATE_ANNOTATION], JSON.stringify({ replicas: 3 }));

    const deployments = new DeploymentActuator(client);
    const res = await deployments.scaleDeployment(ns, 'legacy-pos', 0);
    assert.deepEqual(res, { changed: true, previousReplicas: 3, replicas: 0 });
    d = await apps.readNamespacedDeployment({ name: 'legacy-pos', namespace: ns });
    assert.equal(d.spec?.replicas, 0);
    // The controllers keep writing status (resourceVersion moves), so "no second write" is checked
    // on the generation (spec writes) and the annotations (metadata writes).
    const generation = d.metadata?.generation;
    const annotations = plain(d.metadata?.annotations);
    const again = await deployments.scaleDeployment(ns, 'legacy-pos', 0);
    assert.equal(again.changed, false);
    const d2 = await apps.readNamespacedDeployment({ name: 'legacy-pos', namespace: ns });
    assert.equal(d2.metadata?.generation, generation);
    assert.deepEqual(plain(d2.metadata?.annotations), annotations);

    const restored = await deployments.restoreScale(ns, 'legacy-pos');
    assert.equal(restored?.replicas, 3);
    d = await apps.readNamespacedDeployment({ name: 'legacy-pos', namespace: ns });
    assert.deepEqual(plain(d.spec), plain(created.spec));
    assert.equal(d.metadata?.annotations?.[PREVIOUS_STATE_ANNOTATION], undefined);
    assert.equal(await deployments.restoreScale(ns, 'legacy-pos'), undefined, 'restoring twice is harmless');
  });

  it('scaling a Deployment in a process killed (SIGKILL) after the restore record: the next call finishes it, the record keeps the first replicas', async () => {
    const apps = cluster.kc.makeApiClient(k8s.AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'legacy-driver', namespace: ns },
        spec: {
          replicas: 4,
          selector: { matchLabels: { app: 'legacy-driver' } },
          template: {
            metadata: { labels: { app: 'legacy-driver', [READY_LABEL]: 'true' } },
            spec: {
              containers: [
                {
                  name: 'app',
                  image: 'legacy-driver:1',
                  command: ['node', '-e', 'setInterval(() => {}, 1000)'],
                },
              ],
            },
          },
        },
      },
    });
    const { kubeconfig } = await operatorIdentity(cluster, ns);
    await killMidChange(
      { kind: 'scale', namespace: ns, name: 'legacy-driver', replicas: 1, crashAt: 'record' },
      { KUBECONFIG: kubeconfig },
    );
    let d = await apps.readNamespacedDeployment({ name: 'legacy-driver', namespace: ns });
    assert.equal(d.spec?.replicas, 4, 'killed after the record, before the scale');
    assert.equal(d.metadata?.annotations?.[PREVIOUS_STATE_ANNOTATION], JSON.stringify({ replicas: 4 }));
    // Killed again, this time right after the scale itself.
    await killMidChange(
      { kind: 'scale', namespace: ns, name: 'legacy-driver', replicas: 1, crashAt: 'scale' },
      { KUBECONFIG: kubeconfig },
    );
    d = await apps.readNamespacedDeployment({ name: 'legacy-driver', namespace: ns });
    assert.equal(d.spec?.replicas, 1);
    const deployments = new DeploymentActuator(client);
    assert.deepEqual(await deployments.scaleDeployment(ns, 'legacy-driver', 1), {
      changed: false,
      previousReplicas: 4,
      replicas: 1,
    });
    assert.equal(
      (await deployments.restoreScale(ns, 'legacy-driver'))?.replicas,
      4,
      'the restore brings back the replicas before the first, killed change',
    );
  });
});
