/**
 * The Cutover's decision, pure: `decide(observed, now)` → the status to write, the actions to
 * take after that status is written, and when to look again.
 *
 * Write-ahead: every action returned is recorded as started in the returned status (a step,
 * preparation item, remediation or rollback action Running; a notification Pending; a report
 * part planned). The sync writes the status first and acts only when its write won; a crash in
 * between is finished by the next sync, which returns the same idempotent actions until it
 * observes their effect (a Job complete, a route or flag read back, read_only read back).
 *
 * Order of the plan: preparation → shadow → canary → the cutover-night timeline → legacy hot →
 * post-cutover → steady state. Rollback triggers are evaluated first, at every sync, also while
 * paused; one rollback at a time (a trigger during a rollback is recorded, not acted on twice).
 */
import type { Cutover, CutoverStatus, StepStatus, TimelineStep } from '../../api/index.js';
import { markReady, markReconciling, markStalled, type KStatus } from '../../runtime/conditions.js';
import { mergeDeliveries, pendingNotifyActions, queueNotification } from './notifications.js';
import type { Action, Decision, Observed } from './observed.js';
import {
  dependenciesOf,
  iso,
  jobName,
  ms,
  plannedAt,
  DEFAULT_KEEP_LEGACY_HOT_MS,
  DEFAULT_STEADY_STATE_MS,
} from './plan.js';
import { evaluateTriggers, progressRollback, startRollback } from './rollback.js';
import { actionSecrets, missingSecrets, specProblems, worldSecrets } from './invalid-spec.js';
import {
  shadowProxiesAfterShadow,
  shadowProxiesDuringShadow,
  shadowProxiesOnRollback,
} from './shadow-proxy.js';

/** Condition reasons of the Cutover. */
export const REASON = {
  Progressing: 'Progressing',
  Waiting: 'Waiting',
  AwaitingApproval: 'AwaitingApproval',
  Paused: 'Paused',
  PreparationFailed: 'PreparationFailed',
  ShadowVariance: 'ShadowVarianceTooHigh',
  CanaryRolledBack: 'CanaryRolledBack',
  RollingBack: 'RollingBack',
  RolledBack: 'RolledBack',
  RollbackFailed: 'RollbackFailed',
  RollbackHeld: 'RollbackHeld',
  Aborted: 'Aborted',
  SteadyState: 'SteadyState',
  InvalidSpec: 'InvalidSpec',
} as const;

/** What decide works on: a copy of the status, the actions so far, wake-up times. */
export class DecisionContext {
  readonly actions: Action[] = [];
  readonly wakes: number[] = [];
  readonly texts = new Map<string, string>();
  recheck = false;
  /** Why the plan cannot go on by itself (Stalled), when it cannot. */
  stall?: { reason: string; message: string };
  waiting?: { reason: string; message: string };

  constructor(
    readonly o: Observed,
    readonly now: number,
    readonly st: CutoverStatus,
  ) {}

  get cutover(): Cutover {
    return this.o.cutover;
  }
  get name(): string {
    return this.o.cutover.metadata.name;
  }
  get nowIso(): string {
    return iso(this.now);
  }
  wakeAt(t: number): void {
    if (t > this.now) this.wakes.push(t);
  }
  notify(event: string, text?: string): void {
    if (text !== undefined) this.texts.set(event, text);
    queueNotification(this.st, event, this.nowIso);
  }
  reportConfigMap(): string {
    return this.cutover.spec.report?.configMapName ?? `${this.name}-report`;
  }
  /** A Job action with the documented environment. */
  job(purpose: string, name: string, template: NonNullable<TimelineStep['job']>): Action {
    return {
      kind: 'CreateJob',
      purpose,
      name,
      template,
      env: {
        CUTOVER_NAME: this.name,
        CUTOVER_FROZEN_AT: this.st.frozenAt ?? '',
        CUTOVER_SWITCHED_AT: this.st.switchedAt ?? '',
        CUTOVER_LAST_SYNC_AT: this.st.lastSyncAt ?? '',
        CUTOVER_REPORT_CONFIGMAP: this.reportConfigMap(),
      },
    };
  }
}

