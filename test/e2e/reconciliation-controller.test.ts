/**
 * End to end: the operator process, run with the least-privilege RBAC of deploy/operator, drives
 * Reconciliations applied with kubectl against real MariaDB and PostgreSQL databases filled by
 * the Nokta generator with injected differences: inline runs, reruns, a database that is down,
 * and a run sharded across an Indexed Job whose pods the test pod runner runs — including a crash
 * of the operator in the middle of the sharded run.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { useCluster, type TestCluster } from '../support/cluster.js';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../support/databases.js';
import { startPodRunner, RUN_LABEL, type PodRunner } from '../support/pod-runner.js';
import { repoRoot } from '../../src/devenv/devenv-state.js';
import { generateNokta, type GenerateResult } from '../../src/reconciliation/nokta/generator.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import type { Reconciliation, ReconciliationStatus } from '../../src/api/index.js';

type Doc = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

function rbacDocs(): Doc[] {
  return parseAllDocuments(readFileSync(join(repoRoot(), 'deploy', 'operator', 'rbac.yaml'), 'utf8')).map((d) => d.toJSON() as Doc);
}

function noktaManifest(): Reconciliation {
  const text = readFileSync(join(repoRoot(), 'samples', 'nokta', 'reconciliation-nokta.yaml'), 'utf8');
  const doc = parseAllDocuments(text).map((d) => d.toJSON() as Reconciliation).find((d) => d?.kind === 'Reconciliation');
  if (!doc) throw new Error('no Reconciliation in samples/nokta/reconciliation-nokta.yaml');
  return doc;
}

function expectedKeys(gen: GenerateResult, family: 'pos_orders' | 'drivers'): string[] {
  return gen.injections
    .filter((i) => i.family === family)
    .flatMap((i) => i.expected)
    .map((k) => `${k.tenant}/${k.key}/${k.kind}`)
    .sort();
}

function foundKeys(st: ReconciliationStatus, check: string): string[] {
  return (st.checks?.find((c) => c.name === check)?.differingKeys ?? []).map((k) => `${k.tenant}/${k.key}/${k.kind}`).sort();
}

describe('e2e: Reconciliation controller (operator process, kubectl, real databases)', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let ns: string;
  let legacy: TestDatabase;
  let target: TestDatabase;
  let gen: GenerateResult;
  let operator: OperatorProcess | undefined;
  let operatorKubeconfig: string;
  let shardKubeconfig: string;
  let runner: PodRunner | undefined;

  const kubectlOk = async (args: string[], input?: string): Promise<string> => {
    const r = await cluster.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const getStatus = async (name: string): Promise<ReconciliationStatus> =>
    (JSON.parse(await kubectlOk(['get', 'reconciliation', name, '-n', ns, '-o', 'json'])) as { status?: ReconciliationStatus }).status ?? {};
  const waitStatus = async (name: string, done: (s: ReconciliationStatus) => boolean, timeoutMs = 120_000): Promise<ReconciliationStatus> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await getStatus(name);
      if (done(st)) return st;
      if (Date.now() > deadline) throw new Error(`timed out; status ${JSON.stringify(st)}\noperator log:\n${operator?.output().slice(-4000) ?? ''}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  const apply = async (recon: Reconciliation): Promise<void> => {
    recon.metadata.namespace = ns;
    await kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager=e2e', '-f', '-'], JSON.stringify(recon));
  };
  const runOperator = (): OperatorProcess =>
    startOperator(['--kubeconfig', operatorKubeconfig, '--namespaces', ns, '--leader-election-namespace', ns, '--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '1s']);

  before(async function () {
    cluster = await useCluster();
    await cluster.applyCrds();
    ns = await cluster.createNamespace('e2e-recon');
    [legacy, target] = await Promise.all([createMysqlDatabase('e2e_legacy'), createPostgresDatabase('e2e_target')]);
    gen = await generateNokta(legacy.url, target.url, { scale: 3000, tenants: 5, seed: 'e2e', inject: true });

    // The operator's identity gets exactly deploy/operator/rbac.yaml: ClusterRole bound to a
    // ServiceAccount of this namespace, and the leader-election Role in this namespace.
    for (const doc of rbacDocs()) {
      if (doc.kind === 'ServiceAccount') continue;
      const copy = structuredClone(doc) as Doc & { subjects?: Array<{ namespace?: string }>; metadata: { name: string; namespace?: string } };
      if (copy.metadata.namespace) copy.metadata.namespace = ns;
      if (copy.kind === 'ClusterRoleBinding') copy.metadata.name = `${copy.metadata.name}-${ns}`;
      for (const s of copy.subjects ?? []) s.namespace = ns;
      await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', '-'], JSON.stringify(copy));
    }
    operatorKubeconfig = await cluster.restrictedKubeconfig(ns, 'cutover-operator');
    await kubectlOk(['create', 'rolebinding', 'shard', '-n', ns, '--clusterrole=cutover-reconciliation-shard', `--serviceaccount=${ns}:reconcile-shard`]);
    shardKubeconfig = await cluster.restrictedKubeconfig(ns, 'reconcile-shard');

    for (const [name, url] of [
      ['nokta-legacy-db', legacy.url],
      ['nokta-new-db', target.url],
      ['down-db', 'mysql://root@127.0.0.1:1/nothing'],
    ]) {
      await kubectlOk(['create', 'secret', 'generic', name ?? '', '-n', ns, `--from-literal=url=${url ?? ''}`]);
    }
    operator = runOperator();
  });

  after(async function () {
    await operator?.stop();
    await runner?.stop();
    await cluster?.deleteNamespace(ns);
    await cluster?.kubectl(['delete', 'clusterrolebinding', `cutover-operator-${ns}`, '--ignore-not-found']);
    await Promise.all([legacy?.drop(), target?.drop()]);
  });

  let inline: ReconciliationStatus;

  it('runs the Nokta Reconciliation inline and reports every injected difference with its tenant and key', async function () {
    await apply(noktaManifest());
    inline = await waitStatus('nokta-full', (s) => Boolean(s.lastRun?.finishedAt));
    assert.equal(inline.phase, 'Failed', JSON.stringify(inline.lastRun));
    assert.equal(inline.lastRun?.verdict, 'Failed');
    assert.deepEqual(foundKeys(inline, 'orders-rows'), expectedKeys(gen, 'pos_orders'));
    assert.deepEqual(foundKeys(inline, 'drivers-rows'), expectedKeys(gen, 'drivers'));
    assert.equal(inline.conditions?.find((c) => c.type === 'Failed')?.status, 'True');
    assert.equal(inline.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
    assert.equal(inline.observedGeneration, 1);
    // The full report is in a ConfigMap owned by the Reconciliation.
    const cm = JSON.parse(await kubectlOk(['get', 'configmap', inline.reportConfigMap ?? 'missing', '-n', ns, '-o', 'json'])) as { data: Record<string, string>; metadata: { ownerReferences: Array<{ kind: string }> } };
    assert.equal(cm.metadata.ownerReferences[0]?.kind, 'Reconciliation');
    const report = JSON.parse(cm.data['report.json'] ?? '{}') as { verdict: string; checks: unknown[] };
    assert.equal(report.verdict, 'Failed');
    assert.equal(report.checks.length, inline.checks?.length);
    // People see it in kubectl get and in events.
    const table = await kubectlOk(['get', 'recon', '-n', ns]);
    assert.match(table, new RegExp(`nokta-full\\s+Failed\\s+${inline.summary?.maxVariancePercent ?? 'missing'}\\s+${inline.summary?.worstTenant ?? 'missing'}`));
    const events = await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '--field-selector', 'reason=RunFailed', '-o', 'json']);
    assert.match(events, /checks passed/);
    // Prometheus sees what the run found.
    const metrics = await (await fetch(`http://127.0.0.1:${operator?.port() ?? 0}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith(`cutover_reconciliation_variance_percent{namespace="${ns}",reconciliation="nokta-full",check="drivers-rows"}`));
    assert.ok(line, 'the variance of drivers-rows is exported');
    assert.ok(Math.abs(Number(line.split(' ').pop()) - (inline.checks?.find((c) => c.name === 'drivers-rows')?.variancePercent ?? NaN)) < 1e-5, line);
    assert.match(metrics, new RegExp(`cutover_reconciliation_runs_total\\{namespace="${ns}",reconciliation="nokta-full",verdict="Failed"\\} 1`));
    // No credential reaches status or events.
    assert.doesNotMatch(JSON.stringify(inline) + events, /mysql:\/\/|postgres:\/\//);
  });

  it('reruns on the rerun annotation, once per token', async function () {
    await kubectlOk(['annotate', 'recon', 'nokta-full', '-n', ns, 'cutover.nokta.io/rerun=after-remediation', '--overwrite']);
    const st = await waitStatus('nokta-full', (s) => s.lastRerunToken === 'after-remediation' && Boolean(s.lastRun?.finishedAt));
    assert.notEqual(st.lastRun?.id, inline.lastRun?.id);
    assert.equal(st.runsCompleted, 2);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await getStatus('nokta-full')).runsCompleted, 2, 'the same token does not run again');
  });

  it('a database that is down makes the run Error with the reason, never Passed', async function () {
    const recon = noktaManifest();
    recon.metadata = { name: 'legacy-down' };
    recon.spec.legacy = { engine: 'mysql', secretRef: { name: 'down-db', key: 'url' } };
    await apply(recon);
    const st = await waitStatus('legacy-down', (s) => Boolean(s.lastRun?.finishedAt));
    assert.equal(st.phase, 'Error');
    assert.equal(st.lastRun?.verdict, 'Error');
    assert.match(st.lastRun?.error ?? '', /legacy/);
    assert.match(st.lastRun?.error ?? '', /ECONNREFUSED|connect/i);
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.reason, 'RunError');
    assert.notEqual(st.conditions?.find((c) => c.type === 'Passed')?.status, 'True');
    assert.match(st.nextRunAt ?? (await waitStatus('legacy-down', (s) => Boolean(s.nextRunAt))).nextRunAt ?? '', /^\d{4}-/, 'a retry is planned');
  });

  it('stalls with InvalidSpec on what only the operator can catch: a cron with no real time', async function () {
    const recon = noktaManifest();
    recon.metadata = { name: 'bad-cron' };
    recon.spec.schedule = { cron: '0 0 30 2 *' };
    await apply(recon);
    const st = await waitStatus('bad-cron', (s) => s.conditions?.some((c) => c.type === 'Stalled') ?? false);
    const stalled = st.conditions?.find((c) => c.type === 'Stalled');
    assert.equal(stalled?.reason, 'InvalidSpec');
    assert.match(stalled?.message ?? '', /spec\.schedule\.cron/);
    assert.equal(st.lastRun, undefined, 'nothing ran');
  });

  it("runs post-cutover checks at the Cutover's switch time plus each offset (T+4h now, T+24h planned)", async function () {
    const cutover = parseAllDocuments(readFileSync(join(repoRoot(), 'samples', 'cutover-nokta.yaml'), 'utf8'))
      .map((d) => d.toJSON() as Doc)
      .find((d) => d?.kind === 'Cutover');
    assert.ok(cutover, 'samples/cutover-nokta.yaml has a Cutover');
    cutover.metadata = { name: 'nokta', namespace: ns };
    await kubectlOk(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], JSON.stringify(cutover));
    const recon = noktaManifest();
    recon.metadata = { name: 'post-switch' };
    recon.spec.schedule = { cutoverRef: { name: 'nokta' }, offsets: ['+4h', '+24h'] };
    await apply(recon);
    const waiting = await waitStatus('post-switch', (s) => s.phase === 'Pending');
    assert.match(waiting.conditions?.find((c) => c.type === 'Ready')?.message ?? '', /Cutover nokta has not switched traffic yet/);
    assert.equal(waiting.lastRun, undefined);
    // The traffic switch happened 4 hours and 5 seconds ago: the +4h run is due at once (the
    // Cutover's watch event wakes the Reconciliation), the +24h one is planned.
    const switchedAt = new Date(Date.now() - 4 * 3_600_000 - 5_000);
    await kubectlOk(['patch', 'cutovers', 'nokta', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { switchedAt: switchedAt.toISOString() } })]);
    const st = await waitStatus('post-switch', (s) => Boolean(s.lastRun?.finishedAt) && Boolean(s.nextRunAt), 60_000);
    assert.equal(st.lastRun?.trigger, 'CutoverOffset:+4h');
    assert.deepEqual(st.completedOffsets, ['+4h']);
    assert.equal(new Date(st.nextRunAt ?? '').getTime(), switchedAt.getTime() + 24 * 3_600_000);
    assert.equal(st.runsCompleted, 1);
  });

  it('shards a run across an Indexed Job, survives an operator crash mid-run, and merges to the inline result', async function () {
    runner = startPodRunner(cluster.kc, { namespace: ns, extraEnv: { KUBECONFIG: shardKubeconfig } });
    const recon = noktaManifest();
    recon.metadata = { name: 'nokta-sharded' };
    recon.spec.parallelism = { mode: 'IndexedJob', shards: 3, shardBy: 'Tenant', serviceAccountName: 'reconcile-shard', podLabels: { [RUN_LABEL]: 'true' } };
    // Crash the operator as soon as the run has started, before the Job can finish.
    await apply(recon);
    const started = await waitStatus('nokta-sharded', (s) => s.phase === 'Running');
    await operator?.kill();
    operator = runOperator();
    const st = await waitStatus('nokta-sharded', (s) => Boolean(s.lastRun?.finishedAt), 180_000);
    assert.equal(st.lastRun?.id, started.lastRun?.id, 'the restarted operator finished the same run');
    const jobs = JSON.parse(await kubectlOk(['get', 'jobs', '-n', ns, '-l', 'cutover.nokta.io/reconciliation=nokta-sharded', '-o', 'json'])) as { items: Array<{ spec: { completionMode: string; completions: number } }> };
    assert.equal(jobs.items.length, 1, 'one Job, even across the crash');
    assert.equal(jobs.items[0]?.spec.completionMode, 'Indexed');
    assert.equal(jobs.items[0]?.spec.completions, 3);
    assert.deepEqual(st.shards, { total: 3, succeeded: 3, failed: 0 });
    assert.equal(st.lastRun?.verdict, inline.lastRun?.verdict);
    for (const check of ['orders-rows', 'drivers-rows']) assert.deepEqual(foundKeys(st, check), foundKeys(inline, check), check);
    const byName = (s: ReconciliationStatus): Record<string, string | undefined> => Object.fromEntries((s.checks ?? []).filter((c) => c.name !== 'orders-spot-check').map((c): [string, string] => [c.name ?? '', `${c.verdict} ${c.legacyValue} ${c.targetValue}`]));
    assert.deepEqual(byName(st), byName(inline), 'every aggregate check merges to the same values as the inline run');
  });
});
