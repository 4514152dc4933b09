/**
 * Comparison of a legacy answer with the new stack's: status, chosen headers, and the bodies —
 * JSON structurally under the route's rules, anything else by SHA-256 of the decoded bytes. Pure:
 * no I/O, no clock, so the noise learner runs the same code on two legacy answers.
 */
import type { CompiledBodyRules, CompiledRoute, BodyRule } from './rules.js';
import { childPointer, generalizePointer, valueAt, type States } from './json-pointer.js';
import {
  decimalsEqual,
  normalizeString,
  readInstantMicros,
  readNumber,
  roundDecimal,
  withinTolerance,
} from './value-rules.js';

export type DifferenceKind =
  | 'status' // status codes differ
  | 'header' // a compared response header differs
  | 'body-type' // one body is JSON, the other is not
  | 'hash' // non-JSON (or too large, identity-encoded) bodies differ
  | 'type' // JSON types differ at a path
  | 'missing' // in legacy's answer, not in the new one
  | 'extra' // in the new answer, not in legacy's
  | 'value' // plain values differ
  | 'number' // numbers differ beyond the rule's tolerance / scale
  | 'timestamp' // instants differ (beyond the tolerance), or one is no timestamp
  | 'string'; // strings differ after the rule's normalization

export interface Difference {
  /** `status`, `header:<name>`, or a JSON Pointer into the body (`` is the whole body). */
  path: string;
  /** The path with array indices as `*`: the metrics' field label. */
  field: string;
  kind: DifferenceKind;
  legacy?: unknown;
  new?: unknown;
}

export type PreparedBody =
  | { type: 'none' }
  | { type: 'json'; value: unknown }
  | { type: 'bytes'; sha256: string; size: number; preview: string }
  | { type: 'too-large'; size: number; sha256?: string };

export interface PreparedAnswer {
  status: number;
  /** Lower-case names, as node gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: PreparedBody;
}

export interface Comparison {
  differences: Difference[];
  /** Bodies were compared (structurally or by hash). */
  bodyCompared: boolean;
  /** An answer was over maxBodyBytes and could not be compared by hash. */
  tooLarge: boolean;
  /** More differences than MAX_DIFFERENCES existed; the rest were not listed. */
  truncated: boolean;
}

/** Differences listed per exchange at most: a completely different 1 MB body stops here. */
export const MAX_DIFFERENCES = 200;

function headerValue(v: string | string[] | undefined): string | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : v;
}

export function compareAnswers(
  route: CompiledRoute,
  legacy: PreparedAnswer,
  candidate: PreparedAnswer,
): Comparison {
  const out: Difference[] = [];
  const result: Comparison = { differences: out, bodyCompared: false, tooLarge: false, truncated: false };
  if (legacy.status !== candidate.status) {
    out.push({
      path: 'status',
      field: 'status',
      kind: 'status',
      legacy: legacy.status,
      new: candidate.status,
    });
  }
  for (const h of route.compareHeaders) {
    const a = headerValue(legacy.headers[h]);
    const b = headerValue(candidate.headers[h]);
    if (a !== b) out.push({ path: `header:${h}`, field: `header:${h}`, kind: 'header', legacy: a, new: b });
  }
  // Bodies of different statuses are different documents (an error page against an order).
  if (legacy.status !== candidate.status || !route.body.compareBody) return result;
  const a = legacy.body;
  const b = candidate.body;
  if (a.type === 'none' || b.type === 'none') return result;
  if (a.type === 'too-large' || b.type === 'too-large') {
    const ha = a.type === 'too-large' ? a.sha256 : a.type === 'bytes' ? a.sha256 : undefined;
    const hb = b.type === 'too-large' ? b.sha256 : b.type === 'bytes' ? b.sha256 : undefined;
    if (ha === undefined || hb === undefined) {
      result.tooLarge = true;
      return result;
    }
    result.bodyCompared = true;
    if (ha !== hb)
      out.push({ path: '', field: '(body)', kind: 'hash', legacy: `sha256:${ha}`, new: `sha256:${hb}` });
    return result;
  }
  result.bodyCompared = true;
  if (a.type === 'json' && b.type === 'json') {
    const walker = new Walker(route.body, out);
    walker.walk(a.value, b.value, '', route.body.matcher.start());
    result.truncated = walker.truncated;
  } else if (a.type === 'bytes' && b.type === 'bytes') {
    if (a.sha256 !== b.sha256)
      out.push({
        path: '',
        field: '(body)',
        kind: 'hash',
        legacy: `sha256:${a.sha256} (${a.size} bytes) ${a.preview}`,
        new: `sha256:${b.sha256} (${b.size} bytes) ${b.preview}`,
      });
  } else {
    const show = (x: PreparedBody): string =>
      x.type === 'json' ? 'JSON' : x.type === 'bytes' ? `not JSON: ${x.preview}` : x.type;
    out.push({ path: '', field: '(body)', kind: 'body-type', legacy: show(a), new: show(b) });
  }
  return result;
}

