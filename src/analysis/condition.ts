/**
 * Conditions on a measured value, without eval: comparisons of `result` with a number, joined by
 * `&&` and `||` (`&&` binds tighter), e.g. `result <= 1.5`, `result >= 0 && result < 2`.
 */
import type { MeasurementResult, MetricConditions } from './types.js';

export type ComparisonOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

interface Comparison {
  op: ComparisonOp;
  bound: number;
}
/** Disjunction of conjunctions of comparisons. */
export type ParsedCondition = Comparison[][];

const COMPARISON = /^result\s*(<=|>=|==|!=|<|>)\s*(-?\d{1,12}(?:\.\d{1,9})?)$/;

export class ConditionSyntaxError extends Error {}

/** Parses a condition; throws ConditionSyntaxError naming the part that is wrong and the form to use. */
export function parseCondition(text: string): ParsedCondition {
  const src = text.trim();
  if (!src)
    throw new ConditionSyntaxError("empty condition: write 'result <op> number', e.g. 'result <= 1.5'");
  return src.split('||').map((alt) =>
    alt.split('&&').map((part) => {
      const m = COMPARISON.exec(part.trim());
      if (!m)
        throw new ConditionSyntaxError(
          `cannot read '${part.trim()}' in condition '${src}': write 'result <op> number' with <op> one of < <= > >= == !=, joined by && or ||`,
        );
      return { op: m[1] as ComparisonOp, bound: Number(m[2]) };
    }),
  );
}

function compare(value: number, c: Comparison): boolean {
  switch (c.op) {
    case '<':
      return value < c.bound;
    case '<=':
      return value <= c.bound;
    case '>':
      return value > c.bound;
    case '>=':
      return value >= c.bound;
    case '==':
      return value === c.bound;
    case '!=':
      return value !== c.bound;
  }
}

export function holds(cond: ParsedCondition, value: number): boolean {
  return cond.some((all) => all.every((c) => compare(value, c)));
}

/** Throws ConditionSyntaxError when a condition of the metric cannot be read. */
export function checkConditions(c: MetricConditions): void {
  if (c.successCondition !== undefined) parseCondition(c.successCondition);
  if (c.failureCondition !== undefined) parseCondition(c.failureCondition);
}

/**
 * What a value means under the conditions (Argo Rollouts' rules):
 * - no value (absent, NaN, ±Inf) → NoData;
 * - both conditions: success holds → Successful, else failure holds → Failed, else Inconclusive
 *   (both holding is Failed: a value the spec calls bad is never counted good);
 * - only success: Successful or Failed; only failure: Failed or Successful;
 * - none: Inconclusive (nothing says what is good).
 */
export function judge(
  value: number | undefined,
  c: MetricConditions,
): { result: MeasurementResult; reason: string } {
  if (value === undefined || !Number.isFinite(value))
    return { result: 'NoData', reason: value === undefined ? 'no value' : `value is ${value}` };
  let success: boolean | undefined;
  let failure: boolean | undefined;
  try {
    if (c.successCondition !== undefined) success = holds(parseCondition(c.successCondition), value);
    if (c.failureCondition !== undefined) failure = holds(parseCondition(c.failureCondition), value);
  } catch (err) {
    return { result: 'Error', reason: (err as Error).message };
  }
  if (failure === true) return { result: 'Failed', reason: `${value}: ${c.failureCondition} holds` };
  if (success === true) return { result: 'Successful', reason: `${value}: ${c.successCondition} holds` };
  if (success === false && failure === undefined)
    return { result: 'Failed', reason: `${value}: ${c.successCondition} does not hold` };
  if (failure === false && success === undefined)
    return { result: 'Successful', reason: `${value}: ${c.failureCondition} does not hold` };
  if (success === false && failure === false)
    return {
      result: 'Inconclusive',
      reason: `${value}: neither ${c.successCondition} nor ${c.failureCondition} holds`,
    };
  return { result: 'Inconclusive', reason: `${value}: no success or failure condition` };
}
