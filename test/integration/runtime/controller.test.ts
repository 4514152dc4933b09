/**
 * Controllers against the real kube-apiserver, under the operator's own ServiceAccount (its RBAC
 * plus a test Role for the Widget kind): coalescing of rapid updates, no concurrent sync of one
 * key, backoff and recovery of a failing sync with the error in status, a terminal error stalls
 * without retries, deleting an object cancels its sync, status writes under conflicts and as
 * claims, owned objects mapped back to their owner, requeueAfter, events, finalizers, /metrics
 * and the probes.
 */
import { strict as assert } from 'node:assert';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { Operator } from '../../../src/runtime/operator.js';
import { parseOperatorOptions, type OperatorOptions } from '../../../src/runtime/options.js';
import {
  WIDGET_RESOURCE,
  widgetController,
  concurrentSyncsDetected,
  type Widget,
} from '../../support/widget-controller.js';
import { Controller, type SyncContext } from '../../../src/runtime/controller.js';
import { KubeClient, isConflict } from '../../../src/runtime/kube-client.js';
import { StatusWriter, type StatusUpdate } from '../../../src/runtime/status-writer.js';
import { ensureFinalizer, removeFinalizer, hasFinalizer } from '../../../src/runtime/finalizers.js';
import { ownerReferenceFor } from '../../../src/runtime/owner-refs.js';
import { EVENT as EVENT_RESOURCE } from '../../../src/runtime/resources.js';
import { applyWidgetCrd, sleep, waitFor, WIDGET_RULES } from './support.js';
import { LiteKubeConfig, loadKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { CoreV1Api } from '@kubernetes/client-node';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import { recordingOptions } from '../../support/api-usage.js';
import type { Condition } from '../../../src/runtime/conditions.js';
import { resolveImage } from '../../../src/runtime/image.js';

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
  let identity: OperatorIdentity;
  /** The operator's identity: what the controller under test authenticates as. */
  let asOperator: KubeClient;

  before(async () => {
    cluster = await useCluster();
    await applyWidgetCrd(cluster);
    ns = await cluster.createNamespace('rt-controller');
    client = new KubeClient(cluster.kc);
    identity = await operatorIdentity(cluster, ns, { extraRules: WIDGET_RULES });
    asOperator = new KubeClient(await loadKubeConfig(identity.kubeconfig), recordingOptions('runtime'));
    const opts = options([
      '--no-leader-elect',
      '--namespaces',
      ns,
      '--listen-address',
      '127.0.0.1:0',
      '--workers',
      '4',
      '--identity',
      'solo',
    ]);
    operator = new Operator(opts, [widgetController()], {
      kc: await loadKubeConfig(identity.kubeconfig),
      onRequest: recordingOptions('runtime').onRequest,
    });
    await operator.start();
  });

  after(async () => {
    await operator?.stop();
    client?.close();
    asOperator?.close();
    if (ns) {
      await identity?.cleanup();
      await cluster.deleteNamespace(ns);
    }
  });

  const cond = (w: Widget | undefined, type: string): Condition | undefined =>
    w?.status?.conditions?.find((c) => c.type === type);

  const get = (name: string): Promise<Widget> => client.get<Widget>(WIDGET_RESOURCE, ns, name);

  it('200 rapid updates to one widget lead to a handful of syncs, never two at once', async () => {
    await client.create(WIDGET_RESOURCE, ns, {
      metadata: { name: 'rapid' },
      spec: { revision: 0, syncDelayMs: 150 },
    });
    await waitFor('first sync', async () => ((await get('rapid')).status?.syncs ?? 0) >= 1);
    const syncsBefore = (await get('rapid')).status?.syncs ?? 0;
    const concurrentBefore = concurrentSyncsDetected;
    const t0 = Date.now();
    for (let i = 1; i <= 200; i++)
      await client.patch(WIDGET_RESOURCE, ns, 'rapid', { spec: { revision: i } });
    const patchMs = Date.now() - t0;
    await waitFor(
      'the last revision synced',
      async () => (await get('rapid')).status?.lastRevision === 200,
      30_000,
    );
    await sleep(500);
    const w = await get('rapid');
    const syncs = (w.status?.syncs ?? 0) - syncsBefore;
    // Each sync takes 150 ms, so the updates coalesce: far fewer syncs than updates.
    assert.ok(
      syncs >= 1 && syncs <= Math.max(20, Math.ceil(patchMs / 150) + 5),
      `${syncs} syncs for 200 updates in ${patchMs} ms`,
    );
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
    // The third failure in a row reached status and made one Warning; the recovery replaced it.
    assert.equal(cond(w, 'Reconciling'), undefined, 'Reconciling (SyncError) gone after the recovery');
    assert.equal(cond(w, 'Ready')?.reason, 'Synced');
    const events = (await client.list(EVENT_RESOURCE, { namespace: ns })).items.filter(
      (e) => (e.regarding as { name?: string }).name === 'flaky',
    );
    const failed = events.filter((e) => e.reason === 'SyncError');
    assert.equal(failed.length, 1, 'one Event for the error in status, not one per retry');
    assert.ok(
      failed.every((e) => e.type === 'Warning' && e.reportingController === 'cutover.nokta.io/operator'),
    );
    assert.match(String(failed[0]?.note), /configured to fail 3 times/);
    assert.ok(
      events.some((e) => e.reason === 'Synced'),
      'the Synced Event, derived from the status change',
    );
  });

  it('a sync that keeps failing sets Ready=False and Reconciling=True with the reason and the message', async () => {
    await client.create(WIDGET_RESOURCE, ns, { metadata: { name: 'failing' }, spec: { failTimes: 6 } });
    const failing = await waitFor(
      'the error in status',
      async () => {
        const x = await get('failing');
        return cond(x, 'Ready')?.reason === 'SyncError' ? x : undefined;
      },
      30_000,
    );
    assert.equal(cond(failing, 'Ready')?.status, 'False');
    assert.match(cond(failing, 'Ready')?.message ?? '', /widget .*failing configured to fail 6 times/);
    assert.equal(cond(failing, 'Reconciling')?.status, 'True', 'kstatus: InProgress while it retries');
    assert.equal(cond(failing, 'Reconciling')?.reason, 'SyncError');
    assert.equal(cond(failing, 'Stalled'), undefined);
    assert.ok((failing.status?.syncs ?? 0) === 0, 'the widget never synced yet');
    const ok = await waitFor(
      'recovery',
      async () => {
        const x = await get('failing');
        return cond(x, 'Ready')?.status === 'True' ? x : undefined;
      },
      30_000,
    );
    assert.equal(cond(ok, 'Reconciling'), undefined);
  });

  it('a TerminalError stalls the object with its reason and is not retried', async () => {
    await client.create(WIDGET_RESOURCE, ns, {
      metadata: { name: 'hopeless' },
      spec: { terminal: 'BadWidget' },
    });
    const w = await waitFor('Stalled', async () => {
      const x = await get('hopeless');
      return cond(x, 'Stalled')?.status === 'True' ? x : undefined;
    });
    assert.equal(cond(w, 'Stalled')?.reason, 'BadWidget');
    assert.match(cond(w, 'Stalled')?.message ?? '', /cannot be synced: BadWidget/);
    assert.equal(cond(w, 'Ready')?.status, 'False');
    assert.equal(cond(w, 'Reconciling'), undefined, 'kstatus: Failed, not InProgress');
    assert.equal(w.status?.observedGeneration, w.metadata.generation);
    const terminal = (): Promise<number> =>
      operator!.metrics
        .text()
        .then((t) =>
          Number(/cutover_sync_total\{controller="test-widgets",result="terminal"\} (\d+)/.exec(t)?.[1] ?? 0),
        );
    const before = await terminal();
    await sleep(2500);
    assert.equal(await terminal(), before, 'not retried (a retry would come after 200 ms)');
    const evs = (await client.list(EVENT_RESOURCE, { namespace: ns })).items.filter(
      (e) => (e.regarding as { name?: string }).name === 'hopeless',
    );
    assert.deepEqual(
      evs.map((e) => [e.type, e.reason]),
      [['Warning', 'BadWidget']],
    );
    // A change of the object syncs it again: fixed, it recovers.
    await client.patch(WIDGET_RESOURCE, ns, 'hopeless', { spec: { terminal: null } });
    const fixed = await waitFor('recovery', async () => {
      const x = await get('hopeless');
      return cond(x, 'Ready')?.status === 'True' ? x : undefined;
    });
    assert.equal(cond(fixed, 'Stalled'), undefined);
  });

  it('deleting an object cancels its running sync at once', async () => {
    await client.create(WIDGET_RESOURCE, ns, { metadata: { name: 'doomed' }, spec: { syncDelayMs: 30_000 } });
    const ctl = operator!.controllers[0];
    await waitFor('the slow sync to start', () => ctl?.inFlightKeys.includes(`${ns}/doomed`));
    const t0 = Date.now();
    await client.delete(WIDGET_RESOURCE, ns, 'doomed');
    await waitFor('the sync to be cancelled', () => !ctl?.inFlightKeys.includes(`${ns}/doomed`), 5000, 10);
    const ms = Date.now() - t0;
    assert.ok(ms < 2000, `cancelled ${ms} ms after the delete (it would have run 30 s)`);
    assert.match(
      await operator!.metrics.text(),
      /cutover_sync_total\{controller="test-widgets",result="aborted"\} [1-9]/,
    );
  });

  it('a status write is a claim: of racing writers deciding from the same copy, one writes', async () => {
    const w = await client.create<Widget>(WIDGET_RESOURCE, ns, {
      metadata: { name: 'claimed' },
      spec: { failTimes: 1000 },
    });
    const writers = Array.from(
      { length: 5 },
      () => new StatusWriter<Widget>(asOperator, WIDGET_RESOURCE, { cached: () => w }),
    );
    const claims = await Promise.all(
      writers.map((x, i) =>
        x.update(ns, 'claimed', (fresh) =>
          (fresh.status as { claimedBy?: number } | undefined)?.claimedBy === undefined
            ? ({ ...fresh.status, claimedBy: i } as Widget['status'])
            : undefined,
        ),
      ),
    );
    assert.equal(claims.filter((c) => c.written).length, 1, 'exactly one claim written');
    const winner = claims.findIndex((c) => c.written);
    assert.equal(((await get('claimed')).status as { claimedBy?: number }).claimedBy, winner);
    assert.ok(claims.every((c) => c.object !== undefined));
  });

  it('status writes survive conflicts with concurrent writers', async () => {
    await client.create(WIDGET_RESOURCE, ns, {
      metadata: { name: 'contended' },
      spec: { revision: 1, failTimes: 1000 },
    });
    const writer = new StatusWriter<Widget>(asOperator, WIDGET_RESOURCE);
    const bump = (): Promise<StatusUpdate<Widget>> =>
      writer.update(
        ns,
        'contended',
        (fresh) =>
          ({
            ...fresh.status,
            counter: ((fresh.status as { counter?: number } | undefined)?.counter ?? 0) + 1,
          }) as Widget['status'],
      );
    await Promise.all([
      ...Array.from({ length: 8 }, bump),
      client.patch(WIDGET_RESOURCE, ns, 'contended', { spec: { revision: 2 } }),
    ]);
    const w = await get('contended');
    assert.equal((w.status as { counter?: number }).counter, 8, 'every one of 8 racing writes landed');
    // A plain replace with a stale resourceVersion is refused with 409; the writer retried those.
    const stale = {
      ...w,
      metadata: { ...w.metadata, resourceVersion: String(Number(w.metadata.resourceVersion) - 1) },
    };
    await assert.rejects(client.replace(WIDGET_RESOURCE, ns, 'contended', stale, 'status'), (e: unknown) =>
      isConflict(e),
    );
  });

  it('finalizers are added and removed with optimistic concurrency', async () => {
    const created = await client.create<Widget>(WIDGET_RESOURCE, ns, {
      metadata: { name: 'fin' },
      spec: { failTimes: 1000 },
    });
    const withF = await ensureFinalizer(
      asOperator,
      WIDGET_RESOURCE,
      created,
      'test.cutover.nokta.io/cleanup',
    );
    assert.ok(hasFinalizer(withF, 'test.cutover.nokta.io/cleanup'));
    await assert.rejects(ensureFinalizer(asOperator, WIDGET_RESOURCE, created, 'other/x'), (e: unknown) =>
      isConflict(e),
    );
    const without = await removeFinalizer(
      asOperator,
      WIDGET_RESOURCE,
      withF,
      'test.cutover.nokta.io/cleanup',
    );
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
    const c = new Controller<Widget>(spec, {
      client: asOperator,
      namespaces: [ns],
      workers: 2,
      informer: { resyncMs: 0 },
    });
    c.startInformers();
    const leading = new AbortController();
    c.startWorkers(leading.signal);
    try {
      const owner = await client.create<Widget>(WIDGET_RESOURCE, ns, {
        metadata: { name: 'owner' },
        spec: { failTimes: 1000 },
      });
      await waitFor('owner synced', () => syncs.includes(`${ns}/owner`));
      const before = syncs.filter((k) => k === `${ns}/owner`).length;
      await client.create(CM, ns, {
        metadata: { name: 'owned', ownerReferences: [ownerReferenceFor(owner, WIDGET_RESOURCE)] },
        data: { a: '1' },
      });
      await waitFor(
        'owner synced again for its ConfigMap',
        () => syncs.filter((k) => k === `${ns}/owner`).length > before,
      );
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
    const w = await client.create<Widget>(WIDGET_RESOURCE, ns, {
      metadata: { name: 'eventful' },
      spec: { failTimes: 1000 },
    });
    const rec = operator!.events;
    for (let i = 0; i < 3; i++)
      await rec.record(w, WIDGET_RESOURCE, {
        type: 'Normal',
        reason: 'Tested',
        action: 'Test',
        note: 'same note, token=abc123',
      });
    const evs = (await client.list(EVENT_RESOURCE, { namespace: ns })).items.filter(
      (e) => e.reason === 'Tested',
    );
    assert.equal(evs.length, 1);
    assert.equal((evs[0]?.series as { count?: number } | undefined)?.count, 3);
    assert.equal(evs[0]?.note, 'same note, token=***');
  });

  it('runs with no controllers at all: leader election, health and metrics only', async () => {
    const idle = await Operator.create(
      options([
        '--kubeconfig',
        identity.kubeconfig,
        '--namespaces',
        ns,
        '--leader-election-namespace',
        ns,
        '--leader-election-id',
        'idle-operator',
        '--listen-address',
        '127.0.0.1:0',
        '--retry-period',
        '500ms',
      ]),
      [],
    );
    await idle.start();
    try {
      assert.ok(idle.client.kc instanceof LiteKubeConfig, 'the light kubeconfig loader was used');
      // client-node's KubeConfig from the same source, for libraries built on its typed APIs.
      const full = await idle.fullKubeConfig();
      const cms = await full.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: ns });
      assert.ok(Array.isArray(cms.items), 'authenticated as the operator through client-node too');
      await waitFor('the idle operator to lead', () => idle.isLeader, 15_000);
      const { port } = idle.address;
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
      assert.match(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /^cutover_leader 1$/m);
    } finally {
      await idle.stop();
    }
  });

  it("resolves the Jobs' image once at start: the flag, else its own Pod's container, else the version's image", async () => {
    // A Pod standing in for the operator's own (no kubelet runs it; the API object is what counts).
    await client.create({ group: '', version: 'v1', plural: 'pods', kind: 'Pod' }, ns, {
      metadata: { name: 'cutover-operator-abc' },
      spec: {
        containers: [
          { name: 'sidecar', image: 'proxy:1' },
          { name: 'operator', image: 'registry.nokta.io/cutover-operator:1.4.2' },
        ],
      },
    });
    const env = { POD_NAME: 'cutover-operator-abc', POD_NAMESPACE: ns };
    assert.deepEqual(await resolveImage(undefined, asOperator, env), {
      image: 'registry.nokta.io/cutover-operator:1.4.2',
      source: 'pod',
    });
    assert.deepEqual(await resolveImage('mirror.nokta.io/cutover:1.4.2', asOperator, env), {
      image: 'mirror.nokta.io/cutover:1.4.2',
      source: 'flag',
    });
    const fallback = await resolveImage(undefined, asOperator, {});
    assert.equal(fallback.source, 'default');
    assert.match(fallback.image, /^ghcr\.io\/nokta\/cutover-operator:\d+\.\d+\.\d+/);
    assert.equal(operator!.settings.image, fallback.image, 'the running operator resolved the same default');
  });

  it('serves /metrics, /healthz and /readyz', async () => {
    const { port } = operator!.address;
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /cutover_api_requests_total\{verb="LIST",resource="widgets",code="200"\} \d+/);
    assert.match(
      metrics,
      /cutover_api_requests_total\{verb="WATCH",resource="widgets",code="\d+"\} \d+|cutover_api_requests_total\{verb="PUT",resource="widgets\/status"/,
    );
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
