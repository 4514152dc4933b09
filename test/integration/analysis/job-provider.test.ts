/**
 * The Job provider against the real control plane (as the operator's ServiceAccount): the Job
 * controller runs the Job, the pod runner runs its container command as a local process.
 */
import assert from 'node:assert/strict';
import { JobProvider, type JobMetric } from '../../../src/analysis/job.js';
import { isPending, type MeasureOutcome } from '../../../src/analysis/types.js';
import type { KubeClient } from '../../../src/runtime/kube-client.js';
import { JOB } from '../../../src/runtime/resources.js';
import { operatorClient } from '../../support/api-usage.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { operatorIdentity } from '../../support/operator-identity.js';
import { RUN_LABEL, startPodRunner, type PodRunner } from '../../support/pod-runner.js';

describe('analysis Job provider (real Job controller, pods run locally)', function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let ns: string;
  let client: KubeClient;
  let runner: PodRunner;

  before(async () => {
    cluster = await useCluster();
    ns = await cluster.createNamespace('analysis-job');
    runner = startPodRunner(cluster.kc, { namespace: ns });
    client = (await operatorClient(cluster, ns, 'analysis/job')).client;
  });
  after(async () => {
    await runner?.stop();
    client?.close();
    if (ns) {
      await (await operatorIdentity(cluster, ns)).cleanup();
      await cluster.deleteNamespace(ns);
    }
  });

  const metric = (name: string, script: string): JobMetric => ({
    name,
    template: {
      namespace: ns,
      ownerName: 'canary-a',
      image: 'cutover-operator:test',
      command: ['node', '-e', script],
      labels: { [RUN_LABEL]: 'true' },
      backoffLimit: 0,
    },
  });
  async function until(
    p: JobProvider,
    m: JobMetric,
    id: string,
  ): Promise<{ first: MeasureOutcome; last: MeasureOutcome }> {
    const first = await p.measure(m, { now: new Date(), measurementId: id });
    let last = first;
    for (let i = 0; i < 600 && isPending(last); i++) {
      await new Promise((r) => setTimeout(r, 200));
      last = await p.measure(m, { now: new Date(), measurementId: id });
    }
    return { first, last };
  }

  it('a Job that succeeds is a Successful measurement; measuring again under the same id adopts the Job, never runs it twice', async () => {
    const p = new JobProvider(client);
    const m = metric('journey-ok', "console.log('order journey ok')");
    const { first, last } = await until(p, m, '1');
    assert.ok(isPending(first), 'a Job just started is Pending');
    assert.ok(!isPending(last));
    assert.equal(last.result, 'Successful');
    assert.equal(last.value, 1);
    const jobs = (
      await client.list(JOB, { namespace: ns, labelSelector: 'cutover.nokta.io/analysis-metric=journey-ok' })
    ).items;
    assert.equal(jobs.length, 1, 'one Job for the measurement, whatever the number of calls');
    const next = await p.measure(m, { now: new Date(), measurementId: '2' });
    assert.ok(isPending(next), 'the next measurement runs a new Job');
  });

  it("a Job that fails is a Failed measurement with the pod's exit code and message", async () => {
    const p = new JobProvider(client);
    const m = metric('journey-bad', "console.error('driver app: order not delivered'); process.exit(3)");
    const { last } = await until(p, m, '1');
    assert.ok(!isPending(last));
    assert.equal(last.result, 'Failed');
    assert.equal(last.value, 0);
    assert.match(last.reason, /failed: pod .*exit code 3/);
  });
});
