/**
 * Building blocks of the single source of truth for the three kinds. A schema here is an OpenAPI
 * v3 structural schema fragment; the only non-standard keys are `rules` (each one a CEL rule for
 * the API server AND its TypeScript twin for the offline validator), `hint` (how to fix a value
 * that fails `pattern`/`format`) and `semantic` (checks beyond the CRD). `crdSchema()` turns a
 * fragment into what goes into a CRD, `ajvSchema()` into what ajv compiles.
 */
import {
  DURATION_FORMAT,
  DURATION_PATTERN,
  OFFSET_PATTERN,
  isDuration,
  isOffset,
  parseDuration,
  parseOffset,
} from '../duration.js';
import { CRON_FORMAT, CRON_PATTERN_CEL, cronShapeOk, isEveryDescriptor } from '../cron.js';

/** One rule, written once: `cel` goes to `x-kubernetes-validations`, `check` runs offline. */
export interface Rule {
  cel: string;
  /** Names the field and the fix; the API server shows it after the path of the node the rule is on. */
  message: string;
  /** Optional JSONPath-like field (`.remediatePercent`) the error is reported under. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  /** TypeScript twin of `cel`: true when the value is valid. Runs only on values that passed the schema. */
  check: (self: unknown) => boolean;
}

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

export interface Schema {
  type?: SchemaType;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema;
  enum?: (string | number)[];
  pattern?: string;
  format?: 'date-time' | 'date';
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  default?: unknown;
  rules?: Rule[];
  hint?: string;
  /**
   * What only the operator and `cutover validate` can check beyond the CRD (the API server
   * accepts it): a cron schedule that never fires, a time zone that is not in the IANA database.
   */
  semantic?: 'cron' | 'timeZone';
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

/** Declares a rule with the type of `self` it expects; `check` must not throw on that type. */
export function rule<T>(
  cel: string,
  message: string,
  check: (self: T) => boolean,
  opts: { fieldPath?: string; reason?: Rule['reason'] } = {},
): Rule {
  return { cel, message, ...opts, check: (self: unknown) => check(self as T) };
}

// ---------------------------------------------------------------------------------------------
// Patterns, shared with the code that uses the values (reconciliation, runtime).

export const SQL_IDENTIFIER_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,62}$';
export const SQL_TABLE_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,62}(\\.[A-Za-z_][A-Za-z0-9_]{0,62})?$';
/** DNS-1123 label: check, step, service and metric names. */
export const NAME_PATTERN = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
/** DNS-1123 subdomain, for references to Kubernetes objects (Secrets, Jobs, Ingresses…). */
export const OBJECT_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export { DURATION_PATTERN, OFFSET_PATTERN } from '../duration.js';
export { CRON_PATTERN } from '../cron.js';
/** IANA time zone name (Europe/Istanbul, UTC, America/Argentina/Buenos_Aires) or a fixed offset (+03:00). */
export const TIME_ZONE_PATTERN =
  '^([+-](0[0-9]|1[0-4]):[0-5][0-9]|[A-Za-z_]{1,32}(/[A-Za-z0-9_+-]{1,32}){0,2})$';
export function timeZone(description: string): Schema {
  return str(description, {
    maxLength: 64,
    semantic: 'timeZone',
    rules: [
      rule<string>(
        `self.matches('${TIME_ZONE_PATTERN}')`,
        'must be an IANA time zone or a fixed offset: write a zone like UTC or Europe/Istanbul, or an offset like +03:00',
        (s) => new RegExp(TIME_ZONE_PATTERN).test(s),
      ),
    ],
  });
}
/** Analysis conditions compare the metric value: `result <= 1.5`, `result == 0`. */
export const CONDITION_PATTERN = '^result *(<|<=|>|>=|==|!=) *-?[0-9]{1,12}(\\.[0-9]{1,9})?$';
/** A connection URL must not carry a password: mysql://user:secret@host is refused. */
export const URL_WITH_PASSWORD_PATTERN = '^[A-Za-z][A-Za-z0-9+.-]*://[^/@:]*:[^/@]*@';