export function decide(o: Observed, nowDate: Date): Decision {
  const now = nowDate.getTime();
  const before = o.cutover.status ?? {};
  const st = structuredClone<CutoverStatus>(before);
  const ctx = new DecisionContext(o, now, st);
  mergeDeliveries(st, o.notifications);
  recordApproval(ctx);
  st.phase ??= 'Pending';

  const terminal = st.phase === 'SteadyState' || st.phase === 'Aborted';
  const ns = o.cutover.metadata.namespace ?? 'default';
  const invalid = terminal
    ? []
    : [...specProblems(o.cutover.spec), ...missingSecrets(worldSecrets(o.cutover.spec), o.secrets, ns)];
  if (invalid.length) invalidSpec(ctx, invalid);
  else if (!terminal) {
    const triggers = evaluateTriggers(ctx);
    if (st.rollback === undefined && triggers.length > 0) startRollback(ctx, triggers);
    else if (st.rollback !== undefined)
      for (const t of triggers) {
        const ignored = (st.rollback.ignoredTriggers ??= []);
        if (!ignored.some((x) => x.trigger === t.trigger) && t.trigger !== st.rollback.trigger)
          ignored.push({ trigger: t.trigger, at: ctx.nowIso, reason: t.reason });
      }
  }

  if (invalid.length) {
    // Nothing is applied until the spec can be run.
  } else if (st.rollback !== undefined) {
    progressRollback(ctx);
    shadowProxiesOnRollback(ctx);
  } else if (!terminal) progressPlan(ctx);
  else if (st.phase === 'SteadyState') finalReport(ctx);

  // The export of new-stack changes runs from the switch until legacy hot ends (or the rollback ends).
  if (
    !invalid.length &&
    st.switchedAt !== undefined &&
    st.legacyScaledAt === undefined &&
    st.rollback?.completedAt === undefined
  )
    exportJob(ctx);
  // An action whose Secret is missing: none is taken (the status keeps them started; they are
  // taken once the Secret is there).
  const unreadable = missingSecrets(
    ctx.actions.flatMap((a) => actionSecrets(o.cutover.spec, a)),
    o.secrets,
    ns,
  );
  if (unreadable.length) {
    ctx.actions.splice(0);
    invalidSpec(ctx, unreadable);
  }
  if (st.phase !== before.phase) ctx.notify(`phase:${st.phase}`);
  const actions = [...ctx.actions, ...pendingNotifyActions(st, ctx.texts)];
  // The notifier is not watched: a delivery it has not reported yet is looked at again soon, so
  // the record becomes Sent (not Sending until the next planned change, an hour at steady state,
  // and Unconfirmed if the operator restarts meanwhile).
  if ((st.notifications ?? []).some((n) => n.state === 'Sending')) ctx.recheck = true;
  setConditions(ctx);
  const next = ctx.wakes.length ? Math.min(...ctx.wakes) : undefined;
  return {
    status: st,
    actions,
    ...(next !== undefined ? { requeueAfterMs: next - now } : {}),
    recheck: ctx.recheck,
  };
}

/** Stalled/InvalidSpec with each problem and its fix; looked at again soon (a Secret may appear). */
function invalidSpec(ctx: DecisionContext, problems: string[]): void {
  ctx.stall = { reason: REASON.InvalidSpec, message: `the plan cannot run: ${problems.join('; ')}` };
  ctx.recheck = true;
  ctx.notify(`invalid-spec:${problems[0]!.split(':')[0]}`, `Cutover stalled: ${ctx.stall.message}`);
}

// ------------------------------------------------------------------------------ approvals

/** Records each step named by `cutover.nokta.io/approve` once, with who approved. */
function recordApproval(ctx: DecisionContext): void {
  const a = ctx.o.approval;
  if (!a) return;
  for (const step of a.steps) {
    const known =
      step === 'steady-state' ||
      ctx.cutover.spec.timeline.steps.some((s) => s.name === step) ||
      step.startsWith('retry:');
    if (!known) continue;
    const approvals = (ctx.st.approvals ??= []);
    if (approvals.some((x) => x.step === step)) continue;
    approvals.push({ step, by: a.by, at: ctx.nowIso });
    const steps = (ctx.st.approvedSteps ??= []);
    if (!steps.includes(step)) steps.push(step);
    ctx.notify(`approved:${step}`, `Step ${step} approved by ${a.by}`);
  }
}

function approved(ctx: DecisionContext, step: string): boolean {
  return (ctx.st.approvedSteps ?? []).includes(step);
}

// ------------------------------------------------------------------------------ the plan

function progressPlan(ctx: DecisionContext): void {
  if (!progressPreparation(ctx)) return;
  if (!progressShadow(ctx)) return;
  if (!progressCanary(ctx)) return;
  if (!progressTimeline(ctx)) return;
  progressAfterTimeline(ctx);
}

