import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConditionSyntaxError, holds, judge, parseCondition } from '../../../src/analysis/condition.js';

describe('analysis/condition', () => {
  it('reads comparisons joined by && and ||, && binding tighter', () => {
    assert.deepEqual(parseCondition('result <= 1.5'), [[{ op: '<=', bound: 1.5 }]]);
    const c = parseCondition('result < 0 || result >= 1 && result < 2');
    assert.equal(holds(c, -1), true);
    assert.equal(holds(c, 0.5), false);
    assert.equal(holds(c, 1), true);
    assert.equal(holds(c, 2), false);
    for (const [text, v, want] of [
      ['result == 3', 3, true],
      ['result != 3', 3, false],
      ['result > -2.25', -2, true],
      ['result>=10', 10, true],
    ] as const)
      assert.equal(holds(parseCondition(text), v), want, text);
  });

  it('refuses anything but comparisons of result with a number, naming the part and the form', () => {
    for (const bad of [
      '',
      'result',
      'x <= 1',
      'result <= abc',
      'result <= 1; process.exit()',
      'result => 1',
      '(result < 1)',
    ]) {
      assert.throws(
        () => parseCondition(bad),
        (e: unknown) => e instanceof ConditionSyntaxError && /result <op> number/.test(e.message),
        bad,
      );
    }
  });

  it('judges a value as Argo Rollouts does: failure wins, both false is Inconclusive', () => {
    const both = { successCondition: 'result <= 1', failureCondition: 'result > 2' };
    assert.equal(judge(0.5, both).result, 'Successful');
    assert.equal(judge(3, both).result, 'Failed');
    assert.equal(judge(1.5, both).result, 'Inconclusive');
    assert.match(judge(1.5, both).reason, /neither result <= 1 nor result > 2 holds/);
    assert.equal(judge(1.5, { successCondition: 'result <= 1' }).result, 'Failed');
    assert.equal(judge(1.5, { failureCondition: 'result > 2' }).result, 'Successful');
    assert.equal(judge(1.5, {}).result, 'Inconclusive');
    // A value both conditions match is never counted good.
    assert.equal(
      judge(5, { successCondition: 'result > 0', failureCondition: 'result > 4' }).result,
      'Failed',
    );
  });

  it('no value, NaN and infinities are NoData; a broken condition is an Error, not a failure', () => {
    assert.equal(judge(undefined, { successCondition: 'result < 1' }).result, 'NoData');
    assert.equal(judge(NaN, { successCondition: 'result < 1' }).result, 'NoData');
    assert.equal(judge(Infinity, { successCondition: 'result < 1' }).result, 'NoData');
    const e = judge(1, { successCondition: 'result << 1' });
    assert.equal(e.result, 'Error');
    assert.match(e.reason, /result << 1/);
  });

  it('a threshold pair agrees with plain arithmetic for any value (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        (v, lo, width) => {
          const hi = lo + width;
          const r = judge(v, {
            successCondition: `result >= ${lo} && result <= ${hi}`,
            failureCondition: `result > ${hi}`,
          });
          const want = v >= lo && v <= hi ? 'Successful' : v > hi ? 'Failed' : 'Inconclusive';
          assert.equal(r.result, want);
        },
      ),
    );
  });
});
