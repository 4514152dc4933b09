/**
 * `kubectl cutover status`: the tree of a Cutover, its preparation and timeline steps, its
 * CanaryPhases, Reconciliations and Jobs, each with phase, step and times, and the next action a
 * person (or nobody) has to take. Pure: built from objects already read.
 */
import type { CanaryPhase, Cutover, Reconciliation } from '../api/index.js';

export interface JobView {
  name: string;
  state: 'Running' | 'Succeeded' | 'Failed' | 'Pending';
  startedAt?: string;
  finishedAt?: string;
}

export interface TreeNode {
  kind: string;
  name: string;
  phase: string;
  detail?: string;
  startedAt?: string;
  finishedAt?: string;
  children: TreeNode[];
}

export interface StatusView {
  tree: TreeNode;
  /** What happens next, and who does it. */
  nextAction: string;
  /** Healthy, Progressing, Suspended (waits for a time, a gate or a person) or Degraded. */
  health: 'Healthy' | 'Progressing' | 'Suspended' | 'Degraded';
  /** The object reached a state it does not leave by itself. */
  terminal: boolean;
}

interface JobLike {
  metadata: { name?: string; creationTimestamp?: string };
  status?: {
    active?: number;
    succeeded?: number;
    failed?: number;
    startTime?: string;
    completionTime?: string;
    conditions?: { type?: string; status?: string; lastTransitionTime?: string }[];
  };
}

export function jobView(j: JobLike): JobView {
  const c = (t: string) => j.status?.conditions?.find((x) => x.type === t && x.status === 'True');
  const failed = c('Failed');
  const done = c('Complete');
  const state = failed ? 'Failed' : done ? 'Succeeded' : (j.status?.active ?? 0) > 0 ? 'Running' : 'Pending';
  const finishedAt = j.status?.completionTime ?? failed?.lastTransitionTime;
  return {
    name: j.metadata.name ?? '',
    state,
    ...(j.status?.startTime ? { startedAt: j.status.startTime } : {}),
    ...(finishedAt ? { finishedAt } : {}),
  };
}

const jobNodes = (jobs: JobView[]): TreeNode[] =>
  jobs.map((j) => ({
    kind: 'Job',
    name: j.name,
    phase: j.state,
    ...(j.startedAt ? { startedAt: j.startedAt } : {}),
    ...(j.finishedAt ? { finishedAt: j.finishedAt } : {}),
    children: [],
  }));

const CANARY_DEGRADED = new Set(['RolledBack', 'Aborted', 'Failed']);

export function canaryNode(cp: CanaryPhase | undefined, name: string, jobs: JobView[]): TreeNode {
  if (!cp) return { kind: 'CanaryPhase', name, phase: 'NotFound', children: [] };
  const s = cp.status ?? {};
  const detail = [
    s.currentWeight !== undefined ? `weight ${s.currentWeight} %` : '',
    s.currentStep !== undefined ? `step ${s.currentStep + 1}/${cp.spec.steps.length}` : '',
    s.waitingForGate ? `waiting for gate ${s.waitingForGate}` : '',
    s.pauseReason && s.phase === 'Paused' ? s.pauseReason : '',
    s.nextMeasurementAt && !CANARY_DEGRADED.has(s.phase ?? '')
      ? `next measurement ${s.nextMeasurementAt}`
      : '',
  ]
    .filter(Boolean)
    .join(', ');
  return {
    kind: 'CanaryPhase',
    name,
    phase: s.phase ?? 'Pending',
    ...(detail ? { detail } : {}),
    ...(s.startedAt ? { startedAt: s.startedAt } : {}),
    ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
    children: jobNodes(jobs),
  };
}

