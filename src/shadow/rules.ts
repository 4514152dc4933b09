/**
 * Rules files: read (YAML or JSON), validated with the schema fragment (paths and fixes for every
 * problem), defaults applied, and compiled into what the proxy looks up per request: the route of
 * a request, whether it is mirrored, and one pointer automaton per route for the body rules.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { parseDurationMs } from '../api/schema/common.js';
import { validateFragment, type Problem } from '../api/validate.js';
import { PointerMatcher, parsePointer } from './json-pointer.js';
import { compilePathPattern, type PathPattern } from './path-pattern.js';
import {
  shadowComparisonSchema,
  type ArrayRule,
  type BodyRules,
  type NumberRule,
  type ShadowComparison,
  type StringRule,
  type TimestampRule,
} from './rules-schema.js';

export type { Problem } from '../api/validate.js';

/** One rule at a node of the body, as the comparison sees it. */
export type BodyRule =
  | { kind: 'ignore' }
  | { kind: 'number'; rule: NumberRule }
  | { kind: 'timestamp'; rule: TimestampRule; toleranceMicros: number }
  | { kind: 'array'; rule: ArrayRule; keySegments: string[] | undefined }
  | { kind: 'string'; rule: StringRule };

export interface CompiledBodyRules {
  matcher: PointerMatcher<BodyRule>;
  nullEqualsMissing: boolean;
  compareBody: boolean;
}

export interface CompiledRoute {
  /** Template text, or `other` for requests matching no template. */
  label: string;
  pattern: PathPattern | undefined;
  methods: ReadonlySet<string> | undefined;
  /** Lower-case names of the response headers compared. */
  compareHeaders: readonly string[];
  body: CompiledBodyRules;
}

export const OTHER_ROUTE = 'other';
/** Always redacted in samples, whatever the rules say. */
export const ALWAYS_REDACTED_HEADERS = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'];
export const ALWAYS_REDACTED_QUERY = /token|key|secret|passw|signature|sig$|auth/i;

export interface CompiledRules {
  source: ShadowComparison;
  service: string;
  methods: ReadonlySet<string>;
  paths: PathPattern[] | undefined;
  excludePaths: PathPattern[];
  /** Lower-case request headers forwarded to the new stack. */
  forwardHeaders: ReadonlySet<string>;
  routes: CompiledRoute[];
  other: CompiledRoute;
  redactHeaders: ReadonlySet<string>;
  redactFields: PointerMatcher<true>;
  redactQuery: ReadonlySet<string>;
  queueSize: number;
  concurrency: number;
  /** Event-loop delay (ms) above which requests are not mirrored (Infinity: off). */
  maxLagMs: number;
  newStackTimeoutMs: number;
  maxConnections: number;
  maxBodyBytes: number;
  maxBufferedBytes: number;
  sampleSize: number;
  maxValueLength: number;
  secondaryLegacyUrl: string | undefined;
  noiseMinSamples: number;
  noiseMinRate: number;
  /** The route a request belongs to (never undefined: `other` at worst). */
  routeFor(method: string, path: string): CompiledRoute;
  /** Whether a request is mirrored to the new stack. */
  mirrors(method: string, path: string): boolean;
}

export class RulesError extends Error {
  constructor(
    readonly source: string,
    readonly problems: Problem[],
  ) {
    super(
      `${source}: ${problems.length} problem(s) in the comparison rules:\n${problems.map((p) => `  ${p.path || '(rules)'}: ${p.message}`).join('\n')}`,
    );
    this.name = 'RulesError';
  }
}

/** Every problem of a rules object; [] when valid. Applies defaults to `rules` in place. */
export function validateRules(rules: unknown, root = ''): Problem[] {
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) {
    return [
      {
        path: root,
        message:
          'the comparison rules must be a mapping (service, routes, defaults...): see docs/shadow-proxy.md',
      },
    ];
  }
  const problems = validateFragment(shadowComparisonSchema, rules, root);
  if (problems.length === 0) {
    // What the schema cannot say: path patterns and pointers must also compile.
    const r = rules as ShadowComparison;
    const at = (p: string): string => (root ? `${root}.${p}` : p);
    for (const [i, route] of (r.routes ?? []).entries()) {
      try {
        compilePathPattern(route.template);
      } catch (err) {
        problems.push({ path: at(`routes[${i}].template`), message: (err as Error).message });
      }
    }
  }
  return problems;
}

/** Parses, validates and compiles the text of a rules file (YAML or JSON). Throws RulesError. */
export function parseRules(text: string, source = 'rules'): CompiledRules {
  const doc = parseDocument(text);
  // The first YAML error is the one to fix; the rest usually follow from it.
  if (doc.errors.length) {
    const first = doc.errors[0]!.message.split('\n')[0]!;
    const hint = /flow-map|flow map/i.test(first)
      ? ' (quote values with { }, like template: "/orders/{id}")'
      : '';
    throw new RulesError(source, [{ path: '', message: `YAML error: ${first}${hint}` }]);
  }
  let value: unknown = doc.toJS();
  if (value === null || value === undefined) value = {};
  const problems = validateRules(value);
  if (problems.length) throw new RulesError(source, problems);
  return compileRules(value as ShadowComparison);
}

