/**
 * The Cutover's Markdown reports, pure: the 06:00 checkpoint, the final report, and after a
 * rollback the post-incident review skeleton (timeline, trigger and values, each action with its
 * duration, the due date). Written by the controller into the report ConfigMap, one key per part.
 */
import type { Cutover, CutoverStatus } from '../api/index.js';

export type ReportPart = 'checkpoint' | 'final' | 'review';

function cell(v: string | number | undefined): string {
  return v === undefined || v === '' ? '–' : String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function duration(from?: string, to?: string): string {
  if (!from || !to) return '–';
  const s = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function stepsTable(co: Cutover): string[] {
  const st: CutoverStatus = co.status ?? {};
  const out = [
    '| Step | Action | Owner | Planned | Started | Finished | State | Notes |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const step of co.spec.timeline.steps) {
    const s = st.steps?.find((x) => x.name === step.name);
    out.push(
      `| ${cell(step.name)} | ${cell(step.action)} | ${cell(step.owner)} | ${cell(s?.plannedAt)} | ${cell(s?.startedAt)} | ${cell(s?.finishedAt)} | ${cell(s?.state)} | ${cell(s?.message)} |`,
    );
  }
  return out;
}

function reconciliationLines(st: CutoverStatus): string[] {
  const runs = st.signOff?.reconciliations ?? [];
  if (!runs.length) return ['No sign-off runs recorded.'];
  return [
    `Sign-off on runs started after the delta sync (${cell(st.signOff?.afterSyncAt)}):`,
    '',
    '| Reconciliation | Run started | Verdict | Variance (%) |',
    '|---|---|---|---|',
    ...runs.map(
      (r) => `| ${cell(r.name)} | ${cell(r.runStartedAt)} | ${cell(r.phase)} | ${cell(r.variancePercent)} |`,
    ),
  ];
}

function sloLines(co: Cutover): string[] {
  const breaches = co.status?.sloBreaches ?? [];
  const lines = ['| SLO | Objective | Now |', '|---|---|---|'];
  for (const slo of co.spec.slos ?? []) {
    const b = breaches.find((x) => x.slo === slo.name);
    lines.push(
      `| ${cell(slo.name)} | ${cell(slo.description ?? slo.objective)} | ${b ? `breached since ${b.since} (${b.value})` : 'met'} |`,
    );
  }
  return lines;
}

function header(co: Cutover, title: string, now: Date): string[] {
  const st = co.status ?? {};
  return [
    `# ${title}: Cutover ${co.metadata.name}`,
    '',
    `Written ${now.toISOString()}. Phase **${st.phase ?? 'Pending'}**.`,
    '',
    `- Frozen at: ${cell(st.frozenAt)}`,
    `- Last delta sync: ${cell(st.lastSyncAt)}`,
    `- Switched at: ${cell(st.switchedAt)}`,
    `- Legacy hot until: ${cell(st.legacyHotUntil)}`,
    `- Stable since: ${cell(st.stableSince)}`,
    '',
  ];
}

export function renderReport(co: Cutover, part: ReportPart, now: Date): string {
  if (part === 'review') return renderReview(co, now);
  const title = part === 'checkpoint' ? 'Executive checkpoint' : 'Final report';
  return [
    ...header(co, title, now),
    '## Timeline',
    '',
    ...stepsTable(co),
    '',
    '## Reconciliation',
    '',
    ...reconciliationLines(co.status ?? {}),
    '',
    '## SLOs',
    '',
    ...sloLines(co),
    '',
  ].join('\n');
}

/** The post-incident review skeleton, with the due date (5 business days after the trigger). */
export function renderReview(co: Cutover, now: Date): string {
  const rb = co.status?.rollback ?? {};
  const lines = [
    ...header(co, 'Post-incident review', now),
    `**Due: ${cell(rb.review?.dueAt)}** (5 business days after the rollback).`,
    '',
    '## Trigger',
    '',
    `- ${cell(rb.trigger)} at ${cell(rb.triggeredAt)}: ${cell(rb.reason)}`,
    ...(rb.ignoredTriggers ?? []).map(
      (t) => `- also held (not acted on twice): ${cell(t.trigger)} at ${cell(t.at)}: ${cell(t.reason)}`,
    ),
    '',
    `Replay window: ${cell(rb.window?.from)} .. ${cell(rb.window?.to)}`,
    '',
    '## Rollback actions',
    '',
    '| Action | Started | Finished | Took | State | Notes |',
    '|---|---|---|---|---|---|',
    ...(rb.actions ?? []).map(
      (a) =>
        `| ${cell(a.name)} | ${cell(a.at)} | ${cell(a.finishedAt)} | ${duration(a.at, a.finishedAt)} | ${cell(a.state)} | ${cell(a.message)} |`,
    ),
    '',
    '## Timeline of the night',
    '',
    ...stepsTable(co),
    '',
    '## To fill in',
    '',
    '- What happened (impact on stores, call center, drivers, customers, billing):',
    '- Why the trigger fired (root cause):',
    '- What went well:',
    '- What to change before the next attempt (owners, dates):',
    '',
  ];
  return lines.join('\n');
}
