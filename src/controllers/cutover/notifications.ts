/**
 * Notifications in the Cutover's status: each event is queued once (status.notifications, a
 * Pending entry written before the Notify action), its delivery result merged in from what the
 * notifier reports. Delivery never blocks the timeline.
 */
import type { CutoverStatus, NotificationStatus } from '../../api/index.js';
import type { Action, Observed } from './observed.js';

export const MAX_NOTIFICATIONS = 50;

/** Merges delivery results into the status' notification records. */
export function mergeDeliveries(status: CutoverStatus, delivered: Observed['notifications']): void {
  for (const n of status.notifications ?? []) {
    const r = n.event !== undefined ? delivered[n.event] : undefined;
    if (r && n.state === 'Pending') {
      n.state = r.state;
      n.attempts = r.attempts;
    }
  }
}

/**
 * Queues `event` unless it was queued before; returns the Notify actions of every record still
 * Pending (re-sent after a restart: the notifier drops events it already has).
 */
export function queueNotification(status: CutoverStatus, event: string, at: string): boolean {
  const list = (status.notifications ??= []);
  if (list.some((n) => n.event === event)) return false;
  list.push({ event, at, state: 'Pending', attempts: 0 });
  while (list.length > MAX_NOTIFICATIONS) {
    const i = list.findIndex((n) => n.state !== 'Pending');
    list.splice(i >= 0 ? i : 0, 1);
  }
  return true;
}

export function pendingNotifyActions(status: CutoverStatus, texts: Map<string, string>): Action[] {
  return (status.notifications ?? [])
    .filter(
      (n): n is NotificationStatus & { event: string } => n.state === 'Pending' && n.event !== undefined,
    )
    .map((n) => ({
      kind: 'Notify' as const,
      event: n.event,
      text: texts.get(n.event) ?? describeEvent(n.event),
    }));
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
