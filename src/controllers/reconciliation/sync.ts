/**
 * The Reconciliation controller's sync: observe (the resource, its Cutover's switch time, its
 * shard Job and shard results), decide with the pure functions of schedule.ts and status.ts, act,
 * write status. Level-triggered and crash-safe: a run's start is written to status before any
 * work, so after a restart an unfinished inline run is run again (it only reads) and an unfinished
 * sharded run finds its Job by name; a finished run is never repeated.
 */
import type { Reconciliation, ReconciliationStatus } from '../../api/index.js';
import {
  connect,
  mergeResults,
  planFromSpec,
  PlanError,
  runReconciliation,
  type ReconciliationPlan,
  type RunResult,
} from '../../reconciliation/index.js';
import type { ControllerSpec, SyncContext, SyncResult } from '../../runtime/controller.js';
import { isNotFound, type KubeObject } from '../../runtime/kube-client.js';
import { ownerReferenceFor } from '../../runtime/owner-refs.js';
import { decideSchedule, runId, type RunTrigger, type TriggerKind } from './schedule.js';
import { finishedStatus, idleStatus, invalidSpecStatus, runningStatus, type RunRecord } from './status.js';
import { buildShardJob, observeJob, shardJobName } from './shard-job.js';
import { CONFIGMAP, CUTOVER, JOB, LABEL_RECONCILIATION, LABEL_SHARD_RESULT, RECONCILIATION, SECRET } from './resources.js';
import { errorResult, readShardResult, writeReport } from './results-io.js';
import { ANNOTATIONS, validateManifest } from '../../api/index.js';
import { recordRun } from './metrics.js';

type ReconObject = Reconciliation & KubeObject;
type Ctx = SyncContext<ReconObject>;

/** How often a sharded run's Job is looked at besides its watch events. */
const JOB_POLL_MS = 10_000;
/**
 * How often to look at the Cutover's switch time while waiting for it, besides the Cutover's
 * watch events (which wake the Reconciliations that reference it at once).
 */
const CUTOVER_POLL_MS = 300_000;

/**
 * Which Reconciliations reference which Cutover (`namespace/cutover` → Reconciliation keys), kept
 * up to date by each sync, so that a Cutover's change (its traffic switch) wakes them.
 */
export class CutoverReferences {
  private readonly byCutover = new Map<string, Set<string>>();

  record(reconKey: string, namespace: string, cutover: string | undefined): void {
    for (const [k, set] of this.byCutover) {
      if (set.delete(reconKey) && set.size === 0) this.byCutover.delete(k);
    }
    if (!cutover) return;
    const k = `${namespace}/${cutover}`;
    const set = this.byCutover.get(k) ?? new Set<string>();
    set.add(reconKey);
    this.byCutover.set(k, set);
  }

  reconciliationsOf(cutover: KubeObject): string[] {
    return [...(this.byCutover.get(`${cutover.metadata.namespace ?? ''}/${cutover.metadata.name ?? ''}`) ?? [])];
  }
}
/** Longest sleep between syncs of an idle scheduled Reconciliation. */
const MAX_IDLE_MS = 3_600_000;

function runFromStatus(status: ReconciliationStatus): RunRecord | undefined {
  const last = status.lastRun;
  if (!last?.id || last.finishedAt || !last.startedAt) return undefined;
  const [kind, ...rest] = (last.trigger ?? 'Initial').split(':');
  const trigger: RunTrigger = { kind: (kind ?? 'Initial') as TriggerKind };
  if (rest.length) trigger.detail = rest.join(':');
  return { id: last.id, trigger, startedAt: new Date(last.startedAt) };
}

