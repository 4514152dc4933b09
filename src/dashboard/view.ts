/**
 * What the browser gets: plain views of the Cutovers, CanaryPhases, Reconciliations and Events the
 * caller may read. Every field is copied by name (never a whole spec): database URLs, Secret
 * references, Job templates and headers stay on the server, so no secret can reach the page.
 */
import type {
  CanaryPhase,
  Cutover,
  Measurement,
  Reconciliation,
  RollbackActionStatus,
  StepState,
} from '../api/types.js';
import { ANNOTATIONS } from '../api/crds.js';
/** The security trigger's default annotation (src/controllers/cutover/rollback.ts). */
const DEFAULT_SECURITY_ANNOTATION = ANNOTATIONS.securityIncident;

/** The sign-off gate of steady state, as the Cutover controller reads it from the approve annotation. */
export const STEADY_STATE_GATE = 'steady-state';

/** An events.k8s.io/v1 Event, the fields the log shows. */
export interface KubeEvent {
  metadata: { name: string; namespace?: string; creationTimestamp?: string };
  regarding?: { kind?: string; name?: string; namespace?: string };
  reason?: string;
  note?: string;
  type?: string;
  eventTime?: string;
  deprecatedLastTimestamp?: string;
  series?: { count?: number; lastObservedTime?: string };
}

export interface CutoverSummary {
  namespace: string;
  name: string;
  phase: string;
  currentStep?: string;
  nextStep?: string;
  nextStepAt?: string;
  message?: string;
}

export interface TimelineEntry {
  name: string;
  action: string;
  owner?: string;
  description?: string;
  plannedAt?: string;
  state: StepState;
  approval: 'none' | 'required' | 'approved';
  approvedBy?: string;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}

export interface TriggerView {
  trigger: string;
  active: boolean;
  /** 0..1: how close it is to firing (1 = fired). */
  closeness: number;
  detail: string;
  /**
   * For a trigger that fires after a breach lasted long enough (SloBreach): the earliest breach
   * start and how long it may last, so the page recomputes closeness on its own timer from the
   * watched state (no request to the API server for it).
   */
  since?: string;
  forMs?: number;
}

/** One comparing shadow proxy (status.shadow.proxies) against the go/no-go threshold. */
export interface ShadowProxyView {
  service: string;
  state: string;
  compared?: number;
  differing?: number;
  differencePercent?: number;
  measuredAt?: string;
  message?: string;
  /** spec.shadow.maxDifferencePercent, when set. */
  maxDifferencePercent?: number;
  minCompared: number;
  /** Over the threshold with enough answers compared: the go/no-go to canary says no. */
  over: boolean;
}

export interface ExposureRow {
  cohort: string;
  service: string;
  weight: number;
  rolledBack: boolean;
}

export interface MetricSeries {
  metric: string;
  lastResult?: string;
  failures: number;
  points: { at: string; value?: number; result?: string }[];
}

export interface CanaryView {
  name: string;
  phase: string;
  currentStep?: number;
  steps: number;
  currentWeight: number;
  waitingForGate?: string;
  pauseReason?: string;
  message?: string;
  exposure: ExposureRow[];
  metrics: MetricSeries[];
  rollback?: { reason?: string; metric?: string; value?: string; at?: string };
}

export interface CheckView {
  reconciliation: string;
  check: string;
  verdict: string;
  variancePercent: number;
  worstTenant?: string;
  error?: string;
  tenants: { tenant: string; variancePercent: number; verdict: string; legacy?: string; target?: string }[];
  differingKeys: { tenant?: string; key?: string; kind?: string; columns?: string[]; rows?: number }[];
}

export interface ReconciliationView {
  name: string;
  role: string;
  phase: string;
  lastRunAt?: string;
  maxVariancePercent?: string;
  checks: CheckView[];
}

export interface EventView {
  at: string;
  type: string;
  reason: string;
  kind: string;
  name: string;
  note: string;
}

export interface RollbackActionView {
  name: string;
  state: NonNullable<RollbackActionStatus['state']>;
  at?: string;
  finishedAt?: string;
  message?: string;
}

