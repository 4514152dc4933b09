/**
 * `kubectl cutover runbook NAME`: the migration playbook of the seed, generated from the Cutover
 * as it is declared: every timeline step with its time, owner, approval, precondition and what
 * happens if it fails; the rollback triggers and actions in their order; the escalation contacts
 * (step owners, approvers, the notification channel). Pure: a function of the Cutover only.
 */
import { ROLLBACK_ACTIONS } from '../api/schema/cutover.js';
import type { Cutover, RollbackAction, StepAction, TimelineStep, TriggerWindow } from '../api/index.js';
import { dependenciesOf, plannedAt } from '../controllers/cutover/plan.js';

export interface RunbookStep {
  name: string;
  action: StepAction;
  /** RFC 3339 when planned at a time; undefined: as soon as its precondition holds. */
  plannedAt?: string;
  /** How the time is written in the plan (`at` or `startAt + offset`). */
  time: string;
  owner: string;
  approval: string;
  precondition: string;
  does: string;
  onFailure: string;
}

export interface RunbookTrigger {
  trigger: string;
  when: string;
  active: string;
}

export interface Runbook {
  cutover: string;
  namespace: string;
  before: string[];
  timeline: RunbookStep[];
  rollback: { automatic: boolean; triggers: RunbookTrigger[]; actions: { name: string; does: string }[] };
  after: string[];
  contacts: { who: string; role: string }[];
}

const DOES: Record<StepAction, string> = {
  Freeze:
    'freezes legacy writes (and turns the POS offline-first queue on when configured); verifies a write is refused',
  DeltaSync: 'runs the delta sync Job (changes since the freeze into the new databases)',
  ReconciliationSignOff:
    'reruns the named Reconciliations on the data after the last delta sync; all must pass',
  TrafficSwitch: 'moves traffic (routes, Ingresses) of the services to the new stack',
  EnableFlags: 'turns the new-stack feature flags on (the tenants named, else all)',
  LiftFreeze: 'lifts the freeze on the new primary and drains the POS queue into it; legacy stays read-only',
  Monitor: 'watches the SLOs for the duration; a breach counts toward the SLO rollback trigger',
  Report: 'writes the status report into the report ConfigMap',
  Job: 'runs the step Job',
  Notify: 'posts to the notification channel',
};

const ROLLBACK_DOES: Record<RollbackAction, string> = {
  PosOfflineOn: 'POS offline-first queue on: the new stack stops taking POS writes',
  Replay: 'the replay Job applies new-stack changes since the freeze to legacy',
  VerifyReplay: 'a Reconciliation bounded to freeze .. rollback verifies the replay',
  TrafficBack: 'traffic goes back to legacy',
  FlagsOff: 'new-stack feature flags off',
  ReopenLegacyWrites: 'legacy takes writes again (read_only off)',
  DrainQueue: 'the POS offline queue drains into legacy',
  SchemaDown: "the schema migration's down Job reverts the new stack's schema (when preparation ran it)",
  Notify: 'people are told on the notification channel',
};

function windowText(w: TriggerWindow | undefined, fallbackFrom: string): string {
  const from = w?.activeFrom ?? fallbackFrom;
  return `from ${from}${w?.activeUntil ? ` until ${w.activeUntil}` : ' until steady state'}`;
}

function stepTime(co: Cutover, step: TimelineStep): { time: string; plannedAt?: string } {
  const t = plannedAt(co.spec, step);
  const iso = t === undefined || Number.isNaN(t) ? undefined : new Date(t).toISOString();
  if (step.at !== undefined) return { time: `${step.at}`, ...(iso ? { plannedAt: iso } : {}) };
  if (step.offset !== undefined)
    return {
      time: `T${step.offset.startsWith('-') || step.offset.startsWith('+') ? '' : '+'}${step.offset}${iso ? ` (${iso})` : ''}`,
      ...(iso ? { plannedAt: iso } : {}),
    };
  return { time: 'when its precondition holds' };
}

