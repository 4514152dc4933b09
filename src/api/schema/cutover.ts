/** Cutover: the whole plan — shadow, canary, cutover-day timeline, rollback, post-cutover checks. */
import {
  type Schema,
  CONDITION_PATTERN,
  bool,
  databaseSchema,
  dateTime,
  duration,
  enumOf,
  int,
  jobTemplate,
  list,
  name,
  num,
  obj,
  objectName,
  rule,
  secretKeyRef,
  statusBase,
  str,
  uniqueNames,
} from './common.js';
import { flagProviderSchema, trafficTarget } from './canary-phase.js';
import { shadowComparisonSchema } from '../../shadow/rules-schema.js';

export const CUTOVER_PHASES = [
  'Pending',
  'Preparation',
  'Shadow',
  'Canary',
  'AwaitingCutover',
  'CuttingOver',
  'Monitoring',
  'LegacyHot',
  'PostCutover',
  'SteadyState',
  'Paused',
  'RollingBack',
  'RolledBack',
  'Failed',
  'Aborted',
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
/** What a failed step (or a gate that timed out) leads to. */
export const ON_FAILURE = ['Rollback', 'Pause', 'Abort'];
/**
 * Rollback actions. The default order loses no write: the new stack stops taking writes (POS
 * offline queue on), the replay Job applies new-stack changes since the freeze to legacy, a
 * Reconciliation bounded to that window verifies it, traffic and flags go back, legacy writes are
 * re-opened, the POS queue drains into legacy, people are told.
 */
export const ROLLBACK_ACTIONS = [
  'PosOfflineOn',
  'Replay',
  'VerifyReplay',
  'TrafficBack',
  'FlagsOff',
  'ReopenLegacyWrites',
  'DrainQueue',
  'SchemaDown',
  'Notify',
];
/** Points of the plan a trigger window starts or ends at. */
export const MILESTONES = [
  'Preparation',
  'Shadow',
  'Canary',
  'Freeze',
  'Switch',
  'LegacyHotEnd',
  'SteadyState',
];
/** The environment every Job the Cutover creates gets (documented in docs/cutover.md). */
export const JOB_ENVIRONMENT = [
  'CUTOVER_NAME',
  'CUTOVER_FROZEN_AT',
  'CUTOVER_SWITCHED_AT',
  'CUTOVER_LAST_SYNC_AT',
  'CUTOVER_REPORT_CONFIGMAP',
];

/**
 * A timeline offset: h, m and s only (+48h, not +2d), so the API server can add it to startAt and
 * check the order of all steps.
 */
const STEP_OFFSET_PATTERN = '^[+-]([0-9]+h)?([0-9]+m)?([0-9]+s)?$';
const stepOffset = str('Offset from timeline.startAt, e.g. +10m or +48h (units h, m, s).', {
  maxLength: 32,
  rules: [
    rule<string>(
      `self.matches('${STEP_OFFSET_PATTERN}') && self.size() > 1`,
      'must look like +10m, +1h30m or +48h: write a sign, then hours (h), minutes (m) and seconds (s)',
      (s) => new RegExp(STEP_OFFSET_PATTERN).test(s) && s.length > 1,
    ),
  ],
});

const triggerWindow = {
  activeFrom: enumOf('Milestone from which the trigger acts.', MILESTONES, 'Switch'),
  activeUntil: enumOf('Milestone until which the trigger acts.', MILESTONES, 'SteadyState'),
};

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
  dependsOn?: string[];
  tenants?: string[];
}
const step = obj(
  'One step of the cutover-day timeline, at an absolute UTC time or an offset from timeline.startAt.',
  {
    name: name('Step name, e.g. freeze-legacy-writes.'),
    action: { ...enumOf('What the step does.', STEP_ACTIONS), maxLength: 32 },
    at: dateTime('Absolute UTC time.'),
    offset: stepOffset,
    dependsOn: list(
      'Steps that must have succeeded first (default: the step before this one); a step may only wait for an earlier one.',
      name('Step name.'),
      4,
    ),
    onFailure: enumOf(
      'What a failure or timeout of this step leads to: Rollback, Pause (wait for a person) or Abort (stop the plan where it is).',
      ON_FAILURE,
      'Rollback',
    ),
    services: list(
      'TrafficSwitch / EnableFlags: services (from spec.services) moved by this step; all when absent.',
      name('Service name.'),
      16,
    ),
    tenants: list(
      'EnableFlags: tenants the flags are turned on for; all when absent.',
      str('Tenant id.', { maxLength: 128, minLength: 1 }),
      1000,
    ),
    owner: str('Who owns it (for the report), e.g. Operations Lead.', { maxLength: 128 }),
    description: str('What happens.', { maxLength: 1024 }),
    approval: obj(
      'Manual gate: the step waits until the annotation cutover.nokta.io/approve=<step> is set (who set it is recorded).',
      {
        required: bool('Wait for approval.', true),
        approvers: list(
          'Who may approve (informational; RBAC decides).',
          str('Person or group.', { maxLength: 128 }),
          16,
        ),
        timeout: duration('How long the gate waits; more than 0. No timeout when absent.', undefined, {
          positive: true,
        }),
        onTimeout: enumOf('What a timed-out gate leads to.', ON_FAILURE, 'Pause'),
      },
    ),
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
      "!has(self.tenants) || self.action == 'EnableFlags'",
      'tenants is for EnableFlags steps: remove it or make the step EnableFlags',
      (s) => s.tenants === undefined || s.action === 'EnableFlags',
      { fieldPath: '.tenants' },
    ),
    rule<Step>(
      '!has(self.dependsOn) || !(self.name in self.dependsOn)',
      'a step cannot depend on itself: remove its own name from dependsOn',
      (s) => s.dependsOn === undefined || !s.dependsOn.includes(s.name),
      { fieldPath: '.dependsOn' },
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

export interface Timeline {
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
      'has(self.startAt) ? self.steps.map(s, has(s.at) ? timestamp(s.at) : timestamp(self.startAt) + duration(s.offset)).isSorted() : self.steps.filter(s, has(s.at)).map(s, timestamp(s.at)).isSorted()',
      'steps must be in time order (at, or startAt + offset, over all steps): reorder them or fix the times',
      (s) => {
        const times = stepTimes(s);
        return times.every((t, i) => i === 0 || t >= times[i - 1]!);
      },
      { fieldPath: '.steps' },
    ),
    rule<Timeline>(
      "!(has(self.startAt) || self.steps.all(x, has(x.at))) || self.steps.all(f, f.action != 'Freeze' || self.steps.all(w, w.action != 'TrafficSwitch' || (has(f.at) ? timestamp(f.at) : timestamp(self.startAt) + duration(f.offset)) < (has(w.at) ? timestamp(w.at) : timestamp(self.startAt) + duration(w.offset))))",
      'the Freeze step must be planned before the TrafficSwitch step: move it earlier',
      (s) => plannedBefore(s, 'Freeze', 'TrafficSwitch'),
      { fieldPath: '.steps' },
    ),
    rule<Timeline>(
      "!(has(self.startAt) || self.steps.all(x, has(x.at))) || self.steps.all(l, l.action != 'LiftFreeze' || self.steps.all(w, w.action != 'TrafficSwitch' || (has(w.at) ? timestamp(w.at) : timestamp(self.startAt) + duration(w.offset)) < (has(l.at) ? timestamp(l.at) : timestamp(self.startAt) + duration(l.offset))))",
      'LiftFreeze lifts the freeze on the new primary, after the switch: plan it after the TrafficSwitch step',
      (s) => plannedBefore(s, 'TrafficSwitch', 'LiftFreeze'),
      { fieldPath: '.steps' },
    ),
    rule<Timeline>(
      'self.steps.all(s, !has(s.dependsOn) || s.dependsOn.all(d, self.steps.exists(x, x.name == d)))',
      'dependsOn must name steps of the timeline: fix the name',
      (s) =>
        s.steps.every(
          (x) => x.dependsOn === undefined || x.dependsOn.every((d) => s.steps.some((y) => y.name === d)),
        ),
      { fieldPath: '.steps' },
    ),
  ],
);

