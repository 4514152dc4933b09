/**
 * The demo's plan clock and its operator process, shared by both scenarios of `npm run demo`.
 *
 * The sample plan (Nov 16 .. mid-December 2026) moves into the real past by whole days, so that
 * its Nov 16 falls 60 days ago; the operator's plan clock (`--time-scale`, `--time-origin`) starts
 * at the shifted Nov 16 when the operator starts. The legacy rows are written at the plan's Nov 1,
 * two weeks before preparation: inside every Reconciliation's 90-day window (counted back from the
 * run's real time, or from the freeze) and before the freeze, so every run compares them.
 */
import { join } from 'node:path';
import { repoRoot } from './devenv-state.js';
import { DAY, DEMO_TIME_SCALE, shiftDate } from './demo-plan.js';
import { startProcess, type ManagedProcess } from './processes.js';

/** How far the sample's dates move: its Nov 16 becomes the day 60 days before `now`. */
export const demoShiftMs = (now = Date.now()): number =>
  Math.floor((now - 60 * DAY) / DAY) * DAY - Date.parse('2026-11-16T00:00:00Z');

/** When the demo's legacy rows were written (the plan's Nov 1, shifted). */
export const demoLegacyRowAt = (shiftMs: number): Date =>
  new Date(shiftDate('2026-11-01T10:00:00Z', shiftMs));

export interface DemoOperator {
  process: ManagedProcess;
  shiftMs: number;
  metricsUrl: string;
  /** The plan time at the operator's start (the shifted Nov 16). */
  planOrigin: string;
  /** The plan time now, as the operator's clock has it. */
  planNow: () => number;
}

/** `cutover operator` for one namespace with the demo's compressed plan clock, logging to `log`. */
export function startDemoOperator(o: {
  name: string;
  kubeconfig: string;
  namespace: string;
  log: string;
  shiftMs: number;
  /** Where it serves /metrics (and its health endpoints). */
  metricsPort: number;
}): DemoOperator {
  const planOrigin = shiftDate('2026-11-16T00:00:00Z', o.shiftMs);
  const realStart = Date.now();
  const process_ = startProcess(
    o.name,
    process.execPath,
    [
      join(repoRoot(), 'dist', 'src', 'cli', 'main.js'),
      'operator',
      '--kubeconfig',
      o.kubeconfig,
      '--no-leader-elect',
      '--namespaces',
      o.namespace,
      '--listen-address',
      `127.0.0.1:${o.metricsPort}`,
      '--time-scale',
      String(DEMO_TIME_SCALE),
      '--time-origin',
      `${planOrigin}@${new Date(realStart).toISOString()}`,
      '--log-level',
      'info',
    ],
    o.log,
    { detached: true },
  );
  return {
    process: process_,
    shiftMs: o.shiftMs,
    metricsUrl: `http://127.0.0.1:${o.metricsPort}/metrics`,
    planOrigin,
    planNow: () => Date.parse(planOrigin) + (Date.now() - realStart) * DEMO_TIME_SCALE,
  };
}
