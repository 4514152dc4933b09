/**
 * The CanaryPhase's timing rules that CEL cannot check (it cannot parse `2d` or `1w`), shared by
 * `cutover validate` (offline) and the controller (Stalled, InvalidSpec): the step pauses fit into
 * `duration`, `analysis.interval` is not longer than `duration`, and `endBy` is not after the
 * freeze of the Cutover named by `cutoverRef`. Pure; a field that is not a duration is left to
 * the schema's own message.
 */
import { formatDuration, isDuration, parseDuration, parseOffset, isOffset } from './duration.js';
import type { CanaryPhaseSpec, CutoverSpec, CutoverStatus } from './types.js';

export interface TimingProblem {
  path: string;
  message: string;
}

/** The default of analysis.interval (src/api/schema/canary-phase.ts) and of a step's pause. */
const DEFAULT_INTERVAL = '1h';

const show = (ms: number): string => formatDuration(ms);

/** Pauses in duration and interval <= duration; [] when duration is absent or a field is not a duration. */
export function canaryTimingProblems(spec: Partial<CanaryPhaseSpec> | undefined): TimingProblem[] {
  if (!spec?.duration || !isDuration(spec.duration)) return [];
  const duration = parseDuration(spec.duration);
  const intervalText = spec.analysis?.interval ?? DEFAULT_INTERVAL;
  if (!isDuration(intervalText)) return [];
  const interval = parseDuration(intervalText);
  const out: TimingProblem[] = [];
  if (interval > duration)
    out.push({
      path: 'spec.analysis.interval',
      message: `Invalid value: "${intervalText}": longer than spec.duration (${spec.duration}), so no measurement would be taken within the phase: make interval at most ${show(duration)} or duration longer`,
    });
  const steps = spec.steps ?? [];
  if (steps.some((s) => s.pause !== undefined && !isDuration(s.pause))) return out;
  // Every step but the last is held for its pause (default: the interval) before the next one; the
  // last is held until the end of the phase, so its own pause must fit too when it is given.
  const held = steps.map((s, i) =>
    s.pause !== undefined ? parseDuration(s.pause) : i < steps.length - 1 ? interval : 0,
  );
  const total = held.reduce((a, b) => a + b, 0);
  const beforeLast = total - (held[held.length - 1] ?? 0);
  if (steps.length > 0 && (total > duration || beforeLast >= duration)) {
    const parts = steps
      .map((s, i) => (held[i] ? `${s.pause ?? `${intervalText} (interval)`}` : undefined))
      .filter((x): x is string => x !== undefined);
    out.push({
      path: 'spec.steps',
      message: `Invalid value: the step pauses (${parts.join(' + ')} = ${show(total)}) do not fit into spec.duration (${spec.duration})${beforeLast >= duration ? ': the last step would start after the phase ended' : ''}: shorten the pauses or make duration at least ${show(total + (beforeLast >= duration ? 1000 : 0))}`,
    });
  }
  return out;
}

/**
 * When the Cutover freezes legacy writes: the planned time of its Freeze step (`at`, or
 * timeline.startAt + offset), or its status.frozenAt when that came earlier. Undefined when it
 * has no Freeze step with a time.
 */
export function cutoverFreezeAt(cutover: { spec: CutoverSpec; status?: CutoverStatus }): number | undefined {
  const times: number[] = [];
  const step = cutover.spec.timeline?.steps?.find((s) => s.action === 'Freeze');
  if (step?.at !== undefined) times.push(Date.parse(step.at));
  else if (step?.offset !== undefined && cutover.spec.timeline.startAt !== undefined && isOffset(step.offset))
    times.push(Date.parse(cutover.spec.timeline.startAt) + parseOffset(step.offset));
  if (cutover.status?.frozenAt !== undefined) times.push(Date.parse(cutover.status.frozenAt));
  const valid = times.filter(Number.isFinite);
  return valid.length ? Math.min(...valid) : undefined;
}

/** endBy after the Cutover's freeze; [] when either is unknown. */
export function endByProblems(
  spec: Partial<CanaryPhaseSpec> | undefined,
  cutover: { metadata?: { name?: string }; spec: CutoverSpec; status?: CutoverStatus } | undefined,
): TimingProblem[] {
  if (!spec?.endBy || !cutover) return [];
  const endBy = Date.parse(spec.endBy);
  const freeze = cutoverFreezeAt(cutover);
  if (!Number.isFinite(endBy) || freeze === undefined || endBy <= freeze) return [];
  const at = new Date(freeze).toISOString().replace('.000Z', 'Z');
  return [
    {
      path: 'spec.endBy',
      message: `Invalid value: "${spec.endBy}": after the freeze of Cutover ${cutover.metadata?.name ?? spec.cutoverRef?.name ?? ''} (${at}); a canary must end before legacy writes are frozen: set endBy to ${at} or earlier`,
    },
  ];
}