/** Each step's planned time in ms (at, or startAt + offset); steps without a time are left out. */
export function stepTimes(t: Timeline): number[] {
  const out: number[] = [];
  for (const x of t.steps) {
    if (x.at !== undefined) out.push(Date.parse(x.at));
    else if (x.offset !== undefined && t.startAt !== undefined)
      out.push(Date.parse(t.startAt) + signedOffsetMs(x.offset));
  }
  return out;
}
/** One step's planned time in ms, when it has one. */
function stepTime(t: Timeline, x: Step): number | undefined {
  if (x.at !== undefined) return Date.parse(x.at);
  if (x.offset !== undefined && t.startAt !== undefined)
    return Date.parse(t.startAt) + signedOffsetMs(x.offset);
  return undefined;
}
/** Every step of action `a` is planned strictly before every step of action `b` (when all steps have a time). */
function plannedBefore(t: Timeline, a: string, b: string): boolean {
  if (t.startAt === undefined && !t.steps.every((x) => x.at !== undefined)) return true;
  return t.steps.every(
    (x) => x.action !== a || t.steps.every((y) => y.action !== b || stepTime(t, x)! < stepTime(t, y)!),
  );
}
/** +1h30m, -10m, +45s in ms (the step offset grammar; 0 for anything else). */
export function signedOffsetMs(text: string): number {
  const m = /^([+-])(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$/.exec(text);
  if (!m) return 0;
  const ms = (Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0)) * 1000;
  return m[1] === '-' ? -ms : ms;
}

