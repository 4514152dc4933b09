/**
 * The Reconciliation controller's sync: observe (the resource, its Cutover's switch time, its
 * shard Job and shard results — all from the watch caches), decide with the pure functions of
 * schedule.ts and status.ts, claim, act, write status. Level-triggered and crash-safe:
 * - a run starts with a claim (the status write that records it; a sync that loses the race, or
 *   decided from an outdated copy, does nothing);
 * - an interrupted inline run is claimed again ("resumed") before it reads anything, and run
 *   again (it only reads); an interrupted sharded run finds its Job by name;
 * - a finished run is recorded by one claim: the metrics follow only a claim that was written,
 *   and the Events follow the status change (events.ts), so nothing is repeated.
 * Nothing watched is polled: the Job, the shard results and the Cutover wake the sync through
 * their watches. Deleting the Reconciliation aborts `ctx.signal`, which cancels the comparison.
 */
import type { Reconciliation, ReconciliationStatus } from '../../api/index.js';
import { ANNOTATIONS, validateManifest } from '../../api/index.js';
import { planFromSpec, PlanError } from '../../reconciliation/plan.js';
import { mergeResults, type RunResult } from '../../reconciliation/result.js';
import type { SqlConnection } from '../../reconciliation/connection.js';
import { JobActuator, jobObservation } from '../../actuators/workloads/jobs.js';
import type { OwnerRef } from '../../actuators/types.js';
import type { ControllerSpec, SyncContext, SyncResult } from '../../runtime/controller.js';
import { isNotFound, type KubeObject } from '../../runtime/kube-client.js';
import { ownerReferenceFor } from '../../runtime/owner-refs.js';
import { CONFIG_MAP, JOB, POD, SECRET } from '../../runtime/resources.js';
import { use } from '../../runtime/api-usage.js';
import { crashPoint } from '../../runtime/crash-points.js';
import { CUTOVER, RECONCILIATION } from '../kinds.js';
import {
  decideSchedule,
  planClockFromEnv,
  runId,
  type RunTrigger,
  type ScheduleDecision,
  type TriggerKind,
} from './schedule.js';
import {
  finishedStatus,
  idleStatus,
  invalidSpecStatus,
  resumedStatus,
  runningStatus,
  type RunRecord,
} from './status.js';
import { shardJobName, shardJobTemplate, shardResultName } from './shard-job.js';
import { runSpec, RunWindowError } from './run-window.js';
import { LABEL_RECONCILIATION, LABEL_SHARD_RESULT } from './resources.js';
import { errorResult, shardResultOf, writeReport } from './results-io.js';
import { forgetReconciliation, recordRun } from './metrics.js';
import { reconciliationEvents } from './events.js';

type ReconObject = Reconciliation & KubeObject;
type Ctx = SyncContext<ReconObject>;

/** Longest sleep between syncs of an idle scheduled Reconciliation. */
const MAX_IDLE_MS = 3_600_000;

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
    return [
      ...(this.byCutover.get(`${cutover.metadata.namespace ?? ''}/${cutover.metadata.name ?? ''}`) ?? []),
    ];
  }
}

/** The comparison engine and its database drivers, loaded on the first inline run only. */
const loadEngine = (): Promise<typeof import('../../reconciliation/index.js')> =>
  import('../../reconciliation/index.js');

function runFromStatus(status: ReconciliationStatus | undefined): RunRecord | undefined {
  const last = status?.lastRun;
  if (!last?.id || last.finishedAt || !last.startedAt) return undefined;
  const [kind, ...rest] = (last.trigger ?? 'Initial').split(':');
  const trigger: RunTrigger = { kind: (kind ?? 'Initial') as TriggerKind };
  if (rest.length) trigger.detail = rest.join(':');
  return { id: last.id, trigger, startedAt: new Date(last.startedAt) };
}

function ownerOf(recon: ReconObject): OwnerRef {
  return {
    apiVersion: recon.apiVersion,
    kind: recon.kind,
    name: recon.metadata.name,
    uid: recon.metadata.uid ?? '',
  };
}