/** Preparation items in order; true when all are done. */
function progressPreparation(ctx: DecisionContext): boolean {
  const prep = ctx.cutover.spec.preparation;
  if (!prep) return true;
  const items: { name: string; job?: NonNullable<TimelineStep['job']>; check?: string }[] = [];
  if (prep.schemaMigration?.job) items.push({ name: 'schemaMigration', job: prep.schemaMigration.job });
  if (prep.bulkCopy) items.push({ name: 'bulkCopy', job: prep.bulkCopy.job });
  if (prep.postLoadSql) items.push({ name: 'postLoadSql', job: prep.postLoadSql.job });
  for (const c of prep.integrationChecks ?? []) items.push({ name: `check:${c.name}`, check: c.name });
  const records = (ctx.st.preparation ??= []);
  for (const item of items) {
    let r = records.find((x) => x.name === item.name);
    if (!r) {
      r = { name: item.name, state: 'Pending' };
      records.push(r);
    }
    if (r.state === 'Succeeded' || r.state === 'Skipped') continue;
    ctx.st.phase = 'Preparation';
    if (r.state === 'Failed') {
      // A person retries it: cutover.nokta.io/approve=retry:<item>:<attempt> (a new Job, a new probe).
      const retry = `retry:${item.name}:${r.attempt ?? 1}`;
      if (!approved(ctx, retry)) {
        ctx.stall = {
          reason: REASON.PreparationFailed,
          message: `preparation ${item.name} failed: ${r.message ?? ''}; fix the cause, then retry: kubectl annotate cutover ${ctx.name} --overwrite cutover.nokta.io/approve=${retry}`,
        };
        return false;
      }
      r.state = 'Pending';
      r.attempt = (r.attempt ?? 1) + 1;
      delete r.jobName;
      delete r.finishedAt;
      delete r.message;
    }
    if (r.state !== 'Running') {
      r.state = 'Running';
      r.startedAt = ctx.nowIso;
      r.attempt ??= 1;
      if (item.job) r.jobName = jobName(ctx.name, item.name.toLowerCase(), r.attempt);
    }
    if (item.job) {
      const state = ctx.o.jobs[r.jobName!];
      if (state === 'Succeeded') finishItem(r, 'Succeeded', ctx.nowIso, 'Job complete');
      else if (state === 'Failed') finishItem(r, 'Failed', ctx.nowIso, `Job ${r.jobName} failed`);
      else ctx.actions.push(ctx.job(item.name, r.jobName!, item.job));
    } else {
      const check = prep.integrationChecks!.find((c) => c.name === item.check)!;
      const key = probeKey(check.name, r.attempt ?? 1);
      const res = ctx.o.integrationChecks[key];
      const expect = check.expectStatus ?? 200;
      if (res?.status !== undefined && res.status === expect)
        finishItem(r, 'Succeeded', ctx.nowIso, `HTTP ${res.status}`);
      else if (res !== undefined)
        finishItem(r, 'Failed', ctx.nowIso, res.error ?? `HTTP ${res.status}, expected ${expect}`);
      else {
        ctx.actions.push({ kind: 'ProbeIntegration', name: check.name, key });
        ctx.recheck = true;
      }
    }
    const outcome = r.state as StepStatus['state'];
    if (outcome !== 'Succeeded') {
      if (outcome === 'Failed')
        ctx.notify(`preparation:${item.name}:failed`, `Preparation ${item.name} failed: ${r.message}`);
      ctx.waiting = { reason: REASON.Progressing, message: `preparation: ${item.name}` };
      return false;
    }
  }
  return true;
}

/** Where an integration check's result is kept: its name, `<name>#<attempt>` for a retry. */
export function probeKey(name: string, attempt: number): string {
  return attempt > 1 ? `${name}#${attempt}` : name;
}

function finishItem(
  r: { state?: StepStatus['state']; finishedAt?: string; message?: string },
  state: 'Succeeded' | 'Failed',
  at: string,
  message: string,
): void {
  r.state = state;
  r.finishedAt = at;
  r.message = message;
}