const rollback = obj(
  'When and how to go back to legacy.',
  {
    automatic: bool('Roll back by itself when a trigger holds (false: only mark Stalled and notify).', true),
    triggers: obj('Conditions that start a rollback; each acts from activeFrom until activeUntil.', {
      sloBreach: obj('An SLO not met for longer than for.', {
        for: duration('How long a breach may last.', '30m'),
        slos: list('SLOs watched (all when absent).', name('SLO name.'), 32),
        ...triggerWindow,
      }),
      reconciliationVariance: obj('Variance of a sign-off or post-cutover Reconciliation above a limit.', {
        percent: num('Variance (%) that triggers rollback.', 0, 100, 1),
        ...triggerWindow,
      }),
      securityFlag: obj(
        'A person sets this annotation to true on the Cutover for a critical security flaw.',
        {
          annotation: str('Annotation key.', {
            maxLength: 253,
            default: 'cutover.nokta.io/security-incident',
          }),
          ...triggerWindow,
        },
      ),
      stepFailed: obj('A step with onFailure Rollback failed or timed out.', {
        enabled: bool('Act on failed steps.', true),
      }),
    }),
    order: list(
      'Rollback actions in order; the default loses no write (see ROLLBACK_ACTIONS). Actions that do not apply yet (Replay before the switch) are skipped.',
      enumOf('Action.', ROLLBACK_ACTIONS),
      9,
      {
        default: ROLLBACK_ACTIONS,
        rules: [
          rule<string[]>(
            'self.all(x, self.exists_one(y, y == x))',
            'rollback actions must be unique: remove the duplicate',
            (s) => new Set(s).size === s.length,
          ),
          rule<string[]>(
            "!('Replay' in self) || (self.indexOf('PosOfflineOn') >= 0 && self.indexOf('PosOfflineOn') < self.indexOf('Replay'))",
            'PosOfflineOn must come before Replay: writes the new stack takes after the replay started would be lost',
            (s) =>
              !s.includes('Replay') ||
              (s.indexOf('PosOfflineOn') >= 0 && s.indexOf('PosOfflineOn') < s.indexOf('Replay')),
          ),
          rule<string[]>(
            "!('ReopenLegacyWrites' in self) || self.indexOf('Replay') < self.indexOf('ReopenLegacyWrites')",
            'Replay must come before ReopenLegacyWrites: legacy may take new writes only after the new-stack changes are back',
            (s) => !s.includes('ReopenLegacyWrites') || s.indexOf('Replay') < s.indexOf('ReopenLegacyWrites'),
          ),
          rule<string[]>(
            "!('DrainQueue' in self) || (self.indexOf('ReopenLegacyWrites') >= 0 && self.indexOf('ReopenLegacyWrites') < self.indexOf('DrainQueue'))",
            'DrainQueue must come after ReopenLegacyWrites: the POS queue drains into legacy, which must take writes',
            (s) =>
              !s.includes('DrainQueue') ||
              (s.indexOf('ReopenLegacyWrites') >= 0 &&
                s.indexOf('ReopenLegacyWrites') < s.indexOf('DrainQueue')),
          ),
          rule<string[]>(
            "!('SchemaDown' in self) || (self.indexOf('TrafficBack') >= 0 && self.indexOf('TrafficBack') < self.indexOf('SchemaDown') && self.indexOf('Replay') < self.indexOf('SchemaDown'))",
            'SchemaDown must come after TrafficBack and Replay: the new schema goes only once no traffic and no replay reads it',
            (s) =>
              !s.includes('SchemaDown') ||
              (s.indexOf('TrafficBack') >= 0 &&
                s.indexOf('TrafficBack') < s.indexOf('SchemaDown') &&
                s.indexOf('Replay') < s.indexOf('SchemaDown')),
          ),
        ],
      },
    ),
    replayJob: jobTemplate,
    verifyReconciliation: objectName(
      'VerifyReplay: a Reconciliation run bounded to the window frozenAt .. rollback start.',
    ),
    exportJob: jobTemplate,
    maxExportLag: duration('Replay waits until the export Job has caught up to within this lag.', '1m'),
    keepLegacyHotFor: duration('How long after the switch legacy stays ready for rollback.', '48h'),
    legacyReplicasAfterHot: int('Replicas of the legacy workloads once legacy hot has ended.', 0, 100, 0),
  },
  [],
  [
    rule<{ order?: string[]; replayJob?: unknown }>(
      "!has(self.order) || !('Replay' in self.order) || has(self.replayJob)",
      'rollback.order has Replay: add replayJob (the Job that applies new-stack changes to legacy)',
      (s) => s.order === undefined || !s.order.includes('Replay') || s.replayJob !== undefined,
      { reason: 'FieldValueRequired', fieldPath: '.replayJob' },
    ),
  ],
);

