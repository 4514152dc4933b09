/**
 * Turns a captured answer into what the comparison reads: the body decoded (gzip, deflate, br),
 * parsed when it is JSON, else hashed. Small bodies are decoded inline, larger ones on libuv's
 * thread pool so the event loop that streams legacy answers is not held up.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { CapturedBody } from './capture.js';
import type { PreparedBody } from './compare.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const brotli = promisify(zlib.brotliDecompress);
const INLINE_LIMIT = 16 * 1024;

export class TooLargeError extends Error {}

function header(headers: Record<string, string | string[] | undefined>, name: string): string {
  const v = headers[name];
  return (Array.isArray(v) ? v.join(',') : (v ?? '')).trim().toLowerCase();
}

export function encodingsOf(headers: Record<string, string | string[] | undefined>): string[] {
  return header(headers, 'content-encoding')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'identity');
}

export function isJsonContentType(headers: Record<string, string | string[] | undefined>): boolean {
  return /^[a-z0-9.+-]+\/([a-z0-9.-]+\+)?json\b/.test(header(headers, 'content-type'));
}

async function decodeOne(bytes: Buffer, encoding: string, max: number): Promise<Buffer> {
  const opts = { maxOutputLength: max };
  const inline = bytes.length <= INLINE_LIMIT;
  try {
    switch (encoding) {
      case 'gzip':
      case 'x-gzip':
        return inline ? zlib.gunzipSync(bytes, opts) : await gunzip(bytes, opts);
      case 'deflate':
        // Servers send zlib-wrapped or raw deflate; try both as browsers do.
        try {
          return inline ? zlib.inflateSync(bytes, opts) : await inflate(bytes, opts);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw err;
          return zlib.inflateRawSync(bytes, opts);
        }
      case 'br':
        return inline ? zlib.brotliDecompressSync(bytes, opts) : await brotli(bytes, opts);
      default:
        throw new Error(`content-encoding ${encoding} is not supported`);
    }
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ||
      /Cannot create a Buffer larger|exceeds maxOutputLength/i.test(String(err))
    ) {
      throw new TooLargeError(`decoded body over ${max} bytes`);
    }
    throw err;
  }
}

function preview(bytes: Buffer): string {
  const text = bytes
    .subarray(0, 96)
    .toString('utf8')
    .replace(/[^\x20-\x7e]/g, '.');
  return JSON.stringify(bytes.length > 96 ? `${text}...` : text);
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `hasBody` false for HEAD requests and 1xx/204/304 answers. */
export async function prepareBody(
  captured: CapturedBody,
  headers: Record<string, string | string[] | undefined>,
  hasBody: boolean,
  maxBytes: number,
): Promise<PreparedBody> {
  if (!hasBody) return { type: 'none' };
  if (captured.kind === 'hashed')
    return encodingsOf(headers).length === 0
      ? { type: 'too-large', size: captured.size, sha256: captured.sha256 }
      : { type: 'too-large', size: captured.size };
  if (captured.kind === 'dropped') return { type: 'too-large', size: captured.size };
  let bytes = captured.bytes;
  try {
    for (const enc of encodingsOf(headers).reverse()) bytes = await decodeOne(bytes, enc, maxBytes);
  } catch (err) {
    if (err instanceof TooLargeError) return { type: 'too-large', size: captured.bytes.length };
    // Undecodable: compare the bytes as they came.
    return {
      type: 'bytes',
      sha256: sha256(captured.bytes),
      size: captured.bytes.length,
      preview: `(undecodable: ${(err as Error).message}) ${preview(captured.bytes)}`,
    };
  }
  if (bytes.length > 0 && isJsonContentType(headers)) {
    try {
      return { type: 'json', value: JSON.parse(bytes.toString('utf8')) as unknown };
    } catch {
      // Says JSON, is not: compared as bytes (and a body-type difference if the other side parses).
    }
  }
  return { type: 'bytes', sha256: sha256(bytes), size: bytes.length, preview: preview(bytes) };
}
