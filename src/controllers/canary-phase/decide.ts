/**
 * The CanaryPhase decision, pure: `decide(observed, now) → { status, actions, requeueAfter }`.
 * The sync writes `status` first (the claim: write-ahead), then runs `actions` through the
 * idempotent actuators, then records what was done (`appliedStep`, `restoredServices`). A crash
 * anywhere is finished by the next sync deciding again from the status it finds.
 *
 * Rules (README.md in this folder says them for people):
 * - a measurement round is due every analysis.interval from the last one (or from the start);
 *   one due while the operator was down is taken once, not once per missed interval;
 * - per metric: Successful resets every count; Failed counts failures (only a success resets
 *   them); Inconclusive, NoData and Error each count their own streak, reset by any other result;
 * - the Nth consecutive failure rolls back the metric's scope (rollbackScope Phase: every
 *   service; Service: the metric's services) in the same sync; inconclusive/noData/error limits
 *   do what their onLimit says (Pause or Rollback);
 * - steps advance when their hold (pause, else the interval) has passed, a gate first needs its
 *   approval; promote skips the wait; at the end (duration, or the last hold; endBy at the
 *   latest) the phase succeeds with autoPromote (or a promote), applying onSuccess;
 * - a pause that is not a person's (a gate, a limit) longer than progressDeadline is Stalled.
 */
import type {
  CanaryPhaseSpec,
  CanaryPhaseStatus,
  Measurement,
  MeasurementResultName,
  MetricCounts,
} from '../../api/types.js';
import { parseDuration } from '../../api/duration.js';

export const ACTION_ANNOTATION = 'cutover.nokta.io/action';
export const APPROVE_ANNOTATION = 'cutover.nokta.io/approve';
/** Measurements kept in status (newest last). */
export const MEASUREMENT_HISTORY = 60;
export const MANUAL_PAUSE = 'paused by a person (cutover.nokta.io/action: pause)';
export const SPEC_PAUSE = 'paused by spec.paused';

export interface TakenMeasurement {
  metric: string;
  value?: number;
  result: MeasurementResultName;
  reason: string;
  at: string;
}

export interface Observed {
  spec: CanaryPhaseSpec;
  generation?: number;
  status: CanaryPhaseStatus;
  annotations: Record<string, string>;
  /** Results of the round claimed in status.measuringRound, taken by this sync. */
  taken?: TakenMeasurement[];
}

export type Action =
  | { kind: 'Apply'; step: number; weight: number; services: string[] }
  | { kind: 'Measure'; round: number; metrics: string[] }
  | { kind: 'Restore'; services: string[] };

export interface Decision {
  status: CanaryPhaseStatus;
  actions: Action[];
  /** ms until the next planned change. */
  requeueAfter?: number;
  /** Set when the phase cannot advance for longer than its progress deadline. */
  stalled?: { reason: string; message: string };
}

const TERMINAL = new Set(['Succeeded', 'Promoted', 'RolledBack', 'Aborted', 'Failed']);
const ms = (d: string | undefined, def: number): number => (d ? parseDuration(d) : def);
const iso = (d: Date | number): string => new Date(d).toISOString();
const t = (s: string | undefined): number | undefined => (s ? Date.parse(s) : undefined);

export function intervalMs(spec: CanaryPhaseSpec): number {
  return ms(spec.analysis.interval, 3_600_000);
}
function holdMs(spec: CanaryPhaseSpec, step: number): number {
  return ms(spec.steps[step]?.pause, intervalMs(spec));
}

/** Services not rolled back. */
export function activeServices(spec: CanaryPhaseSpec, status: CanaryPhaseStatus): string[] {
  const gone = new Set(status.rolledBackServices ?? []);
  return spec.services.map((s) => s.name).filter((n) => !gone.has(n));
}

