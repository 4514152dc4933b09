/**
 * Jobs from templates (delta sync, pgloader bulk copy, replay into legacy, remediation, sharded
 * reconciliation). Names are deterministic (owner, step, template hash and attempt), so a retry
 * after a crash finds the Job it already created instead of starting a second copy.
 *
 * All requests go through the runtime's `KubeClient` (in a controller: `ctx.client`).
 */
import type { V1Container, V1EnvVar, V1PodSpec } from '@kubernetes/client-node';
import { createLogger } from '../../runtime/logger.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import { isConflict, type KubeClient, type ObjectMeta } from '../../runtime/kube-client.js';
import { isOwnedBy } from '../../runtime/owner-refs.js';
import { ownerReferenceTo } from '../k8s-util.js';
import { JOB, POD, type Job, type JobCondition, type JobSpec, type Pod } from '../kube-types.js';
import type { JobObservation, JobTemplateInput } from '../types.js';
import { jobName, templateHash } from './job-naming.js';

const log = createLogger('actuators.jobs');

export const OWNER_LABEL = 'cutover.nokta.io/owner';
export const STEP_LABEL = 'cutover.nokta.io/step';
export const TEMPLATE_HASH_LABEL = 'cutover.nokta.io/template-hash';

export function buildJob(t: JobTemplateInput): Job {
  const name = jobName(t);
  const labels: Record<string, string> = {
    ...(t.labels ?? {}),
    'app.kubernetes.io/managed-by': 'cutover-operator',
    [OWNER_LABEL]: t.ownerName.slice(0, 63),
    [STEP_LABEL]: t.step.slice(0, 63),
    [TEMPLATE_HASH_LABEL]: templateHash(t),
  };
  const env: V1EnvVar[] = (t.env ?? []).map((e) =>
    e.secretKeyRef
      ? { name: e.name, valueFrom: { secretKeyRef: { name: e.secretKeyRef.name, key: e.secretKeyRef.key } } }
      : { name: e.name, value: e.value ?? '' },
  );
  const container: V1Container = { name: 'main', image: t.image, command: t.command, env };
  if (t.args) container.args = t.args;
  const podSpec: V1PodSpec = { restartPolicy: 'Never', containers: [container] };
  if (t.serviceAccountName) podSpec.serviceAccountName = t.serviceAccountName;
  const spec: JobSpec = {
    backoffLimit: t.backoffLimit ?? 2,
    template: { metadata: { labels }, spec: podSpec },
  };
  if (t.indexed) spec.completionMode = 'Indexed';
  if (t.completions !== undefined) spec.completions = t.completions;
  if (t.parallelism !== undefined) spec.parallelism = t.parallelism;
  if (t.indexed && spec.completions === undefined)
    throw new Error('an Indexed Job needs completions (the number of shards)');
  if (t.activeDeadlineSeconds !== undefined) spec.activeDeadlineSeconds = t.activeDeadlineSeconds;
  if (t.ttlSecondsAfterFinished !== undefined) spec.ttlSecondsAfterFinished = t.ttlSecondsAfterFinished;
  const metadata: ObjectMeta = { name, namespace: t.namespace, labels };
  if (t.owner) metadata.ownerReferences = [ownerReferenceTo(t.owner)];
  return { apiVersion: 'batch/v1', kind: 'Job', metadata, spec };
}

export interface EnsureJobResult {
  name: string;
  /** False when the Job already existed (a retry): it was adopted, not created again. */
  created: boolean;
  job: Job;
}

export class JobActuator {
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
    const job = await this.client.get<Job>(JOB, namespace, name);
    if (job.spec?.parallelism === parallelism) return false;
    job.spec!.parallelism = parallelism;
    await this.client.replace<Job>(JOB, namespace, name, job);
    return true;
  }

  async observeJob(namespace: string, name: string): Promise<JobObservation> {
    const job = await this.client.get<Job>(JOB, namespace, name);
    const st = job.status ?? {};
    const conds = st.conditions ?? [];
    const isTrue = (type: string): JobCondition | undefined =>
      conds.find((c) => c.type === type && c.status === 'True');
    const base = { name, succeeded: st.succeeded ?? 0, failed: st.failed ?? 0, active: st.active ?? 0 };
    const complete = isTrue('Complete');
    if (complete)
      return {
        ...base,
        state: 'Succeeded',
        reason: complete.reason ?? 'Complete',
        message: complete.message,
      };
    const failed = isTrue('Failed') ?? isTrue('FailureTarget');
    if (failed) {
      const obs: JobObservation = {
        ...base,
        state: 'Failed',
        reason: failed.reason ?? 'Failed',
        message: failed.message,
      };
      const podFailure = await this.failedPod(namespace, name);
      if (podFailure) obs.podFailure = podFailure;
      return obs;
    }
    return { ...base, state: 'Running' };
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
