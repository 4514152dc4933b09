/**
 * Controllers against the real kube-apiserver: coalescing of rapid updates, no concurrent sync of
 * one key, backoff and recovery of a failing sync, status writes under conflicts, owned objects
 * mapped back to their owner, requeueAfter, events, finalizers, /metrics and the probes.
 */
import { strict as assert } from 'node:assert';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { Operator } from '../../../src/runtime/operator.js';
import { parseOperatorOptions, type OperatorOptions } from '../../../src/runtime/options.js';
import { WIDGET_RESOURCE, widgetController, concurrentSyncsDetected, type Widget } from '../../support/widget-controller.js';
import { Controller, type SyncContext } from '../../../src/runtime/controller.js';
import { KubeClient, isConflict } from '../../../src/runtime/kube-client.js';
import { StatusWriter, type StatusUpdate } from '../../../src/runtime/status-writer.js';
import { ensureFinalizer, removeFinalizer, hasFinalizer } from '../../../src/runtime/finalizers.js';
import { ownerReferenceFor } from '../../../src/runtime/owner-refs.js';
import { EVENT as EVENT_RESOURCE } from '../../../src/runtime/resources.js';
import { applyWidgetCrd, sleep, waitFor } from './support.js';
import { LiteKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { CoreV1Api } from '@kubernetes/client-node';

const CM = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };

function options(argv: string[]): OperatorOptions {
  const r = parseOperatorOptions(argv, {});
  if (r.kind !== 'options') throw new Error(r.kind === 'error' ? r.message : 'help');
  return r.options;
}

