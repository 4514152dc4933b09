/**
 * TEST SUPPORT ONLY: a controller for `widgets.test.cutover.nokta.io` (CRD in
 * test/fixtures/runtime/widget-crd.yaml) that exercises the whole runtime contract and leaves
 * evidence for tests and the runtime benchmark. It never ships: the operator process runs it only
 * when started through `test/support/widget-operator.ts`.
 * - each sync logs `widget sync start` / `widget sync end` with key, identity and times;
 * - `spec.syncDelayMs` makes a sync take that long (abortable);
 * - `spec.failTimes` makes the first N syncs of a widget throw (per-key backoff, the runtime's
 *   SyncError condition from the third failure in a row, then recovery);
 * - `spec.terminal` makes every sync throw a TerminalError with that reason (Stalled, no retry);
 * - the status (through /status, with conflict retry) counts syncs, lists the identities that
 *   synced it, sets observedGeneration and Ready; the first sync and each new revision synced
 *   make an Event (derived from the status change).
 */
import type { ControllerSpec } from '../../src/runtime/controller.js';
import type { KubeObject, ResourceType } from '../../src/runtime/kube-client.js';
import { markReady, type Condition } from '../../src/runtime/conditions.js';
import { TerminalError } from '../../src/runtime/errors.js';

export const WIDGET_RESOURCE: ResourceType = {
  group: 'test.cutover.nokta.io',
  version: 'v1',
  plural: 'widgets',
  kind: 'Widget',
};

export interface Widget extends KubeObject {
  spec?: { revision?: number; failTimes?: number; syncDelayMs?: number; data?: string; terminal?: string };
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

export function widgetController(): ControllerSpec<Widget> {
  return {
    name: 'test-widgets',
    resource: WIDGET_RESOURCE,
    async sync(ctx) {
      const identity = ctx.settings.identity;
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
        if (w.spec?.terminal)
          throw new TerminalError(w.spec.terminal, `widget ${ctx.key} cannot be synced: ${w.spec.terminal}`);
        if ((w.spec?.failTimes ?? 0) > ctx.failures) {
          throw new Error(
            `widget ${ctx.key} configured to fail ${w.spec?.failTimes ?? 0} times (attempt ${ctx.failures + 1})`,
          );
        }
        await ctx.status.update(ctx.namespace, ctx.name, (fresh) => {
          const st = fresh.status ?? {};
          const syncedBy = [...(st.syncedBy ?? [])];
          if (!syncedBy.includes(identity)) syncedBy.push(identity);
          return markReady(
            {
              ...st,
              syncs: (st.syncs ?? 0) + 1,
              syncedBy,
              lastSyncedBy: identity,
              lastRevision: fresh.spec?.revision ?? 0,
              failures: ctx.failures,
            },
            fresh.metadata.generation,
            ctx.clock.now(),
            'Synced',
            `synced revision ${fresh.spec?.revision ?? 0}`,
          );
        });
        return {};
      } finally {
        const left = (active.get(ctx.key) ?? 1) - 1;
        if (left <= 0) active.delete(ctx.key);
        else active.set(ctx.key, left);
        ctx.log.info(
          { identity, startedAt, endedAt: Date.now(), aborted: ctx.signal.aborted },
          'widget sync end',
        );
      }
    },
    events(before, after) {
      const a = before.status;
      const b = after.status;
      if (b?.syncs === undefined || b.syncs === a?.syncs) return [];
      if (a?.syncs !== undefined && a.lastRevision === b.lastRevision) return [];
      return [
        {
          type: 'Normal',
          reason: 'Synced',
          action: 'Sync',
          note: `revision ${b.lastRevision ?? 0} synced by ${b.lastSyncedBy ?? ''}`,
        },
      ];
    },
  };
}