/** Shadow phase: until shadow.endAt, remediation and reruns above remediatePercent. */
function progressShadow(ctx: DecisionContext): boolean {
  const shadow = ctx.cutover.spec.shadow;
  if (!shadow) return true;
  // Once ended, the phase stays ended: the sign-off reruns the same Reconciliations, and a run in
  // progress then must not read as "no completed run" and send the Cutover back to Shadow.
  if (ctx.st.shadow?.completedAt) return true;
  const start = Date.parse(shadow.startAt);
  const end = Date.parse(shadow.endAt);
  if (ctx.now < start) {
    ctx.st.phase = ctx.cutover.spec.preparation ? 'Preparation' : 'Pending';
    ctx.waiting = { reason: REASON.Waiting, message: `shadow phase starts at ${shadow.startAt}` };
    ctx.st.nextStep = 'shadow';
    ctx.st.nextStepAt = shadow.startAt;
    ctx.wakeAt(start);
    return false;
  }
  if (ctx.now < end) shadowProxiesDuringShadow(ctx);
  const limit = shadow.remediatePercent ?? 0.5;
  const maxReruns = shadow.maxReruns ?? 2;
  const reruns = ((ctx.st.shadow ??= {}).reruns ??= []);
  const blocked: string[] = [];
  let busy = false;
  for (const name of shadow.reconciliations ?? []) {
    const obs = ctx.o.reconciliations[name];
    let rec = reruns.find((x) => x.reconciliation === name);
    const token = (n: number): string => `cutover-remediation-${n}`;
    if (rec?.state === 'Running') {
      const state = ctx.o.jobs[rec.jobName!];
      if (state === 'Succeeded') {
        rec.state = 'Succeeded';
      } else if (state === 'Failed') {
        rec.state = 'Failed';
        blocked.push(`remediation Job ${rec.jobName} for ${name} failed`);
        continue;
      } else {
        ctx.actions.push(ctx.job(`remediate-${name}`, rec.jobName!, shadow.remediationJob!));
        busy = true;
        continue;
      }
    }
    if (rec?.state === 'Succeeded' && obs?.rerunToken !== token(rec.count ?? 0)) {
      ctx.actions.push({ kind: 'RerunReconciliation', name, token: token(rec.count ?? 0) });
      busy = true;
      continue;
    }
    if (rec?.state === 'Failed') {
      blocked.push(`remediation Job ${rec.jobName} for ${name} failed`);
      continue;
    }
    if (!obs || obs.runFinishedAt === undefined) {
      if (ctx.now >= end) blocked.push(`Reconciliation ${name} has no completed run`);
      continue;
    }
    const finishedAfterRemediation =
      rec?.at === undefined || Date.parse(obs.runFinishedAt) > Date.parse(rec.at);
    const over =
      (obs.variancePercent ?? 0) > limit || obs.phase === 'RemediationNeeded' || obs.phase === 'Failed';
    if (!over || !finishedAfterRemediation) continue;
    const count = rec?.count ?? 0;
    if (count >= maxReruns || !shadow.remediationJob) {
      blocked.push(
        `Reconciliation ${name} variance ${obs.variancePercent ?? '?'} % > ${limit} % after ${count} remediation(s)`,
      );
      continue;
    }
    if (!rec) {
      rec = { reconciliation: name, count: 0 };
      reruns.push(rec);
    }
    rec.count = count + 1;
    rec.state = 'Running';
    rec.at = ctx.nowIso;
    rec.jobName = jobName(ctx.name, `remediate-${name}`, rec.count);
    ctx.notify(
      `remediation:${name}:${rec.count}`,
      `Shadow: ${name} variance ${obs.variancePercent} % > ${limit} %: remediation ${rec.count}`,
    );
    ctx.actions.push(ctx.job(`remediate-${name}`, rec.jobName, shadow.remediationJob));
    busy = true;
  }
  if (ctx.now < end || busy) {
    ctx.st.phase = 'Shadow';
    ctx.waiting = {
      reason: REASON.Progressing,
      message: busy ? 'shadow: remediation running' : `shadow phase until ${shadow.endAt}`,
    };
    if (ctx.now < end) ctx.wakeAt(end);
    return false;
  }
  const proxies = shadowProxiesAfterShadow(ctx);
  if (proxies.blocked) blocked.push(proxies.blocked);
  if (blocked.length) {
    ctx.st.phase = 'Shadow';
    ctx.stall = { reason: REASON.ShadowVariance, message: `shadow phase cannot end: ${blocked.join('; ')}` };
    return false;
  }
  if (!proxies.done) {
    ctx.st.phase = 'Shadow';
    ctx.waiting = {
      reason: REASON.Progressing,
      message: 'shadow: restoring the routes, removing the proxies',
    };
    return false;
  }
  ctx.st.shadow.completedAt = ctx.nowIso;
  return true;
}