export interface CutoverView {
  summary: CutoverSummary;
  paused: boolean;
  /** Steady state needs `cutover.nokta.io/approve=steady-state` (postCutover.requireSignOff, default true). */
  steadyStateSignOff: 'none' | 'required' | 'approved';
  milestones: { name: string; at?: string; reached: boolean }[];
  timeline: TimelineEntry[];
  triggers: TriggerView[];
  rollback?: {
    trigger?: string;
    reason?: string;
    triggeredAt?: string;
    completedAt?: string;
    actions: RollbackActionView[];
  };
  canaries: CanaryView[];
  reconciliations: ReconciliationView[];
  shadow: { reconciliation: string; reruns: number; state?: string; variancePercent?: number }[];
  shadowProxies: ShadowProxyView[];
  events: EventView[];
}

export function summarize(co: Cutover): CutoverSummary {
  const st = co.status ?? {};
  return {
    namespace: co.metadata.namespace ?? 'default',
    name: co.metadata.name,
    phase: st.phase ?? 'Pending',
    ...(st.currentStep ? { currentStep: st.currentStep } : {}),
    ...(st.nextStep ? { nextStep: st.nextStep } : {}),
    ...(st.nextStepAt ? { nextStepAt: st.nextStepAt } : {}),
    ...(st.message ? { message: st.message } : {}),
  };
}

/** The status' planned time, else the step's `at`, else `startAt + offset` (as the plan reads it). */
function plannedAt(
  fromStatus: string | undefined,
  at: string | undefined,
  startAt: string | undefined,
  offset: string | undefined,
): { plannedAt: string } | undefined {
  if (fromStatus) return { plannedAt: fromStatus };
  if (at) return { plannedAt: at };
  const start = startAt ? Date.parse(startAt) : NaN;
  if (!offset || Number.isNaN(start)) return undefined;
  const sign = offset.startsWith('-') ? -1 : 1;
  return { plannedAt: new Date(start + sign * durationMs(offset)).toISOString() };
}

function timeline(co: Cutover): TimelineEntry[] {
  const st = co.status ?? {};
  return co.spec.timeline.steps.map((step) => {
    const s = st.steps?.find((x) => x.name === step.name);
    const approved = st.approvals?.find((a) => a.step === step.name);
    const required = step.approval?.required !== false && step.approval !== undefined;
    return {
      name: step.name,
      action: step.action,
      ...(step.owner ? { owner: step.owner } : {}),
      ...(step.description ? { description: step.description } : {}),
      ...(plannedAt(s?.plannedAt, step.at, co.spec.timeline.startAt, step.offset) ?? {}),
      state: s?.state ?? 'Pending',
      approval: approved ? 'approved' : required ? 'required' : 'none',
      ...(approved?.by ? { approvedBy: approved.by } : {}),
      ...(s?.startedAt ? { startedAt: s.startedAt } : {}),
      ...(s?.finishedAt ? { finishedAt: s.finishedAt } : {}),
      ...(s?.message ? { message: s.message } : {}),
    };
  });
}

function milestones(co: Cutover): CutoverView['milestones'] {
  const st = co.status ?? {};
  const prepDone = (st.preparation ?? []).every((p) => p.state === 'Succeeded' || p.state === 'Skipped');
  const at = (v: string | undefined): { at?: string; reached: boolean } =>
    v ? { at: v, reached: true } : { reached: false };
  const order = [
    'Pending',
    'Preparation',
    'Shadow',
    'Canary',
    'AwaitingCutover',
    'CuttingOver',
    'Monitoring',
    'LegacyHot',
    'PostCutover',
    'SteadyState',
  ];
  const idx = order.indexOf(st.phase ?? 'Pending');
  const past = (p: string): boolean => idx >= 0 && idx > order.indexOf(p);
  return [
    { name: 'Preparation', reached: prepDone && past('Preparation') },
    {
      name: 'Shadow',
      ...(co.spec.shadow?.startAt ? { at: co.spec.shadow.startAt } : {}),
      reached: past('Shadow'),
    },
    { name: 'Canary', reached: past('Canary') },
    { name: 'Freeze', ...at(st.frozenAt) },
    { name: 'Switch', ...at(st.switchedAt) },
    {
      name: 'Legacy hot until',
      ...(st.legacyHotUntil ? { at: st.legacyHotUntil } : {}),
      reached: !!st.legacyScaledAt,
    },
    { name: 'Steady state', ...at(st.steadyStateAt) },
  ];
}

