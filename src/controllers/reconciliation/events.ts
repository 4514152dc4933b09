/**
 * The Reconciliation's Events, derived from a status change (before → after) and nothing else:
 * the runtime calls `reconciliationEvents` after each status write the controller wins, so an
 * Event is sent once per change even when two syncs race or a sync is repeated.
 */
import type { Reconciliation } from '../../api/index.js';
import type { EventInput } from '../../runtime/events.js';
import { getCondition, STALLED, RECONCILING, type Condition } from '../../runtime/conditions.js';
import { LEAST_PRIVILEGE, REASON, verdictMessage } from './status.js';
import { shardJobName } from './shard-job.js';

function condition(r: Pick<Reconciliation, 'status'>, type: string): Condition | undefined {
  return getCondition(r.status?.conditions ?? [], type);
}

export function reconciliationEvents(before: Reconciliation, after: Reconciliation): EventInput[] {
  const out: EventInput[] = [];
  const a = before.status?.lastRun;
  const b = after.status?.lastRun;
  const name = after.metadata.name;
  if (b?.id && b.id !== a?.id) {
    const shards = after.status?.shards?.total;
    const how = shards ? `${shards} shards in the Indexed Job ${shardJobName(name, b.id)}` : 'inline';
    out.push({
      type: 'Normal',
      reason: 'RunStarted',
      action: 'Reconcile',
      note: `run ${b.id} started (${b.trigger ?? ''}), ${how}`,
    });
  }
  const resumed = condition(after, RECONCILING);
  if (
    b?.id &&
    !b.finishedAt &&
    resumed?.reason === REASON.RunResumed &&
    resumed.message !== condition(before, RECONCILING)?.message
  ) {
    out.push({ type: 'Normal', reason: 'RunResumed', action: 'Reconcile', note: resumed.message });
  }
  if (b?.finishedAt && b.verdict && (b.id !== a?.id || !a?.finishedAt)) {
    const note =
      b.verdict === 'Error'
        ? `run ${b.id ?? ''} ended in Error: ${b.error ?? ''}`
        : `${verdictMessage(after.status ?? {})}`.replace(/^run (\S+):/, `run $1 ${b.verdict}:`);
    out.push({
      type: b.verdict === 'Passed' ? 'Normal' : 'Warning',
      reason: `Run${b.verdict}`,
      action: 'Reconcile',
      note,
    });
  }
  const grants = condition(after, LEAST_PRIVILEGE);
  const grantsBefore = condition(before, LEAST_PRIVILEGE);
  if (
    grants?.status === 'False' &&
    (grantsBefore?.status !== 'False' || grantsBefore.message !== grants.message)
  )
    out.push({ type: 'Warning', reason: REASON.WriteGrants, action: 'Reconcile', note: grants.message });
  const stalled = condition(after, STALLED);
  const wasStalled = condition(before, STALLED);
  if (
    stalled?.status === 'True' &&
    stalled.reason === REASON.InvalidSpec &&
    (wasStalled?.reason !== stalled.reason || wasStalled.message !== stalled.message)
  ) {
    out.push({ type: 'Warning', reason: REASON.InvalidSpec, action: 'Validate', note: stalled.message });
  }
  return out;
}