/** The CanaryPhases in order; a rolled-back one blocks the cutover and says why. */
function progressCanary(ctx: DecisionContext): boolean {
  const phases = ctx.cutover.spec.canary?.phases ?? [];
  for (const name of phases) {
    const cp = ctx.o.canaryPhases[name];
    const phase = cp?.phase;
    if (phase === 'Succeeded' || phase === 'Promoted') continue;
    ctx.st.phase = 'Canary';
    ctx.st.canaryPhase = name;
    if (phase === 'RolledBack' || phase === 'Aborted' || phase === 'Failed') {
      ctx.stall = {
        reason: REASON.CanaryRolledBack,
        message: `CanaryPhase ${name} ${phase}${cp?.message ? `: ${cp.message}` : ''}; the cutover does not go on until it succeeds`,
      };
      ctx.notify(`canary:${name}:${phase}`, `CanaryPhase ${name} ${phase}: the cutover is blocked`);
    } else if (!cp)
      ctx.stall = {
        reason: REASON.InvalidSpec,
        message: `spec.canary.phases[${phases.indexOf(name)}]: CanaryPhase ${name} does not exist in namespace ${ctx.cutover.metadata.namespace ?? 'default'}; create it (kubectl apply -f <canaryphase>.yaml) or remove it from spec.canary.phases`,
      };
    else ctx.waiting = { reason: REASON.Waiting, message: `CanaryPhase ${name} is ${phase ?? 'Pending'}` };
    return false;
  }
  return true;
}

/** The cutover-night steps; true when every step is done. */
function progressTimeline(ctx: DecisionContext): boolean {
  const { spec } = ctx.cutover;
  const st = ctx.st;
  const steps = spec.timeline.steps;
  st.steps = steps.map((s) => {
    const prev = st.steps?.find((x) => x.name === s.name);
    const planned = plannedAt(spec, s);
    return (
      prev ?? {
        name: s.name,
        state: 'Pending',
        ...(planned !== undefined ? { plannedAt: iso(planned) } : {}),
      }
    );
  });
  if (st.phase !== 'CuttingOver' && st.phase !== 'Monitoring' && st.phase !== 'Paused')
    st.phase = 'AwaitingCutover';
  let allDone = true;
  let current: string | undefined;
  let next: { name: string; at?: number } | undefined;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const ss = st.steps[i]!;
    if (ss.state === 'Succeeded' || ss.state === 'Skipped') continue;
    allDone = false;
    if (ss.state === 'Failed') {
      const outcome = failureOutcome(step, ss);
      if (outcome === 'Abort') {
        st.phase = 'Aborted';
        ctx.stall = {
          reason: REASON.Aborted,
          message: `step ${step.name} failed: ${ss.message ?? ''}; the plan was aborted`,
        };
        return false;
      }
      if (outcome === 'Pause') {
        if (approved(ctx, `retry:${step.name}:${ss.attempt ?? 1}`)) {
          ss.state = 'Pending';
          delete st.pausedAt;
        } else {
          st.phase = 'Paused';
          st.pausedAt = step.name;
          ctx.stall = {
            reason: REASON.Paused,
            message: `step ${step.name} failed (${ss.message ?? ''}); to retry: kubectl annotate cutover ${ctx.name} --overwrite cutover.nokta.io/approve=retry:${step.name}:${ss.attempt ?? 1}`,
          };
          return false;
        }
      } else {
        // Rollback: the trigger acts at the next sync (it reads the recorded failure).
        ctx.wakeAt(ctx.now + 1);
        return false;
      }
    }
    const deps = dependenciesOf(spec, i);
    if (!deps.every((d) => st.steps!.find((x) => x.name === d)?.state === 'Succeeded')) continue;
    const planned = plannedAt(spec, step);
    if (ss.state !== 'Running') {
      if (planned !== undefined && ctx.now < planned) {
        ss.state = 'Waiting';
        next ??= { name: step.name, at: planned };
        ctx.wakeAt(planned);
        continue;
      }
      if (step.approval?.required !== false && step.approval !== undefined && !approved(ctx, step.name)) {
        if (ss.state !== 'AwaitingApproval') {
          ss.state = 'AwaitingApproval';
          ss.awaitingSince = ctx.nowIso;
          ctx.notify(`gate:${step.name}`);
        }
        current ??= step.name;
        if (step.approval.timeout !== undefined) {
          const deadline = Date.parse(ss.awaitingSince!) + ms(step.approval.timeout, 0);
          if (ctx.now >= deadline) {
            failStep(ctx, step, ss, `approval timed out after ${step.approval.timeout}`);
            continue;
          }
          ctx.wakeAt(deadline);
        }
        ctx.waiting = {
          reason: REASON.AwaitingApproval,
          message: `step ${step.name} waits for cutover.nokta.io/approve=${step.name}`,
        };
        continue;
      }
      if (ctx.cutover.spec.paused) {
        st.phase = 'Paused';
        st.pausedAt = step.name;
        ctx.waiting = { reason: REASON.Paused, message: `paused before step ${step.name} (spec.paused)` };
        return false;
      }
      ss.state = 'Running';
      ss.attempt = (ss.attempt ?? 0) + 1;
      ss.startedAt = ctx.nowIso;
      delete ss.finishedAt;
      delete ss.message;
      if (st.phase === 'AwaitingCutover' || st.phase === 'Paused')
        st.phase = st.switchedAt ? 'Monitoring' : 'CuttingOver';
      if (step.job) ss.jobName = jobName(ctx.name, step.name, ss.attempt);
      ctx.notify(
        `step:${step.name}:${ss.attempt}`,
        `Step ${step.name} (${step.action}) started${step.owner ? `, owner ${step.owner}` : ''}`,
      );
    }
    current ??= step.name;
    if (step.timeout !== undefined) {
      const deadline = Date.parse(ss.startedAt!) + ms(step.timeout, 0);
      if (ctx.now >= deadline) {
        failStep(ctx, step, ss, `timed out after ${step.timeout}`);
        continue;
      }
      ctx.wakeAt(deadline);
    }
    runStep(ctx, step, ss);
  }
  if (current) st.currentStep = current;
  if (next) {
    st.nextStep = next.name;
    if (next.at !== undefined) st.nextStepAt = iso(next.at);
  } else {
    delete st.nextStep;
    delete st.nextStepAt;
  }
  if (!allDone) {
    ctx.waiting ??= {
      reason: REASON.Progressing,
      message: current ? `step ${current}` : next ? `next: ${next.name}` : 'cutover night',
    };
    if (st.phase === 'Paused' && !ctx.cutover.spec.paused)
      st.phase = st.switchedAt ? 'Monitoring' : 'CuttingOver';
    return false;
  }
  return true;
}

