/**
 * Events of a Cutover, derived from its status change (sent once, by the writer that won, as the
 * runtime does for the other controllers): phase changes, gates and approvals, steps started and
 * failed, rollback triggers (acted on or recorded while a rollback runs), each rollback action,
 * and a Stalled condition with its reason (InvalidSpec, PreparationFailed, ...). Notes come from
 * the status, which never holds a secret.
 */
import type { Cutover } from '../../api/types.js';
import { getCondition, STALLED } from '../../runtime/conditions.js';
import type { EventInput } from '../../runtime/events.js';

const WARNING_PHASES = new Set(['RollingBack', 'RolledBack', 'Failed', 'Aborted', 'Paused']);

export function cutoverEvents(before: Cutover, after: Cutover): EventInput[] {
  const out: EventInput[] = [];
  const a = before.status ?? {};
  const b = after.status ?? {};
  if (b.phase && b.phase !== a.phase)
    out.push({
      type: WARNING_PHASES.has(b.phase) ? 'Warning' : 'Normal',
      reason: 'PhaseChanged',
      action: 'Sync',
      note: `${a.phase ?? 'none'} → ${b.phase}: ${b.message ?? ''}`,
    });
  for (const s of b.steps ?? []) {
    const old = (a.steps ?? []).find((x) => x.name === s.name);
    if (s.state === old?.state && s.attempt === old?.attempt) continue;
    if (s.state === 'AwaitingApproval')
      out.push({
        type: 'Normal',
        reason: 'AwaitingApproval',
        action: 'Gate',
        note: `step ${s.name} waits for cutover.nokta.io/approve=${s.name}`,
      });
    else if (s.state === 'Running')
      out.push({
        type: 'Normal',
        reason: 'StepStarted',
        action: 'Sync',
        note: `step ${s.name} (attempt ${s.attempt ?? 1})`,
      });
    else if (s.state === 'Succeeded')
      out.push({
        type: 'Normal',
        reason: 'StepSucceeded',
        action: 'Sync',
        note: `step ${s.name}: ${s.message ?? ''}`,
      });
    else if (s.state === 'Failed')
      out.push({
        type: 'Warning',
        reason: 'StepFailed',
        action: 'Sync',
        note: `step ${s.name}: ${s.message ?? ''}`,
      });
  }
  for (const ap of b.approvals ?? [])
    if (!(a.approvals ?? []).some((x) => x.step === ap.step))
      out.push({
        type: 'Normal',
        reason: 'Approved',
        action: 'Approve',
        note: `${ap.step} approved by ${ap.by ?? 'unknown'}`,
      });
  const rb = b.rollback;
  if (rb && rb.triggeredAt !== a.rollback?.triggeredAt)
    out.push({
      type: 'Warning',
      reason: 'RollbackTriggered',
      action: 'Rollback',
      note: `trigger ${rb.trigger}: ${rb.reason ?? ''}`,
    });
  for (const t of rb?.ignoredTriggers ?? [])
    if (!(a.rollback?.ignoredTriggers ?? []).some((x) => x.trigger === t.trigger && x.at === t.at))
      out.push({
        type: 'Warning',
        reason: 'TriggerRecorded',
        action: 'Rollback',
        note: `trigger ${t.trigger} during the rollback, recorded, not acted on: ${t.reason ?? ''}`,
      });
  for (const x of rb?.actions ?? []) {
    const old = (a.rollback?.actions ?? []).find((y) => y.name === x.name);
    if (old?.state === x.state && a.rollback?.triggeredAt === rb?.triggeredAt) continue;
    const reasons: Record<string, string> = {
      Running: 'RollbackActionStarted',
      Succeeded: 'RollbackActionSucceeded',
      Failed: 'RollbackActionFailed',
      Skipped: 'RollbackActionSkipped',
    };
    const reason = reasons[x.state ?? ''];
    if (!reason) continue;
    out.push({
      type: x.state === 'Failed' ? 'Warning' : 'Normal',
      reason,
      action: x.name ?? 'Rollback',
      note: `${x.name}${x.message ? `: ${x.message}` : ''}`,
    });
  }
  const stalled = getCondition(b.conditions ?? [], STALLED);
  const wasStalled = getCondition(a.conditions ?? [], STALLED);
  if (stalled?.status === 'True' && (wasStalled?.status !== 'True' || wasStalled.reason !== stalled.reason))
    out.push({ type: 'Warning', reason: stalled.reason, action: 'Sync', note: stalled.message });
  return out;
}
