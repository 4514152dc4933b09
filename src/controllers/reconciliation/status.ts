/**
 * The Reconciliation's status as a pure function of what happened: a run started, a run finished
 * with a result, or the spec cannot run. Results are capped for the status (the full report goes
 * to a ConfigMap): the worst tenants and the first differing keys of each check.
 *
 * Conditions (kstatus): Reconciling=True while a run is in progress; Ready=True only after a run
 * that Passed; Stalled=True when the spec cannot run until someone changes it (InvalidSpec). The
 * kind-specific Passed / RemediationNeeded / Failed conditions say what the last run found; a run
 * that could not complete (a database down) leaves them as they were and sets Ready=False with
 * reason RunError — never Passed.
 */
import type { Condition, ReconciliationStatus, CheckResult as ApiCheckResult, Verdict } from '../../api/index.js';
import { verdictVariance, type CheckResult, type RunResult } from '../../reconciliation/index.js';
import { setCondition, removeCondition } from '../../runtime/conditions.js';
import type { RunTrigger } from './schedule.js';

export const MAX_TENANTS_IN_STATUS = 50;
export const MAX_KEYS_IN_STATUS = 20;

export interface RunRecord {
  id: string;
  trigger: RunTrigger;
  startedAt: Date;
}

/** The Cutover offset a run is for: its own, or that of the errored run it retries. */
export function cutoverOffsetOf(t: RunTrigger): string | undefined {
  if (t.kind === 'CutoverOffset') return t.detail;
  if (t.kind === 'Retry' && t.detail?.startsWith('CutoverOffset:')) return t.detail.slice('CutoverOffset:'.length);
  return undefined;
}

export function describeTrigger(t: RunTrigger): string {
  return t.detail ? `${t.kind}:${t.detail}` : t.kind;
}

function withConditions(status: ReconciliationStatus, updates: Array<Omit<Condition, 'lastTransitionTime'> | { remove: string }>, now: Date): Condition[] {
  let list = (status.conditions ?? []) as Parameters<typeof setCondition>[0];
  for (const u of updates) {
    if ('remove' in u) list = removeCondition(list, u.remove);
    else list = setCondition(list, { ...u, reason: u.reason ?? u.type, message: u.message ?? "" }, now);
  }
  return (list ?? []) as Condition[];
}

export function runningStatus(status: ReconciliationStatus | undefined, run: RunRecord, generation: number, now: Date, shards?: number): ReconciliationStatus {
  const base: ReconciliationStatus = { ...(status ?? {}) };
  const message = `run ${run.id} (${describeTrigger(run.trigger)}) started`;
  const next: ReconciliationStatus = {
    ...base,
    phase: 'Running',
    observedGeneration: generation,
    lastRun: { id: run.id, trigger: describeTrigger(run.trigger), startedAt: run.startedAt.toISOString() },
    conditions: withConditions(
      base,
      [
        { type: 'Reconciling', status: 'True', reason: 'RunInProgress', message, observedGeneration: generation },
        { type: 'Ready', status: 'False', reason: 'RunInProgress', message, observedGeneration: generation },
        { remove: 'Stalled' },
      ],
      now,
    ),
  };
  if (run.trigger.kind === 'Rerun' && run.trigger.detail) next.lastRerunToken = run.trigger.detail;
  if (shards !== undefined) next.shards = { total: shards, succeeded: 0, failed: 0 };
  else delete next.shards;
  delete next.nextRunAt;
  return next;
}

function capCheck(c: CheckResult): ApiCheckResult {
  const tenants = [...c.tenants]
    .sort((a, b) => b.variancePercent - a.variancePercent || a.tenant.localeCompare(b.tenant))
    .slice(0, MAX_TENANTS_IN_STATUS)
    .map((t) => ({ tenant: t.tenant, legacy: t.legacy, target: t.target, variancePercent: round(t.variancePercent), verdict: t.verdict }));
  const out: ApiCheckResult = {
    name: c.name,
    verdict: c.verdict,
    variancePercent: round(verdictVariance(c)),
    tenants,
    differingKeys: c.differingKeys.slice(0, MAX_KEYS_IN_STATUS).map((k) => ({ tenant: k.tenant, key: k.key, kind: k.kind, ...(k.columns ? { columns: k.columns } : {}) })),
  };
  if (c.legacyValue !== undefined) out.legacyValue = c.legacyValue;
  if (c.targetValue !== undefined) out.targetValue = c.targetValue;
  if (c.worstTenant !== undefined) out.worstTenant = c.worstTenant;
  if (c.error !== undefined) out.error = c.error;
  return out;
}

