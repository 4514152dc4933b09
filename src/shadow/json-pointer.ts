/**
 * JSON Pointers (RFC 6901) and pointer patterns with wildcards, as the comparison rules use them:
 * `/items/*\/price` (`*` is exactly one key or index), `/**\/updatedAt` (`**` is any number of
 * levels, none included). Other segments are literal; `~0` is `~` and `~1` is `/` as in RFC 6901.
 *
 * Patterns are compiled into one small automaton per rule set: the comparison walks both JSON
 * trees once and carries the set of pattern states that are alive at each node, so looking up the
 * rules of a node costs nothing when no rule reaches that deep (the common case).
 */

/** Segments of a concrete pointer: '' → [], '/a/0/b~1c' → ['a', '0', 'b/c']. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`'${pointer}' is not a JSON Pointer: start it with /`);
  return pointer.slice(1).split('/').map(unescapeSegment);
}

export function unescapeSegment(s: string): string {
  return s.includes('~') ? s.replace(/~1/g, '/').replace(/~0/g, '~') : s;
}

export function escapeSegment(s: string): string {
  return s.includes('~') || s.includes('/') ? s.replace(/~/g, '~0').replace(/\//g, '~1') : s;
}

export function formatPointer(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) out += `/${typeof s === 'number' ? s : escapeSegment(s)}`;
  return out;
}

/** Appends one key or index to a concrete pointer. */
export function childPointer(parent: string, key: string | number): string {
  return `${parent}/${typeof key === 'number' ? key : escapeSegment(key)}`;
}

/** The pointer with array indices replaced by `*`: the metrics' `field` label. */
export function generalizePointer(pointer: string): string {
  return pointer.replace(/\/[0-9]+(?=\/|$)/g, '/*');
}

/** The value at a concrete pointer, or undefined. */
export function valueAt(doc: unknown, segments: readonly string[]): unknown {
  let node: unknown = doc;
  for (const s of segments) {
    if (Array.isArray(node)) {
      if (!/^(0|[1-9][0-9]*)$/.test(s)) return undefined;
      node = node[Number(s)];
    } else if (typeof node === 'object' && node !== null) {
      if (!Object.prototype.hasOwnProperty.call(node, s)) return undefined;
      node = (node as Record<string, unknown>)[s];
    } else {
      return undefined;
    }
  }
  return node;
}

type Segment = { kind: 'literal'; value: string } | { kind: 'one' } | { kind: 'any' };

function parsePattern(pattern: string): Segment[] {
  return parsePointer(pattern).map((s): Segment =>
    s === '*' ? { kind: 'one' } : s === '**' ? { kind: 'any' } : { kind: 'literal', value: s },
  );
}

/**
 * A compiled set of pointer patterns, each carrying a payload (a rule). `start()` gives the states
 * at the document root, `step(states, key)` the states of a child, `matches(states)` the payloads
 * whose pattern ends exactly at that node, in the order the patterns were added.
 */
export class PointerMatcher<T> {
  private readonly patterns: { segments: Segment[]; payload: T }[] = [];
  private startStates: States | undefined;

  add(pattern: string, payload: T): this {
    this.patterns.push({ segments: parsePattern(pattern), payload });
    this.startStates = undefined;
    return this;
  }

  get size(): number {
    return this.patterns.length;
  }

  /** States at the root (the empty pointer). */
  start(): States {
    if (!this.startStates) {
      const s: number[] = [];
      for (let i = 0; i < this.patterns.length; i++) this.addClosure(s, i, 0);
      this.startStates = s;
    }
    return this.startStates;
  }

  /** States after descending into `key` (an object key or an array index as a string). */
  step(states: States, key: string): States {
    if (states.length === 0) return EMPTY;
    const next: number[] = [];
    for (const st of states) {
      const p = st >>> 8;
      const pos = st & 0xff;
      const segs = this.patterns[p]!.segments;
      const seg = segs[pos];
      if (!seg) continue;
      if (seg.kind === 'any') {
        // `**` consumes this key and stays, or has been left behind by the closure already.
        this.addClosure(next, p, pos);
      } else if (seg.kind === 'one' || seg.value === key) {
        this.addClosure(next, p, pos + 1);
      }
    }
    return next.length ? next : EMPTY;
  }

  /** Payloads of the patterns that end at this node, in the order the patterns were added. */
  matches(states: States): T[] {
    let idx: number[] | undefined;
    for (const st of states) {
      const p = st >>> 8;
      if ((st & 0xff) === this.patterns[p]!.segments.length && !(idx ??= []).includes(p)) idx.push(p);
    }
    if (!idx) return NONE as T[];
    if (idx.length > 1) idx.sort((a, b) => a - b);
    return idx.map((i) => this.patterns[i]!.payload);
  }

  /** The first payload ending at this node, or undefined. */
  first(states: States): T | undefined {
    let best = -1;
    for (const st of states) {
      const p = st >>> 8;
      if ((st & 0xff) === this.patterns[p]!.segments.length && (best < 0 || p < best)) best = p;
    }
    return best < 0 ? undefined : this.patterns[best]!.payload;
  }

  /** True when a pattern ends at this node (for ignore/redact: the whole subtree is covered). */
  matchesHere(states: States): boolean {
    for (const st of states) if ((st & 0xff) === this.patterns[st >>> 8]!.segments.length) return true;
    return false;
  }

  /** Whether a concrete pointer is matched by any pattern. */
  test(pointer: string): boolean {
    let s = this.start();
    for (const seg of parsePointer(pointer)) {
      if (this.matchesHere(s)) return true;
      s = this.step(s, seg);
      if (s.length === 0) return false;
    }
    return this.matchesHere(s);
  }

  private addClosure(out: number[], p: number, pos: number): void {
    const segs = this.patterns[p]!.segments;
    if (segs.length > 255) throw new Error('a pointer pattern may have at most 255 segments');
    const add = (q: number): void => {
      const st = (p << 8) | q;
      if (!out.includes(st)) out.push(st);
    };
    add(pos);
    // `**` may match no level at all: the position after it is alive too.
    let q = pos;
    while (segs[q]?.kind === 'any') {
      q++;
      add(q);
    }
  }
}

/** Opaque automaton states of a PointerMatcher (pattern index << 8 | position). */
export type States = readonly number[];
const EMPTY: States = Object.freeze([]);
const NONE: readonly unknown[] = Object.freeze([]);