async function secretValue(ctx: Ctx, namespace: string, ref: { name: string; key?: string }): Promise<string> {
  try {
    const secret = await ctx.client.get<KubeObject & { data?: Record<string, string> }>(SECRET, namespace, ref.name);
    const key = ref.key ?? 'url';
    const v = secret.data?.[key];
    if (v === undefined) throw new Error(`Secret ${namespace}/${ref.name} has no key '${key}'`);
    return Buffer.from(v, 'base64').toString('utf8');
  } catch (e) {
    if (isNotFound(e)) throw new Error(`Secret ${namespace}/${ref.name} not found: create it with the database URL under key '${ref.key ?? 'url'}'`, { cause: e });
    throw e;
  }
}

async function databaseUrl(ctx: Ctx, namespace: string, side: 'legacy' | 'target', recon: Reconciliation): Promise<string> {
  const ref = recon.spec[side];
  if (ref.secretRef) return secretValue(ctx, namespace, ref.secretRef);
  if (ref.url) return ref.url;
  throw new Error(`spec.${side} has neither secretRef nor url`);
}

async function runInline(ctx: Ctx, recon: ReconObject, plan: ReconciliationPlan, run: RunRecord): Promise<RunResult> {
  const ns = recon.metadata.namespace ?? 'default';
  let urls: { legacy: string; target: string };
  try {
    urls = { legacy: await databaseUrl(ctx, ns, 'legacy', recon), target: await databaseUrl(ctx, ns, 'target', recon) };
  } catch (e) {
    return errorResult(run.startedAt, ctx.clock.now(), e instanceof Error ? e.message : String(e));
  }
  const opts = { statementTimeoutSeconds: plan.statementTimeoutSeconds };
  const legacy = connect(plan.legacy.engine, urls.legacy, { ...opts, role: 'legacy' });
  const target = connect(plan.target.engine, urls.target, { ...opts, role: 'target' });
  try {
    return await runReconciliation(plan, { legacy, target }, { signal: ctx.signal, now: run.startedAt });
  } finally {
    await Promise.all([legacy.close(), target.close()]);
  }
}

async function finish(ctx: Ctx, recon: ReconObject, run: RunRecord, result: RunResult, shards?: { total: number; succeeded: number; failed: number }): Promise<SyncResult> {
  // A run cut short because this process lost the Lease or is stopping did not fail: leave it
  // in progress in status, and the next leader runs it again.
  if (ctx.signal.aborted) throw new Error(`run ${run.id} interrupted (leadership lost or shutting down); the next leader resumes it`);
  const ns = recon.metadata.namespace ?? 'default';
  const owner = ownerReferenceFor(recon, RECONCILIATION);
  const report = await writeReport(ctx.client, ns, recon.metadata.name, owner, run.id, result);
  const generation = recon.metadata.generation ?? 1;
  const written = await ctx.status.update(ns, recon.metadata.name, (fresh) => {
    const current = fresh.status ?? {};
    if (current.lastRun?.id !== run.id || current.lastRun.finishedAt) return undefined;
    return finishedStatus(current, run, result, { generation: current.observedGeneration ?? generation, now: ctx.clock.now(), reportConfigMap: report, ...(shards ? { shards } : {}) });
  });
  recordRun(ctx.metricsRegistry, ns, recon.metadata.name, result);
  const worst = written?.status?.summary;
  const note =
    result.verdict === 'Error'
      ? `run ${run.id} ended in Error: ${written?.status?.lastRun?.error ?? result.error ?? ''}`
      : `run ${run.id} ${result.verdict}: ${worst?.passed ?? 0}/${worst?.checks ?? 0} checks passed, max variance ${worst?.maxVariancePercent ?? '0'}%${worst?.worstTenant ? `, worst tenant ${worst.worstTenant}` : ''}`;
  await ctx.event({ type: result.verdict === 'Passed' ? 'Normal' : 'Warning', reason: `Run${result.verdict}`, action: 'Reconcile', note });
  ctx.log.info({ run: run.id, verdict: result.verdict, rowsCompared: result.rowsCompared }, 'reconciliation run finished');
  return { requeueAfter: 1000 };
}

