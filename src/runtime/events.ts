/**
 * Kubernetes Events (events.k8s.io/v1) for every transition.
 *
 * - `note` goes through `redactSecrets` and is cut to the API's 1 kB limit: no credential ever
 *   reaches an Event.
 * - The same event (object, type, reason, action, note) repeated within `seriesWindowMs` does not
 *   create a new Event: the existing one's `series` (count, lastObservedTime) is updated.
 * - Recording never fails a sync: API errors are logged and dropped.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { kubeMicroTime } from './conditions.js';
import type { KubeClient, KubeObject, ResourceType } from './kube-client.js';
import { apiVersionOf, isNotFound } from './kube-client.js';
import { createLogger, redactSecrets, type Logger } from './logger.js';

import { EVENT } from './resources.js';

export interface EventInput {
  type: 'Normal' | 'Warning';
  /** CamelCase, why: e.g. `PhaseChanged`, `SyncFailed`. */
  reason: string;
  /** CamelCase, what was done: e.g. `Sync`, `SwitchTraffic`. */
  action: string;
  note: string;
  related?: KubeObject;
}

export interface EventRecorderOptions {
  controller?: string;
  instance?: string;
  clock?: Clock;
  seriesWindowMs?: number;
  logger?: Logger;
  /** Most series remembered (oldest forgotten first). */
  maxSeries?: number;
}

interface Series {
  name: string;
  namespace: string;
  count: number;
  first: number;
  last: number;
}

const NOTE_LIMIT = 1024;

export class EventRecorder {
  private readonly series = new Map<string, Series>();
  private readonly clock: Clock;
  private readonly log: Logger;
  readonly controller: string;
  readonly instance: string;

  constructor(
    private readonly client: KubeClient,
    private readonly options: EventRecorderOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? createLogger('events');
    this.controller = options.controller ?? 'cutover.nokta.io/operator';
    this.instance = (options.instance ?? 'cutover-operator').slice(0, 128);
  }

  /** Builds the Event object (exported for tests and for callers that batch). */
  build(regarding: KubeObject, rt: ResourceType, ev: EventInput, now: Date): KubeObject {
    const ns = regarding.metadata.namespace ?? 'default';
    const name = `${regarding.metadata.name ?? 'object'}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`;
    let note = redactSecrets(ev.note);
    if (Buffer.byteLength(note) > NOTE_LIMIT)
      note =
        Buffer.from(note)
          .subarray(0, NOTE_LIMIT - 3)
          .toString('utf8')
          .replace(/\uFFFD$/, '') + '...';
    const ref = (o: KubeObject, fallback?: ResourceType): Record<string, unknown> => ({
      apiVersion: o.apiVersion ?? (fallback ? apiVersionOf(fallback) : undefined),
      kind: o.kind ?? fallback?.kind,
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      uid: o.metadata.uid,
      resourceVersion: o.metadata.resourceVersion,
    });
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: name.slice(0, 253), namespace: ns },
      eventTime: kubeMicroTime(now),
      reportingController: this.controller,
      reportingInstance: this.instance,
      action: ev.action.slice(0, 128),
      reason: ev.reason.slice(0, 128),
      type: ev.type,
      note,
      regarding: ref(regarding, rt),
      ...(ev.related ? { related: ref(ev.related) } : {}),
    };
  }

  /** Records an event about `regarding`; never throws. */
  async record(regarding: KubeObject, rt: ResourceType, ev: EventInput): Promise<void> {
    const now = this.clock.now();
    const id = [
      regarding.metadata.uid ?? `${regarding.metadata.namespace ?? ''}/${regarding.metadata.name ?? ''}`,
      ev.type,
      ev.reason,
      ev.action,
      redactSecrets(ev.note),
    ].join('\u0000');
    const windowMs = this.options.seriesWindowMs ?? 30 * 60_000;
    try {
      const s = this.series.get(id);
      if (s && now.getTime() - s.first < windowMs) {
        s.count++;
        s.last = now.getTime();
        try {
          await this.client.patch(EVENT, s.namespace, s.name, {
            series: { count: s.count, lastObservedTime: kubeMicroTime(now) },
          });
          return;
        } catch (e) {
          if (!isNotFound(e)) throw e;
          this.series.delete(id);
        }
      }
      const obj = this.build(regarding, rt, ev, now);
      await this.client.create(EVENT, obj.metadata.namespace, obj);
      this.series.set(id, {
        name: obj.metadata.name ?? '',
        namespace: obj.metadata.namespace ?? '',
        count: 1,
        first: now.getTime(),
        last: now.getTime(),
      });
      const max = this.options.maxSeries ?? 5000;
      while (this.series.size > max) {
        const oldest = this.series.keys().next().value;
        if (oldest === undefined) break;
        this.series.delete(oldest);
      }
    } catch (e) {
      this.log.warn({ err: e, reason: ev.reason, object: regarding.metadata.name }, 'could not record event');
    }
  }
}
