/** CanaryPhase: shift a share of traffic and flags to the new stack, analyse, promote or roll back. */
import {
  type Schema,
  bool,
  dateTime,
  duration,
  enumOf,
  int,
  list,
  localObjectRef,
  name,
  obj,
  objectName,
  rule,
  secretKeyRef,
  statusBase,
  str,
  uniqueNames,
} from './common.js';

/** status.phase values; what each means is in src/controllers/canary-phase/README.md (the Cutover reads it). */
export const CANARY_PHASES = [
  'Pending',
  'Progressing',
  'Paused',
  'Promoted',
  'Succeeded',
  'RolledBack',
  'Aborted',
  'Failed',
];

/** A flag key as the flag actuators take it (`new-stack`); the flagd key is `<service>.<key>`. */
export const FLAG_KEY_PATTERN = '^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$';
export const flagKeySchema: Schema = str(
  "Flag key as the flag stores take it, e.g. new-stack (flagd key '<service>.<key>', Redis '<prefix>flags:<service>:<key>').",
  {
    maxLength: 63,
    rules: [
      rule<string>(
        `self.matches('${FLAG_KEY_PATTERN}')`,
        'must be a flag key as the flag stores take it: write new-stack, not pos.new-stack or POS:NewStack (lower-case letters, digits, - and _; the store adds the service)',
        (k) => new RegExp(FLAG_KEY_PATTERN).test(k),
      ),
    ],
  },
);

/** Analysis conditions: comparisons of `result` with a number joined by && and || (src/analysis/condition.ts). */
const COMPARISON_RE = 'result *(<|<=|>|>=|==|!=) *-?[0-9]{1,12}([.][0-9]{1,9})?';
export const CONDITION_EXPR_PATTERN = `^${COMPARISON_RE}( *(&&|[|][|]) *${COMPARISON_RE}){0,3}$`;

export const backendRef: Schema = obj(
  'A Service and port.',
  { name: objectName('Service name.'), port: int('Service port.', 1, 65535) },
  ['name', 'port'],
);

