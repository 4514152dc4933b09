/**
 * The Cutover controller's sync, thin: observe (the Cutover, its Jobs, report ConfigMap,
 * Reconciliations and CanaryPhases from the caches; routes, flags and read_only read back through
 * the actuators), decide (pure, decide.ts), claim (the status that records every action as
 * started, written with optimistic concurrency, decided again on the fresh copy), act (only after
 * a won claim; idempotent), notify (never blocking). A crash between claim and act is finished by
 * the next sync, which returns the same actions until their effect is observed.
 *
 * Time: every time in the plan is read from `ctx.clock`; `cutover operator --time-scale N` gives a
 * clock that runs N times faster (src/runtime/clock.ts), and requeue delays are divided by N.
 */
import type { CanaryPhase, Cutover, Reconciliation } from '../../api/index.js';
import { ANNOTATIONS } from '../../api/index.js';
import { jobObservation } from '../../actuators/workloads/jobs.js';
import type { ControllerSpec, SyncContext, SyncResult } from '../../runtime/controller.js';
import type { KubeObject } from '../../runtime/kube-client.js';
import { CONFIG_MAP, JOB, POD, SECRET } from '../../runtime/resources.js';
import { use } from '../../runtime/api-usage.js';
import { crashPoint } from '../../runtime/crash-points.js';
import { redactStatus } from '../../runtime/status-writer.js';
import { ScaledClock, type Clock } from '../../runtime/clock.js';
import { TrafficActuator } from '../../actuators/traffic/traffic.js';
import { JobActuator } from '../../actuators/workloads/jobs.js';
import { DeploymentActuator } from '../../actuators/workloads/deployments.js';
import { WebhookNotifier } from '../../notify/slack.js';
import { CANARY_PHASE, CUTOVER, RECONCILIATION } from '../kinds.js';
import { decide } from './decide.js';
import { cutoverEvents } from './events.js';
import type { Decision, Observed, ObservedJobState, ObservedReconciliation } from './observed.js';
import { CutoverWorld, LABEL_CUTOVER, secretValue } from './world.js';
import { PrometheusProvider } from '../../analysis/prometheus.js';
import { planClockFromEnv } from '../reconciliation/schedule.js';
import { allSecrets, missingSecrets, worldSecrets, type ObservedSecrets } from './invalid-spec.js';

type CutoverObject = Cutover & KubeObject;
type Ctx = SyncContext<CutoverObject>;

/** Who approved: set with the approve annotation (docs/cutover.md, "Approvals"). */
export const APPROVED_BY_ANNOTATION = 'cutover.nokta.io/approved-by';
/** Effects not watched (routes, flags, read_only) are read back this often while awaited (ms). */
export const RECHECK_MS = 1000;
/** How often the SLOs are read while they can trigger a rollback (real ms; Prometheus is not watched). */
export const SLO_POLL_MS = 5000;
/** The longest sleep between syncs of an idle Cutover (real ms). */
const MAX_IDLE_MS = 3_600_000;

/** Which Cutovers name a Reconciliation or CanaryPhase (`ns/name` → Cutover keys). */
class References {
  private readonly by = new Map<string, Set<string>>();
  record(cutoverKey: string, ns: string, names: string[]): void {
    for (const set of this.by.values()) set.delete(cutoverKey);
    for (const n of names) {
      const k = `${ns}/${n}`;
      const set = this.by.get(k) ?? new Set<string>();
      set.add(cutoverKey);
      this.by.set(k, set);
    }
  }
  of(obj: KubeObject): string[] {
    return [...(this.by.get(`${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`) ?? [])];
  }
}

interface Memory {
  recons: References;
  canaries: References;
  worlds: Map<string, CutoverWorld>;
  notifiers: Map<string, WebhookNotifier>;
  /** Secrets seen to exist, with their keys, by Cutover key (a missing one is looked up again). */
  secrets: Map<string, Map<string, string[]>>;
  /** Plan seconds per real second (--time-scale). */
  timeScale: number;
  /** Plan time (scaled when timeScale > 1; else the sync's clock). */
  planClock?: Clock;
}

function referencedReconciliations(co: Cutover): string[] {
  const s = co.spec;
  return [
    ...(s.shadow?.reconciliations ?? []),
    ...s.timeline.steps.flatMap((x) => x.reconciliations ?? []),
    ...(s.postCutover?.reconciliations ?? []),
    ...(s.rollback?.verifyReconciliation ? [s.rollback.verifyReconciliation] : []),
  ];
}

