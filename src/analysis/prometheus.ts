/**
 * Prometheus provider: an instant query over the HTTP API (`/api/v1/query`), optionally with a
 * bearer token read from a Secret, under a timeout. One number is expected: a scalar or a vector
 * of one series. An empty vector or NaN is NoData; more than one series, a refused query, an
 * unreachable or slow server are Errors (never Failed: a flaky query is not a bad canary).
 */
import { judge } from './condition.js';
import { getJson, HttpMeasureError, redactUrl } from './http-get.js';
import type {
  AnalysisProvider,
  MeasureContext,
  Measurement,
  MetricConditions,
  SecretReader,
} from './types.js';

export interface PrometheusMetric extends MetricConditions {
  /** Base URL, e.g. http://prometheus.monitoring:9090. */
  address: string;
  query: string;
  /** Secret key holding a bearer token. */
  tokenSecretRef?: { name: string; key: string };
  /** Default 10 s. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

interface PromAnswer {
  status?: string;
  error?: string;
  errorType?: string;
  data?: {
    resultType?: string;
    result?: unknown;
  };
}

/** The number in a query's data, or why there is none. */
export function valueOfQueryData(
  data: PromAnswer['data'],
): { value: number } | { noData: string } | { error: string } {
  const type = data?.resultType;
  const result = data?.result;
  if (type === 'scalar') {
    const v = Number((result as [number, string])[1]);
    return Number.isNaN(v) ? { noData: 'the query returned NaN' } : { value: v };
  }
  if (type === 'vector' && Array.isArray(result)) {
    if (result.length === 0) return { noData: 'the query returned no series' };
    if (result.length > 1)
      return {
        error: `the query returned ${result.length} series; aggregate it to one number (e.g. sum(...) or max(...))`,
      };
    const v = Number((result[0] as { value: [number, string] }).value[1]);
    return Number.isNaN(v) ? { noData: 'the query returned NaN' } : { value: v };
  }
  return {
    error: `the query returned a ${type ?? 'missing'} result; write an instant query returning one number`,
  };
}

export class PrometheusProvider implements AnalysisProvider<PrometheusMetric> {
  constructor(private readonly secrets?: SecretReader) {}

  async measure(metric: PrometheusMetric, ctx: MeasureContext): Promise<Measurement> {
    const at = ctx.now.toISOString();
    const headers: Record<string, string> = {};
    if (metric.tokenSecretRef) {
      if (!this.secrets)
        return { result: 'Error', reason: 'a token Secret is set but no Secret reader was given', at };
      try {
        headers.authorization = `Bearer ${(await this.secrets(metric.tokenSecretRef)).trim()}`;
      } catch (err) {
        return {
          result: 'Error',
          reason: `token Secret ${metric.tokenSecretRef.name} key ${metric.tokenSecretRef.key}: ${(err as Error).message}`,
          at,
        };
      }
    }
    const url = new URL(metric.address.replace(/\/+$/, '') + '/api/v1/query');
    url.searchParams.set('query', metric.query);
    url.searchParams.set('time', String(ctx.now.getTime() / 1000));
    let answer;
    try {
      answer = await getJson(url.toString(), {
        headers,
        timeoutMs: metric.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    } catch (err) {
      if (err instanceof HttpMeasureError)
        return { result: 'Error', reason: `prometheus: ${err.message}`, at };
      throw err;
    }
    const body = answer.body as PromAnswer | undefined;
    if (answer.status !== 200 || body?.status !== 'success') {
      const why = body?.error ? `${body.errorType ?? 'error'}: ${body.error}` : `HTTP ${answer.status}`;
      return {
        result: 'Error',
        reason: `prometheus ${redactUrl(metric.address)} refused the query: ${why}`,
        at,
      };
    }
    const v = valueOfQueryData(body.data);
    if ('noData' in v) return { result: 'NoData', reason: v.noData, at };
    if ('error' in v) return { result: 'Error', reason: v.error, at };
    return { value: v.value, ...judge(v.value, metric), at };
  }
}
