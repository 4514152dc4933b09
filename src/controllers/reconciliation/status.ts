/**
 * The Reconciliation's status as a pure function of what happened: a run started or resumed, a
 * run finished with a result, the controller is idle between runs, or the spec cannot run.
 * Results are capped for the status (the full report goes to a ConfigMap): the worst tenants and
 * the first differing keys of each check.
 *
 * Phase and the kstatus conditions are derived from the last run every time the status is
 * written (`withDerivedConditions`), with the runtime's helpers, so whatever was there before (a
 * SyncError the runtime wrote, an InvalidSpec stall of an earlier generation) is replaced:
 * - a run in progress: Reconciling=True (RunInProgress, or RunResumed after an interruption),
 *   Ready=False;
 * - Passed: Ready=True;
 * - RemediationNeeded, Failed and Error: Stalled=True and Ready=False with that reason (RunError
 *   for Error), so kstatus and Argo CD see them until a new run changes the verdict;
 * - no run yet: Ready=False, reason Waiting, with what it waits for.
 * The kind-specific Passed / RemediationNeeded / Failed conditions say what the last completed run
 * found; a run that could not complete (a database down) leaves them as they were — never Passed.
 */
import type { CheckResult as ApiCheckResult, ReconciliationStatus, Verdict } from '../../api/index.js';
import { REASON_INVALID_SPEC } from '../../api/index.js';
import { verdictVariance, type CheckResult, type RunResult } from '../../reconciliation/result.js';
import {
  getCondition,
  markReady,
  markReconciling,
  markStalled,
  RECONCILING,
  READY,
  removeCondition,
  setCondition,
  STALLED,
  type Condition,
  type KStatus,
} from '../../runtime/conditions.js';
import type { RunTrigger } from './schedule.js';

export const MAX_TENANTS_IN_STATUS = 50;
export const MAX_KEYS_IN_STATUS = 20;

/** Condition reasons of the Reconciliation. */
export const REASON = {
  RunInProgress: 'RunInProgress',
  RunResumed: 'RunResumed',
  Passed: 'Passed',
  RemediationNeeded: 'RemediationNeeded',
  Failed: 'Failed',
  RunError: 'RunError',
  Waiting: 'Waiting',
  InvalidSpec: REASON_INVALID_SPEC,
  ReadOnlyAccounts: 'ReadOnlyAccounts',
  WriteGrants: 'WriteGrants',
} as const;

/**
 * A warning, never a failure: False (reason WriteGrants, the grants named) when an account of the
 * last inline run can write a compared table; True when both can only read them.
 */
export const LEAST_PRIVILEGE = 'LeastPrivilege';

function leastPrivilegeCondition(
  writeGrants: string[],
  generation: number,
): Omit<Condition, 'lastTransitionTime'> {
  return writeGrants.length === 0
    ? {
        type: LEAST_PRIVILEGE,
        status: 'True',
        reason: REASON.ReadOnlyAccounts,
        message: 'the legacy and target accounts can only read the compared tables',
        observedGeneration: generation,
      }
    : {
        type: LEAST_PRIVILEGE,
        status: 'False',
        reason: REASON.WriteGrants,
        message: `the accounts can write what they compare (${writeGrants.join('; ').slice(0, 600)}): reconciliation needs SELECT only; grant read-only accounts (README: least-privilege grants)`,
        observedGeneration: generation,
      };
}

/** The kind-specific conditions: what the last completed run found. */
export const VERDICT_CONDITIONS = ['Passed', 'RemediationNeeded', 'Failed'] as const;

export interface RunRecord {
  id: string;
  trigger: RunTrigger;
  startedAt: Date;
}

type Status = ReconciliationStatus & KStatus;

/** The Cutover offset a run is for: its own, or that of the errored run it retries. */
export function cutoverOffsetOf(t: RunTrigger): string | undefined {
  if (t.kind === 'CutoverOffset') return t.detail;
  if (t.kind === 'Retry' && t.detail?.startsWith('CutoverOffset:'))
    return t.detail.slice('CutoverOffset:'.length);
  return undefined;
}

export function describeTrigger(t: RunTrigger): string {
  return t.detail ? `${t.kind}:${t.detail}` : t.kind;
}

/** The status's conditions as the runtime's Condition type (the API types them loosely). */
function conditionsOf(status: ReconciliationStatus | undefined): Condition[] {
  return status?.conditions ?? [];
}

