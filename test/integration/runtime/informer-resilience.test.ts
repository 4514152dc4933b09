/**
 * The informer against the real kube-apiserver: it keeps delivering after the API server is
 * stopped and started again, and after etcd compaction made its resourceVersion too old.
 */
import { strict as assert } from 'node:assert';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { Informer, kubeTransport } from '../../../src/runtime/informer.js';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.js';
import { LiteKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { WIDGET_RESOURCE } from '../../support/widget-controller.js';
import { applyWidgetCrd, waitFor } from './support.js';

const CM = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };

describe('runtime/informer against kube-apiserver', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: string;
  let client: KubeClient;
  let informer: Informer | undefined;
  const seen: string[] = [];

  before(async function () {
    cluster = await useCluster();
    // Restarting kube-apiserver and compacting etcd need the local control plane: with an
    // external cluster (KUBECONFIG set) these tests cannot stop its API server, so they skip.
    if (!cluster.controlPlane) this.skip(); // skipped only on an external cluster: its API server cannot be restarted here
    await applyWidgetCrd(cluster);
    ns = await cluster.createNamespace('rt-informer');
    // The operator's own kubeconfig loader and watch transport (not client-node's).
    client = new KubeClient(LiteKubeConfig.fromFile(cluster.kubeconfigPath));
  });

  after(async () => {
    await informer?.stop();
    client?.close();
    if (ns) await cluster.deleteNamespace(ns);
  });

  const widget = (name: string, revision: number): KubeObject => ({
    metadata: { name, namespace: ns },
    spec: { revision },
  });

  const revisionOf = (name: string): number | undefined =>
    (informer?.cache.get(`${ns}/${name}`) as { spec?: { revision?: number } } | undefined)?.spec?.revision;

  it('lists and watches widgets', async () => {
    await client.create(WIDGET_RESOURCE, ns, widget('w1', 1));
    informer = new Informer<KubeObject>(
      'widgets',
      kubeTransport(client, WIDGET_RESOURCE, { namespace: ns }),
      {
        backoff: { initialMs: 100, maxMs: 2000 },
        resyncMs: 0,
      },
    );
    informer.addHandler({
      onAdd: (o) => seen.push(`add ${o.metadata.name ?? ''}`),
      onUpdate: (_a, o) => seen.push(`update ${o.metadata.name ?? ''}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name ?? ''}`),
    });
    informer.start();
    await informer.waitForSync();
    assert.equal(revisionOf('w1'), 1);
    await client.create(WIDGET_RESOURCE, ns, widget('w2', 1));
    await waitFor('w2 in the cache', () => revisionOf('w2') === 1);
  });

  it('keeps delivering after kube-apiserver is stopped and started again', async () => {
    const before = { ...informer!.restarts };
    await cluster.restartApiServer();
    await client.patch(WIDGET_RESOURCE, ns, 'w1', { spec: { revision: 2 } });
    await waitFor('the change made after the restart', () => revisionOf('w1') === 2, 60_000);
    const r = informer!.restarts;
    assert.ok(
      r.error + r.closed + r.gone > before.error + before.closed + before.gone,
      `the watch was restarted (${JSON.stringify(r)})`,
    );
    await client.delete(WIDGET_RESOURCE, ns, 'w2');
    await waitFor('the deletion', () => !informer!.cache.has(`${ns}/w2`));
    assert.ok(seen.includes('delete w2'));
  });

  it('relists after etcd compaction made its resourceVersion too old (410 Gone)', async () => {
    const goneBefore = informer!.restarts.gone;
    const rvBefore = informer!.lastResourceVersion;
    // Move the store far beyond the informer's resourceVersion with writes it does not watch…
    const other = await cluster.createNamespace('rt-churn');
    for (let i = 0; i < 30; i++)
      await client.create(CM, other, { metadata: { name: `c${i}` }, data: { i: String(i) } });
    // …compact etcd up to now, and make the watch reconnect from the old resourceVersion.
    const compactedAt = await cluster.compactEtcd();
    assert.ok(compactedAt > Number(rvBefore));
    await cluster.restartApiServer();
    await client.patch(WIDGET_RESOURCE, ns, 'w1', { spec: { revision: 3 } });
    await client.create(WIDGET_RESOURCE, ns, widget('w3', 1));
    await waitFor(
      'changes after the compaction',
      () => revisionOf('w1') === 3 && revisionOf('w3') === 1,
      60_000,
    );
    assert.ok(
      informer!.restarts.gone > goneBefore,
      `a 410 Gone made it relist (restarts ${JSON.stringify(informer!.restarts)})`,
    );
    assert.ok(Number(informer!.lastResourceVersion) > compactedAt);
    await cluster.deleteNamespace(other);
  });
});
