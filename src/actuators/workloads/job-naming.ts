/** Deterministic Job names: a retry of the same step and attempt always names the same Job. */
import { createHash } from 'node:crypto';
import type { JobTemplateInput } from '../types.js';
import { stableStringify } from '../k8s-util.js';

/**
 * Longest Job name used: Kubernetes puts the Job name into the `job-name` label (≤ 63) and, for
 * Indexed Jobs, into pod hostnames `<job>-<index>` (≤ 63), so names stay at 52 like CronJob's.
 */
export const MAX_JOB_NAME = 52;

function dnsPart(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}

/** The fields that define what a Job does; a change of any of them is a different Job. */
export function templateIdentity(t: JobTemplateInput): unknown {
  return {
    image: t.image,
    command: t.command,
    args: t.args ?? [],
    env: t.env ?? [],
    completions: t.completions ?? null,
    parallelism: t.parallelism ?? null,
    indexed: t.indexed ?? false,
    attempt: t.attempt ?? 0,
    // Pod templates of Jobs cannot change: a new overlay is a new Job.
    ...(t.pod ? { pod: t.pod } : {}),
  };
}

export function templateHash(t: JobTemplateInput): string {
  return createHash('sha256')
    .update(stableStringify(templateIdentity(t)))
    .digest('hex')
    .slice(0, 8);
}

/** `<owner>-<step>-<hash8>`, lower-case DNS label, at most MAX_JOB_NAME characters. */
export function jobName(t: JobTemplateInput): string {
  const hash = templateHash(t);
  const owner = dnsPart(t.ownerName);
  const step = dnsPart(t.step);
  if (!owner || !step) throw new Error(`cannot name a Job from owner '${t.ownerName}' and step '${t.step}'`);
  let prefix = `${owner}-${step}`;
  const room = MAX_JOB_NAME - hash.length - 1;
  if (prefix.length > room) prefix = prefix.slice(0, room).replace(/-+$/, '');
  return `${prefix}-${hash}`;
}
