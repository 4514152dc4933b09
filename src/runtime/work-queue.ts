/**
 * A work queue keyed by `namespace/name` (the semantics of client-go's workqueue):
 * - a key waits in the queue at most once, however often it is added;
 * - a key being synced is not handed out again until `done(key)`; if it was added meanwhile it
 *   is queued once more then, so a change during a sync is never lost and never synced twice
 *   at the same time;
 * - `addRateLimited` retries with a per-key exponential backoff, `forget` resets it;
 * - `addAfter` queues a key later (timers, `requeueAfter`); only the earliest pending timer per
 *   key is kept.
 */
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { KeyedBackoff, type BackoffOptions } from './backoff.js';

export interface WorkQueueOptions {
  clock?: Clock;
  /** Per-key retry backoff. Default 200 ms doubling up to 5 minutes. */
  backoff?: BackoffOptions;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private readonly timers = new Map<string, { due: number; cancel: AbortController }>();
  private readonly retry: KeyedBackoff;
  private readonly clock: Clock;
  private shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.retry = new KeyedBackoff(
      options.backoff ?? { initialMs: 200, maxMs: 300_000, factor: 2, jitter: 0.1 },
    );
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Queues the key after `ms` (immediately when ms <= 0). */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const due = this.clock.now().getTime() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.due <= due) return;
    existing?.cancel.abort();
    const cancel = new AbortController();
    this.timers.set(key, { due, cancel });
    this.clock.sleep(ms, cancel.signal).then(
      () => {
        if (cancel.signal.aborted) return;
        this.timers.delete(key);
        this.add(key);
      },
      () => undefined,
    );
  }

  /** Queues the key after its next backoff delay; returns that delay. */
  addRateLimited(key: string): number {
    const d = this.retry.next(key);
    this.addAfter(key, d);
    return d;
  }

  /** Resets the key's retry backoff (after a successful sync). */
  forget(key: string): void {
    this.retry.forget(key);
  }

  /** Consecutive failures recorded for the key. */
  failures(key: string): number {
    return this.retry.failures(key);
  }

  /**
   * The next key to sync, or undefined when the queue shuts down or `signal` aborts. The caller
   * must call `done(key)` when the sync ends.
   */
  get(signal?: AbortSignal): Promise<string | undefined> {
    const key = this.take();
    if (key !== undefined || this.shuttingDown) return Promise.resolve(key);
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter = (k: string | undefined): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(k);
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  /** Keys waiting (not counting keys being synced or delayed). */
  get length(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  get delayed(): number {
    return this.timers.size;
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const t of this.timers.values()) t.cancel.abort();
    this.timers.clear();
    const w = this.waiters.splice(0);
    for (const r of w) r(undefined);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  private push(key: string): void {
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(key);
      this.processing.add(key);
      w(key);
    } else {
      this.queue.push(key);
    }
  }

  private take(): string | undefined {
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }
}
