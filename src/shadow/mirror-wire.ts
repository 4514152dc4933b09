/**
 * The messages between the proxy's main thread (mirror-link.ts) and its mirror thread
 * (mirror-thread.ts). Bodies travel as ArrayBuffers of their own, transferred, not copied.
 */
import type http from 'node:http';
import type { CapturedBody } from './capture.js';
import type { MetricsJson } from './metrics.js';
import type { NoiseReport } from './noise.js';
import type { ShadowComparison } from './rules-schema.js';
import type { DifferenceSample, FirstExample } from './samples.js';

export type WireBody = { kind: 'bytes'; bytes: ArrayBuffer } | Exclude<CapturedBody, { kind: 'bytes' }>;

export interface WireJob {
  id: number;
  method: string;
  target: string;
  headers: Record<string, string>;
  requestBody: ArrayBuffer | undefined;
  legacy: { status: number; headers: http.IncomingHttpHeaders; ms: number; body: WireBody };
}

/** The thread's share of the rules' bounds (the rules as compiled on the main thread). */
export interface ThreadBounds {
  concurrency: number;
  maxConnections: number;
  maxBufferedBytes: number;
}

export interface MirrorThreadData {
  source: ShadowComparison;
  bounds: ThreadBounds;
  newUrl: string;
  secondaryLegacyUrl: string | undefined;
  /** The thread's nice value (0: the same priority as the main thread). */
  nice: number;
}

export interface ThreadState {
  bufferedBytes: number;
  inFlight: number;
  queued: number;
}

export interface ThreadReport extends ThreadState {
  metrics: MetricsJson;
  samples: { size: number; samples: DifferenceSample[]; firstOfEachField: FirstExample[] };
  noise: { enabled: boolean; routes: NoiseReport[] };
}

export type ToThread = { type: 'jobs'; jobs: WireJob[] } | { type: 'report'; id: number } | { type: 'stop' };

export type FromThread =
  | ({ type: 'done'; ids: number[] } & ThreadState)
  | { type: 'report'; id: number; report: ThreadReport }
  | { type: 'ready'; tid: number | undefined; nice: number | undefined; niceError: string | undefined }
  | { type: 'stopped' };

/** An owned ArrayBuffer holding exactly these bytes (transferable without touching anyone's pool). */
export function ownedCopy(bytes: Buffer): ArrayBuffer {
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  return ab;
}

export function bodyFromWire(b: WireBody): CapturedBody {
  return b.kind === 'bytes' ? { kind: 'bytes', bytes: Buffer.from(b.bytes) } : b;
}
