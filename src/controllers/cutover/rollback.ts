/**
 * Rollback, pure: which triggers hold now, and the rollback's ordered actions.
 *
 * Triggers: an SLO breached for longer than `for`, a sign-off or post-cutover Reconciliation with
 * variance above the limit, the security annotation set to true, a failed step whose outcome is
 * Rollback. Each acts from activeFrom until activeUntil (default: switch .. steady state); the
 * step trigger acts whenever a step fails.
 *
 * Actions run one at a time in `rollback.order` (default: the order that loses no write): each is
 * recorded Running before it acts and Succeeded when its effect is observed. Actions that do not
 * apply are Skipped when the rollback starts (no replay when traffic never reached the new
 * stack, no POS queue without posOffline).
 */
import { ROLLBACK_ACTIONS } from '../../api/schema/cutover.js';
import type { RollbackAction, RollbackTrigger } from '../../api/index.js';
import type { DecisionContext } from './decide.js';
import { failureOutcome } from './decide.js';
import {
  DEFAULT_EXPORT_LAG_MS,
  DEFAULT_SLO_BREACH_MS,
  addBusinessDays,
  iso,
  jobName,
  ms,
  triggerActive,
} from './plan.js';

export const DEFAULT_SECURITY_ANNOTATION = 'cutover.nokta.io/security-incident';
/** `cutover.nokta.io/action=rollback` (or `rollback:<token>`): a person starts the rollback. */
export const ACTION_ANNOTATION = 'cutover.nokta.io/action';
export const REVIEW_BUSINESS_DAYS = 5;

export interface TriggerHit {
  trigger: RollbackTrigger;
  reason: string;
}

/** SLO bookkeeping (breaches with their start, stableSince) and the triggers that hold now. */
export function evaluateTriggers(ctx: DecisionContext): TriggerHit[] {
  const { st, o } = ctx;
  const spec = ctx.cutover.spec;
  const triggers = spec.rollback?.triggers ?? {};
  const created = Date.parse(ctx.cutover.metadata.creationTimestamp ?? iso(ctx.now));
  const active = (w: Parameters<typeof triggerActive>[0]): boolean =>
    triggerActive(w, spec, st, created, ctx.now);
  const hits: TriggerHit[] = [];

  // SLOs: breaches are tracked from the switch on; stableSince restarts when one clears.
  if (st.switchedAt !== undefined) {
    const breaches = (st.sloBreaches ??= []);
    for (const [name, r] of Object.entries(o.slos)) {
      const i = breaches.findIndex((b) => b.slo === name);
      if (r.met && i >= 0) breaches.splice(i, 1);
      else if (!r.met) {
        const value = r.value === undefined ? 'no data' : String(r.value);
        if (i >= 0) breaches[i]!.value = value;
        else breaches.push({ slo: name, since: ctx.nowIso, value });
      }
    }
    if (breaches.length) delete st.stableSince;
    else st.stableSince ??= ctx.nowIso;
    if (!breaches.length) delete st.sloBreaches;
  }
  const slo = triggers.sloBreach;
  if (slo && active(slo)) {
    const limit = ms(slo.for, DEFAULT_SLO_BREACH_MS);
    for (const b of st.sloBreaches ?? []) {
      if (slo.slos !== undefined && !slo.slos.includes(b.slo!)) continue;
      const since = Date.parse(b.since!);
      if (ctx.now - since >= limit)
        hits.push({
          trigger: 'SloBreach',
          reason: `SLO ${b.slo} not met since ${b.since} (value ${b.value}), longer than ${slo.for ?? '30m'}`,
        });
      else ctx.wakeAt(since + limit);
    }
  }

  const variance = triggers.reconciliationVariance;
  if (variance && active(variance)) {
    const limit = variance.percent ?? 1;
    const from = Date.parse(st.frozenAt ?? st.switchedAt ?? iso(created));
    const names = new Set<string>([
      ...spec.timeline.steps.flatMap((s) =>
        s.action === 'ReconciliationSignOff' ? (s.reconciliations ?? []) : [],
      ),
      ...(spec.postCutover?.reconciliations ?? []),
    ]);
    for (const n of names) {
      const r = o.reconciliations[n];
      if (r?.variancePercent === undefined || r.runStartedAt === undefined) continue;
      if (Date.parse(r.runStartedAt) < from) continue;
      if (r.variancePercent > limit)
        hits.push({
          trigger: 'ReconciliationVariance',
          reason: `Reconciliation ${n}: variance ${r.variancePercent} % > ${limit} %`,
        });
    }
  }

  const sec = triggers.securityFlag;
  if (sec && active(sec)) {
    const key = sec.annotation ?? DEFAULT_SECURITY_ANNOTATION;
    if (ctx.cutover.metadata.annotations?.[key] === 'true')
      hits.push({ trigger: 'SecurityFlag', reason: `annotation ${key}=true (critical security flaw)` });
  }

  const action = ctx.cutover.metadata.annotations?.[ACTION_ANNOTATION];
  if (action === 'rollback' || action?.startsWith('rollback:'))
    hits.push({ trigger: 'Manual', reason: `annotation ${ACTION_ANNOTATION}=${action}` });

  if (triggers.stepFailed?.enabled !== false) {
    for (const step of spec.timeline.steps) {
      const ss = st.steps?.find((x) => x.name === step.name);
      if (ss?.state === 'Failed' && failureOutcome(step, ss) === 'Rollback')
        hits.push({ trigger: 'StepFailed', reason: `step ${step.name} failed: ${ss.message ?? ''}` });
    }
  }
  return hits;
}

