/**
 * The operator's own memory (docs/ARCHITECTURE.md, "Memory"): after the start-up pass (the first
 * sync of every object at once) V8 keeps the old space it grew for that burst, although most of
 * it is garbage by then, because an idle operator allocates too little to trigger the next full
 * collection. One full collection once the pass has settled gives it back.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

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
