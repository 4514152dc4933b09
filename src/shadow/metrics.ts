/**
 * The shadow proxy's Prometheus metrics (prom-client, a registry of its own). Labels are bounded:
 * `route` is a template from the rules (or `other`), `field` a generalized JSON Pointer, and at
 * most MAX_FIELDS_PER_ROUTE distinct fields per route are named (the rest are `(other)`), so an
 * answer keyed by order ids cannot blow up the series count.
 *
 * The difference rate of a service — what the `shadowDifferences` analysis metric reads — is
 * `sum(rate(cutover_shadow_differing_total{service="pos"}[5m])) / sum(rate(cutover_shadow_compared_total{service="pos"}[5m]))`.
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';

export const MAX_FIELDS_PER_ROUTE = 64;

export type DropReason =
  'queue_full' | 'overloaded' | 'request_too_large' | 'legacy_incomplete' | 'mirror_restart';

/** A plain count the hot path increments (no label lookup); read when the metrics are collected. */
export interface CountCell {
  readonly labels: { service: string; route: string };
  n: number;
}

/** Gauges read when the metrics are collected (set by whoever owns the figure). */
export interface LiveGauges {
  service: string;
  queueDepth?: () => number;
  inFlight?: () => number;
  bufferedBytes?: () => number;
}

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** Sum of a counter's values in metrics as JSON (over all label sets, or those matching `where`). */
export function totalOf(json: MetricsJson, name: string, where: Record<string, string> = {}): number {
  const m = json.find((x) => x.name === name);
  if (!m) return 0;
  return m.values
    .filter((v) => Object.entries(where).every(([k, x]) => v.labels[k] === x))
    .reduce((s, v) => s + v.value, 0);
}
export type ErrorSide = 'legacy' | 'new' | 'secondary';

