/**
 * A test-only controller for `widgets.test.cutover.nokta.io` (CRD in
 * test/fixtures/runtime/widget-crd.yaml), enabled with `cutover operator --test-controller widgets`.
 * It exercises the whole contract and leaves evidence for tests:
 * - each sync logs `widget sync start` / `widget sync end` with key, identity and times;
 * - `spec.syncDelayMs` makes a sync take that long (abortable);
 * - `spec.failTimes` makes the first N syncs of a widget throw (per-key backoff, then recovery);
 * - the status (through /status, with conflict retry) counts syncs, lists the identities that
 *   synced it, sets observedGeneration and Ready; a new generation gets an Event.
 */
import type { ControllerSpec } from './controller.js';
import type { KubeObject, ResourceType } from './kube-client.js';
import { markReady, type Condition } from './conditions.js';

export const WIDGET_RESOURCE: ResourceType = { group: 'test.cutover.nokta.io', version: 'v1', plural: 'widgets', kind: 'Widget' };

export interface Widget extends KubeObject {
  spec?: { revision?: number; failTimes?: number; syncDelayMs?: number; data?: string };
  status?: {
    syncs?: number;
    syncedBy?: string[];
    lastSyncedBy?: string;
    lastRevision?: number;
    failures?: number;
    observedGeneration?: number;
    conditions?: Condition[];
  };
}

/** Keys being synced in this process right now (a second entry would be a concurrent sync). */
const active = new Map<string, number>();
export let concurrentSyncsDetected = 0;

export function widgetController(identity: string): ControllerSpec<Widget> {
  return {
    name: 'test-widgets',
    resource: WIDGET_RESOURCE,
    async sync(ctx) {
      const w = ctx.object;
      if (!w) {
        ctx.log.info({ identity }, 'widget deleted');
        return;
      }
      const startedAt = Date.now();
      const n = (active.get(ctx.key) ?? 0) + 1;
      active.set(ctx.key, n);
      if (n > 1) {
        concurrentSyncsDetected++;
        ctx.log.error({ identity }, 'concurrent sync detected');
      }
      ctx.log.info({ identity, startedAt, revision: w.spec?.revision }, 'widget sync start');
      try {
        const delay = w.spec?.syncDelayMs ?? 0;
        if (delay > 0) await ctx.clock.sleep(delay, ctx.signal);
        if ((w.spec?.failTimes ?? 0) > ctx.failures) {
          await ctx.event({ type: 'Warning', reason: 'SyncFailed', action: 'Sync', note: `failing on purpose (attempt ${ctx.failures + 1} of ${w.spec?.failTimes ?? 0})` });
          throw new Error(`widget ${ctx.key} configured to fail ${w.spec?.failTimes ?? 0} times`);
        }
        const generation = w.metadata.generation;
        const newGeneration = w.status?.observedGeneration !== generation;
        await ctx.status.update(ctx.namespace, ctx.name, (fresh) => {
          const st = fresh.status ?? {};
          const syncedBy = [...(st.syncedBy ?? [])];
          if (!syncedBy.includes(identity)) syncedBy.push(identity);
          return markReady(
            { ...st, syncs: (st.syncs ?? 0) + 1, syncedBy, lastSyncedBy: identity, lastRevision: fresh.spec?.revision ?? 0, failures: ctx.failures },
            fresh.metadata.generation,
            ctx.clock.now(),
            'Synced',
            `synced revision ${fresh.spec?.revision ?? 0}`,
          );
        });
        if (newGeneration) await ctx.event({ type: 'Normal', reason: 'Synced', action: 'Sync', note: `generation ${generation ?? 0} synced by ${identity}` });
        return {};
      } finally {
        const left = (active.get(ctx.key) ?? 1) - 1;
        if (left <= 0) active.delete(ctx.key);
        else active.set(ctx.key, left);
        ctx.log.info({ identity, startedAt, endedAt: Date.now(), aborted: ctx.signal.aborted }, 'widget sync end');
      }
    },
  };
}
