/**
 * Leader election on a real Lease: two operator processes, exactly one acts; killing the leader
 * hands over within the lease time and no key is ever synced by both; a leader whose Lease is
 * taken stops acting at once; SIGTERM finishes and releases the Lease.
 */
import { strict as assert } from 'node:assert';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { KubeClient } from '../../../src/runtime/kube-client.js';
import type { Lease } from '../../../src/runtime/leader-election.js';
import { LEASE as LEASE_RESOURCE } from '../../../src/runtime/resources.js';
import { Operator } from '../../../src/runtime/operator.js';
import { parseOperatorOptions } from '../../../src/runtime/options.js';
import { WIDGET_RESOURCE, widgetController, type Widget } from '../../support/widget-controller.js';
import { applyWidgetCrd, sleep, waitFor, WIDGET_RULES } from './support.js';
import { startOperator, type LogRecord, type OperatorProcess } from '../../support/operator-process.js';
import { operatorIdentity } from '../../support/operator-identity.js';
import { followOperator, recordingOptions } from '../../support/api-usage.js';
import { loadKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { join } from 'node:path';
import { repoRoot } from '../../../src/devenv/devenv-state.js';

interface LogLine extends LogRecord {
  msg?: string;
  key?: string;
  identity?: string;
  startedAt?: number;
  endedAt?: number;
  level?: string;
  revision?: number;
  aborted?: boolean;
}

/** The widget syncs an operator process logged, start and end paired. */
function syncsOf(p: OperatorProcess): Array<{ key: string; startedAt: number; endedAt?: number }> {
  const lines = p.lines<LogLine>();
  const starts = lines.filter((l) => l.msg === 'widget sync start');
  const ends = lines.filter((l) => l.msg === 'widget sync end');
  return starts.map((s) => ({
    key: s.key ?? '',
    startedAt: s.startedAt ?? 0,
    endedAt: ends.find((e) => e.key === s.key && e.startedAt === s.startedAt)?.endedAt,
  }));
}

/** `cutover operator` with the test Widget controller (test/support/widget-operator.ts), as the operator's ServiceAccount. */
const startWidgetOperator = (identity: string, args: string[], kubeconfig: string): OperatorProcess => {
  const op = startOperator(
    ['--identity', identity, '--controllers', 'test-widgets', ...args],
    { KUBECONFIG: kubeconfig, LOG_FD: '' },
    { entry: join(repoRoot(), 'dist', 'test', 'support', 'widget-operator.js') },
  );
  followOperator('runtime/leader-election', op);
  return op;
};

describe('runtime/leader election', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let client: KubeClient;
  const procs: OperatorProcess[] = [];
  const namespaces: string[] = [];

  before(async () => {
    cluster = await useCluster();
    await applyWidgetCrd(cluster);
    client = new KubeClient(cluster.kc);
  });

  after(async () => {
    for (const p of procs) p.signal('SIGKILL');
    client?.close();
    for (const ns of namespaces) {
      await (await operatorIdentity(cluster, ns, { extraRules: WIDGET_RULES })).cleanup();
      await cluster.deleteNamespace(ns);
    }
  });

  const holder = async (ns: string, name = 'cutover-operator'): Promise<string> =>
    ((await client.tryGet<Lease>(LEASE_RESOURCE, ns, name))?.spec?.holderIdentity ?? '') || '';

  it('two processes: exactly one acts, the other takes over within the lease time, no key synced by both', async () => {
    const ns = await cluster.createNamespace('rt-leader');
    namespaces.push(ns);
    const names = ['w0', 'w1', 'w2', 'w3', 'w4'];
    for (const n of names)
      await client.create(WIDGET_RESOURCE, ns, {
        metadata: { name: n },
        spec: { revision: 0, syncDelayMs: 100 },
      });
    const leaseMs = 6000;
    const kubeconfig = (await operatorIdentity(cluster, ns, { extraRules: WIDGET_RULES })).kubeconfig;
    const args = [
      '--namespaces',
      ns,
      '--leader-election-namespace',
      ns,
      '--listen-address',
      '127.0.0.1:0',
      '--lease-duration',
      '6s',
      '--renew-deadline',
      '4s',
      '--retry-period',
      '1s',
    ];
    const a = startWidgetOperator('op-a', args, kubeconfig);
    procs.push(a);
    await waitFor('op-a to lead', async () => (await holder(ns)) === 'op-a', 30_000);
    const b = startWidgetOperator('op-b', args, kubeconfig);
    procs.push(b);
    await waitFor(
      'op-b to start',
      () => b.lines<LogLine>().some((l) => l.msg === 'operator started'),
      30_000,
    );
    // Changes while both run: only the leader syncs them.
    for (let r = 1; r <= 3; r++)
      for (const n of names) await client.patch(WIDGET_RESOURCE, ns, n, { spec: { revision: r } });
    await waitFor('op-a synced every change', async () => {
      const ws = await Promise.all(names.map((n) => client.get<Widget>(WIDGET_RESOURCE, ns, n)));
      return ws.every((w) => w.status?.lastRevision === 3);
    });
    await sleep(1500);
    assert.equal(syncsOf(b).length, 0, 'the standby did not sync');
    for (const n of names)
      assert.deepEqual((await client.get<Widget>(WIDGET_RESOURCE, ns, n)).status?.syncedBy, ['op-a']);

    // Kill the leader without a chance to release the Lease.
    a.signal('SIGKILL');
    const killedAt = Date.now();
    await a.exited();
    for (const n of names) await client.patch(WIDGET_RESOURCE, ns, n, { spec: { revision: 4 } });
    await waitFor('op-b to take over', async () => (await holder(ns)) === 'op-b', 20_000, 50);
    const takeoverMs = Date.now() - killedAt;
    assert.ok(takeoverMs <= leaseMs + 2500, `took over after ${takeoverMs} ms (lease ${leaseMs} ms)`);
    await waitFor('op-b synced the changes', async () => {
      const ws = await Promise.all(names.map((n) => client.get<Widget>(WIDGET_RESOURCE, ns, n)));
      return ws.every((w) => w.status?.lastRevision === 4);
    });
    for (const n of names)
      assert.deepEqual((await client.get<Widget>(WIDGET_RESOURCE, ns, n)).status?.syncedBy, ['op-a', 'op-b']);
    // No sync ran in both: every op-a sync started before op-b's first one began.
    const aSyncs = syncsOf(a);
    const bSyncs = syncsOf(b);
    assert.ok(aSyncs.length > 0 && bSyncs.length > 0);
    const bFirst = Math.min(...bSyncs.map((s) => s.startedAt));
    const aLast = Math.max(...aSyncs.map((s) => s.endedAt ?? s.startedAt));
    assert.ok(aLast < bFirst, `op-a's last sync (${aLast}) ended before op-b's first (${bFirst})`);
    assert.ok(
      ![...a.lines<LogLine>(), ...b.lines<LogLine>()].some((l) => l.msg === 'concurrent sync detected'),
    );

    // SIGTERM: finishes the in-flight sync, then releases the Lease.
    await client.patch(WIDGET_RESOURCE, ns, 'w0', { spec: { revision: 5, syncDelayMs: 1500 } });
    const slow = await waitFor('op-b to start the slow sync', () =>
      b
        .lines<LogLine>()
        .find((l) => l.msg === 'widget sync start' && l.key === `${ns}/w0` && l.revision === 5),
    );
    b.signal('SIGTERM');
    assert.equal(await b.exited(), 0);
    const end = b
      .lines<LogLine>()
      .find((l) => l.msg === 'widget sync end' && l.key === `${ns}/w0` && l.startedAt === slow.startedAt);
    assert.equal(end?.aborted, false, 'the in-flight sync finished');
    assert.equal((await client.get<Widget>(WIDGET_RESOURCE, ns, 'w0')).status?.lastRevision, 5);
    assert.equal(await holder(ns), '', 'the Lease was released');
    assert.ok(b.lines<LogLine>().some((l) => l.msg === 'released the lease'));
  });

  it('a leader whose Lease is taken stops acting at once and aborts its in-flight sync', async () => {
    const ns = await cluster.createNamespace('rt-steal');
    namespaces.push(ns);
    const r = parseOperatorOptions(
      [
        '--namespaces',
        ns,
        '--leader-election-namespace',
        ns,
        '--listen-address',
        '127.0.0.1:0',
        '--identity',
        'victim',
        '--lease-duration',
        '6s',
        '--renew-deadline',
        '4s',
        '--retry-period',
        '500ms',
      ],
      {},
    );
    if (r.kind !== 'options') throw new Error('bad options');
    const id = await operatorIdentity(cluster, ns, { extraRules: WIDGET_RULES });
    const op = new Operator(r.options, [widgetController()], {
      kc: await loadKubeConfig(id.kubeconfig),
      onRequest: recordingOptions('runtime/leader-election').onRequest,
    });
    await op.start();
    try {
      await waitFor('victim to lead', () => op.isLeader, 20_000);
      await client.create(WIDGET_RESOURCE, ns, { metadata: { name: 'slow' }, spec: { syncDelayMs: 20_000 } });
      const ctl = op.controllers[0];
      await waitFor('the slow sync to start', () => ctl?.inFlightKeys.includes(`${ns}/slow`));
      const lease = await client.get<Lease>(LEASE_RESOURCE, ns, 'cutover-operator');
      await client.replace(LEASE_RESOURCE, ns, 'cutover-operator', {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: 'intruder',
          renewTime: new Date().toISOString().replace('Z', '000Z'),
        },
      });
      const stolenAt = Date.now();
      await waitFor('victim to stop leading', () => !op.isLeader, 5000, 20);
      const stopMs = Date.now() - stolenAt;
      assert.ok(stopMs <= 1500, `stopped ${stopMs} ms after the Lease was taken (retry period 500 ms)`);
      await waitFor('the in-flight sync to be aborted', () => ctl?.inFlightKeys.length === 0, 2000, 20);
      const w = await client.get<Widget>(WIDGET_RESOURCE, ns, 'slow');
      assert.equal(w.status?.syncs, undefined, 'the aborted sync wrote nothing');
      assert.match(await op.metrics.text(), /^cutover_leader 0$/m);
    } finally {
      await op.stop();
    }
  });
});
