import { strict as assert } from 'node:assert';
import type https from 'node:https';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LiteKubeConfig,
  NeedsFullKubeConfig,
  mergeKubeconfigFiles,
} from '../../../src/runtime/kubeconfig.js';
import { noProxyMatches, proxyFor } from '../../../src/runtime/http-proxy.js';
import { retryAfterMs } from '../../../src/runtime/kube-client.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'main',
    contexts: [
      { name: 'main', context: { cluster: 'c', user: 'u', namespace: 'ops' } },
      { name: 'other', context: { cluster: 'c2', user: 'u' } },
    ],
    clusters: [
      {
        name: 'c',
        cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64('CA'), ...cluster },
      },
      { name: 'c2', cluster: { server: 'https://10.0.0.1', 'insecure-skip-tls-verify': true } },
    ],
    users: [{ name: 'u', user }],
  });
}

async function apply(kc: LiteKubeConfig): Promise<https.RequestOptions> {
  const o: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  return o;
}

describe('runtime/kubeconfig (LiteKubeConfig)', () => {
  it('reads the current context with client certificate data', async () => {
    const kc = LiteKubeConfig.fromYaml(
      kubeconfig({ 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }),
      '/etc',
    );
    assert.equal(kc.getCurrentCluster().server, 'https://127.0.0.1:6443');
    assert.equal(kc.namespace, 'ops');
    const o = await apply(kc);
    assert.deepEqual(o.ca, Buffer.from('CA'));
    assert.deepEqual(o.cert, Buffer.from('CERT'));
    assert.deepEqual(o.key, Buffer.from('KEY'));
    assert.equal(o.rejectUnauthorized, undefined);
  });

  it('bearer tokens, basic auth, impersonation, another context, insecure-skip-tls-verify', async () => {
    const t = await apply(LiteKubeConfig.fromYaml(kubeconfig({ token: 'tok', as: 'alice' }), '/'));
    assert.equal((t.headers as Record<string, string>).Authorization, 'Bearer tok');
    assert.equal((t.headers as Record<string, string>)['Impersonate-User'], 'alice');
    const b = await apply(LiteKubeConfig.fromYaml(kubeconfig({ username: 'u', password: 'p' }), '/'));
    assert.equal(b.auth, 'u:p');
    const other = LiteKubeConfig.fromYaml(kubeconfig({ token: 'x' }), '/', 'other');
    assert.equal(other.getCurrentCluster().server, 'https://10.0.0.1');
    assert.equal((await apply(other)).rejectUnauthorized, false);
  });

  it('asks for the full loader for exec plugins and auth providers only', () => {
    assert.throws(
      () => LiteKubeConfig.fromYaml(kubeconfig({ exec: { command: 'aws' } }), '/'),
      NeedsFullKubeConfig,
    );
    assert.throws(
      () => LiteKubeConfig.fromYaml(kubeconfig({ 'auth-provider': { name: 'oidc' } }), '/'),
      NeedsFullKubeConfig,
    );
  });

  it('keeps the proxy-url of the cluster (http/https proxies; socks5 refused with the reason)', () => {
    const kc = LiteKubeConfig.fromYaml(kubeconfig({ token: 'x' }, { 'proxy-url': 'http://proxy:3128' }), '/');
    assert.deepEqual(kc.getCurrentCluster(), {
      server: 'https://127.0.0.1:6443',
      proxyUrl: 'http://proxy:3128',
    });
    assert.throws(
      () => LiteKubeConfig.fromYaml(kubeconfig({ token: 'x' }, { 'proxy-url': 'socks5://proxy:1080' }), '/'),
      /proxy-url 'socks5:\/\/proxy:1080' is not supported: use an http:\/\/ or https:\/\/ proxy/,
    );
  });

  it('merges several files as kubectl does: first definition of a name wins, paths relative to their own file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-merge-'));
    try {
      mkdirSync(join(dir, 'a'));
      mkdirSync(join(dir, 'b'));
      writeFileSync(join(dir, 'a', 'ca.crt'), 'CA-A');
      writeFileSync(join(dir, 'b', 'ca.crt'), 'CA-B');
      writeFileSync(join(dir, 'b', 'token'), 'TOKEN-B\n');
      const a = join(dir, 'a', 'config');
      const b = join(dir, 'b', 'config');
      writeFileSync(
        a,
        JSON.stringify({
          clusters: [{ name: 'c', cluster: { server: 'https://a', 'certificate-authority': 'ca.crt' } }],
          contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        }),
      );
      writeFileSync(
        b,
        JSON.stringify({
          'current-context': 'x',
          clusters: [
            { name: 'c', cluster: { server: 'https://b', 'certificate-authority': 'ca.crt' } },
            { name: 'd', cluster: { server: 'https://d' } },
          ],
          users: [{ name: 'u', user: { tokenFile: 'token' } }],
          contexts: [
            { name: 'x', context: { cluster: 'd', user: 'u' } },
            { name: 'y', context: { cluster: 'd', user: 'u', namespace: 'n' } },
          ],
        }),
      );
      const merged = mergeKubeconfigFiles([a, join(dir, 'none'), b]);
      assert.equal(merged['current-context'], 'x');
      assert.deepEqual(
        merged.clusters?.map((c) => [c.name, c.cluster.server, c.cluster['certificate-authority']]),
        [
          ['c', 'https://a', join(dir, 'a', 'ca.crt')],
          ['d', 'https://d', undefined],
        ],
      );
      assert.deepEqual(
        merged.contexts?.map((c) => [c.name, c.context.cluster]),
        [
          ['x', 'c'],
          ['y', 'd'],
        ],
      );
      const x = LiteKubeConfig.fromFile([a, b]);
      assert.equal(x.getCurrentCluster().server, 'https://a');
      const y = LiteKubeConfig.fromFile([a, b], 'y');
      assert.equal(y.getCurrentCluster().server, 'https://d');
      assert.equal(y.namespace, 'n');
      const o = await apply(x);
      assert.deepEqual(o.ca, Buffer.from('CA-A'));
      assert.equal((o.headers as Record<string, string>).Authorization, 'Bearer TOKEN-B');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names what is missing', () => {
    assert.throws(() => LiteKubeConfig.fromYaml(kubeconfig({}), '/', 'nope'), /no context 'nope'/);
    assert.throws(() => LiteKubeConfig.fromYaml('{}', '/'), /no context/);
    assert.throws(() => LiteKubeConfig.fromYaml(kubeconfig({}), '/', 'nope'), /\(contexts: main, other\)/);
    assert.throws(
      () => mergeKubeconfigFiles(['/no/such/a', '/no/such/b']),
      /none of the kubeconfig files exists/,
    );
  });
});

