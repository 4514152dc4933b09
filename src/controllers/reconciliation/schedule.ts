/**
 * When a Reconciliation runs: a pure function of its spec, status and the time.
 *
 * - A new value of the `cutover.nokta.io/rerun` annotation runs it now (after remediation), even
 *   when the schedule is suspended.
 * - Without a schedule it runs once, and again whenever the spec changes (a new generation).
 * - `schedule.cron` (UTC) runs it at each cron time after the last run (several missed times run
 *   once, as a CronJob without startingDeadlineSeconds would); a spec change does not run it early.
 * - `schedule.cutoverRef` + `offsets` run it at the Cutover's traffic-switch time plus each offset
 *   (the seed's T+4h, T+24h, T+72h), each offset once, recorded in `status.completedOffsets`;
 *   until the Cutover has switched, it waits. Under `--time-scale N` the switch time is a plan
 *   time (the Cutover's compressed clock): the offsets are compared with the plan time now, so
 *   T+4h fires 4h/N of real time after the switch (`plan`, from planClockFromEnv).
 * - A run that ended in Error is retried after ERROR_RETRY_MS with the same trigger's purpose
 *   (a CutoverOffset run that errored is not marked completed, so it runs again).
 */
import { CronExpressionParser } from 'cron-parser';
import { parseDurationMs } from '../../api/index.js';
import { cronFields } from '../../api/cron.js';
import type { ReconciliationSpec, ReconciliationStatus } from '../../api/index.js';
import { ScaledClock } from '../../runtime/clock.js';

export type TriggerKind = 'Initial' | 'SpecChanged' | 'Rerun' | 'Cron' | 'CutoverOffset' | 'Retry';

/** A run that ended in Error (a database down, a query failing) is retried after this long. */
export const ERROR_RETRY_MS = 60_000;

export interface RunTrigger {
  kind: TriggerKind;
  /** The rerun token, the cron time (ISO) or the offset (`+4h`). */
  detail?: string;
}

export interface ScheduleInput {
  spec: ReconciliationSpec;
  status: ReconciliationStatus | undefined;
  generation: number;
  createdAt: Date;
  rerunToken?: string;
  /** The referenced Cutover's `status.switchedAt`, when it has switched. */
  cutoverSwitchedAt?: Date;
  now: Date;
  /** Under `--time-scale`: the plan time now and the scale (plan seconds per real second). */
  plan?: { now: Date; scale: number };
}

let processPlanClock: { key: string; clock: ScaledClock } | undefined;

/**
 * The process's plan clock of `cutover operator --time-scale N [--time-origin PLAN@REAL]`
 * (CUTOVER_TIME_SCALE, CUTOVER_TIME_ORIGIN), one per process so the Cutover and Reconciliation
 * controllers read the same plan time; undefined at scale 1 without an origin.
 */
export function planClockFromEnv(env: NodeJS.ProcessEnv = process.env): ScaledClock | undefined {
  const scale = Number(env.CUTOVER_TIME_SCALE || '1');
  const origin = env.CUTOVER_TIME_ORIGIN ?? '';
  if (scale === 1 && !origin) return undefined;
  const key = `${scale}|${origin}`;
  if (processPlanClock?.key !== key)
    processPlanClock = { key, clock: new ScaledClock(scale, ScaledClock.parseOrigin(origin)) };
  return processPlanClock.clock;
}

export interface ScheduleDecision {
  /** Run now, for this reason. */
  due?: RunTrigger;
  /** The next planned run when none is due now. */
  nextAt?: Date;
  /** Why nothing is planned, for people (e.g. waiting for the Cutover's switch). */
  waitingFor?: string;
}

/** Recent answers of nextCronTime: an idle Reconciliation asks the same question at every sync. */
const cronAnswers = new Map<string, number>();
const MAX_CRON_ANSWERS = 4096;

export function nextCronTime(cron: string, after: Date): Date {
  const key = `${cron}|${after.getTime()}`;
  const known = cronAnswers.get(key);
  if (known !== undefined) return new Date(known);
  const next = CronExpressionParser.parse(cronFields(cron), { currentDate: after, tz: 'UTC' })
    .next()
    .toDate();
  cronAnswers.set(key, next.getTime());
  if (cronAnswers.size > MAX_CRON_ANSWERS) cronAnswers.delete(cronAnswers.keys().next().value ?? key);
  return next;
}

