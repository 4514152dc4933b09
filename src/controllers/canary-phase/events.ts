/** Events of a CanaryPhase, derived from its status change (sent once by the writer that won). */
import type { CanaryPhase } from '../../api/types.js';
import { getCondition, STALLED } from '../../runtime/conditions.js';
import type { EventInput } from '../../runtime/events.js';

export function canaryEvents(before: CanaryPhase, after: CanaryPhase): EventInput[] {
  const out: EventInput[] = [];
  const a = before.status ?? {};
  const b = after.status ?? {};
  if (b.rollback?.at && (b.rollback.at !== a.rollback?.at || b.rollback.metric !== a.rollback?.metric)) {
    out.push({
      type: 'Warning',
      reason: 'RolledBack',
      action: 'Rollback',
      note: `rolled back ${(b.rollback.services ?? []).join(', ')}: ${b.rollback.reason ?? ''}`,
    });
  }
  if (b.phase && b.phase !== a.phase) {
    out.push({
      type: b.phase === 'RolledBack' || b.phase === 'Aborted' ? 'Warning' : 'Normal',
      reason: 'PhaseChanged',
      action: 'Sync',
      note: `${a.phase ?? 'none'} → ${b.phase}: ${b.message ?? ''}`,
    });
  }
  if (b.currentStep !== undefined && b.currentStep !== a.currentStep) {
    out.push({
      type: 'Normal',
      reason: 'StepStarted',
      action: 'Sync',
      note: `step ${b.currentStep + 1}: ${b.currentWeight ?? 0} % on the new stack`,
    });
  }
  for (const m of b.metrics ?? []) {
    const old = (a.metrics ?? []).find((x) => x.name === m.name);
    if (m.lastResult && m.lastResult !== old?.lastResult) {
      const last = [...(b.measurements ?? [])].reverse().find((x) => x.metric === m.name);
      out.push({
        type: m.lastResult === 'Successful' ? 'Normal' : 'Warning',
        reason: `Measurement${m.lastResult}`,
        action: 'Analyze',
        note: `${m.name}: ${last?.message ?? m.lastResult}`,
      });
    }
  }
  const stalled = getCondition(b.conditions ?? [], STALLED);
  const wasStalled = getCondition(a.conditions ?? [], STALLED);
  if (stalled?.status === 'True' && (wasStalled?.status !== 'True' || wasStalled.reason !== stalled.reason))
    out.push({ type: 'Warning', reason: stalled.reason, action: 'Sync', note: stalled.message });
  return out;
}
