/**
 * Notifications in the Cutover's status, write-ahead like every other action: each event is
 * queued once (a Pending record), then recorded as Sending in the same status that the sync
 * writes before it hands the Notify action to the notifier; the delivery result (Sent, Failed) is
 * merged in from what the notifier reports. A record still Sending that the notifier does not know
 * was handed to an operator that has since restarted: it may have been posted, so it becomes
 * Unconfirmed and is never posted again (at most one post per event, even across restarts).
 * Delivery never blocks the timeline.
 */
import type { CutoverStatus, NotificationStatus } from '../../api/index.js';
import type { Action, Observed } from './observed.js';

export const MAX_NOTIFICATIONS = 50;

/** Merges delivery results into the status' notification records. */
export function mergeDeliveries(status: CutoverStatus, delivered: Observed['notifications']): void {
  for (const n of status.notifications ?? []) {
    if (n.state !== 'Sending' || n.event === undefined) continue;
    const r = delivered[n.event];
    if (!r) n.state = 'Unconfirmed';
    else if (r.state !== 'Sending') {
      n.state = r.state;
      n.attempts = r.attempts;
    }
  }
}

/** Queues `event` unless it was queued before. */
export function queueNotification(status: CutoverStatus, event: string, at: string): boolean {
  const list = (status.notifications ??= []);
  if (list.some((n) => n.event === event)) return false;
  list.push({ event, at, state: 'Pending', attempts: 0 });
  while (list.length > MAX_NOTIFICATIONS) {
    const i = list.findIndex((n) => n.state !== 'Pending' && n.state !== 'Sending');
    list.splice(i >= 0 ? i : 0, 1);
  }
  return true;
}

/** The Notify actions of every Pending record, each now recorded as Sending (write-ahead). */
export function pendingNotifyActions(status: CutoverStatus, texts: Map<string, string>): Action[] {
  return (status.notifications ?? [])
    .filter(
      (n): n is NotificationStatus & { event: string } => n.state === 'Pending' && n.event !== undefined,
    )
    .map((n) => {
      n.state = 'Sending';
      return { kind: 'Notify' as const, event: n.event, text: texts.get(n.event) ?? describeEvent(n.event) };
    });
}

/** A short text for an event key (phase:Shadow, gate:switch-traffic, rollback:Replay, ...). */
export function describeEvent(event: string): string {
  const [kind, ...rest] = event.split(':');
  const what = rest.join(':');
  switch (kind) {
    case 'phase':
      return `Cutover phase: ${what}`;
    case 'gate':
      return `Waiting for approval of step ${what} (kubectl annotate cutover <name> cutover.nokta.io/approve=${what} cutover.nokta.io/approved-by=<you>)`;
    case 'approved':
      return `Step ${what} approved`;
    case 'trigger':
      return `Rollback trigger: ${what}`;
    case 'rollback':
      return `Rollback action: ${what}`;
    case 'step':
      return `Step ${what}`;
    default:
      return event;
  }
}
