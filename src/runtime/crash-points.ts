/**
 * TEST-ONLY crash points. With `CUTOVER_CRASH_AT=<point>` in its environment the operator kills
 * itself (SIGKILL: nothing finishes, nothing is released) the first time it reaches that point,
 * so end-to-end tests crash it exactly after a claim, after a Job exists, after the shard results
 * were read… and check that the next leader finishes the work once. Never set it in a deployment.
 *
 * Points: `reconciliation:after-claim`, `reconciliation:after-job`,
 * `reconciliation:after-shard-results`, `reconciliation:after-report`; `<point>@<namespace>/<name>`
 * limits it to one object.
 */
import { writeSync } from 'node:fs';

export const CRASH_ENV = 'CUTOVER_CRASH_AT';

export function crashPoint(point: string, key?: string): void {
  const at = process.env[CRASH_ENV];
  if (!at || (at !== point && at !== `${point}@${key ?? ''}`)) return;
  // Written synchronously: the line must be out before the process is gone.
  writeSync(
    2,
    `${JSON.stringify({ level: 'warn', msg: 'crash point reached: killing the process', point: at })}\n`,
  );
  process.kill(process.pid, 'SIGKILL');
}
