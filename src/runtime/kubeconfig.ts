/**
 * A light kubeconfig loader for the operator process.
 *
 * Importing `@kubernetes/client-node`'s KubeConfig pulls in its whole generated API (~80 MB of
 * resident memory), more than the operator itself needs. This loader covers what operators use —
 * in-cluster ServiceAccount tokens (re-read as the kubelet rotates them), kubeconfig files with
 * client certificates, tokens, token files, basic auth, CA data, insecure-skip-tls-verify and
 * tls-server-name — and falls back to client-node's KubeConfig only for exec plugins,
 * auth-providers, proxies or a KUBECONFIG listing several files.
 *
 * Both satisfy `KubeConfigLike`, which is all `KubeClient` needs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeConfigLike {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

interface ClusterEntry {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}

interface UserEntry {
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
  as?: string;
}

interface KubeconfigFile {
  clusters?: Array<{ name: string; cluster: ClusterEntry }>;
  users?: Array<{ name: string; user: UserEntry }>;
  contexts?: Array<{ name: string; context: { cluster: string; user: string; namespace?: string } }>;
  'current-context'?: string;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Thrown when the kubeconfig needs client-node's full loader. */
export class NeedsFullKubeConfig extends Error {}

export class LiteKubeConfig implements KubeConfigLike {
  private tokenCache: { value: string; readAt: number; mtimeMs: number } | undefined;

  private constructor(
    private readonly server: string,
    private readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string },
    private readonly auth: { token?: string; tokenFile?: string; basic?: string; impersonate?: string },
    readonly namespace: string | undefined,
  ) {}

  getCurrentCluster(): { server: string } {
    return { server: this.server };
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    await Promise.resolve();
    if (this.tls.ca) opts.ca = this.tls.ca;
    if (this.tls.cert) opts.cert = this.tls.cert;
    if (this.tls.key) opts.key = this.tls.key;
    if (this.tls.rejectUnauthorized !== undefined) opts.rejectUnauthorized = this.tls.rejectUnauthorized;
    if (this.tls.servername) opts.servername = this.tls.servername;
    const headers = (opts.headers ??= {}) as Record<string, string>;
    const token = this.auth.tokenFile ? this.fileToken(this.auth.tokenFile) : this.auth.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (this.auth.basic) opts.auth = this.auth.basic;
    if (this.auth.impersonate) headers['Impersonate-User'] = this.auth.impersonate;
  }

  /** Re-reads a rotated token file at most once a minute, or when it changed. */
  private fileToken(file: string): string {
    const now = Date.now();
    const c = this.tokenCache;
    if (c && now - c.readAt < 60_000) return c.value;
    const mtimeMs = statSync(file).mtimeMs;
    if (c && c.mtimeMs === mtimeMs) {
      c.readAt = now;
      return c.value;
    }
    const value = readFileSync(file, 'utf8').trim();
    this.tokenCache = { value, readAt: now, mtimeMs };
    return value;
  }

  /** In-cluster: the Pod's ServiceAccount token and CA. */
  static fromCluster(env: NodeJS.ProcessEnv = process.env): LiteKubeConfig {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    if (!host) throw new Error('not running in a cluster (KUBERNETES_SERVICE_HOST is not set)');
    const h = host.includes(':') ? `[${host}]` : host;
    const ns = existsSync(join(SA_DIR, 'namespace')) ? readFileSync(join(SA_DIR, 'namespace'), 'utf8').trim() : undefined;
    return new LiteKubeConfig(`https://${h}:${port}`, { ca: readFileSync(join(SA_DIR, 'ca.crt')) }, { tokenFile: join(SA_DIR, 'token') }, ns);
  }

  /** A kubeconfig file's current context. Throws NeedsFullKubeConfig for exec/auth-provider/proxy users. */
  static fromFile(file: string, context?: string): LiteKubeConfig {
    return LiteKubeConfig.fromYaml(readFileSync(file, 'utf8'), dirname(file), context, file);
  }

  /** Parses kubeconfig YAML; relative file paths in it are resolved against `base`. */
  static fromYaml(text: string, base: string, context?: string, file = 'kubeconfig'): LiteKubeConfig {
    const doc = (parse(text) ?? {}) as KubeconfigFile;
    const ctxName = context ?? doc['current-context'];
    const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
    if (!ctx) throw new Error(`${file}: no context '${ctxName ?? ''}'`);
    const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
    if (!cluster?.server) throw new Error(`${file}: no cluster '${ctx.cluster}' with a server`);
    const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
    if (user.exec || user['auth-provider'] || cluster['proxy-url']) throw new NeedsFullKubeConfig('kubeconfig uses exec, auth-provider or proxy-url');
    const path = (p: string): string => (isAbsolute(p) ? p : join(base, p));
    const data = (inline?: string, f?: string): Buffer | undefined => (inline ? Buffer.from(inline, 'base64') : f ? readFileSync(path(f)) : undefined);
    return new LiteKubeConfig(
      cluster.server,
      {
        ca: data(cluster['certificate-authority-data'], cluster['certificate-authority']),
        cert: data(user['client-certificate-data'], user['client-certificate']),
        key: data(user['client-key-data'], user['client-key']),
        rejectUnauthorized: cluster['insecure-skip-tls-verify'] ? false : undefined,
        servername: cluster['tls-server-name'],
      },
      {
        token: user.token,
        tokenFile: user.tokenFile ? path(user.tokenFile) : undefined,
        basic: user.username ? `${user.username}:${user.password ?? ''}` : undefined,
        impersonate: user.as,
      },
      ctx.namespace,
    );
  }
}

/**
 * Loads the operator's kubeconfig: `file` when given; else KUBECONFIG; else in-cluster when in a
 * Pod; else ~/.kube/config. Falls back to client-node's KubeConfig where this loader cannot
 * authenticate (loaded lazily, so its memory is only paid then).
 */
export async function loadKubeConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<KubeConfigLike> {
  const fromEnv = env.KUBECONFIG;
  const chosen = file ?? (fromEnv && !fromEnv.includes(delimiter) ? fromEnv : undefined);
  const full = async (): Promise<KubeConfigLike> => {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    if (chosen) kc.loadFromFile(chosen);
    else kc.loadFromDefault();
    return kc;
  };
  try {
    if (chosen) return LiteKubeConfig.fromFile(chosen);
    if (fromEnv) return await full();
    if (env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'))) return LiteKubeConfig.fromCluster(env);
    const home = join(homedir(), '.kube', 'config');
    if (existsSync(home)) return LiteKubeConfig.fromFile(home);
    throw new Error('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster');
  } catch (e) {
    if (e instanceof NeedsFullKubeConfig) return full();
    throw e;
  }
}

/**
 * client-node's full KubeConfig from the same source as `loadKubeConfig` (for libraries built on
 * its typed APIs). Loads client-node: about 80 MB of resident memory the first time.
 */
export async function loadFullKubeConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<KubeConfig> {
  const { KubeConfig: Full } = await import('@kubernetes/client-node');
  const kc = new Full();
  const fromEnv = env.KUBECONFIG;
  if (file) kc.loadFromFile(file);
  else if (!fromEnv && env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'))) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** True when `kc` already is client-node's KubeConfig. */
export function isFullKubeConfig(kc: KubeConfigLike): kc is KubeConfig {
  return typeof (kc as { makeApiClient?: unknown }).makeApiClient === 'function';
}
