/**
 * What the CRD and the offline validator cannot check, checked against the cluster, pure: the
 * Secrets the plan reads (the sync observes which exist and which keys they have, never their
 * values), a Freeze step without `spec.freeze` (should one slip past CRD validation), a
 * CanaryPhase named in `spec.canary.phases` that does not exist when the canary phase begins.
 * A Cutover that fails one gets Stalled/InvalidSpec naming the field and the fix, applies nothing
 * (no action but notifications), and goes on by itself once the cause is fixed.
 */
import type { CutoverSpec, JobTemplate, SecretKeyRef } from '../../api/index.js';
import type { Action } from './observed.js';

/** One Secret the plan reads: where the spec names it, and the key it reads. */
export interface SecretUse {
  field: string;
  name: string;
  key: string;
}

/** Secrets observed by name: the keys they hold, or null when the Secret does not exist. */
export type ObservedSecrets = Record<string, string[] | null>;

const use = (field: string, ref: SecretKeyRef | undefined): SecretUse[] =>
  ref ? [{ field, name: ref.name, key: ref.key ?? 'url' }] : [];

/** The Secret of the flag store (flags, the POS offline queue), as world.ts reads it. */
function flagSecret(spec: CutoverSpec): SecretUse[] {
  if (spec.flagProvider?.redis)
    return use('spec.flagProvider.redis.secretRef', spec.flagProvider.redis.secretRef);
  return use('spec.databases.redis.secretRef', spec.databases.redis?.secretRef);
}

/** Secrets every sync reads to observe the world (legacy read_only, the flags). */
export function worldSecrets(spec: CutoverSpec): SecretUse[] {
  const flags = spec.services.some((s) => s.flagKey) || spec.freeze?.posOffline !== undefined;
  return [
    ...(spec.freeze ? use('spec.databases.legacy.secretRef', spec.databases.legacy.secretRef) : []),
    ...(spec.freeze ? use('spec.freeze.verification.secretRef', spec.freeze.verification?.secretRef) : []),
    ...(flags ? flagSecret(spec) : []),
  ];
}

/** Every Job template of the plan with its field. */
export function jobTemplates(spec: CutoverSpec): [string, JobTemplate][] {
  const out: [string, JobTemplate | undefined][] = [
    ['spec.preparation.schemaMigration.job', spec.preparation?.schemaMigration?.job],
    ['spec.preparation.schemaMigration.downJob', spec.preparation?.schemaMigration?.downJob],
    ['spec.preparation.bulkCopy.job', spec.preparation?.bulkCopy?.job],
    ['spec.preparation.postLoadSql.job', spec.preparation?.postLoadSql?.job],
    ['spec.shadow.remediationJob', spec.shadow?.remediationJob],
    ...spec.timeline.steps.map((s, i): [string, JobTemplate | undefined] => [
      `spec.timeline.steps[${i}].job`,
      s.job,
    ]),
    ['spec.rollback.replayJob', spec.rollback?.replayJob],
    ['spec.rollback.exportJob', spec.rollback?.exportJob],
  ];
  return out.filter((x): x is [string, JobTemplate] => x[1] !== undefined);
}

/** Every Secret the plan reads (what the sync observes): the world's, the Jobs', the probes'. */
export function allSecrets(spec: CutoverSpec): SecretUse[] {
  return [
    ...worldSecrets(spec),
    ...jobTemplates(spec).flatMap(([f, t]) => jobSecrets(f, t)),
    ...(spec.preparation?.integrationChecks ?? []).flatMap((c, i) =>
      use(`spec.preparation.integrationChecks[${i}].header.secretRef`, c.header?.secretRef),
    ),
  ];
}

function jobSecrets(field: string, t: JobTemplate): SecretUse[] {
  return (t.env ?? []).flatMap((e, i) => use(`${field}.env[${i}].secretKeyRef`, e.secretKeyRef));
}

/** The Secrets an action reads when it acts. */
export function actionSecrets(spec: CutoverSpec, a: Action): SecretUse[] {
  switch (a.kind) {
    case 'CreateJob': {
      const field = jobTemplates(spec).find(([, t]) => t === a.template)?.[0] ?? `the ${a.purpose} Job`;
      return jobSecrets(field, a.template);
    }
    case 'PosOffline':
    case 'Flags':
      return flagSecret(spec);
    case 'ProbeIntegration': {
      const i = (spec.preparation?.integrationChecks ?? []).findIndex((c) => c.name === a.name);
      const c = spec.preparation?.integrationChecks?.[i];
      return use(`spec.preparation.integrationChecks[${i}].header.secretRef`, c?.header?.secretRef);
    }
    default:
      return [];
  }
}

/** The uses whose Secret or key is missing, said with the fix; empty when all are there. */
export function missingSecrets(
  uses: SecretUse[],
  secrets: ObservedSecrets | undefined,
  ns: string,
): string[] {
  if (!secrets) return [];
  const out: string[] = [];
  for (const u of uses) {
    const keys = secrets[u.name];
    if (keys === undefined) continue; // not observed: nothing known against it
    const text =
      keys === null
        ? `${u.field}: Secret ${u.name} does not exist in namespace ${ns}; create it (kubectl create secret generic ${u.name} -n ${ns} --from-literal=${u.key}=...)`
        : !keys.includes(u.key)
          ? `${u.field}: Secret ${u.name} has no key '${u.key}' (it has: ${keys.join(', ') || 'none'}); add the key or set ${u.field}.key`
          : undefined;
    if (text && !out.includes(text)) out.push(text);
  }
  return out;
}

/** Problems of the spec itself that the CRD should have refused. */
export function specProblems(spec: CutoverSpec): string[] {
  const out: string[] = [];
  spec.timeline.steps.forEach((s, i) => {
    if (s.action === 'Freeze' && !spec.freeze)
      out.push(
        `spec.timeline.steps[${i}] (${s.name}) is a Freeze step but spec.freeze is missing; add spec.freeze (method: ReadOnly, posOffline and verification as needed) or remove the step`,
      );
  });
  return out;
}