/** Starts the one rollback (or, with automatic false, holds and says so). */
export function startRollback(ctx: DecisionContext, hits: TriggerHit[]): void {
  const { st } = ctx;
  const spec = ctx.cutover.spec;
  const first = hits[0]!;
  for (const h of hits) ctx.notify(`trigger:${h.trigger}`, `Rollback trigger ${h.trigger}: ${h.reason}`);
  if (spec.rollback?.automatic === false) {
    ctx.stall = {
      reason: 'RollbackHeld',
      message: `rollback trigger ${first.trigger}: ${first.reason}; rollback.automatic is false`,
    };
    return;
  }
  const order = (spec.rollback?.order ?? ROLLBACK_ACTIONS) as RollbackAction[];
  const switchStarted = (st.steps ?? []).some(
    (s) =>
      spec.timeline.steps.find((x) => x.name === s.name)?.action === 'TrafficSwitch' &&
      s.startedAt !== undefined,
  );
  const freezeStarted =
    st.frozenAt !== undefined ||
    (st.steps ?? []).some(
      (s) =>
        spec.timeline.steps.find((x) => x.name === s.name)?.action === 'Freeze' && s.startedAt !== undefined,
    );
  const pos = spec.freeze?.posOffline !== undefined;
  const skip = (a: RollbackAction): string | undefined => {
    switch (a) {
      case 'PosOfflineOn':
      case 'DrainQueue':
        return pos ? undefined : 'no freeze.posOffline';
      case 'Replay':
        if (!switchStarted) return 'traffic never reached the new stack: nothing to replay';
        return spec.rollback?.replayJob ? undefined : 'no replayJob';
      case 'VerifyReplay':
        if (!switchStarted) return 'nothing was replayed';
        return spec.rollback?.verifyReconciliation ? undefined : 'no verifyReconciliation';
      case 'ReopenLegacyWrites':
        return freezeStarted ? undefined : 'legacy was never frozen';
      case 'SchemaDown':
        if (!spec.preparation?.schemaMigration?.downJob) return 'no preparation.schemaMigration.downJob';
        return (st.preparation ?? []).some((p) => p.name === 'schemaMigration' && p.startedAt !== undefined)
          ? undefined
          : 'the schema migration never ran';
      default:
        return undefined;
    }
  };
  st.rollback = {
    trigger: first.trigger,
    reason: hits.map((h) => h.reason).join('; '),
    triggeredAt: ctx.nowIso,
    window: { from: st.frozenAt ?? ctx.nowIso },
    actions: order.map((name) => {
      const why = skip(name);
      return why !== undefined
        ? { name, state: 'Skipped' as const, message: why }
        : { name, state: 'Pending' as const };
    }),
  };
  if (hits.length > 1)
    st.rollback.ignoredTriggers = hits
      .slice(1)
      .map((h) => ({ trigger: h.trigger, at: ctx.nowIso, reason: h.reason }));
  st.phase = 'RollingBack';
  delete st.pausedAt;
}

