/**
 * shadowDifferences provider: the difference rate of one service behind the comparing shadow
 * proxy (`cutover shadow-proxy`), in % of its compared answers:
 * `100 × differing / compared` from the proxy's counters `cutover_shadow_differing_total` and
 * `cutover_shadow_compared_total` (label `service`), read either
 * - from the proxy's admin endpoint (`metricsUrl`, e.g. http://full-shadow-pos.shop.svc:9464/metrics):
 *   totals since the proxy started; or
 * - from Prometheus (`prometheus.address`), as totals or, with `prometheus.window` (e.g. 5m), the
 *   increase over that window.
 * Fewer compared answers than `minCompared` is NoData (a rate of 3 answers says nothing); an
 * unreachable endpoint or a refused query is an Error, never a failure.
 */
import { judge } from './condition.js';
import { HttpMeasureError, redactUrl } from './http-get.js';
import { DEFAULT_TIMEOUT_MS, PrometheusProvider } from './prometheus.js';
import type {
  AnalysisProvider,
  MeasureContext,
  Measurement,
  MetricConditions,
  SecretReader,
} from './types.js';

export const COMPARED_METRIC = 'cutover_shadow_compared_total';
export const DIFFERING_METRIC = 'cutover_shadow_differing_total';

export interface ShadowDifferencesMetric extends MetricConditions {
  /** The service label of the proxy's metrics (spec.services[].name). */
  service: string;
  /** The proxy's admin /metrics URL. */
  metricsUrl?: string;
  /** Or Prometheus, scraping the proxy. */
  prometheus?: {
    address: string;
    /** A PromQL range like 5m: the increase over it; totals when absent. */
    window?: string;
    tokenSecretRef?: { name: string; key: string };
  };
  /** Compared answers needed for a value (default 1). */
  minCompared?: number;
  /** Default 10 s. */
  timeoutMs?: number;
}

/** A measurement with the two counts it was computed from. */
export interface ShadowDifferencesMeasurement extends Measurement {
  compared?: number;
  differing?: number;
}

const SERVICE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const WINDOW = /^[0-9]+(ms|s|m|h|d)$/;

/** Sums the samples of a counter with `service="<service>"` in Prometheus text exposition. */
export function sumSamples(text: string, metric: string, service: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== metric) continue;
    const labels = new Map<string, string>();
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels.set(
        l[1]!,
        l[2]!.replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c)),
      );
    if (labels.get('service') !== service) continue;
    const v = Number(m[4]);
    if (!Number.isNaN(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}

async function getText(url: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    const text = await res.text();
    if (!res.ok) throw new HttpMeasureError(`${redactUrl(url)} answered HTTP ${res.status}`);
    return text;
  } catch (err) {
    if (err instanceof HttpMeasureError) throw err;
    if (timeout.aborted)
      throw new HttpMeasureError(`no answer from ${redactUrl(url)} within ${timeoutMs} ms`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new HttpMeasureError(
      `cannot reach ${redactUrl(url)}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
    );
  }
}

export class ShadowDifferencesProvider implements AnalysisProvider<ShadowDifferencesMetric> {
  private readonly prom: PrometheusProvider;

  constructor(secrets?: SecretReader) {
    this.prom = new PrometheusProvider(secrets);
  }

  async measure(metric: ShadowDifferencesMetric, ctx: MeasureContext): Promise<ShadowDifferencesMeasurement> {
    const at = ctx.now.toISOString();
    if (!SERVICE.test(metric.service))
      return { result: 'Error', reason: `service '${metric.service}' is not a service name`, at };
    const counts = metric.prometheus
      ? await this.fromPrometheus(metric, ctx)
      : metric.metricsUrl
        ? await this.fromEndpoint(metric, metric.metricsUrl, ctx)
        : ({ result: 'Error', reason: 'set metricsUrl or prometheus: where the proxy is read' } as const);
    if ('result' in counts) return { ...counts, at };
    const { compared, differing } = counts;
    const min = metric.minCompared ?? 1;
    if (compared < Math.max(1, min))
      return {
        result: 'NoData',
        reason: `${metric.service}: ${compared} answer(s) compared, fewer than ${Math.max(1, min)}`,
        compared,
        differing,
        at,
      };
    const value = (100 * differing) / compared;
    return { value, ...judge(value, metric), compared, differing, at };
  }

  private async fromEndpoint(
    metric: ShadowDifferencesMetric,
    url: string,
    ctx: MeasureContext,
  ): Promise<{ compared: number; differing: number } | { result: 'Error'; reason: string }> {
    let text: string;
    try {
      text = await getText(url, metric.timeoutMs ?? DEFAULT_TIMEOUT_MS, ctx.signal);
    } catch (err) {
      if (err instanceof HttpMeasureError) return { result: 'Error', reason: `shadow proxy: ${err.message}` };
      throw err;
    }
    return {
      compared: sumSamples(text, COMPARED_METRIC, metric.service) ?? 0,
      differing: sumSamples(text, DIFFERING_METRIC, metric.service) ?? 0,
    };
  }

  private async fromPrometheus(
    metric: ShadowDifferencesMetric,
    ctx: MeasureContext,
  ): Promise<{ compared: number; differing: number } | { result: 'Error'; reason: string }> {
    const p = metric.prometheus!;
    if (p.window !== undefined && !WINDOW.test(p.window))
      return { result: 'Error', reason: `window '${p.window}' is not a PromQL duration like 5m` };
    const q = (name: string): string => {
      const sel = `${name}{service="${metric.service}"}`;
      return p.window ? `sum(increase(${sel}[${p.window}]))` : `sum(${sel})`;
    };
    const read = async (name: string): Promise<number | { result: 'Error'; reason: string }> => {
      const m = await this.prom.measure(
        {
          address: p.address,
          query: q(name),
          ...(p.tokenSecretRef ? { tokenSecretRef: p.tokenSecretRef } : {}),
          ...(metric.timeoutMs ? { timeoutMs: metric.timeoutMs } : {}),
        },
        ctx,
      );
      if (m.result === 'NoData') return 0;
      if (m.value === undefined) return { result: 'Error', reason: m.reason };
      return m.value;
    };
    const [compared, differing] = await Promise.all([read(COMPARED_METRIC), read(DIFFERING_METRIC)]);
    if (typeof compared !== 'number') return compared;
    if (typeof differing !== 'number') return differing;
    return { compared, differing };
  }
}