/** What a failed step leads to: a timed-out gate uses approval.onTimeout, anything else onFailure. */
export function failureOutcome(step: TimelineStep, ss: StepStatus): 'Rollback' | 'Pause' | 'Abort' {
  if (ss.message?.startsWith('approval timed out')) return step.approval?.onTimeout ?? 'Pause';
  return step.onFailure ?? 'Rollback';
}

function failStep(ctx: DecisionContext, step: TimelineStep, ss: StepStatus, message: string): void {
  ss.state = 'Failed';
  ss.finishedAt = ctx.nowIso;
  ss.message = message;
  ctx.notify(`step:${step.name}:${ss.attempt ?? 0}:failed`, `Step ${step.name} failed: ${message}`);
  ctx.wakeAt(ctx.now + 1);
}

function succeedStep(ctx: DecisionContext, ss: StepStatus, message: string): void {
  ss.state = 'Succeeded';
  ss.finishedAt = ctx.nowIso;
  ss.message = message;
}

function servicesOf(ctx: DecisionContext, step: TimelineStep, need: 'traffic' | 'flagKey'): string[] {
  return ctx.cutover.spec.services
    .filter((s) => (step.services === undefined || step.services.includes(s.name)) && s[need] !== undefined)
    .map((s) => s.name);
}

