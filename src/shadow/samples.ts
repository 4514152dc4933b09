/**
 * The bounded, rotating sample of differing exchanges served on the admin endpoint: the most
 * recent `size` ones, plus the first example of each (route, field, kind) seen (bounded too), so
 * a rare difference stays visible after a frequent one has rotated everything else out. Values
 * are redacted and cut to `maxValueLength` characters when the sample is taken, never later.
 */
import type { Difference, PreparedAnswer } from './compare.js';
import type { CompiledRules } from './rules.js';
import { redactBodyValue, redactHeaderValue, redactTarget } from './redact.js';

const MAX_FIRST_EXAMPLES = 200;
const MAX_DIFFERENCES_PER_SAMPLE = 50;

export interface SampleDifference {
  path: string;
  kind: string;
  legacy?: unknown;
  new?: unknown;
}

export interface DifferenceSample {
  id: number;
  at: string;
  service: string;
  route: string;
  method: string;
  target: string;
  requestHeaders: Record<string, string>;
  legacy: { status: number; headers: Record<string, unknown>; ms: number };
  new: { status: number; headers: Record<string, unknown>; ms: number };
  differences: SampleDifference[];
  /** Differences beyond those listed. */
  more: number;
  noise: string[];
  /** The readable diff: one line per difference. */
  diff: string[];
  /** The worker that took it (a proxy with several workers; ids are per worker). */
  worker?: number;
}

export interface FirstExample {
  route: string;
  field: string;
  kind: string;
  sampleId: number;
  diff: string[];
  /** The worker whose sample it is (a proxy with several workers). */
  worker?: number;
}

export interface ExchangeForSample {
  route: string;
  method: string;
  target: string;
  requestHeaders: Record<string, string>;
  legacy: PreparedAnswer;
  candidate: PreparedAnswer;
  legacyMs: number;
  newMs: number;
  differences: Difference[];
  noise: Difference[];
  truncated: boolean;
}

function clip(v: unknown, max: number): unknown {
  if (v === undefined) return undefined;
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  if (text.length <= max) return v;
  return `${text.slice(0, max)}… (${text.length} chars)`;
}

function show(v: unknown): string {
  // JSON.stringify gives undefined only for undefined, functions and symbols: none come from JSON.
  return v === undefined ? '(absent)' : (JSON.stringify(v) ?? '(not JSON)');
}

export function diffLine(d: SampleDifference): string {
  switch (d.kind) {
    case 'missing':
      return `- ${d.path}: ${show(d.legacy)} (missing in new)`;
    case 'extra':
      return `+ ${d.path}: ${show(d.new)} (only in new)`;
    default:
      return `~ ${d.path || '(body)'}: ${show(d.legacy)} → ${show(d.new)} (${d.kind})`;
  }
}

export class DifferenceSamples {
  private readonly ring: DifferenceSample[] = [];
  private next = 0;
  private seq = 0;
  private readonly first = new Map<string, DifferenceSample>();

  constructor(
    private readonly rules: CompiledRules,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get size(): number {
    return this.rules.sampleSize;
  }

  add(x: ExchangeForSample): void {
    if (this.rules.sampleSize === 0) return;
    const r = this.rules;
    const max = r.maxValueLength;
    const value = (d: Difference, v: unknown): unknown => {
      if (d.path.startsWith('header:')) return clip(redactHeaderValue(r, d.path.slice(7), v), max);
      if (d.path.startsWith('/') || d.path === '')
        return clip(d.path === '' ? v : redactBodyValue(r.redactFields, d.path, v), max);
      return clip(v, max);
    };
    const listed = x.differences.slice(0, MAX_DIFFERENCES_PER_SAMPLE).map((d) => {
      const s: SampleDifference = { path: d.path, kind: d.kind };
      const l = value(d, d.legacy);
      const n = value(d, d.new);
      if (l !== undefined) s.legacy = l;
      if (n !== undefined) s.new = n;
      return s;
    });
    const headers = (h: PreparedAnswer['headers']): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const name of [
        'content-type',
        'content-encoding',
        'content-length',
        ...this.routeHeaders(x.route),
      ]) {
        if (h[name] !== undefined) out[name] = redactHeaderValue(r, name, h[name]);
      }
      return out;
    };
    const reqHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(x.requestHeaders)) reqHeaders[k] = String(redactHeaderValue(r, k, v));
    const sample: DifferenceSample = {
      id: ++this.seq,
      at: this.now().toISOString(),
      service: r.service,
      route: x.route,
      method: x.method,
      target: redactTarget(r, x.target),
      requestHeaders: reqHeaders,
      legacy: { status: x.legacy.status, headers: headers(x.legacy.headers), ms: round(x.legacyMs) },
      new: { status: x.candidate.status, headers: headers(x.candidate.headers), ms: round(x.newMs) },
      differences: listed,
      more: x.differences.length - listed.length + (x.truncated ? 1 : 0),
      noise: x.noise.slice(0, MAX_DIFFERENCES_PER_SAMPLE).map((d) => d.path),
      diff: listed.map(diffLine),
    };
    if (this.ring.length < r.sampleSize) this.ring.push(sample);
    else this.ring[this.next] = sample;
    this.next = (this.next + 1) % r.sampleSize;
    for (const d of x.differences) {
      const key = `${x.route}\u0000${d.field}\u0000${d.kind}`;
      if (!this.first.has(key) && this.first.size < MAX_FIRST_EXAMPLES) this.first.set(key, sample);
    }
  }

  /** Most recent first. */
  recent(): DifferenceSample[] {
    const ordered =
      this.ring.length < this.rules.sampleSize
        ? [...this.ring]
        : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return ordered.reverse();
  }

  /** The first sample of each route, field and kind. */
  firstExamples(): FirstExample[] {
    return [...this.first.entries()].map(([key, s]) => {
      const [route, field, kind] = key.split('\u0000') as [string, string, string];
      return { route, field, kind, sampleId: s.id, diff: s.diff };
    });
  }

  private routeHeaders(route: string): readonly string[] {
    return (this.rules.routes.find((x) => x.label === route) ?? this.rules.other).compareHeaders;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