async function secretValue(
  ctx: Ctx,
  namespace: string,
  ref: { name: string; key?: string },
): Promise<string> {
  try {
    // Secrets are read one at a time when a run needs them, never watched or listed.
    const secret = await ctx.client.get<KubeObject & { data?: Record<string, string> }>(
      SECRET,
      namespace,
      ref.name,
    );
    const key = ref.key ?? 'url';
    const v = secret.data?.[key];
    if (v === undefined) throw new Error(`Secret ${namespace}/${ref.name} has no key '${key}'`);
    return Buffer.from(v, 'base64').toString('utf8');
  } catch (e) {
    if (isNotFound(e))
      throw new Error(
        `Secret ${namespace}/${ref.name} not found: create it with the database URL under key '${ref.key ?? 'url'}'`,
        { cause: e },
      );
    throw e;
  }
}

async function databaseUrl(
  ctx: Ctx,
  namespace: string,
  side: 'legacy' | 'target',
  recon: Reconciliation,
): Promise<string> {
  const ref = recon.spec[side];
  if (ref.secretRef) return secretValue(ctx, namespace, ref.secretRef);
  if (ref.url) return ref.url;
  throw new Error(`spec.${side} has neither secretRef nor url`);
}

async function runInline(ctx: Ctx, recon: ReconObject, run: RunRecord): Promise<RunResult> {
  const ns = recon.metadata.namespace ?? 'default';
  let plan: ReturnType<typeof planFromSpec>;
  try {
    plan = planFromSpec(runSpec(recon, cutoverFrozenAt(ctx, recon)));
  } catch (e) {
    if (!(e instanceof RunWindowError)) throw e;
    return errorResult(run.startedAt, ctx.clock.now(), e.message);
  }
  let urls: { legacy: string; target: string };
  try {
    urls = {
      legacy: await databaseUrl(ctx, ns, 'legacy', recon),
      target: await databaseUrl(ctx, ns, 'target', recon),
    };
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    return errorResult(run.startedAt, ctx.clock.now(), e instanceof Error ? e.message : String(e));
  }
  const { accountWriteGrants, connect, ConnectionUrlError, runReconciliation } = await loadEngine();
  const opts = { statementTimeoutSeconds: plan.statementTimeoutSeconds };
  const opened: SqlConnection[] = [];
  const open = (side: 'legacy' | 'target'): SqlConnection => {
    try {
      const c = connect(plan[side].engine, urls[side], { ...opts, role: side });
      opened.push(c);
      return c;
    } catch (e) {
      // a URL that cannot be used: name where it comes from, never the value
      if (!(e instanceof ConnectionUrlError)) throw e;
      const ref = recon.spec[side].secretRef;
      const where = ref
        ? `the URL in Secret ${ns}/${ref.name} key '${ref.key ?? 'url'}' (spec.${side}.secretRef)`
        : `spec.${side}.url`;
      throw new ConnectionUrlError(`${where}: ${e.message.replace(/^\w+: /, '')}`);
    }
  };
  try {
    const conns = { legacy: open('legacy'), target: open('target') };
    const writeGrants = await accountWriteGrants(plan, conns);
    const result = await runReconciliation(plan, conns, { signal: ctx.signal, now: run.startedAt });
    return writeGrants ? { ...result, writeGrants } : result;
  } catch (e) {
    if (ctx.signal.aborted || !(e instanceof ConnectionUrlError)) throw e;
    return errorResult(run.startedAt, ctx.clock.now(), e.message);
  } finally {
    await Promise.all(opened.map((c) => c.close()));
  }
}

