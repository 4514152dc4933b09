/**
 * The Indexed Job that runs a Reconciliation's shards: pod i runs
 * `cutover reconcile --shard-index $JOB_COMPLETION_INDEX --shard-count N` on the spec frozen at
 * the run's start (so an edit mid-run cannot mix two specs), with the database URLs from the
 * spec's Secrets, and writes its RunResult into a ConfigMap labelled with the run, which the
 * controller merges once the Job has finished. The name is derived from the Reconciliation and
 * the run id, so a retried start after a crash finds the Job instead of creating a second one.
 * The Job is built by the actuators' one Job builder (`JobActuator.ensureJob`).
 */
import { createHash } from 'node:crypto';
import type { Reconciliation } from '../../api/index.js';
import type { JobEnvVar, JobTemplateInput, OwnerRef } from '../../actuators/types.js';
import { LABEL_RECONCILIATION, LABEL_RUN } from './resources.js';

/** `<reconciliation>-<run id>`, shortened with a hash when over 52 characters (pod names add a suffix). */
export function shardJobName(reconciliation: string, runId: string): string {
  const name = `${reconciliation}-${runId}`;
  if (name.length <= 52) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${reconciliation.slice(0, 52 - runId.length - 10)}-${hash}-${runId}`;
}

export function shardResultName(jobName: string, index: number | string): string {
  return `${jobName}-shard-${index}`;
}

function secretEnv(
  envName: string,
  ref: { name: string; key?: string } | undefined,
  url: string | undefined,
): JobEnvVar | undefined {
  if (ref) return { name: envName, secretKeyRef: { name: ref.name, key: ref.key ?? 'url' } };
  if (url) return { name: envName, value: url };
  return undefined;
}

/**
 * The shard Job of a run, as input of the one Job builder (`JobActuator`): named after the run,
 * owned by the Reconciliation, Pod Security "restricted" with the spec's pod overlay.
 * `image` is the operator's (resolved at start) unless the spec names one.
 */
export function shardJobTemplate(
  recon: Reconciliation,
  runId: string,
  owner: OwnerRef,
  shards: number,
  image: string,
): JobTemplateInput {
  const namespace = recon.metadata.namespace ?? 'default';
  const name = shardJobName(recon.metadata.name, runId);
  const p = recon.spec.parallelism ?? {};
  const labels = { [LABEL_RECONCILIATION]: recon.metadata.name, [LABEL_RUN]: runId };
  const frozen = {
    apiVersion: recon.apiVersion,
    kind: recon.kind,
    metadata: { name: recon.metadata.name, namespace: recon.metadata.namespace },
    spec: recon.spec,
  };
  const env = [
    { name: 'CUTOVER_RECONCILIATION', value: JSON.stringify(frozen) },
    secretEnv('CUTOVER_LEGACY_URL', recon.spec.legacy.secretRef, recon.spec.legacy.url),
    secretEnv('CUTOVER_TARGET_URL', recon.spec.target.secretRef, recon.spec.target.url),
    {
      name: 'CUTOVER_RESULT_LABELS',
      value: Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    },
    { name: 'POD_NAMESPACE', fieldRef: 'metadata.namespace' },
    { name: 'CUTOVER_OWNER_JOB_NAME', value: name },
    { name: 'CUTOVER_OWNER_JOB_UID', fieldRef: "metadata.labels['batch.kubernetes.io/controller-uid']" },
  ].filter((e): e is JobEnvVar => e !== undefined);
  return {
    namespace,
    name,
    ownerName: recon.metadata.name,
    step: `reconcile-${runId}`,
    owner,
    image: p.image ?? image,
    containerName: 'reconcile',
    command: ['node', 'dist/src/cli/main.js', 'reconcile'],
    args: [
      '--spec-env',
      'CUTOVER_RECONCILIATION',
      '--shard-index',
      '$(JOB_COMPLETION_INDEX)',
      '--shard-count',
      String(shards),
      '--shard-by',
      p.shardBy ?? 'Tenant',
      '--output',
      'json',
      // The Job controller appends JOB_COMPLETION_INDEX to env; $(VAR) in args sees all of env.
      '--result-configmap',
      shardResultName(name, '$(JOB_COMPLETION_INDEX)'),
    ],
    env,
    indexed: true,
    completions: shards,
    parallelism: shards,
    // Each shard is retried on its own (a pod exits non-zero only when it could not produce
    // a result: a verdict of Failed is a result, written to its ConfigMap, exit 0).
    backoffLimitPerIndex: 2,
    labels,
    ...(p.podLabels ? { podLabels: p.podLabels } : {}),
    ...(p.serviceAccountName ? { serviceAccountName: p.serviceAccountName } : {}),
    ...(p.pod ? { pod: p.pod } : {}),
  };
}
