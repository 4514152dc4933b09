/**
 * The Reconciliation controller inside an operator (in this process, so its informers' transport
 * can be slowed down), against the real API server, MariaDB and PostgreSQL, as the operator's own
 * ServiceAccount:
 * - a watch that lags behind the operator's own writes does not make it run, report, count or
 *   announce a finished run a second time (the version tracker and the claims);
 * - deleting a Reconciliation mid-run cancels the run: no result, report, metrics or Event for
 *   an object that is gone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Reconciliation, ReconciliationStatus } from '../../../src/api/index.js';
import { repoRoot } from '../../../src/devenv/devenv-state.js';
import { generateNokta } from '../../../src/devenv/nokta-data/generator.js';
import { reconciliationController } from '../../../src/controllers/reconciliation/sync.js';
import { RECONCILIATION } from '../../../src/controllers/kinds.js';
import type { TransportFactory } from '../../../src/runtime/controller.js';
import { kubeTransport } from '../../../src/runtime/informer.js';
import { KubeClient, type KubeObject, type RequestInfo } from '../../../src/runtime/kube-client.js';
import { loadKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { Operator } from '../../../src/runtime/operator.js';
import { parseOperatorOptions } from '../../../src/runtime/options.js';
import { CONFIG_MAP, EVENT } from '../../../src/runtime/resources.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import { recordingOptions } from '../../support/api-usage.js';

/** How far behind the API server the Reconciliations' watch delivers (the operator's own writes included). */
const LAG_MS = 2500;

type Recon = Reconciliation & KubeObject;

function noktaManifest(name: string, namespace: string): Recon {
  const text = readFileSync(join(repoRoot(), 'samples', 'nokta', 'reconciliation-nokta.yaml'), 'utf8');
  const doc = parseAllDocuments(text)
    .map((d) => d.toJSON() as Recon)
    .find((d) => d?.kind === 'Reconciliation');
  if (!doc) throw new Error('no Reconciliation in samples/nokta/reconciliation-nokta.yaml');
  doc.metadata = { name, namespace };
  return doc;
}

/**
 * A Reconciliation whose checks each count millions of generated rows on both sides: a run of many
 * seconds. Each check reads its own source (the engine shares one scan between checks over the
 * same source, which would make six checks one scan).
 */
function slowManifest(name: string, namespace: string): Recon {
  const query = (i: number): string =>
    `SELECT g % 7 AS tenant_id, g AS id FROM generate_series(1, ${6_000_000 + i}) AS g`;
  return {
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'Reconciliation',
    metadata: { name, namespace },
    spec: {
      legacy: { engine: 'postgres', secretRef: { name: 'slow-db', key: 'url' } },
      target: { engine: 'postgres', secretRef: { name: 'slow-db', key: 'url' } },
      tenantColumn: 'tenant_id',
      checks: ['one', 'two', 'three', 'four', 'five', 'six'].map((n, i) => ({
        name: n,
        type: 'count',
        legacy: { query: query(i) },
        target: { query: query(i) },
      })),
    },
  };
}

