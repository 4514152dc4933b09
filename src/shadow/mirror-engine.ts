/**
 * The mirror and comparison pipeline, thread-agnostic. `recordComparison` prepares two (or three)
 * captured answers, compares them under the route's rules, and records the result (metrics,
 * noise, samples); the inline path (proxy.ts) and the mirror thread both use it. `MirrorEngine`
 * runs whole jobs — a request whose legacy answer is already in — against the new stack (and the
 * second legacy), with the rules' concurrency limit, and says when each job is done. It keeps no
 * bound of its own: the proxy admits at most `queue.size` jobs until the engine is done with them.
 */
import type http from 'node:http';
import { BufferBudget, type CapturedBody } from './capture.js';
import { compareAnswers, type Difference, type PreparedAnswer } from './compare.js';
import type { ShadowMetrics } from './metrics.js';
import { NoiseLearner, splitNoise } from './noise.js';
import { pathOf } from './path-pattern.js';
import { prepareBody } from './prepare.js';
import type { CompiledRoute, CompiledRules } from './rules.js';
import { DifferenceSamples } from './samples.js';
import {
  answerHasBody,
  askUpstream,
  boundedPoolOptions,
  upstream,
  type SideAnswer,
  type Upstream,
} from './upstream.js';

/** One side's answer as the comparison reads it. */
export interface AnswerForCompare {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: CapturedBody;
  ms: number;
}

/** Where comparison results go. */
export interface CompareSink {
  rules: CompiledRules;
  metrics: ShadowMetrics;
  samples: DifferenceSamples;
  noise: NoiseLearner | undefined;
}

export interface ExchangeRef {
  route: CompiledRoute;
  method: string;
  target: string;
  headers: Record<string, string>;
}

async function prepare(method: string, a: AnswerForCompare, maxBytes: number): Promise<PreparedAnswer> {
  return {
    status: a.status,
    headers: a.headers,
    body: await prepareBody(a.body, a.headers, answerHasBody(method, a.status), maxBytes),
  };
}

/** Compares legacy's answer with the new stack's (noise from the secondary's) and records it. */
export async function recordComparison(
  sink: CompareSink,
  x: ExchangeRef,
  legacy: AnswerForCompare,
  candidate: AnswerForCompare,
  secondary: AnswerForCompare | undefined,
): Promise<void> {
  const { rules, metrics } = sink;
  const route = x.route;
  const label = { service: rules.service, route: route.label };
  const [l, n, s] = await Promise.all([
    prepare(x.method, legacy, rules.maxBodyBytes),
    prepare(x.method, candidate, rules.maxBodyBytes),
    secondary ? prepare(x.method, secondary, rules.maxBodyBytes) : undefined,
  ]);
  const result = compareAnswers(route, l, n);
  let noiseDiffs: Difference[] | undefined;
  if (s && sink.noise) {
    noiseDiffs = compareAnswers(route, l, s).differences;
    sink.noise.observe(route.label, noiseDiffs);
  }
  const { real, noise } = splitNoise(route.label, result.differences, noiseDiffs, sink.noise);
  metrics.compared.inc(label);
  if (result.tooLarge) metrics.tooLarge.inc(label);
  for (const d of noise) metrics.noise.inc({ ...label, field: metrics.fieldLabel(route.label, d.field) });
  if (real.length > 0 || result.truncated) {
    metrics.differing.inc(label);
    for (const d of real)
      metrics.differences.inc({ ...label, field: metrics.fieldLabel(route.label, d.field), kind: d.kind });
    sink.samples.add({
      route: route.label,
      method: x.method,
      target: x.target,
      requestHeaders: x.headers,
      legacy: l,
      candidate: n,
      legacyMs: legacy.ms,
      newMs: candidate.ms,
      differences: real,
      noise,
      truncated: result.truncated,
    });
  }
}

