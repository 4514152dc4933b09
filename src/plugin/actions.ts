/**
 * The commands that steer: each writes the annotation (or spec field) the controllers already
 * read (src/api/crds.ts ANNOTATIONS, docs/cutover.md, src/controllers/canary-phase/README.md):
 * - approve: Cutover `cutover.nokta.io/approve` (comma-separated steps, the new one added) and
 *   `cutover.nokta.io/approved-by`; CanaryPhase `cutover.nokta.io/approve: <gate>:<token>`;
 * - pause / resume: Cutover `spec.paused`; CanaryPhase `cutover.nokta.io/action: pause|resume:<token>`;
 * - promote / abort: CanaryPhase `cutover.nokta.io/action: promote|abort:<token>`;
 * - rollback: Cutover `cutover.nokta.io/action: rollback:<reason>` (the reason lands in status.rollback);
 * - rerun: Reconciliation `cutover.nokta.io/rerun: <token>`.
 * Every write carries the resourceVersion it was computed from (a concurrent change is re-read).
 */
import { userInfo } from 'node:os';
import { ANNOTATIONS } from '../api/crds.js';
import type { CanaryPhase, Cutover } from '../api/index.js';
import { isConflict } from '../runtime/kube-client.js';
import { resolve, onlyCutover, resourceOf, type AnyResource, type Session } from './cluster.js';
import { EXIT, PluginError } from './exit-codes.js';

export const APPROVED_BY = 'cutover.nokta.io/approved-by';

export interface ActionResult {
  kind: string;
  namespace: string;
  name: string;
  /** The fields written, as `path=value`. */
  set: Record<string, string | boolean | null>;
  message: string;
}

/** A token the controllers act on once: the time, to the millisecond, without separators that split. */
export function token(now = new Date()): string {
  return now.toISOString().replace(/[-:.]/g, '').toLowerCase();
}

function who(by: string | undefined): string {
  if (by) return by;
  if (process.env.KUBECTL_CUTOVER_USER) return process.env.KUBECTL_CUTOVER_USER;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

type Change = { annotations?: Record<string, string>; spec?: Record<string, unknown> } | PluginError;

/** Reads the object, computes the change, writes it at that resourceVersion; retried on a conflict. */
async function write(
  s: Session,
  ref: string | undefined,
  kinds: AnyResource['kind'][],
  change: (o: AnyResource) => Change,
): Promise<ActionResult> {
  for (let attempt = 1; ; attempt++) {
    const obj = ref === undefined ? await onlyCutover(s) : await resolve(s, ref, kinds);
    if (!kinds.includes(obj.kind))
      throw new PluginError(
        EXIT.notApplicable,
        `${obj.kind} ${obj.metadata.name}: only ${kinds.join(' or ')} take this command`,
      );
    const c = change(obj);
    if (c instanceof PluginError) throw c;
    const patch = {
      metadata: {
        resourceVersion: obj.metadata.resourceVersion,
        ...(c.annotations ? { annotations: c.annotations } : {}),
      },
      ...(c.spec ? { spec: c.spec } : {}),
    };
    try {
      await s.client.patch(resourceOf(obj.kind), s.namespace, obj.metadata.name, patch, 'merge', {
        fieldManager: 'kubectl-cutover',
      });
    } catch (e) {
      if (isConflict(e) && attempt < 5) continue;
      throw e;
    }
    const set: ActionResult['set'] = {};
    for (const [k, v] of Object.entries(c.annotations ?? {})) set[`metadata.annotations.${k}`] = v;
    for (const [k, v] of Object.entries(c.spec ?? {})) set[`spec.${k}`] = v as string | boolean | null;
    return {
      kind: obj.kind,
      namespace: s.namespace,
      name: obj.metadata.name,
      set,
      message: Object.entries(set)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' '),
    };
  }
}

export async function approve(
  s: Session,
  step: string,
  ref: string | undefined,
  by?: string,
): Promise<ActionResult> {
  return write(s, ref, ['Cutover', 'CanaryPhase'], (o) => {
    const ann = o.metadata.annotations ?? {};
    if (o.kind === 'CanaryPhase') {
      const gates = ((o as CanaryPhase).spec.gates ?? []).map((g) => g.name);
      if (!gates.includes(step))
        return new PluginError(
          EXIT.notApplicable,
          `CanaryPhase ${o.metadata.name} has no gate ${step}${gates.length ? ` (gates: ${gates.join(', ')})` : ''}`,
        );
      return { annotations: { [ANNOTATIONS.approve]: `${step}:${token()}`, [APPROVED_BY]: who(by) } };
    }
    const steps = (o as Cutover).spec.timeline.steps.map((x) => x.name);
    if (!(steps.includes(step) || step === 'steady-state' || /^retry:[^:,]+:\d+$/.test(step)))
      return new PluginError(
        EXIT.notApplicable,
        `Cutover ${o.metadata.name} has no step ${step} (steps: ${steps.join(', ')}, steady-state, retry:<step>:<attempt>)`,
      );
    const list = (ann[ANNOTATIONS.approve] ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (!list.includes(step)) list.push(step);
    return { annotations: { [ANNOTATIONS.approve]: list.join(','), [APPROVED_BY]: who(by) } };
  });
}

export async function pauseOrResume(
  s: Session,
  verb: 'pause' | 'resume',
  ref: string | undefined,
): Promise<ActionResult> {
  return write(s, ref, ['Cutover', 'CanaryPhase'], (o) =>
    o.kind === 'Cutover'
      ? { spec: { paused: verb === 'pause' } }
      : { annotations: { [ANNOTATIONS.action]: `${verb}:${token()}` } },
  );
}

export async function canaryAction(
  s: Session,
  verb: 'promote' | 'abort',
  ref: string,
): Promise<ActionResult> {
  return write(s, ref, ['CanaryPhase', 'Cutover'], (o) =>
    o.kind === 'CanaryPhase'
      ? { annotations: { [ANNOTATIONS.action]: `${verb}:${token()}` } }
      : new PluginError(
          EXIT.notApplicable,
          `a Cutover cannot be ${verb === 'abort' ? 'aborted' : 'promoted'}: ${verb} its CanaryPhases (canaryphase/NAME)${verb === 'abort' ? ', or roll the Cutover back with kubectl cutover rollback' : ''}`,
        ),
  );
}

export async function rollback(
  s: Session,
  ref: string | undefined,
  reason: string | undefined,
): Promise<ActionResult> {
  if (!reason?.trim())
    throw new PluginError(EXIT.usage, 'rollback needs --reason "why" (it is recorded in status.rollback)');
  return write(s, ref, ['Cutover'], (o) => {
    const phase = (o as Cutover).status?.phase;
    if (phase === 'RolledBack' || phase === 'RollingBack')
      return new PluginError(EXIT.notApplicable, `Cutover ${o.metadata.name} is already ${phase}`);
    return { annotations: { [ANNOTATIONS.action]: `rollback:${reason.trim()}` } };
  });
}

export async function rerun(s: Session, ref: string): Promise<ActionResult> {
  return write(s, ref, ['Reconciliation'], () => ({ annotations: { [ANNOTATIONS.rerun]: token() } }));
}