function observeReconciliation(r: Reconciliation | undefined): ObservedReconciliation | undefined {
  if (!r) return undefined;
  const st = r.status ?? {};
  const v = st.summary?.maxVariancePercent;
  const out: ObservedReconciliation = {};
  if (st.phase) out.phase = st.phase;
  if (st.lastRun?.startedAt) out.runStartedAt = st.lastRun.startedAt;
  if (st.lastRun?.finishedAt) out.runFinishedAt = st.lastRun.finishedAt;
  if (v !== undefined && Number.isFinite(Number(v))) out.variancePercent = Number(v);
  if (st.lastRerunToken) out.rerunToken = st.lastRerunToken;
  return out;
}

function dataOf(cm: KubeObject | undefined): Record<string, string> {
  const d = (cm as { data?: unknown } | undefined)?.data;
  return d && typeof d === 'object' ? (d as Record<string, string>) : {};
}

/** Whether the SLOs are read now: from the switch until steady state, never after a rollback. */
function watchesSlos(co: Cutover): boolean {
  const st = co.status ?? {};
  return (
    co.spec.prometheusAddress !== undefined &&
    (co.spec.slos?.length ?? 0) > 0 &&
    st.switchedAt !== undefined &&
    st.steadyStateAt === undefined &&
    st.rollback === undefined
  );
}

/** Each SLO through the analysis providers: Failed = not met (with its value); NoData counts as met; Error is not a reading. */
async function readSlos(co: Cutover, now: Date): Promise<Observed['slos']> {
  const out: Observed['slos'] = {};
  if (!watchesSlos(co)) return out;
  const prom = new PrometheusProvider();
  for (const slo of co.spec.slos ?? []) {
    const m = await prom.measure(
      { address: co.spec.prometheusAddress!, query: slo.query, successCondition: slo.objective },
      { now },
    );
    if (m.result === 'Successful' || m.result === 'NoData')
      out[slo.name] = { met: true, ...(m.value !== undefined ? { value: m.value } : {}) };
    else if (m.result === 'Failed')
      out[slo.name] = { met: false, ...(m.value !== undefined ? { value: m.value } : {}) };
  }
  return out;
}

async function observe(ctx: Ctx, co: CutoverObject, memory: Memory, world: CutoverWorld): Promise<Observed> {
  const ns = ctx.namespace ?? 'default';
  const jobs: Record<string, ObservedJobState> = {};
  for (const j of ctx.cache(JOB).list(ns)) {
    if (j.metadata.labels?.[LABEL_CUTOVER] !== co.metadata.name) continue;
    jobs[j.metadata.name!] = jobObservation(j).state;
  }
  const recNames = referencedReconciliations(co);
  memory.recons.record(ctx.key, ns, recNames);
  memory.canaries.record(ctx.key, ns, co.spec.canary?.phases ?? []);
  const reconciliations: Observed['reconciliations'] = {};
  for (const n of recNames) {
    const r = observeReconciliation(
      ctx.cache(RECONCILIATION).get(`${ns}/${n}`) as unknown as Reconciliation | undefined,
    );
    if (r) reconciliations[n] = r;
  }
  const canaryPhases: Observed['canaryPhases'] = {};
  for (const n of co.spec.canary?.phases ?? []) {
    const cp = ctx.cache(CANARY_PHASE).get(`${ns}/${n}`) as unknown as CanaryPhase | undefined;
    if (cp)
      canaryPhases[n] = {
        ...(cp.status?.phase ? { phase: cp.status.phase } : {}),
        ...(cp.status?.message ? { message: cp.status.message } : {}),
      };
  }
  const reportName = co.spec.report?.configMapName ?? `${co.metadata.name}-report`;
  const reportKeys = Object.keys(dataOf(ctx.cache(CONFIG_MAP).get(`${ns}/${reportName}`))).map((k) =>
    k.replace(/\.md$/, ''),
  );
  const lagText = dataOf(ctx.cache(CONFIG_MAP).get(`${ns}/${co.metadata.name}-export`)).lagSeconds;
  const lag = lagText !== undefined ? Number(lagText) : undefined;
  const secrets = await observeSecrets(ctx, co, memory);
  // Without the Secrets the world is read with, the decision stalls (InvalidSpec) and reads nothing.
  const readable = missingSecrets(worldSecrets(co.spec), secrets, ns).length === 0;
  const a = co.metadata.annotations ?? {};
  const approve = a[ANNOTATIONS.approve];
  return {
    cutover: co,
    jobs,
    reconciliations,
    canaryPhases,
    integrationChecks: { ...world.probes },
    slos: await readSlos(co, (memory.planClock ?? ctx.clock).now()),
    world: readable
      ? await world.read(reportKeys, lag !== undefined && Number.isFinite(lag) ? lag : undefined)
      : { traffic: {}, flags: {}, reportKeys },
    secrets,
    shadowProxies: await world.readShadowProxies((memory.planClock ?? ctx.clock).now()),
    notifications: memory.notifiers.get(ctx.key)?.results() ?? {},
    ...(approve
      ? {
          approval: {
            steps: approve
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean),
            by: a[APPROVED_BY_ANNOTATION] ?? 'unknown (set cutover.nokta.io/approved-by)',
          },
        }
      : {}),
  };
}

