/**
 * Bounded capture of an answer's body for comparison, fed with the very chunks that are piped to
 * the client (no copy while streaming). Up to `cap` bytes are kept, and only while the shared
 * budget of all captures allows; past that the capture keeps a running SHA-256 instead (when the
 * body is identity-encoded, so equal content gives equal hashes) or nothing at all.
 */
import { createHash, type Hash } from 'node:crypto';

/** Bytes held by all captures of one proxy at once. */
export class BufferBudget {
  used = 0;
  constructor(readonly max: number) {}
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

export type CapturedBody =
  | { kind: 'bytes'; bytes: Buffer }
  | { kind: 'hashed'; sha256: string; size: number }
  | { kind: 'dropped'; size: number };

export class BodyCapture {
  private chunks: Buffer[] = [];
  private held = 0;
  private size = 0;
  private hash: Hash | undefined;
  private dropped = false;
  private finished: CapturedBody | undefined;
  private closed = false;

  /** `hashOverflow`: keep a hash past the cap (only worth it for identity-encoded bodies). */
  constructor(
    private readonly cap: number,
    private readonly budget: BufferBudget,
    private readonly hashOverflow: boolean,
  ) {}

  push(chunk: Buffer): void {
    if (this.closed) return;
    this.size += chunk.length;
    if (this.hash) {
      this.hash.update(chunk);
      return;
    }
    if (this.dropped) return;
    if (this.size <= this.cap && this.budget.take(chunk.length)) {
      this.chunks.push(chunk);
      this.held += chunk.length;
      return;
    }
    if (this.hashOverflow) {
      this.hash = createHash('sha256');
      for (const c of this.chunks) this.hash.update(c);
      this.hash.update(chunk);
    } else {
      this.dropped = true;
    }
    this.releaseChunks();
  }

  get bytesSeen(): number {
    return this.size;
  }

  finish(): CapturedBody {
    if (this.finished) return this.finished;
    if (this.hash) this.finished = { kind: 'hashed', sha256: this.hash.digest('hex'), size: this.size };
    else if (this.dropped) this.finished = { kind: 'dropped', size: this.size };
    else
      this.finished = {
        kind: 'bytes',
        bytes: this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.held),
      };
    return this.finished;
  }

  /** Gives the bytes back to the budget; call once the comparison is done (or abandoned). */
  release(): void {
    this.closed = true;
    this.hash = undefined;
    this.releaseChunks();
    if (this.finished?.kind === 'bytes') this.finished = { kind: 'dropped', size: this.size };
  }

  private releaseChunks(): void {
    this.budget.give(this.held);
    this.held = 0;
    this.chunks = [];
  }
}
