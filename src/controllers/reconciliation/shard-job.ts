/**
 * The Indexed Job that runs a Reconciliation's shards: pod i runs
 * `cutover reconcile --shard-index $JOB_COMPLETION_INDEX --shard-count N` on the spec frozen at
 * the run's start (so an edit mid-run cannot mix two specs), with the database URLs from the
 * spec's Secrets, and writes its RunResult into a ConfigMap labelled with the run, which the
 * controller merges once the Job has finished. The name is derived from the Reconciliation and
 * the run id, so a retried start after a crash finds the Job instead of creating a second one.
 */
import { createHash } from 'node:crypto';
import type { Reconciliation } from '../../api/index.js';
import type { KubeObject, OwnerReference } from '../../runtime/kube-client.js';
import { LABEL_RECONCILIATION, LABEL_RUN } from './resources.js';

export const DEFAULT_IMAGE = process.env.CUTOVER_IMAGE ?? 'ghcr.io/nokta/cutover-operator:0.1.0';

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

function secretEnv(envName: string, ref: { name: string; key?: string } | undefined, url: string | undefined): Record<string, unknown> | undefined {
  if (ref) return { name: envName, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key ?? 'url' } } };
  if (url) return { name: envName, value: url };
  return undefined;
}

export function buildShardJob(recon: Reconciliation, runId: string, owner: OwnerReference, shards: number): KubeObject {
  const name = shardJobName(recon.metadata.name, runId);
  const p = recon.spec.parallelism ?? {};
  const labels = { [LABEL_RECONCILIATION]: recon.metadata.name, [LABEL_RUN]: runId };
  const frozen = { apiVersion: recon.apiVersion, kind: recon.kind, metadata: { name: recon.metadata.name, namespace: recon.metadata.namespace }, spec: recon.spec };
  const env = [
    { name: 'CUTOVER_RECONCILIATION', value: JSON.stringify(frozen) },
    secretEnv('CUTOVER_LEGACY_URL', recon.spec.legacy.secretRef, recon.spec.legacy.url),
    secretEnv('CUTOVER_TARGET_URL', recon.spec.target.secretRef, recon.spec.target.url),
    { name: 'CUTOVER_RESULT_LABELS', value: Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',') },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'CUTOVER_OWNER_JOB_NAME', value: name },
    { name: 'CUTOVER_OWNER_JOB_UID', valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/controller-uid']" } } },
  ].filter((e): e is Record<string, unknown> & { name: string } => e !== undefined);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: recon.metadata.namespace, labels, ownerReferences: [owner] },
    spec: {
      completionMode: 'Indexed',
      completions: shards,
      parallelism: shards,
      // Each shard is retried on its own (a pod exits non-zero only when it could not produce
      // a result: a verdict of Failed is a result, written to its ConfigMap, exit 0).
      backoffLimitPerIndex: 2,
      template: {
        metadata: { labels: { ...labels, ...(p.podLabels ?? {}) } },
        spec: {
          restartPolicy: 'Never',
          ...(p.serviceAccountName ? { serviceAccountName: p.serviceAccountName } : {}),
          containers: [
            {
              name: 'reconcile',
              image: p.image ?? DEFAULT_IMAGE,
              command: ['node', 'dist/src/cli/main.js', 'reconcile'],
              args: [
                '--spec-env', 'CUTOVER_RECONCILIATION',
                '--shard-index', '$(JOB_COMPLETION_INDEX)',
                '--shard-count', String(shards),
                '--shard-by', p.shardBy ?? 'Tenant',
                '--output', 'json',
                // The Job controller appends JOB_COMPLETION_INDEX to env; $(VAR) in args sees all of env.
                '--result-configmap', shardResultName(name, '$(JOB_COMPLETION_INDEX)'),
              ],
              env,
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  };
}

export interface JobObservation {
  state: 'Running' | 'Succeeded' | 'Failed';
  succeeded: number;
  failed: number;
  reason?: string;
  message?: string;
}

interface JobStatus {
  succeeded?: number;
  failed?: number;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
}

export function observeJob(job: KubeObject): JobObservation {
  const st = (job.status ?? {}) as JobStatus;
  const cond = (t: string): { reason?: string; message?: string } | undefined => st.conditions?.find((c) => c.type === t && c.status === 'True');
  const base = { succeeded: st.succeeded ?? 0, failed: st.failed ?? 0 };
  const failed = cond('Failed');
  if (failed) return { ...base, state: 'Failed', ...(failed.reason ? { reason: failed.reason } : {}), ...(failed.message ? { message: failed.message } : {}) };
  if (cond('Complete')) return { ...base, state: 'Succeeded' };
  return { ...base, state: 'Running' };
}