/** Metrics still judging at least one active service. */
export function activeMetrics(spec: CanaryPhaseSpec, status: CanaryPhaseStatus): string[] {
  const active = new Set(activeServices(spec, status));
  return spec.analysis.metrics
    .filter((m) => (m.services ?? spec.services.map((s) => s.name)).some((n) => active.has(n)))
    .map((m) => m.name);
}

/** `verb` or `verb:token` → the verb; anything else undefined. */
export function parseAction(value: string | undefined): 'pause' | 'resume' | 'promote' | 'abort' | undefined {
  const verb = value?.split(':')[0]?.trim().toLowerCase();
  return verb === 'pause' || verb === 'resume' || verb === 'promote' || verb === 'abort' ? verb : undefined;
}

function counts(status: CanaryPhaseStatus, metric: string): MetricCounts {
  const c = (status.metrics ?? []).find((m) => m.name === metric);
  return c ? { ...c } : { name: metric, failures: 0, inconclusive: 0, noData: 0, errors: 0 };
}

function setCounts(status: CanaryPhaseStatus, c: MetricCounts): void {
  const list = (status.metrics ?? []).filter((m) => m.name !== c.name);
  status.metrics = [...list, c];
}

/** Folds one measurement into a metric's counts. */
export function countResult(c: MetricCounts, m: TakenMeasurement): MetricCounts {
  const n: MetricCounts = { ...c, lastResult: m.result, lastAt: m.at };
  const f = c.failures ?? 0;
  n.failures = m.result === 'Successful' ? 0 : m.result === 'Failed' ? f + 1 : f;
  n.inconclusive = m.result === 'Inconclusive' ? (c.inconclusive ?? 0) + 1 : 0;
  n.noData = m.result === 'NoData' ? (c.noData ?? 0) + 1 : 0;
  n.errors = m.result === 'Error' ? (c.errors ?? 0) + 1 : 0;
  return n;
}

function pendingRestore(spec: CanaryPhaseSpec, s: CanaryPhaseStatus): string[] {
  const done = new Set(s.restoredServices ?? []);
  const due =
    s.phase === 'Aborted' ||
    ((s.phase === 'Succeeded' || s.phase === 'Promoted') && spec.onSuccess === 'Restore')
      ? spec.services.map((x) => x.name)
      : (s.rolledBackServices ?? []);
  return due.filter((n) => !done.has(n));
}

function pause(s: CanaryPhaseStatus, reason: string, now: Date): void {
  if (s.phase !== 'Paused' || s.pauseReason !== reason) s.pausedAt = iso(now);
  s.phase = 'Paused';
  s.pauseReason = reason;
  s.message = reason;
}

function unpause(s: CanaryPhaseStatus): void {
  delete s.pauseReason;
  delete s.pausedAt;
  delete s.waitingForGate;
  if (s.phase === 'Paused') s.phase = 'Progressing';
}

function finish(
  s: CanaryPhaseStatus,
  phase: 'Succeeded' | 'Promoted' | 'Aborted' | 'RolledBack',
  now: Date,
  message: string,
): void {
  s.phase = phase;
  s.finishedAt = iso(now);
  s.message = message;
  delete s.pauseReason;
  delete s.pausedAt;
  delete s.waitingForGate;
  delete s.nextMeasurementAt;
}

/** Rolls back `services` (those still active): records who and why; the phase ends when none is left. */
function rollBack(
  spec: CanaryPhaseSpec,
  s: CanaryPhaseStatus,
  services: string[],
  why: { reason: string; metric: string; value?: number; at: string },
  now: Date,
): void {
  const active = activeServices(spec, s);
  const hit = services.filter((n) => active.includes(n));
  if (hit.length === 0) return;
  s.rolledBackServices = [...(s.rolledBackServices ?? []), ...hit];
  s.rollback = {
    reason: why.reason,
    metric: why.metric,
    ...(why.value !== undefined ? { value: String(why.value) } : {}),
    at: why.at,
    services: hit,
  };
  delete s.restoredAt;
  if (activeServices(spec, s).length === 0) finish(s, 'RolledBack', now, `rolled back: ${why.reason}`);
  else s.message = `rolled back ${hit.join(', ')}: ${why.reason}`;
}

