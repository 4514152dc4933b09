#!/usr/bin/env node
/**
 * `npm run demo`: a local rehearsal on the embedded default environment.
 *
 *  1. the local control plane with the cutover and Gateway API CRDs (`npm run cluster:up`);
 *  2. the Nokta legacy MySQL (MariaDB) and new PostgreSQL databases, filled by the generator
 *     with a few real differences injected (a missing order, an amount off by 0.01, ...);
 *  3. the operator, started in the background against that cluster;
 *  4. the Nokta Reconciliation applied with kubectl; its status followed live until the run ends,
 *     then the per-check results and the differing keys the engine localized.
 *
 * Everything stays up afterwards to explore; `npm run cluster:down` stops it.
 * Options: --scale N (legacy orders, default 20000), --tenants N (default 12), --keep-data.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { parseAllDocuments } from 'yaml';
import { clusterDir, clusterUp, kubectl } from './local-cluster.js';
import { repoRoot } from './devenv-state.js';
import { pidAlive } from './processes.js';
import { generateNokta } from './nokta-data/generator.js';
import type { Reconciliation } from '../api/index.js';

const NAMESPACE = 'nokta';
const LEGACY_DB = 'nokta_legacy';
const TARGET_DB = 'nokta_new';
const LEGACY_URL = `mysql://root@127.0.0.1:3306/${LEGACY_DB}`;
const TARGET_URL = `postgres://postgres@127.0.0.1:5432/${TARGET_DB}`;

const tty = process.stdout.isTTY;
const bold = (s: string): string => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string): void => {
  process.stdout.write(s + '\n');
};
const step = (n: number, s: string): void => say(`\n${bold(`[${n}/5] ${s}`)}`);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive whole number`);
  return v;
}

async function recreateDatabases(): Promise<void> {
  const my = await mysql.createConnection('mysql://root@127.0.0.1:3306/mysql');
  try {
    await my.query(`DROP DATABASE IF EXISTS \`${LEGACY_DB}\``);
    await my.query(`CREATE DATABASE \`${LEGACY_DB}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await my.end();
  }
  const p = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await p.connect();
  try {
    await p.query(`DROP DATABASE IF EXISTS "${TARGET_DB}" WITH (FORCE)`);
    await p.query(`CREATE DATABASE "${TARGET_DB}"`);
  } finally {
    await p.end();
  }
}

function startOperator(kubeconfig: string): number {
  const pidFile = join(clusterDir(), 'operator.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pidAlive(pid)) return pid;
  }
  const log = openSync(join(clusterDir(), 'operator.log'), 'a');
  const child = spawn(
    process.execPath,
    [
      join(repoRoot(), 'dist', 'src', 'cli', 'main.js'),
      'operator',
      '--kubeconfig',
      kubeconfig,
      '--no-leader-elect',
      '--listen-address',
      '127.0.0.1:0',
      '--log-level',
      'info',
    ],
    { detached: true, stdio: ['ignore', log, log], cwd: repoRoot() },
  );
  closeSync(log);
  child.unref();
  writeFileSync(pidFile, String(child.pid));
  return child.pid ?? 0;
}

interface StatusView {
  phase?: string;
  lastRun?: { id?: string; verdict?: string; finishedAt?: string; error?: string };
  summary?: {
    checks?: number;
    passed?: number;
    rowsCompared?: string;
    maxVariancePercent?: string;
    worstCheck?: string;
    worstTenant?: string;
  };
  checks?: Array<{
    name?: string;
    verdict?: string;
    variancePercent?: number;
    legacyValue?: string;
    targetValue?: string;
    worstTenant?: string;
    differingKeys?: Array<{ tenant?: string; key?: string; kind?: string; columns?: string[] }>;
  }>;
  reportConfigMap?: string;
}

async function follow(kubeconfig: string, name: string, timeoutMs: number): Promise<StatusView> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const out = kubectl(kubeconfig, ['get', 'reconciliation', name, '-n', NAMESPACE, '-o', 'json']);
    const obj = JSON.parse(out) as { status?: StatusView };
    const st = obj.status ?? {};
    const line = `  ${new Date().toISOString().slice(11, 19)}  phase=${st.phase ?? 'Pending'}  run=${st.lastRun?.id ?? '-'}`;
    if (line.slice(12) !== last) say(line);
    last = line.slice(12);
    if (st.lastRun?.finishedAt) return st;
    if (Date.now() > deadline)
      throw new Error(
        `the run did not finish within ${timeoutMs / 1000} s; see ${join(clusterDir(), 'operator.log')}`,
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function main(): Promise<void> {
  const scale = arg('scale', 20_000);
  const tenants = arg('tenants', 12);
  const t0 = Date.now();

  step(1, 'Local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) with the CRDs');
  const cluster = await clusterUp((l) => say('  ' + l));
  const kc = cluster.kubeconfigPath;

  step(
    2,
    `Nokta databases: legacy MariaDB '${LEGACY_DB}' and new PostgreSQL '${TARGET_DB}', ${scale} orders over ${tenants} tenants`,
  );
  await recreateDatabases();
  const g0 = Date.now();
  const gen = await generateNokta(LEGACY_URL, TARGET_URL, { scale, tenants, seed: 'demo', inject: true });
  say(
    `  filled in ${((Date.now() - g0) / 1000).toFixed(1)} s: ${gen.counts.orders} orders, ${gen.counts.customers} customers, ${gen.counts.drivers} drivers, ${gen.counts.calls} calls, ${gen.counts.invoices} invoices`,
  );
  say(`  injected differences the reconciliation must find:`);
  for (const inj of gen.injections)
    for (const k of inj.expected)
      say(
        `    - ${inj.kind.padEnd(17)} ${inj.family} tenant=${k.tenant} key=${k.key} (${k.kind}${k.columns ? `: ${k.columns.join(',')}` : ''})`,
      );

  step(3, 'The operator, in the background');
  kubectl(kc, ['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${NAMESPACE} }\n`);
  for (const [name, url] of [
    ['nokta-legacy-db', LEGACY_URL],
    ['nokta-new-db', TARGET_URL],
  ] as const) {
    kubectl(
      kc,
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: NAMESPACE },
        stringData: { url },
      }),
    );
  }
  const pid = startOperator(kc);
  say(`  operator pid ${pid}, log ${join(clusterDir(), 'operator.log')}`);

  step(4, 'Apply the Nokta Reconciliation (samples/nokta/reconciliation-nokta.yaml) and follow its status');
  const manifest = readFileSync(join(repoRoot(), 'samples', 'nokta', 'reconciliation-nokta.yaml'), 'utf8');
  const doc = parseAllDocuments(manifest)
    .map((d) => d.toJSON() as Reconciliation)
    .find((d) => d?.kind === 'Reconciliation');
  if (!doc) throw new Error('samples/nokta/reconciliation-nokta.yaml has no Reconciliation');
  doc.metadata.namespace = NAMESPACE;
  doc.metadata.annotations = {
    ...(doc.metadata.annotations ?? {}),
    'cutover.nokta.io/rerun': new Date().toISOString().replace(/[:.]/g, '-'),
  };
  kubectl(
    kc,
    ['apply', '--server-side', '--force-conflicts', '--field-manager=cutover-demo', '-f', '-'],
    JSON.stringify(doc),
  );
  const st = await follow(kc, doc.metadata.name, 600_000);

  step(
    5,
    `Result: ${st.lastRun?.verdict ?? '?'} — ${st.summary?.passed ?? 0}/${st.summary?.checks ?? 0} checks passed, ${st.summary?.rowsCompared ?? 0} rows compared, max variance ${st.summary?.maxVariancePercent ?? 0}%`,
  );
  if (st.lastRun?.error) say(`  error: ${st.lastRun.error}`);
  for (const c of st.checks ?? []) {
    say(
      `  ${(c.verdict ?? '').padEnd(17)} ${String(c.name).padEnd(28)} variance ${String(c.variancePercent ?? 0).padStart(9)}%  legacy=${c.legacyValue ?? '-'} new=${c.targetValue ?? '-'}${c.worstTenant ? `  worst tenant ${c.worstTenant}` : ''}`,
    );
    for (const k of c.differingKeys ?? [])
      say(
        `      ${k.kind} key ${k.key} tenant ${k.tenant}${k.columns?.length ? ` columns ${k.columns.join(',')}` : ''}`,
      );
  }
  say(kubectl(kc, ['get', 'cutover-all', '-A']).trimEnd().replace(/^/gm, '  '));
  say(`\nDone in ${((Date.now() - t0) / 1000).toFixed(0)} s. Try next:`);
  say(`  export KUBECONFIG=${kc}`);
  say(`  kubectl -n ${NAMESPACE} get recon ${doc.metadata.name} -o yaml        # the full status`);
  say(
    `  kubectl -n ${NAMESPACE} get configmap ${st.reportConfigMap ?? `${doc.metadata.name}-report`} -o jsonpath='{.data.report\\.json}'   # every differing key`,
  );
  say(
    `  kubectl -n ${NAMESPACE} annotate recon ${doc.metadata.name} cutover.nokta.io/rerun=$(date +%s) --overwrite   # rerun after remediation`,
  );
  say(
    `  kubectl -n ${NAMESPACE} apply -f samples/   # the other Nokta samples (canary, cutover, per-family reconciliations on their schedules)`,
  );
  say(
    `  kubectl -n ${NAMESPACE} annotate recon pos-orders cutover.nokta.io/rerun=now   # run a scheduled one now`,
  );
  say(
    `  node dist/src/cli/main.js reconcile -f samples/nokta/reconciliation-nokta.yaml --legacy-url ${LEGACY_URL} --target-url ${TARGET_URL}`,
  );
  say(`  npm run cluster:down   # stop the control plane and the operator`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
