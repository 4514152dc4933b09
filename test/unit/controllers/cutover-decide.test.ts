import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CutoverSpec, CutoverStatus, StepAction } from '../../../src/api/index.js';
import { decide } from '../../../src/controllers/cutover/decide.js';
import { cutoverEvents } from '../../../src/controllers/cutover/events.js';
import type { Action, Decision } from '../../../src/controllers/cutover/observed.js';
import { addBusinessDays, jobName } from '../../../src/controllers/cutover/plan.js';
import { SAMPLE, Sim, firstIndex } from './cutover-sim.js';

const HOUR = 3600_000;

/** The write-ahead rule: every action is recorded as started in the status returned with it. */
function assertWriteAhead(d: Decision, spec: CutoverSpec): void {
  const st: CutoverStatus = d.status;
  const actionOf = (name?: string): StepAction | undefined =>
    spec.timeline.steps.find((s) => s.name === name)?.action;
  const runningStep = (a: StepAction): boolean =>
    (st.steps ?? []).some((s) => s.state === 'Running' && actionOf(s.name) === a);
  const runningRollback = (n: string): boolean =>
    (st.rollback?.actions ?? []).some((x) => x.name === n && x.state === 'Running');
  const ok = (a: Action): boolean => {
    switch (a.kind) {
      case 'CreateJob':
        return (
          (st.steps ?? []).some((s) => s.state === 'Running' && s.jobName === a.name) ||
          (st.preparation ?? []).some((s) => s.state === 'Running' && s.jobName === a.name) ||
          (st.shadow?.reruns ?? []).some((s) => s.state === 'Running' && s.jobName === a.name) ||
          (st.rollback?.actions ?? []).some((s) => s.state === 'Running' && s.jobName === a.name) ||
          st.export?.jobName === a.name
        );
      case 'DeleteJob':
      case 'ScaleLegacy':
        return st.legacyScaledAt !== undefined;
      case 'FreezeLegacy':
        return runningStep('Freeze');
      case 'ReopenLegacyWrites':
        return runningRollback('ReopenLegacyWrites');
      case 'PosOffline':
        return a.on
          ? runningStep('Freeze') || runningRollback('PosOfflineOn')
          : runningStep('LiftFreeze') || runningRollback('DrainQueue');
      case 'ShadowProxy':
        // "on" is recorded Deployed before it acts; "off" is read back (shadow-proxy.ts).
        return (
          !a.on ||
          a.services.every((s) =>
            (st.shadow?.proxies ?? []).some((p) => p.service === s && p.state === 'Deployed'),
          )
        );
      case 'Traffic':
        return a.to === 'new' ? runningStep('TrafficSwitch') : runningRollback('TrafficBack');
      case 'Flags':
        return a.on ? runningStep('EnableFlags') : runningRollback('FlagsOff');
      case 'RerunReconciliation':
        return (
          runningStep('ReconciliationSignOff') ||
          runningRollback('VerifyReplay') ||
          (st.shadow?.reruns ?? []).some((r) => r.reconciliation === a.name && r.state === 'Succeeded')
        );
      case 'ProbeIntegration':
        return (st.preparation ?? []).some((p) => p.name === `check:${a.name}` && p.state === 'Running');
      case 'Notify':
        return (st.notifications ?? []).some((n) => n.event === a.event && n.state === 'Sending');
      case 'WriteReport':
        return a.part === 'checkpoint'
          ? runningStep('Report')
          : a.part === 'final'
            ? st.phase === 'SteadyState'
            : st.rollback?.completedAt !== undefined;
    }
  };
  for (const a of d.actions)
    assert.ok(ok(a), `action ${JSON.stringify(a)} not recorded as started (phase ${st.phase})`);
}

function checkAll(sim: Sim): void {
  for (const d of sim.decisions) assertWriteAhead(d, sim.cutover.spec);
}

/** Plays the sample up to and including the switch (traffic on the new stack). */
function playToSwitch(sim: Sim): void {
  sim.run((s) => s.status.switchedAt !== undefined);
}