/** A duration (`90d`) or a signed offset (`+4h`, `-30m`) in milliseconds, by the one parser of ../duration.ts. */
export function parseDurationMs(text: string): number {
  return text.startsWith('+') || text.startsWith('-') ? parseOffset(text) : parseDuration(text);
}

export interface ParsedCondition {
  op: '<' | '<=' | '>' | '>=' | '==' | '!=';
  value: number;
}
export function parseCondition(text: string): ParsedCondition {
  const m = /^result *(<=|>=|==|!=|<|>) *(-?[0-9]+(?:\.[0-9]+)?)$/.exec(text);
  if (!m) throw new Error(`'${text}' is not a condition like 'result <= 1.5'`);
  return { op: m[1] as ParsedCondition['op'], value: Number(m[2]) };
}
export function conditionHolds(c: ParsedCondition, x: number): boolean {
  switch (c.op) {
    case '<':
      return x < c.value;
    case '<=':
      return x <= c.value;
    case '>':
      return x > c.value;
    case '>=':
      return x >= c.value;
    case '==':
      return x === c.value;
    case '!=':
      return x !== c.value;
  }
}

// ---------------------------------------------------------------------------------------------
// Fragment helpers.

export function str(description: string, extra: Partial<Schema> = {}): Schema {
  return { type: 'string', description, maxLength: 256, ...extra };
}
export function name(description: string): Schema {
  return str(description, {
    pattern: NAME_PATTERN,
    maxLength: 63,
    hint: 'use lower-case letters, digits and -, like pos-orders',
  });
}
export function objectName(description: string): Schema {
  return str(description, {
    pattern: OBJECT_NAME_PATTERN,
    maxLength: 253,
    hint: 'use a Kubernetes object name: lower-case letters, digits, - and .',
  });
}
export function sqlIdentifier(description: string): Schema {
  return str(description, {
    pattern: SQL_IDENTIFIER_PATTERN,
    maxLength: 63,
    hint: 'use a plain SQL identifier: letters, digits and _, not starting with a digit, at most 63 characters',
  });
}
export function sqlTable(description: string): Schema {
  return str(description, {
    pattern: SQL_TABLE_PATTERN,
    maxLength: 127,
    hint: 'use table or schema.table made of letters, digits and _',
  });
}
/**
 * A duration (`90d`, `1h30m`), checked by a CEL rule with a short message rather than a pattern
 * (whose message would print the regular expression). `positive`: 0 is refused too.
 */
export function duration(description: string, def?: string, opts: { positive?: boolean } = {}): Schema {
  const rules = [
    rule<string>(
      `self != '' && self.matches('${DURATION_PATTERN}')`,
      `must look like 90d, 12h, 30m or 1h30m: write ${DURATION_FORMAT}`,
      (s) => isDuration(s),
    ),
  ];
  if (opts.positive) {
    rules.push(
      rule<string>(
        `self == '' || !self.matches('${DURATION_PATTERN}') || self.matches('[1-9]')`,
        'must be longer than 0: write a duration like 90d, 12h or 30m',
        (s) => !isDuration(s) || parseDuration(s) > 0,
      ),
    );
  }
  return str(description, { maxLength: 32, rules, ...(def !== undefined ? { default: def } : {}) });
}
export function offset(description: string): Schema {
  return str(description, {
    maxLength: 32,
    rules: [
      rule<string>(
        `self.matches('${OFFSET_PATTERN}') && self.size() > 1`,
        `must look like +4h, +24h or -30m: write a sign, then ${DURATION_FORMAT}`,
        (s) => isOffset(s),
      ),
    ],
  });
}
/** A cron schedule as a CronJob takes it (see ../cron.ts); never-firing ones are left to the operator. */
export function cron(description: string): Schema {
  return str(description, {
    maxLength: 128,
    semantic: 'cron',
    rules: [
      rule<string>(
        "!self.matches('(?i)^ *@every( |$)')",
        "@every is not supported (it counts from when the controller started): write it as 5 cron fields, e.g. '0 */6 * * *' for every 6 hours",
        (s) => !isEveryDescriptor(s),
      ),
      rule<string>(
        `self.matches('(?i)^ *@every( |$)') || self.matches('${CRON_PATTERN_CEL}')`,
        `must be a cron schedule: ${CRON_FORMAT}`,
        (s) => isEveryDescriptor(s) || cronShapeOk(s),
      ),
    ],
  });
}
/**
 * RFC 3339 as CEL reads it (upper-case T and Z, a zone always). The API server's `date-time`
 * format alone also takes `2026-12-01t02:00:00z`, which every CEL rule that looks at the time
 * then fails to convert; the pattern refuses it up front, for the API server and offline alike.
 */