const integrationCheck = obj(
  'An HTTP probe of a third-party integration (payments, SMS, maps) with sandbox credentials.',
  {
    name: name('Check name, e.g. payments-sandbox.'),
    url: str('URL probed.', {
      maxLength: 2048,
      pattern: '^https?://',
      hint: 'start with http:// or https://',
    }),
    method: enumOf('HTTP method.', ['GET', 'HEAD', 'POST'], 'GET'),
    expectStatus: int('Status that means healthy.', 100, 599, 200),
    header: obj(
      'A header whose value (e.g. a token) comes from a Secret; never shown in status.',
      {
        name: str('Header name.', { maxLength: 128, pattern: '^[A-Za-z0-9-]+$', hint: 'e.g. Authorization' }),
        secretRef: secretKeyRef,
      },
      ['name', 'secretRef'],
    ),
    timeout: duration('Time limit of one probe.', '10s', { positive: true }),
  },
  ['name', 'url'],
);

const versionedJob = obj(
  'A versioned schema migration: its up Job and the down Job a rollback runs.',
  {
    version: str('Migration version, e.g. 2026.11.1.', { maxLength: 64, minLength: 1 }),
    job: jobTemplate,
    downJob: jobTemplate,
  },
  ['version', 'job'],
);

const preparation = obj(
  'Before the shadow phase: schema migration, bulk copy, post-load SQL, integration checks (in this order).',
  {
    schemaMigration: versionedJob,
    bulkCopy: obj(
      'The initial bulk copy (e.g. pgloader with samples/nokta/pgloader.load).',
      { job: jobTemplate },
      ['job'],
    ),
    postLoadSql: obj(
      'The post-load SQL on the target (UUIDs, tenant scoping, default flags), run as a Job.',
      { job: jobTemplate },
      ['job'],
    ),
    integrationChecks: list('Third-party integration checks; names unique.', integrationCheck, 16, {
      rules: [uniqueNames('integration check')],
    }),
  },
);

