/**
 * Status conditions the Kubernetes way (metav1.Condition) and kstatus helpers.
 *
 * `lastTransitionTime` changes only when a condition's `status` changes; a new reason or message
 * with the same status keeps it. `Ready` is the summary; `Reconciling` and `Stalled` are
 * "abnormal-true" conditions (present and True only while that is the case, removed otherwise).
 */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
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

export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}

/**
 * Returns a new list with the condition set. The order of the other conditions is kept; a new
 * condition goes last.
 */
export function setCondition(conditions: readonly Condition[] | undefined, c: ConditionInput, now: Date): Condition[] {
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
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
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

/** Ready=True; Reconciling and Stalled removed; observedGeneration set. */
export function markReady<S extends KStatus>(status: S, generation: number | undefined, now: Date, reason: string, message: string): S {
  let c = setCondition(status.conditions, { type: 'Ready', status: 'True', reason, message, observedGeneration: generation }, now);
  c = removeCondition(removeCondition(c, 'Reconciling'), 'Stalled');
  return { ...status, conditions: c, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
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
  let c = setCondition(status.conditions, { type: 'Reconciling', status: 'True', reason, message, observedGeneration: generation }, now);
  c = setCondition(c, { type: 'Ready', status: ready, reason, message, observedGeneration: generation }, now);
  c = removeCondition(c, 'Stalled');
  return { ...status, conditions: c, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
}

/** No progress without a change from outside: Stalled=True, Ready=False, Reconciling removed. */
export function markStalled<S extends KStatus>(status: S, generation: number | undefined, now: Date, reason: string, message: string): S {
  let c = setCondition(status.conditions, { type: 'Stalled', status: 'True', reason, message, observedGeneration: generation }, now);
  c = setCondition(c, { type: 'Ready', status: 'False', reason, message, observedGeneration: generation }, now);
  c = removeCondition(c, 'Reconciling');
  return { ...status, conditions: c, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
}

/** True when the status describes the object's current generation. */
export function isObservedCurrent(obj: { metadata: { generation?: number }; status?: unknown }): boolean {
  const st = (obj.status ?? {}) as KStatus;
  return obj.metadata.generation === undefined || st.observedGeneration === obj.metadata.generation;
}
