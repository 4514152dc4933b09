/**
 * End to end: the operator process, run as its own ServiceAccount with the least-privilege RBAC of
 * deploy/operator, drives Reconciliations applied with kubectl against real MariaDB and PostgreSQL
 * databases filled by the Nokta generator with injected differences: inline runs, reruns (one run
 * per token, never a second), a database that is down, and a run sharded across an Indexed Job
 * whose pods the test pod runner runs — with the operator killed at chosen points (after the
 * claim of a run, after the Job exists, after the shard results were read: CUTOVER_CRASH_AT).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { useCluster, type TestCluster } from '../support/cluster.js';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../support/databases.js';
import { startPodRunner, RUN_LABEL, type PodRunner } from '../support/pod-runner.js';
import { repoRoot } from '../../src/devenv/devenv-state.js';
import { generateNokta, type GenerateResult } from '../../src/devenv/nokta-data/generator.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import { operatorIdentity, type OperatorIdentity } from '../support/operator-identity.js';
import { followOperator } from '../support/api-usage.js';
import type { Reconciliation, ReconciliationStatus } from '../../src/api/index.js';

type Doc = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

function noktaManifest(): Reconciliation {
  const text = readFileSync(join(repoRoot(), 'samples', 'nokta', 'reconciliation-nokta.yaml'), 'utf8');
  const doc = parseAllDocuments(text)
    .map((d) => d.toJSON() as Reconciliation)
    .find((d) => d?.kind === 'Reconciliation');
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
  return (st.checks?.find((c) => c.name === check)?.differingKeys ?? [])
    .map((k) => `${k.tenant}/${k.key}/${k.kind}`)
    .sort();
}

describe('e2e: Reconciliation controller (operator process, kubectl, real databases)', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let ns: string;
  let legacy: TestDatabase;
  let target: TestDatabase;
  let gen: GenerateResult;
  let operator: OperatorProcess | undefined;
  let identity: OperatorIdentity;
  let operatorKubeconfig: string;
  let shardKubeconfig: string;
  let runner: PodRunner | undefined;

  const kubectlOk = async (args: string[], input?: string): Promise<string> => {
    const r = await cluster.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const getStatus = async (name: string): Promise<ReconciliationStatus> =>
    (
      JSON.parse(await kubectlOk(['get', 'reconciliation', name, '-n', ns, '-o', 'json'])) as {
        status?: ReconciliationStatus;
      }
    ).status ?? {};
  const waitStatus = async (
    name: string,
    done: (s: ReconciliationStatus) => boolean,
    timeoutMs = 120_000,
  ): Promise<ReconciliationStatus> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await getStatus(name);
      if (done(st)) return st;
      if (Date.now() > deadline)
        throw new Error(
          `timed out; status ${JSON.stringify(st)}\noperator log:\n${operator?.output().slice(-4000) ?? ''}`,
        );
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  const apply = async (recon: Reconciliation): Promise<void> => {
    recon.metadata.namespace = ns;
    await kubectlOk(
      ['apply', '--server-side', '--force-conflicts', '--field-manager=e2e', '-f', '-'],
      JSON.stringify(recon),
    );
  };
  /** The operator as its ServiceAccount; `crashAt` makes it kill itself at that point (CUTOVER_CRASH_AT). */
  const runOperator = (crashAt?: string): OperatorProcess => {
    const op = startOperator(
      [
        '--kubeconfig',
        operatorKubeconfig,
        '--namespaces',
        ns,
        '--leader-election-namespace',
        ns,
        '--lease-duration',
        '4s',
        '--renew-deadline',
        '3s',
        '--retry-period',
        '1s',
      ],
      crashAt ? { CUTOVER_CRASH_AT: crashAt } : {},
    );
    followOperator('e2e/reconciliation', op);
    return op;
  };
  /** Runs an operator that kills itself at `point`; resolves once it has (SIGKILL, exit code null). */
  const crashAt = async (point: string, act: () => Promise<void>): Promise<void> => {
    await operator?.stop();
    const crashing = runOperator(point);
    operator = crashing;
    await act();
    const deadline = Date.now() + 180_000;
    const code = await Promise.race([
      crashing.exited(),
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), deadline - Date.now())),
    ]);
    assert.equal(
      code,
      null,
      `the operator was to kill itself at ${point}:\n${crashing.output().slice(-3000)}`,
    );
    assert.ok(
      crashing.lines().some((l) => l.msg === 'crash point reached: killing the process' && l.point === point),
      `it died at ${point}`,
    );
    operator = undefined;
  };
  const eventReasons = async (name: string): Promise<string[]> => {
    const evs = JSON.parse(await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '-o', 'json'])) as {
      items: Array<{ reason: string; regarding: { name: string }; series?: { count: number } }>;
    };
    return evs.items
      .filter((e) => e.regarding.name === name)
      .flatMap((e) => Array.from({ length: e.series?.count ?? 1 }, () => e.reason));
  };
  const runsCounted = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${operator?.port() ?? 0}/metrics`)).text();
    return [
      ...text.matchAll(
        new RegExp(
          `^cutover_reconciliation_runs_total\\{namespace="${ns}",reconciliation="${name}",verdict="[A-Za-z]+"\\} (\\d+)`,
          'gm',
        ),
      ),
    ].reduce((a, m) => a + Number(m[1]), 0);
  };

  before(async function () {
    cluster = await useCluster();
    await cluster.applyCrds();
    ns = await cluster.createNamespace('e2e-recon');
    [legacy, target] = await Promise.all([
      createMysqlDatabase('e2e_legacy'),
      createPostgresDatabase('e2e_target'),
    ]);
    gen = await generateNokta(legacy.url, target.url, { scale: 3000, tenants: 5, seed: 'e2e', inject: true });

    // The operator's identity gets exactly deploy/operator/rbac.yaml: ClusterRole bound to a
    // ServiceAccount of this namespace, and the leader-election Role in this namespace.
    identity = await operatorIdentity(cluster, ns);
    operatorKubeconfig = identity.kubeconfig;
    await kubectlOk([
      'create',
      'rolebinding',
      'shard',
      '-n',
      ns,
      '--clusterrole=cutover-reconciliation-shard',
      `--serviceaccount=${ns}:reconcile-shard`,
    ]);
    shardKubeconfig = await cluster.restrictedKubeconfig(ns, 'reconcile-shard');

    for (const [name, url] of [
      ['nokta-legacy-db', legacy.url],
      ['nokta-new-db', target.url],
      ['down-db', 'mysql://root@127.0.0.1:1/nothing'],
    ]) {
      await kubectlOk([
        'create',
        'secret',
        'generic',
        name ?? '',
        '-n',
        ns,
        `--from-literal=url=${url ?? ''}`,
      ]);
    }
    operator = runOperator();
  });

  after(async function () {
    await operator?.stop();
    await runner?.stop();
    await identity?.cleanup();
    await cluster?.deleteNamespace(ns);
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
    // kstatus and Argo CD see a Failed run as Failed/Degraded: Stalled stays until a new run.
    assert.equal(inline.conditions?.find((c) => c.type === 'Stalled')?.status, 'True');
    assert.equal(inline.conditions?.find((c) => c.type === 'Stalled')?.reason, 'Failed');
    assert.equal(
      inline.conditions?.find((c) => c.type === 'Reconciling'),
      undefined,
    );
    assert.equal(inline.observedGeneration, 1);
    // The full report is in a ConfigMap owned by the Reconciliation.
    const cm = JSON.parse(
      await kubectlOk(['get', 'configmap', inline.reportConfigMap ?? 'missing', '-n', ns, '-o', 'json']),
    ) as { data: Record<string, string>; metadata: { ownerReferences: Array<{ kind: string }> } };
    assert.equal(cm.metadata.ownerReferences[0]?.kind, 'Reconciliation');
    const report = JSON.parse(cm.data['report.json'] ?? '{}') as { verdict: string; checks: unknown[] };
    assert.equal(report.verdict, 'Failed');
    assert.equal(report.checks.length, inline.checks?.length);
    // and for people, as Markdown beside it
    assert.match(cm.data['report.md'] ?? '', /^# Reconciliation report: Failed$/m);
    // People see it in kubectl get and in events.
    const table = await kubectlOk(['get', 'recon', '-n', ns]);
    assert.match(
      table,
      new RegExp(
        `nokta-full\\s+Failed\\s+${inline.summary?.maxVariancePercent ?? 'missing'}\\s+${inline.summary?.worstTenant ?? 'missing'}`,
      ),
    );
    const events = await kubectlOk([
      'get',
      'events.events.k8s.io',
      '-n',
      ns,
      '--field-selector',
      'reason=RunFailed',
      '-o',
      'json',
    ]);
    assert.match(events, /checks passed/);
    // Prometheus sees what the run found.
    const metrics = await (await fetch(`http://127.0.0.1:${operator?.port() ?? 0}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find((l) =>
        l.startsWith(
          `cutover_reconciliation_variance_percent{namespace="${ns}",reconciliation="nokta-full",check="drivers-rows"}`,
        ),
      );
    assert.ok(line, 'the variance of drivers-rows is exported');
    assert.ok(
      Math.abs(
        Number(line.split(' ').pop()) -
          (inline.checks?.find((c) => c.name === 'drivers-rows')?.variancePercent ?? NaN),
      ) < 1e-5,
      line,
    );
    assert.match(
      metrics,
      new RegExp(
        `cutover_reconciliation_runs_total\\{namespace="${ns}",reconciliation="nokta-full",verdict="Failed"\\} 1`,
      ),
    );
    // No credential reaches status or events.
    assert.doesNotMatch(JSON.stringify(inline) + events, /mysql:\/\/|postgres:\/\//);
  });

  it('reruns on the rerun annotation, once per token: one run starts, no second one ever', async function () {
    await kubectlOk([
      'annotate',
      'recon',
      'nokta-full',
      '-n',
      ns,
      'cutover.nokta.io/rerun=after-remediation',
      '--overwrite',
    ]);
    const st = await waitStatus(
      'nokta-full',
      (s) => s.lastRerunToken === 'after-remediation' && Boolean(s.lastRun?.finishedAt),
    );
    assert.notEqual(st.lastRun?.id, inline.lastRun?.id);
    assert.equal(st.runsCompleted, 2);
    // More syncs of the same token (a label change, a resync) start nothing.
    await kubectlOk(['label', 'recon', 'nokta-full', '-n', ns, 'touched=1']);
    await new Promise((r) => setTimeout(r, 4000));
    const after = await getStatus('nokta-full');
    assert.equal(after.runsCompleted, 2, 'the same token does not run again');
    assert.equal(after.lastRun?.id, st.lastRun?.id);
    const reasons = await eventReasons('nokta-full');
    assert.equal(
      reasons.filter((r) => r === 'RunStarted').length,
      2,
      `two runs ever started (the first and the rerun): ${reasons.join(', ')}`,
    );
    assert.equal(reasons.filter((r) => r === 'RunFailed').length, 2);
    assert.equal(await runsCounted('nokta-full'), 2, 'the metrics count two runs');
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
    assert.equal(
      st.conditions?.find((c) => c.type === 'Stalled')?.reason,
      'RunError',
      'an Error run keeps Stalled',
    );
    assert.notEqual(st.conditions?.find((c) => c.type === 'Passed')?.status, 'True');
    assert.match(
      st.nextRunAt ?? (await waitStatus('legacy-down', (s) => Boolean(s.nextRunAt))).nextRunAt ?? '',
      /^\d{4}-/,
      'a retry is planned',
    );
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
    assert.match(
      waiting.conditions?.find((c) => c.type === 'Ready')?.message ?? '',
      /Cutover nokta has not switched traffic yet/,
    );
    assert.equal(waiting.lastRun, undefined);
    // The traffic switch happened 4 hours and 5 seconds ago: the +4h run is due at once (the
    // Cutover's watch event wakes the Reconciliation), the +24h one is planned.
    const switchedAt = new Date(Date.now() - 4 * 3_600_000 - 5_000);
    await kubectlOk([
      'patch',
      'cutovers',
      'nokta',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { switchedAt: switchedAt.toISOString() } }),
    ]);
    const st = await waitStatus(
      'post-switch',
      (s) => Boolean(s.lastRun?.finishedAt) && Boolean(s.nextRunAt),
      60_000,
    );
    assert.equal(st.lastRun?.trigger, 'CutoverOffset:+4h');
    assert.deepEqual(st.completedOffsets, ['+4h']);
    assert.equal(new Date(st.nextRunAt ?? '').getTime(), switchedAt.getTime() + 24 * 3_600_000);
    assert.equal(st.runsCompleted, 1);
  });

  it("compares up to the Cutover's status.frozenAt (until: frozenAt), and the window the Cutover sets to verify a replay", async function () {
    const cutover = parseAllDocuments(readFileSync(join(repoRoot(), 'samples', 'cutover-nokta.yaml'), 'utf8'))
      .map((d) => d.toJSON() as Doc)
      .find((d) => d?.kind === 'Cutover');
    assert.ok(cutover, 'samples/cutover-nokta.yaml has a Cutover');
    cutover.metadata = { name: 'frozen', namespace: ns };
    await kubectlOk(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], JSON.stringify(cutover));
    // Only the orders checks (both sides tables with created_at).
    const recon = noktaManifest();
    recon.metadata = { name: 'until-frozen' };
    recon.spec.checks = recon.spec.checks.filter(
      (c) => c.name === 'orders-count' || c.name === 'orders-financial-totals',
    );
    recon.spec.window = {
      column: 'created_at',
      legacyTimeZone: '+03:00',
      until: 'frozenAt',
      cutoverRef: { name: 'frozen' },
    };
    await apply(recon);
    // The Cutover has not frozen legacy writes: the run is Error and says what it waits for.
    const early = await waitStatus('until-frozen', (s) => Boolean(s.lastRun?.finishedAt));
    assert.equal(early.lastRun?.verdict ?? early.phase, 'Error');
    assert.match(JSON.stringify(early), /has not frozen legacy writes yet/);
    const unbounded = await getStatus('until-frozen');
    // Legacy froze before any order was written: the window holds no row on either side.
    await kubectlOk([
      'patch',
      'cutovers',
      'frozen',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { frozenAt: '2000-01-01T00:00:00Z' } }),
    ]);
    await kubectlOk([
      'annotate',
      '--overwrite',
      'reconciliation',
      'until-frozen',
      '-n',
      ns,
      'cutover.nokta.io/rerun=frozen-1',
    ]);
    const bounded = await waitStatus(
      'until-frozen',
      (s) => Boolean(s.lastRun?.finishedAt) && s.lastRun?.id !== unbounded.lastRun?.id,
    );
    const count = (st: ReconciliationStatus): [string?, string?] => {
      const c = st.checks?.find((x) => x.name === 'orders-count');
      return [c?.legacyValue, c?.targetValue];
    };
    assert.equal(bounded.lastRun?.verdict, 'Passed', JSON.stringify(bounded.checks));
    assert.deepEqual(count(bounded), ['0', '0'], 'no order before the freeze on either side');
    // The window the Cutover sets as an annotation (here wider than every order) replaces the
    // ends: every order is compared again and the injected missing and extra orders show.
    await kubectlOk([
      'annotate',
      '--overwrite',
      'reconciliation',
      'until-frozen',
      '-n',
      ns,
      'cutover.nokta.io/window=2000-01-01T00:00:00Z/2100-01-01T00:00:00Z',
      'cutover.nokta.io/rerun=frozen-2',
    ]);
    const wide = await waitStatus(
      'until-frozen',
      (s) => Boolean(s.lastRun?.finishedAt) && s.lastRun?.id !== bounded.lastRun?.id,
    );
    const [legacyOrders, targetOrders] = count(wide);
    assert.ok(Number(legacyOrders) > 0, JSON.stringify(wide.checks));
    assert.notEqual(legacyOrders, targetOrders, 'the injected missing and extra orders are counted');
  });

  it('an inline run survives an operator killed right after claiming it: the next operator resumes it, once', async function () {
    const recon = noktaManifest();
    recon.metadata = { name: 'crash-inline' };
    await crashAt(`reconciliation:after-claim@${ns}/crash-inline`, () => apply(recon));
    const claimed = await getStatus('crash-inline');
    assert.equal(claimed.phase, 'Running');
    assert.ok(
      claimed.lastRun?.id && !claimed.lastRun.finishedAt,
      'the claim is in status, the run is not finished',
    );
    operator = runOperator();
    const st = await waitStatus('crash-inline', (s) => Boolean(s.lastRun?.finishedAt));
    assert.equal(st.lastRun?.id, claimed.lastRun?.id, 'the same run, resumed');
    assert.equal(st.runsCompleted, 1);
    assert.equal(st.lastRun?.verdict, inline.lastRun?.verdict);
    const reasons = await eventReasons('crash-inline');
    assert.deepEqual(reasons.filter((r) => r.startsWith('Run')).sort(), [
      'RunFailed',
      'RunResumed',
      'RunStarted',
    ]);
  });

  it('shards a run across an Indexed Job, survives the operator killed after the Job exists and after the shard results, and merges to the inline result', async function () {
    runner = startPodRunner(cluster.kc, { namespace: ns, extraEnv: { KUBECONFIG: shardKubeconfig } });
    const recon = noktaManifest();
    recon.metadata = { name: 'nokta-sharded' };
    recon.spec.parallelism = {
      mode: 'IndexedJob',
      shards: 3,
      shardBy: 'Tenant',
      serviceAccountName: 'reconcile-shard',
      podLabels: { [RUN_LABEL]: 'true' },
    };
    // 1. Killed right after the shard Job exists.
    await crashAt(`reconciliation:after-job@${ns}/nokta-sharded`, () => apply(recon));
    const started = await getStatus('nokta-sharded');
    assert.equal(started.phase, 'Running');
    const jobsOf = async (): Promise<
      Array<{
        metadata: { name: string };
        spec: {
          completionMode: string;
          completions: number;
          template: {
            spec: {
              securityContext?: Record<string, unknown>;
              containers: Array<{ image: string; securityContext?: Record<string, unknown> }>;
            };
          };
        };
        status?: { succeeded?: number };
      }>
    > =>
      (
        JSON.parse(
          await kubectlOk([
            'get',
            'jobs',
            '-n',
            ns,
            '-l',
            'cutover.nokta.io/reconciliation=nokta-sharded',
            '-o',
            'json',
          ]),
        ) as { items: [] }
      ).items;
    assert.equal((await jobsOf()).length, 1, 'the Job exists');
    // 2. The next operator is killed once it has read every shard result, before recording the run.
    await crashAt(`reconciliation:after-shard-results@${ns}/nokta-sharded`, async () => undefined);
    const read = await getStatus('nokta-sharded');
    assert.equal(read.lastRun?.id, started.lastRun?.id);
    assert.equal(read.lastRun?.finishedAt, undefined, 'killed before the result was recorded');
    // 3. A third operator records it.
    operator = runOperator();
    const st = await waitStatus('nokta-sharded', (s) => Boolean(s.lastRun?.finishedAt), 180_000);
    assert.equal(st.lastRun?.id, started.lastRun?.id, 'the restarted operators finished the same run');
    const jobs = await jobsOf();
    assert.equal(jobs.length, 1, 'one Job, even across the crashes');
    assert.equal(jobs[0]?.spec.completionMode, 'Indexed');
    assert.equal(jobs[0]?.spec.completions, 3);
    // Pod Security "restricted" by default, the operator's one image.
    assert.deepEqual(jobs[0]?.spec.template.spec.securityContext, {
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(jobs[0]?.spec.template.spec.containers[0]?.securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
    });
    assert.match(
      jobs[0]?.spec.template.spec.containers[0]?.image ?? '',
      /^ghcr\.io\/nokta\/cutover-operator:\d/,
    );
    assert.deepEqual(st.shards, { total: 3, succeeded: 3, failed: 0 });
    assert.equal(st.runsCompleted, 1);
    assert.equal(st.lastRun?.verdict, inline.lastRun?.verdict);
    for (const check of ['orders-rows', 'drivers-rows'])
      assert.deepEqual(foundKeys(st, check), foundKeys(inline, check), check);
    const byName = (s: ReconciliationStatus): Record<string, string | undefined> =>
      Object.fromEntries(
        (s.checks ?? [])
          .filter((c) => c.name !== 'orders-spot-check')
          .map((c): [string, string] => [c.name ?? '', `${c.verdict} ${c.legacyValue} ${c.targetValue}`]),
      );
    assert.deepEqual(
      byName(st),
      byName(inline),
      'every aggregate check merges to the same values as the inline run',
    );
    const reasons = await eventReasons('nokta-sharded');
    assert.equal(reasons.filter((r) => r === 'RunStarted').length, 1);
    assert.equal(reasons.filter((r) => r === 'RunFailed').length, 1);
  });
});
