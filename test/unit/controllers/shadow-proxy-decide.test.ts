/**
 * The Cutover's decisions about its comparing shadow proxies (src/controllers/cutover/shadow-proxy.ts
 * through decide()): deployed at the start of the shadow phase (recorded before it acts), the
 * shadowDifferences reading recorded in status only when it changes, the go/no-go to canary when
 * the phase ends (too many differences or too few compared answers keep the phase open with the
 * proxy still comparing), the routes restored and the proxies removed before the plan goes on,
 * and removed on a rollback.
 */
import assert from 'node:assert/strict';
import type { Cutover, CutoverStatus } from '../../../src/api/index.js';
import { decide } from '../../../src/controllers/cutover/decide.js';
import type { Observed } from '../../../src/controllers/cutover/observed.js';
import type { ObservedShadowProxy } from '../../../src/controllers/cutover/shadow-proxy.js';

const T0 = Date.parse('2026-11-24T00:00:00Z');
const END = Date.parse('2026-11-28T00:00:00Z');

function cutover(status: CutoverStatus = {}, max?: number): Cutover {
  return {
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'Cutover',
    metadata: { name: 'full', namespace: 'shop', uid: 'u1' },
    spec: {
      services: [
        {
          name: 'pos',
          traffic: {
            httpRoute: {
              name: 'pos',
              legacyBackend: { name: 'pos-legacy', port: 8080 },
              newBackend: { name: 'pos-v2', port: 8080 },
            },
          },
          legacy: { name: 'pos-legacy' },
          new: { name: 'pos-v2' },
        },
      ],
      databases: {
        legacy: { engine: 'mysql', secretRef: { name: 'legacy' } },
        target: { engine: 'postgres', secretRef: { name: 'target' } },
      },
      shadow: {
        startAt: new Date(T0).toISOString(),
        endAt: new Date(END).toISOString(),
        comparison: [{ service: 'pos', paths: ['/api/**'] }],
        ...(max !== undefined ? { maxDifferencePercent: max, minCompared: 100 } : {}),
      },
      timeline: {
        startAt: '2026-12-01T00:00:00Z',
        steps: [{ name: 'notify', action: 'Notify', offset: '+0s' }],
      },
    },
    status,
  };
}

/** The actions other than notifications. */
const iso = (t: number): string => new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
const acts = (d: { actions: { kind: string }[] }): unknown[] => d.actions.filter((a) => a.kind !== 'Notify');

function observed(co: Cutover, proxies?: Record<string, ObservedShadowProxy>): Observed {
  return {
    cutover: co,
    jobs: {},
    reconciliations: {},
    canaryPhases: {},
    integrationChecks: {},
    slos: {},
    world: { traffic: {}, flags: {}, reportKeys: [] },
    notifications: {},
    ...(proxies ? { shadowProxies: proxies } : {}),
  };
}