/** Six significant decimals are plenty for a percentage and keep the status stable. */
function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** What the last finished run found, in one line (Ready's or Stalled's message). */
export function verdictMessage(status: ReconciliationStatus): string {
  const last = status.lastRun;
  if (!last) return '';
  if (last.verdict === 'Error') return last.error ?? `run ${last.id ?? ''} could not complete`;
  const s = status.summary ?? {};
  return (
    `run ${last.id ?? ''}: ${s.passed ?? 0}/${s.checks ?? 0} checks passed; worst variance ${s.maxVariancePercent ?? '0'}%` +
    (s.worstTenant ? ` (${s.worstCheck ?? ''}, tenant ${s.worstTenant})` : '')
  );
}

/**
 * Phase and Ready / Reconciling / Stalled from the last run (see the file comment). `waiting`
 * says what a Reconciliation that never ran waits for.
 */
export function withDerivedConditions(
  status: ReconciliationStatus,
  generation: number,
  now: Date,
  waiting?: string,
): ReconciliationStatus {
  const st = { ...status, conditions: conditionsOf(status) } as Status;
  const last = st.lastRun;
  if (last?.id && !last.finishedAt) {
    const rec = getCondition(st.conditions, RECONCILING);
    const ours = rec && (rec.reason === REASON.RunInProgress || rec.reason === REASON.RunResumed);
    const reason = ours ? rec.reason : REASON.RunInProgress;
    const message = ours ? rec.message : `run ${last.id} (${last.trigger ?? ''}) in progress`;
    return { ...markReconciling(st, generation, now, reason, message), phase: 'Running' };
  }
  if (last?.finishedAt && last.verdict) {
    const message = verdictMessage(st);
    if (last.verdict === 'Passed')
      return { ...markReady(st, generation, now, REASON.Passed, message), phase: 'Passed' };
    const reason = last.verdict === 'Error' ? REASON.RunError : last.verdict;
    return { ...markStalled(st, generation, now, reason, message), phase: last.verdict };
  }
  let c = setCondition(
    st.conditions,
    {
      type: READY,
      status: 'False',
      reason: REASON.Waiting,
      message: waiting ?? 'waiting for a trigger',
      observedGeneration: generation,
    },
    now,
  );
  c = removeCondition(removeCondition(c, RECONCILING), STALLED);
  return { ...st, conditions: c, observedGeneration: generation, phase: 'Pending' };
}

export function runningStatus(
  status: ReconciliationStatus | undefined,
  run: RunRecord,
  generation: number,
  now: Date,
  shards?: number,
): ReconciliationStatus {
  const base: ReconciliationStatus = { ...(status ?? {}) };
  const next: ReconciliationStatus = {
    ...base,
    lastRun: { id: run.id, trigger: describeTrigger(run.trigger), startedAt: run.startedAt.toISOString() },
    conditions: setCondition(
      conditionsOf(base),
      {
        type: RECONCILING,
        status: 'True',
        reason: REASON.RunInProgress,
        message: `run ${run.id} (${describeTrigger(run.trigger)}) started`,
        observedGeneration: generation,
      },
      now,
    ),
  };
  if (run.trigger.kind === 'Rerun' && run.trigger.detail) next.lastRerunToken = run.trigger.detail;
  if (shards !== undefined) next.shards = { total: shards, succeeded: 0, failed: 0 };
  else delete next.shards;
  delete next.nextRunAt;
  return withDerivedConditions(next, generation, now);
}

/**
 * An interrupted inline run (the operator restarted or lost its Lease mid-run) taken up again:
 * Reconciling says so, with the time, which makes the write a claim of its own.
 */
export function resumedStatus(
  status: ReconciliationStatus,
  run: RunRecord,
  generation: number,
  now: Date,
): ReconciliationStatus {
  const message = `run ${run.id} (${describeTrigger(run.trigger)}) resumed at ${now.toISOString()} after an interruption`;
  const next = {
    ...status,
    conditions: setCondition(
      conditionsOf(status),
      {
        type: RECONCILING,
        status: 'True',
        reason: REASON.RunResumed,
        message,
        observedGeneration: generation,
      },
      now,
    ),
  };
  return withDerivedConditions(next, generation, now);
}

