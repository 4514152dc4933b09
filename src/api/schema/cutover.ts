/** Cutover: the whole plan — shadow, canary, cutover-day timeline, rollback, post-cutover checks. */
import {
  type Schema,
  CONDITION_PATTERN,
  bool,
  databaseSchema,
  dateTime,
  duration,
  enumOf,
  jobTemplate,
  list,
  name,
  num,
  obj,
  objectName,
  offset,
  rule,
  secretKeyRef,
  statusBase,
  str,
  uniqueNames,
} from './common.js';
import { flagProviderSchema, trafficTarget } from './canary-phase.js';

export const CUTOVER_PHASES = [
  'Pending',
  'Shadow',
  'Canary',
  'AwaitingCutover',
  'CuttingOver',
  'Monitoring',
  'SteadyState',
  'RollingBack',
  'RolledBack',
  'Failed',
];
export const STEP_ACTIONS = [
  'Freeze',
  'DeltaSync',
  'ReconciliationSignOff',
  'TrafficSwitch',
  'EnableFlags',
  'LiftFreeze',
  'Monitor',
  'Report',
  'Job',
  'Notify',
];
export const STEP_STATES = [
  'Pending',
  'Waiting',
  'AwaitingApproval',
  'Running',
  'Succeeded',
  'Failed',
  'Skipped',
];

const workloadRef = obj(
  'A workload of one side.',
  {
    kind: enumOf('Deployment or StatefulSet.', ['Deployment', 'StatefulSet'], 'Deployment'),
    name: objectName('Workload name.'),
  },
  ['name'],
);

const service = obj(
  'A service that moves: its flag, its route, and its legacy and new workloads.',
  {
    name: name('Service name, e.g. pos.'),
    flagKey: str('Feature flag that sends this service to the new stack.', {
      maxLength: 128,
      pattern: '^[A-Za-z0-9_.:-]+$',
      hint: 'use letters, digits, _, ., : and -',
    }),
    traffic: trafficTarget,
    legacy: workloadRef,
    new: workloadRef,
  },
  ['name', 'legacy', 'new'],
  [
    rule<{ flagKey?: string; traffic?: unknown }>(
      'has(self.flagKey) || has(self.traffic)',
      'a service needs flagKey or traffic (or both): say how it is switched',
      (s) => s.flagKey !== undefined || s.traffic !== undefined,
      { reason: 'FieldValueRequired' },
    ),
  ],
);

const slo = obj(
  'A service level objective watched during canary and after the switch.',
  {
    name: name('SLO name, e.g. pos-invoice-latency.'),
    service: name('Service (from spec.services) it belongs to.'),
    description: str('What it means, e.g. POS invoice <= 1.5 s.', { maxLength: 512 }),
    query: str('PromQL returning one number (e.g. p95 latency in seconds).', {
      maxLength: 4096,
      minLength: 1,
    }),
    objective: str("Condition that holds while the SLO is met, e.g. 'result <= 1.5'.", {
      pattern: CONDITION_PATTERN,
      maxLength: 64,
      hint: "write 'result <op> number', e.g. 'result <= 1.5'",
    }),
  },
  ['name', 'query', 'objective'],
);

