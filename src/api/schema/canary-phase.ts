/** CanaryPhase: shift a share of traffic and flags to the new stack, analyse, promote or roll back. */
import {
  type Schema,
  CONDITION_PATTERN,
  bool,
  dateTime,
  duration,
  enumOf,
  int,
  list,
  localObjectRef,
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

export const CANARY_PHASES = [
  'Pending',
  'Progressing',
  'Paused',
  'Analyzing',
  'Promoted',
  'Succeeded',
  'RolledBack',
  'Aborted',
  'Failed',
];

export const backendRef: Schema = obj(
  'A Service and port.',
  { name: objectName('Service name.'), port: int('Service port.', 1, 65535) },
  ['name', 'port'],
);

/** Where a service's traffic is split: an ingress-nginx canary Ingress or a Gateway API HTTPRoute. */
export const trafficTarget: Schema = obj(
  'Where the weight is applied: ingress-nginx (a canary Ingress beside the stable one) or a Gateway API HTTPRoute.',
  {
    ingress: obj(
      'ingress-nginx canary.',
      {
        name: objectName('The stable Ingress (routes to legacy).'),
        canaryName: objectName('The canary Ingress the operator manages (default <name>-canary).'),
        newBackend: backendRef,
      },
      ['name', 'newBackend'],
    ),
    httpRoute: obj(
      'Gateway API HTTPRoute.',
      {
        name: objectName('HTTPRoute name.'),
        ruleName: str('Rule (by name) whose backendRefs are weighted; the first rule when absent.', {
          maxLength: 63,
        }),
        legacyBackend: backendRef,
        newBackend: backendRef,
      },
      ['name', 'legacyBackend', 'newBackend'],
    ),
  },
  [],
  [
    rule<{ ingress?: unknown; httpRoute?: unknown }>(
      'has(self.ingress) != has(self.httpRoute)',
      'traffic splits in one place: set exactly one of ingress or httpRoute',
      (s) => (s.ingress !== undefined) !== (s.httpRoute !== undefined),
    ),
  ],
);

const stickiness = obj(
  'What keeps one session on one side: a header, a cookie, or the flag bucketing key.',
  {
    by: enumOf('Header, Cookie or FlagBucketing.', ['Header', 'Cookie', 'FlagBucketing']),
    name: str(
      'Header or cookie name, or the flag evaluation-context attribute used as bucketing key (e.g. sessionId).',
      { maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$', hint: 'use letters, digits, _, . and -' },
    ),
  },
  ['by', 'name'],
);

interface Cohort {
  tenants?: string[];
  selector?: unknown;
  percent?: number;
}
const cohort = obj(
  'A group in scope: a share of sessions, tenants by list, or a label selector (e.g. the pilot driver cohort).',
  {
    name: name('Cohort name, e.g. pilot-drivers.'),
    services: list(
      'Services (names from spec.services) this cohort applies to; all when absent.',
      name('Service name.'),
      16,
    ),
    percent: num('Share of sessions/users in scope (%).', 0, 100),
    tenants: list('Tenants in scope.', str('Tenant id.', { maxLength: 128 }), 1000, { minItems: 1 }),
    selector: obj(
      'Flag evaluation-context attributes that must match (e.g. role=driver, cohort=pilot).',
      {
        matchLabels: {
          type: 'object',
          description: 'Attribute → value.',
          additionalProperties: { type: 'string', maxLength: 128 },
          maxProperties: 16,
        },
      },
      ['matchLabels'],
    ),
  },
  ['name'],
  [
    rule<Cohort>(
      'has(self.percent) || has(self.tenants) || has(self.selector)',
      'a cohort needs percent, tenants or selector: say who is in it',
      (s) => s.percent !== undefined || s.tenants !== undefined || s.selector !== undefined,
      { reason: 'FieldValueRequired' },
    ),
  ],
);

const service = obj(
  'A service in the canary scope.',
  {
    name: name('Service name, e.g. pos.'),
    flagKey: str("Feature flag that sends this service's sessions to the new stack.", {
      maxLength: 128,
      pattern: '^[A-Za-z0-9_.:-]+$',
      hint: 'use letters, digits, _, ., : and -',
    }),
    traffic: trafficTarget,
  },
  ['name'],
  [
    rule<{ flagKey?: string; traffic?: unknown }>(
      'has(self.flagKey) || has(self.traffic)',
      'a service needs flagKey or traffic (or both): say how its sessions move',
      (s) => s.flagKey !== undefined || s.traffic !== undefined,
      { reason: 'FieldValueRequired' },
    ),
  ],
);

interface Metric {
  prometheus?: unknown;
  reconciliation?: unknown;
  http?: unknown;
}
const metric = obj(
  'One analysis metric; exactly one provider.',
  {
    name: name('Metric name, e.g. pos-invoice-p95.'),
    prometheus: obj(
      'Prometheus instant query returning one number.',
      {
        address: str('Prometheus URL; spec.analysis.prometheusAddress when absent.', {
          maxLength: 512,
          pattern: '^https?://',
          hint: 'start with http:// or https://',
        }),
        query: str('PromQL.', { maxLength: 4096, minLength: 1 }),
      },
      ['query'],
    ),
    reconciliation: obj(
      "Variance of a Reconciliation's last run (summary.maxVariancePercent) as the metric.",
      { name: objectName('Reconciliation name.') },
      ['name'],
    ),
    http: obj(
      'HTTP GET returning JSON; jsonPath picks the number.',
      {
        url: str('URL.', { maxLength: 2048, pattern: '^https?://', hint: 'start with http:// or https://' }),
        jsonPath: str('Dot path to the number, e.g. data.p95.', {
          maxLength: 256,
          pattern: '^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+|\\[[0-9]+\\])*$',
          hint: 'write a dot path like data.p95 or items[0].value',
        }),
        headerSecretRef: secretKeyRef,
        headerName: str('Header that carries the Secret value, e.g. Authorization.', { maxLength: 128 }),
      },
      ['url', 'jsonPath'],
    ),
    successCondition: str('Condition on the value for a success, e.g. result <= 1.5.', {
      pattern: CONDITION_PATTERN,
      maxLength: 64,
      hint: "write 'result <op> number', e.g. 'result <= 1.5'",
    }),
    failureCondition: str('Condition on the value for a failure; defaults to "not success".', {
      pattern: CONDITION_PATTERN,
      maxLength: 64,
      hint: "write 'result <op> number', e.g. 'result > 2'",
    }),
  },
  ['name', 'successCondition'],
  [
    rule<Metric>(
      '(has(self.prometheus) ? 1 : 0) + (has(self.reconciliation) ? 1 : 0) + (has(self.http) ? 1 : 0) == 1',
      'set exactly one provider: prometheus, reconciliation or http',
      (s) => [s.prometheus, s.reconciliation, s.http].filter((x) => x !== undefined).length === 1,
    ),
  ],
);

export const analysisSchema: Schema = obj(
  'Measure on an interval; count consecutive failures.',
  {
    interval: duration('Time between measurements; more than 0.', '1h', { positive: true }),
    count: int(
      'Measurements before the phase can be promoted; unlimited (until duration) when absent.',
      1,
      10000,
    ),
    consecutiveFailureLimit: int(
      'Consecutive failed measurements that roll the canary scope back.',
      1,
      100,
      2,
    ),
    noData: enumOf(
      'What an empty result counts as: Fail, Pass or Inconclusive (neither; pauses after consecutiveFailureLimit).',
      ['Fail', 'Pass', 'Inconclusive'],
      'Inconclusive',
    ),
    prometheusAddress: str('Default Prometheus URL for the metrics.', {
      maxLength: 512,
      pattern: '^https?://',
      hint: 'start with http:// or https://',
    }),
    metrics: list('The metrics; names unique.', metric, 20, { minItems: 1, rules: [uniqueNames('metric')] }),
  },
  ['metrics'],
);

interface Step {
  weight: number;
}
interface Flag {
  key?: string;
}
interface Spec {
  services?: { name: string }[];
  steps?: Step[];
  flags?: Flag[];
  cohorts?: Cohort[];
  gates?: { beforeStep: number }[];
  analysis?: { metrics?: unknown[] };
  flagProvider?: unknown;
  cutoverRef?: unknown;
}

export const flagProviderSchema: Schema = obj(
  'Where feature flags live: Redis keys, or flagd/OpenFeature JSON in a ConfigMap.',
  {
    type: enumOf('Redis or Flagd.', ['Redis', 'Flagd']),
    redis: obj(
      'Redis flags.',
      { secretRef: secretKeyRef, keyPrefix: str('Key prefix.', { maxLength: 128, default: 'flags:' }) },
      ['secretRef'],
    ),
    flagd: obj(
      'flagd flag definitions JSON in a ConfigMap.',
      {
        configMapName: objectName('ConfigMap name.'),
        key: str('Data key.', { maxLength: 253, default: 'flags.flagd.json' }),
      },
      ['configMapName'],
    ),
  },
  ['type'],
  [
    rule<{ type: string; redis?: unknown; flagd?: unknown }>(
      "self.type != 'Redis' || has(self.redis)",
      'type Redis needs redis.secretRef: add redis',
      (s) => s.type !== 'Redis' || s.redis !== undefined,
      { reason: 'FieldValueRequired' },
    ),
    rule<{ type: string; redis?: unknown; flagd?: unknown }>(
      "self.type != 'Flagd' || has(self.flagd)",
      'type Flagd needs flagd.configMapName: add flagd',
      (s) => s.type !== 'Flagd' || s.flagd !== undefined,
      { reason: 'FieldValueRequired' },
    ),
  ],
);

export const canaryPhaseSpec: Schema = obj(
  'One canary phase: who is in scope, how traffic and flags move, how it is judged.',
  {
    cutoverRef: localObjectRef,
    services: list('Services in scope; names unique.', service, 16, {
      minItems: 1,
      rules: [uniqueNames('service')],
    }),
    cohorts: list('Who is in scope: a share of sessions, tenant lists, labelled cohorts.', cohort, 16, {
      minItems: 1,
      rules: [uniqueNames('cohort')],
    }),
    flagProvider: flagProviderSchema,
    stickiness,
    steps: list(
      'Weight steps (percent of sessions on the new stack), increasing; each held for pause or one analysis interval.',
      obj(
        'A step.',
        {
          weight: int('Percent on the new stack.', 0, 100),
          pause: duration('How long to hold this step before the next (default: analysis.interval).'),
        },
        ['weight'],
      ),
      20,
      {
        minItems: 1,
        rules: [
          rule<Step[]>(
            'self.map(s, s.weight).isSorted() && self.all(s, self.exists_one(t, t.weight == s.weight))',
            'weights must increase from step to step: sort the steps by weight and remove duplicates',
            (s) => s.every((x, i) => i === 0 || x.weight > s[i - 1]!.weight),
          ),
        ],
      },
    ),
    gates: list(
      'Manual approval gates: wait before these steps (0-based) until cutover.nokta.io/approve names the gate.',
      obj(
        'A gate.',
        {
          name: name('Gate name.'),
          beforeStep: int('Index in spec.steps.', 0, 19),
        },
        ['name', 'beforeStep'],
      ),
      20,
      { rules: [uniqueNames('gate')] },
    ),
    analysis: analysisSchema,
    duration: duration(
      'Total time of the phase; after it, with the analysis passing, the phase succeeds. More than 0.',
      undefined,
      { positive: true },
    ),
    startAt: dateTime('Do not start before this time.'),
    autoPromote: bool('Promote at the end without a manual promote.', false),
    paused: bool('Pause: hold the current weight (resume by setting false).', false),
  },
  ['services', 'steps', 'analysis'],
  [
    rule<Spec>(
      '!has(self.gates) || self.gates.all(g, g.beforeStep < size(self.steps))',
      'gates[].beforeStep must point to a step: use an index below the number of steps',
      (s) =>
        s.gates === undefined ||
        s.steps === undefined ||
        s.gates.every((g) => g.beforeStep < s.steps!.length),
      { fieldPath: '.gates' },
    ),
    rule<Spec>(
      '!has(self.cohorts) || self.cohorts.all(c, !has(c.services) || c.services.all(n, self.services.exists(s, s.name == n)))',
      'cohorts[].services must name services of spec.services: fix the name or add the service',
      (s) =>
        s.cohorts === undefined ||
        s.services === undefined ||
        s.cohorts.every(
          (c) =>
            (c as { services?: string[] }).services === undefined ||
            (c as { services: string[] }).services.every((n) => s.services!.some((x) => x.name === n)),
        ),
      { fieldPath: '.cohorts' },
    ),
    rule<Spec>(
      '!self.services.exists(s, has(s.flagKey)) || has(self.flagProvider) || has(self.cutoverRef)',
      "services with flagKey need flagProvider (or cutoverRef to use the Cutover's): add flagProvider",
      (s) =>
        s.services === undefined ||
        !s.services.some((x) => (x as { flagKey?: string }).flagKey !== undefined) ||
        s.flagProvider !== undefined ||
        s.cutoverRef !== undefined,
      { reason: 'FieldValueRequired' },
    ),
  ],
);

export const canaryPhaseStatus: Schema = statusBase(CANARY_PHASES, {
  currentStep: int('Index of the current step.', 0, 20),
  currentWeight: int('Weight now applied.', 0, 100),
  stepStartedAt: dateTime('When the current step started.'),
  startedAt: dateTime('When the phase started.'),
  finishedAt: dateTime('When it ended.'),
  consecutiveFailures: int('Consecutive failed measurements now.', 0, 10000),
  measurementsTaken: int('Measurements so far.', 0, 1000000),
  nextMeasurementAt: dateTime('Next analysis.'),
  waitingForGate: str('Gate waiting for approval.', { maxLength: 63 }),
  approvedGates: list('Gates approved.', str('Gate.', { maxLength: 63 }), 20),
  lastActionToken: str('Last cutover.nokta.io/action annotation acted on.', { maxLength: 256 }),
  measurements: list(
    'Latest measurement of each metric (and a short history).',
    obj('A measurement.', {
      metric: str('Metric name.', { maxLength: 63 }),
      at: dateTime('Time.'),
      value: str('Value (string; absent when no data).', { maxLength: 64 }),
      result: enumOf('Result.', ['Success', 'Failure', 'Inconclusive', 'Error']),
      message: str('Details.', { maxLength: 1024 }),
    }),
    100,
  ),
  message: str('What happens now, for people.', { maxLength: 1024 }),
});
