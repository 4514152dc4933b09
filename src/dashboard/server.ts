/**
 * The war-room web server: the index of Cutovers and one page per Cutover, kept live by
 * server-sent events (the page never polls), and the actions, each performed with the caller's
 * credentials. Only the views of ./view.ts leave this process: no Secret, URL or token.
 *
 * Because it acts with the caller's credentials it refuses what a browser could be tricked into:
 * a Host it does not serve (DNS rebinding) and a POST whose Origin is not its own (CSRF). Assets
 * are served with a Content-Security-Policy that allows only its own script and style.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeClient } from '../runtime/kube-client.js';
import type { KubeConfigLike } from '../runtime/kubeconfig.js';
import { createLogger } from '../runtime/logger.js';
import { AccessChecker, type Permissions } from './access.js';
import { parseActionRequest, performAction } from './actions.js';
import { pageHtml } from './page.js';
import { STYLES } from './styles.js';
import { WatchedState } from './watched-state.js';

export interface DashboardOptions {
  kc: KubeConfigLike;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Only this namespace (else all the caller may list). */
  namespace?: string;
}

export interface Dashboard {
  url: string;
  stop(): Promise<void>;
}

/** What a page of the index receives on each push. */
export interface IndexMessage {
  view: 'index';
  cutovers: ReturnType<WatchedState['index']>;
}
/** What a Cutover page receives on each push. */
export interface CutoverMessage {
  view: 'cutover';
  user: string;
  can: Permissions;
  cutover: ReturnType<WatchedState['cutover']> | null;
}

const log = createLogger('dashboard');
const PUSH_DEBOUNCE_MS = 50;
const HEARTBEAT_MS = 15_000;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function appScript(): string {
  // Compiled next to this file by tsc (src/dashboard/browser/app.ts): part of the package.
  return readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'browser', 'app.js'), 'utf8').replace(
    /\n\/\/# sourceMappingURL=.*$/,
    '',
  );
}

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const client = new KubeClient(o.kc, { userAgent: 'cutover-dashboard' });
  const state = new WatchedState(client, o.namespace);
  const access = new AccessChecker(client);
  const script = appScript();
  state.start();
  await state.waitForSync();

  const host = o.host ?? '127.0.0.1';
  const streams = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'dashboard request failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error');
      else res.end();
    });
  });

  function send(res: http.ServerResponse, code: number, type: string, body: string): void {
    res.writeHead(code, { 'Content-Type': `${type}; charset=utf-8`, ...SECURITY_HEADERS });
    res.end(body);
  }

  function hostAllowed(req: http.IncomingMessage): boolean {
    if (!LOOPBACK.has(host)) return true; // behind an ingress: its host names are the team's
    const h = (req.headers.host ?? '').replace(/:\d+$/, '');
    return LOOPBACK.has(h);
  }

  async function message(url: URL): Promise<IndexMessage | CutoverMessage> {
    const ns = url.searchParams.get('namespace');
    const name = url.searchParams.get('name');
    if (!ns || !name) return { view: 'index', cutovers: state.index() };
    const [can, user] = await Promise.all([access.permissions(ns), access.userName()]);
    return { view: 'cutover', user, can, cutover: state.cutover(ns, name) ?? null };
  }

  function stream(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      Connection: 'keep-alive',
      ...SECURITY_HEADERS,
    });
    streams.add(res);
    const ns = url.searchParams.get('namespace');
    let last = '';
    let timer: NodeJS.Timeout | undefined;
    let pushing = Promise.resolve();
    const push = (): void => {
      timer = undefined;
      pushing = pushing.then(async () => {
        const text = JSON.stringify(await message(url));
        if (text === last || res.writableEnded) return;
        last = text;
        res.write(`data: ${text}\n\n`);
      });
    };
    push();
    const off = state.onChange((changedNs) => {
      if (ns && changedNs !== ns) return;
      timer ??= setTimeout(push, PUSH_DEBOUNCE_MS);
    });
    const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    req.on('close', () => {
      off();
      clearInterval(beat);
      clearTimeout(timer);
      streams.delete(res);
    });
  }

  async function readJson(req: http.IncomingMessage): Promise<unknown> {
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > 16 * 1024) throw new Error('request too large');
      chunks.push(c);
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  }

  async function action(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const origin = req.headers.origin;
    if (!origin || origin !== `http://${req.headers.host ?? ''}`) {
      send(
        res,
        403,
        'application/json',
        JSON.stringify({ ok: false, message: 'cross-origin request refused' }),
      );
      return;
    }
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      send(res, 415, 'application/json', JSON.stringify({ ok: false, message: 'send JSON' }));
      return;
    }
    let parsed;
    try {
      parsed = parseActionRequest(await readJson(req));
    } catch (e) {
      send(res, 400, 'application/json', JSON.stringify({ ok: false, message: (e as Error).message }));
      return;
    }
    const result = await performAction(client, parsed, await access.userName());
    log.info(
      { action: parsed.verb, kind: parsed.kind, name: parsed.name, ok: result.ok },
      'dashboard action',
    );
    send(res, result.ok ? 200 : 403, 'application/json', JSON.stringify(result));
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!hostAllowed(req)) {
      send(res, 421, 'text/plain', 'this dashboard answers only on localhost');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method === 'POST' && path === '/api/action') return action(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain', 'method not allowed');
      return;
    }
    if (path === '/') return send(res, 200, 'text/html', pageHtml('Cutovers'));
    const page = /^\/cutovers\/([a-z0-9][-a-z0-9.]*)\/([a-z0-9][-a-z0-9.]*)$/.exec(path);
    if (page) return send(res, 200, 'text/html', pageHtml(`Cutover ${page[1]!}/${page[2]!}`));
    if (path === '/assets/app.js') return send(res, 200, 'text/javascript', script);
    if (path === '/assets/app.css') return send(res, 200, 'text/css', STYLES);
    if (path === '/events') return stream(req, res, url);
    if (path === '/healthz') return send(res, 200, 'text/plain', 'ok');
    send(res, 404, 'text/plain', 'not found');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown === '0.0.0.0' ? '127.0.0.1' : shown}:${port}`,
    async stop() {
      for (const s of streams) s.end();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await state.stop();
      client.close();
    },
  };
}