function onFailureText(co: Cutover, step: TimelineStep): string {
  const outcome = step.onFailure ?? 'Rollback';
  const parts: string[] = [];
  if (outcome === 'Rollback') {
    const auto =
      co.spec.rollback?.automatic !== false && co.spec.rollback?.triggers?.stepFailed?.enabled !== false;
    parts.push(
      auto
        ? 'the operator rolls back (rollback actions below)'
        : `roll back by hand: kubectl cutover rollback ${co.metadata.name} --reason "step ${step.name} failed"`,
    );
  } else if (outcome === 'Pause')
    parts.push(
      `the plan pauses; retry with kubectl cutover approve retry:${step.name}:<attempt> ${co.metadata.name}`,
    );
  else parts.push('the plan stops (Aborted); nothing is rolled back by itself');
  if (step.timeout) parts.push(`timeout ${step.timeout}`);
  return parts.join('; ');
}

function approvalText(step: TimelineStep): string {
  const a = step.approval;
  if (!a || a.required === false) return 'none';
  const who = a.approvers?.length ? ` by ${a.approvers.join(' or ')}` : '';
  const timeout = a.timeout ? `; if not approved within ${a.timeout}: ${a.onTimeout ?? 'Pause'}` : '';
  return `required${who} (kubectl cutover approve ${step.name})${timeout}`;
}

function preconditionText(co: Cutover, index: number): string {
  const step = co.spec.timeline.steps[index]!;
  const deps = dependenciesOf(co.spec, index);
  const parts = [deps.length ? `${deps.join(', ')} succeeded` : 'the canary phases ended (or none)'];
  if (step.reconciliations?.length) parts.push(`Reconciliations ${step.reconciliations.join(', ')} exist`);
  if (step.action === 'LiftFreeze' || step.action === 'EnableFlags') parts.push('traffic on the new stack');
  if (step.action === 'DeltaSync') parts.push('legacy frozen');
  return parts.join('; ');
}