/** Six significant decimals are plenty for a percentage and keep the status stable. */
function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

const VERDICT_CONDITIONS = ['Passed', 'RemediationNeeded', 'Failed'] as const;

export function finishedStatus(
  status: ReconciliationStatus | undefined,
  run: RunRecord,
  result: RunResult,
  opts: { generation: number; now: Date; reportConfigMap?: string; shards?: { total: number; succeeded: number; failed: number } },
): ReconciliationStatus {
  const base: ReconciliationStatus = { ...(status ?? {}) };
  const verdict: Verdict = result.verdict;
  const worst = [...result.checks].sort((a, b) => verdictVariance(b) - verdictVariance(a))[0];
  const failedChecks = result.checks.filter((c) => c.verdict !== 'Passed').length;
  const message =
    verdict === 'Error'
      ? `run ${run.id} could not complete: ${result.error ?? result.checks.find((c) => c.error)?.error ?? 'a check failed to run'}`
      : `run ${run.id}: ${result.checks.length - failedChecks}/${result.checks.length} checks passed; worst variance ${round(worst ? verdictVariance(worst) : 0)}%` +
        (worst?.worstTenant ? ` (${worst.name}, tenant ${worst.worstTenant})` : '');
  const updates: Array<Omit<Condition, 'lastTransitionTime'> | { remove: string }> = [
    { remove: 'Reconciling' },
    { remove: 'Stalled' },
    verdict === 'Passed'
      ? { type: 'Ready', status: 'True', reason: 'Passed', message, observedGeneration: opts.generation }
      : { type: 'Ready', status: 'False', reason: verdict === 'Error' ? 'RunError' : verdict, message, observedGeneration: opts.generation },
  ];
  if (verdict !== 'Error') {
    for (const type of VERDICT_CONDITIONS) {
      updates.push({ type, status: type === verdict ? 'True' : 'False', reason: verdict, message, observedGeneration: opts.generation });
    }
  }
  const next: ReconciliationStatus = {
    ...base,
    phase: verdict,
    observedGeneration: opts.generation,
    lastRun: {
      id: run.id,
      trigger: describeTrigger(run.trigger),
      startedAt: run.startedAt.toISOString(),
      finishedAt: opts.now.toISOString(),
      verdict,
      ...(verdict === 'Error' ? { error: message } : {}),
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
    conditions: withConditions(base, updates, opts.now),
  };
  const offset = cutoverOffsetOf(run.trigger);
  if (offset && verdict !== 'Error') next.completedOffsets = [...new Set([...(base.completedOffsets ?? []), offset])];
  if (opts.reportConfigMap) next.reportConfigMap = opts.reportConfigMap;
  if (opts.shards) next.shards = opts.shards;
  return next;
}

export function invalidSpecStatus(status: ReconciliationStatus | undefined, message: string, generation: number, now: Date): ReconciliationStatus {
  const base: ReconciliationStatus = { ...(status ?? {}) };
  return {
    ...base,
    phase: 'Error',
    observedGeneration: generation,
    conditions: withConditions(
      base,
      [
        { type: 'Stalled', status: 'True', reason: 'InvalidSpec', message, observedGeneration: generation },
        { type: 'Ready', status: 'False', reason: 'InvalidSpec', message, observedGeneration: generation },
        { remove: 'Reconciling' },
      ],
      now,
    ),
  };
}

/** Idle between runs: records the next planned run (or what it waits for). */
export function idleStatus(status: ReconciliationStatus | undefined, generation: number, nextAt: Date | undefined, waitingFor: string | undefined, now: Date): ReconciliationStatus {
  const base: ReconciliationStatus = { ...(status ?? {}) };
  const next: ReconciliationStatus = { ...base, observedGeneration: generation };
  if (nextAt) next.nextRunAt = nextAt.toISOString();
  else delete next.nextRunAt;
  if (!base.lastRun) {
    const message = waitingFor ?? (nextAt ? `first run at ${nextAt.toISOString()}` : 'waiting for a trigger');
    next.phase = 'Pending';
    next.conditions = withConditions(base, [{ type: 'Ready', status: 'False', reason: 'Waiting', message, observedGeneration: generation }, { remove: 'Stalled' }], now);
  } else if (base.conditions?.some((c) => c.type === 'Stalled' && c.status === 'True')) {
    next.conditions = withConditions(base, [{ remove: 'Stalled' }], now);
  }
  return next;
}