function pct(text: string | number | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = typeof text === 'number' ? text : Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function triggers(co: Cutover, recons: Map<string, Reconciliation>, now: number): TriggerView[] {
  const t = co.spec.rollback?.triggers ?? {};
  const st = co.status ?? {};
  const out: TriggerView[] = [];
  const slo = t.sloBreach;
  if (slo || co.spec.slos?.length) {
    const forMs = durationMs(slo?.for ?? '5m');
    const breaches = st.sloBreaches ?? [];
    const longest = Math.max(0, ...breaches.map((b) => (b.since ? now - Date.parse(b.since) : 0)));
    const earliest = breaches
      .map((b) => b.since)
      .filter((x): x is string => !!x && !Number.isNaN(Date.parse(x)))
      .sort()[0];
    out.push({
      trigger: 'SloBreach',
      active: !!slo,
      closeness: breaches.length ? Math.min(1, longest / Math.max(1, forMs)) : 0,
      ...(earliest ? { since: earliest, forMs } : {}),
      detail: breaches.length
        ? breaches
            .map((b) => `${b.slo ?? '?'} breached since ${b.since ?? '?'} (value ${b.value ?? '?'})`)
            .join('; ')
        : `no SLO breached (fires after ${slo?.for ?? '5m'})`,
    });
  }
  const variance = t.reconciliationVariance;
  if (variance) {
    const limit = variance.percent ?? 1;
    let worst = 0;
    let worstName = '';
    for (const [name, r] of recons) {
      const v = pct(r.status?.summary?.maxVariancePercent) ?? 0;
      if (v >= worst) {
        worst = v;
        worstName = name;
      }
    }
    out.push({
      trigger: 'ReconciliationVariance',
      active: true,
      closeness: Math.min(1, worst / limit),
      detail: worstName ? `worst ${worstName}: ${worst} % of ${limit} %` : `limit ${limit} %`,
    });
  }
  const sec = t.securityFlag;
  if (sec) {
    const key = sec.annotation ?? DEFAULT_SECURITY_ANNOTATION;
    const raised = co.metadata.annotations?.[key] === 'true';
    out.push({
      trigger: 'SecurityFlag',
      active: true,
      closeness: raised ? 1 : 0,
      detail: raised ? `${key}=true: critical security flaw raised` : `${key} not set`,
    });
  }
  if (t.stepFailed?.enabled !== false) {
    const failed = (st.steps ?? []).filter((s) => s.state === 'Failed').map((s) => s.name ?? '?');
    out.push({
      trigger: 'StepFailed',
      active: true,
      closeness: failed.length ? 1 : 0,
      detail: failed.length ? `failed: ${failed.join(', ')}` : 'no step failed',
    });
  }
  const action = co.metadata.annotations?.[ANNOTATIONS.action];
  const manual = action !== undefined && (action === 'rollback' || action.startsWith('rollback:'));
  out.push({
    trigger: 'Manual',
    active: true,
    closeness: manual ? 1 : 0,
    detail: manual ? `requested: ${action.slice('rollback:'.length) || 'rollback'}` : 'not requested',
  });
  return out;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** `90s`, `5m`, `1h30m` → ms (0 when unreadable). */
export function durationMs(text: string): number {
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g))
    total += Number(m[1]) * (DURATION_UNITS[m[2]!] ?? 0);
  return total;
}