/** Records a run's result: the report, then the claim (the status), then the metrics. */
async function finish(
  ctx: Ctx,
  recon: ReconObject,
  run: RunRecord,
  result: RunResult,
  shards?: { total: number; succeeded: number; failed: number },
): Promise<SyncResult> {
  // A run cut short because this process lost the Lease, is stopping, or the Reconciliation was
  // deleted did not fail: leave it in progress in status for whoever syncs it next.
  if (ctx.signal.aborted)
    throw new Error(
      `run ${run.id} interrupted (${ctx.signal.reason instanceof Error ? ctx.signal.reason.message : 'aborted'})`,
    );
  const ns = recon.metadata.namespace ?? 'default';
  const owner = ownerReferenceFor(recon, RECONCILIATION);
  const report = await writeReport(ctx.client, ns, recon.metadata.name, owner, run.id, result);
  crashPoint('reconciliation:after-report', `${ns}/${recon.metadata.name}`);
  const claim = await ctx.status.update(ns, recon.metadata.name, (fresh) => {
    const current = fresh.status ?? {};
    if (current.lastRun?.id !== run.id || current.lastRun.finishedAt) return undefined;
    return finishedStatus(current, run, result, {
      generation: current.observedGeneration ?? recon.metadata.generation ?? 1,
      now: ctx.clock.now(),
      reportConfigMap: report,
      ...(shards ? { shards } : {}),
    });
  });
  if (!claim.written) {
    ctx.log.info({ run: run.id }, 'run already recorded: nothing more to do');
    return {};
  }
  recordRun(ctx.metricsRegistry, ns, recon.metadata.name, result);
  ctx.log.info(
    { run: run.id, verdict: result.verdict, rowsCompared: result.rowsCompared },
    'reconciliation run finished',
  );
  // Plan the next run from the recorded result (the runtime waits for the cache to see it).
  return { requeueAfter: 0 };
}