/** One Running step: emit its (idempotent) effect until the effect is observed. */
function runStep(ctx: DecisionContext, step: TimelineStep, ss: StepStatus): void {
  const { st, o } = ctx;
  const w = o.world;
  const jobState = ss.jobName !== undefined ? o.jobs[ss.jobName] : undefined;
  const jobDone = (): boolean => {
    if (!step.job) return true;
    if (jobState === 'Failed') {
      failStep(ctx, step, ss, `Job ${ss.jobName} failed`);
      return false;
    }
    if (jobState !== 'Succeeded') ctx.actions.push(ctx.job(step.name, ss.jobName!, step.job));
    return jobState === 'Succeeded';
  };
  switch (step.action) {
    case 'Freeze': {
      const pos = ctx.cutover.spec.freeze?.posOffline !== undefined;
      const done = w.legacyReadOnly === true && (!pos || w.posOffline === true);
      if (done) {
        st.frozenAt ??= ctx.nowIso;
        st.freeze = {
          ...st.freeze,
          legacyReadOnly: true,
          posOffline: pos,
          verified: w.freezeVerified === true,
          frozenBy: `cutover-operator (step ${step.name})`,
        };
        succeedStep(ctx, ss, 'legacy read-only' + (pos ? ', POS offline queue on' : ''));
      } else {
        if (pos) ctx.actions.push({ kind: 'PosOffline', on: true });
        ctx.actions.push({ kind: 'FreezeLegacy' });
        ctx.recheck = true;
      }
      return;
    }
    case 'DeltaSync':
    case 'Job':
      if (jobDone()) {
        if (step.action === 'DeltaSync') st.lastSyncAt = ctx.nowIso;
        succeedStep(ctx, ss, `Job ${ss.jobName} complete`);
      }
      return;
    case 'ReconciliationSignOff': {
      const names = step.reconciliations ?? [];
      const after = st.lastSyncAt ?? ss.startedAt!;
      const token = `cutover-signoff-${step.name}-${ss.attempt ?? 1}`;
      if (st.signOff?.step !== step.name || st.signOff.afterSyncAt !== after)
        st.signOff = { step: step.name, afterSyncAt: after, reconciliations: [] };
      const runs: NonNullable<NonNullable<CutoverStatus['signOff']>['reconciliations']> = [];
      const bad: string[] = [];
      const reruns: Action[] = [];
      let pending = false;
      for (const n of names) {
        const r = o.reconciliations[n];
        // Only the run this sign-off asked for counts (its token, finished): it was requested
        // after the delta sync finished, whatever clock the Reconciliation controller reads (a
        // rehearsal compresses the plan's clock only), so an earlier run is never signed off on.
        const counts =
          r?.rerunToken === token && r.runStartedAt !== undefined && r.runFinishedAt !== undefined;
        if (!counts) {
          if (r?.rerunToken !== token) reruns.push({ kind: 'RerunReconciliation', name: n, token });
          pending = true;
          continue;
        }
        runs.push({
          name: n,
          runStartedAt: r.runStartedAt!,
          phase: r.phase ?? 'Unknown',
          variancePercent: String(r.variancePercent ?? 0),
        });
        if (r.phase !== 'Passed')
          bad.push(`${n} ${r.phase ?? 'Unknown'} (variance ${r.variancePercent ?? '?'} %)`);
      }
      st.signOff.reconciliations = runs;
      if (bad.length) failStep(ctx, step, ss, `sign-off refused: ${bad.join(', ')}`);
      else if (pending) ctx.actions.push(...reruns);
      else {
        st.signOff.signedAt = ctx.nowIso;
        succeedStep(ctx, ss, `signed off on ${names.length} Reconciliation(s) run after the delta sync`);
      }
      return;
    }
    case 'TrafficSwitch': {
      if (!jobDone()) return;
      const services = servicesOf(ctx, step, 'traffic');
      if (services.every((s) => w.traffic[s] === 'new')) {
        st.switchedAt ??= ctx.nowIso;
        const hot = ms(ctx.cutover.spec.rollback?.keepLegacyHotFor, DEFAULT_KEEP_LEGACY_HOT_MS);
        st.legacyHotUntil ??= iso(Date.parse(st.switchedAt) + hot);
        if (!(st.sloBreaches ?? []).length) st.stableSince ??= st.switchedAt;
        st.phase = 'Monitoring';
        succeedStep(ctx, ss, `traffic on the new stack: ${services.join(', ') || '(no routes)'}`);
      } else {
        ctx.actions.push({ kind: 'Traffic', to: 'new', services });
        ctx.recheck = true;
      }
      return;
    }
    case 'EnableFlags': {
      const services = servicesOf(ctx, step, 'flagKey');
      if (services.every((s) => w.flags[s] === 'on'))
        succeedStep(ctx, ss, `flags on: ${services.join(', ')}`);
      else {
        ctx.actions.push({
          kind: 'Flags',
          on: true,
          services,
          ...(step.tenants ? { tenants: step.tenants } : {}),
        });
        ctx.recheck = true;
      }
      return;
    }
    case 'LiftFreeze': {
      const pos = ctx.cutover.spec.freeze?.posOffline !== undefined;
      if (!pos || w.posOffline === false) {
        st.freeze = { ...st.freeze, posOffline: false, newPrimaryLiftedAt: ctx.nowIso };
        succeedStep(ctx, ss, 'freeze lifted on the new primary; legacy stays read-only');
      } else {
        ctx.actions.push({ kind: 'PosOffline', on: false });
        ctx.recheck = true;
      }
      return;
    }
    case 'Monitor': {
      const end = Date.parse(ss.startedAt!) + ms(step.duration, 0);
      if (ctx.now >= end) succeedStep(ctx, ss, `watched the SLOs for ${step.duration}`);
      else ctx.wakeAt(end);
      return;
    }
    case 'Report':
      if (w.reportKeys.includes('checkpoint')) {
        st.report = { ...st.report, configMap: ctx.reportConfigMap(), checkpointAt: ctx.nowIso };
        succeedStep(ctx, ss, `report written to ConfigMap ${ctx.reportConfigMap()}`);
      } else {
        ctx.actions.push({ kind: 'WriteReport', part: 'checkpoint' });
        ctx.recheck = true;
      }
      return;
    case 'Notify':
      ctx.notify(`step:${step.name}:notify`, step.description ?? `Step ${step.name}`);
      succeedStep(ctx, ss, 'notified');
      return;
  }
}