function capCheck(c: CheckResult): ApiCheckResult {
  const tenants = [...c.tenants]
    .sort((a, b) => b.variancePercent - a.variancePercent || a.tenant.localeCompare(b.tenant))
    .slice(0, MAX_TENANTS_IN_STATUS)
    .map((t) => ({
      tenant: t.tenant,
      legacy: t.legacy,
      target: t.target,
      variancePercent: round(t.variancePercent),
      verdict: t.verdict,
    }));
  const out: ApiCheckResult = {
    name: c.name,
    verdict: c.verdict,
    variancePercent: round(verdictVariance(c)),
    tenants,
    differingKeys: c.differingKeys.slice(0, MAX_KEYS_IN_STATUS).map((k) => ({
      tenant: k.tenant,
      key: k.key,
      kind: k.kind,
      ...(k.columns ? { columns: k.columns } : {}),
    })),
  };
  if (c.legacyValue !== undefined) out.legacyValue = c.legacyValue;
  if (c.targetValue !== undefined) out.targetValue = c.targetValue;
  if (c.worstTenant !== undefined) out.worstTenant = c.worstTenant;
  if (c.error !== undefined) out.error = c.error;
  return out;
}

export function finishedStatus(
  status: ReconciliationStatus | undefined,
  run: RunRecord,
  result: RunResult,
  opts: {
    generation: number;
    now: Date;
    reportConfigMap?: string;
    shards?: { total: number; succeeded: number; failed: number };
  },
): ReconciliationStatus {
  const base: ReconciliationStatus = { ...(status ?? {}) };
  const verdict: Verdict = result.verdict;
  const worst = [...result.checks].sort((a, b) => verdictVariance(b) - verdictVariance(a))[0];
  const failedChecks = result.checks.filter((c) => c.verdict !== 'Passed').length;
  const errorText = `run ${run.id} could not complete: ${result.error ?? result.checks.find((c) => c.error)?.error ?? 'a check failed to run'}`;
  const next: ReconciliationStatus = {
    ...base,
    lastRun: {
      id: run.id,
      trigger: describeTrigger(run.trigger),
      startedAt: run.startedAt.toISOString(),
      finishedAt: opts.now.toISOString(),
      verdict,
      ...(verdict === 'Error' ? { error: errorText } : {}),
    },
    runsCompleted: (base.runsCompleted ?? 0) + 1,
    summary: {
      checks: result.checks.length,
      passed: result.checks.length - failedChecks,
      failed: failedChecks,
      rowsCompared: String(result.rowsCompared),
      maxVariancePercent: String(round(worst ? verdictVariance(worst) : 0)),
      ...(worst ? { worstCheck: worst.name } : {}),
      ...(worst?.worstTenant ? { worstTenant: worst.worstTenant } : {}),
    },
    checks: result.checks.map(capCheck),
  };
  let conditions = removeCondition(conditionsOf(base), RECONCILING);
  if (verdict !== 'Error') {
    const message = verdictMessage(next);
    for (const type of VERDICT_CONDITIONS) {
      conditions = setCondition(
        conditions,
        {
          type,
          status: type === verdict ? 'True' : 'False',
          reason: verdict,
          message,
          observedGeneration: opts.generation,
        },
        opts.now,
      );
    }
  }
  if (result.writeGrants)
    conditions = setCondition(
      conditions,
      leastPrivilegeCondition(result.writeGrants, opts.generation),
      opts.now,
    );
  next.conditions = conditions;
  const offset = cutoverOffsetOf(run.trigger);
  if (offset && verdict !== 'Error')
    next.completedOffsets = [...new Set([...(base.completedOffsets ?? []), offset])];
  if (opts.reportConfigMap) next.reportConfigMap = opts.reportConfigMap;
  if (opts.shards) next.shards = opts.shards;
  return withDerivedConditions(next, opts.generation, opts.now);
}

/** A spec the operator cannot act on (what the API server's rules cannot catch): Stalled, phase Error. */
export function invalidSpecStatus(
  status: ReconciliationStatus | undefined,
  message: string,
  generation: number,
  now: Date,
): ReconciliationStatus {
  const st = { ...(status ?? {}), conditions: conditionsOf(status) } as Status;
  return { ...markStalled(st, generation, now, REASON.InvalidSpec, message), phase: 'Error' };
}

/** Idle between runs: records the next planned run (or what it waits for). */
export function idleStatus(
  status: ReconciliationStatus | undefined,
  generation: number,
  nextAt: Date | undefined,
  waitingFor: string | undefined,
  now: Date,
): ReconciliationStatus {
  const next: ReconciliationStatus = { ...(status ?? {}) };
  if (nextAt) next.nextRunAt = nextAt.toISOString();
  else delete next.nextRunAt;
  const waiting = waitingFor ?? (nextAt ? `first run at ${nextAt.toISOString()}` : 'waiting for a trigger');
  return withDerivedConditions(next, generation, now, waiting);
}