async function continueSharded(
  ctx: Ctx,
  recon: ReconObject,
  run: RunRecord,
  shards: number,
): Promise<SyncResult> {
  const ns = recon.metadata.namespace ?? 'default';
  const name = shardJobName(recon.metadata.name, run.id);
  let job = ctx.cache(JOB).get(`${ns}/${name}`);
  const jobs = new JobActuator(ctx.client);
  if (!job) {
    let spec: ReconObject['spec'];
    try {
      spec = runSpec(recon, cutoverFrozenAt(ctx, recon));
    } catch (e) {
      if (!(e instanceof RunWindowError)) throw e;
      return finish(ctx, recon, run, errorResult(run.startedAt, ctx.clock.now(), e.message));
    }
    const template = shardJobTemplate({ ...recon, spec }, run.id, ownerOf(recon), shards, ctx.settings.image);
    job = (await jobs.ensureJob(template)).job;
  }
  crashPoint('reconciliation:after-job', `${ns}/${recon.metadata.name}`);
  const seen = jobObservation(job);
  const counts = { total: shards, succeeded: seen.succeeded, failed: seen.failed };
  if (seen.state === 'Running') {
    await ctx.status.update(ns, recon.metadata.name, (fresh) => {
      const st = fresh.status ?? {};
      if (runFromStatus(st)?.id !== run.id) return undefined;
      if (
        st.shards?.succeeded === counts.succeeded &&
        st.shards.failed === counts.failed &&
        st.shards.total === counts.total
      )
        return undefined;
      return { ...st, shards: counts };
    });
    // The Job's and the shard results' watch events wake this sync: nothing to poll.
    return {};
  }
  const results: RunResult[] = [];
  const missing: number[] = [];
  for (let i = 0; i < shards; i++) {
    const cmName = shardResultName(name, i);
    // A pod writes its result before it exits, but the ConfigMap and Job watches are not ordered
    // with each other: a result the cache has not seen yet is read once from the API.
    const r = shardResultOf(
      ctx.cache(CONFIG_MAP).get(`${ns}/${cmName}`) ?? (await ctx.client.tryGet(CONFIG_MAP, ns, cmName)),
    );
    if (r) results.push(r);
    else missing.push(i);
  }
  crashPoint('reconciliation:after-shard-results', `${ns}/${recon.metadata.name}`);
  let merged: RunResult;
  if (missing.length > 0) {
    const failure = seen.state === 'Failed' ? await jobs.withPodFailure(ns, seen) : seen;
    const pod = failure.podFailure
      ? `; pod ${failure.podFailure.pod} exited ${failure.podFailure.exitCode ?? '?'}${failure.podFailure.message ? `: ${failure.podFailure.message.slice(0, 300)}` : ''}`
      : '';
    const why =
      seen.state === 'Failed'
        ? `the shard Job ${name} failed (${seen.reason ?? 'unknown reason'}${seen.message ? `: ${seen.message}` : ''}${pod})`
        : `the shard Job ${name} finished`;
    merged = errorResult(
      run.startedAt,
      ctx.clock.now(),
      `${why}; no result from shard(s) ${missing.join(', ')}`,
    );
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

/** The Cutover named by spec.window.cutoverRef: its status.frozenAt (watch cache), if it has frozen. */
function cutoverFrozenAt(ctx: Ctx, recon: Reconciliation): string | undefined {
  const ref = recon.spec.window?.cutoverRef;
  if (!ref) return undefined;
  const co = ctx.cache(CUTOVER).get(`${recon.metadata.namespace ?? 'default'}/${ref.name}`);
  return (co?.status as { frozenAt?: string } | undefined)?.frozenAt;
}

/**
 * What the API server's schema and CEL rules cannot say (a cron with no real time, an unknown
 * zone…), by the rules of `cutover validate`, then the engine's own planning. The answer depends
 * on the spec only, so it is kept per object and generation (an idle sync does not validate again).
 */
class SpecChecks {
  private readonly answers = new Map<string, { generation: number; invalid?: string }>();

  check(recon: ReconObject): { invalid?: string } {
    const key = recon.metadata.uid ?? `${recon.metadata.namespace ?? ''}/${recon.metadata.name}`;
    const generation = recon.metadata.generation ?? 0;
    const known = this.answers.get(key);
    if (known && known.generation === generation) return known;
    const problems = validateManifest({
      apiVersion: recon.apiVersion,
      kind: recon.kind,
      metadata: { name: recon.metadata.name },
      spec: recon.spec,
    });
    let invalid =
      problems.length > 0
        ? problems
            .slice(0, 3)
            .map((p) => `${p.path}: ${p.message}`)
            .join('; ')
        : undefined;
    if (invalid === undefined) {
      try {
        planFromSpec(recon.spec);
      } catch (e) {
        if (!(e instanceof PlanError)) throw e;
        invalid = e.message;
      }
    }
    const answer = { generation, ...(invalid !== undefined ? { invalid } : {}) };
    this.answers.set(key, answer);
    return answer;
  }

  forget(uidOrKey: string | undefined): void {
    if (uidOrKey) this.answers.delete(uidOrKey);
  }
}

function sameDue(a: ScheduleDecision, b: ScheduleDecision): boolean {
  return !!a.due && !!b.due && a.due.kind === b.due.kind && a.due.detail === b.due.detail;
}

/** What a controller instance remembers between syncs (all of it rebuilt from the caches after a restart). */
interface ReconciliationMemory {
  refs: CutoverReferences;
  specs: SpecChecks;
  /** uid per key, to forget a deleted object's entries. */
  uids: Map<string, string>;
}

function reconciliationMemory(): ReconciliationMemory {
  return { refs: new CutoverReferences(), specs: new SpecChecks(), uids: new Map() };
}

async function syncReconciliation(
  ctx: Ctx,
  memory: ReconciliationMemory = reconciliationMemory(),
): Promise<SyncResult> {
  const recon = ctx.object;
  memory.refs.record(ctx.key, ctx.namespace ?? 'default', recon?.spec.schedule?.cutoverRef?.name);
  if (!recon) {
    memory.specs.forget(memory.uids.get(ctx.key));
    memory.uids.delete(ctx.key);
    await forgetReconciliation(ctx.metricsRegistry, ctx.namespace ?? 'default', ctx.name);
    return {};
  }
  if (recon.metadata.uid) memory.uids.set(ctx.key, recon.metadata.uid);
  const ns = recon.metadata.namespace ?? 'default';
  const name = recon.metadata.name;
  const generation = recon.metadata.generation ?? 1;
  const now = ctx.clock.now();

  const { invalid } = memory.specs.check(recon);
  if (invalid !== undefined) {
    await ctx.status.update(ns, name, (fresh) => invalidSpecStatus(fresh.status, invalid, generation, now));
    return {};
  }
  const p = recon.spec.parallelism;
  const shards = p?.mode === 'IndexedJob' ? (p.shards ?? 1) : 0;

  const inProgress = runFromStatus(recon.status);
  if (inProgress) {
    if (shards > 0) return continueSharded(ctx, recon, inProgress, shards);
    // An inline run left in progress (the previous leader stopped mid-run): claim it, then run it.
    const claim = await ctx.status.update(ns, name, (fresh) => {
      if (runFromStatus(fresh.status)?.id !== inProgress.id || !fresh.status) return undefined;
      return resumedStatus(fresh.status, inProgress, generation, now);
    });
    if (!claim.written || !claim.object) return {};
    return finish(ctx, claim.object, inProgress, await runInline(ctx, claim.object, inProgress));
  }

  const switchedAt = cutoverSwitchedAt(ctx, recon);
  const planClock = planClockFromEnv();
  const decide = (status: ReconciliationStatus | undefined): ScheduleDecision =>
    decideSchedule({
      spec: recon.spec,
      status,
      generation,
      createdAt: new Date(recon.metadata.creationTimestamp ?? now.toISOString()),
      rerunToken: recon.metadata.annotations?.[ANNOTATIONS.rerun],
      ...(switchedAt ? { cutoverSwitchedAt: switchedAt } : {}),
      now,
      ...(planClock ? { plan: { now: planClock.now(), scale: planClock.scale } } : {}),
    });
  const decision = decide(recon.status);
  if (decision.due) {
    const due = decision.due;
    let run: RunRecord | undefined;
    // The claim: decided again on the object as written, so a run that already started or ran
    // (by another sync, or after the copy this sync started from) is not started again; the run's
    // number comes from that same copy.
    const claim = await ctx.status.update(ns, name, (fresh) => {
      if (fresh.metadata.generation !== recon.metadata.generation || runFromStatus(fresh.status))
        return undefined;
      if (!sameDue(decide(fresh.status), decision)) return undefined;
      run = { id: runId(due, now, (fresh.status?.runsCompleted ?? 0) + 1), trigger: due, startedAt: now };
      return runningStatus(fresh.status, run, generation, now, shards > 0 ? shards : undefined);
    });
    if (!claim.written || !claim.object || !run) return {};
    crashPoint('reconciliation:after-claim', ctx.key);
    if (shards > 0) return continueSharded(ctx, claim.object, run, shards);
    return finish(ctx, claim.object, run, await runInline(ctx, claim.object, run));
  }

  await ctx.status.update(ns, name, (fresh) =>
    idleStatus(fresh.status, generation, decision.nextAt, decision.waitingFor, now),
  );
  if (decision.nextAt)
    return { requeueAfter: Math.min(MAX_IDLE_MS, Math.max(1000, decision.nextAt.getTime() - now.getTime())) };
  return {};
}

export function reconciliationController(): ControllerSpec<ReconObject> {
  const memory = reconciliationMemory();
  const refs = memory.refs;
  return {
    name: 'reconciliation',
    resource: RECONCILIATION,
    owns: [
      // Only the objects this controller makes (shard Jobs, shard results, reports) are watched
      // and cached, not every Job and ConfigMap of the cluster.
      { ...JOB, labelSelector: LABEL_RECONCILIATION },
      {
        ...CONFIG_MAP,
        labelSelector: LABEL_RECONCILIATION,
        // Shard results are written by the shard pods (no owner reference to the Reconciliation):
        // map them back by label so a finished shard wakes the controller.
        mapToOwner: (obj) => {
          const l = obj.metadata.labels ?? {};
          const recon = l[LABEL_RECONCILIATION];
          return l[LABEL_SHARD_RESULT] === 'true' && recon && obj.metadata.namespace
            ? [`${obj.metadata.namespace}/${recon}`]
            : [];
        },
      },
      // A Cutover's traffic switch starts the post-cutover runs of the Reconciliations that
      // reference it (schedule.cutoverRef + offsets).
      { ...CUTOVER, mapToOwner: (obj) => refs.reconciliationsOf(obj) },
    ],
    sync: (ctx) => syncReconciliation(ctx, memory),
    events: reconciliationEvents,
    uses: [
      use(SECRET, ['get'], 'database URLs: one named Secret at a time, when a run starts'),
      use(
        CONFIG_MAP,
        ['get', 'create', 'update'],
        'the run report; a shard result the cache has not seen yet',
      ),
      use(JOB, ['create', 'get'], 'the shard Job of a run (created, or adopted after a crash)'),
      use(POD, ['list'], 'why a shard Job failed'),
    ],
  };
}