export const DATE_TIME_PATTERN =
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$';
export function dateTime(description: string): Schema {
  return {
    type: 'string',
    format: 'date-time',
    pattern: DATE_TIME_PATTERN,
    description,
    maxLength: 64,
    hint: 'write an RFC 3339 time like 2026-12-01T02:00:00Z (upper-case T and Z)',
  };
}
export function int(description: string, minimum: number, maximum: number, def?: number): Schema {
  return { type: 'integer', description, minimum, maximum, ...(def !== undefined ? { default: def } : {}) };
}
export function num(description: string, minimum: number, maximum: number, def?: number): Schema {
  return { type: 'number', description, minimum, maximum, ...(def !== undefined ? { default: def } : {}) };
}
export function bool(description: string, def?: boolean): Schema {
  return { type: 'boolean', description, ...(def !== undefined ? { default: def } : {}) };
}
export function enumOf(description: string, values: string[], def?: string): Schema {
  return { type: 'string', description, enum: values, ...(def !== undefined ? { default: def } : {}) };
}
export function obj(
  description: string,
  properties: Record<string, Schema>,
  required: string[] = [],
  rules: Rule[] = [],
): Schema {
  const s: Schema = { type: 'object', description, properties };
  if (required.length) s.required = required;
  if (rules.length) s.rules = rules;
  return s;
}
export function list(
  description: string,
  items: Schema,
  maxItems: number,
  extra: Partial<Schema> = {},
): Schema {
  return { type: 'array', description, items, maxItems, ...extra };
}
export function stringMap(description: string, maxProperties = 32): Schema {
  return {
    type: 'object',
    description,
    additionalProperties: { type: 'string', maxLength: 253 },
    maxProperties,
  };
}

/** `names` must be unique among the items of a list of objects with a `name`. */
export function uniqueNames(what: string, field = 'name'): Rule {
  return rule<{ [k: string]: unknown }[]>(
    `self.all(x, self.exists_one(y, y.${field} == x.${field}))`,
    `${what} ${field}s must be unique: rename the duplicate`,
    (self) => new Set(self.map((x) => x[field])).size === self.length,
  );
}

export const secretKeyRef: Schema = obj(
  'A key of a Secret in the same namespace.',
  {
    name: objectName('Secret name.'),
    key: str('Key in the Secret.', {
      default: 'url',
      maxLength: 253,
      pattern: '^[-._a-zA-Z0-9]+$',
      hint: 'use a Secret data key: letters, digits, -, _ and .',
    }),
  },
  ['name'],
);

export const localObjectRef: Schema = obj(
  'A reference to an object in the same namespace.',
  { name: objectName('Object name.') },
  ['name'],
);

/** metav1.Condition's patterns: type (optionally prefixed with a DNS subdomain and /) and reason. */
export const CONDITION_TYPE_PATTERN =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$';
export const CONDITION_REASON_PATTERN = '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$';

