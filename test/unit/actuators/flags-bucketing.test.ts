import assert from 'node:assert/strict';
import { FlagdCore } from '@openfeature/flagd-core';
import fc from 'fast-check';
import { bucketOf, inRollout, murmur3 } from '../../../src/actuators/flags/bucketing.js';
import {
  applySpecToState,
  evaluateFlag,
  flagdKey,
  renderFlagdDocument,
  type FlagState,
} from '../../../src/actuators/flags/flag-model.js';

function flagdWith(flags: FlagState[]): FlagdCore {
  const core = new FlagdCore();
  core.setConfigurations(JSON.stringify(renderFlagdDocument(flags)));
  return core;
}

function emptyFlag(service: string, key: string): FlagState {
  return { service, key, defaultState: null, tenants: {} };
}

describe('actuators/flags bucketing', () => {
  it('murmur3 matches the reference vectors of MurmurHash3_x86_32', () => {
    assert.equal(murmur3(''), 0);
    assert.equal(murmur3('', 1), 0x514e28b7);
    assert.equal(murmur3('hello'), 0x248bfa47);
    assert.equal(murmur3('The quick brown fox jumps over the lazy dog'), 0x2e4ff723);
    assert.equal(murmur3('aaaa', 0x9747b28c), 0x5a97808a);
  });

  it('100,000 sessions at 10 %: share is 10 % ± 0.5 %, flagd agrees for every key, and buckets stay when raised to 50 %', () => {
    const base = applySpecToState(emptyFlag('pos', 'new-stack'), {
      tenants: 'all',
      enabled: true,
      percentage: 10,
      bucketingKey: 'sessionId',
    });
    const fifty = applySpecToState(base, {
      tenants: 'all',
      enabled: true,
      percentage: 50,
      bucketingKey: 'sessionId',
    });
    const key = flagdKey('pos', 'new-stack');
    const at10 = flagdWith([base]);
    const at50 = flagdWith([fifty]);
    let on10 = 0;
    let on50 = 0;
    let disagreements = 0;
    let lostBucket = 0;
    for (let i = 0; i < 100_000; i++) {
      const sessionId = `sess-${i.toString(36)}-${(i * 2654435761) >>> 0}`;
      const ctx = { tenantId: `t${i % 37}`, sessionId };
      const r10 = at10.resolveBooleanEvaluation(key, false, ctx);
      const r50 = at50.resolveBooleanEvaluation(key, false, ctx);
      assert.equal(r10.errorCode, undefined, r10.errorMessage);
      const mine10 = bucketOf(key, sessionId) < 10;
      if (mine10 !== r10.value) disagreements++;
      if (bucketOf(key, sessionId) < 50 !== r50.value) disagreements++;
      if ((evaluateFlag(base, ctx) === 'on') !== r10.value) disagreements++;
      if (r10.value) on10++;
      if (r50.value) on50++;
      if (r10.value && !r50.value) lostBucket++;
    }
    assert.equal(disagreements, 0);
    assert.equal(lostBucket, 0);
    assert.ok(Math.abs(on10 / 1000 - 10) <= 0.5, `share at 10 %: ${on10 / 1000} %`);
    assert.ok(Math.abs(on50 / 1000 - 50) <= 0.5, `share at 50 %: ${on50 / 1000} %`);
  });

  it('inRollout is monotone in the percentage', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        (v, a, b) => {
          const [lo, hi] = a <= b ? [a / 1000, b / 1000] : [b / 1000, a / 1000];
          return !inRollout('svc.flag', v, lo) || inRollout('svc.flag', v, hi);
        },
      ),
    );
  });

  it('per-tenant states, cohorts and disabled tenants evaluate the same in flagd and in evaluateFlag', () => {
    let flag = emptyFlag('driver', 'new-dispatch');
    flag = applySpecToState(flag, {
      tenants: ['acme', 'globex'],
      enabled: true,
      percentage: 25.5,
      bucketingKey: 'userId',
      cohort: { name: 'pilot-drivers', attribute: 'driverId', members: ['d-7', 'd-1'] },
    });
    flag = applySpecToState(flag, {
      tenants: ['initech'],
      enabled: false,
      percentage: 100,
      bucketingKey: 'userId',
    });
    flag = applySpecToState(flag, {
      tenants: ['umbrella'],
      enabled: true,
      percentage: 100,
      bucketingKey: 'userId',
    });
    const other = applySpecToState(emptyFlag('billing', 'new-invoices'), {
      tenants: 'all',
      enabled: true,
      percentage: 0.001,
      bucketingKey: 'userId',
    });
    const core = flagdWith([flag, other]);
    const key = flagdKey('driver', 'new-dispatch');
    fc.assert(
      fc.property(
        fc.constantFrom('acme', 'globex', 'initech', 'umbrella', 'unknown'),
        fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
        fc.constantFrom('d-1', 'd-7', 'd-9', undefined),
        (tenantId, userId, driverId) => {
          const ctx: Record<string, string> = { tenantId };
          if (userId !== undefined) ctx.userId = userId;
          if (driverId !== undefined) ctx.driverId = driverId;
          const expected = evaluateFlag(flag, ctx) === 'on';
          const got = core.resolveBooleanEvaluation(key, !expected, ctx);
          assert.equal(got.errorCode, undefined, got.errorMessage);
          return got.value === expected;
        },
      ),
      { numRuns: 2000 },
    );
    // Cohort members are on even outside the percentage; a disabled tenant is off even for them.
    assert.equal(
      core.resolveBooleanEvaluation(key, false, { tenantId: 'acme', driverId: 'd-7' }).value,
      true,
    );
    assert.equal(
      core.resolveBooleanEvaluation(key, true, { tenantId: 'initech', driverId: 'd-7', userId: 'u' }).value,
      false,
    );
    assert.equal(
      core.resolveBooleanEvaluation(key, true, { tenantId: 'unknown', userId: 'u1' }).value,
      false,
    );
    assert.equal(
      core.resolveBooleanEvaluation(key, false, { tenantId: 'umbrella', userId: 'u1' }).value,
      true,
    );
  });

  it('rejects bad percentages and names', () => {
    assert.throws(() =>
      applySpecToState(emptyFlag('pos', 'x'), {
        tenants: 'all',
        enabled: true,
        percentage: 101,
        bucketingKey: 'sessionId',
      }),
    );
    assert.throws(() => flagdKey('POS', 'x'));
  });
});
