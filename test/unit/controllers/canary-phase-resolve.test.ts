import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { CanaryPhaseSpec, Cutover } from '../../../src/api/types.js';
import {
  flagSpecFor,
  parseMembers,
  resolve,
  ResolveError,
  routeWeightFor,
} from '../../../src/controllers/canary-phase/resolve.js';

const analysis = { metrics: [{ name: 'm', job: { command: ['true'] } }] };
const cutover = {
  spec: {
    services: [
      {
        name: 'pos',
        flagKey: 'pos.new-stack',
        traffic: {
          ingress: {
            name: 'pos',
            newBackend: { name: 'pos-v2', port: 8080 },
            stickiness: { header: 'X-Stack' },
          },
        },
        legacy: { name: 'pos-legacy' },
        new: { name: 'pos-v2' },
      },
      {
        name: 'reports',
        traffic: {
          httpRoute: {
            name: 'reports',
            ruleIndex: 1,
            legacyBackend: { name: 'r', port: 80 },
            newBackend: { name: 'r2', port: 80 },
          },
        },
        legacy: { name: 'r' },
        new: { name: 'r2' },
      },
    ],
    flagProvider: { type: 'Redis', redis: { secretRef: { name: 'redis', key: 'url' } } },
  },
} as unknown as Pick<Cutover, 'spec'>;

describe('controllers/canary-phase resolve', () => {
  it("takes services' flag keys, routes and the flag provider from the Cutover; the store's key format", () => {
    const spec: CanaryPhaseSpec = {
      cutoverRef: { name: 'nokta' },
      services: [{ name: 'pos' }, { name: 'reports' }],
      steps: [{ weight: 10 }],
      analysis,
    };
    const r = resolve(spec, 'ns', cutover);
    assert.equal(r.flagProvider?.type, 'Redis');
    assert.equal(r.bucketingKey, 'sessionId');
    const [pos, reports] = r.services;
    assert.deepEqual(
      { routing: pos!.routing, key: pos!.flagKey, traffic: pos!.traffic?.kind },
      { routing: 'Flag', key: 'new-stack', traffic: 'Ingress' },
    );
    assert.equal(routeWeightFor(pos!, 10), 0, 'a flag-routed Ingress routes by header only');
    assert.equal(reports!.routing, 'Traffic');
    assert.deepEqual(reports!.traffic, {
      kind: 'HTTPRoute',
      namespace: 'ns',
      name: 'reports',
      ruleIndex: 1,
      legacyBackend: { name: 'r', port: 80 },
      newBackend: { name: 'r2', port: 80 },
    });
    assert.equal(routeWeightFor(reports!, 10), 10);
  });

  it('tenants are the union of the cohorts of the service (all when none lists any); the pilot cohort is always on', () => {
    const spec: CanaryPhaseSpec = {
      flagProvider: { type: 'Flagd', flagd: { configMapName: 'flags' } },
      services: [
        { name: 'pos', flagKey: 'new-stack' },
        { name: 'driver', flagKey: 'new-stack' },
      ],
      cohorts: [
        { name: 'a', services: ['pos'], tenants: ['t2', 't1'] },
        { name: 'b', tenants: ['t3', 't1'] },
        { name: 'pilots', services: ['driver'], pilot: { attribute: 'driverId', members: ['d2', 'd1'] } },
      ],
      bucketingKey: 'userId',
      steps: [{ weight: 5 }],
      analysis,
    };
    const r = resolve(spec, 'ns', undefined);
    assert.deepEqual(r.services[0]!.tenants, ['t1', 't2', 't3']);
    assert.deepEqual(r.services[1]!.tenants, ['t1', 't3']);
    const f = flagSpecFor(r.services[1]!, 5, r.bucketingKey, ['d1', 'd2']);
    assert.deepEqual(f, {
      service: 'driver',
      key: 'new-stack',
      tenants: ['t1', 't3'],
      enabled: true,
      percentage: 5,
      cohort: { name: 'pilots', attribute: 'driverId', members: ['d1', 'd2'] },
      bucketingKey: 'userId',
    });
    const noCohort = resolve({ ...spec, cohorts: [] }, 'ns', undefined);
    assert.equal(noCohort.services[0]!.tenants, 'all');
  });

  it('refuses what cannot be moved, naming the service and the fix', () => {
    const base: CanaryPhaseSpec = {
      cutoverRef: { name: 'nokta' },
      services: [{ name: 'billing' }],
      steps: [{ weight: 1 }],
      analysis,
    };
    assert.throws(
      () => resolve(base, 'ns', cutover),
      (e: unknown) =>
        e instanceof ResolveError && /billing is not a service of Cutover nokta/.test(e.message),
    );
    const split = {
      ...base,
      services: [{ name: 'reports', routing: 'Flag' as const, flagKey: 'new-stack' }],
    };
    // The Cutover's non-sticky route is left alone by a flag-routed canary (moved at the switch).
    const flagOnly = resolve(split, 'ns', cutover).services[0]!;
    assert.equal(flagOnly.routing, 'Flag');
    assert.equal(flagOnly.traffic, undefined);
    const ownSplit = {
      ...base,
      services: [
        {
          name: 'reports',
          routing: 'Flag' as const,
          flagKey: 'new-stack',
          traffic: {
            httpRoute: {
              name: 'reports',
              legacyBackend: { name: 'reports-legacy', port: 8080 },
              newBackend: { name: 'reports-v2', port: 8080 },
            },
          },
        },
      ],
    };
    assert.throws(() => resolve(ownSplit, 'ns', cutover), /weight split/);
    const noProvider: CanaryPhaseSpec = {
      services: [{ name: 'pos', flagKey: 'new-stack' }],
      steps: [{ weight: 1 }],
      analysis,
    };
    assert.throws(() => resolve(noProvider, 'ns', undefined), /flagProvider/);
  });

  it('pilot members from a ConfigMap: one per line, comments and blanks skipped, sorted, unique', () => {
    assert.deepEqual(parseMembers('d-2\n# pilots\nd-1 # first\n\nd-2\r\n d-3 \n'), ['d-1', 'd-2', 'd-3']);
  });

  it('the sample CanaryPhase resolves against the sample Cutover (flag-routed call-center beside its route)', () => {
    const canary = parse(readFileSync('samples/canary-pos-callcenter-drivers.yaml', 'utf8')) as {
      spec: CanaryPhaseSpec;
    };
    const plan = parse(readFileSync('samples/cutover-nokta.yaml', 'utf8')) as Cutover;
    const r = resolve(canary.spec, 'nokta', plan);
    const callCenter = r.services.find((s) => s.name === 'call-center')!;
    assert.equal(callCenter.routing, 'Flag');
    assert.equal(callCenter.traffic, undefined, "the Cutover's HTTPRoute is moved at the switch");
    assert.equal(
      routeWeightFor(
        r.services.find((s) => s.name === 'pos')!,
        10,
      ),
      0,
    );
  });
});