/** Where a service's traffic is split: an ingress-nginx canary Ingress or a Gateway API HTTPRoute. */
export const trafficTarget: Schema = obj(
  'Where the weight is applied: ingress-nginx (a canary Ingress <name>-canary beside the stable one) or a Gateway API HTTPRoute.',
  {
    ingress: obj(
      'ingress-nginx canary: the operator manages the Ingress <name>-canary.',
      {
        name: objectName('The stable Ingress (routes to legacy).'),
        newBackend: backendRef,
        stickiness: obj(
          'Send requests carrying this header (value) or cookie to the new stack whatever the weight: how a flag-routed session reaches it.',
          {
            header: str('Header name, e.g. X-Stack.', {
              maxLength: 128,
              pattern: '^[A-Za-z0-9-]+$',
              hint: 'use letters, digits and -',
            }),
            headerValue: str('Header value meaning "new stack", e.g. new.', { maxLength: 128 }),
            cookie: str('Cookie name (value always means "new stack").', {
              maxLength: 128,
              pattern: '^[A-Za-z0-9_-]+$',
              hint: 'use letters, digits, _ and -',
            }),
          },
          [],
          [
            rule<{ header?: string; cookie?: string }>(
              'has(self.header) || has(self.cookie)',
              'stickiness needs header or cookie: say what marks a session of the new stack',
              (s) => s.header !== undefined || s.cookie !== undefined,
              { reason: 'FieldValueRequired' },
            ),
          ],
        ),
      },
      ['name', 'newBackend'],
    ),
    httpRoute: obj(
      'Gateway API HTTPRoute.',
      {
        name: objectName('HTTPRoute name.'),
        ruleIndex: int('Rule (0-based index in spec.rules) whose backendRefs are weighted.', 0, 15, 0),
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

interface Cohort {
  name: string;
  services?: string[];
  tenants?: string[];
  pilot?: { members?: string[]; membersFrom?: unknown };
}
const cohort = obj(
  'Who is in scope besides the step percentage: explicit tenants, and a pilot list that is on from the first step (the flag store cohort model).',
  {
    name: name('Cohort name, e.g. pilot-drivers.'),
    services: list(
      'Services (names from spec.services) this cohort applies to; all when absent.',
      name('Service name.'),
      16,
    ),
    tenants: list(
      "Tenants whose sessions are in scope (the step's percentage of them); every tenant when no cohort of the service lists tenants.",
      str('Tenant id.', { maxLength: 128, minLength: 1 }),
      1000,
      { minItems: 1 },
    ),
    pilot: obj(
      'A named pilot list, all on the new stack from the first step (e.g. driver ids).',
      {
        attribute: str('Flag evaluation-context attribute holding the member id, e.g. driverId.', {
          maxLength: 64,
          pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
          hint: 'use an attribute name like driverId',
        }),
        members: list('Member ids.', str('Member id.', { maxLength: 128, minLength: 1 }), 10000, {
          minItems: 1,
        }),
        membersFrom: obj(
          'A ConfigMap key listing the members, one per line.',
          {
            configMapName: objectName('ConfigMap name.'),
            key: str('Data key.', {
              maxLength: 253,
              pattern: '^[-._a-zA-Z0-9]+$',
              hint: 'use a ConfigMap data key: letters, digits, -, _ and .',
            }),
          },
          ['configMapName', 'key'],
        ),
      },
      ['attribute'],
      [
        rule<{ members?: unknown; membersFrom?: unknown }>(
          'has(self.members) != has(self.membersFrom)',
          'a pilot lists its members once: set exactly one of members or membersFrom',
          (s) => (s.members !== undefined) !== (s.membersFrom !== undefined),
        ),
      ],
    ),
  },
  ['name'],
  [
    rule<Cohort>(
      'has(self.tenants) || has(self.pilot)',
      'a cohort needs tenants or pilot: say who is in it (the percentage is said by the steps)',
      (s) => s.tenants !== undefined || s.pilot !== undefined,
      { reason: 'FieldValueRequired' },
    ),
  ],
);

interface Service {
  name: string;
  routing?: 'Flag' | 'Traffic';
  flagKey?: string;
  traffic?: { ingress?: { stickiness?: unknown }; httpRoute?: unknown };
}
/** routing, or when absent: Flag with a flagKey, else Traffic. */
export function routingOf(s: { routing?: 'Flag' | 'Traffic'; flagKey?: string }): 'Flag' | 'Traffic' {
  return s.routing ?? (s.flagKey !== undefined ? 'Flag' : 'Traffic');
}
const service = obj(
  'A service in the canary scope and how its sessions move.',
  {
    name: name('Service name, e.g. pos (with cutoverRef: the Cutover service of that name).'),
    routing: enumOf(
      'Flag: sticky, the flag store buckets sessions by spec.bucketingKey (traffic, if any, follows the flag by header/cookie only). Traffic: a weight on the route (stateless reads). Default: Flag with flagKey, else Traffic.',
      ['Flag', 'Traffic'],
    ),
    flagKey: flagKeySchema,
    traffic: trafficTarget,
  },
  ['name'],
  [
    rule<Service>(
      "!has(self.routing) || self.routing != 'Traffic' || !has(self.flagKey)",
      'routing Traffic moves sessions by weight only: remove flagKey, or use routing Flag',
      (s) => s.routing !== 'Traffic' || s.flagKey === undefined,
      { reason: 'FieldValueForbidden' },
    ),
    rule<Service>(
      "!(has(self.routing) ? self.routing == 'Flag' : has(self.flagKey)) || !has(self.traffic) || (has(self.traffic.ingress) && has(self.traffic.ingress.stickiness))",
      'routing Flag never runs a weight split beside flag bucketing: traffic must be an ingress with stickiness (header or cookie set for flag-on sessions), or remove traffic',
      (s) =>
        routingOf(s) !== 'Flag' ||
        s.traffic === undefined ||
        (s.traffic.ingress !== undefined && s.traffic.ingress.stickiness !== undefined),
      { fieldPath: '.traffic' },
    ),
  ],
);

interface Metric {
  prometheus?: unknown;
  reconciliation?: unknown;
  http?: unknown;
  job?: unknown;
  shadowDifferences?: unknown;
  successCondition?: string;
  failureCondition?: string;
}
const metric = obj(
  'One analysis metric; exactly one provider.',
  {
    name: name('Metric name, e.g. pos-invoice-p95.'),
    services: list(
      'Services this metric judges (a failure rolls back these with rollbackScope Service); all when absent.',
      name('Service name.'),
      16,
    ),
    prometheus: obj(
      'Prometheus instant query returning one number (one series or a scalar).',
      {
        address: str('Prometheus URL; spec.analysis.prometheusAddress when absent.', {
          maxLength: 512,
          pattern: '^https?://',
          hint: 'start with http:// or https://',
        }),
        query: str('PromQL.', { maxLength: 4096, minLength: 1 }),
        tokenSecretRef: secretKeyRef,
        timeout: duration('How long to wait for an answer.', '10s', { positive: true }),
      },
      ['query'],
    ),
    reconciliation: obj(
      "A Reconciliation's last run: the value is summary.maxVariancePercent; each run counts once.",
      {
        name: objectName('Reconciliation name.'),
        maxAge: duration('A run that finished longer ago is not counted (no data).', undefined, {
          positive: true,
        }),
      },
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
        headerName: str('Header that carries the Secret value, e.g. Authorization.', {
          maxLength: 128,
          pattern: '^[A-Za-z0-9-]+$',
          hint: 'use letters, digits and -',
        }),
        timeout: duration('How long to wait for an answer.', '10s', { positive: true }),
      },
      ['url', 'jsonPath'],
      [
        rule<{ headerSecretRef?: unknown; headerName?: unknown }>(
          'has(self.headerSecretRef) == has(self.headerName)',
          'headerName and headerSecretRef go together: set both or neither',
          (s) => (s.headerSecretRef !== undefined) === (s.headerName !== undefined),
        ),
      ],
    ),
    job: obj(
      'Run a Job (e.g. the scripted order journey); its success or failure is the measurement.',
      {
        image: str("Image; the operator's image when absent.", { maxLength: 512 }),
        command: list('Command.', str('Argument.', { maxLength: 1024 }), 64, { minItems: 1 }),
        args: list('Arguments.', str('Argument.', { maxLength: 1024 }), 64),
        activeDeadline: duration('Longest run; the Job fails after it.', '10m', { positive: true }),
      },
      ['command'],
    ),
    shadowDifferences: obj(
      "The difference rate (%) of one service behind a comparing shadow proxy (`cutover shadow-proxy`): 100 × differing / compared answers, from the proxy's admin /metrics endpoint or from Prometheus scraping it.",
      {
        service: name(
          "The proxy's service label (its rules' service, spec.shadow.comparison[].service in a Cutover).",
        ),
        metricsUrl: str(
          "The proxy's admin /metrics URL, e.g. http://full-shadow-pos.shop.svc:9464/metrics: totals since the proxy started.",
          {
            maxLength: 2048,
            pattern: '^https?://',
            hint: 'start with http:// or https://',
          },
        ),
        prometheus: obj('Prometheus scraping the proxy: totals, or the increase over window.', {
          address: str('Prometheus URL; spec.analysis.prometheusAddress when absent.', {
            maxLength: 512,
            pattern: '^https?://',
            hint: 'start with http:// or https://',
          }),
          window: str('Only the answers compared within this PromQL range, e.g. 1h; totals when absent.', {
            maxLength: 16,
            pattern: '^[0-9]+(ms|s|m|h|d)$',
            hint: 'write a PromQL range like 5m or 1h',
          }),
          tokenSecretRef: secretKeyRef,
        }),
        minCompared: int('Compared answers needed for a value; fewer is no data.', 1, 1_000_000_000, 1),
        timeout: duration('How long to wait for an answer.', '10s', { positive: true }),
      },
      ['service'],
      [
        rule<{ metricsUrl?: unknown; prometheus?: unknown }>(
          'has(self.metricsUrl) != has(self.prometheus)',
          'say where the proxy is read: set metricsUrl or prometheus (one of them)',
          (s) => (s.metricsUrl !== undefined) !== (s.prometheus !== undefined),
        ),
      ],
    ),
    successCondition: str('Condition on the value for a success, e.g. result <= 1.5.', {
      pattern: CONDITION_EXPR_PATTERN,
      maxLength: 256,
      hint: "write 'result <op> number', joined by && or ||, e.g. 'result <= 1.5'",
    }),
    failureCondition: str(
      'Condition on the value for a failure, e.g. result > 2. With both, a value meeting neither is inconclusive.',
      {
        pattern: CONDITION_EXPR_PATTERN,
        maxLength: 256,
        hint: "write 'result <op> number', joined by && or ||, e.g. 'result > 2'",
      },
    ),
  },
  ['name'],
  [
    rule<Metric>(
      '(has(self.prometheus) ? 1 : 0) + (has(self.reconciliation) ? 1 : 0) + (has(self.http) ? 1 : 0) + (has(self.job) ? 1 : 0) + (has(self.shadowDifferences) ? 1 : 0) == 1',
      'set exactly one provider: prometheus, reconciliation, http, job or shadowDifferences',
      (s) =>
        [s.prometheus, s.reconciliation, s.http, s.job, s.shadowDifferences].filter((x) => x !== undefined)
          .length === 1,
    ),
    rule<Metric>(
      'has(self.job) || has(self.reconciliation) || has(self.successCondition) || has(self.failureCondition)',
      'say what a good value is: add successCondition (or failureCondition)',
      (s) =>
        s.job !== undefined ||
        s.reconciliation !== undefined ||
        s.successCondition !== undefined ||
        s.failureCondition !== undefined,
      { reason: 'FieldValueRequired' },
    ),
  ],
);

function limitSchema(what: string, def: number, action: string): Schema {
  return obj(`What ${what} measurements in a row of one metric do.`, {
    limit: int(`${what} measurements in a row of one metric before onLimit applies.`, 1, 100, def),
    onLimit: enumOf(
      'Pause: hold the current step (status says why; resume or promote by annotation). Rollback: roll the scope back as a failure would.',
      ['Pause', 'Rollback'],
      action,
    ),
  });
}

export const analysisSchema: Schema = obj(
  'Measure on an interval; count consecutive results per metric.',
  {
    interval: duration('Time between measurements; more than 0.', '1h', { positive: true }),
    count: int(
      'Measurements before the phase can be promoted; unlimited (until duration) when absent.',
      1,
      10000,
    ),
    consecutiveFailureLimit: int(
      'Consecutive failed measurements of one metric that roll its scope back (in the same sync as the deciding measurement).',
      1,
      100,
      2,
    ),
    inconclusive: limitSchema('Inconclusive', 3, 'Pause'),
    noData: limitSchema('NoData (empty result, NaN, no new run)', 3, 'Pause'),
    error: limitSchema('Error (unreachable, timed out, refused query)', 4, 'Pause'),
    rollbackScope: enumOf(
      "Phase: a failing metric rolls back every service. Service: only the metric's services (a failing POS metric leaves drivers on).",
      ['Phase', 'Service'],
      'Phase',
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
interface Spec {
  services?: Service[];
  steps?: Step[];
  cohorts?: Cohort[];
  gates?: { beforeStep: number }[];
  analysis?: {
    metrics?: {
      services?: string[];
      prometheus?: { address?: string };
      shadowDifferences?: { prometheus?: { address?: string } };
    }[];
    prometheusAddress?: string;
  };
  flagProvider?: unknown;
  cutoverRef?: unknown;
}

export const flagProviderSchema: Schema = obj(
  'Where feature flags live: Redis keys, or flagd/OpenFeature JSON in a ConfigMap.',
  {
    type: enumOf('Redis or Flagd.', ['Redis', 'Flagd']),
    redis: obj(
      'Redis flags (layout: src/actuators/flags/README.md).',
      {
        secretRef: secretKeyRef,
        keyPrefix: str("Prefix before 'flags:<service>:<key>'.", {
          maxLength: 128,
          default: 'cutover:',
          pattern: '^[A-Za-z0-9_.:-]*$',
          hint: 'use letters, digits, _, ., : and -',
          rules: [
            rule<string>(
              "!self.endsWith('flags:')",
              "the store adds 'flags:<service>:<key>' after the prefix: write 'cutover:' rather than 'cutover:flags:'",
              (s) => !s.endsWith('flags:'),
            ),
          ],
        }),
      },
      ['secretRef'],
    ),
    flagd: obj(
      'flagd flag definitions JSON in a ConfigMap (data key flags.flagd.json).',
      { configMapName: objectName('ConfigMap name.') },
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

const inServices = (s: Spec, names: string[] | undefined): boolean =>
  names === undefined ||
  s.services === undefined ||
  names.every((n) => s.services!.some((x) => x.name === n));

export const canaryPhaseSpec: Schema = obj(
  'One canary phase: who is in scope, how sessions move, how it is judged.',
  {
    cutoverRef: localObjectRef,
    services: list(
      'Services in scope; names unique. With cutoverRef, flagKey and traffic not given here come from the Cutover service of the same name.',
      service,
      16,
      { minItems: 1, rules: [uniqueNames('service')] },
    ),
    cohorts: list('Who is in scope besides the percentage: tenant lists and pilot lists.', cohort, 16, {
      rules: [uniqueNames('cohort')],
    }),
    flagProvider: flagProviderSchema,
    bucketingKey: str('Flag evaluation-context attribute the percentage buckets on (sticky per value).', {
      maxLength: 64,
      default: 'sessionId',
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      hint: 'use an attribute name like sessionId',
    }),
    steps: list(
      'Steps: percent of in-scope sessions on the new stack, increasing; each held for pause (default analysis.interval).',
      obj(
        'A step.',
        {
          weight: int('Percent of in-scope sessions on the new stack.', 0, 100),
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
      obj('A gate.', { name: name('Gate name.'), beforeStep: int('Index in spec.steps.', 0, 19) }, [
        'name',
        'beforeStep',
      ]),
      20,
      { rules: [uniqueNames('gate')] },
    ),
    analysis: analysisSchema,
    duration: duration(
      'Total time of the phase from its start; the step pauses must fit in it, and analysis.interval must not be longer.',
      undefined,
      { positive: true },
    ),
    startAt: dateTime('Do not start before this time.'),
    endBy: dateTime("End (onSuccess) by this time at the latest; never after the Cutover's freeze."),
    progressDeadline: duration(
      'A phase that cannot advance (a gate unapproved, a measurement that never comes) this long past its due time becomes Stalled with the reason.',
      '1h',
      { positive: true },
    ),
    onSuccess: enumOf(
      'At the end with the analysis passing: Hold keeps the exposure (the Cutover takes it from there); Restore gives every change back.',
      ['Hold', 'Restore'],
      'Hold',
    ),
    autoPromote: bool('Succeed at the end without a manual promote.', false),
    paused: bool('Pause: hold the current step (resume by setting false).', false),
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
      (s) => s.cohorts === undefined || s.cohorts.every((c) => inServices(s, c.services)),
      { fieldPath: '.cohorts' },
    ),
    rule<Spec>(
      '!has(self.cohorts) || self.services.all(s, self.cohorts.filter(c, has(c.pilot) && (!has(c.services) || s.name in c.services)).size() <= 1)',
      'a service has at most one pilot cohort (the flag store keeps one list per flag): merge the pilot lists',
      (s) =>
        s.cohorts === undefined ||
        s.services === undefined ||
        s.services.every(
          (sv) =>
            s.cohorts!.filter(
              (c) => c.pilot !== undefined && (c.services === undefined || c.services.includes(sv.name)),
            ).length <= 1,
        ),
      { fieldPath: '.cohorts' },
    ),
    rule<Spec>(
      'self.analysis.metrics.all(m, !has(m.services) || m.services.all(n, self.services.exists(s, s.name == n)))',
      'analysis.metrics[].services must name services of spec.services: fix the name or add the service',
      (s) => (s.analysis?.metrics ?? []).every((m) => inServices(s, m.services)),
      { fieldPath: '.analysis' },
    ),
    rule<Spec>(
      'has(self.cutoverRef) || self.services.all(s, has(s.flagKey) || has(s.traffic))',
      'a service needs flagKey or traffic (or cutoverRef to take them from the Cutover): say how its sessions move',
      (s) =>
        s.cutoverRef !== undefined ||
        (s.services ?? []).every((x) => x.flagKey !== undefined || x.traffic !== undefined),
      { fieldPath: '.services', reason: 'FieldValueRequired' },
    ),
    rule<Spec>(
      "has(self.cutoverRef) || self.services.all(s, !has(s.routing) || s.routing != 'Flag' || has(s.flagKey))",
      'routing Flag needs flagKey (or cutoverRef to take it from the Cutover): add flagKey',
      (s) =>
        s.cutoverRef !== undefined ||
        (s.services ?? []).every((x) => x.routing !== 'Flag' || x.flagKey !== undefined),
      { fieldPath: '.services', reason: 'FieldValueRequired' },
    ),
    rule<Spec>(
      "has(self.cutoverRef) || self.services.all(s, !has(s.routing) || s.routing != 'Traffic' || has(s.traffic))",
      'routing Traffic needs traffic (or cutoverRef to take it from the Cutover): add traffic',
      (s) =>
        s.cutoverRef !== undefined ||
        (s.services ?? []).every((x) => x.routing !== 'Traffic' || x.traffic !== undefined),
      { fieldPath: '.services', reason: 'FieldValueRequired' },
    ),
    rule<Spec>(
      "!self.services.exists(s, has(s.routing) ? s.routing == 'Flag' : has(s.flagKey)) || has(self.flagProvider) || has(self.cutoverRef)",
      "services with routing Flag need flagProvider (or cutoverRef to use the Cutover's): add flagProvider",
      (s) =>
        s.services === undefined ||
        !s.services.some((x) => routingOf(x) === 'Flag') ||
        s.flagProvider !== undefined ||
        s.cutoverRef !== undefined,
      { reason: 'FieldValueRequired' },
    ),
    rule<Spec>(
      'has(self.analysis.prometheusAddress) || self.analysis.metrics.all(m, !has(m.prometheus) || has(m.prometheus.address))',
      'a prometheus metric needs an address: set analysis.prometheusAddress or metrics[].prometheus.address',
      (s) =>
        s.analysis?.prometheusAddress !== undefined ||
        (s.analysis?.metrics ?? []).every(
          (m) => m.prometheus === undefined || m.prometheus.address !== undefined,
        ),
      { fieldPath: '.analysis', reason: 'FieldValueRequired' },
    ),
    rule<Spec>(
      'has(self.analysis.prometheusAddress) || self.analysis.metrics.all(m, !has(m.shadowDifferences) || !has(m.shadowDifferences.prometheus) || has(m.shadowDifferences.prometheus.address))',
      'a shadowDifferences metric read from Prometheus needs an address: set analysis.prometheusAddress or metrics[].shadowDifferences.prometheus.address',
      (s) =>
        s.analysis?.prometheusAddress !== undefined ||
        (s.analysis?.metrics ?? []).every(
          (m) =>
            m.shadowDifferences?.prometheus === undefined ||
            m.shadowDifferences.prometheus.address !== undefined,
        ),
      { fieldPath: '.analysis', reason: 'FieldValueRequired' },
    ),
  ],
);

const measurement = obj('A measurement.', {
  metric: str('Metric name.', { maxLength: 63 }),
  at: dateTime('Time.'),
  value: str('Value (string; absent when no data).', { maxLength: 64 }),
  result: enumOf('Result.', ['Successful', 'Failed', 'Inconclusive', 'Error', 'NoData']),
  message: str('Why (the condition that held, the error, why there was no data).', { maxLength: 1024 }),
});

export const canaryPhaseStatus: Schema = statusBase(CANARY_PHASES, {
  currentStep: int('Index of the current step.', 0, 20),
  currentWeight: int('Weight now applied.', 0, 100),
  appliedStep: int('The step whose flags and weights were last applied in full (-1: none yet).', -1, 20),
  stepStartedAt: dateTime('When the current step started.'),
  startedAt: dateTime('When the phase started.'),
  finishedAt: dateTime('When it ended.'),
  consecutiveFailures: int('Most consecutive failed measurements of any metric now.', 0, 10000),
  measurementsTaken: int('Measurement rounds so far.', 0, 1000000),
  lastMeasuredAt: dateTime('When the last measurement round was taken.'),
  nextMeasurementAt: dateTime('Next analysis.'),
  waitingForGate: str('Gate waiting for approval.', { maxLength: 63 }),
  approvedGates: list('Gates approved.', str('Gate.', { maxLength: 63 }), 20),
  pauseReason: str('Why the phase is paused.', { maxLength: 1024 }),
  pausedAt: dateTime('When the current pause began (the progress deadline counts from it).'),
  measuringRound: int(
    'A measurement round claimed and not yet recorded (taken again after a restart).',
    0,
    1000000,
  ),
  lastActionToken: str('Last cutover.nokta.io/action annotation acted on.', { maxLength: 256 }),
  lastApproveToken: str('Last cutover.nokta.io/approve annotation acted on.', { maxLength: 256 }),
  metrics: list(
    'Consecutive counts of each metric (kept across operator restarts).',
    obj('Counts of one metric.', {
      name: str('Metric name.', { maxLength: 63 }),
      lastResult: enumOf('Last result.', ['Successful', 'Failed', 'Inconclusive', 'Error', 'NoData']),
      lastAt: dateTime('Last measurement.'),
      failures: int('Failed in a row.', 0, 1000000),
      inconclusive: int('Inconclusive in a row.', 0, 1000000),
      noData: int('NoData in a row.', 0, 1000000),
      errors: int('Error in a row.', 0, 1000000),
    }),
    20,
  ),
  measurements: list('The latest measurements, newest last (bounded).', measurement, 100),
  rolledBackServices: list(
    'Services rolled back (flags off, weights 0, restored).',
    str('Service.', { maxLength: 63 }),
    16,
  ),
  rollback: obj('What decided the rollback.', {
    reason: str('Why, for people.', { maxLength: 1024 }),
    metric: str('Metric.', { maxLength: 63 }),
    value: str('Value.', { maxLength: 64 }),
    at: dateTime('Time of the deciding measurement.'),
    services: list('Services rolled back.', str('Service.', { maxLength: 63 }), 16),
  }),
  restoredServices: list(
    'Services whose every change was given back (flags, routes, Ingresses, by the restore records).',
    str('Service.', { maxLength: 63 }),
    16,
  ),
  restoredAt: dateTime('When every change due to be given back was.'),
  message: str('What happens now, for people.', { maxLength: 1024 }),
});
