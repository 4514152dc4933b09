/**
 * HTTP proxies for the Kubernetes client, as kubectl (Go's net/http) uses them: a cluster's
 * `proxy-url` in the kubeconfig, else HTTPS_PROXY / HTTP_PROXY with NO_PROXY (hosts, .domains,
 * IPs, CIDRs, `*`, optional ports; `localhost` and loopback addresses are never proxied from the
 * environment). Requests go through an HTTP CONNECT tunnel (to an http:// or https:// proxy, with
 * Basic credentials from the proxy URL), then TLS to the API server inside the tunnel, so the
 * proxy never sees the traffic.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name] ?? env[name.toLowerCase()];
  return v && v.trim() !== '' ? v.trim() : undefined;
}

function parseProxy(text: string): URL {
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new Error(`proxy '${text.replace(/\/\/[^@/]*@/, '//***@')}' is not a URL`);
  }
}

/** IPv4/IPv6 address → bigint and width, for CIDR matching. */
function ipBits(ip: string): { value: bigint; bits: number } | undefined {
  if (net.isIPv4(ip))
    return { value: ip.split('.').reduce((a, o) => (a << 8n) + BigInt(Number(o)), 0n), bits: 32 };
  if (!net.isIPv6(ip)) return undefined;
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = `${text.slice(0, -v4[1]!.length)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [left, right] = text.includes('::') ? text.split('::') : [text, undefined];
  const l = left ? left.split(':') : [];
  const r = right ? right.split(':') : [];
  const groups = right === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  return { value: groups.reduce((a, g) => (a << 16n) + BigInt(parseInt(g || '0', 16)), 0n), bits: 128 };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return ipBits(host)?.value === 1n;
  return false;
}

/** Go's httpproxy `useProxy` for one NO_PROXY list: true when `host:port` must NOT be proxied. */
export function noProxyMatches(host: string, port: string, noProxy: string | undefined): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const raw of (noProxy ?? '').split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      const [net0, len] = entry.split('/');
      const a = ipBits(h);
      const b = ipBits(net0!);
      const n = Number(len);
      if (a && b && a.bits === b.bits && Number.isInteger(n) && n >= 0 && n <= a.bits) {
        const shift = BigInt(a.bits - n);
        if (a.value >> shift === b.value >> shift) return true;
      }
      continue;
    }
    let ehost = entry;
    let eport = '';
    const m =
      /^\[(.+)\](?::(\d+))?$/.exec(entry) ??
      (entry.split(':').length === 2 ? /^([^:]+):(\d+)$/.exec(entry) : null);
    if (m) {
      ehost = m[1]!;
      eport = m[2] ?? '';
    }
    if (eport && eport !== port) continue;
    if (net.isIP(ehost)) {
      if (net.isIP(h) && ipBits(h)?.value === ipBits(ehost)?.value) return true;
      continue;
    }
    const domain = ehost.replace(/^\*?\./, '');
    const subdomainsOnly = ehost.startsWith('.') || ehost.startsWith('*.');
    if (h.endsWith(`.${domain}`) || (!subdomainsOnly && h === domain)) return true;
  }
  return false;
}

/**
 * The proxy for a request to `target`: the kubeconfig's proxy-url when set, else the
 * environment's (HTTPS_PROXY for https, HTTP_PROXY for http) unless NO_PROXY or loopback exempts it.
 */
export function proxyFor(
  target: URL,
  proxyUrl: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): URL | undefined {
  if (proxyUrl) return parseProxy(proxyUrl);
  const fromEnv = target.protocol === 'https:' ? envValue(env, 'HTTPS_PROXY') : envValue(env, 'HTTP_PROXY');
  if (!fromEnv) return undefined;
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  if (isLoopback(host) || noProxyMatches(host, port, envValue(env, 'NO_PROXY'))) return undefined;
  return parseProxy(fromEnv);
}

/** Opens `CONNECT host:port` through the proxy; resolves with the tunnel's socket. */
export function openTunnel(proxy: URL, host: string, port: number, timeoutMs = 30_000): Promise<net.Socket> {
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    return Promise.reject(
      new Error(
        `proxy ${proxy.protocol}//${proxy.host}: only http:// and https:// proxies (HTTP CONNECT) are supported`,
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const proxyPort = Number(proxy.port) || (proxy.protocol === 'https:' ? 443 : 80);
    const secure = proxy.protocol === 'https:';
    const sock: net.Socket = secure
      ? tls.connect({
          host: proxy.hostname,
          port: proxyPort,
          servername: net.isIP(proxy.hostname) ? undefined : proxy.hostname,
        })
      : net.connect({ host: proxy.hostname, port: proxyPort });
    const target = `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
    const auth = proxy.username
      ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}\r\n`
      : '';
    // never the credentials of the proxy URL in a message
    const where = `proxy ${proxy.protocol}//${proxy.host}`;
    let settled = false;
    let head = Buffer.alloc(0);
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      sock.destroy();
      reject(e);
    };
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16_384) fail(new Error(`${where}: no answer to CONNECT ${target}`));
        return;
      }
      sock.off('data', onData);
      const statusLine = head.subarray(0, end).toString('latin1').split('\r\n')[0] ?? '';
      if (!/^HTTP\/1\.[01] 200\b/.test(statusLine))
        return fail(new Error(`${where} refused CONNECT ${target}: ${statusLine.slice(0, 200)}`));
      const rest = head.subarray(end + 4);
      if (rest.length) sock.unshift(rest);
      settled = true;
      sock.setTimeout(0);
      sock.off('error', onError);
      resolve(sock);
    };
    const onError = (e: Error): void => fail(new Error(`${where}: ${e.message}`));
    sock.once(secure ? 'secureConnect' : 'connect', () =>
      sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`),
    );
    sock.on('data', onData);
    sock.on('error', onError);
    sock.setTimeout(timeoutMs, () =>
      fail(new Error(`${where}: no answer to CONNECT ${target} within ${timeoutMs} ms`)),
    );
  });
}

type OnSocket = (err: Error | null, stream: Duplex) => void;
/** The error path of an agent's createConnection callback carries no stream. */
const NO_STREAM = undefined as unknown as Duplex;

/** Each socket of this agent is a CONNECT tunnel, with TLS to the API server inside it. */
export class HttpsProxyAgent extends https.Agent {
  constructor(
    private readonly proxy: URL,
    opts: https.AgentOptions = {},
  ) {
    super(opts);
  }

  override createConnection(options: https.RequestOptions, callback?: OnSocket): undefined {
    openTunnel(this.proxy, String(options.host ?? 'localhost'), Number(options.port ?? 443)).then(
      (socket) => {
        const { host: _h, port: _p, ...rest } = options;
        callback?.(null, tls.connect({ ...(rest as tls.ConnectionOptions), socket }));
      },
      (e: Error) => callback?.(e, NO_STREAM),
    );
    return undefined;
  }
}

/** The same for http:// API servers (no TLS inside the tunnel). */
export class HttpProxyAgent extends http.Agent {
  constructor(
    private readonly proxy: URL,
    opts: http.AgentOptions = {},
  ) {
    super(opts);
  }

  override createConnection(options: http.ClientRequestArgs, callback?: OnSocket): undefined {
    openTunnel(this.proxy, String(options.host ?? 'localhost'), Number(options.port ?? 80)).then(
      (socket) => callback?.(null, socket),
      (e: Error) => callback?.(e, NO_STREAM),
    );
    return undefined;
  }
}
