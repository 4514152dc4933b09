import assert from 'node:assert/strict';
import {
  finishedStatus,
  idleStatus,
  invalidSpecStatus,
  resumedStatus,
  runningStatus,
  MAX_KEYS_IN_STATUS,
  MAX_TENANTS_IN_STATUS,
  type RunRecord,
} from '../../../src/controllers/reconciliation/status.js';
import { reconciliationEvents } from '../../../src/controllers/reconciliation/events.js';
import { shardJobTemplate } from '../../../src/controllers/reconciliation/shard-job.js';
import { buildJob } from '../../../src/actuators/workloads/jobs.js';
import { markSyncError, type KStatus } from '../../../src/runtime/conditions.js';
import type { Reconciliation, ReconciliationStatus } from '../../../src/api/index.js';
import type { RunResult, CheckResult } from '../../../src/reconciliation/index.js';
import { fitReport } from '../../../src/controllers/reconciliation/results-io.js';

const t0 = new Date('2026-03-10T02:10:00Z');
const t1 = new Date('2026-03-10T02:11:00Z');
const run: RunRecord = { id: 'o1abc', trigger: { kind: 'CutoverOffset', detail: '+4h' }, startedAt: t0 };

function check(
  name: string,
  verdict: CheckResult['verdict'],
  variance: number,
  tenants = 3,
  keys = 0,
): CheckResult {
  return {
    name,
    type: 'sum',
    verdict,
    variancePercent: variance,
    legacyValue: '100.00',
    targetValue: '99.00',
    worstTenant: 't1',
    thresholds: { remediatePercent: 0.5, failPercent: 1 },
    tenants: Array.from({ length: tenants }, (_, i) => ({
      tenant: `t${i}`,
      legacy: '10',
      target: '10',
      variancePercent: i === 1 ? variance : 0,
      verdict: i === 1 ? verdict : 'Passed',
    })),
    differingKeys: Array.from({ length: keys }, (_, i) => ({
      tenant: 't1',
      key: String(i),
      kind: 'changed' as const,
      columns: ['amount'],
    })),
  };
}
const result = (verdict: RunResult['verdict'], checks: CheckResult[], error?: string): RunResult => ({
  verdict,
  startedAt: t0.toISOString(),
  finishedAt: t1.toISOString(),
  rowsCompared: 1234,
  checks,
  ...(error ? { error } : {}),
});