export class ShadowMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'service' | 'route'>;
  readonly mirrored: Counter<'service' | 'route'>;
  readonly compared: Counter<'service' | 'route'>;
  readonly differing: Counter<'service' | 'route'>;
  readonly differences: Counter<'service' | 'route' | 'field' | 'kind'>;
  readonly noise: Counter<'service' | 'route' | 'field'>;
  readonly tooLarge: Counter<'service' | 'route'>;
  readonly dropped: Counter<'service' | 'route' | 'reason'>;
  readonly errors: Counter<'service' | 'route' | 'side' | 'reason'>;
  readonly queueDepth: Gauge<'service'>;
  readonly inFlight: Gauge<'service'>;
  readonly bufferedBytes: Gauge<'service'>;
  readonly duration: Histogram<'service' | 'side'>;
  readonly threadRestarts: Counter<'service'>;
  /** Requests served, by route: plain counts (requestCell), exported as cutover_shadow_requests_total. */
  private readonly requestCells = new Map<string, CountCell>();
  live: LiveGauges | undefined;
  private readonly fields = new Map<string, Set<string>>();

  constructor(o: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const sr = ['service', 'route'] as const;
    const cells = this.requestCells;
    this.requests = new Counter({
      name: 'cutover_shadow_requests_total',
      help: 'Requests served through the proxy (all of them go to legacy).',
      labelNames: sr,
      registers,
      collect() {
        this.reset();
        for (const c of cells.values()) if (c.n > 0) this.inc(c.labels, c.n);
      },
    });
    this.mirrored = new Counter({
      name: 'cutover_shadow_mirrored_total',
      help: 'Requests sent to the new stack as well.',
      labelNames: sr,
      registers,
    });
    this.compared = new Counter({
      name: 'cutover_shadow_compared_total',
      help: 'Exchanges whose legacy and new answers were compared.',
      labelNames: sr,
      registers,
    });
    this.differing = new Counter({
      name: 'cutover_shadow_differing_total',
      help: 'Compared exchanges with at least one difference that is not noise.',
      labelNames: sr,
      registers,
    });
    this.differences = new Counter({
      name: 'cutover_shadow_differences_total',
      help: 'Differences (not noise), by field (status, header:<name>, (body) or a JSON Pointer with * for indices) and kind.',
      labelNames: ['service', 'route', 'field', 'kind'],
      registers,
    });
    this.noise = new Counter({
      name: 'cutover_shadow_noise_total',
      help: 'Differences classified as noise (the field differs between two legacy answers too).',
      labelNames: ['service', 'route', 'field'],
      registers,
    });
    this.tooLarge = new Counter({
      name: 'cutover_shadow_too_large_total',
      help: 'Exchanges whose bodies were over maxBodyBytes and could not be compared by hash (status and headers still were).',
      labelNames: sr,
      registers,
    });
    this.dropped = new Counter({
      name: 'cutover_shadow_dropped_total',
      help: 'Requests that should have been mirrored and were not: queue_full, overloaded (event loop behind by more than queue.maxLag), request_too_large, legacy_incomplete, mirror_restart (the mirror thread died holding them).',
      labelNames: ['service', 'route', 'reason'],
      registers,
    });
    this.errors = new Counter({
      name: 'cutover_shadow_errors_total',
      help: 'Failed requests to an upstream, by side (legacy, new, secondary) and reason (timeout, refused, reset, error).',
      labelNames: ['service', 'route', 'side', 'reason'],
      registers,
    });
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the gauges' collect() reads it
    const self = this;
    const live = (pick: (l: LiveGauges) => (() => number) | undefined) =>
      function (this: Gauge<'service'>): void {
        const l = self.live;
        const f = l && pick(l);
        if (l && f) this.set({ service: l.service }, f());
      };
    this.queueDepth = new Gauge({
      name: 'cutover_shadow_queue_depth',
      help: 'Mirrored requests admitted and not yet compared.',
      labelNames: ['service'],
      registers,
      collect: live((l) => l.queueDepth),
    });
    this.inFlight = new Gauge({
      name: 'cutover_shadow_in_flight',
      help: 'Requests to the new stack in flight.',
      labelNames: ['service'],
      registers,
      collect: live((l) => l.inFlight),
    });
    this.bufferedBytes = new Gauge({
      name: 'cutover_shadow_buffered_bytes',
      help: 'Bytes of answers held for comparison.',
      labelNames: ['service'],
      registers,
      collect: live((l) => l.bufferedBytes),
    });
    this.threadRestarts = new Counter({
      name: 'cutover_shadow_mirror_thread_restarts_total',
      help: 'Mirror threads (--mirror-thread on) restarted after dying; the jobs they held were dropped (mirror_restart).',
      labelNames: ['service'],
      registers,
    });
    this.duration = new Histogram({
      name: 'cutover_shadow_upstream_duration_seconds',
      help: "Time to the whole answer of an upstream, by side (legacy, new, secondary): the new stack's latency against legacy's on the same requests.",
      labelNames: ['service', 'side'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    if (o.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'cutover_shadow_' });
  }

  /** The plain count of requests served on a route (cache it: one lookup per route, not per request). */
  requestCell(service: string, route: string): CountCell {
    const key = `${service}\u0000${route}`;
    let c = this.requestCells.get(key);
    if (!c) this.requestCells.set(key, (c = { labels: { service, route }, n: 0 }));
    return c;
  }

  /** The field label to use: the field itself, or `(other)` past the per-route limit. */
  fieldLabel(route: string, field: string): string {
    let set = this.fields.get(route);
    if (!set) this.fields.set(route, (set = new Set()));
    if (set.has(field)) return field;
    if (set.size >= MAX_FIELDS_PER_ROUTE) return '(other)';
    set.add(field);
    return field;
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Sum of a counter's values (over all label sets, or those matching `where`). */
  async total(name: string, where: Record<string, string> = {}): Promise<number> {
    const m = this.registry.getSingleMetric(name);
    if (!m) return 0;
    const data = await m.get();
    return data.values
      .filter((v) => Object.entries(where).every(([k, x]) => v.labels[k] === x))
      .reduce((s, v) => s + v.value, 0);
  }
}
