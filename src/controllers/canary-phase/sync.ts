/**
 * The CanaryPhase controller's sync, thin: observe (its object, its Cutover and Reconciliations
 * from the caches), decide (pure, ./decide.ts), claim the decision in status (write-ahead), act
 * through the idempotent actuators, record what was done.
 *
 * A rollback starts in the same sync as the measurement that decided it: the round's results
 * and the rollback are one status write, the restore follows at once.
 */
import { ANALYSIS_API_USAGE } from '../../analysis/api-usage.js';
import { canaryTimingProblems, endByProblems } from '../../api/canary-timing.js';
import type { CanaryPhase, CanaryPhaseStatus, Cutover } from '../../api/types.js';
import { use } from '../../runtime/api-usage.js';
import type { ControllerSpec, SyncContext } from '../../runtime/controller.js';
import {
  clearErrorConditions,
  markReady,
  markReconciling,
  markStalled,
  type KStatus,
  REASON_SYNC_ERROR,
} from '../../runtime/conditions.js';
import { crashPoint } from '../../runtime/crash-points.js';
import { TerminalError } from '../../runtime/errors.js';
import type { KubeObject } from '../../runtime/kube-client.js';
import { CONFIG_MAP, HTTP_ROUTE, INGRESS, JOB } from '../../runtime/resources.js';
import { TrafficActuator } from '../../actuators/traffic/traffic.js';
import { FlagdConfigMapStore } from '../../actuators/flags/flagd-configmap.js';
import { CANARY_PHASE, CUTOVER, RECONCILIATION } from '../kinds.js';
import { decide, type Decision, type Observed, type TakenMeasurement } from './decide.js';
import { canaryEvents } from './events.js';
import { Exposure } from './exposure.js';
import { takeRound } from './measure.js';
import { canaryMetrics, forgetPhase, recordRound, recordWeight } from './metrics.js';
import { resolve, ResolveError } from './resolve.js';

export const CANARY_LABEL = 'cutover.nokta.io/canary-phase';

/** Which CanaryPhases name a Cutover or a Reconciliation, for mapping their events (filled by the syncs). */
class Refs {
  private readonly byKey = new Map<string, { cutover?: string; recons: string[] }>();
  note(key: string, cp: CanaryPhase): void {
    this.byKey.set(key, {
      ...(cp.spec.cutoverRef ? { cutover: cp.spec.cutoverRef.name } : {}),
      recons: cp.spec.analysis.metrics.flatMap((m) => (m.reconciliation ? [m.reconciliation.name] : [])),
    });
  }
  forget(key: string): void {
    this.byKey.delete(key);
  }
  of(obj: KubeObject, kind: 'cutover' | 'recon'): string[] {
    const ns = obj.metadata.namespace;
    const out: string[] = [];
    for (const [key, r] of this.byKey) {
      if (!key.startsWith(`${ns}/`)) continue;
      if (kind === 'cutover' ? r.cutover === obj.metadata.name : r.recons.includes(obj.metadata.name ?? ''))
        out.push(key);
    }
    return out;
  }
}

const TERMINAL = new Set(['Succeeded', 'Promoted', 'RolledBack', 'Aborted', 'Failed']);

/** The decided status with its kstatus conditions. */
type Status = CanaryPhaseStatus & KStatus;
type CanaryObject = CanaryPhase & KubeObject;

function withConditions(d: Decision, generation: number | undefined, now: Date): CanaryPhaseStatus {
  let s = clearErrorConditions(d.status as Status, REASON_SYNC_ERROR, generation, now);
  const msg: string = s.message ?? s.phase ?? '';
  if (d.stalled) s = markStalled(s, generation, now, d.stalled.reason, d.stalled.message);
  else if (s.phase === 'RolledBack') s = markStalled(s, generation, now, 'RolledBack', msg);
  else if (TERMINAL.has(s.phase ?? '')) s = markReady(s, generation, now, s.phase ?? 'Succeeded', msg);
  else s = markReconciling(s, generation, now, s.phase ?? 'Pending', msg);
  return s;
}

