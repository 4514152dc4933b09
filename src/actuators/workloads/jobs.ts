/**
 * Jobs from templates (delta sync, pgloader bulk copy, replay into legacy, remediation, sharded
 * reconciliation). Names are deterministic (owner, step, template hash and attempt), so a retry
 * after a crash finds the Job it already created instead of starting a second copy.
 *
 * All requests go through the runtime's `KubeClient` (in a controller: `ctx.client`).
 */
import type {
  V1Container,
  V1EnvVar,
  V1ObjectMeta,
  V1PodSecurityContext,
  V1PodSpec,
  V1SecurityContext,
} from '@kubernetes/client-node';
import { createLogger } from '../../runtime/logger.js';
import { use, type ApiUse } from '../../runtime/api-usage.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import { isConflict, type KubeClient, type ObjectMeta } from '../../runtime/kube-client.js';
import { isOwnedBy } from '../../runtime/owner-refs.js';
import { ownerReferenceTo, retryOnConflict } from '../k8s-util.js';
import { JOB, POD, type Job, type JobCondition, type JobSpec, type Pod } from '../kube-types.js';
import type { JobEnvVar, JobObservation, JobTemplateInput, PodOverlay } from '../types.js';
import { jobName, templateHash } from './job-naming.js';

const log = createLogger('actuators.jobs');

export const OWNER_LABEL = 'cutover.nokta.io/owner';
export const STEP_LABEL = 'cutover.nokta.io/step';
export const TEMPLATE_HASH_LABEL = 'cutover.nokta.io/template-hash';

/** Resources of a Job's container unless the spec says otherwise. */
export const DEFAULT_RESOURCES = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } };

/** Pod Security "restricted" for the pod (the overlay may change these). */
function podSecurity(o: PodOverlay['securityContext'] = {}): V1PodSecurityContext {
  const sc: V1PodSecurityContext = {
    runAsNonRoot: o.runAsNonRoot ?? true,
    seccompProfile: o.seccompProfile ? { ...o.seccompProfile } : { type: 'RuntimeDefault' },
  };
  if (o.runAsUser !== undefined) sc.runAsUser = o.runAsUser;
  if (o.runAsGroup !== undefined) sc.runAsGroup = o.runAsGroup;
  if (o.fsGroup !== undefined) sc.fsGroup = o.fsGroup;
  return sc;
}

/** Pod Security "restricted" for the container: never privilege escalation, no capabilities. */
function containerSecurity(o: PodOverlay['securityContext'] = {}): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: o.readOnlyRootFilesystem ?? true,
  };
}

function envVar(e: JobEnvVar): V1EnvVar {
  if (e.secretKeyRef)
    return {
      name: e.name,
      valueFrom: { secretKeyRef: { name: e.secretKeyRef.name, key: e.secretKeyRef.key } },
    };
  if (e.fieldRef) return { name: e.name, valueFrom: { fieldRef: { fieldPath: e.fieldRef } } };
  return { name: e.name, value: e.value ?? '' };
}

/**
 * The one Job builder of the operator: deterministic name, ownership labels and owner reference,
 * Pod Security "restricted" defaults with the spec's overlay (resources, tolerations, node
 * selector, annotations, security context).
 */
