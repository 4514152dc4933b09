/**
 * A light kubeconfig loader for the operator process and the CLI.
 *
 * Importing `@kubernetes/client-node`'s KubeConfig pulls in its whole generated API (~80 MB of
 * resident memory), more than the operator itself needs. This loader covers what operators use —
 * in-cluster ServiceAccount tokens (re-read as the kubelet rotates them), kubeconfig files with
 * client certificates, tokens, token files, basic auth, CA data, insecure-skip-tls-verify,
 * tls-server-name and proxy-url, several files in KUBECONFIG merged the way kubectl merges them,
 * and a chosen context (`--context`) — and falls back to client-node's KubeConfig only for exec
 * plugins and auth-providers.
 *
 * Both satisfy `KubeConfigLike`, which is all `KubeClient` needs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeConfigLike {
  /** `proxyUrl`: the cluster entry's proxy-url (client-node's Cluster has it too). */
  getCurrentCluster(): { server: string; proxyUrl?: string } | null;
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
  exec?: { command?: string; [k: string]: unknown };
  'auth-provider'?: unknown;
  as?: string;
}

interface KubeconfigFile {
  clusters?: Array<{ name: string; cluster: ClusterEntry }> | null;
  users?: Array<{ name: string; user: UserEntry }> | null;
  contexts?: Array<{ name: string; context: { cluster: string; user: string; namespace?: string } }> | null;
  'current-context'?: string;
  [k: string]: unknown;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Thrown when the kubeconfig needs client-node's full loader. */
export class NeedsFullKubeConfig extends Error {}

export class LiteKubeConfig implements KubeConfigLike {
  private tokenCache: { value: string; readAt: number; mtimeMs: number } | undefined;

  private constructor(
    private readonly server: string,
    private readonly tls: {
      ca?: Buffer;
      cert?: Buffer;
      key?: Buffer;
      rejectUnauthorized?: boolean;
      servername?: string;
    },
    private readonly auth: { token?: string; tokenFile?: string; basic?: string; impersonate?: string },
    readonly namespace: string | undefined,
    private readonly proxyUrl?: string,
  ) {}

  getCurrentCluster(): { server: string; proxyUrl?: string } {
    return this.proxyUrl ? { server: this.server, proxyUrl: this.proxyUrl } : { server: this.server };
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
    const ns = existsSync(join(SA_DIR, 'namespace'))
      ? readFileSync(join(SA_DIR, 'namespace'), 'utf8').trim()
      : undefined;
    return new LiteKubeConfig(
      `https://${h}:${port}`,
      { ca: readFileSync(join(SA_DIR, 'ca.crt')) },
      { tokenFile: join(SA_DIR, 'token') },
      ns,
    );
  }

  /**
   * The chosen context (else current-context) of one kubeconfig file, or of several merged as
   * kubectl merges them. Throws NeedsFullKubeConfig for exec and auth-provider users.
   */
  static fromFile(file: string | string[], context?: string): LiteKubeConfig {
    const files = typeof file === 'string' ? [file] : file;
    if (files.length === 1)
      return LiteKubeConfig.fromYaml(readFileSync(files[0]!, 'utf8'), dirname(files[0]!), context, files[0]);
    return LiteKubeConfig.fromDocument(mergeKubeconfigFiles(files), context, files.join(delimiter));
  }

  /** Parses kubeconfig YAML; relative file paths in it are resolved against `base`. */
  static fromYaml(text: string, base: string, context?: string, file = 'kubeconfig'): LiteKubeConfig {
    return LiteKubeConfig.fromDocument(
      absolutePaths((parse(text) ?? {}) as KubeconfigFile, base),
      context,
      file,
    );
  }

  private static fromDocument(
    doc: KubeconfigFile,
    context: string | undefined,
    file: string,
  ): LiteKubeConfig {
    const ctxName = context ?? doc['current-context'];
    const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
    if (!ctx) {
      const known = (doc.contexts ?? []).map((c) => c.name);
      throw new Error(
        `${file}: no context '${ctxName ?? ''}'${known.length ? ` (contexts: ${known.join(', ')})` : ''}`,
      );
    }
    const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
    if (!cluster?.server) throw new Error(`${file}: no cluster '${ctx.cluster}' with a server`);
    const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
    if (user.exec || user['auth-provider'])
      throw new NeedsFullKubeConfig('kubeconfig uses exec or auth-provider');
    const proxyUrl = cluster['proxy-url'];
    if (proxyUrl && !/^https?:\/\//i.test(proxyUrl))
      throw new Error(
        `${file}: proxy-url '${proxyUrl}' is not supported: use an http:// or https:// proxy (HTTP CONNECT)`,
      );
    const data = (inline?: string, f?: string): Buffer | undefined =>
      inline ? Buffer.from(inline, 'base64') : f ? readFileSync(f) : undefined;
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
        tokenFile: user.tokenFile,
        basic: user.username ? `${user.username}:${user.password ?? ''}` : undefined,
        impersonate: user.as,
      },
      ctx.namespace,
      proxyUrl,
    );
  }
}