/** Legacy hot, then post-cutover until steady state. */
function progressAfterTimeline(ctx: DecisionContext): void {
  const { st } = ctx;
  const spec = ctx.cutover.spec;
  delete st.nextStep;
  delete st.nextStepAt;
  delete st.currentStep;
  const hotUntil = st.legacyHotUntil !== undefined ? Date.parse(st.legacyHotUntil) : ctx.now;
  if (ctx.now < hotUntil) {
    st.phase = 'LegacyHot';
    ctx.waiting = { reason: REASON.Progressing, message: `legacy kept hot until ${st.legacyHotUntil}` };
    ctx.wakeAt(hotUntil);
    return;
  }
  st.legacyScaledAt ??= ctx.nowIso;
  legacyHotEnd(ctx);
  st.phase = 'PostCutover';
  const stable = st.stableSince !== undefined ? Date.parse(st.stableSince) : undefined;
  const need = ms(spec.postCutover?.steadyStateAfter, DEFAULT_STEADY_STATE_MS);
  if (stable === undefined || ctx.now < stable + need) {
    ctx.waiting = {
      reason: REASON.Progressing,
      message:
        stable === undefined
          ? 'waiting for the SLOs to hold'
          : `stable since ${st.stableSince}; steady state after ${spec.postCutover?.steadyStateAfter ?? '14d'}`,
    };
    if (stable !== undefined) ctx.wakeAt(stable + need);
    return;
  }
  if (spec.postCutover?.requireSignOff !== false && !approved(ctx, 'steady-state')) {
    ctx.waiting = {
      reason: REASON.AwaitingApproval,
      message: 'stable: waiting for cutover.nokta.io/approve=steady-state',
    };
    ctx.notify('gate:steady-state');
    return;
  }
  st.phase = 'SteadyState';
  st.steadyStateAt = ctx.nowIso;
  finalReport(ctx);
}

function exportJob(ctx: DecisionContext): void {
  const tpl = ctx.cutover.spec.rollback?.exportJob;
  if (!tpl || ctx.st.switchedAt === undefined) return;
  const ex = (ctx.st.export ??= {});
  ex.jobName ??= jobName(ctx.name, 'export', 1);
  if (ctx.o.world.exportLagSeconds !== undefined) {
    ex.lagSeconds = Math.round(ctx.o.world.exportLagSeconds);
    ex.reportedAt = ctx.nowIso;
  }
  if (ctx.o.jobs[ex.jobName] === undefined) ctx.actions.push(ctx.job('export', ex.jobName, tpl));
}

/**
 * Legacy hot ended (recorded in legacyScaledAt): scale legacy, stop the export. Idempotent
 * ("make it so"), returned at every post-cutover sync so a crash after the claim is finished.
 */
function legacyHotEnd(ctx: DecisionContext): void {
  const replicas = ctx.cutover.spec.rollback?.legacyReplicasAfterHot ?? 0;
  ctx.actions.push({ kind: 'ScaleLegacy', replicas });
  if (ctx.st.export?.jobName) ctx.actions.push({ kind: 'DeleteJob', name: ctx.st.export.jobName });
  ctx.notify('legacy-hot-ended', `Legacy hot period over: legacy scaled to ${replicas}`);
}

function finalReport(ctx: DecisionContext): void {
  if (ctx.o.world.reportKeys.includes('final')) {
    ctx.st.report = { ...ctx.st.report, configMap: ctx.reportConfigMap() };
    ctx.st.report.finalAt ??= ctx.nowIso;
  } else {
    ctx.actions.push({ kind: 'WriteReport', part: 'final' });
    ctx.recheck = true;
  }
}

// ------------------------------------------------------------------------------ conditions

function setConditions(ctx: DecisionContext): void {
  const { st } = ctx;
  const gen = ctx.cutover.metadata.generation;
  const now = new Date(ctx.now);
  const k = st as CutoverStatus & KStatus;
  let s: KStatus;
  if (st.phase === 'SteadyState') s = markReady(k, gen, now, REASON.SteadyState, 'steady state');
  else if (st.phase === 'RolledBack')
    s = markStalled(
      k,
      gen,
      now,
      REASON.RolledBack,
      `rolled back (${st.rollback?.trigger}): ${st.rollback?.reason ?? ''}`,
    );
  else if (ctx.stall) s = markStalled(k, gen, now, ctx.stall.reason, ctx.stall.message);
  else {
    const w = ctx.waiting ?? { reason: REASON.Progressing, message: st.phase ?? '' };
    s = markReconciling(k, gen, now, w.reason, w.message);
  }
  st.conditions = s.conditions;
  if (s.observedGeneration !== undefined) st.observedGeneration = s.observedGeneration;
  st.message = ctx.stall?.message ?? ctx.waiting?.message ?? st.message;
}
