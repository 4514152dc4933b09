/**
 * Time is injected: controllers and decisions read the time from a Clock, so tests can run a
 * seven-day plan in seconds with a FakeClock.
 */
export interface Clock {
  now(): Date;
  /** Resolves after `ms` of this clock's time. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The longest delay one Node timer takes (2^31 - 1 ms, about 24.8 days): a longer one fires at
 * once (TimeoutOverflowWarning), which turned a CanaryPhase starting months ahead into a sync loop.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted)
        return reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      const due = Date.now() + Math.max(0, ms);
      let t: ReturnType<typeof setTimeout>;
      // Longer delays are slept in timers of at most MAX_TIMER_MS, each aimed at the same end.
      const arm = (): void => {
        t = setTimeout(
          () => {
            if (Date.now() < due) return arm();
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          Math.min(MAX_TIMER_MS, Math.max(0, due - Date.now())),
        );
      };
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      arm();
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

interface Sleeper {
  until: number;
  resolve: () => void;
}

/** A clock that moves only when told to; sleepers wake as `advance` passes their time. */
export class FakeClock implements Clock {
  private t: number;
  private sleepers: Sleeper[] = [];

  constructor(start: Date | string = '2026-01-01T00:00:00Z') {
    this.t = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepers.push({ until: this.t + ms, resolve });
      this.wake();
    });
  }

  /** Moves time forward and wakes every sleeper whose time has come. */
  advance(ms: number): void {
    this.t += ms;
    this.wake();
  }

  set(to: Date | string): void {
    this.t = new Date(to).getTime();
    this.wake();
  }

  private wake(): void {
    const due = this.sleepers.filter((s) => s.until <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.until > this.t);
    for (const s of due) s.resolve();
  }
}

/**
 * A compressed clock for rehearsals (`cutover operator --time-scale N --time-origin PLAN@REAL`):
 * plan time = PLAN + (real − REAL) × N, so a three-week plan runs in minutes; `sleep(ms)` sleeps
 * ms / N of real time. Fixed by its origin, so a restarted operator reads the same plan time.
 */
export class ScaledClock implements Clock {
  private readonly planOrigin: number;
  private readonly realOrigin: number;

  constructor(
    readonly scale: number,
    origin: { plan?: Date; real?: Date } = {},
    private readonly base: Clock = systemClock,
  ) {
    if (!(scale >= 1)) throw new RangeError(`time scale must be at least 1, got ${scale}`);
    this.realOrigin = (origin.real ?? base.now()).getTime();
    this.planOrigin = (origin.plan ?? new Date(this.realOrigin)).getTime();
  }

  /** `PLAN[@REAL]` (RFC 3339 times) as `--time-origin` takes it. */
  static parseOrigin(text: string): { plan?: Date; real?: Date } {
    if (!text) return {};
    const [plan, real] = text.split('@');
    const p = new Date(plan ?? '');
    const r = real !== undefined ? new Date(real) : undefined;
    if (Number.isNaN(p.getTime()) || (r && Number.isNaN(r.getTime())))
      throw new Error(
        `time origin '${text}': write PLAN[@REAL] with RFC 3339 times, e.g. 2026-11-20T00:00:00Z`,
      );
    return { plan: p, ...(r ? { real: r } : {}) };
  }

  now(): Date {
    return new Date(this.planOrigin + (this.base.now().getTime() - this.realOrigin) * this.scale);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.base.sleep(ms / this.scale, signal);
  }
}