function scopeOf(spec: CanaryPhaseSpec, metric: string): string[] {
  const all = spec.services.map((x) => x.name);
  if ((spec.analysis.rollbackScope ?? 'Phase') === 'Phase') return all;
  return spec.analysis.metrics.find((m) => m.name === metric)?.services ?? all;
}

/** Records a round's measurements; decides rollback or pause on the limits. */
function record(spec: CanaryPhaseSpec, s: CanaryPhaseStatus, taken: TakenMeasurement[], now: Date): void {
  const history: Measurement[] = [...(s.measurements ?? [])];
  for (const m of taken) {
    setCounts(s, countResult(counts(s, m.metric), m));
    history.push({
      metric: m.metric,
      at: m.at,
      ...(m.value !== undefined ? { value: String(m.value).slice(0, 64) } : {}),
      result: m.result,
      message: m.reason.slice(0, 1024),
    });
  }
  s.measurements = history.slice(-MEASUREMENT_HISTORY);
  delete s.measuringRound;
  const a = spec.analysis;
  const failureLimit = a.consecutiveFailureLimit ?? 2;
  const limits = [
    { key: 'inconclusive', what: 'inconclusive', cfg: a.inconclusive, def: 3 },
    { key: 'noData', what: 'without data', cfg: a.noData, def: 3 },
    { key: 'errors', what: 'in error', cfg: a.error, def: 4 },
  ] as const;
  for (const m of taken) {
    const c = counts(s, m.metric);
    const value = m.value !== undefined ? ` (value ${m.value})` : '';
    if ((c.failures ?? 0) >= failureLimit) {
      rollBack(
        spec,
        s,
        scopeOf(spec, m.metric),
        {
          reason: `${m.metric} failed ${c.failures} times in a row${value}: ${m.reason}`,
          metric: m.metric,
          ...(m.value !== undefined ? { value: m.value } : {}),
          at: m.at,
        },
        now,
      );
      continue;
    }
    for (const l of limits) {
      const n = c[l.key] ?? 0;
      const limit = l.cfg?.limit ?? l.def;
      if (n < limit) continue;
      const reason = `${m.metric} ${l.what} ${n} times in a row: ${m.reason}`;
      if ((l.cfg?.onLimit ?? 'Pause') === 'Rollback')
        rollBack(
          spec,
          s,
          scopeOf(spec, m.metric),
          { reason, metric: m.metric, ...(m.value !== undefined ? { value: m.value } : {}), at: m.at },
          now,
        );
      else if (!TERMINAL.has(s.phase ?? '')) pause(s, `${reason}: resume or promote to go on`, now);
    }
  }
  s.consecutiveFailures = Math.max(0, ...(s.metrics ?? []).map((c) => c.failures ?? 0));
}

function applyAction(spec: CanaryPhaseSpec, s: CanaryPhaseStatus): Action | undefined {
  if (s.currentStep === undefined || s.appliedStep === s.currentStep) return undefined;
  return {
    kind: 'Apply',
    step: s.currentStep,
    weight: spec.steps[s.currentStep]!.weight,
    services: activeServices(spec, s),
  };
}

function withRestore(spec: CanaryPhaseSpec, s: CanaryPhaseStatus, actions: Action[]): Action[] {
  const services = pendingRestore(spec, s);
  // The restore goes first: it is what must happen fast.
  return services.length
    ? [
        { kind: 'Restore', services },
        ...actions.filter((a) => a.kind !== 'Apply' || s.phase === 'Progressing' || s.phase === 'Paused'),
      ]
    : actions;
}