interface Step {
  name: string;
  action: string;
  at?: string;
  offset?: string;
  job?: unknown;
  reconciliations?: string[];
}
const step = obj(
  'One step of the cutover-day timeline, at an absolute UTC time or an offset from timeline.startAt.',
  {
    name: name('Step name, e.g. freeze-legacy-writes.'),
    action: enumOf('What the step does.', STEP_ACTIONS),
    at: dateTime('Absolute UTC time.'),
    offset: offset('Offset from timeline.startAt, e.g. +10m.'),
    owner: str('Who owns it (for the report), e.g. Operations Lead.', { maxLength: 128 }),
    description: str('What happens.', { maxLength: 1024 }),
    approval: obj('Manual gate: the step waits until cutover.nokta.io/approve names it.', {
      required: bool('Wait for approval.', true),
      approvers: list(
        'Who may approve (informational; RBAC decides).',
        str('Person or group.', { maxLength: 128 }),
        16,
      ),
    }),
    job: jobTemplate,
    reconciliations: list(
      'ReconciliationSignOff: Reconciliations that must have Passed (run now, after the delta sync).',
      objectName('Reconciliation name.'),
      20,
      { minItems: 1 },
    ),
    duration: duration('Monitor: how long to watch the SLOs; more than 0.', undefined, { positive: true }),
    timeout: duration(
      'Fail the step (and trigger rollback) if not done within this time; more than 0.',
      undefined,
      { positive: true },
    ),
  },
  ['name', 'action'],
  [
    rule<Step>(
      'has(self.at) != has(self.offset)',
      'a step has one time: set exactly one of at (UTC time) or offset (from timeline.startAt)',
      (s) => (s.at !== undefined) !== (s.offset !== undefined),
    ),
    rule<Step>(
      "!(self.action in ['DeltaSync', 'Job']) || has(self.job)",
      'DeltaSync and Job steps need job (image and command): add job',
      (s) => !(s.action === 'DeltaSync' || s.action === 'Job') || s.job !== undefined,
      { reason: 'FieldValueRequired' },
    ),
    rule<Step>(
      "self.action != 'ReconciliationSignOff' || has(self.reconciliations)",
      'ReconciliationSignOff needs reconciliations (names of Reconciliations that must pass): add them',
      (s) => s.action !== 'ReconciliationSignOff' || s.reconciliations !== undefined,
      { reason: 'FieldValueRequired' },
    ),
    rule<Step>(
      "self.action != 'Monitor' || has(self.duration)",
      'Monitor needs duration (how long to watch the SLOs): add duration',
      (s) => s.action !== 'Monitor' || (s as { duration?: string }).duration !== undefined,
      { reason: 'FieldValueRequired' },
    ),
  ],
);

interface Timeline {
  startAt?: string;
  steps: Step[];
}
const timeline = obj(
  'The cutover day.',
  {
    startAt: dateTime('T0 that step offsets count from, e.g. 2026-12-01T02:00:00Z.'),
    steps: list(
      'Steps in order; names unique; exactly one TrafficSwitch (its time is the switch time).',
      step,
      30,
      { minItems: 1, rules: [uniqueNames('step')] },
    ),
  },
  ['steps'],
  [
    rule<Timeline>(
      'has(self.startAt) || self.steps.all(s, !has(s.offset))',
      'steps with offset need timeline.startAt: set startAt or give those steps at',
      (s) => s.startAt !== undefined || s.steps.every((x) => x.offset === undefined),
      { reason: 'FieldValueRequired' },
    ),
    rule<Timeline>(
      "self.steps.exists_one(s, s.action == 'TrafficSwitch')",
      'the timeline needs exactly one TrafficSwitch step: its time is the switch time',
      (s) => s.steps.filter((x) => x.action === 'TrafficSwitch').length === 1,
      { fieldPath: '.steps' },
    ),
    rule<Timeline>(
      'self.steps.filter(s, has(s.at)).map(s, timestamp(s.at)).isSorted()',
      'steps with at must be in time order: reorder them or fix the times',
      (s) => {
        const times = s.steps.filter((x) => x.at !== undefined).map((x) => Date.parse(x.at!));
        return times.every((t, i) => i === 0 || t >= times[i - 1]!);
      },
      { fieldPath: '.steps' },
    ),
  ],
);

const rollback = obj('When and how to go back to legacy.', {
  automatic: bool('Roll back by itself when a trigger holds (false: only mark Stalled and notify).', true),
  triggers: obj('Conditions that start a rollback.', {
    sloBreach: obj('An SLO not met for longer than for.', {
      for: duration('How long a breach may last.', '30m'),
      slos: list('SLOs watched (all when absent).', name('SLO name.'), 32),
    }),
    reconciliationVariancePercent: num(
      'Variance (%) of a post-cutover or sign-off Reconciliation that triggers rollback.',
      0,
      100,
      1,
    ),
    securityFlag: obj('A person sets this annotation to true on the Cutover for a critical security flaw.', {
      annotation: str('Annotation key.', { maxLength: 253, default: 'cutover.nokta.io/security-incident' }),
    }),
  }),
  actions: obj('What a rollback does, in this order.', {
    trafficBack: bool('Route traffic back to legacy.', true),
    flagsOff: bool('Turn the new-stack flags off for all tenants.', true),
    liftLegacyFreeze: bool('Lift the legacy write freeze.', true),
    replayJob: jobTemplate,
    notify: bool('Notify stakeholders.', true),
  }),
  keepLegacyHotFor: duration('How long after the switch legacy stays ready for rollback.', '48h'),
});

