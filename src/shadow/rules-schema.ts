/**
 * The shadow proxy's comparison rules for one service: the file `cutover shadow-proxy --rules`
 * reads, and the fragment a Cutover embeds per service as `spec.shadow.comparison[]`. Written like
 * `src/api/schema/*.ts` — a plain structural OpenAPI fragment whose CEL rules carry TypeScript
 * twins — so the API server and `validateRules()` refuse the same mistakes with the same words.
 */
import {
  type Schema,
  bool,
  duration,
  enumOf,
  int,
  list,
  name,
  num,
  obj,
  rule,
  str,
  timeZone,
} from '../api/schema/common.js';
import { PATH_PATTERN_REGEX } from './path-pattern.js';

/** A JSON Pointer, or a pattern of one with `*` (one level) and `**` (any levels) segments. */
export const POINTER_PATTERN = '^(/([^/~]|~[01])*)+$';
/** An HTTP header name (RFC 9110 token). */
export const HEADER_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
/** A Kubernetes resource quantity (250m, 128Mi, 1). */
const QUANTITY_PATTERN = '^([0-9]+(\\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$';

export const MIRRORED_METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST'] as const;
export type MirroredMethod = (typeof MIRRORED_METHODS)[number];

// ----------------------------------------------------------------------------------- types

export interface NumberRule {
  path: string;
  /** Equal when |legacy − new| <= tolerance. */
  tolerance?: number;
  /** Equal when both round (half away from zero) to the same value with this many decimals. */
  scale?: number;
  /** Strings holding a number ("12.50") are read as numbers. */
  acceptStrings?: boolean;
}
export interface TimestampRule {
  path: string;
  /** Instants this close are equal (e.g. 1s); exact by default. */
  tolerance?: string;
  /** Zone of timestamps written without an offset (MySQL DATETIME): UTC by default. */
  assumeZone?: string;
  /** Numbers are epoch Seconds or Milliseconds (default Milliseconds). */
  epoch?: 'Seconds' | 'Milliseconds';
}
export interface ArrayRule {
  path: string;
  /** Ordered: index by index (default). Unordered: as a set, matched by key when given. */
  order?: 'Ordered' | 'Unordered';
  /** JSON Pointer into each element identifying it (e.g. /id), for Unordered. */
  key?: string;
}
export interface StringRule {
  path: string;
  trim?: boolean;
  ignoreCase?: boolean;
  collapseWhitespace?: boolean;
}
export interface BodyRules {
  /** Paths never compared (the whole subtree). */
  ignore?: string[];
  numbers?: NumberRule[];
  timestamps?: TimestampRule[];
  arrays?: ArrayRule[];
  strings?: StringRule[];
  /** A null value and an absent field are the same. */
  nullEqualsMissing?: boolean;
  /** Compare bodies at all (default true); false compares status and headers only. */
  compareBody?: boolean;
}
export interface RouteRules extends BodyRules {
  /** `/orders/{id}`: the route's label in metrics and samples. */
  template: string;
  /** Methods this route applies to (all mirrored methods when absent). */
  methods?: MirroredMethod[];
  /** Response headers compared on this route, besides compareHeaders. */
  compareHeaders?: string[];
}
export interface ShadowComparison {
  /** Service name: the `service` label; in a Cutover, a service of spec.services. */
  service?: string;
  methods?: MirroredMethod[];
  paths?: string[];
  excludePaths?: string[];
  forwardHeaders?: string[];
  compareHeaders?: string[];
  defaults?: BodyRules;
  routes?: RouteRules[];
  redact?: { headers?: string[]; fields?: string[]; queryParams?: string[] };
  queue?: { size?: number; concurrency?: number; maxLag?: string };
  newStack?: { timeout?: string; maxConnections?: number };
  maxBodyBytes?: number;
  maxBufferedBytes?: number;
  samples?: { size?: number; maxValueLength?: number };
  noise?: { secondaryLegacyUrl?: string; minSamples?: number; minRate?: number };
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } };
}

// ---------------------------------------------------------------------------------- schema

function pointer(description: string): Schema {
  return str(description, {
    pattern: POINTER_PATTERN,
    maxLength: 512,
    hint: 'write a JSON Pointer like /items/*/price (* is one level, ** any levels; ~1 for / and ~0 for ~ in a key)',
  });
}
function pathPattern(description: string): Schema {
  return str(description, {
    pattern: PATH_PATTERN_REGEX,
    maxLength: 256,
    hint: 'write a path like /orders/{id} or /api/** ({name} or * is one segment, ** the rest, only at the end)',
  });
}
function headerName(description: string): Schema {
  return str(description, {
    pattern: HEADER_NAME_PATTERN,
    maxLength: 128,
    hint: 'write an HTTP header name like content-type',
  });
}
function quantity(description: string): Schema {
  return str(description, {
    pattern: QUANTITY_PATTERN,
    maxLength: 32,
    hint: 'write a Kubernetes quantity like 250m, 1, 128Mi or 1Gi',
  });
}
function uniqueBy(what: string, field: string): ReturnType<typeof rule> {
  return rule<Record<string, unknown>[]>(
    `self.all(x, self.exists_one(y, y.${field} == x.${field}))`,
    `${what} must be unique: merge or remove the duplicate ${field}`,
    (self) => new Set(self.map((x) => x[field])).size === self.length,
  );
}
const methodList = (description: string, def?: MirroredMethod[]): Schema =>
  list(description, enumOf('HTTP method.', [...MIRRORED_METHODS]), 4, {
    minItems: 1,
    'x-kubernetes-list-type': 'set',
    ...(def ? { default: def } : {}),
  });