describe('cutover decide: the sample plan', () => {
  it('plays preparation -> shadow -> canary -> cutover night -> legacy hot -> post-cutover -> steady state', () => {
    const sim = new Sim();
    const phases: string[] = [];
    sim.run((s) => {
      const p = s.status.phase!;
      if (phases.at(-1) !== p) phases.push(p);
      return p === 'SteadyState' && s.world.reportKeys.includes('final');
    }, 5000);
    checkAll(sim);
    assert.deepEqual(
      phases.filter((p) =>
        [
          'Preparation',
          'Shadow',
          'AwaitingCutover',
          'CuttingOver',
          'Monitoring',
          'LegacyHot',
          'PostCutover',
          'SteadyState',
        ].includes(p),
      ),
      [
        'Preparation',
        'Shadow',
        'AwaitingCutover',
        'CuttingOver',
        'Monitoring',
        'LegacyHot',
        'PostCutover',
        'SteadyState',
      ],
    );
    const st = sim.status;
    // Every step ran once, at or after its planned time, in order.
    for (const s of st.steps!) {
      assert.equal(s.state, 'Succeeded', s.name);
      assert.equal(s.attempt, 1, s.name);
      if (s.plannedAt) assert.ok(Date.parse(s.startedAt!) >= Date.parse(s.plannedAt), s.name);
    }
    // The world saw the effects in the seed's order.
    const order = [
      'job schemaMigration',
      'job bulkCopy',
      'job postLoadSql',
      'pos offline on',
      'legacy read-only',
      'job final-delta-sync',
      /^rerun pos-orders$/,
      'traffic pos -> new',
      'flag pos on',
      'pos offline off',
      'report checkpoint',
      'scale legacy 0',
      'report final',
    ];
    const idx = order.map((w) => firstIndex(sim.log, w));
    for (let i = 0; i < idx.length; i++) assert.ok(idx[i]! >= 0, `no effect ${String(order[i])}`);
    for (let i = 1; i < idx.length; i++)
      assert.ok(idx[i - 1]! < idx[i]!, `${String(order[i - 1])} before ${String(order[i])}`);
    // Legacy stays read-only after the switch; only a rollback re-opens it.
    assert.equal(sim.world.legacyReadOnly, true);
    assert.equal(firstIndex(sim.log, 'legacy writable'), -1);
    // Each Job once, with the documented environment.
    const names = sim.jobsCreated.map((j) => j.name);
    assert.equal(new Set(names).size, names.length);
    const delta = sim.jobsCreated.find((j) => j.purpose === 'final-delta-sync')!;
    assert.deepEqual(Object.keys(delta.env).sort(), [
      'CUTOVER_FROZEN_AT',
      'CUTOVER_LAST_SYNC_AT',
      'CUTOVER_NAME',
      'CUTOVER_REPORT_CONFIGMAP',
      'CUTOVER_SWITCHED_AT',
    ]);
    assert.equal(delta.env.CUTOVER_NAME, 'nokta');
    assert.equal(delta.env.CUTOVER_FROZEN_AT, st.frozenAt);
    assert.equal(delta.env.CUTOVER_REPORT_CONFIGMAP, 'nokta-cutover-report');
    const exportJob = sim.jobsCreated.find((j) => j.purpose === 'export')!;
    assert.equal(exportJob.env.CUTOVER_SWITCHED_AT, st.switchedAt);
    // Records: freeze, sign-off after the sync, approvals with who, times.
    assert.equal(st.freeze?.legacyReadOnly, true);
    assert.equal(st.freeze?.verified, true);
    assert.ok(st.freeze?.newPrimaryLiftedAt);
    assert.ok(Date.parse(st.signOff!.afterSyncAt!) === Date.parse(st.lastSyncAt!));
    for (const r of st.signOff!.reconciliations!)
      assert.ok(Date.parse(r.runStartedAt!) > Date.parse(st.lastSyncAt!));
    assert.deepEqual(
      st.approvals!.map((a) => [a.step, a.by]),
      [
        ['reconciliation-sign-off', 'alice@nokta'],
        ['switch-traffic', 'alice@nokta'],
        ['steady-state', 'bob@nokta'],
      ],
    );
    assert.ok(Date.parse(st.switchedAt!) >= Date.parse('2026-12-01T02:30:00Z'));
    assert.equal(Date.parse(st.legacyHotUntil!) - Date.parse(st.switchedAt!), 48 * HOUR);
    assert.ok(Date.parse(st.steadyStateAt!) >= Date.parse(st.stableSince!) + 14 * 24 * HOUR);
    assert.equal(st.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.ok(st.notifications!.some((n) => n.event === 'phase:Shadow' && n.state === 'Sent'));
  });

  it('a sync that crashed after its claim gets the same actions again from the same observation', () => {
    const sim = new Sim();
    sim.run(
      (s) => s.status.steps?.some((x) => x.name === 'freeze-legacy-writes' && x.state === 'Running') ?? false,
    );
    const last = sim.decisions.at(-1)!;
    // The world did not change (the act never happened): the next decision repeats the actions.
    const again = decide(
      { ...sim.observed(), world: { ...sim.observed().world, legacyReadOnly: false, posOffline: false } },
      new Date(sim.now),
    );
    const kinds = (d: Decision): string[] =>
      d.actions.filter((a) => a.kind !== 'Notify').map((a) => JSON.stringify(a));
    assert.deepEqual(kinds(again), kinds(last));
    assert.equal(again.status.steps!.find((x) => x.name === 'freeze-legacy-writes')!.attempt, 1);
  });

  it('a failed preparation item waits for approve=retry:<item>:<attempt>, then runs again as a new attempt', () => {
    const sim = new Sim({ jobOutcome: (n) => (n.endsWith('-schemamigration-1') ? 'Failed' : 'Succeeded') });
    sim.probeOutcome = (key) => (key === 'sms' ? { status: 503 } : { status: 200 });
    const item = (name: string) => sim.status.preparation?.find((p) => p.name === name);
    sim.run(() => item('schemaMigration')?.state === 'Failed');
    for (let i = 0; i < 5; i++) sim.sync(); // it stays failed and says how to retry; nothing after it starts
    assert.equal(item('schemaMigration')!.state, 'Failed');
    assert.match(sim.status.message!, /approve=retry:schemaMigration:1/);
    assert.equal(item('bulkCopy'), undefined, 'nothing after it starts');
    sim.approval = { steps: ['retry:schemaMigration:1'], by: 'dana@nokta' };
    sim.run(() => item('schemaMigration')?.state === 'Succeeded');
    assert.equal(item('schemaMigration')!.attempt, 2);
    assert.match(item('schemaMigration')!.jobName!, /-schemamigration-2$/);
    sim.run(() => item('check:sms')?.state === 'Failed');
    assert.match(item('check:sms')!.message!, /HTTP 503/);
    sim.approval = { steps: ['retry:check:sms:1'], by: 'dana@nokta' };
    sim.run(() => (sim.status.preparation ?? []).every((p) => p.state === 'Succeeded'));
    assert.equal(item('check:sms')!.attempt, 2);
    const names = sim.jobsCreated.map((j) => j.name).filter((n) => n.includes('schemamigration'));
    assert.deepEqual(names, ['nokta-schemamigration-1', 'nokta-schemamigration-2']);
    assert.deepEqual(
      (sim.status.approvals ?? []).filter((a) => a.step?.startsWith('retry:')).map((a) => [a.step, a.by]),
      [
        ['retry:schemaMigration:1', 'dana@nokta'],
        ['retry:check:sms:1', 'dana@nokta'],
      ],
    );
    checkAll(sim);
  });

  it('a delivery the notifier has not reported is looked at again soon: records end Sent, not Sending until the next planned change', () => {
    const sim = new Sim();
    sim.run((s) => s.status.phase === 'SteadyState' && s.world.reportKeys.includes('final'));
    // Every decision that hands a notification over asks to be looked at again (the notifier is not watched).
    const handing = sim.decisions.filter((d) => d.actions.some((a) => a.kind === 'Notify'));
    assert.ok(handing.length > 5, `${handing.length} decisions notified`);
    for (const d of handing)
      assert.equal(
        d.recheck,
        true,
        `${d.status.phase}: ${d.actions.map((a) => (a.kind === 'Notify' ? a.event : a.kind)).join(', ')}`,
      );
    // At steady state, a post still in flight: looked at again; once the notifier says Sent, no more.
    const status = structuredClone(sim.status);
    status.notifications!.find((n) => n.event === 'phase:SteadyState')!.state = 'Sending';
    const cutover = { ...sim.cutover, status };
    const inFlight = decide(
      {
        ...sim.observed(),
        cutover,
        notifications: { ...sim.delivered, 'phase:SteadyState': { state: 'Sending', attempts: 1 } },
      },
      new Date(sim.now),
    );
    assert.equal(
      inFlight.status.notifications!.find((n) => n.event === 'phase:SteadyState')!.state,
      'Sending',
    );
    assert.equal(inFlight.recheck, true);
    const sent = decide(
      { ...sim.observed(), cutover, notifications: { ...sim.delivered } },
      new Date(sim.now),
    );
    assert.equal(sent.status.notifications!.find((n) => n.event === 'phase:SteadyState')!.state, 'Sent');
    assert.equal(sent.recheck, false, 'nothing left to confirm: no recheck');
  });

  it('a notification is recorded Sending before its post; after a restart it is Unconfirmed, never posted again', () => {
    const sim = new Sim();
    // The sync that queues phase:Preparation records it as Sending in the status it writes first.
    const first = sim.sync();
    const notify = first.actions.filter((a) => a.kind === 'Notify').map((a) => a.event);
    assert.ok(notify.includes('phase:Preparation'), JSON.stringify(notify));
    for (const e of notify)
      assert.equal(first.status.notifications!.find((n) => n.event === e)!.state, 'Sending');
    // Same process: the notifier reports the delivery, merged into the status; nothing posted twice.
    const second = sim.sync();
    assert.ok(!second.actions.some((a) => a.kind === 'Notify' && notify.includes(a.event)));
    assert.equal(second.status.notifications!.find((n) => n.event === 'phase:Preparation')!.state, 'Sent');
    // A restart between the claim and the notifier's report: the new process's notifier is empty.
    sim.run((s) => s.status.phase === 'Shadow');
    const claimed = decide(sim.observed(), new Date(sim.now + 1000));
    sim.cutover = {
      ...sim.cutover,
      status: {
        ...claimed.status,
        notifications: [
          ...(claimed.status.notifications ?? []),
          { event: 'gate:test', at: sim.iso(), state: 'Sending', attempts: 0 },
        ],
      },
    };
    const after = decide({ ...sim.observed(), notifications: {} }, new Date(sim.now + 2000));
    assert.equal(after.status.notifications!.find((n) => n.event === 'gate:test')!.state, 'Unconfirmed');
    assert.ok(!after.actions.some((a) => a.kind === 'Notify' && a.event === 'gate:test'));
    // Over the whole plan each event is posted once.
    const whole = new Sim();
    whole.run((s) => s.status.phase === 'SteadyState' && s.world.reportKeys.includes('final'));
    for (const [event, n] of whole.posts) assert.equal(n, 1, event);
  });

  it('decide is pure: the same input gives the same output, and the input is not changed', () => {
    const sim = new Sim();
    sim.run((s) => s.status.phase === 'Shadow');
    const o = sim.observed();
    const copy = structuredClone(o);
    const a = decide(o, new Date(sim.now));
    const b = decide(o, new Date(sim.now));
    assert.deepEqual(a, b);
    assert.deepEqual(o, copy);
  });
});

describe('cutover decide: InvalidSpec (what only the cluster can say)', () => {
  const stalledInvalid = (d: Decision): string => {
    const c = d.status.conditions?.find((x) => x.type === 'Stalled');
    assert.equal(c?.status, 'True', JSON.stringify(d.status.conditions));
    assert.equal(c?.reason, 'InvalidSpec');
    assert.deepEqual(
      d.actions.filter((a) => a.kind !== 'Notify'),
      [],
      'nothing is applied',
    );
    return c.message ?? '';
  };
  const allSecrets = (): Record<string, string[]> => ({
    'nokta-legacy-admin-db': ['url'],
    'nokta-legacy-app-db': ['url'],
    'nokta-legacy-db': ['url'],
    'nokta-new-db': ['url'],
    'nokta-redis': ['url'],
    'payments-sandbox': ['token'],
    'sms-sandbox': ['token'],
    'maps-sandbox': ['key'],
  });

  it('a Freeze step without spec.freeze stalls, names the field and the fix, applies nothing; goes on once fixed', () => {
    const spec = structuredClone(SAMPLE.spec);
    const freeze = spec.freeze;
    delete spec.freeze;
    const sim = new Sim({ spec });
    const d = sim.sync();
    const msg = stalledInvalid(d);
    assert.match(
      msg,
      /spec\.timeline\.steps\[0\] \(freeze-legacy-writes\) is a Freeze step but spec\.freeze is missing; add spec\.freeze/,
    );
    assert.equal(sim.jobsCreated.length, 0);
    sim.cutover.spec.freeze = freeze;
    sim.tick(1000);
    sim.run((s) => (s.status.preparation ?? []).some((p) => p.state === 'Running'));
    assert.ok(sim.jobsCreated.length > 0, 'preparation started once fixed');
  });

  it('a missing Secret the world is read with stalls before anything is applied; goes on once it exists', () => {
    const sim = new Sim();
    sim.secrets = { ...allSecrets(), 'nokta-legacy-admin-db': null };
    const msg = stalledInvalid(sim.sync());
    assert.match(
      msg,
      /spec\.databases\.legacy\.secretRef: Secret nokta-legacy-admin-db does not exist in namespace nokta; create it \(kubectl create secret generic nokta-legacy-admin-db -n nokta --from-literal=url=\.\.\.\)/,
    );
    sim.tick(1000);
    stalledInvalid(sim.sync());
    sim.secrets = allSecrets();
    sim.run((s) => (s.status.preparation ?? []).some((p) => p.state === 'Running'));
    assert.ok(!sim.status.conditions?.some((c) => c.type === 'Stalled' && c.status === 'True'));
  });

  it("a Job's missing Secret key stalls when that Job is due, creates no Job; the Job runs once after the fix", () => {
    const sim = new Sim();
    sim.secrets = { ...allSecrets(), 'nokta-legacy-db': ['password'] };
    sim.run((s) => s.status.conditions?.some((c) => c.reason === 'InvalidSpec') ?? false);
    const msg = stalledInvalid(sim.decisions.at(-1)!);
    assert.match(
      msg,
      /spec\.preparation\.bulkCopy\.job\.env\[0\]\.secretKeyRef: Secret nokta-legacy-db has no key 'url' \(it has: password\)/,
    );
    assert.ok(!sim.jobsCreated.some((j) => j.purpose === 'bulkCopy'));
    sim.secrets = allSecrets();
    sim.run((s) => s.status.preparation?.find((p) => p.name === 'bulkCopy')?.state === 'Succeeded');
    assert.equal(sim.jobsCreated.filter((j) => j.purpose === 'bulkCopy').length, 1);
  });

  it('a CanaryPhase that does not exist when the canary phase begins stalls, names spec.canary.phases[0]; goes on once created', () => {
    const sim = new Sim();
    delete sim.canary['nokta-canary'];
    sim.run((s) => s.status.conditions?.some((c) => c.reason === 'InvalidSpec') ?? false, 5000);
    const msg = stalledInvalid(sim.decisions.at(-1)!);
    assert.match(
      msg,
      /spec\.canary\.phases\[0\]: CanaryPhase nokta-canary does not exist in namespace nokta; create it/,
    );
    assert.equal(sim.status.phase, 'Canary');
    sim.canary['nokta-canary'] = { phase: 'Succeeded' };
    sim.run((s) => s.status.switchedAt !== undefined);
    checkAll(sim);
  });
});

describe('cutover events (from the status change)', () => {
  it('phase changes, gates, approvals, steps, the trigger and each rollback action; Stalled with its reason', () => {
    const sim = new Sim();
    playToSwitch(sim);
    sim.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
    sim.run((s) => s.status.phase === 'RolledBack' && s.world.reportKeys.includes('review'));
    const events = sim.decisions.flatMap((d, i) =>
      cutoverEvents(
        { ...sim.cutover, status: i === 0 ? {} : sim.decisions[i - 1]!.status },
        { ...sim.cutover, status: d.status },
      ),
    );
    const of = (reason: string) => events.filter((e) => e.reason === reason);
    const phases = of('PhaseChanged').map((e) => e.note.split(':')[0]);
    for (const p of [
      'none → Preparation',
      'Preparation → Shadow',
      'Monitoring → RollingBack',
      'RollingBack → RolledBack',
    ])
      assert.ok(phases.includes(p), `${p} in ${phases.join(' | ')}`);
    assert.equal(
      of('PhaseChanged').find((e) => e.note.startsWith('Monitoring → RollingBack'))!.type,
      'Warning',
    );
    assert.ok(of('AwaitingApproval').some((e) => e.note.includes('approve=switch-traffic')));
    assert.ok(of('Approved').some((e) => e.note === 'switch-traffic approved by alice@nokta'));
    assert.ok(of('StepStarted').some((e) => e.note.startsWith('step freeze-legacy-writes')));
    const triggered = of('RollbackTriggered');
    assert.equal(triggered.length, 1, 'one trigger event');
    assert.match(
      triggered[0]!.note,
      /^trigger SecurityFlag: annotation cutover\.nokta\.io\/security-incident=true/,
    );
    for (const a of sim.status.rollback!.actions!) {
      const mine = events.filter((e) => e.action === a.name && e.reason.startsWith('RollbackAction'));
      const reasons = mine.map((e) => e.reason).join();
      if (a.state === 'Skipped') assert.equal(reasons, 'RollbackActionSkipped', a.name);
      // Started then Succeeded, or Succeeded alone when done in the sync that started it.
      else
        assert.ok(
          ['RollbackActionStarted,RollbackActionSucceeded', 'RollbackActionSucceeded'].includes(reasons),
          `${a.name}: ${reasons}`,
        );
    }
    // Stalled says why.
    const stalled = new Sim();
    stalled.secrets = { 'nokta-legacy-admin-db': null };
    const d = stalled.sync();
    const ev = cutoverEvents({ ...stalled.cutover, status: {} }, { ...stalled.cutover, status: d.status });
    const invalid = ev.find((e) => e.reason === 'InvalidSpec');
    assert.equal(invalid?.type, 'Warning');
    assert.match(invalid.note, /spec\.databases\.legacy\.secretRef/);
  });
});

describe('cutover decide: gates and failures', () => {
  it('a gate waits for cutover.nokta.io/approve=<step> and records who approved', () => {
    const sim = new Sim({ autoApprove: false });
    sim.run((s) => s.status.steps?.some((x) => x.state === 'AwaitingApproval') ?? false);
    const gate = sim.status.steps!.find((x) => x.state === 'AwaitingApproval')!;
    assert.equal(gate.name, 'reconciliation-sign-off');
    assert.ok(sim.status.notifications!.some((n) => n.event === 'gate:reconciliation-sign-off'));
    assert.equal(sim.status.conditions!.find((c) => c.type === 'Reconciling')?.reason, 'AwaitingApproval');
    // Other annotations do nothing; the right one opens the gate.
    sim.approval = { steps: ['no-such-step'], by: 'mallory' };
    sim.sync();
    assert.equal(sim.status.approvals, undefined);
    sim.approval = { steps: ['no-such-step', 'reconciliation-sign-off'], by: 'carol@nokta' };
    sim.sync();
    assert.deepEqual(
      sim.status.approvals!.map((a) => [a.step, a.by]),
      [['reconciliation-sign-off', 'carol@nokta']],
    );
    assert.equal(sim.status.steps!.find((x) => x.name === 'reconciliation-sign-off')!.state, 'Running');
  });

  it('a gate that times out takes its onTimeout (Rollback in the sample sign-off)', () => {
    const sim = new Sim({ autoApprove: false });
    sim.run((s) => s.status.phase === 'RollingBack');
    checkAll(sim);
    assert.equal(sim.status.rollback!.trigger, 'StepFailed');
    assert.match(
      sim.status.rollback!.reason!,
      /reconciliation-sign-off failed: approval timed out after 15m/,
    );
    const s = sim.status.steps!.find((x) => x.name === 'reconciliation-sign-off')!;
    assert.ok(Date.parse(s.finishedAt!) - Date.parse(s.awaitingSince!) >= 15 * 60_000);
  });

  for (const outcome of ['Pause', 'Abort'] as const) {
    it(`a failed step with onFailure ${outcome} ${outcome === 'Pause' ? 'holds until retried' : 'stops the plan'}, no rollback`, () => {
      const spec = structuredClone(SAMPLE.spec);
      spec.timeline.steps.find((s) => s.name === 'final-delta-sync')!.onFailure = outcome;
      let failFirst = true;
      const sim = new Sim({
        spec,
        jobOutcome: (n) => {
          if (n.includes('final-delta-sync') && failFirst) return 'Failed';
          return 'Succeeded';
        },
      });
      sim.run((s) => s.status.phase === (outcome === 'Pause' ? 'Paused' : 'Aborted'));
      assert.equal(sim.status.rollback, undefined);
      assert.equal(sim.status.conditions!.find((c) => c.type === 'Stalled')?.status, 'True');
      if (outcome === 'Pause') {
        assert.equal(sim.status.pausedAt, 'final-delta-sync');
        assert.match(sim.status.message!, /approve=retry:final-delta-sync:1/);
        failFirst = false;
        sim.approval = { steps: ['retry:final-delta-sync:1'], by: 'dave@nokta' };
        sim.run((s) => s.status.steps!.find((x) => x.name === 'final-delta-sync')!.state === 'Succeeded');
        const step = sim.status.steps!.find((x) => x.name === 'final-delta-sync')!;
        assert.equal(step.attempt, 2);
        assert.equal(step.jobName, jobName('nokta', 'final-delta-sync', 2));
      } else {
        sim.tick(HOUR);
        const d = sim.sync();
        assert.equal(d.actions.filter((a) => a.kind !== 'Notify').length, 0);
      }
    });
  }

  it('a Job step that outlives its timeout fails (and rolls back by default)', () => {
    const sim = new Sim({ jobOutcome: (n) => (n.includes('final-delta-sync') ? 'Running' : 'Succeeded') });
    sim.run((s) => s.status.phase === 'RollingBack');
    assert.match(sim.status.rollback!.reason!, /final-delta-sync failed: timed out after 20m/);
  });

  it('spec.paused holds the timeline before the next step', () => {
    const spec = structuredClone(SAMPLE.spec);
    spec.paused = true;
    const sim = new Sim({ spec });
    sim.run((s) => s.status.phase === 'Paused');
    assert.equal(sim.status.pausedAt, 'freeze-legacy-writes');
    assert.equal(sim.world.legacyReadOnly, false);
  });
});

describe('cutover decide: shadow and canary', () => {
  it('shadow: variance above 0.5 % runs the remediation Job, then reruns the Reconciliation', () => {
    const sim = new Sim({ variance: { 'pos-orders': 0.8 } });
    sim.run((s) => s.status.shadow?.reruns?.[0]?.state === 'Running');
    assert.equal(sim.status.shadow!.reruns![0]!.reconciliation, 'pos-orders');
    sim.variance['pos-orders'] = 0.2;
    sim.run((s) => s.status.phase === 'AwaitingCutover');
    checkAll(sim);
    assert.ok(firstIndex(sim.log, 'job remediate-pos-orders') < firstIndex(sim.log, 'rerun pos-orders'));
    assert.equal(sim.status.shadow!.reruns![0]!.count, 1);
  });

  it('shadow: variance still too high after maxReruns stalls before the canary', () => {
    const sim = new Sim({ variance: { customers: 0.9 } });
    sim.run((s) => s.status.conditions?.some((c) => c.type === 'Stalled' && c.status === 'True') ?? false);
    assert.equal(sim.status.phase, 'Shadow');
    assert.match(sim.status.message!, /customers variance 0.9 % > 0.5 % after 2 remediation/);
    assert.equal(sim.jobsCreated.filter((j) => j.purpose === 'remediate-customers').length, 2);
  });

  it('a rolled-back CanaryPhase blocks the cutover and says why', () => {
    const sim = new Sim();
    sim.canary['nokta-canary'] = { phase: 'RolledBack', message: 'pos-latency failed twice' };
    sim.run(
      (s) => s.status.phase === 'Canary' && (s.status.conditions ?? []).some((c) => c.type === 'Stalled'),
    );
    assert.equal(sim.status.conditions!.find((c) => c.type === 'Stalled')!.reason, 'CanaryRolledBack');
    assert.match(sim.status.message!, /CanaryPhase nokta-canary RolledBack: pos-latency failed twice/);
    sim.tick(10 * 24 * HOUR);
    sim.sync();
    assert.equal(sim.status.phase, 'Canary');
    assert.equal(sim.world.legacyReadOnly, false);
  });
});

/** After a rollback: traffic and flags on legacy, legacy writable, replay before traffic moved back. */
function assertRolledBackSafely(sim: Sim, replayed: boolean): void {
  checkAll(sim);
  assert.equal(sim.status.phase, 'RolledBack');
  for (const [s, t] of Object.entries(sim.world.traffic)) assert.equal(t, 'legacy', s);
  for (const [s, f] of Object.entries(sim.world.flags)) assert.equal(f, 'off', s);
  assert.equal(sim.world.legacyReadOnly, false);
  assert.equal(sim.world.posOffline, false);
  const replay = firstIndex(sim.log, 'job replay');
  if (replayed) {
    const back = sim.log.findIndex((e, i) => i > replay && /^traffic .* -> legacy$/.test(e.what));
    assert.ok(replay >= 0 && back > replay, 'the replay Job ran before traffic moved back');
    const replayJob = sim.jobsCreated.find((j) => j.purpose === 'replay')!;
    assert.equal(
      replayJob.posOffline,
      true,
      'the new stack took no writes (POS offline queue on) when the replay started',
    );
    assert.equal(replayJob.legacyReadOnly, true, 'legacy took no other writes while the replay ran');
    assert.ok(firstIndex(sim.log, 'legacy writable') > replay, 'legacy re-opened after the replay');
    assert.equal(replayJob.env.CUTOVER_FROZEN_AT, sim.status.frozenAt);
  } else assert.equal(replay, -1);
  const rb = sim.status.rollback!;
  assert.equal(
    rb.review!.dueAt,
    new Date(addBusinessDays(Date.parse(rb.triggeredAt!), 5)).toISOString().replace('.000Z', 'Z'),
  );
  assert.ok(sim.world.reportKeys.includes('review'));
  assert.ok(sim.status.notifications!.some((n) => n.event === 'rollback:done'));
}

describe('cutover decide: rollback triggers', () => {
  it('SLO breach longer than 30m after the switch rolls back; a shorter one does not', () => {
    const sim = new Sim();
    playToSwitch(sim);
    sim.slos = { 'pos-invoice': { value: 2.1, met: false } };
    sim.run((s) => (s.status.sloBreaches?.length ?? 0) > 0);
    sim.tick(20 * 60_000);
    sim.sync();
    assert.equal(sim.status.rollback, undefined, 'a 20m breach is not a trigger');
    assert.equal(sim.status.stableSince, undefined);
    sim.slos = { 'pos-invoice': { value: 1.1, met: true } };
    sim.sync();
    assert.equal(sim.status.sloBreaches, undefined);
    assert.ok(sim.status.stableSince);
    sim.slos = { 'pos-invoice': { value: 2.4, met: false } };
    sim.run((s) => s.status.phase === 'RolledBack');
    assert.equal(sim.status.rollback!.trigger, 'SloBreach');
    assert.match(sim.status.rollback!.reason!, /pos-invoice .*value 2\.4/);
    assertRolledBackSafely(sim, true);
  });

  it('reconciliation variance above 1 % (post-cutover run) rolls back', () => {
    const sim = new Sim();
    sim.run((s) => s.status.phase === 'LegacyHot');
    sim.recons['post-cutover'] = {
      phase: 'Failed',
      runStartedAt: new Date(sim.now).toISOString(),
      runFinishedAt: new Date(sim.now + 1000).toISOString(),
      variancePercent: 1.7,
    };
    sim.run((s) => s.status.phase === 'RolledBack');
    assert.equal(sim.status.rollback!.trigger, 'ReconciliationVariance');
    assertRolledBackSafely(sim, true);
  });

  it('the shadow phase, once ended, is not reopened by the sign-off rerunning its Reconciliations', () => {
    const sim = new Sim();
    sim.run((s) => s.status.steps?.find((x) => x.name === 'reconciliation-sign-off')?.state === 'Running');
    assert.ok(sim.status.shadow?.completedAt, 'the end of the shadow phase is recorded');
    // A rerun of a shadow Reconciliation in progress, past shadow.endAt: no completed run right now.
    const name = SAMPLE.spec.shadow!.reconciliations![0]!;
    delete sim.recons[name]!.runFinishedAt;
    const d = sim.sync();
    assert.notEqual(d.status.phase, 'Shadow', d.status.message);
    assert.equal(d.status.phase, 'CuttingOver');
  });

  it('variance above 1 % at the sign-off fails it and rolls back before the switch (nothing to replay)', () => {
    const sim = new Sim();
    sim.run((s) => s.status.steps?.find((x) => x.name === 'reconciliation-sign-off')?.state === 'Running');
    sim.variance['invoices'] = 1.4;
    sim.run((s) => s.status.phase === 'RolledBack');
    assert.ok(['ReconciliationVariance', 'StepFailed'].includes(sim.status.rollback!.trigger!));
    assert.equal(firstIndex(sim.log, /^traffic .* -> new$/), -1);
    const skipped = sim.status.rollback!.actions!.filter((a) => a.state === 'Skipped').map((a) => a.name);
    assert.deepEqual(skipped, ['Replay', 'VerifyReplay']);
    assertRolledBackSafely(sim, false);
  });

  it('the security annotation rolls back, also while paused', () => {
    const sim = new Sim();
    playToSwitch(sim);
    sim.cutover = { ...sim.cutover, spec: { ...sim.cutover.spec, paused: true } };
    sim.tick(HOUR);
    sim.sync();
    assert.equal(sim.status.phase, 'Paused');
    sim.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
    sim.run((s) => s.status.phase === 'RolledBack');
    assert.equal(sim.status.rollback!.trigger, 'SecurityFlag');
    assertRolledBackSafely(sim, true);
  });

  it("a rollback runs the schema migration's down Job (once, after traffic is back) when preparation ran the up Job", () => {
    const sim = new Sim();
    playToSwitch(sim);
    sim.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
    sim.run((s) => s.status.phase === 'RolledBack');
    assertRolledBackSafely(sim, true);
    const act = (n: string) => sim.status.rollback!.actions!.find((a) => a.name === n)!;
    assert.equal(act('SchemaDown').state, 'Succeeded', JSON.stringify(act('SchemaDown')));
    const down = sim.jobsCreated.filter((j) => j.purpose === 'schema-down');
    assert.equal(down.length, 1, 'the down Job ran once');
    assert.ok(Date.parse(act('TrafficBack').finishedAt!) <= Date.parse(act('SchemaDown').at!));
    assert.ok(Date.parse(act('Replay').finishedAt!) <= Date.parse(act('SchemaDown').at!));
    assert.equal(down[0]!.env.CUTOVER_NAME, 'nokta');
    assert.equal(down[0]!.env.CUTOVER_SWITCHED_AT, sim.status.switchedAt);
    // A rollback before preparation ran its up Job does not run the down Job.
    const early = new Sim({ start: '2026-11-10T00:00:00Z' });
    early.cutover.metadata.annotations = { 'cutover.nokta.io/action': 'rollback' };
    early.run((s) => s.status.phase === 'RolledBack');
    const skipped = early.status.rollback!.actions!.find((a) => a.name === 'SchemaDown')!;
    assert.equal(skipped.state, 'Skipped');
    assert.equal(early.jobsCreated.filter((j) => j.purpose === 'schema-down').length, 0);
  });

  it('the security annotation before its activeFrom (Freeze) does nothing', () => {
    const sim = new Sim();
    sim.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
    sim.run((s) => s.status.phase === 'Shadow');
    assert.equal(sim.status.rollback, undefined);
  });

  it('a failed step after the switch rolls back with the replay', () => {
    const sim = new Sim();
    playToSwitch(sim);
    sim.world.reportKeys = [];
    // The 06:00 report never lands: make the Report step fail by a timeout.
    const spec = structuredClone(sim.cutover.spec);
    spec.timeline.steps.find((s) => s.name === 'lift-freeze')!.timeout = '1m';
    sim.cutover = { ...sim.cutover, spec };
    sim.apply = ((orig) =>
      function (this: Sim, actions: Action[]) {
        orig.call(
          this,
          actions.filter((a) => !(a.kind === 'PosOffline' && !a.on && this.status.rollback === undefined)),
        );
      })(sim.apply.bind(sim));
    sim.run((s) => s.status.phase === 'RolledBack');
    assert.equal(sim.status.rollback!.trigger, 'StepFailed');
    assertRolledBackSafely(sim, true);
  });

  it('each trigger in each phase where it is active (Monitoring, LegacyHot, PostCutover) rolls back safely', () => {
    for (const phase of ['Monitoring', 'LegacyHot', 'PostCutover'] as const)
      for (const trigger of ['SloBreach', 'ReconciliationVariance', 'SecurityFlag'] as const) {
        const sim = new Sim();
        sim.run((s) => s.status.phase === phase);
        assert.equal(sim.status.phase, phase);
        if (trigger === 'SloBreach') sim.slos = { 'pos-invoice': { value: 2.4, met: false } };
        else if (trigger === 'SecurityFlag')
          sim.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
        else
          sim.recons['post-cutover'] = {
            phase: 'Failed',
            runStartedAt: new Date(sim.now).toISOString(),
            runFinishedAt: new Date(sim.now + 1000).toISOString(),
            variancePercent: 1.7,
          };
        sim.run((s) => s.status.phase === 'RolledBack' || s.status.phase === 'Failed');
        assert.equal(sim.status.phase, 'RolledBack', `${trigger} in ${phase}`);
        assert.equal(sim.status.rollback!.trigger, trigger, `${trigger} in ${phase}`);
        assertRolledBackSafely(sim, true);
      }
  });

  it('one rollback at a time: a second trigger is recorded, not acted on', () => {
    const sim = new Sim();
    playToSwitch(sim);
    sim.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
    sim.sync();
    assert.equal(sim.status.phase, 'RollingBack');
    sim.slos = { 'pos-invoice': { value: 9, met: false } };
    sim.tick(HOUR);
    sim.run((s) => s.status.phase === 'RolledBack');
    assert.equal(sim.status.rollback!.trigger, 'SecurityFlag');
    assert.equal(sim.jobsCreated.filter((j) => j.purpose === 'replay').length, 1);
    assertRolledBackSafely(sim, true);
  });

  it('the replay waits for the export to catch up', () => {
    const sim = new Sim();
    playToSwitch(sim);
    sim.world.exportLagSeconds = 600;
    sim.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
    for (let i = 0; i < 5; i++) {
      sim.sync();
      sim.tick(1000);
    }
    assert.equal(firstIndex(sim.log, 'job replay'), -1);
    assert.match(
      sim.status.rollback!.actions!.find((a) => a.name === 'Replay')!.message!,
      /lag 600 s > 60 s/,
    );
    sim.world.exportLagSeconds = 2;
    sim.run((s) => s.status.phase === 'RolledBack');
    assertRolledBackSafely(sim, true);
  });

  it('a failed replay stops the rollback with legacy still frozen and nothing re-opened', () => {
    const sim = new Sim({ jobOutcome: (n) => (n.includes('replay') ? 'Failed' : 'Succeeded') });
    playToSwitch(sim);
    sim.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
    sim.run((s) => s.status.phase === 'Failed');
    checkAll(sim);
    assert.equal(sim.world.legacyReadOnly, true);
    assert.equal(sim.world.traffic['pos'], 'new');
    assert.equal(sim.status.conditions!.find((c) => c.type === 'Stalled')!.reason, 'RollbackFailed');
  });

  it('cutover.nokta.io/action=rollback starts a manual rollback', () => {
    const sim = new Sim();
    playToSwitch(sim);
    sim.cutover.metadata.annotations = { 'cutover.nokta.io/action': 'rollback' };
    sim.run((s) => s.status.phase === 'RolledBack');
    assert.equal(sim.status.rollback!.trigger, 'Manual');
    assertRolledBackSafely(sim, true);
  });

  it('rollback.automatic false holds and says so, no action', () => {
    const spec = structuredClone(SAMPLE.spec);
    spec.rollback!.automatic = false;
    const sim = new Sim({ spec });
    playToSwitch(sim);
    sim.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
    const d = sim.sync();
    assert.equal(sim.status.rollback, undefined);
    assert.equal(sim.status.conditions!.find((c) => c.type === 'Stalled')!.reason, 'RollbackHeld');
    assert.ok(d.actions.every((a) => a.kind === 'Notify'));
  });

  it('property: a trigger at any sync of the plan ends rolled back safely (or before the freeze, untouched)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 120 }), (k) => {
        const sim = new Sim();
        let n = 0;
        sim.run((s) => ++n >= k || s.status.phase === 'LegacyHot', 5000);
        sim.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
        const frozen = sim.status.frozenAt !== undefined || sim.world.legacyReadOnly === true;
        if (!frozen) {
          sim.sync();
          assert.equal(sim.status.rollback, undefined);
          return;
        }
        sim.run((s) => s.status.phase === 'RolledBack' || s.status.phase === 'Failed', 5000);
        assertRolledBackSafely(
          sim,
          firstIndex(sim.log, /^traffic .* -> new$/) >= 0 ||
            (sim.status.steps ?? []).some((x) => x.name === 'switch-traffic' && x.startedAt !== undefined),
        );
      }),
      { numRuns: 25 },
    );
  });
});