/** A condition exactly as metav1.Condition declares it: type, status, reason, message and lastTransitionTime required. */
export const conditionSchema: Schema = obj(
  'A kstatus-style condition (metav1.Condition).',
  {
    type: str('Ready, Reconciling, Stalled or a kind-specific type, in CamelCase.', {
      pattern: CONDITION_TYPE_PATTERN,
      maxLength: 316,
      hint: 'use a CamelCase type like Ready',
    }),
    status: enumOf('True, False or Unknown.', ['True', 'False', 'Unknown']),
    reason: str('CamelCase reason, for machines.', {
      pattern: CONDITION_REASON_PATTERN,
      minLength: 1,
      maxLength: 1024,
      hint: 'use a CamelCase reason like InvalidSpec',
    }),
    message: str('Human-readable details (may be empty).', { maxLength: 32768 }),
    lastTransitionTime: dateTime('When status last changed.'),
    observedGeneration: int(
      'metadata.generation this condition was computed from.',
      0,
      Number.MAX_SAFE_INTEGER,
    ),
  },
  ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
);

export function statusBase(phases: string[], extra: Record<string, Schema>): Schema {
  return obj('Observed state, written by the operator through the status subresource.', {
    phase: enumOf('Summary for people and printer columns.', phases),
    observedGeneration: int(
      'metadata.generation of the spec the operator last acted on.',
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    conditions: list('Ready, Reconciling, Stalled and kind-specific conditions.', conditionSchema, 32, {
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    }),
    ...extra,
  });
}

/** A resource quantity: 100m, 0.5, 128Mi, 2Gi, 1e3. */
export const QUANTITY_PATTERN =
  '^[+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$';
function quantities(description: string): Schema {
  return {
    type: 'object',
    description,
    additionalProperties: {
      type: 'string',
      maxLength: 64,
      pattern: QUANTITY_PATTERN,
      hint: 'write a quantity like 250m, 0.5, 128Mi or 2Gi',
    },
    maxProperties: 8,
  };
}

/**
 * What a spec may change of the pods of a Job the operator creates, over its defaults: Pod
 * Security "restricted" (seccomp RuntimeDefault, runAsNonRoot, no privilege escalation, every
 * capability dropped, read-only root filesystem) and requests of 100m CPU / 128Mi memory with a
 * 512Mi memory limit.
 */
export const podOverlay: Schema = obj(
  'Pod settings of the Job over the operator\'s defaults (Pod Security "restricted", 100m/128Mi requests, 512Mi limit).',
  {
    annotations: stringMap('Annotations on the pods (e.g. for a service mesh or a log shipper).'),
    nodeSelector: stringMap('Node labels the pods must run on.'),
    tolerations: list(
      'Taints the pods tolerate.',
      obj(
        'One toleration (core/v1 Toleration).',
        {
          key: str('Taint key; empty with operator Exists matches every taint.', { maxLength: 316 }),
          operator: enumOf('Exists or Equal.', ['Exists', 'Equal']),
          value: str('Taint value (operator Equal).', { maxLength: 63 }),
          effect: enumOf('NoSchedule, PreferNoSchedule or NoExecute; empty matches all.', [
            'NoSchedule',
            'PreferNoSchedule',
            'NoExecute',
          ]),
          tolerationSeconds: int('NoExecute: how long the pod stays after the taint appears.', 0, 31_536_000),
        },
        [],
        [
          rule<{ operator?: string; value?: string }>(
            "!has(self.operator) || self.operator != 'Exists' || !has(self.value)",
            'a toleration with operator Exists matches any value: remove value, or use operator Equal',
            (t) => t.operator !== 'Exists' || t.value === undefined,
          ),
        ],
      ),
      32,
    ),
    resources: obj('Requests and limits of the container (replace the defaults as a whole).', {
      requests: quantities('Requests, e.g. cpu: 500m, memory: 512Mi.'),
      limits: quantities('Limits, e.g. memory: 2Gi.'),
    }),
    securityContext: obj(
      'Security settings over the "restricted" defaults; privilege escalation and capabilities cannot be given back.',
      {
        runAsUser: int('UID of the container process.', 0, 2_147_483_647),
        runAsGroup: int('GID of the container process.', 0, 2_147_483_647),
        fsGroup: int('Group that owns mounted volumes.', 0, 2_147_483_647),
        runAsNonRoot: bool('Refuse to start as root (default true; "restricted" needs it).'),
        readOnlyRootFilesystem: bool('Read-only root filesystem (default true).'),
        seccompProfile: obj(
          'Seccomp profile (default RuntimeDefault).',
          {
            type: enumOf('RuntimeDefault, Localhost or Unconfined ("restricted" allows the first two).', [
              'RuntimeDefault',
              'Localhost',
              'Unconfined',
            ]),
            localhostProfile: str('Localhost: the profile file on the node.', { maxLength: 512 }),
          },
          ['type'],
          [
            rule<{ type?: string; localhostProfile?: string }>(
              "(self.type == 'Localhost') == has(self.localhostProfile)",
              'localhostProfile goes with type Localhost: set both, or neither',
              (p) => (p.type === 'Localhost') === (p.localhostProfile !== undefined),
            ),
          ],
        ),
      },
    ),
  },
);

/** Simplified Job template for the Jobs the operator creates (delta sync, replay, remediation). */
export const jobTemplate: Schema = obj(
  'A Job the operator creates and watches.',
  {
    image: str('Container image.', { maxLength: 512 }),
    command: list('Container command.', str('Argument.', { maxLength: 4096 }), 64),
    args: list('Container arguments.', str('Argument.', { maxLength: 4096 }), 64),
    env: list(
      'Environment variables; secrets only through secretKeyRef.',
      obj(
        'One variable.',
        {
          name: str('Variable name.', {
            pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
            maxLength: 128,
            hint: 'use letters, digits and _',
          }),
          value: str('Literal value.', { maxLength: 4096 }),
          secretKeyRef,
        },
        ['name'],
        [
          rule<{ value?: string; secretKeyRef?: unknown }>(
            '!(has(self.value) && has(self.secretKeyRef))',
            'a variable has one source: set either value or secretKeyRef, not both',
            (s) => !(s.value !== undefined && s.secretKeyRef !== undefined),
          ),
        ],
      ),
      64,
    ),
    serviceAccountName: objectName('ServiceAccount the pods run as.'),
    parallelism: int('Pods running at once.', 1, 256),
    completions: int('Completions (with completionMode Indexed: number of shards).', 1, 1024),
    completionMode: enumOf('NonIndexed or Indexed.', ['NonIndexed', 'Indexed'], 'NonIndexed'),
    backoffLimit: int('Retries before the Job fails.', 0, 100, 2),
    activeDeadlineSeconds: int('Hard time limit.', 1, 604800),
    podLabels: stringMap('Extra labels on the pods.'),
    pod: podOverlay,
  },
  ['image', 'command'],
  [
    rule<{ completionMode?: string; completions?: number }>(
      "self.completionMode != 'Indexed' || has(self.completions)",
      'completionMode Indexed needs completions (the number of shards): set completions',
      (s) => s.completionMode !== 'Indexed' || s.completions !== undefined,
    ),
  ],
);

export const databaseSchema: Schema = obj(
  'A database: its engine and where its connection URL comes from.',
  {
    engine: enumOf('mysql (also MariaDB) or postgres.', ['mysql', 'postgres']),
    secretRef: secretKeyRef,
    url: str('Connection URL, for the CLI only; must not contain a password (use PGPASSWORD / MYSQL_PWD).', {
      maxLength: 2048,
    }),
  },
  ['engine'],
  [
    rule<{ secretRef?: unknown; url?: string }>(
      'has(self.secretRef) || has(self.url)',
      'no connection given: set secretRef (name of a Secret holding the connection URL) or, for the CLI, url',
      (s) => s.secretRef !== undefined || s.url !== undefined,
      { reason: 'FieldValueRequired' },
    ),
    rule<{ url?: string }>(
      `!has(self.url) || !self.url.matches('${URL_WITH_PASSWORD_PATTERN}')`,
      'url must not contain a password: remove it from the URL and put the URL in a Secret (secretRef) or pass the password in the environment',
      (s) => s.url === undefined || !new RegExp(URL_WITH_PASSWORD_PATTERN).test(s.url),
      { fieldPath: '.url' },
    ),
  ],
);