async function continueSharded(ctx: Ctx, recon: ReconObject, run: RunRecord, shards: number): Promise<SyncResult> {
  const ns = recon.metadata.namespace ?? 'default';
  const name = shardJobName(recon.metadata.name, run.id);
  let job = await ctx.client.tryGet(JOB, ns, name);
  if (!job) {
    const owner = ownerReferenceFor(recon, RECONCILIATION);
    try {
      job = await ctx.client.create(JOB, ns, buildShardJob(recon, run.id, owner, shards));
      await ctx.event({ type: 'Normal', reason: 'ShardJobCreated', action: 'CreateJob', note: `Indexed Job ${name} runs ${shards} shards of run ${run.id}` });
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 409) throw e;
      job = await ctx.client.get(JOB, ns, name);
    }
  }
  const seen = observeJob(job);
  const counts = { total: shards, succeeded: seen.succeeded, failed: seen.failed };
  if (seen.state === 'Running') {
    await ctx.status.update(ns, recon.metadata.name, (fresh) => {
      const st = fresh.status ?? {};
      if (st.shards?.succeeded === counts.succeeded && st.shards.failed === counts.failed && st.shards.total === counts.total) return undefined;
      return { ...st, shards: counts };
    });
    return { requeueAfter: JOB_POLL_MS };
  }
  const results: RunResult[] = [];
  const missing: number[] = [];
  for (let i = 0; i < shards; i++) {
    const r = await readShardResult(ctx.client, ns, name, i);
    if (r) results.push(r);
    else missing.push(i);
  }
  let merged: RunResult;
  if (missing.length > 0) {
    const why = seen.state === 'Failed' ? `the shard Job ${name} failed (${seen.reason ?? 'unknown reason'}${seen.message ? `: ${seen.message}` : ''})` : `the shard Job ${name} finished`;
    merged = errorResult(run.startedAt, ctx.clock.now(), `${why}; no result from shard(s) ${missing.join(', ')}`);
  } else {
    merged = mergeResults(results);
  }
  return finish(ctx, recon, run, merged, counts);
}

/** The referenced Cutover's switch time, from the watch cache (Cutovers are watched). */
function cutoverSwitchedAt(ctx: Ctx, recon: Reconciliation): Date | undefined {
  const ref = recon.spec.schedule?.cutoverRef;
  if (!ref) return undefined;
  const co = ctx.cache(CUTOVER).get(`${recon.metadata.namespace ?? 'default'}/${ref.name}`);
  const switchedAt = (co?.status as { switchedAt?: string } | undefined)?.switchedAt;
  return switchedAt ? new Date(switchedAt) : undefined;
}