/** The keys of each Secret the plan names (never a value); one seen with the keys used is not read again. */
async function observeSecrets(ctx: Ctx, co: CutoverObject, memory: Memory): Promise<ObservedSecrets> {
  const ns = ctx.namespace ?? 'default';
  const known = memory.secrets.get(ctx.key) ?? new Map<string, string[]>();
  memory.secrets.set(ctx.key, known);
  const out: ObservedSecrets = {};
  for (const { name, key } of allSecrets(co.spec)) {
    let keys = known.get(name);
    if (!keys?.includes(key)) {
      const s = await ctx.client.tryGet<KubeObject & { data?: Record<string, string> }>(SECRET, ns, name);
      keys = s ? Object.keys(s.data ?? {}) : undefined;
      if (keys) known.set(name, keys);
    }
    out[name] = keys ?? null;
  }
  return out;
}

function notifierFor(ctx: Ctx, co: CutoverObject, memory: Memory): WebhookNotifier | undefined {
  const slack = co.spec.notifications?.slack;
  if (!slack) return undefined;
  let n = memory.notifiers.get(ctx.key);
  if (!n) {
    const client = ctx.client;
    const ns = ctx.namespace ?? 'default';
    n = new WebhookNotifier(() => secretValue(client, ns, slack.webhookSecretRef).catch(() => undefined));
    memory.notifiers.set(ctx.key, n);
  }
  return n;
}

async function syncCutover(ctx: Ctx, memory: Memory): Promise<SyncResult> {
  const co = ctx.object;
  if (!co) {
    await memory.worlds.get(ctx.key)?.close();
    memory.worlds.delete(ctx.key);
    memory.notifiers.delete(ctx.key);
    memory.secrets.delete(ctx.key);
    memory.recons.record(ctx.key, ctx.namespace ?? 'default', []);
    memory.canaries.record(ctx.key, ctx.namespace ?? 'default', []);
    return {};
  }
  let current: CutoverObject = co;
  let world = memory.worlds.get(ctx.key);
  if (!world) {
    world = new CutoverWorld(ctx.client, () => current);
    memory.worlds.set(ctx.key, world);
  }
  world.follow(() => current);
  const observed = await observe(ctx, co, memory, world);
  let decision: Decision | undefined;
  // The claim: decided again on the fresh copy; only a written status lets the sync act.
  const claim = await ctx.status.update(ctx.namespace ?? 'default', ctx.name, (fresh) => {
    current = fresh;
    decision = decide({ ...observed, cutover: fresh }, (memory.planClock ?? ctx.clock).now());
    return decision.status;
  });
  if (!decision || !claim.object) return claim.object ? { requeueAfter: RECHECK_MS } : {};
  // The actions see the Cutover with the status just claimed (a report shows the step that wrote it).
  if (claim.written) current = claim.object;
  if (!claim.written) {
    // Nothing new to write: the status already records these actions as started (a crash
    // between a claim and its act, an act that threw). Act only when a copy read from the API
    // server, not the cache, gives the same status: a stale cached copy never acts.
    if (decision.actions.length === 0) return nextWake(decision, current, memory);
    const server = await ctx.client.tryGet<CutoverObject>(CUTOVER, ctx.namespace ?? 'default', ctx.name);
    if (!server) return {};
    current = server;
    const again = decide({ ...observed, cutover: server }, (memory.planClock ?? ctx.clock).now());
    if (JSON.stringify(redactStatus(again.status)) !== JSON.stringify(server.status ?? {}))
      return { requeueAfter: 1 };
    decision = again;
  }
  crashPoint('cutover:after-claim', ctx.key);
  const owner = {
    apiVersion: co.apiVersion,
    kind: co.kind,
    name: co.metadata.name,
    uid: co.metadata.uid ?? '',
  };
  // The notifications first: the status records them as Sending, and only this hand-over posts
  // them. Handed over after the world's acts, one act that threw would leave them Sending with a
  // notifier that never got them: Unconfirmed at the next sync, never posted.
  const notifier = notifierFor(ctx, co, memory);
  for (const a of decision.actions)
    if (a.kind === 'Notify')
      notifier?.send({
        event: a.event,
        text: `[${co.metadata.namespace}/${co.metadata.name}] ${a.text}`,
        ...(co.spec.notifications?.slack?.channel ? { channel: co.spec.notifications.slack.channel } : {}),
      });
  for (const a of decision.actions) {
    if (a.kind === 'Notify') continue;
    await world.act(a, { owner, now: (memory.planClock ?? ctx.clock).now(), image: ctx.settings.image });
    crashPoint(`cutover:after-${a.kind}`, ctx.key);
  }
  return nextWake(decision, current, memory);
}

