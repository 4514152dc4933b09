import { strict as assert } from 'node:assert';
import type https from 'node:https';
import { LiteKubeConfig, NeedsFullKubeConfig } from '../../../src/runtime/kubeconfig.js';

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
      { name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64('CA'), ...cluster } },
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
    const kc = LiteKubeConfig.fromYaml(kubeconfig({ 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }), '/etc');
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

  it('asks for the full loader for exec plugins, auth providers and proxies', () => {
    assert.throws(() => LiteKubeConfig.fromYaml(kubeconfig({ exec: { command: 'aws' } }), '/'), NeedsFullKubeConfig);
    assert.throws(() => LiteKubeConfig.fromYaml(kubeconfig({ 'auth-provider': { name: 'oidc' } }), '/'), NeedsFullKubeConfig);
    assert.throws(() => LiteKubeConfig.fromYaml(kubeconfig({ token: 'x' }, { 'proxy-url': 'http://proxy:3128' }), '/'), NeedsFullKubeConfig);
  });

  it('names what is missing', () => {
    assert.throws(() => LiteKubeConfig.fromYaml(kubeconfig({}), '/', 'nope'), /no context 'nope'/);
    assert.throws(() => LiteKubeConfig.fromYaml('{}', '/'), /no context/);
  });
});
