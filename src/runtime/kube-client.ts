/**
 * A small generic Kubernetes REST client over a KubeConfig.
 *
 * Every request of the operator goes through here (and the informers' watches are counted here
 * too), so the operator can expose `cutover_api_requests_total` and tests can count requests.
 * Works for any resource type, core (`/api/v1`) or grouped (`/apis/<group>/<version>`), and for
 * subresources such as `/status`. Authentication is applied by the config's `applyToHTTPSOptions`
 * (`LiteKubeConfig` from kubeconfig.ts, or client-node's `KubeConfig`). Watches stream
 * newline-delimited JSON over their own connection.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfigLike } from './kubeconfig.js';
import { HttpProxyAgent, HttpsProxyAgent, proxyFor } from './http-proxy.js';

/** Identifies a resource type by its REST coordinates. `group` is '' for the core group. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  /** Default true. */
  namespaced?: boolean;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
  [k: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export interface ObjectList<T extends KubeObject = KubeObject> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** An error answer of the API server (or a transport failure, with statusCode 0). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly reason?: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function isApiError(e: unknown, code?: number): e is ApiError {
  return e instanceof ApiError && (code === undefined || e.statusCode === code);
}
export const isNotFound = (e: unknown): boolean => isApiError(e, 404);
export const isConflict = (e: unknown): boolean => isApiError(e, 409);
export const isGone = (e: unknown): boolean => isApiError(e, 410);

export function apiVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** `/api/v1/namespaces/ns/configmaps/name/status` and the like. */
export function resourcePath(
  rt: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  let p = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  if (namespace && rt.namespaced !== false) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${rt.plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

export interface RequestInfo {
  verb: string;
  resource: string;
  code: number;
  durationMs: number;
  /** The URL path (`/apis/batch/v1/namespaces/ns/jobs/x`), for callers that need the group. */
  path: string;
}

export interface KubeClientOptions {
  userAgent?: string;
  /** Called once per request (and once per watch opened). */
  onRequest?: (info: RequestInfo) => void;
  /** Per-request timeout in ms (not for watches). Default 30 s. */
  timeoutMs?: number;
  /**
   * A 429 (or 503) with Retry-After is sent again after that many seconds, as client-go does, at
   * most `maxRetries` times (default 5), each wait capped at `maxRetryWaitMs` (default 30 s).
   */
  maxRetries?: number;
  maxRetryWaitMs?: number;
  /** Where HTTPS_PROXY / HTTP_PROXY / NO_PROXY are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Seconds (or an HTTP date) of a Retry-After header → ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface WatchEvent {
  /** ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
  type: string;
  object: KubeObject & { code?: number; reason?: string; message?: string };
}

export interface WatchHandle {
  abort(): void;
}

/** The resource (plural[/subresource]) a path addresses and whether it names one object. */
export function describePath(path: string): { resource: string; named: boolean } {
  const parts = path.split('/').filter(Boolean);
  let i = parts[0] === 'api' ? 2 : parts[0] === 'apis' ? 3 : 0;
  if (parts[i] === 'namespaces' && parts.length > i + 2) i += 2;
  const plural = parts[i] ?? '';
  const name = parts[i + 1];
  const sub = parts[i + 2];
  return { resource: sub ? `${plural}/${sub}` : plural, named: name !== undefined };
}

function verbFor(method: string, hasName: boolean, watch = false): string {
  if (watch) return 'WATCH';
  if (method === 'GET') return hasName ? 'GET' : 'LIST';
  return method;
}

export class KubeClient {
  private agent: https.Agent | undefined;
  private plainAgent: http.Agent | undefined;
  private proxy: { url: URL | undefined } | undefined;
  private readonly timeoutMs: number;

  constructor(
    readonly kc: KubeConfigLike,
    private readonly options: KubeClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The proxy of this client's cluster (proxy-url, else the environment), decided once. */
  private proxyFor(url: URL, proxyUrl: string | undefined): URL | undefined {
    this.proxy ??= { url: proxyFor(url, proxyUrl, this.options.env ?? process.env) };
    return this.proxy.url;
  }

  /** TLS options of the agents: the ones the kubeconfig gives. */
  private static tlsOptions(reqOpts: https.RequestOptions): https.AgentOptions {
    return {
      ca: reqOpts.ca,
      cert: reqOpts.cert,
      key: reqOpts.key,
      servername: reqOpts.servername,
      ...(reqOpts.rejectUnauthorized !== undefined ? { rejectUnauthorized: reqOpts.rejectUnauthorized } : {}),
    };
  }

  /** Raw request against an API path; JSON in, JSON out. Throws ApiError on non-2xx. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new ApiError('no current cluster in kubeconfig', 0);
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const reqOpts: https.RequestOptions = { method, headers: {} };
    await this.kc.applyToHTTPSOptions(reqOpts);
    const headers = (reqOpts.headers ?? {}) as Record<string, string>;
    headers.Accept = 'application/json';
    if (this.options.userAgent) headers['User-Agent'] = this.options.userAgent;
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const isHttps = url.protocol === 'https:';
    const proxy = this.proxyFor(url, cluster.proxyUrl);
    let agent: http.Agent;
    if (isHttps) {
      const agentOpts = { keepAlive: true, maxSockets: 32, ...KubeClient.tlsOptions(reqOpts) };
      this.agent ??= proxy ? new HttpsProxyAgent(proxy, agentOpts) : new https.Agent(agentOpts);
      agent = this.agent;
    } else {
      this.plainAgent ??= proxy
        ? new HttpProxyAgent(proxy, { keepAlive: true, maxSockets: 32 })
        : new http.Agent({ keepAlive: true, maxSockets: 32 });
      agent = this.plainAgent;
    }
    const { resource, named } = describePath(url.pathname);
    const maxRetries = this.options.maxRetries ?? 5;
    const maxWait = this.options.maxRetryWaitMs ?? 30_000;
    for (let attempt = 0; ; attempt++) {
      const start = Date.now();
      const report = (code: number): void =>
        this.options.onRequest?.({
          verb: verbFor(method, named),
          resource,
          code,
          durationMs: Date.now() - start,
          path: url.pathname,
        });
      const answer = await new Promise<{
        code: number;
        retryAfter: string | string[] | undefined;
        parsed: unknown;
        statusMessage: string | undefined;
      }>((resolve, reject) => {
        const lib = isHttps ? https : http;
        const req = lib.request(
          url,
          {
            method,
            headers,
            agent,
            ca: reqOpts.ca,
            cert: reqOpts.cert,
            key: reqOpts.key,
            auth: reqOpts.auth,
            signal: opts.signal,
            timeout: this.timeoutMs,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', (e) => {
              report(0);
              reject(new ApiError(`${method} ${url.pathname}: ${e.message}`, 0));
            });
            res.on('end', () => {
              const code = res.statusCode ?? 0;
              report(code);
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown;
              try {
                parsed = text ? JSON.parse(text) : undefined;
              } catch {
                parsed = text;
              }
              resolve({
                code,
                retryAfter: res.headers['retry-after'],
                parsed,
                statusMessage: res.statusMessage,
              });
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
        req.on('error', (e) => {
          report(0);
          reject(new ApiError(`${method} ${url.pathname}: ${e.message}`, 0));
        });
        if (payload !== undefined) req.write(payload);
        req.end();
      });
      const { code, parsed } = answer;
      if (code >= 200 && code < 300) return parsed as T;
      // Too many requests (API Priority and Fairness) or unavailable: the server says when to come back.
      const wait = code === 429 || code === 503 ? retryAfterMs(answer.retryAfter) : undefined;
      if (wait !== undefined && attempt < maxRetries) {
        try {
          await sleep(Math.min(wait, maxWait), opts.signal);
        } catch (e) {
          throw new ApiError(
            `${method} ${url.pathname}: ${e instanceof Error ? e.message : String(e)} while waiting to retry a ${code}`,
            0,
          );
        }
        continue;
      }
      const st = (parsed ?? {}) as { message?: string; reason?: string };
      throw new ApiError(
        `${method} ${url.pathname}: ${code} ${st.message ?? answer.statusMessage ?? ''}`.trim(),
        code,
        st.reason,
        parsed,
      );
    }
  }

  async list<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    o: ListOptions = {},
  ): Promise<ObjectList<T>> {
    const query = {
      labelSelector: o.labelSelector,
      fieldSelector: o.fieldSelector,
      limit: o.limit,
      continue: o.continue,
      resourceVersion: o.resourceVersion,
    };
    return this.request<ObjectList<T>>('GET', resourcePath(rt, o.namespace), { query });
  }

  /** Lists every page (follows `continue`). The returned resourceVersion is the first page's. */
  async listAll<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    o: ListOptions = {},
  ): Promise<ObjectList<T>> {
    const first = await this.list<T>(rt, { ...o, limit: o.limit ?? 500 });
    const items = [...first.items];
    let cont = first.metadata.continue;
    while (cont) {
      const page = await this.list<T>(rt, { ...o, limit: o.limit ?? 500, continue: cont });
      items.push(...page.items);
      cont = page.metadata.continue;
    }
    return { items, metadata: { resourceVersion: first.metadata.resourceVersion } };
  }

  async get<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T> {
    return this.request<T>('GET', resourcePath(rt, namespace, name));
  }

  /** Like get, but undefined when the object does not exist. */
  async tryGet<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    try {
      return await this.get<T>(rt, namespace, name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async create<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    namespace: string | undefined,
    obj: KubeObject,
    fieldManager = 'cutover-operator',
  ): Promise<T> {
    const body = { apiVersion: apiVersionOf(rt), kind: rt.kind, ...obj };
    return this.request<T>('POST', resourcePath(rt, namespace), { body, query: { fieldManager } });
  }

  async replace<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    obj: KubeObject,
    subresource?: string,
    fieldManager = 'cutover-operator',
  ): Promise<T> {
    const body = { apiVersion: apiVersionOf(rt), kind: rt.kind, ...obj };
    return this.request<T>('PUT', resourcePath(rt, namespace, name, subresource), {
      body,
      query: { fieldManager },
    });
  }

  /**
   * Makes the object exactly `obj` whoever wrote it before: create, or replace at the current
   * resourceVersion; a race with another writer (409 on either) reads again and retries.
   */
  async createOrReplace<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    namespace: string | undefined,
    obj: KubeObject,
    attempts = 5,
  ): Promise<T> {
    const name = obj.metadata.name;
    if (!name) throw new Error(`createOrReplace needs metadata.name (${rt.kind})`);
    for (let attempt = 1; ; attempt++) {
      const existing = await this.tryGet(rt, namespace, name);
      try {
        if (!existing) return await this.create<T>(rt, namespace, obj);
        return await this.replace<T>(rt, namespace, name, {
          ...obj,
          metadata: { ...obj.metadata, resourceVersion: existing.metadata.resourceVersion },
        });
      } catch (e) {
        if (!(isConflict(e) || isNotFound(e)) || attempt >= attempts) throw e;
      }
    }
  }

  async patch<T extends KubeObject = KubeObject>(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type: PatchType = 'merge',
    opts: { subresource?: string; fieldManager?: string; force?: boolean } = {},
  ): Promise<T> {
    return this.request<T>('PATCH', resourcePath(rt, namespace, name, opts.subresource), {
      body: patch,
      contentType: PATCH_CONTENT_TYPES[type],
      query: {
        fieldManager: opts.fieldManager ?? 'cutover-operator',
        force: type === 'apply' ? (opts.force ?? true) : undefined,
      },
    });
  }

  async delete(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    propagationPolicy: 'Background' | 'Foreground' | 'Orphan' = 'Background',
  ): Promise<void> {
    try {
      await this.request<unknown>('DELETE', resourcePath(rt, namespace, name), {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy },
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /**
   * Opens a watch. `onEvent` gets each event (BOOKMARK and ERROR included); `onDone` is called
   * exactly once when the stream ends for any reason (an ApiError with the HTTP status when the
   * server refused the watch, undefined for a clean close). `abort()` closes it (no onDone then).
   */
  async watch(
    rt: ResourceType,
    o: {
      namespace?: string;
      resourceVersion?: string;
      timeoutSeconds?: number;
      labelSelector?: string;
      fieldSelector?: string;
    },
    onEvent: (ev: WatchEvent) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle> {
    let aborted = false;
    let finished = false;
    const finish = (err?: unknown): void => {
      if (finished) return;
      finished = true;
      if (!aborted) onDone(err);
    };
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) {
      finish(new ApiError('no current cluster in kubeconfig', 0));
      return { abort: () => undefined };
    }
    const url = new URL(cluster.server.replace(/\/$/, '') + resourcePath(rt, o.namespace));
    const query: Record<string, string | number | boolean | undefined> = {
      watch: true,
      allowWatchBookmarks: true,
      resourceVersion: o.resourceVersion,
      timeoutSeconds: o.timeoutSeconds,
      labelSelector: o.labelSelector,
      fieldSelector: o.fieldSelector,
    };
    for (const [k, v] of Object.entries(query))
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const reqOpts: https.RequestOptions = { method: 'GET', headers: {} };
    await this.kc.applyToHTTPSOptions(reqOpts);
    const headers = (reqOpts.headers ?? {}) as Record<string, string>;
    headers.Accept = 'application/json';
    if (this.options.userAgent) headers['User-Agent'] = this.options.userAgent;
    const isHttps = url.protocol === 'https:';
    const start = Date.now();
    const report = (code: number): void =>
      this.options.onRequest?.({
        verb: 'WATCH',
        resource: rt.plural,
        code,
        durationMs: Date.now() - start,
        path: url.pathname,
      });
    const lib = isHttps ? https : http;
    // a watch has its own connection (through its own tunnel when there is a proxy)
    const proxy = this.proxyFor(url, cluster.proxyUrl);
    const req = lib.request(
      url,
      {
        method: 'GET',
        headers,
        agent: proxy
          ? isHttps
            ? new HttpsProxyAgent(proxy, KubeClient.tlsOptions(reqOpts))
            : new HttpProxyAgent(proxy)
          : false,
        ca: reqOpts.ca,
        cert: reqOpts.cert,
        key: reqOpts.key,
        auth: reqOpts.auth,
        servername: reqOpts.servername,
        ...(reqOpts.rejectUnauthorized !== undefined
          ? { rejectUnauthorized: reqOpts.rejectUnauthorized }
          : {}),
      },
      (res) => {
        const code = res.statusCode ?? 0;
        report(code);
        res.setEncoding('utf8');
        if (code !== 200) {
          let body = '';
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            let st: { message?: string; reason?: string } = {};
            try {
              st = JSON.parse(body) as typeof st;
            } catch {
              st = { message: body.slice(0, 200) };
            }
            finish(
              new ApiError(
                `watch ${rt.plural}: ${code} ${st.message ?? res.statusMessage ?? ''}`.trim(),
                code,
                st.reason,
                st,
              ),
            );
          });
          res.on('error', (e) => finish(new ApiError(`watch ${rt.plural}: ${e.message}`, code)));
          return;
        }
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line || aborted || finished) continue;
            try {
              const ev = JSON.parse(line) as WatchEvent;
              onEvent(ev);
            } catch (e) {
              finish(new ApiError(`watch ${rt.plural}: bad event: ${(e as Error).message}`, 0));
              req.destroy();
              return;
            }
          }
        });
        res.on('end', () => finish(undefined));
        res.on('aborted', () => finish(new ApiError(`watch ${rt.plural}: stream aborted`, 0)));
        res.on('error', (e) => finish(new ApiError(`watch ${rt.plural}: ${e.message}`, 0)));
        res.on('close', () => finish(undefined));
      },
    );
    req.on('socket', (sock) => sock.setKeepAlive(true, 30_000));
    req.on('error', (e) => {
      if (!finished && !aborted) report(0);
      finish(new ApiError(`watch ${rt.plural}: ${e.message}`, 0));
    });
    req.end();
    return {
      abort: () => {
        aborted = true;
        req.destroy();
      },
    };
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
    this.plainAgent?.destroy();
    this.plainAgent = undefined;
  }
}
