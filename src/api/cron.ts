/**
 * Cron schedules as a Kubernetes CronJob takes them: five fields `minute hour day-of-month month
 * day-of-week` (ranges, lists, steps, `?` for the day fields, month and weekday names in any case) or one of the
 * descriptors `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`.
 * `@every <duration>` (robfig/cron's "since the controller started") is refused with the cron to
 * write instead: a schedule must mean the same after an operator restart.
 *
 * The CRD checks the shape with CRON_PATTERN (each field within its range); what a pattern cannot
 * see (`0 0 30 2 *` never fires, `5-2 * * * *`, `*\/0`) is found by cron-parser in `cronProblem`,
 * which `cutover validate` and the operator (Stalled, InvalidSpec) use.
 */
import { CronExpressionParser } from 'cron-parser';

/** Descriptor → the five fields it stands for. */
export const CRON_DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MINUTE = '[0-5]?[0-9]';
const HOUR = '(2[0-3]|[01]?[0-9])';
const DOM = '(3[01]|[12][0-9]|0?[1-9])';
const MONTH = '(1[0-2]|0?[1-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)';
const DOW = '([0-7]|SUN|MON|TUE|WED|THU|FRI|SAT)';
function field(n: string, question = false): string {
  const item = `([*]|${n}(-${n})?)(/[0-9]{1,2})?`;
  return `(${question ? '[?]|' : ''}${item}(,${item})*)`;
}
const FIELDS = [field(MINUTE), field(HOUR), field(DOM, true), field(MONTH), field(DOW, true)].join(' +');
const DESCRIPTORS = Object.keys(CRON_DESCRIPTORS)
  .map((d) => d.slice(1))
  .join('|');

/**
 * The shape of a schedule. No backslashes, so it goes into a CEL string literal as it is; no
 * case-insensitivity flag (ECMAScript has no inline `(?i)`): the CRD uses `(?i)` + CRON_PATTERN
 * (RE2), TypeScript `new RegExp(CRON_PATTERN, 'i')`.
 */
export const CRON_PATTERN = `^ *(@(${DESCRIPTORS})|${FIELDS}) *$`;
/** CRON_PATTERN as the API server's CEL `matches()` takes it. */
export const CRON_PATTERN_CEL = `(?i)${CRON_PATTERN}`;
const CRON_RE = new RegExp(CRON_PATTERN, 'i');

/** The fix, for messages. */
export const CRON_FORMAT =
  "write 5 fields 'minute hour day-of-month month day-of-week' like '0 2 * * *', or @hourly, @daily, @weekly, @monthly or @yearly";

/** True when the schedule has the shape the CRD accepts (ranges of each field included). */
export function cronShapeOk(expr: string): boolean {
  return CRON_RE.test(expr);
}

/** True for `@every ...`, which the CRD refuses with its own message. */
export function isEveryDescriptor(expr: string): boolean {
  return /^ *@every( |$)/i.test(expr);
}

/** The five fields of a schedule (a descriptor replaced by what it stands for). */
export function cronFields(expr: string): string {
  const t = expr.trim();
  return CRON_DESCRIPTORS[t.toLowerCase()] ?? t;
}

/**
 * Why a schedule the CRD accepts can never be used (`0 0 30 2 *`, `5-2 * * * *`, `*\/0 * * * *`),
 * or undefined when it is fine. For the operator's Stalled/InvalidSpec and `cutover validate`.
 */
export function cronProblem(expr: string): string | undefined {
  try {
    CronExpressionParser.parse(cronFields(expr), { tz: 'UTC' }).next();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