/** Structural comparison of two JSON documents under body rules (exported for tests and noise). */
export function compareJson(
  rules: CompiledBodyRules,
  legacy: unknown,
  candidate: unknown,
): { differences: Difference[]; truncated: boolean } {
  const out: Difference[] = [];
  const w = new Walker(rules, out);
  w.walk(legacy, candidate, '', rules.matcher.start());
  return { differences: out, truncated: w.truncated };
}

type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Record<string, Json>, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
function typeName(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

interface NodeRules {
  ignore: boolean;
  number?: Extract<BodyRule, { kind: 'number' }>;
  timestamp?: Extract<BodyRule, { kind: 'timestamp' }>;
  array?: Extract<BodyRule, { kind: 'array' }>;
  string?: Extract<BodyRule, { kind: 'string' }>;
}
const NO_RULES: NodeRules = { ignore: false };

class Walker {
  truncated = false;
  constructor(
    private readonly rules: CompiledBodyRules,
    private readonly out: Difference[],
  ) {}

  private push(path: string, kind: DifferenceKind, legacy: Json, candidate: Json): void {
    if (this.out.length >= MAX_DIFFERENCES) {
      this.truncated = true;
      return;
    }
    const d: Difference = { path, field: path === '' ? '(body)' : generalizePointer(path), kind };
    if (legacy !== undefined) d.legacy = legacy;
    if (candidate !== undefined) d.new = candidate;
    this.out.push(d);
  }

  private rulesAt(states: States): NodeRules {
    if (states.length === 0) return NO_RULES;
    const rs = this.rules.matcher.matches(states);
    if (rs.length === 0) return NO_RULES;
    const n: NodeRules = { ignore: false };
    for (const r of rs) {
      if (r.kind === 'ignore') return { ignore: true };
      if (r.kind === 'number') n.number ??= r;
      else if (r.kind === 'timestamp') n.timestamp ??= r;
      else if (r.kind === 'array') n.array ??= r;
      else n.string ??= r;
    }
    return n;
  }

  walk(a: Json, b: Json, path: string, states: States): void {
    if (this.truncated) return;
    const r = this.rulesAt(states);
    if (r.ignore) return;
    if (r.timestamp && isLeaf(a) && isLeaf(b)) {
      const rule = r.timestamp.rule;
      const ia = readInstantMicros(a, rule);
      const ib = readInstantMicros(b, rule);
      if (ia === undefined || ib === undefined) {
        if (a !== b) this.push(path, 'timestamp', a, b);
      } else if (Math.abs(ia - ib) > r.timestamp.toleranceMicros) {
        this.push(path, 'timestamp', a, b);
      }
      return;
    }
    if (r.number) {
      const rule = r.number.rule;
      const na = readNumber(a, rule.acceptStrings ?? false);
      const nb = readNumber(b, rule.acceptStrings ?? false);
      if (na !== undefined && nb !== undefined) {
        if (!numbersEqual(na, nb, rule.tolerance, rule.scale)) this.push(path, 'number', a, b);
        return;
      }
    }
    if (r.string && typeof a === 'string' && typeof b === 'string') {
      if (normalizeString(a, r.string.rule) !== normalizeString(b, r.string.rule))
        this.push(path, 'string', a, b);
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      if (r.array?.rule.order === 'Unordered') this.unordered(a, b, path, states, r.array.keySegments);
      else this.ordered(a, b, path, states);
      return;
    }
    if (isObj(a) && isObj(b)) {
      this.objects(a, b, path, states);
      return;
    }
    if (a === b) return;
    this.push(path, typeName(a) === typeName(b) ? 'value' : 'type', a, b);
  }

  private child(states: States, key: string): States {
    return states.length === 0 ? states : this.rules.matcher.step(states, key);
  }

  private ignoredAt(states: States): boolean {
    return states.length > 0 && this.rulesAt(states).ignore;
  }

  private objects(a: Record<string, Json>, b: Record<string, Json>, path: string, states: States): void {
    const nullMissing = this.rules.nullEqualsMissing;
    for (const k in a) {
      if (!has(a, k)) continue;
      const cs = this.child(states, k);
      if (has(b, k)) {
        const va = a[k];
        const vb = b[k];
        // Fast path for equal primitives, the bulk of any answer.
        if (va === vb && (typeof va !== 'object' || va === null) && cs.length === 0) continue;
        this.walk(va, vb, childPointer(path, k), cs);
      } else if (!(nullMissing && a[k] === null) && !this.ignoredAt(cs)) {
        this.push(childPointer(path, k), 'missing', a[k], undefined);
      }
      if (this.truncated) return;
    }
    for (const k in b) {
      if (!has(b, k) || has(a, k)) continue;
      if (nullMissing && b[k] === null) continue;
      if (this.ignoredAt(this.child(states, k))) continue;
      this.push(childPointer(path, k), 'extra', undefined, b[k]);
    }
  }

  private ordered(a: Json[], b: Json[], path: string, states: States): void {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const va = a[i];
      const vb = b[i];
      const cs = this.child(states, String(i));
      if (va === vb && (typeof va !== 'object' || va === null) && cs.length === 0) continue;
      this.walk(va, vb, childPointer(path, i), cs);
      if (this.truncated) return;
    }
    for (let i = n; i < a.length; i++)
      if (!this.ignoredAt(this.child(states, String(i))))
        this.push(childPointer(path, i), 'missing', a[i], undefined);
    for (let i = n; i < b.length; i++)
      if (!this.ignoredAt(this.child(states, String(i))))
        this.push(childPointer(path, i), 'extra', undefined, b[i]);
  }

  /** Arrays as sets: matched by key when given, else by normalized content; the rest missing/extra. */
  private unordered(a: Json[], b: Json[], path: string, states: States, key: string[] | undefined): void {
    const identity = (v: Json, i: number): string =>
      key ? canonicalJson(valueAt(v, key)) : canonicalJson(this.normalized(v, this.child(states, String(i))));
    const byId = new Map<string, number[]>();
    a.forEach((v, i) => {
      const id = identity(v, i);
      const list = byId.get(id);
      if (list) list.push(i);
      else byId.set(id, [i]);
    });
    const matchedA = new Set<number>();
    const leftoverB: number[] = [];
    b.forEach((v, j) => {
      const list = byId.get(identity(v, j));
      const i = list?.shift();
      if (i === undefined) {
        leftoverB.push(j);
        return;
      }
      matchedA.add(i);
      // Matched by key: compare the elements in full. Matched by content: equal by construction,
      // but tolerances inside still need the walk to be exact.
      if (key) this.walk(a[i], v, childPointer(path, i), this.child(states, String(i)));
    });
    const leftoverA = a.map((_, i) => i).filter((i) => !matchedA.has(i));
    if (!key) {
      // Pair what is left in order of content, so a changed element is one detailed difference.
      const sortBy = (xs: number[], arr: Json[]): number[] =>
        xs
          .map((i) => ({ i, c: identity(arr[i], i) }))
          .sort((x, y) => (x.c < y.c ? -1 : x.c > y.c ? 1 : 0))
          .map((x) => x.i);
      const la = sortBy(leftoverA, a);
      const lb = sortBy(leftoverB, b);
      const n = Math.min(la.length, lb.length);
      for (let k = 0; k < n; k++)
        this.walk(a[la[k]!], b[lb[k]!], childPointer(path, la[k]!), this.child(states, String(la[k])));
      for (const i of la.slice(n)) this.push(childPointer(path, i), 'missing', a[i], undefined);
      for (const j of lb.slice(n)) this.push(childPointer(path, j), 'extra', undefined, b[j]);
      return;
    }
    for (const i of leftoverA) this.push(childPointer(path, i), 'missing', a[i], undefined);
    for (const j of leftoverB) this.push(childPointer(path, j), 'extra', undefined, b[j]);
  }

  /** A value with the rules' normalizations applied and ignored parts removed (for set matching). */
  private normalized(v: Json, states: States): Json {
    const r = this.rulesAt(states);
    if (r.ignore) return undefined;
    if (r.timestamp && isLeaf(v)) return readInstantMicros(v, r.timestamp.rule) ?? v;
    if (r.number) {
      const n = readNumber(v, r.number.rule.acceptStrings ?? false);
      if (n !== undefined)
        return r.number.rule.scale !== undefined ? `#${roundDecimal(n, r.number.rule.scale)}` : Number(n);
    }
    if (r.string && typeof v === 'string') return normalizeString(v, r.string.rule);
    if (Array.isArray(v)) {
      const items = v.map((x, i) => this.normalized(x, this.child(states, String(i))));
      return r.array?.rule.order === 'Unordered' ? items.map(canonicalJson).sort() : items;
    }
    if (isObj(v)) {
      const o: Record<string, Json> = {};
      for (const k of Object.keys(v)) {
        const n = this.normalized(v[k], this.child(states, k));
        if (n !== undefined && !(this.rules.nullEqualsMissing && n === null)) o[k] = n;
      }
      return o;
    }
    return v;
  }
}

function isLeaf(v: Json): boolean {
  return typeof v === 'string' || typeof v === 'number';
}

function numbersEqual(
  a: string,
  b: string,
  tolerance: number | undefined,
  scale: number | undefined,
): boolean {
  if (decimalsEqual(a, b)) return true;
  if (scale !== undefined && decimalsEqual(roundDecimal(a, scale), roundDecimal(b, scale))) return true;
  if (tolerance !== undefined && withinTolerance(a, b, tolerance)) return true;
  return false;
}

/** JSON with object keys sorted: equal values give equal text. */
export function canonicalJson(v: Json): string {
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObj(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
