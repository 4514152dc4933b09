/**
 * The crash tests' plan and invariants: a short cutover night whose Jobs log each pod run, and
 * the checks made after every run of operators killed along the way (no step's side effect
 * twice, no missed rollback, never traffic on a frozen database).
 */
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { CutoverSpec, CutoverStatus } from '../../src/api/index.js';
import { CUTOVER } from '../../src/controllers/kinds.js';
import { LABEL_CUTOVER } from '../../src/controllers/cutover/world.js';
import type { KubeClient, KubeObject } from '../../src/runtime/kube-client.js';
import { JOB } from '../../src/runtime/resources.js';
import type { OwnMariadb } from '../integration/actuators/own-servers.js';
import { RUN_LABEL } from './pod-runner.js';
import {
  baseCutoverSpec,
  createLegacyRoute,
  cutoverObject,
  flagOn,
  jobLines,
  legacyReadOnly,
  nodeJob,
  routeWeights,
  type CutoverObject,
} from './cutover-harness.js';

/** Where a crash test's Cutovers run and what their checks read. */
export interface CrashWorld {
  admin: KubeClient;
  ns: string;
  redis: Redis;
  /** Redis key prefix; each Cutover's flags are under `<prefix><name>:`. */
  prefix: string;
  maria: OwnMariadb;
  /** Each Job's pod appends one line here. */
  jobLog: string;
  /** The Secrets with legacy's admin and application URLs (default `legacy-admin`, `legacy-app`). */
  legacySecrets?: { admin: string; app: string };
}

/** Every Job of these plans: one line per pod run (cutover and purpose). */
const LOG_JOB = `
import { appendFileSync } from 'node:fs';
appendFileSync(process.env.JOB_LOG, JSON.stringify({ cutover: process.env.CUTOVER_NAME, purpose: process.env.PURPOSE, frozenAt: process.env.CUTOVER_FROZEN_AT }) + '\\n');
`;

/**
 * The crash tests' night (its route `pos-<name>`): freeze, delta sync Job, switch, flags, lift,
 * report, `gap` apart from `startAt`; the security annotation rolls back with a replay Job;
 * legacy hot and the stable period last 3 s each (of plan time) unless `opts` say otherwise.
 */
export async function createCrashPlan(
  w: CrashWorld,
  name: string,
  startAt: number,
  gap = 1,
  opts: { keepLegacyHotFor?: string; steadyStateAfter?: string } = {},
): Promise<void> {
  await createLegacyRoute(w.admin, w.ns, `pos-${name}`);
  const job = (purpose: string) =>
    nodeJob(
      LOG_JOB,
      [
        { name: 'JOB_LOG', value: w.jobLog },
        { name: 'PURPOSE', value: purpose },
      ],
      { [RUN_LABEL]: 'true' },
    );
  const at = (i: number): string => `+${i * gap}s`;
  await w.admin.create<CutoverObject>(
    CUTOVER,
    w.ns,
    cutoverObject(
      name,
      w.ns,
      withLegacySecrets(
        w,
        baseCutoverSpec({
          route: `pos-${name}`,
          keyPrefix: `${w.prefix}${name}:`,
          startAt,
          targetUrl: 'postgres://unused@127.0.0.1:5432/unused',
          steps: [
            { name: 'freeze', action: 'Freeze', offset: at(0) },
            { name: 'delta-sync', action: 'DeltaSync', offset: at(1), job: job('delta-sync') },
            { name: 'switch', action: 'TrafficSwitch', offset: at(2) },
            { name: 'flags', action: 'EnableFlags', offset: at(3) },
            { name: 'lift', action: 'LiftFreeze', offset: at(4) },
            { name: 'report', action: 'Report', offset: at(5) },
          ],
          more: {
            rollback: {
              triggers: { securityFlag: {} },
              replayJob: job('replay'),
              keepLegacyHotFor: opts.keepLegacyHotFor ?? '3s',
            },
            postCutover: { steadyStateAfter: opts.steadyStateAfter ?? '3s', requireSignOff: false },
            report: { configMapName: `${name}-report` },
          },
        }),
      ),
    ),
  );
}