interface Spec {
  services?: { name: string }[];
  slos?: { name: string; service?: string }[];
  rollback?: { triggers?: { sloBreach?: { slos?: string[] } } };
  shadow?: { mirroring?: { services?: string[] } };
}
export const cutoverSpec: Schema = obj(
  'The whole cutover plan.',
  {
    services: list('Services that move; names unique.', service, 16, {
      minItems: 1,
      rules: [uniqueNames('service')],
    }),
    databases: obj(
      'The two databases (and Redis).',
      {
        legacy: databaseSchema,
        target: databaseSchema,
        redis: obj('Redis of the new stack.', { secretRef: secretKeyRef }, ['secretRef']),
      },
      ['legacy', 'target'],
    ),
    flagProvider: flagProviderSchema,
    prometheusAddress: str('Prometheus URL for the SLO queries.', {
      maxLength: 512,
      pattern: '^https?://',
      hint: 'start with http:// or https://',
    }),
    slos: list('Service level objectives; names unique.', slo, 32, { rules: [uniqueNames('SLO')] }),
    shadow: obj(
      'Shadow phase: mirror reads, reconcile nightly, remediate.',
      {
        startAt: dateTime('Start (Day -7).'),
        endAt: dateTime('End (Day -3).'),
        mirroring: obj('Mirror read traffic into the new stack.', {
          enabled: bool('Mirror.', true),
          services: list('Services mirrored (all when absent).', name('Service.'), 16),
        }),
        reconciliations: list(
          'Nightly Reconciliations that must pass.',
          objectName('Reconciliation name.'),
          20,
        ),
        remediationJob: jobTemplate,
      },
      ['startAt', 'endAt'],
      [
        rule<{ startAt: string; endAt: string }>(
          'timestamp(self.startAt) < timestamp(self.endAt)',
          'shadow.endAt must be after shadow.startAt: fix the dates',
          (s) => Date.parse(s.startAt) < Date.parse(s.endAt),
          { fieldPath: '.endAt' },
        ),
      ],
    ),
    canary: obj(
      'Canary phases (CanaryPhase objects), run in order.',
      {
        phases: list('CanaryPhase names.', objectName('CanaryPhase name.'), 10, { minItems: 1 }),
      },
      ['phases'],
    ),
    freeze: obj(
      'How legacy writes are frozen and lifted.',
      {
        method: enumOf(
          'ReadOnly (SET GLOBAL read_only on legacy MySQL), Flag (a flag the apps honour) or Job.',
          ['ReadOnly', 'Flag', 'Job'],
        ),
        flagKey: str('Flag: its key.', { maxLength: 128 }),
        job: jobTemplate,
        liftJob: jobTemplate,
      },
      ['method'],
      [
        rule<{ method: string; flagKey?: string; job?: unknown; liftJob?: unknown }>(
          "self.method != 'Flag' || has(self.flagKey)",
          'method Flag needs flagKey: add flagKey',
          (s) => s.method !== 'Flag' || s.flagKey !== undefined,
          { reason: 'FieldValueRequired' },
        ),
        rule<{ method: string; flagKey?: string; job?: unknown; liftJob?: unknown }>(
          "self.method != 'Job' || (has(self.job) && has(self.liftJob))",
          'method Job needs job and liftJob: add both',
          (s) => s.method !== 'Job' || (s.job !== undefined && s.liftJob !== undefined),
          { reason: 'FieldValueRequired' },
        ),
      ],
    ),
    timeline,
    rollback,
    postCutover: obj('After the switch.', {
      reconciliations: list(
        'Reconciliations scheduled from the switch time (their schedule.offsets, e.g. +4h, +24h, +72h).',
        objectName('Reconciliation name.'),
        20,
      ),
      steadyStateAfter: duration('Stable time before steady state.', '14d'),
      requireSignOff: bool('Also wait for cutover.nokta.io/approve=steady-state.', true),
    }),
    notifications: obj('Where to report.', {
      slack: obj(
        'Slack-compatible incoming webhook.',
        {
          webhookSecretRef: secretKeyRef,
          channel: str('Channel, e.g. #cutover-warroom.', {
            maxLength: 80,
            pattern: '^#[a-z0-9_-]{1,79}$',
            hint: 'write a channel like #cutover-warroom',
          }),
        },
        ['webhookSecretRef'],
      ),
    }),
    paused: bool('Hold the timeline (rollback triggers still act).', false),
  },
  ['services', 'databases', 'timeline'],
  [
    rule<Spec>(
      '!has(self.slos) || self.slos.all(o, !has(o.service) || self.services.exists(s, s.name == o.service))',
      'slos[].service must name a service of spec.services: fix the name',
      (s) =>
        s.slos === undefined ||
        s.services === undefined ||
        s.slos.every((o) => o.service === undefined || s.services!.some((x) => x.name === o.service)),
      { fieldPath: '.slos' },
    ),
    rule<Spec>(
      '!has(self.rollback) || !has(self.rollback.triggers) || !has(self.rollback.triggers.sloBreach) || !has(self.rollback.triggers.sloBreach.slos) || (has(self.slos) && self.rollback.triggers.sloBreach.slos.all(n, self.slos.exists(o, o.name == n)))',
      'rollback.triggers.sloBreach.slos must name SLOs of spec.slos: fix the name or add the SLO',
      (s) => {
        const names = s.rollback?.triggers?.sloBreach?.slos;
        return (
          names === undefined ||
          (s.slos !== undefined && names.every((n) => s.slos!.some((o) => o.name === n)))
        );
      },
      { fieldPath: '.rollback' },
    ),
  ],
);

