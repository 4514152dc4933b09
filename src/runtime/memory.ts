/**
 * The operator's own memory (docs/ARCHITECTURE.md, "Memory"): after a burst of syncs (the
 * start-up pass, the first sync of every object at once; objects created in bulk) V8 keeps the
 * old space it grew for it, although most of it is garbage by then, because an idle operator
 * allocates too little to trigger the next full collection. One full collection once the burst
 * is over gives it back.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock } from './clock.js';

let gc: (() => void) | undefined;

/**
 * V8's `gc()` without starting Node with `--expose-gc`: the flag is turned on just long enough to
 * create one context that has it (the way Jest's leak detector gets it), so no other code sees a
 * global `gc`.
 */
function exposedGc(): () => void {
  const g = (globalThis as { gc?: unknown }).gc;
  if (typeof g === 'function') return g as () => void;
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** A full (mark-compact) garbage collection now; returns the V8 heap before and after, in bytes. */
export function collectGarbage(): { before: HeapFigures; after: HeapFigures } {
  gc ??= exposedGc();
  const before = heapFigures();
  gc();
  return { before, after: heapFigures() };
}

export interface HeapFigures {
  /** Bytes of live and not yet collected objects. */
  used: number;
  /** Bytes V8 has committed for its heap. */
  committed: number;
  /** Resident set size of the process. */
  rss: number;
}

function heapFigures(): HeapFigures {
  const m = process.memoryUsage();
  return { used: m.heapUsed, committed: m.heapTotal, rss: m.rss };
}

export interface BurstCollectorOptions {
  /** Syncs since the last collection that make a burst worth collecting after. */
  minSyncs: number;
  /** How long no sync may have ended, with every queue empty, before collecting. */
  quietMs: number;
  clock: Clock;
  /** True when no key waits and none is being synced, in any controller. */
  idle: () => boolean;
  collect?: typeof collectGarbage;
  /** Told about each collection (for the log). */
  onCollected?: (r: { syncs: number; before: HeapFigures; after: HeapFigures }) => void;
}

/**
 * One full garbage collection after a burst of syncs (the start-up pass, objects created or changed
 * in bulk): once at least `minSyncs` syncs have ended since the last collection and the queues
 * have been idle for `quietMs`. Event-driven: told about each sync that ends (`synced()`), it
 * sleeps only while a burst waits to be collected; an idle operator has no timer of its own.
 */
export class BurstCollector {
  private syncs = 0;
  private lastSyncAt = 0;
  private waiting = false;
  private readonly stopped = new AbortController();

  constructor(private readonly o: BurstCollectorOptions) {}

  /** A sync ended. */
  synced(): void {
    this.syncs++;
    this.lastSyncAt = this.o.clock.now().getTime();
    if (this.syncs >= this.o.minSyncs && !this.waiting && !this.stopped.signal.aborted) void this.wait();
  }

  stop(): void {
    this.stopped.abort(new Error('stopped'));
  }

  private async wait(): Promise<void> {
    this.waiting = true;
    try {
      for (;;) {
        const quietFor = this.o.clock.now().getTime() - this.lastSyncAt;
        if (quietFor >= this.o.quietMs && this.o.idle()) break;
        await this.o.clock.sleep(Math.max(this.o.quietMs - quietFor, 100), this.stopped.signal);
        if (this.stopped.signal.aborted) return;
      }
    } catch {
      return;
    } finally {
      this.waiting = false;
    }
    const syncs = this.syncs;
    this.syncs = 0;
    const r = (this.o.collect ?? collectGarbage)();
    this.o.onCollected?.({ syncs, ...r });
  }
}