export function decideSchedule(input: ScheduleInput): ScheduleDecision {
  const { spec, status, now } = input;
  const schedule = spec.schedule;
  if (input.rerunToken && input.rerunToken !== status?.lastRerunToken) {
    return { due: { kind: 'Rerun', detail: input.rerunToken } };
  }
  if (schedule?.suspend) return { waitingFor: 'the schedule is suspended (spec.schedule.suspend)' };

  const last = status?.lastRun;
  if (last?.verdict === 'Error' && last.finishedAt && (status?.observedGeneration ?? 0) >= input.generation) {
    const at = new Date(new Date(last.finishedAt).getTime() + ERROR_RETRY_MS);
    if (at.getTime() <= now.getTime()) return { due: { kind: 'Retry', detail: last.trigger ?? 'unknown' } };
    return { nextAt: at, waitingFor: `retrying the run that ended in Error at ${at.toISOString()}` };
  }

  const hasCron = Boolean(schedule?.cron);
  const hasCutover = Boolean(schedule?.cutoverRef);
  if (!hasCron && !hasCutover) {
    if (!status?.lastRun) return { due: { kind: 'Initial' } };
    if ((status.observedGeneration ?? 0) < input.generation) return { due: { kind: 'SpecChanged' } };
    return {};
  }

  const candidates: Date[] = [];
  let waitingFor: string | undefined;
  if (hasCron && schedule?.cron) {
    const lastStart = status?.lastRun?.startedAt ? new Date(status.lastRun.startedAt) : input.createdAt;
    const next = nextCronTime(schedule.cron, lastStart);
    if (next.getTime() <= now.getTime()) return { due: { kind: 'Cron', detail: next.toISOString() } };
    candidates.push(next);
  }
  if (hasCutover && schedule?.cutoverRef) {
    if (!input.cutoverSwitchedAt) {
      waitingFor = `Cutover ${schedule.cutoverRef.name} has not switched traffic yet`;
    } else {
      const done = new Set(status?.completedOffsets ?? []);
      const pending = (schedule.offsets ?? [])
        .filter((o) => !done.has(o))
        .map((o) => ({
          offset: o,
          at: new Date((input.cutoverSwitchedAt as Date).getTime() + parseDurationMs(o)),
        }))
        .sort((a, b) => a.at.getTime() - b.at.getTime());
      const first = pending[0];
      const planNow = (input.plan?.now ?? now).getTime();
      if (first && first.at.getTime() <= planNow)
        return { due: { kind: 'CutoverOffset', detail: first.offset } };
      // The next offset in real time: its plan-time distance divided by the scale, rounded up
      // to a whole millisecond so the wake-up is never before it is due.
      if (first)
        candidates.push(
          new Date(now.getTime() + Math.ceil((first.at.getTime() - planNow) / (input.plan?.scale ?? 1))),
        );
    }
  }
  const nextAt = candidates.sort((a, b) => a.getTime() - b.getTime())[0];
  const decision: ScheduleDecision = {};
  if (nextAt) decision.nextAt = nextAt;
  if (waitingFor) decision.waitingFor = waitingFor;
  return decision;
}

/**
 * A run's id: short, sortable, valid in object names (shard Jobs and their results are named by
 * it), and unique per Reconciliation: the second it starts and its run number (runs completed so
 * far + 1), so two runs started within one second (a rerun right after a run) never share a Job.
 * It is written in the claim, so a run resumed after a crash keeps it.
 */
export function runId(trigger: RunTrigger, now: Date, runNumber: number): string {
  const letter = { Initial: 'i', SpecChanged: 's', Rerun: 'r', Cron: 'c', CutoverOffset: 'o', Retry: 'e' }[
    trigger.kind
  ];
  return `${letter}${Math.floor(now.getTime() / 1000).toString(36)}-${runNumber.toString(36)}`;
}