export function buildJob(t: JobTemplateInput): Job {
  const name = t.name ?? jobName(t);
  const labels: Record<string, string> = {
    ...(t.labels ?? {}),
    'app.kubernetes.io/managed-by': 'cutover-operator',
    [OWNER_LABEL]: t.ownerName.slice(0, 63),
    [STEP_LABEL]: t.step.slice(0, 63),
    [TEMPLATE_HASH_LABEL]: templateHash(t),
  };
  const pod = t.pod ?? {};
  const container: V1Container = {
    name: t.containerName ?? 'main',
    image: t.image,
    command: t.command,
    env: (t.env ?? []).map(envVar),
    resources: pod.resources
      ? {
          ...(pod.resources.requests ? { requests: pod.resources.requests } : {}),
          ...(pod.resources.limits ? { limits: pod.resources.limits } : {}),
        }
      : DEFAULT_RESOURCES,
    securityContext: containerSecurity(pod.securityContext),
  };
  if (t.args) container.args = t.args;
  const podSpec: V1PodSpec = {
    restartPolicy: 'Never',
    securityContext: podSecurity(pod.securityContext),
    containers: [container],
  };
  if (t.serviceAccountName) podSpec.serviceAccountName = t.serviceAccountName;
  if (pod.nodeSelector) podSpec.nodeSelector = pod.nodeSelector;
  if (pod.tolerations) podSpec.tolerations = pod.tolerations.map((x) => ({ ...x }));
  const podMeta: V1ObjectMeta = { labels: { ...labels, ...(t.podLabels ?? {}) } };
  if (pod.annotations) podMeta.annotations = pod.annotations;
  const spec: JobSpec = {
    template: { metadata: podMeta, spec: podSpec },
  };
  if (t.indexed && t.completions === undefined)
    throw new Error('an Indexed Job needs completions (the number of shards)');
  if (t.indexed) spec.completionMode = 'Indexed';
  if (t.backoffLimitPerIndex !== undefined) spec.backoffLimitPerIndex = t.backoffLimitPerIndex;
  else spec.backoffLimit = t.backoffLimit ?? 2;
  if (t.completions !== undefined) spec.completions = t.completions;
  if (t.parallelism !== undefined) spec.parallelism = t.parallelism;
  if (t.activeDeadlineSeconds !== undefined) spec.activeDeadlineSeconds = t.activeDeadlineSeconds;
  if (t.ttlSecondsAfterFinished !== undefined) spec.ttlSecondsAfterFinished = t.ttlSecondsAfterFinished;
  const metadata: ObjectMeta = { name, namespace: t.namespace, labels };
  if (t.owner) metadata.ownerReferences = [ownerReferenceTo(t.owner)];
  return { apiVersion: 'batch/v1', kind: 'Job', metadata, spec };
}

/**
 * What a Job's status says, from the object alone (e.g. the watch cache): Succeeded on Complete;
 * Failed on Failed or on FailureTarget (the Job controller has decided the Job fails and is
 * terminating its pods); else Running.
 */
export function jobObservation(job: Job): JobObservation {
  const st = job.status ?? {};
  const conds = st.conditions ?? [];
  const isTrue = (type: string): JobCondition | undefined =>
    conds.find((c) => c.type === type && c.status === 'True');
  const base = {
    name: job.metadata.name ?? '',
    succeeded: st.succeeded ?? 0,
    failed: st.failed ?? 0,
    active: st.active ?? 0,
  };
  const complete = isTrue('Complete');
  if (complete)
    return {
      ...base,
      state: 'Succeeded',
      reason: complete.reason ?? 'Complete',
      ...(complete.message ? { message: complete.message } : {}),
    };
  const failed = isTrue('Failed') ?? isTrue('FailureTarget');
  if (failed)
    return {
      ...base,
      state: 'Failed',
      reason: failed.reason ?? 'Failed',
      ...(failed.message ? { message: failed.message } : {}),
    };
  return { ...base, state: 'Running' };
}

export interface EnsureJobResult {
  name: string;
  /** False when the Job already existed (a retry): it was adopted, not created again. */
  created: boolean;
  job: Job;
}

export class JobActuator {
  /** Every request it makes, for the operator's RBAC (src/runtime/api-usage.ts). */
  static readonly apiUsage: ApiUse[] = [
    use(JOB, ['create', 'get', 'update', 'delete'], 'Jobs: create or adopt, parallelism, delete'),
    use(POD, ['list'], 'the failed pod of a failed Job (exit code, message)'),
  ];

  constructor(private readonly client: KubeClient) {}

