/**
 * TEST-ONLY crash points. With `CUTOVER_CRASH_AT=<point>` in its environment the operator kills
 * itself (SIGKILL: nothing finishes, nothing is released) the first time it reaches that point,
 * so end-to-end tests crash it exactly after a claim, after a Job exists, after the shard results
 * were read… and check that the next leader finishes the work once. Never set it in a deployment.
 *
 * Points: `reconciliation:after-claim`, `reconciliation:after-job`,
 * `reconciliation:after-shard-results`, `reconciliation:after-report`; `<point>@<namespace>/<name>`
 * limits it to one object; a `#<n>` suffix (`<point>#3`, `<point>@<ns>/<name>#3`) kills it the
 * n-th time this process reaches that point instead of the first.
 */
import { writeSync } from 'node:fs';

export const CRASH_ENV = 'CUTOVER_CRASH_AT';

/** How often this process reached the point named by CUTOVER_CRASH_AT. */
let reached = 0;

/** `<target>#<n>` → target and n (1 without a suffix). */
export function parseCrashAt(at: string): { target: string; nth: number } {
  const m = /^(.*)#([1-9][0-9]*)$/.exec(at);
  return m ? { target: m[1]!, nth: Number(m[2]) } : { target: at, nth: 1 };
}

export function crashPoint(point: string, key?: string): void {
  const at = process.env[CRASH_ENV];
  if (!at) return;
  const { target, nth } = parseCrashAt(at);
  if (target !== point && target !== `${point}@${key ?? ''}`) return;
  if (++reached < nth) return;
  // Written synchronously: the line must be out before the process is gone.
  writeSync(
    2,
    `${JSON.stringify({ level: 'warn', msg: 'crash point reached: killing the process', point: at })}\n`,
  );
  process.kill(process.pid, 'SIGKILL');
}