function canaryView(cp: CanaryPhase): CanaryView {
  const st = cp.status ?? {};
  const weight = st.currentWeight ?? 0;
  const rolledBack = new Set(st.rolledBackServices ?? []);
  const allServices = cp.spec.services.map((s) => s.name);
  const cohorts = cp.spec.cohorts?.length ? cp.spec.cohorts : [{ name: 'all', services: allServices }];
  const exposure: ExposureRow[] = cohorts.flatMap((c) =>
    (c.services?.length ? c.services : allServices).map((service) => ({
      cohort: c.name,
      service,
      weight: rolledBack.has(service) || st.phase === 'RolledBack' ? 0 : weight,
      rolledBack: rolledBack.has(service) || st.phase === 'RolledBack',
    })),
  );
  const byMetric = new Map<string, Measurement[]>();
  for (const m of st.measurements ?? []) {
    const k = m.metric ?? '?';
    byMetric.set(k, [...(byMetric.get(k) ?? []), m]);
  }
  const metrics: MetricSeries[] = cp.spec.analysis.metrics.map((m) => {
    const counts = st.metrics?.find((c) => c.name === m.name);
    return {
      metric: m.name,
      ...(counts?.lastResult ? { lastResult: counts.lastResult } : {}),
      failures: counts?.failures ?? 0,
      points: (byMetric.get(m.name) ?? []).map((p) => ({
        at: p.at ?? '',
        ...(pct(p.value) !== undefined ? { value: pct(p.value) } : {}),
        ...(p.result ? { result: p.result } : {}),
      })),
    };
  });
  return {
    name: cp.metadata.name,
    phase: st.phase ?? 'Pending',
    ...(st.currentStep !== undefined ? { currentStep: st.currentStep } : {}),
    steps: cp.spec.steps.length,
    currentWeight: weight,
    ...(st.waitingForGate ? { waitingForGate: st.waitingForGate } : {}),
    ...(st.pauseReason ? { pauseReason: st.pauseReason } : {}),
    ...(st.message ? { message: st.message } : {}),
    exposure,
    metrics,
    ...(st.rollback
      ? {
          rollback: {
            ...(st.rollback.reason ? { reason: st.rollback.reason } : {}),
            ...(st.rollback.metric ? { metric: st.rollback.metric } : {}),
            ...(st.rollback.value ? { value: st.rollback.value } : {}),
            ...(st.rollback.at ? { at: st.rollback.at } : {}),
          },
        }
      : {}),
  };
}

const VERDICT_RANK: Record<string, number> = { Error: 4, Failed: 3, RemediationNeeded: 2, Passed: 0 };

function reconciliationView(name: string, role: string, r: Reconciliation | undefined): ReconciliationView {
  const st = r?.status ?? {};
  const checks: CheckView[] = (st.checks ?? []).map((c) => ({
    reconciliation: name,
    check: c.name ?? '?',
    verdict: c.verdict ?? 'Unknown',
    variancePercent: c.variancePercent ?? 0,
    ...(c.worstTenant ? { worstTenant: c.worstTenant } : {}),
    ...(c.error ? { error: c.error } : {}),
    tenants: (c.tenants ?? [])
      .map((t) => ({
        tenant: t.tenant ?? '?',
        variancePercent: t.variancePercent ?? 0,
        verdict: t.verdict ?? 'Unknown',
        ...(t.legacy !== undefined ? { legacy: t.legacy } : {}),
        ...(t.target !== undefined ? { target: t.target } : {}),
      }))
      .sort((a, b) => b.variancePercent - a.variancePercent),
    differingKeys: (c.differingKeys ?? []).map((k) => ({ ...k })),
  }));
  checks.sort(
    (a, b) =>
      (VERDICT_RANK[b.verdict] ?? 1) - (VERDICT_RANK[a.verdict] ?? 1) ||
      b.variancePercent - a.variancePercent,
  );
  return {
    name,
    role,
    phase: r ? (st.phase ?? 'Pending') : 'NotFound',
    ...(st.lastRun?.startedAt ? { lastRunAt: st.lastRun.startedAt } : {}),
    ...(st.summary?.maxVariancePercent ? { maxVariancePercent: st.summary.maxVariancePercent } : {}),
    checks,
  };
}

/** The Reconciliations a Cutover names, with the part of the plan that names each. */
export function reconciliationRoles(co: Cutover): Map<string, string> {
  const roles = new Map<string, string>();
  const add = (n: string, role: string): void => {
    if (!roles.has(n)) roles.set(n, role);
  };
  for (const n of co.spec.shadow?.reconciliations ?? []) add(n, 'shadow');
  for (const s of co.spec.timeline.steps) for (const n of s.reconciliations ?? []) add(n, `step ${s.name}`);
  for (const n of co.spec.postCutover?.reconciliations ?? []) add(n, 'post-cutover');
  if (co.spec.rollback?.verifyReconciliation)
    add(co.spec.rollback.verifyReconciliation, 'rollback verification');
  return roles;
}