/** A whole job: the request and legacy's complete answer. */
export interface EngineJob {
  id: number;
  method: string;
  target: string;
  headers: Record<string, string>;
  requestBody: Buffer | undefined;
  legacy: AnswerForCompare;
}

export interface MirrorEngineOptions {
  rules: CompiledRules;
  metrics: ShadowMetrics;
  newUrl: string;
  secondaryLegacyUrl: string | undefined;
  /** A job is done (compared, failed or dropped); its id. */
  onDone(id: number): void;
  onError?(err: unknown): void;
}

export class MirrorEngine implements CompareSink {
  readonly rules: CompiledRules;
  readonly metrics: ShadowMetrics;
  readonly samples: DifferenceSamples;
  readonly noise: NoiseLearner | undefined;
  /** Bytes of the new stack's (and the secondary's) answers held. */
  readonly budget: BufferBudget;
  private readonly candidate: Upstream;
  private readonly secondary: Upstream | undefined;
  private readonly waiting: EngineJob[] = [];
  private head = 0;
  inFlight = 0;

  constructor(private readonly o: MirrorEngineOptions) {
    this.rules = o.rules;
    this.metrics = o.metrics;
    this.samples = new DifferenceSamples(o.rules);
    const bounded = boundedPoolOptions(o.rules.maxConnections, o.rules.newStackTimeoutMs);
    this.candidate = upstream(o.newUrl, bounded);
    this.secondary = o.secondaryLegacyUrl ? upstream(o.secondaryLegacyUrl, bounded) : undefined;
    this.noise = this.secondary ? new NoiseLearner(o.rules.noiseMinSamples, o.rules.noiseMinRate) : undefined;
    this.budget = new BufferBudget(o.rules.maxBufferedBytes);
  }

  get queued(): number {
    return this.waiting.length - this.head;
  }

  submit(job: EngineJob): void {
    this.waiting.push(job);
    this.pump();
  }

  async close(): Promise<void> {
    const pools = [this.candidate.pool];
    if (this.secondary) pools.push(this.secondary.pool);
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }

  private pump(): void {
    while (this.inFlight < this.rules.concurrency && this.head < this.waiting.length) {
      const job = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as unknown as EngineJob;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      this.inFlight++;
      void this.run(job).finally(() => this.o.onDone(job.id));
    }
  }

  private ask(
    u: Upstream,
    job: EngineJob,
    route: string,
    side: 'new' | 'secondary',
  ): Promise<SideAnswer | undefined> {
    const service = this.rules.service;
    return askUpstream(
      u,
      { method: job.method, target: job.target, headers: job.headers, payload: job.requestBody },
      {
        timeoutMs: this.rules.newStackTimeoutMs,
        maxBodyBytes: this.rules.maxBodyBytes,
        budget: this.budget,
        onError: (reason) => this.metrics.errors.inc({ service, route, side, reason }),
      },
    ).then((a) => {
      if (a) this.metrics.duration.observe({ service, side }, a.ms / 1000);
      return a;
    });
  }

  private async run(job: EngineJob): Promise<void> {
    const route = this.rules.routeFor(job.method, pathOf(job.target));
    const label = { service: this.rules.service, route: route.label };
    this.metrics.mirrored.inc(label);
    const askingSecondary = this.secondary
      ? this.ask(this.secondary, job, route.label, 'secondary')
      : undefined;
    const candidate = await this.ask(this.candidate, job, route.label, 'new');
    this.inFlight--;
    this.pump();
    const secondary = await askingSecondary;
    try {
      if (!candidate) return;
      await recordComparison(
        this,
        { route, method: job.method, target: job.target, headers: job.headers },
        job.legacy,
        { ...candidate, body: candidate.capture.finish() },
        secondary ? { ...secondary, body: secondary.capture.finish() } : undefined,
      );
    } catch (err) {
      this.o.onError?.(err);
      this.metrics.errors.inc({ ...label, side: 'new', reason: 'compare' });
    } finally {
      candidate?.capture.release();
      secondary?.capture.release();
    }
  }
}
