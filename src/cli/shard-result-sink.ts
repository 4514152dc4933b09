/**
 * Where a shard pod of a sharded Reconciliation puts its result: a ConfigMap in its namespace,
 * labelled with the Reconciliation and the run, owned by the shard Job (so it goes with the Job),
 * which the Reconciliation controller reads and merges once the Job has finished. Written with
 * create-or-replace, so a retried pod of the same index overwrites its earlier attempt.
 */
import { KubeClient, type KubeObject } from '../runtime/kube-client.js';
import { loadKubeConfig, type KubeConfigLike } from '../runtime/kubeconfig.js';
import type { RunResult } from '../reconciliation/index.js';
import { LABEL_SHARD_RESULT } from '../controllers/reconciliation/resources.js';
import { CONFIG_MAP } from '../runtime/resources.js';

export interface ShardSinkOptions {
  name: string;
  namespace: string;
  /** `k=v,k=v` labels (from CUTOVER_RESULT_LABELS). */
  labels?: string;
  ownerJob?: { name: string; uid: string };
  /** --kubeconfig and --context of `cutover reconcile`; default: in-cluster in a Pod, else $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string | undefined;
  context?: string | undefined;
}

export function parseLabels(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new Error(`label '${pair}' is not key=value`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

export async function writeShardResult(
  result: RunResult,
  opts: ShardSinkOptions,
  kc?: KubeConfigLike,
): Promise<void> {
  // In a pod: the ServiceAccount; elsewhere: --kubeconfig, $KUBECONFIG or ~/.kube/config.
  const client = new KubeClient(
    kc ?? (await loadKubeConfig(opts.kubeconfig, process.env, { context: opts.context })),
    { userAgent: 'cutover-reconcile-shard' },
  );
  const body: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: opts.name,
      namespace: opts.namespace,
      labels: { ...parseLabels(opts.labels), [LABEL_SHARD_RESULT]: 'true' },
      ...(opts.ownerJob?.uid
        ? {
            ownerReferences: [
              {
                apiVersion: 'batch/v1',
                kind: 'Job',
                name: opts.ownerJob.name,
                uid: opts.ownerJob.uid,
                controller: false,
                blockOwnerDeletion: false,
              },
            ],
          }
        : {}),
    },
    data: { 'result.json': JSON.stringify(result) },
  };
  try {
    await client.createOrReplace(CONFIG_MAP, opts.namespace, body);
  } finally {
    client.close();
  }
}
