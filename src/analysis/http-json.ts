/**
 * HTTP JSON provider: GET a URL (optionally with a header whose value comes from a Secret) and
 * pick a number out of the JSON by a dot path (`data.p95`, `items[0].value`).
 */
import { judge } from './condition.js';
import { getJson, HttpMeasureError, redactUrl } from './http-get.js';
import { DEFAULT_TIMEOUT_MS } from './prometheus.js';
import type {
  AnalysisProvider,
  MeasureContext,
  Measurement,
  MetricConditions,
  SecretReader,
} from './types.js';

export interface HttpJsonMetric extends MetricConditions {
  url: string;
  /** Dot path to the number, e.g. `data.p95` or `items[0].value`. */
  jsonPath: string;
  /** A header carrying a Secret value, e.g. Authorization. */
  header?: { name: string; secretRef: { name: string; key: string } };
  timeoutMs?: number;
}

const PATH = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+|\[[0-9]+\])*$/;

export function parseJsonPath(path: string): Array<string | number> {
  if (!PATH.test(path))
    throw new Error(`cannot read jsonPath '${path}': write a dot path like data.p95 or items[0].value`);
  const out: Array<string | number> = [];
  for (const m of path.matchAll(/([A-Za-z0-9_]+)|\[([0-9]+)\]/g)) out.push(m[1] ?? Number(m[2]));
  return out;
}

/** The value at the path: a number, a numeric string, null/missing (undefined) or something else. */
export function pick(body: unknown, path: Array<string | number>): unknown {
  let cur: unknown = body;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

export class HttpJsonProvider implements AnalysisProvider<HttpJsonMetric> {
  constructor(private readonly secrets?: SecretReader) {}

  async measure(metric: HttpJsonMetric, ctx: MeasureContext): Promise<Measurement> {
    const at = ctx.now.toISOString();
    let path;
    try {
      path = parseJsonPath(metric.jsonPath);
    } catch (err) {
      return { result: 'Error', reason: (err as Error).message, at };
    }
    const headers: Record<string, string> = {};
    if (metric.header) {
      if (!this.secrets)
        return { result: 'Error', reason: 'a header Secret is set but no Secret reader was given', at };
      try {
        headers[metric.header.name] = (await this.secrets(metric.header.secretRef)).trim();
      } catch (err) {
        return {
          result: 'Error',
          reason: `header Secret ${metric.header.secretRef.name}: ${(err as Error).message}`,
          at,
        };
      }
    }
    let answer;
    try {
      answer = await getJson(metric.url, {
        headers,
        timeoutMs: metric.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    } catch (err) {
      if (err instanceof HttpMeasureError) return { result: 'Error', reason: err.message, at };
      throw err;
    }
    if (answer.status < 200 || answer.status > 299)
      return { result: 'Error', reason: `${redactUrl(metric.url)} answered HTTP ${answer.status}`, at };
    const raw = pick(answer.body, path);
    if (raw === undefined || raw === null)
      return { result: 'NoData', reason: `${metric.jsonPath} is absent in the answer`, at };
    const value =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (typeof raw !== 'number' && typeof raw !== 'string')
      return {
        result: 'Error',
        reason: `${metric.jsonPath} is a ${Array.isArray(raw) ? 'list' : typeof raw}, not a number`,
        at,
      };
    if (Number.isNaN(value))
      return typeof raw === 'string' && raw.toLowerCase() === 'nan'
        ? { result: 'NoData', reason: `${metric.jsonPath} is NaN`, at }
        : {
            result: 'Error',
            reason: `${metric.jsonPath} is '${String(raw).slice(0, 64)}', not a number`,
            at,
          };
    return { value, ...judge(value, metric), at };
  }
}