function eventView(e: KubeEvent): EventView {
  return {
    at:
      e.series?.lastObservedTime ??
      e.eventTime ??
      e.deprecatedLastTimestamp ??
      e.metadata.creationTimestamp ??
      '',
    type: e.type ?? 'Normal',
    reason: e.reason ?? '',
    kind: e.regarding?.kind ?? '',
    name: e.regarding?.name ?? '',
    note: e.note ?? '',
  };
}

function steadyStateSignOff(co: Cutover): CutoverView['steadyStateSignOff'] {
  if (co.spec.postCutover?.requireSignOff === false) return 'none';
  const listed = (co.metadata.annotations?.[ANNOTATIONS.approve] ?? '').split(',').map((x) => x.trim());
  const recorded = co.status?.approvals?.some((a) => a.step === STEADY_STATE_GATE);
  return listed.includes(STEADY_STATE_GATE) || recorded ? 'approved' : 'required';
}

export interface CutoverInputs {
  cutover: Cutover;
  canaryPhases: Map<string, CanaryPhase>;
  reconciliations: Map<string, Reconciliation>;
  events: KubeEvent[];
  now: number;
}

export function cutoverView(i: CutoverInputs): CutoverView {
  const co = i.cutover;
  const st = co.status ?? {};
  const roles = reconciliationRoles(co);
  const rb = st.rollback;
  return {
    summary: summarize(co),
    paused: co.spec.paused === true,
    steadyStateSignOff: steadyStateSignOff(co),
    milestones: milestones(co),
    timeline: timeline(co),
    triggers: triggers(co, i.reconciliations, i.now),
    ...(rb
      ? {
          rollback: {
            ...(rb.trigger ? { trigger: rb.trigger } : {}),
            ...(rb.reason ? { reason: rb.reason } : {}),
            ...(rb.triggeredAt ? { triggeredAt: rb.triggeredAt } : {}),
            ...(rb.completedAt ? { completedAt: rb.completedAt } : {}),
            actions: (rb.actions ?? []).map((a) => ({
              name: a.name ?? '?',
              state: a.state ?? 'Pending',
              ...(a.at ? { at: a.at } : {}),
              ...(a.finishedAt ? { finishedAt: a.finishedAt } : {}),
              ...(a.message ? { message: a.message } : {}),
            })),
          },
        }
      : {}),
    canaries: (co.spec.canary?.phases ?? []).map((n) => {
      const cp = i.canaryPhases.get(n);
      return cp
        ? canaryView(cp)
        : { name: n, phase: 'NotFound', steps: 0, currentWeight: 0, exposure: [], metrics: [] };
    }),
    reconciliations: [...roles].map(([n, role]) => reconciliationView(n, role, i.reconciliations.get(n))),
    shadow: (co.spec.shadow?.reconciliations ?? []).map((n) => {
      const rerun = st.shadow?.reruns?.find((r) => r.reconciliation === n);
      const v = pct(i.reconciliations.get(n)?.status?.summary?.maxVariancePercent);
      return {
        reconciliation: n,
        reruns: rerun?.count ?? 0,
        ...(rerun?.state ? { state: rerun.state } : {}),
        ...(v !== undefined ? { variancePercent: v } : {}),
      };
    }),
    shadowProxies: shadowProxies(co),
    events: i.events
      .map(eventView)
      .sort((a, b) => b.at.localeCompare(a.at))
      .slice(0, 200),
  };
}

function shadowProxies(co: Cutover): ShadowProxyView[] {
  const limit = co.spec.shadow?.maxDifferencePercent;
  const minCompared = co.spec.shadow?.minCompared ?? 100;
  return (co.status?.shadow?.proxies ?? []).map((p) => {
    const rate = pct(p.differencePercent);
    return {
      service: p.service ?? '?',
      state: p.state ?? 'Pending',
      ...(p.compared !== undefined ? { compared: p.compared } : {}),
      ...(p.differing !== undefined ? { differing: p.differing } : {}),
      ...(rate !== undefined ? { differencePercent: rate } : {}),
      ...(p.measuredAt ? { measuredAt: p.measuredAt } : {}),
      ...(p.message ? { message: p.message } : {}),
      ...(limit !== undefined ? { maxDifferencePercent: limit } : {}),
      minCompared,
      over: limit !== undefined && rate !== undefined && (p.compared ?? 0) >= minCompared && rate > limit,
    };
  });
}