interface Spec {
  services?: { name: string; traffic?: unknown }[];
  freeze?: unknown;
  timeline?: { steps?: { action: string; services?: string[] }[] };
  slos?: { name: string; service?: string }[];
  rollback?: { triggers?: { sloBreach?: { slos?: string[] } } };
  shadow?: { mirroring?: { services?: string[] }; comparison?: { service?: string }[] };
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
    preparation,
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
        remediatePercent: num(
          'Variance (%) above which the remediation Job runs and the Reconciliation reruns.',
          0,
          100,
          0.5,
        ),
        maxReruns: int('Remediation runs per Reconciliation before the Cutover stalls.', 0, 10, 2),
        comparison: list(
          'Comparing shadow proxies: per service, the operator deploys `cutover shadow-proxy` with these rules, routes the service through it for the shadow phase, and restores the route when the phase ends or rolls back.',
          { ...shadowComparisonSchema, required: ['service'] },
          16,
          { rules: [uniqueNames('shadow comparison', 'service')] },
        ),
        maxDifferencePercent: num(
          'Go/no-go to canary: the shadow phase does not end while a compared service differs in more than this share (%) of its compared answers.',
          0,
          100,
        ),
        minCompared: int(
          'Answers a service must have compared before its difference rate counts for the go/no-go.',
          0,
          100000000,
          100,
        ),
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
          'ReadOnly (SET GLOBAL read_only on legacy MySQL). Flag and Job are reserved names and refused: the controller freezes with read_only only.',
          ['ReadOnly', 'Flag', 'Job'],
        ),
        flagKey: str('Flag: its key.', { maxLength: 128 }),
        job: jobTemplate,
        liftJob: jobTemplate,
        posOffline: obj(
          'The POS offline-first queue flag: on before the freeze, off (queue drained) after the lift on the new primary.',
          {
            service: name('Service of the flag.'),
            flagKey: str('Flag key, e.g. pos.offline-queue.', {
              maxLength: 128,
              pattern: '^[A-Za-z0-9_.:-]+$',
              hint: 'use letters, digits, _, ., : and -',
            }),
          },
          ['flagKey'],
        ),
        verification: obj(
          'A write by a non-privileged application user that must be refused while frozen.',
          {
            secretRef: secretKeyRef,
            table: str("Table (in that user's database) the write targets.", {
              maxLength: 64,
              pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$',
              hint: 'a SQL identifier: letters, digits and _',
              default: 'cutover_freeze_probe',
            }),
          },
          ['secretRef'],
        ),
      },
      ['method'],
      [
        rule<{ method: string }>(
          "self.method == 'ReadOnly'",
          'freeze methods Flag and Job are reserved and refused: this operator freezes legacy with read_only only, so use method ReadOnly',
          (s) => s.method === 'ReadOnly',
          { reason: 'FieldValueForbidden' },
        ),
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
    report: obj('The Markdown report (06:00 checkpoint, final, post-incident review).', {
      configMapName: objectName('ConfigMap the report is written to (default <cutover>-report).'),
    }),
    postCutover: obj('After the switch.', {
      reconciliations: list(
        'Reconciliations scheduled from the switch time (their schedule.offsets, e.g. +4h, +24h, +72h).',
        objectName('Reconciliation name.'),
        20,
      ),
      steadyStateAfter: duration('Stable time (no SLO breach) before steady state.', '14d'),
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
      "!self.timeline.steps.exists(s, s.action == 'Freeze') || has(self.freeze)",
      'a Freeze step needs spec.freeze (how legacy writes are frozen): add freeze',
      (s) => !(s.timeline?.steps ?? []).some((x) => x.action === 'Freeze') || s.freeze !== undefined,
      { reason: 'FieldValueRequired', fieldPath: '.freeze' },
    ),
    rule<Spec>(
      '!self.timeline.steps.exists(st, has(st.services) && !st.services.all(n, self.services.exists(x, x.name == n)))',
      'timeline.steps[].services must name services of spec.services: fix the name',
      (s) =>
        !(s.timeline?.steps ?? []).some(
          (st) =>
            st.services !== undefined &&
            !st.services.every((n) => (s.services ?? []).some((x) => x.name === n)),
        ),
      { fieldPath: '.timeline' },
    ),
    rule<Spec>(
      '!has(self.shadow) || !has(self.shadow.comparison) || self.shadow.comparison.all(c, self.services.exists(s, s.name == c.service && has(s.traffic)))',
      'shadow.comparison[].service must name a service of spec.services with traffic (the proxy is routed through it): fix the name or add traffic',
      (s) =>
        (s.shadow?.comparison ?? []).every((c) =>
          (s.services ?? []).some((x) => x.name === c.service && x.traffic !== undefined),
        ),
      { fieldPath: '.shadow' },
    ),
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

const t = (d: string): Schema => dateTime(d);
const msg = (d: string): Schema => str(d, { maxLength: 1024 });
const short = (d: string): Schema => str(d, { maxLength: 253 });
const JOB_RECORD = {
  jobName: short('Job created (deterministic name: one Job per attempt).'),
};

export const cutoverStatus: Schema = statusBase(CUTOVER_PHASES, {
  currentStep: str('Step running or waiting now.', { maxLength: 63 }),
  nextStep: str('Next planned step.', { maxLength: 63 }),
  nextStepAt: t('When it is planned.'),
  pausedAt: str(
    'Where the plan is held (spec.paused, a failed step with onFailure Pause, a timed-out gate).',
    {
      maxLength: 63,
    },
  ),
  frozenAt: t('When legacy writes were frozen (CUTOVER_FROZEN_AT).'),
  lastSyncAt: t('When the final delta sync finished (CUTOVER_LAST_SYNC_AT).'),
  switchedAt: t('When traffic switched (T for the post-cutover offsets; CUTOVER_SWITCHED_AT).'),
  legacyHotUntil: t('Until when legacy is kept ready.'),
  legacyScaledAt: t(
    'When legacy hot ended: the legacy workloads were scaled to rollback.legacyReplicasAfterHot and the export Job stopped.',
  ),
  stableSince: t('Since when no SLO has been breached (steady state after postCutover.steadyStateAfter).'),
  steadyStateAt: t('When steady state was reached.'),
  canaryPhase: str('CanaryPhase running now.', { maxLength: 253 }),
  approvedSteps: list('Steps/gates approved.', str('Name.', { maxLength: 63 }), 40),
  approvals: list(
    'Approvals: which gate, who, when.',
    obj('An approval.', {
      step: str('Step or gate.', { maxLength: 63 }),
      by: short('Who approved (the approved-by annotation, else the manager of the approve annotation).'),
      at: t('When it was seen.'),
    }),
    40,
  ),
  lastActionToken: str('Last action annotation acted on.', { maxLength: 256 }),
  preparation: list(
    'Preparation work: schema migration, bulk copy, post-load SQL, integration checks.',
    obj('One item.', {
      name: str('schemaMigration, bulkCopy, postLoadSql or check:<name>.', { maxLength: 80 }),
      state: enumOf('State.', STEP_STATES),
      attempt: int(
        'Attempts so far: a failed item is retried with cutover.nokta.io/approve=retry:<name>:<attempt>.',
        0,
        100,
      ),
      ...JOB_RECORD,
      startedAt: t('Start.'),
      finishedAt: t('End.'),
      message: msg('Details (an HTTP status, a Job failure).'),
    }),
    24,
  ),
  shadow: obj('Shadow phase records.', {
    completedAt: t(
      'When the shadow phase ended with its gates met; later reruns of its Reconciliations (the sign-off) do not reopen it.',
    ),
    proxies: list(
      'The comparing shadow proxies, per service: where they are and what they measured.',
      obj('One service.', {
        service: short('Service.'),
        state: enumOf('Deployed (routed through the proxy) or Removed (route restored).', [
          'Deployed',
          'Removed',
        ]),
        compared: int('Answers compared so far.', 0, 1e15),
        differing: int('Compared answers with a difference.', 0, 1e15),
        differencePercent: num('The shadowDifferences metric: differing / compared in %.', 0, 100),
        measuredAt: t('When the metric was read.'),
        message: msg('Why the metric could not be read, when it could not.'),
      }),
      16,
    ),
    reruns: list(
      'Remediation reruns per Reconciliation.',
      obj('One.', {
        reconciliation: short('Reconciliation.'),
        count: int('Reruns so far.', 0, 100),
        state: enumOf('State of the last remediation.', STEP_STATES),
        at: t('When the last remediation started.'),
        ...JOB_RECORD,
      }),
      20,
    ),
  }),
  steps: list(
    'The timeline with timestamps.',
    obj('A step.', {
      name: str('Step.', { maxLength: 63 }),
      state: enumOf('State.', STEP_STATES),
      attempt: int('Attempt number (1 on the first start; a Job step creates one Job per attempt).', 0, 100),
      plannedAt: t('Planned time.'),
      awaitingSince: t('When the step reached its approval gate (the gate timeout counts from here).'),
      startedAt: t('Start (written before the step acts).'),
      finishedAt: t('End.'),
      ...JOB_RECORD,
      message: msg('Details.'),
    }),
    30,
  ),
  freeze: obj('The legacy write freeze record.', {
    legacyReadOnly: bool('Legacy read_only is on.'),
    posOffline: bool('The POS offline-first queue flag is on.'),
    verified: bool('A write by the verification user was refused while frozen.'),
    frozenBy: short('Who froze (the operator and step).'),
    newPrimaryLiftedAt: t('When the freeze was lifted on the new primary (the POS queue drained into it).'),
    legacyReopenedAt: t('When legacy writes were re-opened (only by a rollback).'),
  }),
  signOff: obj('The reconciliation sign-off.', {
    step: str('Sign-off step.', { maxLength: 63 }),
    afterSyncAt: t('The delta sync finished at; only runs that started later count.'),
    reconciliations: list(
      'The runs signed off on.',
      obj('A run.', {
        name: short('Reconciliation.'),
        runStartedAt: t('When the run that counts started.'),
        phase: str('Its verdict.', { maxLength: 32 }),
        variancePercent: str('Largest variance (%).', { maxLength: 32 }),
      }),
      20,
    ),
    signedAt: t('When every run had passed.'),
  }),
  export: obj('The export of new-stack changes (runs from the switch until legacy hot ends).', {
    ...JOB_RECORD,
    lagSeconds: int('How far behind the export is, as the Job reports it.', 0, 100000000),
    reportedAt: t('When the lag was read.'),
  }),
  sloBreaches: list(
    'SLOs not met now.',
    obj('A breach.', {
      slo: str('SLO.', { maxLength: 63 }),
      since: t('Since.'),
      value: str('Last value.', { maxLength: 64 }),
    }),
    32,
  ),
  notifications: list(
    'Notifications sent (newest last, at most 50).',
    obj('One.', {
      event: str('What it was about, e.g. phase:Shadow, gate:switch-traffic, rollback:TrafficBack.', {
        maxLength: 128,
      }),
      at: t('When it was queued.'),
      state: enumOf(
        'Delivery: Pending (queued), Sending (handed to the notifier, recorded before the post), Sent, Failed, or Unconfirmed (the operator restarted while Sending: it may have been posted, and is not posted again).',
        ['Pending', 'Sending', 'Sent', 'Failed', 'Unconfirmed'],
      ),
      attempts: int('Attempts so far.', 0, 100),
    }),
    50,
  ),
  report: obj('The Markdown report.', {
    configMap: short('ConfigMap holding it.'),
    checkpointAt: t('When the 06:00 checkpoint was written.'),
    finalAt: t('When the final report was written.'),
  }),
  rollback: obj('The rollback record.', {
    trigger: enumOf('What triggered it.', [
      'SloBreach',
      'ReconciliationVariance',
      'SecurityFlag',
      'StepFailed',
      'Manual',
    ]),
    reason: msg('Details, with the values seen.'),
    triggeredAt: t('When.'),
    completedAt: t('Done.'),
    window: obj('The replay window: changes on the new stack between these times go back to legacy.', {
      from: t('frozenAt.'),
      to: t('When the new stack stopped taking writes.'),
    }),
    ignoredTriggers: list(
      'Triggers that held while this rollback ran (recorded, not acted on twice).',
      obj('One.', { trigger: str('Trigger.', { maxLength: 32 }), at: t('When.'), reason: msg('Details.') }),
      20,
    ),
    actions: list(
      'Actions in order and their state (a state is written before the action acts).',
      obj('An action.', {
        name: str('Action.', { maxLength: 63 }),
        state: enumOf('State.', ['Pending', 'Running', 'Succeeded', 'Failed', 'Skipped']),
        at: t('When it started.'),
        finishedAt: t('When it finished.'),
        ...JOB_RECORD,
        message: msg('Details.'),
      }),
      10,
    ),
    review: obj('The post-incident review.', {
      dueAt: t('Due: 5 business days after the rollback.'),
      configMap: short('ConfigMap with the review skeleton.'),
    }),
  }),
  message: msg('What happens now, for people.'),
});