describe('cutover decide: crash safety (a crash before or after any claim)', function () {
  this.timeout(120_000);
  it('property: crashes at random syncs never run a side effect twice, never miss the rollback, never leave traffic on a frozen database', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom<'before-claim' | 'after-claim' | undefined>(
            'before-claim',
            'after-claim',
            undefined,
            undefined,
            undefined,
          ),
          {
            minLength: 50,
            maxLength: 50,
          },
        ),
        fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
        (crashes, triggerAt) => {
          const sim = new Sim();
          let n = 0;
          sim.crash = () => crashes[n++ % crashes.length];
          // The trigger comes k syncs after the freeze (k from 0 into legacy hot), or never.
          let afterFreeze = 0;
          sim.run((s) => {
            if (s.status.frozenAt !== undefined) afterFreeze++;
            if (triggerAt !== undefined && afterFreeze === triggerAt)
              s.cutover.metadata.annotations = { 'cutover.nokta.io/security-incident': 'true' };
            return (
              (s.status.phase === 'SteadyState' && s.world.reportKeys.includes('final')) ||
              (s.status.phase === 'RolledBack' && s.world.reportKeys.includes('review'))
            );
          }, 8000);
          if (triggerAt !== undefined)
            assert.equal(sim.status.phase, 'RolledBack', 'the rollback was not missed');
          checkAll(sim);
          // Every Job once (one name per purpose and attempt), every step started once.
          const names = sim.jobsCreated.map((j) => j.name);
          assert.equal(new Set(names).size, names.length);
          for (const st of sim.status.steps ?? [])
            assert.ok((st.attempt ?? 0) <= 1, `${st.name} started ${st.attempt} times`);
          // Every notification posted at most once, restarts or not.
          for (const [event, n] of sim.posts) assert.ok(n <= 1, `${event} posted ${n} times`);
          if (sim.status.phase === 'RolledBack') {
            for (const t of Object.values(sim.world.traffic)) assert.equal(t, 'legacy');
            assert.equal(sim.world.legacyReadOnly, false);
            assert.equal(sim.world.posOffline, false);
          } else if (sim.status.phase === 'SteadyState') {
            for (const t of Object.values(sim.world.traffic)) assert.equal(t, 'new');
            assert.equal(sim.world.posOffline, false, 'the new primary takes writes');
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});