export function decide(o: Observed, now: Date): Decision {
  const spec = o.spec;
  const s: CanaryPhaseStatus = structuredClone(o.status);
  s.observedGeneration = o.generation ?? s.observedGeneration;
  const nowMs = now.getTime();
  const wake: number[] = [];

  if (TERMINAL.has(s.phase ?? '')) {
    return { status: s, actions: withRestore(spec, s, []) };
  }

  // Results of a claimed round: recorded first (a rollback starts in this same sync).
  if (o.taken && s.measuringRound !== undefined) {
    record(spec, s, o.taken, now);
    if (TERMINAL.has(s.phase ?? '')) return { status: s, actions: withRestore(spec, s, []) };
  }

  // Manual control, each token once.
  const actionValue = o.annotations[ACTION_ANNOTATION];
  let promote = false;
  if (actionValue !== undefined && actionValue !== s.lastActionToken) {
    s.lastActionToken = actionValue;
    const verb = parseAction(actionValue);
    if (verb === 'abort') {
      finish(s, 'Aborted', now, `aborted by a person (${actionValue}): every change given back`);
      return { status: s, actions: withRestore(spec, s, []) };
    }
    if (verb === 'pause') pause(s, MANUAL_PAUSE, now);
    if (verb === 'resume') {
      unpause(s);
      for (const c of s.metrics ?? []) Object.assign(c, { inconclusive: 0, noData: 0, errors: 0 });
    }
    if (verb === 'promote') {
      promote = true;
      if (s.pauseReason !== SPEC_PAUSE) unpause(s);
      for (const c of s.metrics ?? []) Object.assign(c, { inconclusive: 0, noData: 0, errors: 0 });
    }
  }
  const approveValue = o.annotations[APPROVE_ANNOTATION];
  if (approveValue !== undefined && approveValue !== s.lastApproveToken) {
    s.lastApproveToken = approveValue;
    const gate = approveValue.split(':')[0]!.trim();
    if (spec.gates?.some((g) => g.name === gate) && !(s.approvedGates ?? []).includes(gate))
      s.approvedGates = [...(s.approvedGates ?? []), gate];
  }
  if (spec.paused) pause(s, SPEC_PAUSE, now);
  else if (s.pauseReason === SPEC_PAUSE) unpause(s);

  // Start.
  if (s.startedAt === undefined) {
    const startAt = t(spec.startAt);
    if (startAt !== undefined && nowMs < startAt) {
      s.phase = 'Pending';
      s.message = `starts at ${spec.startAt}`;
      return { status: s, actions: [], requeueAfter: startAt - nowMs };
    }
    s.startedAt = iso(now);
    s.measurementsTaken = 0;
    s.appliedStep = -1;
    if (s.phase !== 'Paused') s.phase = 'Progressing';
  }
  const started = Date.parse(s.startedAt);
  const endBy = t(spec.endBy);
  const manual = s.pauseReason === MANUAL_PAUSE || s.pauseReason === SPEC_PAUSE;
  // Paused (by a person, spec.paused or a limit) holds the step; a gate pause waits for its approval.
  const holding = s.phase === 'Paused' && s.waitingForGate === undefined;

  // Step: enter the first step, or the next when the hold is over (promote skips the wait).
  const last = spec.steps.length - 1;
  const gateBefore = (step: number): string | undefined => {
    const g = spec.gates?.find((x) => x.beforeStep === step);
    return g && !(s.approvedGates ?? []).includes(g.name) ? g.name : undefined;
  };
  const enter = (step: number): boolean => {
    const gate = gateBefore(step);
    if (gate) {
      s.waitingForGate = gate;
      pause(s, `waiting for approval of gate ${gate} (cutover.nokta.io/approve: ${gate})`, now);
      return false;
    }
    if (s.waitingForGate) unpause(s);
    s.currentStep = step;
    s.currentWeight = spec.steps[step]!.weight;
    s.stepStartedAt = iso(now);
    s.message = `step ${step + 1}/${spec.steps.length}: ${s.currentWeight} % of in-scope sessions on the new stack`;
    return true;
  };
  if (!holding) {
    if (s.currentStep === undefined) enter(0);
    else if (s.currentStep < last) {
      const due = Date.parse(s.stepStartedAt!) + holdMs(spec, s.currentStep);
      if (promote || nowMs >= due) enter(s.currentStep + 1);
      else wake.push(due);
    }
  }

  // End of the phase.
  if (s.currentStep === last && s.phase !== 'Paused') {
    const end = spec.duration
      ? started + parseDuration(spec.duration)
      : Date.parse(s.stepStartedAt!) + holdMs(spec, last);
    const countOk = spec.analysis.count === undefined || (s.measurementsTaken ?? 0) >= spec.analysis.count;
    if (promote && s.appliedStep === last) {
      finish(s, 'Promoted', now, 'promoted by a person');
    } else if (
      nowMs >= end &&
      countOk &&
      spec.autoPromote &&
      s.appliedStep === last &&
      s.measuringRound === undefined
    ) {
      // Only once the last step is applied and no claimed round is left to take: an operator down
      // past the end (or killed between a claim and its effect) must not end the phase with the
      // exposure short of the last step or a claimed round never recorded.
      finish(s, 'Succeeded', now, 'the analysis passed for the whole phase');
    } else if (nowMs >= end) {
      s.message = `holding ${s.currentWeight} % at the last step: promote to end (cutover.nokta.io/action: promote)`;
    } else wake.push(end);
  }
  if (endBy !== undefined && !TERMINAL.has(s.phase ?? '')) {
    if (nowMs >= endBy) finish(s, 'Succeeded', now, `ended at endBy (${spec.endBy})`);
    else wake.push(endBy);
  }
  if (TERMINAL.has(s.phase ?? ''))
    return { status: s, actions: withRestore(spec, s, []), ...requeue(wake, nowMs) };

  const actions: Action[] = [];
  const apply = applyAction(spec, s);
  if (apply) actions.push(apply);

  // Measurement: a claimed round not recorded yet is taken again; else one when due.
  const metrics = activeMetrics(spec, s);
  const interval = intervalMs(spec);
  if (metrics.length) {
    if (s.measuringRound !== undefined && !o.taken) {
      actions.push({ kind: 'Measure', round: s.measuringRound, metrics });
    } else if (!o.taken) {
      const due = s.lastMeasuredAt ? Date.parse(s.lastMeasuredAt) + interval : started + interval;
      if (nowMs >= due) {
        s.measuringRound = (s.measurementsTaken ?? 0) + 1;
        s.measurementsTaken = s.measuringRound;
        s.lastMeasuredAt = iso(now);
        s.nextMeasurementAt = iso(nowMs + interval);
        actions.push({ kind: 'Measure', round: s.measuringRound, metrics });
        wake.push(nowMs + interval);
      } else {
        s.nextMeasurementAt = iso(due);
        wake.push(due);
      }
    } else if (s.lastMeasuredAt) {
      wake.push(Date.parse(s.lastMeasuredAt) + interval);
    }
  }

  // Progress deadline: a pause that is not a person's, longer than allowed.
  let stalled: Decision['stalled'];
  if (s.phase === 'Paused' && !manual && s.pausedAt) {
    const deadline = Date.parse(s.pausedAt) + ms(spec.progressDeadline, 3_600_000);
    if (nowMs >= deadline)
      stalled = {
        reason: 'ProgressDeadlineExceeded',
        message: `cannot advance since ${s.pausedAt}: ${s.pauseReason ?? ''}`,
      };
    else wake.push(deadline);
  }
  return {
    status: s,
    actions: withRestore(spec, s, actions),
    ...requeue(wake, nowMs),
    ...(stalled ? { stalled } : {}),
  };
}

function requeue(wake: number[], nowMs: number): { requeueAfter?: number } {
  const future = wake.filter((w) => Number.isFinite(w));
  return future.length ? { requeueAfter: Math.max(0, Math.min(...future) - nowMs) } : {};
}