export async function syncReconciliation(ctx: Ctx, refs?: CutoverReferences): Promise<SyncResult> {
  const recon = ctx.object;
  refs?.record(ctx.key, ctx.namespace ?? 'default', recon?.spec.schedule?.cutoverRef?.name);
  if (!recon) return {};
  const ns = recon.metadata.namespace ?? 'default';
  const generation = recon.metadata.generation ?? 1;
  const now = ctx.clock.now();

  // What the API server's schema and CEL rules cannot say (a cron with no real time, an unknown
  // time zone, ...) is checked here by the same offline rules as `cutover validate`.
  const problems = validateManifest({ apiVersion: recon.apiVersion, kind: recon.kind, metadata: { name: recon.metadata.name }, spec: recon.spec });
  let plan: ReconciliationPlan | undefined;
  let invalid = problems.length > 0 ? problems.slice(0, 3).map((p) => `${p.path}: ${p.message}`).join('; ') : undefined;
  if (!invalid) {
    try {
      plan = planFromSpec(recon.spec);
    } catch (e) {
      if (!(e instanceof PlanError)) throw e;
      invalid = e.message;
    }
  }
  if (invalid !== undefined || !plan) {
    const message = invalid ?? 'the spec cannot be planned';
    const before = recon.status;
    await ctx.status.update(ns, recon.metadata.name, (fresh) => invalidSpecStatus(fresh.status, message, generation, now));
    if (!before?.conditions?.some((c) => c.type === 'Stalled' && c.status === 'True' && c.message === message)) {
      await ctx.event({ type: 'Warning', reason: 'InvalidSpec', action: 'Validate', note: message });
    }
    return {};
  }

  const shards = plan.parallelism.mode === 'IndexedJob' ? plan.parallelism.shards : 0;
  const inProgress = recon.status ? runFromStatus(recon.status) : undefined;
  if (inProgress) {
    if (shards > 0) return continueSharded(ctx, recon, inProgress, shards);
    return finish(ctx, recon, inProgress, await runInline(ctx, recon, plan, inProgress));
  }

  const switchedAt = cutoverSwitchedAt(ctx, recon);
  const decision = decideSchedule({
    spec: recon.spec,
    status: recon.status,
    generation,
    createdAt: new Date(recon.metadata.creationTimestamp ?? now.toISOString()),
    rerunToken: recon.metadata.annotations?.[ANNOTATIONS.rerun],
    ...(switchedAt ? { cutoverSwitchedAt: switchedAt } : {}),
    now,
  });
  if (decision.due) {
    const run: RunRecord = { id: runId(decision.due, now), trigger: decision.due, startedAt: now };
    const started = await ctx.status.update(ns, recon.metadata.name, (fresh) => {
      if (fresh.status && runFromStatus(fresh.status)) return undefined;
      return runningStatus(fresh.status, run, generation, now, shards > 0 ? shards : undefined);
    });
    if (!started) return {};
    await ctx.event({ type: 'Normal', reason: 'RunStarted', action: 'Reconcile', note: `run ${run.id} started (${decision.due.kind}${decision.due.detail ? ` ${decision.due.detail}` : ''}), ${shards > 0 ? `${shards} shards` : 'inline'}` });
    const fresh = { ...recon, status: started.status, metadata: { ...recon.metadata, resourceVersion: started.metadata.resourceVersion } } as ReconObject;
    if (shards > 0) return continueSharded(ctx, fresh, run, shards);
    return finish(ctx, fresh, run, await runInline(ctx, fresh, plan, run));
  }

  await ctx.status.update(ns, recon.metadata.name, (fresh) => idleStatus(fresh.status, generation, decision.nextAt, decision.waitingFor, now));
  if (decision.nextAt) return { requeueAfter: Math.min(MAX_IDLE_MS, Math.max(1000, decision.nextAt.getTime() - now.getTime())) };
  if (recon.spec.schedule?.cutoverRef && !switchedAt) return { requeueAfter: CUTOVER_POLL_MS };
  return {};
}

export function reconciliationController(): ControllerSpec<ReconObject> {
  const refs = new CutoverReferences();
  return {
    name: 'reconciliation',
    resource: RECONCILIATION,
    owns: [
      // Only the objects this controller makes (shard Jobs, shard results, reports) are watched
      // and cached, not every Job and ConfigMap of the cluster.
      { ...JOB, labelSelector: LABEL_RECONCILIATION },
      {
        ...CONFIGMAP,
        labelSelector: LABEL_RECONCILIATION,
        // Shard results are written by the shard pods (no owner reference to the Reconciliation):
        // map them back by label so a finished shard wakes the controller.
        mapToOwner: (obj) => {
          const l = obj.metadata.labels ?? {};
          const recon = l[LABEL_RECONCILIATION];
          return l[LABEL_SHARD_RESULT] === 'true' && recon && obj.metadata.namespace ? [`${obj.metadata.namespace}/${recon}`] : [];
        },
      },
      // A Cutover's traffic switch starts the post-cutover runs of the Reconciliations that
      // reference it (schedule.cutoverRef + offsets).
      { ...CUTOVER, mapToOwner: (obj) => refs.reconciliationsOf(obj) },
    ],
    sync: (ctx) => syncReconciliation(ctx, refs),
  };
}