export function buildRunbook(co: Cutover): Runbook {
  const spec = co.spec;
  const name = co.metadata.name ?? '';
  const timeline = spec.timeline.steps.map((step, i) => ({
    name: step.name,
    action: step.action,
    ...stepTime(co, step),
    owner: step.owner ?? 'unassigned',
    approval: approvalText(step),
    precondition: preconditionText(co, i),
    does: (step.description ? `${step.description}: ` : '') + DOES[step.action],
    onFailure: onFailureText(co, step),
  }));

  const tr = spec.rollback?.triggers ?? {};
  const triggers: RunbookTrigger[] = [];
  if (tr.sloBreach)
    triggers.push({
      trigger: 'SloBreach',
      when: `${tr.sloBreach.slos?.length ? `SLO ${tr.sloBreach.slos.join(', ')}` : 'any SLO'} not met for ${tr.sloBreach.for ?? '30m'}`,
      active: windowText(tr.sloBreach, 'Switch'),
    });
  if (tr.reconciliationVariance)
    triggers.push({
      trigger: 'ReconciliationVariance',
      when: `a Reconciliation of the plan shows variance > ${tr.reconciliationVariance.percent ?? 1} %`,
      active: windowText(tr.reconciliationVariance, 'Switch'),
    });
  if (tr.securityFlag)
    triggers.push({
      trigger: 'SecurityFlag',
      when: `a person sets ${tr.securityFlag.annotation ?? 'cutover.nokta.io/security-incident'}=true on the Cutover`,
      active: windowText(tr.securityFlag, 'Switch'),
    });
  if (tr.stepFailed?.enabled !== false)
    triggers.push({
      trigger: 'StepFailed',
      when: 'a step with onFailure Rollback fails or times out',
      active: 'always',
    });
  triggers.push({
    trigger: 'Manual',
    when: `kubectl cutover rollback ${name} --reason "..."`,
    active: 'always',
  });
  const order = (spec.rollback?.order ?? ROLLBACK_ACTIONS) as RollbackAction[];

  const before: string[] = [];
  const prep = spec.preparation;
  if (prep?.schemaMigration) before.push(`schema migration to version ${prep.schemaMigration.version}`);
  if (prep?.bulkCopy) before.push('bulk copy Job');
  if (prep?.postLoadSql) before.push('post-load SQL Job');
  for (const c of prep?.integrationChecks ?? []) before.push(`integration check ${c.name} (${c.url})`);
  if (spec.shadow)
    before.push(
      `shadow ${spec.shadow.startAt} .. ${spec.shadow.endAt}: reconciliations ${(spec.shadow.reconciliations ?? []).join(', ') || 'none'}${spec.shadow.remediatePercent !== undefined ? `, remediation over ${spec.shadow.remediatePercent} %` : ''}`,
    );
  for (const p of spec.canary?.phases ?? [])
    before.push(`canary phase ${p} (kubectl cutover status canaryphase/${p})`);

  const after: string[] = [];
  const hot = spec.rollback?.keepLegacyHotFor;
  after.push(
    `legacy kept hot for ${hot ?? '48h'}, then scaled to ${spec.rollback?.legacyReplicasAfterHot ?? 0} replicas`,
  );
  if (spec.postCutover?.reconciliations?.length)
    after.push(`post-cutover reconciliations ${spec.postCutover.reconciliations.join(', ')}`);
  after.push(
    `steady state after ${spec.postCutover?.steadyStateAfter ?? '14d'} of stable SLOs${spec.postCutover?.requireSignOff ? ` and sign-off (kubectl cutover approve steady-state ${name})` : ''}`,
  );

  const contacts: { who: string; role: string }[] = [];
  const add = (who: string, role: string): void => {
    const c = contacts.find((x) => x.who === who);
    if (c) {
      if (!c.role.split('; ').includes(role)) c.role += `; ${role}`;
    } else contacts.push({ who, role });
  };
  for (const s of spec.timeline.steps) {
    if (s.owner) add(s.owner, `owns ${s.name}`);
    for (const a of s.approval?.approvers ?? []) add(a, `approves ${s.name}`);
  }
  const slack = spec.notifications?.slack;
  if (slack)
    add(
      slack.channel ?? `Slack webhook ${slack.webhookSecretRef.name}`,
      'war room: every event is posted here',
    );

  return {
    cutover: name,
    namespace: co.metadata.namespace ?? '',
    before,
    timeline,
    rollback: {
      automatic: spec.rollback?.automatic !== false,
      triggers,
      actions: order.map((a) => ({ name: a, does: ROLLBACK_DOES[a] })),
    },
    after,
    contacts,
  };
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderRunbook(r: Runbook): string {
  const lines = [`# Runbook: Cutover ${r.namespace}/${r.cutover}`, ''];
  if (r.before.length) {
    lines.push('## Before the cutover night', '');
    for (const b of r.before) lines.push(`- ${b}`);
    lines.push('');
  }
  lines.push(
    '## Cutover night',
    '',
    '| # | Step | Time | Owner | Approval | Precondition | Does | If it fails |',
    '|---|------|------|-------|----------|--------------|------|-------------|',
  );
  r.timeline.forEach((s, i) =>
    lines.push(
      `| ${i + 1} | ${cell(s.name)} (${s.action}) | ${cell(s.time)} | ${cell(s.owner)} | ${cell(s.approval)} | ${cell(s.precondition)} | ${cell(s.does)} | ${cell(s.onFailure)} |`,
    ),
  );
  lines.push(
    '',
    `## Rollback (${r.rollback.automatic ? 'automatic' : 'held: a person decides'})`,
    '',
    'Triggers:',
    '',
  );
  for (const t of r.rollback.triggers) lines.push(`- **${t.trigger}**: ${t.when} (${t.active})`);
  lines.push('', 'Actions, in this order:', '');
  r.rollback.actions.forEach((a, i) => lines.push(`${i + 1}. **${a.name}**: ${a.does}`));
  lines.push('', '## After the switch', '');
  for (const a of r.after) lines.push(`- ${a}`);
  lines.push('', '## Escalation contacts', '');
  for (const c of r.contacts) lines.push(`- **${c.who}**: ${c.role}`);
  return lines.join('\n') + '\n';
}