async function syncCanary(
  ctx: SyncContext<CanaryObject>,
  refs: Refs,
): Promise<{ requeueAfter?: number } | void> {
  const cp = ctx.object;
  const metrics = ctx.metricsRegistry ? canaryMetrics(ctx.metricsRegistry) : undefined;
  if (!cp) {
    refs.forget(ctx.key);
    if (metrics) await forgetPhase(metrics, ctx.namespace!, ctx.name);
    return;
  }
  refs.note(ctx.key, cp);
  const ns = ctx.namespace!;
  const cutover = cp.spec.cutoverRef
    ? (ctx.cache(CUTOVER).get(`${ns}/${cp.spec.cutoverRef.name}`) as Cutover | undefined)
    : undefined;
  if (cp.spec.cutoverRef && !cutover)
    throw new TerminalError(
      'CutoverNotFound',
      `Cutover ${ns}/${cp.spec.cutoverRef.name} not found: create it or fix spec.cutoverRef`,
    );
  // What CEL cannot check (d/w durations, the Cutover's freeze): refused before anything is done.
  if (!TERMINAL.has(cp.status?.phase ?? '')) {
    const problems = [...canaryTimingProblems(cp.spec), ...endByProblems(cp.spec, cutover)];
    if (problems.length)
      throw new TerminalError('InvalidSpec', problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  }
  const owner = {
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'CanaryPhase',
    name: cp.metadata.name,
    uid: cp.metadata.uid!,
  };
  let resolved;
  try {
    resolved = resolve(cp.spec, ns, cutover, owner);
  } catch (err) {
    if (err instanceof ResolveError) throw new TerminalError('InvalidSpec', err.message);
    throw err;
  }
  const exposure = new Exposure(ctx.client, ns, resolved);
  const observed = (fresh: CanaryObject, taken?: TakenMeasurement[]): Observed => ({
    spec: fresh.spec,
    ...(fresh.metadata.generation !== undefined ? { generation: fresh.metadata.generation } : {}),
    status: fresh.status ?? {},
    annotations: fresh.metadata.annotations ?? {},
    ...(taken ? { taken } : {}),
  });

  // 1. Decide and claim.
  let decision: Decision | undefined;
  let res = await ctx.status.update(ns, ctx.name, (fresh) => {
    decision = decide(observed(fresh), ctx.clock.now());
    return withConditions(decision, fresh.metadata.generation, ctx.clock.now());
  });
  if (!res.object || !decision) return;
  crashPoint('canary-claimed', ctx.key);

  // 2. A claimed measurement round: take it, then record it (and any rollback) in one write.
  const measure = decision.actions.find((a) => a.kind === 'Measure');
  if (measure && res.object.status?.measuringRound === measure.round) {
    const taken = await takeRound({
      cp: res.object,
      ...(cutover ? { cutover } : {}),
      status: res.object.status,
      round: measure.round,
      metrics: measure.metrics,
      client: ctx.client,
      now: () => ctx.clock.now(),
      reconciliation: (name) => ctx.cache(RECONCILIATION).get(`${ns}/${name}`),
      image: ctx.settings.image,
      signal: ctx.signal,
    });
    if (taken) {
      crashPoint('canary-measured', ctx.key);
      let recorded: Decision | undefined;
      const before = res.object.status ?? {};
      res = await ctx.status.update(ns, ctx.name, (fresh) => {
        if (fresh.status?.measuringRound !== measure.round) return undefined; // recorded by another sync
        recorded = decide(observed(fresh, taken), ctx.clock.now());
        return withConditions(recorded, fresh.metadata.generation, ctx.clock.now());
      });
      if (!res.object) return;
      if (recorded) decision = recorded;
      if (res.written && metrics) recordRound(metrics, ns, ctx.name, taken, before, res.object.status ?? {});
    }
  }

  // 3. Act: the restore first (what must be fast), then the step.
  for (const a of decision.actions) {
    if (a.kind === 'Restore') {
      await exposure.restore(a.services);
      crashPoint('canary-restored', ctx.key);
      await ctx.status.update(ns, ctx.name, (fresh) => {
        const s = structuredClone(fresh.status ?? {});
        const done = new Set([...(s.restoredServices ?? []), ...a.services]);
        s.restoredServices = [...done];
        const due =
          TERMINAL.has(s.phase ?? '') && s.phase !== 'RolledBack'
            ? fresh.spec.services.map((x) => x.name)
            : (s.rolledBackServices ?? []);
        if (
          s.phase === 'Succeeded' || s.phase === 'Promoted'
            ? fresh.spec.onSuccess !== 'Restore' || due.every((n) => done.has(n))
            : due.every((n) => done.has(n))
        )
          s.restoredAt = ctx.clock.now().toISOString();
        return s;
      });
    }
    if (a.kind === 'Apply') {
      await exposure.apply(a.services, a.weight);
      crashPoint('canary-applied', ctx.key);
      await ctx.status.update(ns, ctx.name, (fresh) =>
        fresh.status?.currentStep === a.step ? { ...fresh.status, appliedStep: a.step } : undefined,
      );
    }
  }
  if (metrics) recordWeight(metrics, ns, ctx.name, res.object.status ?? {});
  return decision.requeueAfter !== undefined ? { requeueAfter: decision.requeueAfter } : undefined;
}

export function canaryPhaseController(): ControllerSpec<CanaryObject> {
  const refs = new Refs();
  return {
    name: 'canary-phase',
    resource: CANARY_PHASE,
    owns: [
      { ...CUTOVER, mapToOwner: (o) => refs.of(o, 'cutover') },
      { ...RECONCILIATION, mapToOwner: (o) => refs.of(o, 'recon') },
      // The analysis Jobs it runs: a finished Job completes its measurement round.
      { ...JOB, labelSelector: CANARY_LABEL },
    ],
    sync: (ctx) => syncCanary(ctx, refs),
    events: canaryEvents,
    uses: [
      ...ANALYSIS_API_USAGE,
      use(CONFIG_MAP, ['get'], 'pilot cohort members listed in a ConfigMap'),
      ...FlagdConfigMapStore.apiUsage,
      ...TrafficActuator.apiUsage,
      use(INGRESS, ['get'], 'canary Ingress'),
      use(HTTP_ROUTE, ['get'], 'HTTPRoute'),
    ],
  };
}