/** The spec with legacy read through `w.legacySecrets` (when set). */
function withLegacySecrets(w: CrashWorld, spec: CutoverSpec): CutoverSpec {
  if (!w.legacySecrets) return spec;
  spec.databases.legacy.secretRef = { name: w.legacySecrets.admin };
  spec.freeze!.verification!.secretRef = { name: w.legacySecrets.app };
  return spec;
}

/** A person raises the security flag: the rollback trigger. */
export function triggerRollback(w: CrashWorld, name: string): Promise<unknown> {
  return w.admin.patch(CUTOVER, w.ns, name, {
    metadata: { annotations: { 'cutover.nokta.io/security-incident': 'true' } },
  });
}

/** Rolled back with its review written, or at steady state with its final report. */
export const crashEnded = (s: CutoverStatus): boolean =>
  (s.phase === 'RolledBack' && s.rollback?.review !== undefined) ||
  (s.phase === 'SteadyState' && s.report?.finalAt !== undefined);

/** The invariants, after every run. */
export async function assertCrashInvariants(
  w: CrashWorld,
  name: string,
  rollbackAsked: boolean,
): Promise<void> {
  const s = (await w.admin.tryGet<CutoverObject>(CUTOVER, w.ns, name))?.status ?? {};
  assert.ok(crashEnded(s), `${name} ended: ${JSON.stringify(s).slice(0, 1500)}`);
  if (rollbackAsked) assert.equal(s.phase, 'RolledBack', `${name}: the rollback was not missed`);
  // Never a side effect twice: each Job created once and its pod run once, each step started once.
  const lines = jobLines<{ cutover: string; purpose: string; frozenAt: string }>(w.jobLog).filter(
    (l) => l.cutover === name,
  );
  assert.equal(lines.filter((l) => l.purpose === 'delta-sync').length, 1, `${name}: the delta sync ran once`);
  assert.equal(
    lines.filter((l) => l.purpose === 'replay').length,
    s.phase === 'RolledBack' && s.switchedAt !== undefined ? 1 : 0,
    `${name}: the replay ran once, only after a switch`,
  );
  const jobs = (
    await w.admin.list<KubeObject>(JOB, { namespace: w.ns, labelSelector: `${LABEL_CUTOVER}=${name}` })
  ).items;
  assert.equal(new Set(jobs.map((j) => j.metadata.name)).size, jobs.length);
  assert.ok(jobs.length <= 2, `${name}: Jobs ${jobs.map((j) => j.metadata.name).join(', ')}`);
  for (const st of s.steps ?? [])
    assert.ok((st.attempt ?? 0) <= 1, `${name}: ${st.name} started ${st.attempt} times`);
  // Traffic never left on a database that refuses writes.
  const weights = await routeWeights(w.admin, w.ns, `pos-${name}`);
  const prefix = `${w.prefix}${name}:`;
  const flag = await flagOn(w.redis, prefix, 'pos', 'pos-new-stack');
  const queueOn = await flagOn(w.redis, prefix, 'pos', 'pos-offline-queue');
  const frozen = await legacyReadOnly(w.maria);
  if (s.phase === 'RolledBack') {
    assert.ok(!weights['pos-v2'], `${name}: traffic back on legacy ${JSON.stringify(weights)}`);
    assert.equal(flag, false, `${name}: flag off`);
    assert.equal(frozen, false, `${name}: legacy takes writes`);
    assert.equal(queueOn, false, `${name}: the POS queue drained`);
  } else {
    assert.deepEqual(weights, { 'pos-legacy': 0, 'pos-v2': 100 }, `${name}: traffic on the new stack`);
    assert.equal(flag, true, `${name}: flag on`);
    assert.equal(queueOn, false, `${name}: the new primary takes writes`);
    assert.equal(frozen, true, `${name}: legacy stays frozen`);
  }
}