describe('cutover decide: the comparing shadow proxies', () => {
  it('in the shadow phase: deploys the proxy (recorded Deployed first), rechecks until it is routed', () => {
    const d = decide(observed(cutover(), { pos: { deployed: false, routed: false } }), new Date(T0 + 1000));
    assert.equal(d.status.phase, 'Shadow');
    assert.deepEqual(acts(d), [{ kind: 'ShadowProxy', on: true, services: ['pos'] }]);
    assert.deepEqual(d.status.shadow?.proxies, [{ service: 'pos', state: 'Deployed' }]);
    assert.equal(d.recheck, true);
  });

  it('records the shadowDifferences reading when it changes, and only then', () => {
    const now = new Date(T0 + 60_000);
    const reading = { deployed: true, routed: true, compared: 200, differing: 1, differencePercent: 0.5 };
    const d = decide(observed(cutover(), { pos: reading }), now);
    assert.deepEqual(acts(d), []);
    assert.deepEqual(d.status.shadow?.proxies, [
      {
        service: 'pos',
        state: 'Deployed',
        compared: 200,
        differing: 1,
        differencePercent: 0.5,
        measuredAt: iso(now.getTime()),
      },
    ]);
    assert.ok(d.requeueAfterMs !== undefined && d.requeueAfterMs <= 15_000, 'read again soon');
    const later = decide(observed(cutover(d.status), { pos: reading }), new Date(now.getTime() + 15_000));
    assert.equal(
      later.status.shadow?.proxies?.[0]?.measuredAt,
      iso(now.getTime()),
      'unchanged: not rewritten',
    );
    const error = decide(
      observed(cutover(d.status), {
        pos: { deployed: true, routed: true, error: 'shadow proxy: cannot reach' },
      }),
      new Date(now.getTime() + 30_000),
    );
    assert.deepEqual(error.status.shadow?.proxies?.[0], {
      service: 'pos',
      state: 'Deployed',
      message: 'shadow proxy: cannot reach',
      measuredAt: iso(now.getTime() + 30_000),
    });
  });

  it('when the phase ends: too many differences keep it open (Stalled), the proxy still routed', () => {
    const reading = { deployed: true, routed: true, compared: 400, differing: 20, differencePercent: 5 };
    const first = decide(observed(cutover({}, 1), { pos: reading }), new Date(T0 + 1000));
    const d = decide(observed(cutover(first.status, 1), { pos: reading }), new Date(END + 1000));
    assert.equal(d.status.phase, 'Shadow');
    assert.deepEqual(acts(d), []);
    const stalled = d.status.conditions?.find((c) => c.type === 'Stalled');
    assert.equal(stalled?.status, 'True');
    assert.equal(stalled?.reason, 'ShadowVarianceTooHigh');
    assert.match(stalled.message, /pos: 5 % of answers differ > 1 %/);
    const few = { deployed: true, routed: true, compared: 40, differing: 0, differencePercent: 0 };
    const d2 = decide(observed(cutover(first.status, 1), { pos: few }), new Date(END + 1000));
    assert.match(
      d2.status.conditions!.find((c) => c.type === 'Stalled')!.message,
      /pos: 40 answer\(s\) compared, fewer than minCompared 100/,
    );
  });

  it('when the phase ends within the limit: the proxy is removed (route restored) before the plan goes on', () => {
    const reading = { deployed: true, routed: true, compared: 400, differing: 2, differencePercent: 0.5 };
    const first = decide(observed(cutover({}, 1), { pos: reading }), new Date(T0 + 1000));
    const ending = decide(observed(cutover(first.status, 1), { pos: reading }), new Date(END + 1000));
    assert.deepEqual(acts(ending), [{ kind: 'ShadowProxy', on: false, services: ['pos'] }]);
    assert.equal(ending.status.phase, 'Shadow');
    const gone = decide(
      observed(cutover(ending.status, 1), { pos: { deployed: false, routed: false } }),
      new Date(END + 2000),
    );
    assert.equal(gone.status.shadow?.proxies?.[0]?.state, 'Removed');
    assert.equal(gone.status.shadow?.proxies?.[0]?.differencePercent, 0.5, 'the last reading is kept');
    assert.notEqual(gone.status.phase, 'Shadow');
    assert.ok(!gone.actions.some((a) => a.kind === 'ShadowProxy'));
    // Later syncs read nothing more of the proxies and never deploy them again.
    const after = decide(observed(cutover(gone.status, 1), {}), new Date(END + 3000));
    assert.ok(!after.actions.some((a) => a.kind === 'ShadowProxy'));
  });

  it('a rollback during the shadow phase removes the proxy', () => {
    const reading = { deployed: true, routed: true, compared: 10, differing: 0, differencePercent: 0 };
    const first = decide(observed(cutover(), { pos: reading }), new Date(T0 + 1000));
    const co = cutover(first.status);
    co.metadata.annotations = { 'cutover.nokta.io/action': 'rollback' };
    const d = decide(observed(co, { pos: reading }), new Date(T0 + 2000));
    if (d.status.rollback === undefined)
      return assert.fail(`no rollback started: ${JSON.stringify(d.status)}`);
    assert.ok(d.actions.some((a) => a.kind === 'ShadowProxy' && !a.on));
  });
});