const numberRule = obj(
  'Numbers compared within a tolerance or after rounding.',
  {
    path: pointer('Where: a JSON Pointer pattern.'),
    tolerance: num('Equal when |legacy − new| <= tolerance.', 0, 1e15),
    scale: int(
      'Equal when both round (half away from zero) to the same value with this many decimals.',
      0,
      18,
    ),
    acceptStrings: bool('Strings holding a number ("12.50") are read as numbers.', false),
  },
  ['path'],
  [
    rule<NumberRule>(
      'has(self.tolerance) || has(self.scale)',
      'a number rule needs tolerance or scale (or both): add one',
      (s) => s.tolerance !== undefined || s.scale !== undefined,
      { reason: 'FieldValueRequired' },
    ),
  ],
);

const timestampRule = obj(
  'Timestamps compared as instants.',
  {
    path: pointer('Where: a JSON Pointer pattern.'),
    tolerance: duration('Instants this close are equal, e.g. 1s (exact when absent).'),
    assumeZone: timeZone('Zone of timestamps without an offset, e.g. Europe/Istanbul (default UTC).'),
    epoch: enumOf('Numbers are epoch Seconds or Milliseconds.', ['Seconds', 'Milliseconds'], 'Milliseconds'),
  },
  ['path'],
);

const arrayRule = obj(
  'How an array is compared.',
  {
    path: pointer('Where: a JSON Pointer pattern.'),
    order: enumOf('Ordered (index by index) or Unordered (as a set).', ['Ordered', 'Unordered'], 'Ordered'),
    key: pointer('Pointer into each element that identifies it, e.g. /id (Unordered only).'),
  },
  ['path'],
  [
    rule<ArrayRule>(
      "!has(self.key) || self.order == 'Unordered'",
      'key matches elements of an Unordered array: set order: Unordered or remove key',
      (s) => s.key === undefined || s.order === 'Unordered',
      { fieldPath: '.key' },
    ),
  ],
);

const stringRule = obj(
  'String normalizations before comparing.',
  {
    path: pointer('Where: a JSON Pointer pattern.'),
    trim: bool('Ignore leading and trailing white space.', false),
    ignoreCase: bool('Ignore upper/lower case.', false),
    collapseWhitespace: bool('Runs of white space count as one space.', false),
  },
  ['path'],
  [
    rule<StringRule>(
      'self.trim || self.ignoreCase || self.collapseWhitespace',
      'a string rule does nothing: set trim, ignoreCase or collapseWhitespace',
      (s) => Boolean(s.trim || s.ignoreCase || s.collapseWhitespace),
    ),
  ],
);

function bodyRuleProperties(): Record<string, Schema> {
  return {
    ignore: list(
      'JSON Pointer patterns never compared (with everything below them).',
      pointer('Pattern.'),
      128,
    ),
    numbers: list('Number rules; the first matching one applies.', numberRule, 64),
    timestamps: list('Timestamp rules; the first matching one applies.', timestampRule, 16),
    arrays: list('Array rules; the first matching one applies.', arrayRule, 64),
    strings: list('String rules; the first matching one applies.', stringRule, 64),
    nullEqualsMissing: bool('A null value and an absent field are the same.'),
    compareBody: bool('Compare bodies (false: status and headers only).'),
  };
}

export const bodyRulesSchema: Schema = obj(
  "Body comparison rules applied to every route (a route's own rules come first).",
  bodyRuleProperties(),
);

export const routeRulesSchema: Schema = obj(
  'A route: its template (the metrics label) and its comparison rules.',
  {
    template: pathPattern(
      'Route template, e.g. /orders/{id}; requests matching no template are labelled other.',
    ),
    methods: methodList('Methods the route applies to (all mirrored methods when absent).'),
    compareHeaders: list(
      'Response headers compared on this route besides compareHeaders.',
      headerName('Header.'),
      32,
    ),
    ...bodyRuleProperties(),
  },
  ['template'],
);

