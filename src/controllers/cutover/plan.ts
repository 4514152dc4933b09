/**
 * Times of the plan, pure: when each timeline step is planned, when each milestone was reached,
 * business-day arithmetic for the post-incident review. All times are plan times (a compressed
 * clock in a rehearsal runs them faster; the plan itself is never rewritten).
 */
import { parseDuration, parseOffset } from '../../api/index.js';
import type { CutoverSpec, CutoverStatus, Milestone, TimelineStep } from '../../api/index.js';

export const DEFAULT_KEEP_LEGACY_HOT_MS = 48 * 3600_000;
export const DEFAULT_STEADY_STATE_MS = 14 * 24 * 3600_000;
export const DEFAULT_SLO_BREACH_MS = 30 * 60_000;
export const DEFAULT_EXPORT_LAG_MS = 60_000;

export function ms(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : parseDuration(text);
}

/** A step's planned time: `at`, or timeline.startAt + offset; undefined when neither resolves. */
export function plannedAt(spec: CutoverSpec, step: TimelineStep): number | undefined {
  if (step.at !== undefined) return Date.parse(step.at);
  if (step.offset !== undefined && spec.timeline.startAt !== undefined)
    return Date.parse(spec.timeline.startAt) + parseOffset(step.offset);
  return undefined;
}

/** The names a step waits for: dependsOn, else the step before it. */
export function dependenciesOf(spec: CutoverSpec, index: number): string[] {
  const step = spec.timeline.steps[index]!;
  if (step.dependsOn !== undefined) return step.dependsOn;
  return index === 0 ? [] : [spec.timeline.steps[index - 1]!.name];
}

/** When a milestone was reached (ms), or undefined when it has not been yet. */
export function milestoneAt(
  m: Milestone,
  spec: CutoverSpec,
  status: CutoverStatus,
  createdAt: number,
): number | undefined {
  const t = (s: string | undefined): number | undefined => (s === undefined ? undefined : Date.parse(s));
  switch (m) {
    case 'Preparation':
      return createdAt;
    case 'Shadow':
      return t(spec.shadow?.startAt) ?? createdAt;
    case 'Canary':
      return t(spec.shadow?.endAt) ?? createdAt;
    case 'Freeze':
      return t(status.frozenAt);
    case 'Switch':
      return t(status.switchedAt);
    case 'LegacyHotEnd':
      return t(status.legacyHotUntil);
    case 'SteadyState':
      return t(status.steadyStateAt);
  }
}

/** Whether `now` lies in [activeFrom, activeUntil) of a trigger. */
export function triggerActive(
  window: { activeFrom?: Milestone; activeUntil?: Milestone },
  spec: CutoverSpec,
  status: CutoverStatus,
  createdAt: number,
  now: number,
): boolean {
  const from = milestoneAt(window.activeFrom ?? 'Switch', spec, status, createdAt);
  const until = milestoneAt(window.activeUntil ?? 'SteadyState', spec, status, createdAt);
  return from !== undefined && from <= now && (until === undefined || now < until);
}

/** `from` plus n business days (Monday to Friday, UTC). */
export function addBusinessDays(from: number, n: number): number {
  const d = new Date(from);
  let left = n;
  while (left > 0) {
    d.setUTCDate(d.getUTCDate() + 1);
    const day = d.getUTCDay();
    if (day !== 0 && day !== 6) left--;
  }
  return d.getTime();
}

export function iso(t: number): string {
  return new Date(t).toISOString().replace(/\.000Z$/, 'Z');
}

/**
 * The key of a Job in status (`<cutover>-<purpose>-<attempt>`, at most 52 characters like the
 * actuator's names): one Job per purpose and attempt, so a retried sync never creates a second.
 */
export function jobName(cutover: string, purpose: string, attempt: number): string {
  const suffix = `-${purpose}-${attempt}`.slice(0, 40);
  return `${cutover.slice(0, 52 - suffix.length).replace(/-+$/, '')}${suffix}`;
}
