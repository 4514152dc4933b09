/**
 * The time window of a run, from the plan's window and the run's moment: pure, no I/O.
 *
 * - `last` alone: the `last` span up to the run time (open at the end: rows written while the
 *   run goes on are in);
 * - `from` and/or `until`: rows at or after `from`, before `until`;
 * - `last` with `until`: the `last` span before `until`;
 * - `until: frozenAt`: `until` is the moment the referenced Cutover froze legacy writes (its
 *   status.frozenAt), so orders written on the new stack after the switch are not variance. A
 *   Cutover that has not frozen yet leaves the window without an end: an error, not a guess.
 */
import type { WindowPlan } from './plan.js';

export interface ResolvedWindow {
  /** rows with the window column at or after this instant */
  start?: Date;
  /** rows before this instant */
  end?: Date;
}

export class WindowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WindowError';
  }
}

export function resolveWindow(w: WindowPlan, now: Date, frozenAt?: Date): ResolvedWindow {
  let end: Date | undefined;
  if (w.until === 'frozenAt') {
    if (!frozenAt)
      throw new WindowError(
        `window.until is frozenAt but Cutover ${w.cutoverRef ?? '(cutoverRef)'} has not frozen legacy writes yet (status.frozenAt is empty): run after the freeze, or set an RFC 3339 until`,
      );
    end = frozenAt;
  } else if (w.until) end = w.until;
  let start: Date | undefined = w.from;
  if (w.lastMs !== undefined) start = new Date((end ?? now).getTime() - w.lastMs);
  if (start && end && start.getTime() >= end.getTime())
    throw new WindowError(
      `the window is empty: it starts at ${start.toISOString()} and ends at ${end.toISOString()}`,
    );
  const out: ResolvedWindow = {};
  if (start) out.start = start;
  if (end) out.end = end;
  return out;
}