type Spec = ShadowComparison;
export const shadowComparisonSchema: Schema = obj(
  "How the shadow proxy mirrors one service's reads to the new stack and compares the answers.",
  {
    service: name('Service name (the metrics label); in a Cutover, a service of spec.services.'),
    methods: methodList(
      'Methods mirrored to the new stack: reads only, GET and HEAD by default; POST only for read endpoints listed in paths.',
      ['GET', 'HEAD'],
    ),
    paths: list('Path patterns mirrored, e.g. /api/**; every path when absent.', pathPattern('Pattern.'), 64),
    excludePaths: list('Path patterns never mirrored (health checks, logins).', pathPattern('Pattern.'), 64),
    forwardHeaders: list(
      'Request headers sent along to the new stack (method, path and query always are).',
      headerName('Header.'),
      32,
      { default: ['accept', 'accept-language', 'content-type'] },
    ),
    compareHeaders: list('Response headers compared on every route.', headerName('Header.'), 32),
    defaults: bodyRulesSchema,
    routes: list(
      'Routes, matched in order; the first whose template and methods match applies.',
      routeRulesSchema,
      64,
      { rules: [uniqueBy('route templates', 'template')] },
    ),
    redact: obj(
      'What samples never show (Authorization, Cookie, Set-Cookie and Proxy-Authorization never are).',
      {
        headers: list('Header names whose values are replaced by ***.', headerName('Header.'), 32),
        fields: list(
          'JSON Pointer patterns of body fields whose values are replaced by ***.',
          pointer('Pattern.'),
          64,
        ),
        queryParams: list(
          'Query parameters whose values are replaced by *** (token, key, secret, password, signature always are).',
          str('Parameter name.', { maxLength: 128 }),
          32,
        ),
      },
    ),
    queue: obj(
      'The bounded queue of requests to mirror; full (or the proxy overloaded) → the request is not mirrored and counted as dropped.',
      {
        size: int('Requests admitted and not yet compared, at most.', 1, 100000, 1000),
        concurrency: int('Requests to the new stack in flight, at most.', 1, 4096, 64),
        maxLag: duration(
          "Off when absent. The proxy's event-loop delay above which requests are not mirrored (counted as dropped, reason overloaded), so that mirroring and comparing do not slow legacy's answers when the proxy runs short of CPU: a sample instead of every request.",
        ),
      },
    ),
    newStack: obj('Limits of the requests to the new stack.', {
      timeout: duration('Whole-answer timeout of one request.', '5s'),
      maxConnections: int('Connections to the new stack, at most.', 1, 4096, 64),
    }),
    maxBodyBytes: int(
      'Bytes of one answer kept for comparison; a larger answer is compared by hash (identity encoding) or counted as too large.',
      1024,
      67108864,
      1048576,
    ),
    maxBufferedBytes: int(
      'Bytes of all answers kept at once; past it answers are compared by hash only.',
      65536,
      4294967296,
      67108864,
    ),
    samples: obj('The rotating sample of differences served on the admin endpoint.', {
      size: int('Differing exchanges kept (the most recent).', 0, 10000, 100),
      maxValueLength: int('Characters of one value shown in a sample.', 16, 65536, 512),
    }),
    noise: obj(
      'Noise learning: a second legacy backend is asked too, and fields that differ between the two legacy answers are noise, not differences.',
      {
        secondaryLegacyUrl: str(
          'The second legacy backend, e.g. http://pos-legacy-canary:8080 (the CLI flag --legacy-secondary overrides it).',
          {
            maxLength: 2048,
            pattern: '^https?://[^/@\\s]+(/.*)?$',
            hint: 'write an http:// or https:// URL without credentials',
          },
        ),
        minSamples: int(
          'Answers of a route compared with the second backend before a field counts as noisy on all requests.',
          1,
          1000000,
          20,
        ),
        minRate: num(
          'Share of those answers in which a field must differ between the two legacy backends to count as noisy.',
          0,
          1,
          0.1,
        ),
      },
    ),
    resources: obj('Resources of the proxy pod (used by the operator).', {
      requests: obj('Requests.', { cpu: quantity('CPU.'), memory: quantity('Memory.') }),
      limits: obj('Limits.', { cpu: quantity('CPU.'), memory: quantity('Memory.') }),
    }),
  },
  [],
  [
    rule<Spec>(
      "!has(self.methods) || !('POST' in self.methods) || has(self.paths)",
      'POST writes on the new stack unless it is a read: with POST in methods, list the read-only POST endpoints in paths',
      (s) => s.methods === undefined || !s.methods.includes('POST') || s.paths !== undefined,
      { fieldPath: '.paths', reason: 'FieldValueRequired' },
    ),
    rule<Spec>(
      '!has(self.queue) || !has(self.queue.size) || !has(self.queue.concurrency) || self.queue.concurrency <= self.queue.size',
      'queue.concurrency is more than queue.size: requests in flight are part of the queue, so raise size or lower concurrency',
      (s) =>
        s.queue?.size === undefined ||
        s.queue.concurrency === undefined ||
        s.queue.concurrency <= s.queue.size,
      { fieldPath: '.queue' },
    ),
    rule<Spec>(
      '!has(self.maxBodyBytes) || !has(self.maxBufferedBytes) || self.maxBodyBytes <= self.maxBufferedBytes',
      'maxBodyBytes is more than maxBufferedBytes: raise maxBufferedBytes or lower maxBodyBytes',
      (s) =>
        s.maxBodyBytes === undefined ||
        s.maxBufferedBytes === undefined ||
        s.maxBodyBytes <= s.maxBufferedBytes,
      { fieldPath: '.maxBodyBytes' },
    ),
  ],
);