describe('runtime/http-proxy (as Go net/http chooses a proxy)', () => {
  const u = (s: string): URL => new URL(s);
  it('takes the proxy-url first, else HTTPS_PROXY/HTTP_PROXY by scheme (either case), scheme defaulting to http', () => {
    assert.equal(
      proxyFor(u('https://k8s:6443'), 'http://p:1', { HTTPS_PROXY: 'http://other:2' })?.host,
      'p:1',
    );
    assert.equal(
      proxyFor(u('https://k8s:6443'), undefined, { https_proxy: 'proxy.corp:3128' })?.href,
      'http://proxy.corp:3128/',
    );
    assert.equal(proxyFor(u('http://k8s:8080'), undefined, { HTTPS_PROXY: 'http://p:1' }), undefined);
    assert.equal(proxyFor(u('http://k8s:8080'), undefined, { HTTP_PROXY: 'http://p:1' })?.host, 'p:1');
    assert.equal(proxyFor(u('https://k8s:6443'), undefined, {}), undefined);
  });

  it('never proxies localhost and loopback addresses from the environment', () => {
    for (const s of [
      'https://localhost:6443',
      'https://127.0.0.1:6443',
      'https://127.3.2.1',
      'https://[::1]:6443',
    ]) {
      assert.equal(proxyFor(u(s), undefined, { HTTPS_PROXY: 'http://p:1' }), undefined, s);
    }
    assert.ok(
      proxyFor(u('https://127.0.0.1:6443'), 'http://p:1', {}),
      'an explicit proxy-url applies to loopback too',
    );
  });

  it('NO_PROXY: *, hosts, domains with and without a dot, IPs, CIDRs and ports', () => {
    const no = (host: string, port: string, list: string): boolean => noProxyMatches(host, port, list);
    assert.ok(no('anything', '443', '*'));
    assert.ok(no('k8s.corp', '443', 'k8s.corp'));
    assert.ok(no('api.k8s.corp', '443', 'k8s.corp'), 'a domain covers its subdomains');
    assert.ok(!no('k8s.corp', '443', '.k8s.corp'), 'a leading dot: subdomains only');
    assert.ok(no('api.k8s.corp', '443', '.k8s.corp'));
    assert.ok(no('api.k8s.corp', '443', '*.k8s.corp'));
    assert.ok(!no('notk8s.corp', '443', 'k8s.corp'));
    assert.ok(no('10.1.2.3', '443', '10.0.0.0/8'));
    assert.ok(!no('11.1.2.3', '443', '10.0.0.0/8'));
    assert.ok(no('fd00::5', '443', 'fd00::/16'));
    assert.ok(no('10.1.2.3', '443', ' a.b , 10.1.2.3 '));
    assert.ok(no('k8s.corp', '6443', 'k8s.corp:6443'));
    assert.ok(!no('k8s.corp', '443', 'k8s.corp:6443'));
    assert.ok(no('K8S.Corp', '443', 'k8s.CORP'));
    assert.equal(
      proxyFor(u('https://api.k8s.corp'), undefined, { HTTPS_PROXY: 'http://p:1', NO_PROXY: '.k8s.corp' }),
      undefined,
    );
    assert.ok(
      proxyFor(u('https://api.k8s.corp'), undefined, { HTTPS_PROXY: 'http://p:1', no_proxy: 'other.corp' }),
    );
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(retryAfterMs('2'), 2000);
    assert.equal(retryAfterMs(' 0 '), 0);
    assert.equal(retryAfterMs(undefined), undefined);
    assert.equal(retryAfterMs('soon'), undefined);
    const now = Date.parse('2026-12-01T02:00:00Z');
    assert.equal(retryAfterMs('Tue, 01 Dec 2026 02:00:05 GMT', now), 5000);
    assert.equal(retryAfterMs('Tue, 01 Dec 2026 01:00:00 GMT', now), 0);
  });
});