describe('reconciliation status (pure)', function () {
  it('marks a started run Running and Reconciling, not Ready', function () {
    const st = runningStatus(undefined, run, 4, t0, 3);
    assert.equal(st.phase, 'Running');
    assert.equal(st.lastRun?.id, 'o1abc');
    assert.equal(st.lastRun?.finishedAt, undefined);
    assert.deepEqual(st.shards, { total: 3, succeeded: 0, failed: 0 });
    assert.equal(st.conditions?.find((c) => c.type === 'Reconciling')?.status, 'True');
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
    assert.equal(st.observedGeneration, 4);
  });

  it('records a passed run: Ready, Passed, the summary and the completed offset', function () {
    const st = finishedStatus(
      runningStatus(undefined, run, 1, t0),
      run,
      result('Passed', [check('orders', 'Passed', 0)]),
      { generation: 1, now: t1, reportConfigMap: 'r-report' },
    );
    assert.equal(st.phase, 'Passed');
    assert.equal(st.lastRun?.verdict, 'Passed');
    assert.equal(st.lastRun?.finishedAt, t1.toISOString());
    assert.deepEqual(st.completedOffsets, ['+4h']);
    assert.equal(st.summary?.rowsCompared, '1234');
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(st.conditions?.find((c) => c.type === 'Passed')?.status, 'True');
    assert.equal(
      st.conditions?.find((c) => c.type === 'Reconciling'),
      undefined,
    );
    assert.equal(st.reportConfigMap, 'r-report');
    assert.equal(st.runsCompleted, 1);
  });

  it('a failed run names the worst check and tenant, caps tenants and keys for the status', function () {
    const st = finishedStatus(
      undefined,
      run,
      result('Failed', [check('orders', 'Passed', 0), check('payments', 'Failed', 2.5, 80, 35)]),
      { generation: 1, now: t1 },
    );
    assert.equal(st.phase, 'Failed');
    assert.equal(st.summary?.worstCheck, 'payments');
    assert.equal(st.summary?.worstTenant, 't1');
    assert.equal(st.summary?.maxVariancePercent, '2.5');
    const payments = st.checks?.find((c) => c.name === 'payments');
    assert.equal(payments?.tenants?.length, MAX_TENANTS_IN_STATUS);
    assert.equal(payments?.tenants?.[0]?.tenant, 't1', 'worst tenant first');
    assert.equal(payments?.differingKeys?.length, MAX_KEYS_IN_STATUS);
    assert.equal(st.conditions?.find((c) => c.type === 'Failed')?.status, 'True');
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.reason, 'Failed');
  });

  it('shows the variance the verdict rests on: a row under the wrong tenant is 0 % in total, 100 % for the tenant', function () {
    const moved: CheckResult = {
      ...check('refunded-orders', 'Failed', 0),
      tenants: [
        { tenant: '3', legacy: '1', target: '0', variancePercent: 100, verdict: 'Failed' },
        { tenant: '4', legacy: '0', target: '1', variancePercent: 100, verdict: 'Failed' },
      ],
    };
    const st = finishedStatus(undefined, run, result('Failed', [check('orders', 'Passed', 0.1), moved]), {
      generation: 1,
      now: t1,
    });
    assert.equal(st.checks?.find((c) => c.name === 'refunded-orders')?.variancePercent, 100);
    assert.equal(st.summary?.maxVariancePercent, '100');
    assert.equal(st.summary?.worstCheck, 'refunded-orders');
  });

  it('an Error run is never Passed, keeps the previous verdict conditions and does not complete its offset', function () {
    const passed = finishedStatus(undefined, run, result('Passed', [check('orders', 'Passed', 0)]), {
      generation: 1,
      now: t1,
    });
    const rerun: RunRecord = { ...run, id: 'o2' };
    const st = finishedStatus(
      { ...passed, completedOffsets: [] },
      rerun,
      result('Error', [], 'legacy (mysql 127.0.0.1:3306/x): connect ECONNREFUSED'),
      { generation: 1, now: t1 },
    );
    assert.equal(st.phase, 'Error');
    assert.equal(st.lastRun?.verdict, 'Error');
    assert.match(st.lastRun?.error ?? '', /ECONNREFUSED/);
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.reason, 'RunError');
    assert.deepEqual(st.completedOffsets, []);
  });

  it('an invalid spec stalls with the message; idle status plans the next run', function () {
    const st = invalidSpecStatus(
      undefined,
      "spec.checks[0].legacy.table: 'x;drop' is not an identifier",
      2,
      t0,
    );
    assert.equal(st.conditions?.find((c) => c.type === 'Stalled')?.reason, 'InvalidSpec');
    const idle = idleStatus(st, 3, new Date('2026-03-11T02:00:00Z'), undefined, t1);
    assert.equal(idle.nextRunAt, '2026-03-11T02:00:00.000Z');
    assert.equal(
      idle.conditions?.find((c) => c.type === 'Stalled'),
      undefined,
    );
    assert.equal(idle.phase, 'Pending');
  });

  it('keeps Stalled for Failed, RemediationNeeded and Error runs (kstatus Failed, Argo CD Degraded) until a new run', function () {
    const cond = (st: ReconciliationStatus, type: string): string | undefined => {
      const c = st.conditions?.find((x) => x.type === type);
      return c ? `${c.status} ${c.reason ?? ''}` : undefined;
    };
    const failed = finishedStatus(
      runningStatus(undefined, run, 1, t0),
      run,
      result('Failed', [check('orders', 'Failed', 3)]),
      { generation: 1, now: t1 },
    );
    assert.equal(cond(failed, 'Stalled'), 'True Failed');
    assert.equal(cond(failed, 'Ready'), 'False Failed');
    assert.equal(cond(failed, 'Reconciling'), undefined);
    // Idle syncs after it keep it Stalled (they used to remove it).
    const idle = idleStatus(failed, 1, new Date('2026-03-11T02:00:00Z'), undefined, t1);
    assert.equal(cond(idle, 'Stalled'), 'True Failed');
    assert.equal(idle.phase, 'Failed');
    const remediation = finishedStatus(
      undefined,
      run,
      result('RemediationNeeded', [check('orders', 'RemediationNeeded', 0.7)]),
      { generation: 1, now: t1 },
    );
    assert.equal(cond(remediation, 'Stalled'), 'True RemediationNeeded');
    const error = finishedStatus(undefined, run, result('Error', [], 'connect ECONNREFUSED'), {
      generation: 1,
      now: t1,
    });
    assert.equal(cond(error, 'Stalled'), 'True RunError');
    assert.match(error.conditions?.find((c) => c.type === 'Stalled')?.message ?? '', /ECONNREFUSED/);
    // A new run clears it: Reconciling while it runs, then the new verdict.
    const rerun = runningStatus(idle, { ...run, id: 'r2' }, 1, t1);
    assert.equal(cond(rerun, 'Stalled'), undefined);
    assert.equal(cond(rerun, 'Reconciling'), 'True RunInProgress');
    const passed = finishedStatus(
      rerun,
      { ...run, id: 'r2' },
      result('Passed', [check('orders', 'Passed', 0)]),
      { generation: 1, now: t1 },
    );
    assert.equal(cond(passed, 'Ready'), 'True Passed');
    assert.equal(cond(passed, 'Stalled'), undefined);
  });

  it('replaces the conditions the runtime wrote for a failing sync at its next status write', function () {
    const passed = finishedStatus(undefined, run, result('Passed', [check('orders', 'Passed', 0)]), {
      generation: 1,
      now: t0,
    });
    // The API types conditions loosely (reason optional) until they follow metav1.Condition.
    const erroring = markSyncError(passed as unknown as KStatus, 1, t1, 'Secret not found');
    assert.equal(erroring.conditions?.find((c) => c.type === 'Ready')?.reason, 'SyncError');
    const idle = idleStatus(erroring, 1, undefined, undefined, t1);
    assert.equal(idle.conditions?.find((c) => c.type === 'Ready')?.reason, 'Passed');
    assert.equal(
      idle.conditions?.find((c) => c.type === 'Reconciling'),
      undefined,
    );
  });

  it('a resumed run says so in Reconciling, with the time (a claim of its own)', function () {
    const started = runningStatus(undefined, run, 1, t0);
    const resumed = resumedStatus(started, run, 1, t1);
    const rec = resumed.conditions?.find((c) => c.type === 'Reconciling');
    assert.equal(rec?.reason, 'RunResumed');
    assert.match(rec?.message ?? '', /resumed at 2026-03-10T02:11:00.000Z/);
    assert.equal(resumed.phase, 'Running');
    assert.notDeepEqual(
      resumedStatus(resumed, run, 1, new Date(t1.getTime() + 1000)),
      resumed,
      'every resume is a change',
    );
  });

  it('derives its Events from the status change, once: a repeated write of the same state sends nothing', function () {
    const obj = (status: ReconciliationStatus | undefined): Reconciliation => ({
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Reconciliation',
      metadata: { name: 'pos' },
      spec: {} as Reconciliation['spec'],
      ...(status ? { status } : {}),
    });
    const started = runningStatus(undefined, run, 1, t0, 3);
    const finished = finishedStatus(started, run, result('Failed', [check('orders', 'Failed', 2.5)]), {
      generation: 1,
      now: t1,
    });
    const reasons = (a: ReconciliationStatus | undefined, b: ReconciliationStatus): string[] =>
      reconciliationEvents(obj(a), obj(b)).map((e) => `${e.type} ${e.reason}`);
    assert.deepEqual(reasons(undefined, started), ['Normal RunStarted']);
    assert.match(
      reconciliationEvents(obj(undefined), obj(started))[0]?.note ?? '',
      /3 shards in the Indexed Job pos-o1abc/,
    );
    assert.deepEqual(reasons(started, finished), ['Warning RunFailed']);
    assert.match(
      reconciliationEvents(obj(started), obj(finished))[0]?.note ?? '',
      /^run o1abc Failed: 0\/1 checks passed; worst variance 2.5%/,
    );
    assert.deepEqual(reasons(finished, finished), [], 'nothing changed, nothing to say');
    assert.deepEqual(reasons(started, resumedStatus(started, run, 1, t1)), ['Normal RunResumed']);
    const invalid = invalidSpecStatus(finished, 'spec.schedule.cron: never fires', 2, t1);
    assert.deepEqual(reasons(finished, invalid), ['Warning InvalidSpec']);
    assert.deepEqual(reasons(invalid, invalid), []);
  });

  it('builds the shard Job through the one Job builder: named after the run, owned, restricted, with the operator image unless the spec names one', function () {
    const recon: Reconciliation = {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Reconciliation',
      metadata: { name: 'pos-orders', namespace: 'nokta', uid: 'u1' },
      spec: {
        legacy: { engine: 'mysql', secretRef: { name: 'legacy', key: 'url' } },
        target: { engine: 'postgres', secretRef: { name: 'new', key: 'url' } },
        parallelism: {
          mode: 'IndexedJob',
          shards: 4,
          pod: { tolerations: [{ key: 'batch', operator: 'Exists' }] },
        },
        checks: [],
      },
    };
    const owner = {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Reconciliation',
      name: 'pos-orders',
      uid: 'u1',
    };
    const job = buildJob(shardJobTemplate(recon, 'r1abc', owner, 4, 'registry.nokta.io/cutover:1.2.3'));
    assert.equal(job.metadata.name, 'pos-orders-r1abc');
    assert.equal(job.metadata.ownerReferences?.[0]?.uid, 'u1');
    assert.equal(job.metadata.labels?.['cutover.nokta.io/reconciliation'], 'pos-orders');
    assert.equal(job.spec?.completionMode, 'Indexed');
    assert.equal(job.spec?.completions, 4);
    assert.equal(job.spec?.backoffLimitPerIndex, 2);
    const pod = job.spec?.template.spec;
    assert.equal(pod?.containers[0]?.image, 'registry.nokta.io/cutover:1.2.3');
    assert.equal(pod?.containers[0]?.name, 'reconcile');
    assert.deepEqual(pod?.tolerations, [{ key: 'batch', operator: 'Exists' }]);
    assert.deepEqual(pod?.securityContext, {
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const env = Object.fromEntries((pod?.containers[0]?.env ?? []).map((e) => [e.name, e]));
    assert.deepEqual(env.CUTOVER_LEGACY_URL?.valueFrom, { secretKeyRef: { name: 'legacy', key: 'url' } });
    assert.deepEqual(env.POD_NAMESPACE?.valueFrom, { fieldRef: { fieldPath: 'metadata.namespace' } });
    const own = buildJob(
      shardJobTemplate(
        {
          ...recon,
          spec: { ...recon.spec, parallelism: { mode: 'IndexedJob', shards: 4, image: 'mine:1' } },
        },
        'r1abc',
        owner,
        4,
        'registry.nokta.io/cutover:1.2.3',
      ),
    );
    assert.equal(own.spec?.template.spec?.containers[0]?.image, 'mine:1');
  });

  it('fits an oversized report into a ConfigMap by cutting keys, and says so', function () {
    const big = result('Failed', [check('rows', 'Failed', 5, 10, 50_000)]);
    const { json, truncated } = fitReport(big, 200_000);
    assert.ok(truncated);
    assert.ok(json.length <= 200_000);
    const parsed = JSON.parse(json) as RunResult;
    assert.equal(parsed.checks[0]?.differingKeysTruncated, true);
    assert.equal(fitReport(result('Passed', [check('a', 'Passed', 0)])).truncated, false);
  });
});
