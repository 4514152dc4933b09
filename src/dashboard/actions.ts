/**
 * The actions of the page, as the controllers read them (src/api/crds.ts ANNOTATIONS,
 * docs/cutover.md), performed with the caller's identity so RBAC decides:
 * - Cutover: approve a step (`cutover.nokta.io/approve` gets the step added, `approved-by` the
 *   caller's user name), pause / resume (`spec.paused`), roll back (`cutover.nokta.io/action=rollback:<reason>`);
 * - CanaryPhase: approve a gate (`approve=<gate>:<token>`), pause, resume, promote, abort
 *   (`action=<verb>:<token>`; each token is acted on once).
 * A refusal comes back as a sentence that says who was refused what, never as a stack.
 */
import { ANNOTATIONS } from '../api/crds.js';
import type { Cutover } from '../api/types.js';
/** Who approved, as the Cutover controller reads it (src/controllers/cutover/sync.ts). */
const APPROVED_BY_ANNOTATION = 'cutover.nokta.io/approved-by';
import { CANARY_PHASE, CUTOVER } from '../controllers/kinds.js';
import { isApiError, type KubeClient, type KubeObject } from '../runtime/kube-client.js';

export type ActionRequest =
  | { kind: 'Cutover'; namespace: string; name: string; verb: 'approve'; step: string }
  | { kind: 'Cutover'; namespace: string; name: string; verb: 'pause' | 'resume' }
  | { kind: 'Cutover'; namespace: string; name: string; verb: 'rollback'; reason: string }
  | { kind: 'CanaryPhase'; namespace: string; name: string; verb: 'approve'; gate: string }
  | { kind: 'CanaryPhase'; namespace: string; name: string; verb: 'pause' | 'resume' | 'promote' | 'abort' };

export interface ActionResult {
  ok: boolean;
  message: string;
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const STEP = /^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/;

/** Parses the JSON body of POST /api/action; throws with a message for the page. */
export function parseActionRequest(body: unknown): ActionRequest {
  if (!body || typeof body !== 'object') throw new Error('the request needs a JSON object');
  const b = body as Record<string, unknown>;
  const str = (k: string): string => (typeof b[k] === 'string' ? b[k] : '');
  const kind = str('kind');
  const namespace = str('namespace');
  const name = str('name');
  const verb = str('verb');
  if (!NAME.test(namespace) || !NAME.test(name))
    throw new Error('namespace and name must be Kubernetes names');
  if (kind === 'Cutover') {
    if (verb === 'approve') {
      const step = str('step');
      if (!STEP.test(step)) throw new Error('approve needs the step name');
      return { kind, namespace, name, verb, step };
    }
    if (verb === 'pause' || verb === 'resume') return { kind, namespace, name, verb };
    if (verb === 'rollback') {
      const reason = str('reason').replace(/\s+/g, ' ').trim();
      if (!reason) throw new Error('a rollback needs a reason');
      if (reason.length > 200) throw new Error('the reason is limited to 200 characters');
      return { kind, namespace, name, verb, reason };
    }
  }
  if (kind === 'CanaryPhase') {
    if (verb === 'approve') {
      const gate = str('gate');
      if (!STEP.test(gate)) throw new Error('approve needs the gate name');
      return { kind, namespace, name, verb, gate };
    }
    if (verb === 'pause' || verb === 'resume' || verb === 'promote' || verb === 'abort')
      return { kind, namespace, name, verb };
  }
  throw new Error(`unknown action ${kind} ${verb}`);
}

function describe(a: ActionRequest): string {
  const what =
    a.verb === 'approve'
      ? `approve ${'step' in a ? a.step : a.gate}`
      : a.verb === 'rollback'
        ? 'roll back'
        : a.verb;
  return `${what} on ${a.kind} ${a.namespace}/${a.name}`;
}

/** Performs the action with `client` (the caller's credentials); `user` names the approver. */
export async function performAction(
  client: KubeClient,
  a: ActionRequest,
  user: string,
  now = new Date(),
): Promise<ActionResult> {
  const token = now.toISOString();
  const opts = { fieldManager: 'cutover-dashboard' };
  try {
    if (a.kind === 'Cutover') {
      if (a.verb === 'approve') {
        const co = await client.get<Cutover & KubeObject>(CUTOVER, a.namespace, a.name);
        const approved = (co.metadata.annotations?.[ANNOTATIONS.approve] ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (!approved.includes(a.step)) approved.push(a.step);
        await client.patch(
          CUTOVER,
          a.namespace,
          a.name,
          {
            metadata: {
              resourceVersion: co.metadata.resourceVersion,
              annotations: { [ANNOTATIONS.approve]: approved.join(','), [APPROVED_BY_ANNOTATION]: user },
            },
          },
          'merge',
          opts,
        );
      } else if (a.verb === 'rollback') {
        await client.patch(
          CUTOVER,
          a.namespace,
          a.name,
          { metadata: { annotations: { [ANNOTATIONS.action]: `rollback:${a.reason} (by ${user})` } } },
          'merge',
          opts,
        );
      } else {
        await client.patch(
          CUTOVER,
          a.namespace,
          a.name,
          { spec: { paused: a.verb === 'pause' } },
          'merge',
          opts,
        );
      }
    } else {
      const annotations =
        a.verb === 'approve'
          ? { [ANNOTATIONS.approve]: `${a.gate}:${token}` }
          : { [ANNOTATIONS.action]: `${a.verb}:${token}` };
      await client.patch(CANARY_PHASE, a.namespace, a.name, { metadata: { annotations } }, 'merge', opts);
    }
    return { ok: true, message: `done: ${describe(a)} (as ${user})` };
  } catch (e) {
    if (isApiError(e, 403))
      return {
        ok: false,
        message: `not allowed: ${user} may not ${describe(a)}. The API server refused it (RBAC); ask for permission to patch ${a.kind === 'Cutover' ? 'cutovers' : 'canaryphases'} in ${a.namespace}.`,
      };
    if (isApiError(e, 409))
      return { ok: false, message: `${a.kind} ${a.name} changed meanwhile: look at it again and retry` };
    if (isApiError(e, 404))
      return { ok: false, message: `${a.kind} ${a.namespace}/${a.name} does not exist` };
    return { ok: false, message: `failed: ${describe(a)}: ${e instanceof Error ? e.message : String(e)}` };
  }
}