/** When to sync again: the next planned change (scaled), a read-back, the SLO poll, at the latest an hour. */
function nextWake(decision: Decision, current: CutoverObject, memory: Memory): SyncResult {
  const scale = memory.timeScale;
  const waits = [
    ...(decision.requeueAfterMs !== undefined ? [Math.max(1, decision.requeueAfterMs / scale)] : []),
    ...(decision.recheck ? [RECHECK_MS] : []),
    ...(watchesSlos({ ...current, status: decision.status }) ? [SLO_POLL_MS] : []),
    MAX_IDLE_MS,
  ];
  return { requeueAfter: Math.ceil(Math.min(...waits)) };
}

export function cutoverController(
  opts: { timeScale?: number; timeOrigin?: string } = {},
): ControllerSpec<CutoverObject> {
  const timeScale = opts.timeScale ?? Number(process.env.CUTOVER_TIME_SCALE || '1');
  const timeOrigin = opts.timeOrigin ?? process.env.CUTOVER_TIME_ORIGIN ?? '';
  // From the environment (`cutover operator --time-scale`): the process's one plan clock, which
  // the Reconciliation controller's post-cutover offsets read too.
  const fromEnv =
    opts.timeScale === undefined && opts.timeOrigin === undefined ? planClockFromEnv() : undefined;
  const memory: Memory = {
    recons: new References(),
    canaries: new References(),
    worlds: new Map(),
    notifiers: new Map(),
    secrets: new Map(),
    timeScale,
    ...(fromEnv
      ? { planClock: fromEnv }
      : timeScale !== 1 || timeOrigin
        ? { planClock: new ScaledClock(timeScale, ScaledClock.parseOrigin(timeOrigin)) }
        : {}),
  };
  return {
    name: 'cutover',
    resource: CUTOVER,
    owns: [
      { ...JOB, labelSelector: LABEL_CUTOVER },
      {
        ...CONFIG_MAP,
        labelSelector: LABEL_CUTOVER,
        mapToOwner: (obj) => {
          const c = obj.metadata.labels?.[LABEL_CUTOVER];
          return c && obj.metadata.namespace ? [`${obj.metadata.namespace}/${c}`] : [];
        },
      },
      { ...RECONCILIATION, mapToOwner: (obj) => memory.recons.of(obj) },
      { ...CANARY_PHASE, mapToOwner: (obj) => memory.canaries.of(obj) },
    ],
    sync: (ctx) => syncCutover(ctx, memory),
    events: cutoverEvents,
    uses: [
      use(
        SECRET,
        ['get'],
        'database, Redis, webhook and integration-check credentials: one named Secret at a time',
      ),
      use(
        CONFIG_MAP,
        ['get', 'create', 'update'],
        'the Markdown report (checkpoint, final, post-incident review)',
      ),
      use(RECONCILIATION, ['patch'], 'the rerun token of a sign-off, remediation or replay-verification run'),
      use(
        CUTOVER,
        ['get'],
        'an action whose start the status already records (after a crash) acts on a fresh copy only',
      ),
      ...TrafficActuator.apiUsage,
      ...JobActuator.apiUsage,
      ...DeploymentActuator.apiUsage,
      use(POD, ['list'], 'why a Job failed'),
    ],
  };
}