describe('runtime/controller against kube-apiserver', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let ns: string;
  let client: KubeClient;
  let operator: Operator | undefined;

  before(async () => {
    cluster = await useCluster();
    await applyWidgetCrd(cluster);
    ns = await cluster.createNamespace('rt-controller');
    client = new KubeClient(cluster.kc);
    const opts = options(['--no-leader-elect', '--namespaces', ns, '--listen-address', '127.0.0.1:0', '--workers', '4', '--identity', 'solo']);
    operator = new Operator(opts, [widgetController()], { kc: cluster.kc });
    await operator.start();
  });

  after(async () => {
    await operator?.stop();
    client?.close();
    if (ns) await cluster.deleteNamespace(ns);
  });

  const get = (name: string): Promise<Widget> => client.get<Widget>(WIDGET_RESOURCE, ns, name);

  it('200 rapid updates to one widget lead to a handful of syncs, never two at once', async () => {
    await client.create(WIDGET_RESOURCE, ns, { metadata: { name: 'rapid' }, spec: { revision: 0, syncDelayMs: 150 } });
    await waitFor('first sync', async () => ((await get('rapid')).status?.syncs ?? 0) >= 1);
    const syncsBefore = (await get('rapid')).status?.syncs ?? 0;
    const concurrentBefore = concurrentSyncsDetected;
    const t0 = Date.now();
    for (let i = 1; i <= 200; i++) await client.patch(WIDGET_RESOURCE, ns, 'rapid', { spec: { revision: i } });
    const patchMs = Date.now() - t0;
    await waitFor('the last revision synced', async () => (await get('rapid')).status?.lastRevision === 200, 30_000);
    await sleep(500);
    const w = await get('rapid');
    const syncs = (w.status?.syncs ?? 0) - syncsBefore;
    // Each sync takes 150 ms, so the updates coalesce: far fewer syncs than updates.
    assert.ok(syncs >= 1 && syncs <= Math.max(20, Math.ceil(patchMs / 150) + 5), `${syncs} syncs for 200 updates in ${patchMs} ms`);
    assert.equal(concurrentSyncsDetected, concurrentBefore, 'no key was synced twice at once');
    assert.equal(w.status?.observedGeneration, w.metadata.generation);
  });

  it('a failing sync backs off per key and recovers', async () => {
    const t0 = Date.now();
    await client.create(WIDGET_RESOURCE, ns, { metadata: { name: 'flaky' }, spec: { failTimes: 3 } });
    const w = await waitFor('recovery', async () => {
      const x = await get('flaky');
      return x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? x : undefined;
    });
    const elapsed = Date.now() - t0;
    assert.equal(w.status?.failures, 3, 'succeeded on the 4th attempt');
    // Retry delays 200, 400, 800 ms (10 % jitter): at least ~1.26 s before the success.
    assert.ok(elapsed >= 1200, `recovered after ${elapsed} ms`);
    const text = await operator!.metrics.text();
    assert.match(text, /cutover_sync_errors_total\{controller="test-widgets"\} [3-9]/);
    const events = await waitFor('the warning event series', async () => {
      const l = await client.list(EVENT_RESOURCE, { namespace: ns });
      return l.items.filter((e) => e.reason === 'SyncFailed' && (e.regarding as { name?: string }).name === 'flaky').length > 0 ? l.items : undefined;
    });
    const failed = events.filter((e) => e.reason === 'SyncFailed');
    assert.ok(failed.every((e) => e.type === 'Warning' && e.reportingController === 'cutover.nokta.io/operator'));
    assert.ok(events.some((e) => e.reason === 'Synced' && (e.regarding as { name?: string }).name === 'flaky'));
  });

  it('status writes survive conflicts with concurrent writers', async () => {
    await client.create(WIDGET_RESOURCE, ns, { metadata: { name: 'contended' }, spec: { revision: 1, failTimes: 1000 } });
    const writer = new StatusWriter<Widget>(client, WIDGET_RESOURCE);
    const bump = (): Promise<StatusUpdate<Widget>> => writer.update(ns, 'contended', (fresh) => ({ ...fresh.status, counter: (((fresh.status as { counter?: number } | undefined)?.counter ?? 0) + 1) }) as Widget['status']);
    await Promise.all([...Array.from({ length: 8 }, bump), client.patch(WIDGET_RESOURCE, ns, 'contended', { spec: { revision: 2 } })]);
    const w = await get('contended');
    assert.equal((w.status as { counter?: number }).counter, 8, 'every one of 8 racing writes landed');
    // A plain replace with a stale resourceVersion is refused with 409; the writer retried those.
    const stale = { ...w, metadata: { ...w.metadata, resourceVersion: String(Number(w.metadata.resourceVersion) - 1) } };
    await assert.rejects(client.replace(WIDGET_RESOURCE, ns, 'contended', stale, 'status'), (e: unknown) => isConflict(e));
  });

  it('finalizers are added and removed with optimistic concurrency', async () => {
    const created = await client.create<Widget>(WIDGET_RESOURCE, ns, { metadata: { name: 'fin' }, spec: { failTimes: 1000 } });
    const withF = await ensureFinalizer(client, WIDGET_RESOURCE, created, 'test.cutover.nokta.io/cleanup');
    assert.ok(hasFinalizer(withF, 'test.cutover.nokta.io/cleanup'));
    await assert.rejects(ensureFinalizer(client, WIDGET_RESOURCE, created, 'other/x'), (e: unknown) => isConflict(e));
    const without = await removeFinalizer(client, WIDGET_RESOURCE, withF, 'test.cutover.nokta.io/cleanup');
    assert.deepEqual(without.metadata.finalizers ?? [], []);
  });

  it('maps owned objects to their owner and honours requeueAfter', async () => {
    const syncs: string[] = [];
    let requeued = 0;
    const spec = {
      name: 'owner-mapping',
      resource: WIDGET_RESOURCE,
      owns: [CM],
      sync(ctx: SyncContext<Widget>): Promise<{ requeueAfter?: number }> {
        syncs.push(ctx.key);
        if (ctx.name === 'timer' && requeued < 2) {
          requeued++;
          return Promise.resolve({ requeueAfter: 300 });
        }
        return Promise.resolve({});
      },
    };
    const c = new Controller<Widget>(spec, { client, namespaces: [ns], workers: 2, informer: { resyncMs: 0 } });
    c.startInformers();
    const leading = new AbortController();
    c.startWorkers(leading.signal);
    try {
      const owner = await client.create<Widget>(WIDGET_RESOURCE, ns, { metadata: { name: 'owner' }, spec: { failTimes: 1000 } });
      await waitFor('owner synced', () => syncs.includes(`${ns}/owner`));
      const before = syncs.filter((k) => k === `${ns}/owner`).length;
      await client.create(CM, ns, { metadata: { name: 'owned', ownerReferences: [ownerReferenceFor(owner, WIDGET_RESOURCE)] }, data: { a: '1' } });
      await waitFor('owner synced again for its ConfigMap', () => syncs.filter((k) => k === `${ns}/owner`).length > before);
      await client.create(CM, ns, { metadata: { name: 'unowned' }, data: {} });
      const t0 = Date.now();
      await client.create(WIDGET_RESOURCE, ns, { metadata: { name: 'timer' }, spec: { failTimes: 1000 } });
      await waitFor('three syncs of the timer', () => syncs.filter((k) => k === `${ns}/timer`).length >= 3);
      assert.ok(Date.now() - t0 >= 600, 'requeueAfter 300 ms twice');
      assert.ok(!syncs.includes(`${ns}/unowned`));
    } finally {
      leading.abort();
      await c.stop();
    }
  });

  it('records repeated events as one Event with a series count', async () => {
    const w = await client.create<Widget>(WIDGET_RESOURCE, ns, { metadata: { name: 'eventful' }, spec: { failTimes: 1000 } });
    const rec = operator!.events;
    for (let i = 0; i < 3; i++) await rec.record(w, WIDGET_RESOURCE, { type: 'Normal', reason: 'Tested', action: 'Test', note: 'same note, token=abc123' });
    const evs = (await client.list(EVENT_RESOURCE, { namespace: ns })).items.filter((e) => e.reason === 'Tested');
    assert.equal(evs.length, 1);
    assert.equal((evs[0]?.series as { count?: number } | undefined)?.count, 3);
    assert.equal(evs[0]?.note, 'same note, token=***');
  });

  it('runs with no controllers at all: leader election, health and metrics only', async () => {
    const idle = await Operator.create(
      options(['--kubeconfig', cluster.kubeconfigPath, '--namespaces', ns, '--leader-election-namespace', ns, '--leader-election-id', 'idle-operator', '--listen-address', '127.0.0.1:0', '--retry-period', '500ms']),
      [],
    );
    await idle.start();
    try {
      assert.ok(idle.client.kc instanceof LiteKubeConfig, 'the light kubeconfig loader was used');
      // client-node's KubeConfig from the same source, for libraries built on its typed APIs.
      const full = await idle.fullKubeConfig();
      const ns2 = await full.makeApiClient(CoreV1Api).readNamespace({ name: ns });
      assert.equal(ns2.metadata?.name, ns);
      await waitFor('the idle operator to lead', () => idle.isLeader, 15_000);
      const { port } = idle.address;
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
      assert.match(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /^cutover_leader 1$/m);
    } finally {
      await idle.stop();
    }
  });

  it('serves /metrics, /healthz and /readyz', async () => {
    const { port } = operator!.address;
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /cutover_api_requests_total\{verb="LIST",resource="widgets",code="200"\} \d+/);
    assert.match(metrics, /cutover_api_requests_total\{verb="WATCH",resource="widgets",code="\d+"\} \d+|cutover_api_requests_total\{verb="PUT",resource="widgets\/status"/);
    assert.match(metrics, /cutover_sync_total\{controller="test-widgets",result="success"\} \d+/);
    assert.match(metrics, /cutover_sync_duration_seconds_count\{controller="test-widgets"\} \d+/);
    assert.match(metrics, /cutover_workqueue_depth\{controller="test-widgets"\} \d+/);
    assert.match(metrics, /^cutover_leader 1$/m);
    assert.match(metrics, /cutover_process_resident_memory_bytes \d+/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/nothing`)).status, 404);
  });
});
