/** One HTTP GET with a timeout, returning the status and the parsed JSON body (or why not). */
export interface JsonAnswer {
  status: number;
  body: unknown;
}

export class HttpMeasureError extends Error {}

export async function getJson(
  url: string,
  opts: { headers?: Record<string, string>; timeoutMs: number; signal?: AbortSignal },
): Promise<JsonAnswer> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json', ...opts.headers }, signal });
  } catch (err) {
    if (timeout.aborted)
      throw new HttpMeasureError(`no answer from ${redactUrl(url)} within ${opts.timeoutMs} ms`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new HttpMeasureError(
      `cannot reach ${redactUrl(url)}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
    );
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    if (timeout.aborted)
      throw new HttpMeasureError(`no answer from ${redactUrl(url)} within ${opts.timeoutMs} ms`);
    throw new HttpMeasureError(`reading the answer of ${redactUrl(url)}: ${(err as Error).message}`);
  }
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
    if (res.ok)
      throw new HttpMeasureError(`${redactUrl(url)} answered ${res.status} with a body that is not JSON`);
  }
  return { status: res.status, body };
}

/** The URL without credentials or query string, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