/** The entry's file paths made absolute against the directory of the file it came from (kubectl's ResolvePaths). */
function absolutePaths(doc: KubeconfigFile, base: string): KubeconfigFile {
  const abs = (p: string | undefined): string | undefined => (p && !isAbsolute(p) ? resolve(base, p) : p);
  const out: KubeconfigFile = { ...doc };
  if (doc.clusters)
    out.clusters = doc.clusters.map((c) => ({
      ...c,
      cluster: { ...c.cluster, 'certificate-authority': abs(c.cluster?.['certificate-authority']) },
    }));
  if (doc.users) {
    out.users = doc.users.map((u) => {
      const user: UserEntry = {
        ...u.user,
        'client-certificate': abs(u.user?.['client-certificate']),
        'client-key': abs(u.user?.['client-key']),
        tokenFile: abs(u.user?.tokenFile),
      };
      // an exec command with a path in it is relative to the kubeconfig file, as in kubectl
      if (user.exec?.command && /[\\/]/.test(user.exec.command))
        user.exec = { ...user.exec, command: abs(user.exec.command) };
      for (const k of ['client-certificate', 'client-key', 'tokenFile'] as const)
        if (user[k] === undefined) delete user[k];
      return { ...u, user };
    });
  }
  for (const c of out.clusters ?? [])
    if (c.cluster['certificate-authority'] === undefined) delete c.cluster['certificate-authority'];
  return out;
}

/**
 * Several kubeconfig files merged as kubectl merges KUBECONFIG=a:b: files that do not exist are
 * skipped; the first file to name a cluster, user or context wins it; the first current-context
 * set wins; paths are resolved against the file that holds them.
 */
export function mergeKubeconfigFiles(files: string[]): KubeconfigFile {
  const merged: KubeconfigFile & {
    clusters: NonNullable<KubeconfigFile['clusters']>;
    users: NonNullable<KubeconfigFile['users']>;
    contexts: NonNullable<KubeconfigFile['contexts']>;
  } = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [],
    users: [],
    contexts: [],
  };
  let read = 0;
  for (const file of files) {
    if (!file || !existsSync(file)) continue;
    read++;
    const doc = absolutePaths(
      (parse(readFileSync(file, 'utf8')) ?? {}) as KubeconfigFile,
      dirname(resolve(file)),
    );
    if (!merged['current-context'] && doc['current-context'])
      merged['current-context'] = doc['current-context'];
    for (const c of doc.clusters ?? [])
      if (!merged.clusters.some((x) => x.name === c.name)) merged.clusters.push(c);
    for (const u of doc.users ?? []) if (!merged.users.some((x) => x.name === u.name)) merged.users.push(u);
    for (const c of doc.contexts ?? [])
      if (!merged.contexts.some((x) => x.name === c.name)) merged.contexts.push(c);
  }
  if (read === 0) throw new Error(`none of the kubeconfig files exists: ${files.join(delimiter)}`);
  return merged;
}

/** `a:b` (the path separator of the platform) → ['a', 'b']. */
function splitPaths(list: string): string[] {
  return list.split(delimiter).filter(Boolean);
}

export interface KubeConfigChoice {
  /** kubeconfig context to use instead of the file's current-context (`--context`). */
  context?: string | undefined;
}

/** Where the kubeconfig comes from: files (one or several), or in-cluster. */
function kubeconfigSource(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  choice: KubeConfigChoice,
): { files: string[] } | { inCluster: true } {
  if (file) return { files: splitPaths(file) };
  if (env.KUBECONFIG) return { files: splitPaths(env.KUBECONFIG) };
  if (!choice.context && env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token')))
    return { inCluster: true };
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return { files: [home] };
  throw new Error('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster');
}

/**
 * Loads the kubeconfig: `file` when given (several joined with the path separator are merged);
 * else KUBECONFIG (idem); else in-cluster when in a Pod; else ~/.kube/config. `choice.context`
 * picks a context. Falls back to client-node's KubeConfig where this loader cannot authenticate
 * (exec plugins, auth-providers; loaded lazily, so its memory is only paid then).
 */
export async function loadKubeConfig(
  file?: string,
  env: NodeJS.ProcessEnv = process.env,
  choice: KubeConfigChoice = {},
): Promise<KubeConfigLike> {
  const source = kubeconfigSource(file, env, choice);
  if ('inCluster' in source) return LiteKubeConfig.fromCluster(env);
  if (file && source.files.length === 1 && !existsSync(source.files[0]!))
    throw new Error(`kubeconfig ${source.files[0]!} does not exist`);
  try {
    return LiteKubeConfig.fromFile(source.files, choice.context);
  } catch (e) {
    if (e instanceof NeedsFullKubeConfig) return loadFullKubeConfig(file, env, choice);
    throw e;
  }
}

/**
 * client-node's full KubeConfig from the same source as `loadKubeConfig` (for libraries built on
 * its typed APIs, and for exec plugins and auth-providers). Loads client-node: about 80 MB of
 * resident memory the first time.
 */
export async function loadFullKubeConfig(
  file?: string,
  env: NodeJS.ProcessEnv = process.env,
  choice: KubeConfigChoice = {},
): Promise<KubeConfig> {
  const { KubeConfig: Full } = await import('@kubernetes/client-node');
  const kc = new Full();
  const source = kubeconfigSource(file, env, choice);
  if ('inCluster' in source) kc.loadFromCluster();
  else
    kc.loadFromString(
      stringify(
        source.files.length === 1
          ? absolutePaths(
              (parse(readFileSync(source.files[0]!, 'utf8')) ?? {}) as KubeconfigFile,
              dirname(resolve(source.files[0]!)),
            )
          : mergeKubeconfigFiles(source.files),
      ),
    );
  if (choice.context) kc.setCurrentContext(choice.context);
  return kc;
}

/** True when `kc` already is client-node's KubeConfig. */
export function isFullKubeConfig(kc: KubeConfigLike): kc is KubeConfig {
  return typeof (kc as { makeApiClient?: unknown }).makeApiClient === 'function';
}
