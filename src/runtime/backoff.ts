/**
 * Capped exponential backoff with jitter, for watch reconnects and per-key sync retries.
 */
export interface BackoffOptions {
  /** First delay in ms. */
  initialMs: number;
  /** Largest delay in ms. */
  maxMs: number;
  /** Growth per failure (default 2). */
  factor?: number;
  /** Fraction of the delay randomised away, 0..1 (default 0.2: delay is in [0.8 d, d]). */
  jitter?: number;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

/** Delay for the `attempt`-th consecutive failure (attempt 0 = first failure). */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const factor = o.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, o.jitter ?? 0.2));
  const random = o.random ?? Math.random;
  const raw = Math.min(o.maxMs, o.initialMs * Math.pow(factor, Math.max(0, attempt)));
  return Math.round(raw * (1 - jitter * random()));
}

/** One backoff sequence: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly options: BackoffOptions) {}

  next(): number {
    const d = backoffDelay(this.attempt, this.options);
    this.attempt++;
    return d;
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}

/** A backoff sequence per key (work-queue retries). */
export class KeyedBackoff {
  private readonly attempts = new Map<string, number>();
  constructor(private readonly options: BackoffOptions) {}

  next(key: string): number {
    const a = this.attempts.get(key) ?? 0;
    this.attempts.set(key, a + 1);
    return backoffDelay(a, this.options);
  }

  failures(key: string): number {
    return this.attempts.get(key) ?? 0;
  }

  forget(key: string): void {
    this.attempts.delete(key);
  }
}
