/**
 * Runs per rerun token (`npm run bench -- rerun`): the Reconciliation controller in an operator
 * whose Reconciliation watch lags behind the API server (BENCH_RERUN_LAG_MS, default 2500 ms, as a
 * slow or congested watch does), against real MariaDB and PostgreSQL. A Reconciliation runs once,
 * then is rerun with BENCH_RERUN_TOKENS new tokens of the rerun annotation; printed: comparisons
 * started (RunStarted Events and the runs the metrics count) per token, report writes, syncs put
 * off because the cache was behind. One run per token is the goal.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { useCluster, stopSharedCluster } from '../test/support/cluster.js';
import { createMysqlDatabase, createPostgresDatabase } from '../test/support/databases.js';
import { repoRoot } from '../src/devenv/devenv-state.js';
import { generateNokta } from '../src/devenv/nokta-data/generator.js';
import { reconciliationController } from '../src/controllers/reconciliation/sync.js';
import { RECONCILIATION } from '../src/controllers/kinds.js';
import { kubeTransport } from '../src/runtime/informer.js';
import { KubeClient, type KubeObject } from '../src/runtime/kube-client.js';
import { Operator } from '../src/runtime/operator.js';
import { parseOperatorOptions } from '../src/runtime/options.js';
import { EVENT } from '../src/runtime/resources.js';
import type { TransportFactory } from '../src/runtime/controller.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runRerunBench(): Promise<void> {
  const lagMs = Number(process.env.BENCH_RERUN_LAG_MS ?? 2500);
  const tokens = Number(process.env.BENCH_RERUN_TOKENS ?? 3);
  const cluster = await useCluster();
  await cluster.applyCrds();
  const ns = await cluster.createNamespace('bench-rerun');
  const client = new KubeClient(cluster.kc);
  const [legacy, target] = await Promise.all([
    createMysqlDatabase('bench_rerun_l'),
    createPostgresDatabase('bench_rerun_t'),
  ]);
  let operator: Operator | undefined;
  try {
    await generateNokta(legacy.url, target.url, { scale: 400, tenants: 4, seed: 'rerun', inject: true });
    for (const [name, url] of [
      ['nokta-legacy-db', legacy.url],
      ['nokta-new-db', target.url],
    ] as const) {
      await client.create({ group: '', version: 'v1', plural: 'secrets', kind: 'Secret' }, ns, {
        metadata: { name },
        stringData: { url },
      });
    }
    const lagging: TransportFactory = (rt, namespace, labelSelector) => {
      const real = kubeTransport(client, rt, { namespace, labelSelector });
      if (rt.plural !== RECONCILIATION.plural) return real;
      return {
        list: () => real.list(),
        watch: (rv, t, onEvent, onDone) =>
          real.watch(
            rv,
            t,
            (ev) => setTimeout(() => onEvent(ev), lagMs),
            (err) => setTimeout(() => onDone(err), lagMs),
          ),
      };
    };
    const parsed = parseOperatorOptions(
      [
        '--no-leader-elect',
        '--namespaces',
        ns,
        '--listen-address',
        '127.0.0.1:0',
        '--identity',
        'bench-rerun',
      ],
      {},
    );
    if (parsed.kind !== 'options') throw new Error('bad options');
    operator = new Operator(parsed.options, [reconciliationController()], {
      kc: cluster.kc,
      transport: lagging,
    });
    await operator.start();
    const doc = parseAllDocuments(
      readFileSync(join(repoRoot(), 'samples', 'nokta', 'reconciliation-nokta.yaml'), 'utf8'),
    )
      .map((d) => d.toJSON() as KubeObject)
      .find((d) => d?.kind === 'Reconciliation');
    if (!doc) throw new Error('no sample Reconciliation');
    doc.metadata = { name: 'rerun', namespace: ns };
    const runsCompleted = async (): Promise<number> =>
      ((await client.get(RECONCILIATION, ns, 'rerun')).status as { runsCompleted?: number } | undefined)
        ?.runsCompleted ?? 0;
    const waitRuns = async (n: number): Promise<void> => {
      const end = Date.now() + 180_000;
      while ((await runsCompleted()) < n) {
        if (Date.now() > end) throw new Error(`timed out waiting for run ${n}`);
        await sleep(200);
      }
      await sleep(3 * lagMs + 2000);
    };
    await client.create(RECONCILIATION, ns, doc);
    await waitRuns(1);
    for (let i = 1; i <= tokens; i++) {
      await client.patch(RECONCILIATION, ns, 'rerun', {
        metadata: { annotations: { 'cutover.nokta.io/rerun': `token-${i}` } },
      });
      await waitRuns(i + 1);
    }
    const events = (await client.list(EVENT, { namespace: ns })).items.filter(
      (e) => (e.regarding as { name?: string }).name === 'rerun',
    );
    const count = (reason: RegExp): number =>
      events
        .filter((e) => reason.test(String(e.reason)))
        .reduce((a, e) => a + ((e.series as { count?: number } | undefined)?.count ?? 1), 0);
    const text = await operator.metrics.text();
    const sum = (re: RegExp): number => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
    const runs = sum(
      new RegExp(
        `^cutover_reconciliation_runs_total\\{namespace="${ns}",reconciliation="rerun",verdict="[A-Za-z]+"\\} (\\d+)`,
        'gm',
      ),
    );
    const reportWrites = sum(
      /^cutover_api_requests_total\{verb="(?:POST|PUT)",resource="configmaps",code="2\d\d"\} (\d+)/gm,
    );
    const stale = sum(/^cutover_sync_total\{controller="reconciliation",result="stale"\} (\d+)/gm);
    const triggers = 1 + tokens;
    const rows: Array<[string, string]> = [
      ['watch lag', `${lagMs} ms`],
      ['triggers (the first run and the rerun tokens)', String(triggers)],
      ['runs recorded in status', String(await runsCompleted())],
      [
        'runs started (RunStarted Events)',
        `${count(/^RunStarted$/)} (${(count(/^RunStarted$/) / triggers).toFixed(2)} per trigger)`,
      ],
      ['runs counted by the metrics', `${runs} (${(runs / triggers).toFixed(2)} per trigger)`],
      ['result Events', String(count(/^Run(Passed|Failed|RemediationNeeded|Error)$/))],
      ['report writes', String(reportWrites)],
      ['syncs put off until the cache had the last write', String(stale)],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(
      '\nruns per rerun token (lagging watch)\n' +
        rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n') +
        '\n',
    );
  } finally {
    await operator?.stop();
    client.close();
    await cluster.deleteNamespace(ns);
    await Promise.all([legacy.drop(), target.drop()]);
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  runRerunBench()
    .then(() => stopSharedCluster())
    .catch(async (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      await stopSharedCluster();
      process.exitCode = 1;
    });
}