export const cutoverStatus: Schema = statusBase(CUTOVER_PHASES, {
  currentStep: str('Step running or waiting now.', { maxLength: 63 }),
  nextStep: str('Next planned step.', { maxLength: 63 }),
  nextStepAt: dateTime('When it is planned.'),
  switchedAt: dateTime('When traffic switched (T for the post-cutover offsets).'),
  legacyHotUntil: dateTime('Until when legacy is kept ready.'),
  steadyStateAt: dateTime('When steady state was reached.'),
  canaryPhase: str('CanaryPhase running now.', { maxLength: 253 }),
  approvedSteps: list('Steps/gates approved.', str('Name.', { maxLength: 63 }), 40),
  lastActionToken: str('Last action annotation acted on.', { maxLength: 256 }),
  steps: list(
    'The timeline with timestamps.',
    obj('A step.', {
      name: str('Step.', { maxLength: 63 }),
      state: enumOf('State.', STEP_STATES),
      plannedAt: dateTime('Planned time.'),
      startedAt: dateTime('Start.'),
      finishedAt: dateTime('End.'),
      jobName: str('Job created.', { maxLength: 253 }),
      message: str('Details.', { maxLength: 1024 }),
    }),
    30,
  ),
  sloBreaches: list(
    'SLOs not met now.',
    obj('A breach.', {
      slo: str('SLO.', { maxLength: 63 }),
      since: dateTime('Since.'),
      value: str('Last value.', { maxLength: 64 }),
    }),
    32,
  ),
  rollback: obj('The rollback record.', {
    trigger: enumOf('What triggered it.', [
      'SloBreach',
      'ReconciliationVariance',
      'SecurityFlag',
      'StepFailed',
      'Manual',
    ]),
    reason: str('Details.', { maxLength: 1024 }),
    triggeredAt: dateTime('When.'),
    completedAt: dateTime('Done.'),
    actions: list(
      'Actions and their state.',
      obj('An action.', {
        name: str('Action.', { maxLength: 63 }),
        state: enumOf('State.', ['Pending', 'Running', 'Succeeded', 'Failed']),
        at: dateTime('When.'),
        message: str('Details.', { maxLength: 1024 }),
      }),
      10,
    ),
  }),
  message: str('What happens now, for people.', { maxLength: 1024 }),
});