describe('Reconciliation controller in an operator (lagging watch, deletion mid-run)', function () {
  this.timeout(240_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let legacy: TestDatabase;
  let target: TestDatabase;
  let operator: Operator | undefined;
  const requests: RequestInfo[] = [];

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    ns = await cluster.createNamespace('ctl-recon');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    [legacy, target] = await Promise.all([
      createMysqlDatabase('ctl_legacy'),
      createPostgresDatabase('ctl_target'),
    ]);
    await generateNokta(legacy.url, target.url, { scale: 400, tenants: 4, seed: 'ctl', inject: true });
    for (const [name, url] of [
      ['nokta-legacy-db', legacy.url],
      ['nokta-new-db', target.url],
      ['slow-db', target.url],
    ] as const) {
      await admin.create({ group: '', version: 'v1', plural: 'secrets', kind: 'Secret' }, ns, {
        metadata: { name },
        stringData: { url },
      });
    }
    const kc = await loadKubeConfig(identity.kubeconfig);
    const transportClient = new KubeClient(kc, recordingOptions('controllers/reconciliation'));
    // The Reconciliations' watch lags LAG_MS behind the API server; the other kinds do not.
    const lagging: TransportFactory = (rt, namespace, labelSelector) => {
      const real = kubeTransport(transportClient, rt, { namespace, labelSelector });
      if (rt.plural !== RECONCILIATION.plural) return real;
      return {
        list: () => real.list(),
        watch: (rv, timeoutSeconds, onEvent, onDone) =>
          real.watch(
            rv,
            timeoutSeconds,
            (ev) => setTimeout(() => onEvent(ev), LAG_MS),
            (err) => setTimeout(() => onDone(err), LAG_MS),
          ),
      };
    };
    const parsed = parseOperatorOptions(
      ['--no-leader-elect', '--namespaces', ns, '--listen-address', '127.0.0.1:0', '--identity', 'ctl-test'],
      {},
    );
    if (parsed.kind !== 'options') throw new Error('bad options');
    const record = recordingOptions('controllers/reconciliation');
    operator = new Operator(parsed.options, [reconciliationController()], {
      kc,
      transport: lagging,
      onRequest: (r) => {
        requests.push(r);
        record.onRequest(r);
      },
    });
    await operator.start();
  });

  after(async () => {
    await operator?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    await Promise.all([legacy?.drop(), target?.drop()]);
  });

  const status = async (name: string): Promise<ReconciliationStatus | undefined> =>
    (await admin.tryGet<Recon>(RECONCILIATION, ns, name))?.status;
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const eventsOf = async (name: string): Promise<string[]> =>
    (await admin.list(EVENT, { namespace: ns })).items
      .filter((e) => (e.regarding as { name?: string }).name === name)
      .map((e) => String(e.reason));
  const metric = async (re: RegExp): Promise<number> =>
    [...(await operator!.metrics.text()).matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);

  it('a watch lagging behind its own writes does not run, report, count or announce a finished run twice', async () => {
    await admin.create(RECONCILIATION, ns, noktaManifest('lagged', ns));
    const done = await waitFor('the run to finish', async () => {
      const st = await status('lagged');
      return st?.lastRun?.finishedAt ? st : undefined;
    });
    // Long enough for every delayed watch event and requeue to have been seen.
    await new Promise((r) => setTimeout(r, 3 * LAG_MS + 2000));
    const st = await status('lagged');
    assert.equal(st?.runsCompleted, 1);
    assert.equal(st?.lastRun?.id, done.lastRun?.id);
    assert.equal(
      await metric(
        new RegExp(
          `^cutover_reconciliation_runs_total\\{namespace="${ns}",reconciliation="lagged",verdict="[A-Za-z]+"\\} (\\d+)`,
          'gm',
        ),
      ),
      1,
      'the run counted once',
    );
    const reasons = await eventsOf('lagged');
    assert.deepEqual(
      reasons.filter((r) => r === 'RunStarted'),
      ['RunStarted'],
    );
    assert.equal(
      reasons.filter((r) => /^Run(Passed|Failed|RemediationNeeded|Error)$/.test(r)).length,
      1,
      `one result Event: ${reasons.join(', ')}`,
    );
    const reportWrites = requests.filter(
      (r) => /\/configmaps(\/lagged-report)?$/.test(r.path) && (r.verb === 'POST' || r.verb === 'PUT'),
    );
    assert.equal(reportWrites.length, 1, 'the report written once');
    assert.ok(
      (await metric(/^cutover_sync_total\{controller="reconciliation",result="stale"\} (\d+)/gm)) >= 1,
      'a sync was held back until the cache had the write',
    );
    const cm = await admin.get<KubeObject & { data?: Record<string, string> }>(
      CONFIG_MAP,
      ns,
      'lagged-report',
    );
    assert.equal(cm.data?.run, done.lastRun?.id);
  });

  it('deleting a Reconciliation mid-run cancels the run: no result, report, metrics or Event afterwards', async () => {
    const aborted = (): Promise<number> =>
      metric(/^cutover_sync_total\{controller="reconciliation",result="aborted"\} (\d+)/gm);
    const abortedBefore = await aborted();
    await admin.create(RECONCILIATION, ns, slowManifest('doomed', ns));
    await waitFor('the run to start', async () => ((await status('doomed'))?.lastRun?.id ? true : undefined));
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    await admin.delete(RECONCILIATION, ns, 'doomed');
    await waitFor(
      'the sync to be cancelled',
      async () => ((await aborted()) > abortedBefore ? true : undefined),
      60_000,
    );
    const cancelMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(
      await admin.tryGet(CONFIG_MAP, ns, 'doomed-report'),
      undefined,
      'no report for a deleted Reconciliation',
    );
    assert.doesNotMatch(
      await operator!.metrics.text(),
      /reconciliation="doomed"/,
      'no metrics series for a deleted Reconciliation',
    );
    const reasons = await eventsOf('doomed');
    assert.deepEqual(reasons, ['RunStarted'], 'no result Event');
    // Six checks of millions of rows on each side would take far longer than the statement that
    // was running when the Reconciliation went.
    assert.ok(cancelMs < 30_000, `cancelled ${cancelMs} ms after the delete`);
    process.stdout.write(`      (cancelled ${cancelMs} ms after the delete)\n`);
  });
});