export function loadRulesFile(file: string): CompiledRules {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RulesError(file, [
      { path: '', message: `cannot read the rules file: ${(err as Error).message}` },
    ]);
  }
  return parseRules(text, file);
}

/** Rules with nothing configured: every GET/HEAD mirrored, compared exactly. */
export function defaultRules(service = 'default'): CompiledRules {
  const r: ShadowComparison = { service };
  const problems = validateRules(r);
  if (problems.length) throw new RulesError('defaults', problems);
  return compileRules(r);
}

function addBodyRules(m: PointerMatcher<BodyRule>, b: BodyRules | undefined): void {
  if (!b) return;
  for (const p of b.ignore ?? []) m.add(p, { kind: 'ignore' });
  for (const r of b.numbers ?? []) m.add(r.path, { kind: 'number', rule: r });
  for (const r of b.timestamps ?? [])
    m.add(r.path, {
      kind: 'timestamp',
      rule: r,
      toleranceMicros: r.tolerance ? parseDurationMs(r.tolerance) * 1000 : 0,
    });
  for (const r of b.arrays ?? [])
    m.add(r.path, { kind: 'array', rule: r, keySegments: r.key ? parsePointer(r.key) : undefined });
  for (const r of b.strings ?? []) m.add(r.path, { kind: 'string', rule: r });
}

/** Compiles validated rules (defaults applied). */
export function compileRules(r: ShadowComparison): CompiledRules {
  const lower = (xs: string[] | undefined): string[] => (xs ?? []).map((x) => x.toLowerCase());
  const globalHeaders = lower(r.compareHeaders);
  const defaultsMatcher = (): PointerMatcher<BodyRule> => {
    const m = new PointerMatcher<BodyRule>();
    addBodyRules(m, r.defaults);
    return m;
  };
  const routes: CompiledRoute[] = (r.routes ?? []).map((route) => {
    const m = new PointerMatcher<BodyRule>();
    // The route's own rules first: the first matching rule of a kind wins.
    addBodyRules(m, route);
    addBodyRules(m, r.defaults);
    return {
      label: route.template,
      pattern: compilePathPattern(route.template),
      methods: route.methods ? new Set(route.methods) : undefined,
      compareHeaders: [...new Set([...globalHeaders, ...lower(route.compareHeaders)])],
      body: {
        matcher: m,
        nullEqualsMissing: route.nullEqualsMissing ?? r.defaults?.nullEqualsMissing ?? false,
        compareBody: route.compareBody ?? r.defaults?.compareBody ?? true,
      },
    };
  });
  const other: CompiledRoute = {
    label: OTHER_ROUTE,
    pattern: undefined,
    methods: undefined,
    compareHeaders: globalHeaders,
    body: {
      matcher: defaultsMatcher(),
      nullEqualsMissing: r.defaults?.nullEqualsMissing ?? false,
      compareBody: r.defaults?.compareBody ?? true,
    },
  };
  const redactFields = new PointerMatcher<true>();
  for (const p of r.redact?.fields ?? []) redactFields.add(p, true);
  const methods = new Set<string>(r.methods ?? ['GET', 'HEAD']);
  const paths = r.paths?.map(compilePathPattern);
  const excludePaths = (r.excludePaths ?? []).map(compilePathPattern);
  return {
    source: r,
    service: r.service ?? 'default',
    methods,
    paths,
    excludePaths,
    forwardHeaders: new Set(lower(r.forwardHeaders ?? ['accept', 'accept-language', 'content-type'])),
    routes,
    other,
    redactHeaders: new Set([...ALWAYS_REDACTED_HEADERS, ...lower(r.redact?.headers)]),
    redactFields,
    redactQuery: new Set(lower(r.redact?.queryParams)),
    queueSize: r.queue?.size ?? 1000,
    concurrency: r.queue?.concurrency ?? 64,
    maxLagMs: r.queue?.maxLag !== undefined ? parseDurationMs(r.queue.maxLag) : Infinity,
    newStackTimeoutMs: parseDurationMs(r.newStack?.timeout ?? '5s'),
    maxConnections: r.newStack?.maxConnections ?? 64,
    maxBodyBytes: r.maxBodyBytes ?? 1_048_576,
    maxBufferedBytes: r.maxBufferedBytes ?? 67_108_864,
    sampleSize: r.samples?.size ?? 100,
    maxValueLength: r.samples?.maxValueLength ?? 512,
    secondaryLegacyUrl: r.noise?.secondaryLegacyUrl,
    noiseMinSamples: r.noise?.minSamples ?? 20,
    noiseMinRate: r.noise?.minRate ?? 0.1,
    routeFor(method, path) {
      for (const route of routes) {
        if (route.methods && !route.methods.has(method)) continue;
        if (route.pattern!.test(path)) return route;
      }
      return other;
    },
    mirrors(method, path) {
      if (!methods.has(method)) return false;
      if (paths && !paths.some((p) => p.test(path))) return false;
      return !excludePaths.some((p) => p.test(path));
    },
  };
}