export function reconciliationNode(r: Reconciliation | undefined, name: string, jobs: JobView[]): TreeNode {
  if (!r) return { kind: 'Reconciliation', name, phase: 'NotFound', children: [] };
  const s = r.status ?? {};
  const detail = [
    s.lastRun?.id ? `run ${s.lastRun.id}` : '',
    s.lastRun?.verdict ? `verdict ${s.lastRun.verdict}` : '',
    s.summary?.maxVariancePercent !== undefined ? `max variance ${s.summary.maxVariancePercent} %` : '',
    s.nextRunAt ? `next run ${s.nextRunAt}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return {
    kind: 'Reconciliation',
    name,
    phase: s.phase ?? 'Pending',
    ...(detail ? { detail } : {}),
    ...(s.lastRun?.startedAt ? { startedAt: s.lastRun.startedAt } : {}),
    ...(s.lastRun?.finishedAt ? { finishedAt: s.lastRun.finishedAt } : {}),
    children: jobNodes(jobs),
  };
}

/** The Reconciliations a Cutover names, in plan order, each once. */
export function reconciliationsOf(co: Cutover): string[] {
  const spec = co.spec;
  const names = [
    ...(spec.shadow?.reconciliations ?? []),
    ...spec.timeline.steps.flatMap((s) => s.reconciliations ?? []),
    ...(spec.rollback?.verifyReconciliation ? [spec.rollback.verifyReconciliation] : []),
    ...(spec.postCutover?.reconciliations ?? []),
  ];
  return [...new Set(names)];
}

export interface CutoverWorld {
  cutover: Cutover;
  canaryPhases: Record<string, CanaryPhase | undefined>;
  reconciliations: Record<string, Reconciliation | undefined>;
  /** Jobs by owner: `Cutover`, `CanaryPhase/<name>`, `Reconciliation/<name>`. */
  jobs: Record<string, JobView[]>;
}

export function cutoverView(w: CutoverWorld): StatusView {
  const co = w.cutover;
  const name = co.metadata.name ?? '';
  const s = co.status ?? {};
  const phase = s.phase ?? 'Pending';
  const children: TreeNode[] = [];
  if (s.preparation?.length)
    children.push({
      kind: 'Preparation',
      name: '',
      phase: s.preparation.every((p) => p.state === 'Succeeded' || p.state === 'Skipped')
        ? 'Done'
        : 'InProgress',
      children: s.preparation.map((p) => ({
        kind: 'Item',
        name: p.name ?? '',
        phase: p.state ?? 'Pending',
        ...(p.message ? { detail: p.message } : {}),
        ...(p.startedAt ? { startedAt: p.startedAt } : {}),
        ...(p.finishedAt ? { finishedAt: p.finishedAt } : {}),
        children: [],
      })),
    });
  for (const p of co.spec.canary?.phases ?? [])
    children.push(canaryNode(w.canaryPhases[p], p, w.jobs[`CanaryPhase/${p}`] ?? []));
  const steps = co.spec.timeline.steps.map((step) => {
    const ss = s.steps?.find((x) => x.name === step.name) ?? {};
    const detail = [
      step.action,
      step.owner ? `owner ${step.owner}` : '',
      ss.plannedAt && ss.state !== 'Succeeded' ? `planned ${ss.plannedAt}` : '',
      ss.awaitingSince ? `awaiting approval since ${ss.awaitingSince}` : '',
      ss.jobName ? `job ${ss.jobName}` : '',
      ss.message ?? '',
    ]
      .filter(Boolean)
      .join(', ');
    return {
      kind: 'Step',
      name: step.name,
      phase: ss.state ?? 'Pending',
      detail,
      ...(ss.startedAt ? { startedAt: ss.startedAt } : {}),
      ...(ss.finishedAt ? { finishedAt: ss.finishedAt } : {}),
      children: [],
    };
  });
  children.push({
    kind: 'Timeline',
    name: '',
    phase: s.currentStep ? `at ${s.currentStep}` : phase,
    children: steps,
  });
  if (s.rollback?.trigger)
    children.push({
      kind: 'Rollback',
      name: s.rollback.trigger,
      phase: s.rollback.completedAt ? 'Completed' : 'InProgress',
      ...(s.rollback.reason ? { detail: s.rollback.reason } : {}),
      ...(s.rollback.triggeredAt ? { startedAt: s.rollback.triggeredAt } : {}),
      ...(s.rollback.completedAt ? { finishedAt: s.rollback.completedAt } : {}),
      children: (s.rollback.actions ?? []).map((a) => ({
        kind: 'Action',
        name: a.name ?? '',
        phase: a.state ?? 'Pending',
        ...(a.message ? { detail: a.message } : {}),
        ...(a.at ? { startedAt: a.at } : {}),
        ...(a.finishedAt ? { finishedAt: a.finishedAt } : {}),
        children: [],
      })),
    });
  for (const r of reconciliationsOf(co))
    children.push(reconciliationNode(w.reconciliations[r], r, w.jobs[`Reconciliation/${r}`] ?? []));
  children.push(...jobNodes(w.jobs['Cutover'] ?? []));

  const detail = [
    s.currentStep ? `step ${s.currentStep}` : '',
    s.nextStep ? `next ${s.nextStep}${s.nextStepAt ? ` at ${s.nextStepAt}` : ''}` : '',
    s.switchedAt ? `switched ${s.switchedAt}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const tree: TreeNode = { kind: 'Cutover', name, phase, ...(detail ? { detail } : {}), children };
  return {
    tree,
    ...cutoverNext(w),
    terminal: ['SteadyState', 'RolledBack', 'Failed', 'Aborted'].includes(phase),
  };
}

function stalled(conditions: { type?: string; status?: string; message?: string }[] | undefined) {
  return conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
}

function cutoverNext(w: CutoverWorld): Pick<StatusView, 'nextAction' | 'health'> {
  const co = w.cutover;
  const name = co.metadata.name ?? '';
  const s = co.status ?? {};
  const phase = s.phase ?? 'Pending';
  if (phase === 'RolledBack')
    return {
      health: 'Degraded',
      nextAction: `none: rolled back (${s.rollback?.trigger ?? '?'}); read kubectl cutover report ${name}`,
    };
  if (phase === 'Failed' || phase === 'Aborted')
    return { health: 'Degraded', nextAction: `none: ${phase}; read kubectl cutover report ${name}` };
  if (phase === 'RollingBack') {
    const running = s.rollback?.actions?.find((a) => a.state === 'Running' || a.state === 'Pending');
    return {
      health: 'Degraded',
      nextAction: `wait: the operator rolls back${running ? ` (${running.name})` : ''}`,
    };
  }
  if (phase === 'SteadyState') return { health: 'Healthy', nextAction: 'none: steady state' };
  const failed = s.steps?.find((x) => x.state === 'Failed');
  if (failed && phase === 'Paused')
    return {
      health: 'Suspended',
      nextAction: `fix the cause, then: kubectl cutover approve retry:${failed.name}:${failed.attempt ?? 1} ${name}`,
    };
  const gate = s.steps?.find((x) => x.state === 'AwaitingApproval');
  if (gate)
    return { health: 'Suspended', nextAction: `approve: kubectl cutover approve ${gate.name} ${name}` };
  if (co.spec.paused) return { health: 'Suspended', nextAction: `resume: kubectl cutover resume ${name}` };
  for (const p of co.spec.canary?.phases ?? []) {
    const cp = w.canaryPhases[p];
    if (cp?.status?.waitingForGate)
      return {
        health: 'Suspended',
        nextAction: `approve the canary gate: kubectl cutover approve ${cp.status.waitingForGate} canaryphase/${p}`,
      };
    if (cp?.status?.phase === 'Paused')
      return {
        health: 'Suspended',
        nextAction: `resume the canary: kubectl cutover resume canaryphase/${p}`,
      };
  }
  const st = stalled(s.conditions);
  if (st) return { health: 'Degraded', nextAction: `fix: ${st.message ?? 'stalled'}` };
  if (s.nextStep && s.nextStepAt && !s.currentStep)
    return { health: 'Suspended', nextAction: `wait: step ${s.nextStep} is planned at ${s.nextStepAt}` };
  if (phase === 'AwaitingCutover' && s.nextStep)
    return {
      health: 'Suspended',
      nextAction: `wait: step ${s.nextStep}${s.nextStepAt ? ` is planned at ${s.nextStepAt}` : ''}`,
    };
  if (s.legacyHotUntil && phase === 'LegacyHot')
    return { health: 'Progressing', nextAction: `wait: legacy stays hot until ${s.legacyHotUntil}` };
  if (phase === 'PostCutover' && co.spec.postCutover?.requireSignOff && s.stableSince)
    return {
      health: 'Progressing',
      nextAction: `wait for stable SLOs since ${s.stableSince}, then: kubectl cutover approve steady-state ${name}`,
    };
  return {
    health: 'Progressing',
    nextAction: `wait: the operator works${s.message ? ` (${s.message})` : ''}`,
  };
}

export function canaryView(cp: CanaryPhase, jobs: JobView[]): StatusView {
  const name = cp.metadata.name ?? '';
  const s = cp.status ?? {};
  const tree = canaryNode(cp, name, jobs);
  const phase = s.phase ?? 'Pending';
  const terminal = ['Promoted', 'Succeeded', 'RolledBack', 'Aborted', 'Failed'].includes(phase);
  if (CANARY_DEGRADED.has(phase))
    return {
      tree,
      terminal,
      health: 'Degraded',
      nextAction: `none: ${phase}${s.message ? ` (${s.message})` : ''}`,
    };
  if (terminal) return { tree, terminal, health: 'Healthy', nextAction: `none: ${phase}` };
  if (s.waitingForGate)
    return {
      tree,
      terminal,
      health: 'Suspended',
      nextAction: `approve: kubectl cutover approve ${s.waitingForGate} canaryphase/${name}`,
    };
  if (phase === 'Paused')
    return {
      tree,
      terminal,
      health: 'Suspended',
      nextAction: `resume: kubectl cutover resume canaryphase/${name}`,
    };
  if (phase === 'Pending' && cp.spec.startAt)
    return { tree, terminal, health: 'Suspended', nextAction: `wait: starts at ${cp.spec.startAt}` };
  return {
    tree,
    terminal,
    health: 'Progressing',
    nextAction: `wait${s.nextMeasurementAt ? `: next measurement at ${s.nextMeasurementAt}` : ''}; promote early with kubectl cutover promote canaryphase/${name}`,
  };
}

export function reconciliationView(r: Reconciliation, jobs: JobView[]): StatusView {
  const name = r.metadata.name ?? '';
  const tree = reconciliationNode(r, name, jobs);
  const phase = r.status?.phase ?? 'Pending';
  if (phase === 'Failed' || phase === 'Error' || phase === 'RemediationNeeded')
    return {
      tree,
      terminal: phase !== 'RemediationNeeded',
      health: 'Degraded',
      nextAction: `remediate, then: kubectl cutover rerun ${name}`,
    };
  if (phase === 'Passed') return { tree, terminal: true, health: 'Healthy', nextAction: 'none: passed' };
  return {
    tree,
    terminal: false,
    health: 'Progressing',
    nextAction: 'wait: the run is in progress or scheduled',
  };
}

const hhmmss = (t: string | undefined): string =>
  t ? t.replace(/^\d{4}-\d\d-\d\dT/, '').replace(/(\.\d+)?Z$/, '') : '';

/** The tree as text: one line per node, drawn with box characters. */
export function renderTree(v: StatusView): string {
  const out: string[] = [];
  const line = (n: TreeNode): string => {
    const times =
      n.startedAt || n.finishedAt ? `  [${hhmmss(n.startedAt) || '?'} → ${hhmmss(n.finishedAt) || '…'}]` : '';
    return `${n.kind}${n.name ? ` ${n.name}` : ''}  ${n.phase}${n.detail ? `  (${n.detail})` : ''}${times}`;
  };
  const walk = (n: TreeNode, prefix: string): void => {
    n.children.forEach((c, i) => {
      const last = i === n.children.length - 1;
      out.push(`${prefix}${last ? '└─ ' : '├─ '}${line(c)}`);
      walk(c, prefix + (last ? '   ' : '│  '));
    });
  };
  out.push(line(v.tree));
  walk(v.tree, '');
  out.push(`Health: ${v.health}`);
  out.push(`Next action: ${v.nextAction}`);
  return out.join('\n') + '\n';
}