/** Runs the rollback's actions in order, one at a time; writes the review when done. */
export function progressRollback(ctx: DecisionContext): void {
  const { st, o } = ctx;
  const rb = st.rollback!;
  const spec = ctx.cutover.spec;
  const w = o.world;
  if (rb.completedAt !== undefined) {
    st.phase = 'RolledBack';
    reviewReport(ctx);
    return;
  }
  if (st.phase === 'Failed') {
    ctx.stall = { reason: 'RollbackFailed', message: st.message ?? 'rollback failed' };
    return;
  }
  st.phase = 'RollingBack';
  const allServices = (k: 'traffic' | 'flagKey'): string[] =>
    spec.services.filter((s) => s[k] !== undefined).map((s) => s.name);
  for (const a of rb.actions ?? []) {
    if (a.state === 'Succeeded' || a.state === 'Skipped') continue;
    if (a.state === 'Failed') {
      st.phase = 'Failed';
      ctx.stall = {
        reason: 'RollbackFailed',
        message: `rollback action ${a.name} failed: ${a.message ?? ''}; ${
          rb.actions?.some((x) => x.name === 'ReopenLegacyWrites' && x.state === 'Succeeded')
            ? 'traffic and writes are already back on legacy'
            : 'legacy stays frozen, nothing was re-opened'
        }`,
      };
      return;
    }
    if (a.state !== 'Running') {
      a.state = 'Running';
      a.at = ctx.nowIso;
      ctx.notify(`rollback:${a.name}`);
    }
    const done = (message: string): void => {
      a.state = 'Succeeded';
      a.finishedAt = ctx.nowIso;
      a.message = message;
    };
    ctx.waiting = { reason: 'RollingBack', message: `rollback (${rb.trigger}): ${a.name}` };
    switch (a.name as RollbackAction) {
      case 'PosOfflineOn':
        if (w.posOffline === true) {
          done('POS offline queue on: the new stack takes no writes');
          rb.window = { ...rb.window, to: ctx.nowIso };
        } else {
          ctx.actions.push({ kind: 'PosOffline', on: true });
          ctx.recheck = true;
        }
        break;
      case 'Replay': {
        rb.window = { ...rb.window, to: rb.window?.to ?? ctx.nowIso };
        a.jobName ??= jobName(ctx.name, 'replay', 1);
        const state = o.jobs[a.jobName];
        if (state === 'Succeeded') done(`Job ${a.jobName} replayed ${rb.window.from} .. ${rb.window.to}`);
        else if (state === 'Failed') {
          a.state = 'Failed';
          a.message = `replay Job ${a.jobName} failed`;
          a.finishedAt = ctx.nowIso;
          ctx.wakeAt(ctx.now + 1);
        } else {
          const lagLimit = ms(spec.rollback?.maxExportLag, DEFAULT_EXPORT_LAG_MS) / 1000;
          const lag = w.exportLagSeconds;
          // Wait for the export only when it runs (from a confirmed switch): a rollback whose switch
          // was claimed but never confirmed has no export to wait for, and replays the window itself.
          const exporting = spec.rollback?.exportJob !== undefined && st.export?.jobName !== undefined;
          if (exporting && state === undefined && (lag === undefined || lag > lagLimit)) {
            a.message = `waiting for the export to catch up (lag ${lag ?? 'unknown'} s > ${lagLimit} s)`;
            ctx.recheck = true;
          } else ctx.actions.push(ctx.job('replay', a.jobName, spec.rollback!.replayJob!));
        }
        break;
      }
      case 'VerifyReplay': {
        const name = spec.rollback!.verifyReconciliation!;
        const token = `cutover-rollback-verify-${Date.parse(rb.triggeredAt!)}`;
        const r = o.reconciliations[name];
        const ran =
          r?.rerunToken === token &&
          r.runFinishedAt !== undefined &&
          r.runStartedAt !== undefined &&
          Date.parse(r.runStartedAt) >= Date.parse(a.at!);
        if (ran && r.phase === 'Passed')
          done(`Reconciliation ${name} Passed over ${rb.window?.from} .. ${rb.window?.to}`);
        else if (ran) {
          a.state = 'Failed';
          a.finishedAt = ctx.nowIso;
          a.message = `Reconciliation ${name} ${r.phase} (variance ${r.variancePercent ?? '?'} %)`;
          ctx.wakeAt(ctx.now + 1);
        } else
          ctx.actions.push({
            kind: 'RerunReconciliation',
            name,
            token,
            window: { from: rb.window!.from!, to: rb.window?.to ?? a.at! },
          });
        break;
      }
      case 'TrafficBack': {
        const services = allServices('traffic');
        if (services.every((s) => w.traffic[s] === 'legacy'))
          done(`traffic on legacy: ${services.join(', ')}`);
        else {
          ctx.actions.push({ kind: 'Traffic', to: 'legacy', services });
          ctx.recheck = true;
        }
        break;
      }
      case 'FlagsOff': {
        const services = allServices('flagKey');
        if (services.every((s) => w.flags[s] === 'off')) done(`flags off: ${services.join(', ')}`);
        else {
          ctx.actions.push({ kind: 'Flags', on: false, services });
          ctx.recheck = true;
        }
        break;
      }
      case 'ReopenLegacyWrites':
        if (w.legacyReadOnly === false) {
          st.freeze = { ...st.freeze, legacyReadOnly: false, legacyReopenedAt: ctx.nowIso };
          done('legacy takes writes again');
        } else {
          ctx.actions.push({ kind: 'ReopenLegacyWrites' });
          ctx.recheck = true;
        }
        break;
      case 'DrainQueue':
        if (w.posOffline === false) {
          st.freeze = { ...st.freeze, posOffline: false };
          done('POS offline queue drained into legacy');
        } else {
          ctx.actions.push({ kind: 'PosOffline', on: false });
          ctx.recheck = true;
        }
        break;
      case 'SchemaDown': {
        a.jobName ??= jobName(ctx.name, 'schema-down', 1);
        const state = o.jobs[a.jobName];
        if (state === 'Succeeded')
          done(`Job ${a.jobName} reverted schema ${spec.preparation!.schemaMigration!.version}`);
        else if (state === 'Failed') {
          a.state = 'Failed';
          a.message = `schema down Job ${a.jobName} failed`;
          a.finishedAt = ctx.nowIso;
          ctx.wakeAt(ctx.now + 1);
        } else
          ctx.actions.push(ctx.job('schema-down', a.jobName, spec.preparation!.schemaMigration!.downJob!));
        break;
      }
      case 'Notify':
        ctx.notify(
          'rollback:done',
          `Rollback (${rb.trigger}) done: traffic and flags on legacy, legacy writable`,
        );
        done('stakeholders notified');
        break;
    }
    if ((a.state as string) !== 'Succeeded') return;
  }
  rb.completedAt = ctx.nowIso;
  rb.review = {
    dueAt: iso(addBusinessDays(Date.parse(rb.triggeredAt!), REVIEW_BUSINESS_DAYS)),
    configMap: ctx.reportConfigMap(),
  };
  st.phase = 'RolledBack';
  reviewReport(ctx);
}

function reviewReport(ctx: DecisionContext): void {
  if (!ctx.o.world.reportKeys.includes('review')) {
    ctx.actions.push({ kind: 'WriteReport', part: 'review' });
    ctx.recheck = true;
  }
}
