/**
 * KubeClient's transport against real servers: a cluster reached only through an HTTP CONNECT
 * proxy written here (kubeconfig proxy-url, or HTTPS_PROXY), requests and watches through it;
 * KUBECONFIG=a:b merged as kubectl merges it, with --context, without loading client-node; and a
 * local HTTP server answering 429 with Retry-After, retried after the time it gives (bounded).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { ApiError, KubeClient, type RequestInfo } from '../../../src/runtime/kube-client.js';
import { LiteKubeConfig, loadKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { repoRoot } from '../../../src/devenv/devenv-state.js';

const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
/** A name in the API server's certificate that resolves nowhere: only the proxy knows where it is. */
const HIDDEN_HOST = 'kubernetes.default.svc.cluster.local';

interface Proxy {
  url: string;
  connects: string[];
  close(): Promise<void>;
}

/** An HTTP CONNECT proxy: maps HIDDEN_HOST to 127.0.0.1, optionally requires Basic credentials. */
async function startConnectProxy(credentials?: string): Promise<Proxy> {
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    const target = req.url ?? '';
    if (
      credentials &&
      req.headers['proxy-authorization'] !== `Basic ${Buffer.from(credentials).toString('base64')}`
    ) {
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n',
      );
      return;
    }
    connects.push(target);
    const i = target.lastIndexOf(':');
    const host = target.slice(0, i).replace(/^\[|\]$/g, '');
    const upstream = net.connect(
      { host: host === HIDDEN_HOST ? '127.0.0.1' : host, port: Number(target.slice(i + 1)) },
      () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      },
    );
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const auth = credentials ? `${credentials}@` : '';
  return {
    url: `http://${auth}127.0.0.1:${port}`,
    connects,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

interface KubeconfigDoc {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
  contexts: { name: string; context: Record<string, unknown> }[];
  'current-context': string;
}

describe('runtime: KubeClient transport (proxy, KUBECONFIG=a:b, --context, 429)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let dir: string;
  let base: KubeconfigDoc;
  let server: URL;

  before(async () => {
    cluster = await useCluster();
    dir = mkdtempSync(join(tmpdir(), 'cutover-transport-'));
    base = parse(readFileSync(cluster.kubeconfigPath, 'utf8')) as KubeconfigDoc;
    server = new URL(String(base.clusters[0]!.cluster.server));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The test cluster's kubeconfig with the cluster entry changed. */
  function kubeconfigWith(cluster: Record<string, unknown>, name = 'kc.yaml'): string {
    const doc = structuredClone(base);
    doc.clusters[0]!.cluster = { ...doc.clusters[0]!.cluster, ...cluster };
    const file = join(dir, name);
    writeFileSync(file, stringify(doc));
    return file;
  }

  it('reaches the cluster through the proxy-url of the kubeconfig (requests and a watch)', async () => {
    const proxy = await startConnectProxy();
    const client = new KubeClient(
      await loadKubeConfig(
        kubeconfigWith({ server: `https://${HIDDEN_HOST}:${server.port}`, 'proxy-url': proxy.url }),
        {},
      ),
      { env: {} },
    );
    try {
      const list = await client.list(NAMESPACES);
      assert.ok(list.items.some((n) => n.metadata.name === 'default'));
      assert.deepEqual([...new Set(proxy.connects)], [`${HIDDEN_HOST}:${server.port}`]);
      // a watch opens its own tunnel and streams events through it
      const name = `proxied-${Date.now()}`;
      const seen = new Promise<string>((resolve, reject) => {
        void client.watch(
          NAMESPACES,
          { resourceVersion: list.metadata.resourceVersion },
          (ev) => {
            if (ev.object.metadata.name === name) resolve(ev.type);
          },
          (err) => reject(err instanceof Error ? err : new Error('watch ended')),
        );
      });
      const before = proxy.connects.length;
      await client.create(NAMESPACES, undefined, { metadata: { name } });
      assert.equal(await seen, 'ADDED');
      assert.ok(proxy.connects.length > before, 'the watch went through the proxy too');
      await client.delete(NAMESPACES, undefined, name);
    } finally {
      client.close();
      await proxy.close();
    }
  });

  it('sends the credentials of the proxy URL, and never shows them in an error', async () => {
    const proxy = await startConnectProxy('ops:s3cr3t');
    const good = new KubeClient(
      await loadKubeConfig(
        kubeconfigWith({ server: `https://${HIDDEN_HOST}:${server.port}`, 'proxy-url': proxy.url }),
      ),
      { env: {} },
    );
    const bad = new KubeClient(
      await loadKubeConfig(
        kubeconfigWith(
          {
            server: `https://${HIDDEN_HOST}:${server.port}`,
            'proxy-url': proxy.url.replace('s3cr3t', 'wrong-pass'),
          },
          'bad.yaml',
        ),
      ),
      { env: {} },
    );
    try {
      assert.ok((await good.list(NAMESPACES)).items.length > 0);
      const err = await bad.list(NAMESPACES).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApiError, String(err));
      assert.match(err.message, /refused CONNECT .*407/);
      assert.doesNotMatch(err.message, /wrong-pass|s3cr3t|ops:/);
    } finally {
      good.close();
      bad.close();
      await proxy.close();
    }
  });

  it('uses HTTPS_PROXY from the environment, but not for loopback addresses (as kubectl does)', async () => {
    const proxy = await startConnectProxy();
    const hidden = new KubeClient(
      await loadKubeConfig(kubeconfigWith({ server: `https://${HIDDEN_HOST}:${server.port}` })),
      { env: { HTTPS_PROXY: proxy.url } },
    );
    const loopback = new KubeClient(await loadKubeConfig(cluster.kubeconfigPath), {
      env: { HTTPS_PROXY: proxy.url },
    });
    try {
      assert.ok((await hidden.list(NAMESPACES)).items.length > 0);
      assert.equal(proxy.connects.length, 1);
      assert.ok((await loopback.list(NAMESPACES)).items.length > 0);
      assert.equal(proxy.connects.length, 1, '127.0.0.1 is never proxied from the environment');
    } finally {
      hidden.close();
      loopback.close();
      await proxy.close();
    }
  });

  it('merges KUBECONFIG=a:b as kubectl does, picks --context, and loads no client-node for it', async () => {
    // a: the cluster and a context that points at a user defined only in b; b: the user, and a
    // context of the same name as a's (a's wins) plus the current-context a does not set
    const c = base.clusters[0]!;
    const u = base.users[0]!;
    const a = join(dir, 'a.yaml');
    const b = join(dir, 'b.yaml');
    writeFileSync(
      a,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [c],
        contexts: [{ name: 'ops', context: { cluster: c.name, user: 'from-b', namespace: 'kube-system' } }],
      }),
    );
    writeFileSync(
      b,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'broken',
        users: [{ name: 'from-b', user: u.user }],
        clusters: [{ name: c.name, cluster: { server: 'https://127.0.0.1:1' } }],
        contexts: [
          { name: 'ops', context: { cluster: 'nowhere', user: 'nobody' } },
          { name: 'broken', context: { cluster: 'nowhere', user: 'from-b' } },
        ],
      }),
    );
    const env = { KUBECONFIG: [a, join(dir, 'missing.yaml'), b].join(delimiter) };
    const kc = await loadKubeConfig(undefined, env, { context: 'ops' });
    assert.ok(kc instanceof LiteKubeConfig);
    assert.equal(kc.namespace, 'kube-system', "a's context 'ops' wins over b's");
    const client = new KubeClient(kc, { env: {} });
    try {
      assert.ok((await client.list(NAMESPACES)).items.length > 0, 'cluster from a, credentials from b');
    } finally {
      client.close();
    }
    await assert.rejects(
      loadKubeConfig(undefined, env),
      /no cluster 'nowhere'/,
      'current-context comes from b (a sets none)',
    );
    await assert.rejects(
      loadKubeConfig(undefined, env, { context: 'staging' }),
      /no context 'staging' \(contexts: ops, broken\)/,
    );

    // the same in a fresh process, with a hook that fails on any import of client-node
    const hook = `export async function resolve(s, c, next) { if (s.includes('@kubernetes/client-node')) throw new Error('client-node loaded: ' + s); return next(s, c); }`;
    const script = `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
      const { loadKubeConfig } = await import(${JSON.stringify(join(repoRoot(), 'dist/src/runtime/kubeconfig.js'))});
      const { KubeClient } = await import(${JSON.stringify(join(repoRoot(), 'dist/src/runtime/kube-client.js'))});
      const client = new KubeClient(await loadKubeConfig(undefined, process.env, { context: 'ops' }));
      const list = await client.list({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false });
      client.close();
      console.log(list.items.length);`;
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script],
        { env: { PATH: process.env.PATH, ...env } },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
    });
    assert.equal(out.code, 0, out.stderr);
    assert.ok(Number(out.stdout.trim()) > 0, out.stdout);
  });

  describe('429 Too Many Requests', () => {
    let api: http.Server;
    let answers: { code: number; retryAfter?: string }[];
    let times: number[];

    before(async () => {
      api = http.createServer((req, res) => {
        times.push(Date.now());
        const a = answers.shift() ?? { code: 200 };
        if (a.code === 200)
          return res
            .writeHead(200, { 'Content-Type': 'application/json' })
            .end(JSON.stringify({ metadata: { name: 'x' }, seen: req.url }));
        res
          .writeHead(a.code, {
            'Content-Type': 'application/json',
            ...(a.retryAfter !== undefined ? { 'Retry-After': a.retryAfter } : {}),
          })
          .end(
            JSON.stringify({
              kind: 'Status',
              message: 'too many requests, please try again later',
              reason: 'TooManyRequests',
            }),
          );
      });
      await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    });
    after(() => new Promise<void>((r) => api.close(() => r())));
    beforeEach(() => {
      times = [];
    });

    const clientFor = (opts: ConstructorParameters<typeof KubeClient>[1] = {}): KubeClient => {
      const port = (api.address() as net.AddressInfo).port;
      const file = join(dir, 'local.yaml');
      writeFileSync(
        file,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          'current-context': 'l',
          clusters: [{ name: 'l', cluster: { server: `http://127.0.0.1:${port}` } }],
          users: [{ name: 'u', user: { token: 't' } }],
          contexts: [{ name: 'l', context: { cluster: 'l', user: 'u' } }],
        }),
      );
      return new KubeClient(LiteKubeConfig.fromFile(file), { env: {}, ...opts });
    };

    it('retries after the Retry-After the server gives, and counts every attempt', async () => {
      answers = [
        { code: 429, retryAfter: '1' },
        { code: 429, retryAfter: '1' },
      ];
      const seen: RequestInfo[] = [];
      const client = clientFor({ onRequest: (i) => seen.push(i) });
      try {
        const got = await client.get(NAMESPACES, undefined, 'x');
        assert.equal(got.metadata.name, 'x');
      } finally {
        client.close();
      }
      assert.deepEqual(
        seen.map((s) => s.code),
        [429, 429, 200],
      );
      assert.equal(times.length, 3);
      for (let i = 1; i < times.length; i++)
        assert.ok(
          times[i]! - times[i - 1]! >= 950,
          `attempt ${i} came ${times[i]! - times[i - 1]!} ms after the previous one`,
        );
    });

    it('is bounded: the waits are capped and the retries counted, then the 429 is the error', async () => {
      answers = [
        { code: 429, retryAfter: '3600' },
        { code: 429, retryAfter: '3600' },
        { code: 429, retryAfter: '3600' },
      ];
      const client = clientFor({ maxRetries: 2, maxRetryWaitMs: 200 });
      const start = Date.now();
      try {
        const err = await client.get(NAMESPACES, undefined, 'x').then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof ApiError && err.statusCode === 429, String(err));
        assert.match(err.message, /too many requests/);
      } finally {
        client.close();
      }
      assert.equal(times.length, 3, 'one try and two retries');
      assert.ok(Date.now() - start < 5_000, 'an hour of Retry-After is not waited');
    });

    it('does not retry a 429 without Retry-After, nor a 500; an abort ends the wait', async () => {
      answers = [{ code: 429 }];
      const client = clientFor();
      try {
        await assert.rejects(
          client.get(NAMESPACES, undefined, 'x'),
          (e: unknown) => e instanceof ApiError && e.statusCode === 429,
        );
        assert.equal(times.length, 1);
        answers = [{ code: 500, retryAfter: '1' }];
        await assert.rejects(
          client.get(NAMESPACES, undefined, 'x'),
          (e: unknown) => e instanceof ApiError && e.statusCode === 500,
        );
        assert.equal(times.length, 2);
        answers = [{ code: 429, retryAfter: '30' }];
        const ac = new AbortController();
        const started = Date.now();
        setTimeout(() => ac.abort(new Error('leadership lost')), 300);
        await assert.rejects(
          client.request('GET', '/api/v1/namespaces/x', { signal: ac.signal }),
          /leadership lost while waiting to retry a 429/,
        );
        assert.ok(Date.now() - started < 5_000);
      } finally {
        client.close();
      }
      answers = [];
    });
  });
});