  /** Creates the Job of this step and attempt, or adopts it when it exists. */
  async ensureJob(t: JobTemplateInput): Promise<EnsureJobResult> {
    const body = buildJob(t);
    const name = body.metadata.name!;
    try {
      const job = await this.client.create<Job>(JOB, t.namespace, body);
      log.info({ job: `${t.namespace}/${name}`, step: t.step, owner: t.ownerName }, 'Job created');
      return { name, created: true, job };
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const job = await this.client.get<Job>(JOB, t.namespace, name);
    const labels = job.metadata.labels ?? {};
    if (
      labels[OWNER_LABEL] !== body.metadata.labels![OWNER_LABEL] ||
      labels[STEP_LABEL] !== body.metadata.labels![STEP_LABEL]
    ) {
      throw new Error(
        `Job ${t.namespace}/${name} exists but belongs to owner '${labels[OWNER_LABEL] ?? ''}' step '${labels[STEP_LABEL] ?? ''}'`,
      );
    }
    if (t.owner && !isOwnedBy(job, { metadata: { uid: t.owner.uid } })) {
      throw new Error(
        `Job ${t.namespace}/${name} exists but is not owned by ${t.owner.kind}/${t.owner.name}`,
      );
    }
    return { name, created: false, job };
  }

  /** Changes the parallelism of a running Job (scale the shards worked on at once). */
  async setParallelism(namespace: string, name: string, parallelism: number): Promise<boolean> {
    // The Job controller writes the Job while it runs: a 409 reads again and re-applies.
    return retryOnConflict(async () => {
      const job = await this.client.get<Job>(JOB, namespace, name);
      if (job.spec?.parallelism === parallelism) return false;
      job.spec!.parallelism = parallelism;
      await this.client.replace<Job>(JOB, namespace, name, job);
      return true;
    });
  }

  /** The Job's state; for a failed Job also what its failed pod said. */
  async observeJob(namespace: string, name: string): Promise<JobObservation> {
    return this.withPodFailure(namespace, jobObservation(await this.client.get<Job>(JOB, namespace, name)));
  }

  /** Adds the failed pod's exit code and message to the observation of a failed Job. */
  async withPodFailure(namespace: string, obs: JobObservation): Promise<JobObservation> {
    if (obs.state !== 'Failed') return obs;
    const podFailure = await this.failedPod(namespace, obs.name);
    return podFailure ? { ...obs, podFailure } : obs;
  }

  private async failedPod(namespace: string, name: string): Promise<JobObservation['podFailure']> {
    const pods = await this.client.list<Pod>(POD, {
      namespace,
      labelSelector: `batch.kubernetes.io/job-name=${name}`,
    });
    for (const p of pods.items) {
      if (p.status?.phase !== 'Failed') continue;
      const terminated = (p.status.containerStatuses ?? []).map((c) => c.state?.terminated).find((x) => x);
      const out: NonNullable<JobObservation['podFailure']> = { pod: p.metadata.name ?? '' };
      if (terminated?.exitCode !== undefined) out.exitCode = terminated.exitCode;
      const reason = terminated?.reason ?? p.status.reason;
      if (reason) out.reason = reason;
      const message = terminated?.message ?? p.status.message;
      if (message) out.message = message;
      return out;
    }
    return undefined;
  }

  /** Polls until the Job succeeds or fails (or the timeout passes: then it throws). */
  async waitForJob(
    namespace: string,
    name: string,
    opts: { timeoutMs?: number; pollMs?: number; clock?: Clock; signal?: AbortSignal } = {},
  ): Promise<JobObservation> {
    const clock = opts.clock ?? systemClock;
    const deadline = clock.now().getTime() + (opts.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const o = await this.observeJob(namespace, name);
      if (o.state !== 'Running') return o;
      if (clock.now().getTime() >= deadline) {
        throw new Error(
          `Job ${namespace}/${name} still running after ${opts.timeoutMs ?? 600_000} ms (active ${o.active}, succeeded ${o.succeeded}, failed ${o.failed})`,
        );
      }
      await clock.sleep(opts.pollMs ?? 500, opts.signal);
    }
  }

  /** Deletes a Job and its pods; a Job that is already gone is fine. */
  async deleteJob(namespace: string, name: string): Promise<void> {
    await this.client.delete(JOB, namespace, name, 'Background');
  }
}
