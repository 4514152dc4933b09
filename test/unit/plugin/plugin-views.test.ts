/**
 * The pure parts of `kubectl cutover`: the argument parser, the runbook generated from the Nokta
 * sample Cutover, and the status tree's next action and health for the states a Cutover,
 * CanaryPhase and Reconciliation go through.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { CanaryPhase, Cutover, CutoverStatus, Reconciliation } from '../../../src/api/index.js';
import { parseArgs } from '../../../src/plugin/args.js';
import { EXIT, PluginError } from '../../../src/plugin/exit-codes.js';
import { buildRunbook, renderRunbook } from '../../../src/plugin/runbook.js';
import {
  canaryView,
  cutoverView,
  reconciliationView,
  reconciliationsOf,
  renderTree,
} from '../../../src/plugin/status-tree.js';
import { token } from '../../../src/plugin/actions.js';

const sample = parse(readFileSync('samples/cutover-nokta.yaml', 'utf8')) as Cutover;
const withStatus = (status: CutoverStatus, spec: Partial<Cutover['spec']> = {}): Cutover => ({
  ...sample,
  spec: { ...sample.spec, ...spec },
  status,
});
const view = (co: Cutover) => cutoverView({ cutover: co, canaryPhases: {}, reconciliations: {}, jobs: {} });

describe('kubectl cutover: arguments', () => {
  it('reads the command, positionals and flags in any order', () => {
    const a = parseArgs(['-n', 'nokta', 'approve', 'switch-traffic', 'nokta', '--by=alice', '-o', 'json']);
    assert.equal(a.command, 'approve');
    assert.deepEqual(a.positional, ['switch-traffic', 'nokta']);
    assert.equal(a.namespace, 'nokta');
    assert.equal(a.by, 'alice');
    assert.equal(a.output, 'json');
    assert.equal(parseArgs(['status', 'x', '-w', '--interval', '0.5']).watch, true);
  });
  it('a bad flag or output is a usage error (exit 2)', () => {
    for (const argv of [
      ['status', '--nope'],
      ['status', '-o', 'xml'],
      ['status', '-n'],
      ['status', '--interval', '0'],
    ])
      assert.throws(
        () => parseArgs(argv),
        (e: unknown) => e instanceof PluginError && e.code === EXIT.usage,
        argv.join(' '),
      );
  });
  it('dashboard keeps every argument for the cutover CLI', () => {
    const a = parseArgs(['dashboard', 'nokta', '--port', '8080']);
    assert.deepEqual(a.rest, ['nokta', '--port', '8080']);
  });
  it('tokens differ each millisecond and hold no separator the controllers split on', () => {
    const t1 = token(new Date('2026-12-01T02:30:00.001Z'));
    assert.equal(t1, '20261201t023000001z');
    assert.notEqual(t1, token(new Date('2026-12-01T02:30:00.002Z')));
  });
});

describe('kubectl cutover: runbook of the Nokta sample', () => {
  const rb = buildRunbook(sample);
  it('every timeline step with time, owner, approval, precondition and failure handling', () => {
    assert.deepEqual(
      rb.timeline.map((s) => s.name),
      sample.spec.timeline.steps.map((s) => s.name),
    );
    const byName = Object.fromEntries(rb.timeline.map((s) => [s.name, s]));
    assert.equal(byName['freeze-legacy-writes']!.plannedAt, '2026-12-01T02:00:00.000Z');
    assert.equal(byName['freeze-legacy-writes']!.owner, 'Operations Lead');
    assert.equal(byName['freeze-legacy-writes']!.approval, 'none');
    assert.equal(byName['switch-traffic']!.plannedAt, '2026-12-01T02:30:00.000Z');
    assert.match(
      byName['reconciliation-sign-off']!.approval,
      /required by data-engineering-lead .*within 15m: Rollback/,
    );
    assert.match(
      byName['reconciliation-sign-off']!.precondition,
      /final-delta-sync succeeded; Reconciliations pos-orders, customers/,
    );
    assert.match(
      byName['final-delta-sync']!.onFailure,
      /the operator rolls back \(rollback actions below\); timeout 20m/,
    );
    assert.match(byName['executive-checkpoint']!.does, /status report/);
    for (const s of rb.timeline)
      for (const v of [s.time, s.owner, s.approval, s.precondition, s.does, s.onFailure]) assert.ok(v);
  });
  it('the rollback triggers, the actions in order and the escalation contacts', () => {
    assert.deepEqual(
      rb.rollback.triggers.map((t) => t.trigger),
      ['SloBreach', 'ReconciliationVariance', 'SecurityFlag', 'StepFailed', 'Manual'],
    );
    assert.deepEqual(
      rb.rollback.actions.map((a) => a.name),
      sample.spec.rollback!.order,
    );
    const who = rb.contacts.map((c) => c.who);
    for (const c of [
      'Operations Lead',
      'Data Engineering',
      'DevOps',
      'devops-on-call',
      'data-engineering-lead',
      '#cutover-warroom',
    ])
      assert.ok(who.includes(c), c);
    assert.equal(
      rb.contacts.find((c) => c.who === 'Data Engineering')!.role,
      'owns final-delta-sync; owns reconciliation-sign-off',
    );
    assert.ok(rb.before.some((b) => b.startsWith('shadow 2026-11-24T00:00:00Z')));
    assert.ok(rb.after.some((b) => /steady state after 14d .*approve steady-state nokta/.test(b)));
  });
  it('renders Markdown with one table row per step', () => {
    const md = renderRunbook(rb);
    assert.equal(
      md.split('\n').filter((l) => /^\| \d+ \| /.test(l)).length,
      sample.spec.timeline.steps.length,
    );
    assert.match(md, /^# Runbook: Cutover nokta\/nokta/);
  });
  it('a step with onFailure Pause tells how to retry; Abort says nothing is rolled back', () => {
    const co = structuredClone(sample);
    co.spec.timeline.steps[0]!.onFailure = 'Pause';
    co.spec.timeline.steps[1]!.onFailure = 'Abort';
    const r = buildRunbook(co);
    assert.match(r.timeline[0]!.onFailure, /approve retry:freeze-legacy-writes:<attempt> nokta/);
    assert.match(r.timeline[1]!.onFailure, /nothing is rolled back/);
  });
});

describe('kubectl cutover: status next action and health', () => {
  it('a step awaiting approval: Suspended, approve it', () => {
    const v = view(
      withStatus({ phase: 'CuttingOver', steps: [{ name: 'switch-traffic', state: 'AwaitingApproval' }] }),
    );
    assert.equal(v.health, 'Suspended');
    assert.equal(v.nextAction, 'approve: kubectl cutover approve switch-traffic nokta');
  });
  it('a failed step that paused the plan: retry with its attempt', () => {
    const v = view(
      withStatus({ phase: 'Paused', steps: [{ name: 'final-delta-sync', state: 'Failed', attempt: 2 }] }),
    );
    assert.equal(v.nextAction, 'fix the cause, then: kubectl cutover approve retry:final-delta-sync:2 nokta');
  });
  it('waiting for the planned time of the next step: Suspended with the time', () => {
    const v = view(
      withStatus({
        phase: 'AwaitingCutover',
        nextStep: 'freeze-legacy-writes',
        nextStepAt: '2026-12-01T02:00:00Z',
      }),
    );
    assert.equal(v.health, 'Suspended');
    assert.equal(v.nextAction, 'wait: step freeze-legacy-writes is planned at 2026-12-01T02:00:00Z');
  });
  it('paused by spec: resume', () => {
    assert.equal(
      view(withStatus({ phase: 'Paused' }, { paused: true })).nextAction,
      'resume: kubectl cutover resume nokta',
    );
  });
  it('rolling back, rolled back, steady state', () => {
    const rolling = view(
      withStatus({
        phase: 'RollingBack',
        rollback: { trigger: 'SloBreach', actions: [{ name: 'Replay', state: 'Running' }] },
      }),
    );
    assert.deepEqual(
      [rolling.health, rolling.terminal, rolling.nextAction],
      ['Degraded', false, 'wait: the operator rolls back (Replay)'],
    );
    const done = view(withStatus({ phase: 'RolledBack', rollback: { trigger: 'SloBreach' } }));
    assert.deepEqual([done.health, done.terminal], ['Degraded', true]);
    const steady = view(withStatus({ phase: 'SteadyState' }));
    assert.deepEqual([steady.health, steady.terminal], ['Healthy', true]);
  });
  it('a canary gate of the plan: approve it on the CanaryPhase', () => {
    const cp = {
      metadata: { name: 'nokta-canary' },
      spec: { steps: [] },
      status: { phase: 'Paused', waitingForGate: 'qa' },
    } as unknown as CanaryPhase;
    const v = cutoverView({
      cutover: withStatus({ phase: 'Canary' }),
      canaryPhases: { 'nokta-canary': cp },
      reconciliations: {},
      jobs: {},
    });
    assert.equal(
      v.nextAction,
      'approve the canary gate: kubectl cutover approve qa canaryphase/nokta-canary',
    );
    assert.equal(
      canaryView(cp, []).nextAction,
      'approve: kubectl cutover approve qa canaryphase/nokta-canary',
    );
  });
  it('the tree lists every Reconciliation the plan names once, and renders with box characters', () => {
    assert.deepEqual(reconciliationsOf(sample), [
      'pos-orders',
      'customers',
      'drivers',
      'call-logs',
      'invoices',
      'replay-window',
      'post-cutover',
    ]);
    const text = renderTree(view(withStatus({ phase: 'Shadow' })));
    assert.match(text, /^Cutover nokta {2}Shadow/);
    assert.match(text, /^├─ CanaryPhase nokta-canary {2}NotFound$/m);
    assert.match(text, /^│ {2}├─ Step freeze-legacy-writes {2}Pending/m);
    assert.match(text, /^└─ Reconciliation post-cutover {2}NotFound$/m);
  });
  it('a Reconciliation that needs remediation: Degraded, rerun after remediating', () => {
    const r = {
      metadata: { name: 'pos-orders' },
      spec: {},
      status: { phase: 'RemediationNeeded' },
    } as unknown as Reconciliation;
    const v = reconciliationView(r, [{ name: 'j', state: 'Failed' }]);
    assert.equal(v.health, 'Degraded');
    assert.equal(v.nextAction, 'remediate, then: kubectl cutover rerun pos-orders');
    assert.equal(v.tree.children[0]!.name, 'j');
  });
});
