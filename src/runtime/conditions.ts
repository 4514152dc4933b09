/**
 * Status conditions the Kubernetes way (metav1.Condition) and kstatus helpers: the one condition
 * system of every controller (the API's `Condition` type is this one).
 *
 * `lastTransitionTime` changes only when a condition's `status` changes; a new reason or message
 * with the same status keeps it. `Ready` is the summary; `Reconciling` and `Stalled` are
 * "abnormal-true" conditions (present and True only while that is the case, removed otherwise).
 *
 * The runtime itself writes two kinds of conditions when a sync throws (see controller.ts):
 * `markSyncError` (Reconciling=True and Ready=False, reason `SyncError`: retrying with backoff)
 * and `markStalled` with a `TerminalError`'s reason (not retried). A controller's next status
 * write replaces them: its status functions set Ready, Reconciling and Stalled every time.
 */

import type { Condition, ConditionStatus } from '../api/types.js';

/** metav1.Condition: the one Condition type, declared with the API's types. */
export type { Condition, ConditionStatus };
/** The kstatus condition types every kind has. */
export const READY = 'Ready';
export const RECONCILING = 'Reconciling';
export const STALLED = 'Stalled';

/** Reasons the runtime writes. */
export const REASON_SYNC_ERROR = 'SyncError';
/** Ready after a recovery from SyncError when the controller did not say more (a safety net). */
export const REASON_RECOVERED = 'Recovered';

/** Longest condition message the runtime writes (the API allows 32 kB; people read the start). */
export const MAX_CONDITION_MESSAGE = 2048;

export function clipMessage(message: string): string {
  return message.length <= MAX_CONDITION_MESSAGE
    ? message
    : `${message.slice(0, MAX_CONDITION_MESSAGE - 1)}…`;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/** RFC 3339 with second precision, as metav1.Time serialises. */
export function kubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with microseconds, as metav1.MicroTime serialises. */
export function kubeMicroTime(d: Date): string {
  return d.toISOString().replace(/Z$/, '000Z');
}

export function getCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Returns a new list with the condition set. The order of the other conditions is kept; a new
 * condition goes last.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  c: ConditionInput,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const old = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message,
    lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : kubeTime(now),
    ...(c.observedGeneration !== undefined ? { observedGeneration: c.observedGeneration } : {}),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/** True when the two lists say the same thing (ignoring order). */
export function conditionsEqual(
  a: readonly Condition[] | undefined,
  b: readonly Condition[] | undefined,
): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((c) => {
    const d = getCondition(y, c.type);
    return (
      !!d &&
      d.status === c.status &&
      d.reason === c.reason &&
      d.message === c.message &&
      d.lastTransitionTime === c.lastTransitionTime &&
      d.observedGeneration === c.observedGeneration
    );
  });
}

/** The part of a status object these helpers manage. */
export interface KStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  [k: string]: unknown;
}

/** The status with these conditions, observed at `generation` when given. */
function withConditions<S extends KStatus>(
  status: S,
  conditions: Condition[],
  generation: number | undefined,
): S {
  return { ...status, conditions, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
}

/** Ready=True; Reconciling and Stalled removed; observedGeneration set. */
export function markReady<S extends KStatus>(
  status: S,
  generation: number | undefined,
  now: Date,
  reason: string,
  message: string,
): S {
  let c = setCondition(
    status.conditions,
    { type: 'Ready', status: 'True', reason, message, observedGeneration: generation },
    now,
  );
  c = removeCondition(removeCondition(c, 'Reconciling'), 'Stalled');
  return withConditions(status, c, generation);
}

/** Work in progress: Reconciling=True, Ready=False (or Unknown), Stalled removed. */
export function markReconciling<S extends KStatus>(
  status: S,
  generation: number | undefined,
  now: Date,
  reason: string,
  message: string,
  ready: ConditionStatus = 'False',
): S {
  let c = setCondition(
    status.conditions,
    { type: 'Reconciling', status: 'True', reason, message, observedGeneration: generation },
    now,
  );
  c = setCondition(c, { type: 'Ready', status: ready, reason, message, observedGeneration: generation }, now);
  c = removeCondition(c, 'Stalled');
  return withConditions(status, c, generation);
}

/** No progress without a change from outside: Stalled=True, Ready=False, Reconciling removed. */
export function markStalled<S extends KStatus>(
  status: S,
  generation: number | undefined,
  now: Date,
  reason: string,
  message: string,
): S {
  let c = setCondition(
    status.conditions,
    { type: 'Stalled', status: 'True', reason, message, observedGeneration: generation },
    now,
  );
  c = setCondition(
    c,
    { type: 'Ready', status: 'False', reason, message, observedGeneration: generation },
    now,
  );
  c = removeCondition(c, 'Reconciling');
  return withConditions(status, c, generation);
}

/**
 * A sync keeps failing and is retried with backoff: Reconciling=True and Ready=False with reason
 * SyncError and the error's message; Stalled removed (retrying is progress of a kind).
 */
export function markSyncError<S extends KStatus>(
  status: S,
  generation: number | undefined,
  now: Date,
  message: string,
): S {
  return markReconciling(status, generation, now, REASON_SYNC_ERROR, clipMessage(message), 'False');
}

/** True when the status carries a condition with `reason` among Ready, Reconciling and Stalled. */
export function hasReason(status: KStatus | undefined, reason: string): boolean {
  return (status?.conditions ?? []).some(
    (c) => (c.type === RECONCILING || c.type === READY || c.type === STALLED) && c.reason === reason,
  );
}

/**
 * After a successful sync, removes what the runtime wrote for an error with `reason` (SyncError or
 * a TerminalError's) when the controller's own status write did not replace it: Reconciling and
 * Stalled with that reason go, Ready with that reason becomes Unknown (reason Recovered).
 */
export function clearErrorConditions<S extends KStatus>(
  status: S,
  reason: string,
  generation: number | undefined,
  now: Date,
): S {
  let c = status.conditions ?? [];
  for (const t of [RECONCILING, STALLED])
    if (getCondition(c, t)?.reason === reason) c = removeCondition(c, t);
  if (getCondition(c, READY)?.reason === reason) {
    c = setCondition(
      c,
      {
        type: READY,
        status: 'Unknown',
        reason: REASON_RECOVERED,
        message: 'the last sync succeeded',
        observedGeneration: generation,
      },
      now,
    );
  }
  return { ...status, conditions: c };
}

/** True when the status describes the object's current generation. */
export function isObservedCurrent(obj: { metadata: { generation?: number }; status?: unknown }): boolean {
  const st = (obj.status ?? {}) as KStatus;
  return obj.metadata.generation === undefined || st.observedGeneration === obj.metadata.generation;
}
