/**
 * The dashboard's views (what the browser gets) from the sample Cutover with a status: no secret
 * or database URL in them, checks worst first, rollback triggers and how close each is; and the
 * action requests the server accepts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Cutover, Reconciliation } from '../../../src/api/index.js';
import { parseActionRequest } from '../../../src/dashboard/actions.js';
import { escapeHtml, pageHtml } from '../../../src/dashboard/page.js';
import { cutoverView, durationMs, reconciliationRoles } from '../../../src/dashboard/view.js';

const SAMPLE = parse(readFileSync('samples/cutover-nokta.yaml', 'utf8')) as Cutover;
const SECRET_URL = 'mysql://root:s3cr3t-pw@legacy.internal/nokta';

function sample(): Cutover {
  const co = structuredClone(SAMPLE);
  co.metadata = {
    name: 'nokta',
    namespace: 'nokta',
    annotations: { 'cutover.nokta.io/security-incident': 'true' },
  };
  co.spec.databases.legacy = { engine: 'mysql', url: SECRET_URL };
  co.spec.rollback = {
    ...co.spec.rollback,
    triggers: { ...co.spec.rollback?.triggers, reconciliationVariance: { percent: 2 }, securityFlag: {} },
  };
  co.status = {
    phase: 'CuttingOver',
    currentStep: co.spec.timeline.steps[0]!.name,
    steps: [{ name: co.spec.timeline.steps[0]!.name, state: 'Running', plannedAt: '2026-12-02T02:00:00Z' }],
  };
  return co;
}

function recon(
  name: string,
  checks: { name: string; verdict: 'Passed' | 'Failed'; v: number }[],
): Reconciliation {
  return {
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'Reconciliation',
    metadata: { name, namespace: 'nokta' },
    spec: { legacy: { engine: 'mysql', url: SECRET_URL }, target: { engine: 'postgres' }, checks: [] },
    status: {
      phase: 'Failed',
      summary: { maxVariancePercent: String(Math.max(...checks.map((c) => c.v))) },
      checks: checks.map((c) => ({
        name: c.name,
        verdict: c.verdict,
        variancePercent: c.v,
        tenants: [
          { tenant: 'a', variancePercent: 0.1, verdict: 'Passed' },
          { tenant: 'b', variancePercent: c.v, verdict: c.verdict },
        ],
        differingKeys: [{ tenant: 'b', key: '42', kind: 'changed', columns: ['total'] }],
      })),
    },
  };
}

describe('dashboard views', () => {
  it('send no secret: database URLs and Secret references stay on the server', () => {
    const co = sample();
    const names = [...reconciliationRoles(co).keys()];
    assert.ok(names.length > 0, 'the sample names Reconciliations');
    const recons = new Map(names.map((n) => [n, recon(n, [{ name: 'orders', verdict: 'Passed', v: 0 }])]));
    const json = JSON.stringify(
      cutoverView({
        cutover: co,
        canaryPhases: new Map(),
        reconciliations: recons,
        events: [],
        now: Date.now(),
      }),
    );
    assert.doesNotMatch(json, /s3cr3t|mysql:\/\/|secretRef|tokenSecretRef/);
  });

  it('list checks worst first, tenants worst first, with the differing keys', () => {
    const co = sample();
    const [first] = [...reconciliationRoles(co).keys()];
    const v = cutoverView({
      cutover: co,
      canaryPhases: new Map(),
      reconciliations: new Map([
        [
          first!,
          recon(first!, [
            { name: 'count', verdict: 'Passed', v: 0 },
            { name: 'sum', verdict: 'Failed', v: 3.5 },
          ]),
        ],
      ]),
      events: [],
      now: Date.now(),
    });
    const r = v.reconciliations.find((x) => x.name === first)!;
    assert.deepEqual(
      r.checks.map((c) => c.check),
      ['sum', 'count'],
    );
    assert.deepEqual(
      r.checks[0]!.tenants.map((t) => t.tenant),
      ['b', 'a'],
    );
    assert.equal(r.checks[0]!.differingKeys[0]!.key, '42');
    const variance = v.triggers.find((t) => t.trigger === 'ReconciliationVariance')!;
    assert.equal(variance.closeness, 1, '3.5 % is past the 2 % limit');
    const sec = v.triggers.find((t) => t.trigger === 'SecurityFlag')!;
    assert.equal(sec.closeness, 1);
    assert.match(sec.detail, /raised/);
    assert.equal(v.timeline[0]!.state, 'Running');
    assert.equal(v.summary.phase, 'CuttingOver');
  });

  it('shadow proxies: difference rate per service against the go/no-go limit, over only with enough answers', () => {
    const co = sample();
    co.spec.shadow = { ...co.spec.shadow!, maxDifferencePercent: 1, minCompared: 50 };
    co.status!.shadow = {
      proxies: [
        {
          service: 'pos',
          state: 'Deployed',
          compared: 400,
          differing: 12,
          differencePercent: 3,
          measuredAt: '2026-12-02T02:00:00Z',
        },
        { service: 'call-center', state: 'Deployed', compared: 20, differing: 10, differencePercent: 50 },
        { service: 'driver', state: 'Removed', compared: 900, differing: 0, differencePercent: 0 },
        { service: 'reports', state: 'Deployed', message: 'shadow proxy: cannot reach http://x' },
      ],
    };
    const v = cutoverView({
      cutover: co,
      canaryPhases: new Map(),
      reconciliations: new Map(),
      events: [],
      now: Date.now(),
    });
    assert.deepEqual(
      v.shadowProxies.map((p) => [p.service, p.differencePercent, p.over]),
      [
        ['pos', 3, true],
        ['call-center', 50, false],
        ['driver', 0, false],
        ['reports', undefined, false],
      ],
    );
    assert.equal(v.shadowProxies[0]!.maxDifferencePercent, 1);
    assert.equal(v.shadowProxies[1]!.minCompared, 50);
    assert.equal(v.shadowProxies[3]!.message, 'shadow proxy: cannot reach http://x');
  });

  it('an SLO breach carries its start and duration, so the page moves its closeness on its own clock', () => {
    const co = sample();
    co.spec.rollback = {
      ...co.spec.rollback,
      triggers: { ...co.spec.rollback?.triggers, sloBreach: { for: '10m' } },
    };
    const now = Date.parse('2026-12-02T02:10:00Z');
    co.status!.sloBreaches = [
      { slo: 'pos-p95', since: '2026-12-02T02:05:00Z', value: '2.1' },
      { slo: 'error-rate', since: '2026-12-02T02:08:00Z', value: '0.01' },
    ];
    const v = cutoverView({
      cutover: co,
      canaryPhases: new Map(),
      reconciliations: new Map(),
      events: [],
      now,
    });
    const slo = v.triggers.find((t) => t.trigger === 'SloBreach')!;
    assert.equal(slo.closeness, 0.5, '5 of 10 minutes');
    assert.equal(slo.since, '2026-12-02T02:05:00Z', 'the earliest breach');
    assert.equal(slo.forMs, 600_000);
    co.status!.sloBreaches = [];
    const calm = cutoverView({
      cutover: co,
      canaryPhases: new Map(),
      reconciliations: new Map(),
      events: [],
      now,
    });
    const none = calm.triggers.find((t) => t.trigger === 'SloBreach')!;
    assert.equal(none.closeness, 0);
    assert.equal(none.since, undefined);
  });

  it('read durations and escape what the page shows', () => {
    assert.equal(durationMs('1h30m'), 5_400_000);
    assert.equal(durationMs('90s'), 90_000);
    assert.equal(
      escapeHtml(`<img src=x onerror="a('b')">&`),
      '&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;',
    );
    assert.match(pageHtml('<b>'), /<title>&lt;b&gt; · cutover war room<\/title>/);
  });
});

describe('dashboard action requests', () => {
  it('accept the actions the controllers read, refuse the rest with a reason', () => {
    assert.deepEqual(
      parseActionRequest({
        kind: 'Cutover',
        namespace: 'n',
        name: 'c',
        verb: 'rollback',
        reason: '  SLO  down ',
      }),
      { kind: 'Cutover', namespace: 'n', name: 'c', verb: 'rollback', reason: 'SLO down' },
    );
    assert.deepEqual(
      parseActionRequest({ kind: 'CanaryPhase', namespace: 'n', name: 'p', verb: 'promote' }),
      {
        kind: 'CanaryPhase',
        namespace: 'n',
        name: 'p',
        verb: 'promote',
      },
    );
    assert.throws(
      () => parseActionRequest({ kind: 'Cutover', namespace: 'n', name: 'c', verb: 'rollback' }),
      /needs a reason/,
    );
    assert.throws(
      () => parseActionRequest({ kind: 'Cutover', namespace: 'n', name: 'c', verb: 'delete' }),
      /unknown action/,
    );
    assert.throws(
      () => parseActionRequest({ kind: 'Cutover', namespace: '../x', name: 'c', verb: 'pause' }),
      /Kubernetes names/,
    );
    assert.throws(
      () => parseActionRequest({ kind: 'Cutover', namespace: 'n', name: 'c', verb: 'approve', step: 'a,b' }),
      /step name/,
    );
  });
});
