/**
 * A real Kubernetes control plane on loopback, started the way controller-runtime's envtest
 * does: etcd, kube-apiserver with generated certificates, ServiceAccount signing keys and RBAC
 * authorization, and kube-controller-manager so that Jobs, ReplicaSets, ServiceAccounts and
 * garbage collection behave as in a cluster. There is no kubelet and no scheduler.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPki, b64File, type Pki } from './certs.js';
import { kubeconfigYaml } from './kubeconfig.js';
import { freePort, startProcess, stopProcess, waitFor, type ManagedProcess } from './processes.js';
import { readDevenvState, type DevenvState } from './devenv-state.js';

export interface ControlPlaneOptions {
  /** Folder for data, certificates, logs and the kubeconfig; a temporary one when absent. */
  dir?: string;
  /** Leave the processes running after this Node process exits (for `npm run cluster:up`). */
  detached?: boolean;
  /** Extra kube-apiserver flags, e.g. `--watch-cache=false`. */
  apiServerFlags?: string[];
}

export interface ControlPlaneState {
  dir: string;
  server: string;
  kubeconfigPath: string;
  etcdUrl: string;
  pids: Record<string, number>;
}

function httpsGet(url: string, pki: Pki): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

function httpPostJson(url: string, payload: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(payload);
    const req = http.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' }, timeout: 5000 },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300)
            return reject(new Error(`${url}: HTTP ${res.statusCode}: ${body}`));
          resolve(JSON.parse(body || '{}') as Record<string, unknown>);
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

export class LocalControlPlane {
  readonly dir: string;
  readonly kubeconfigPath: string;
  private readonly env: DevenvState;
  private readonly detached: boolean;
  private readonly extraApiFlags: string[];
  private pki?: Pki;
  private etcdPort = 0;
  private apiPort = 0;
  private etcd?: ManagedProcess;
  private apiserver?: ManagedProcess;
  private kcm?: ManagedProcess;

  constructor(opts: ControlPlaneOptions = {}) {
    this.env = readDevenvState();
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'cutover-cp-'));
    mkdirSync(this.dir, { recursive: true });
    this.kubeconfigPath = join(this.dir, 'kubeconfig');
    this.detached = opts.detached ?? false;
    this.extraApiFlags = opts.apiServerFlags ?? [];
  }

  get server(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  get etcdUrl(): string {
    return `http://127.0.0.1:${this.etcdPort}`;
  }

  get binDir(): string {
    return this.env.binDir;
  }

  get kubectlPath(): string {
    return join(this.env.binDir, 'kubectl');
  }

  get gatewayApiCrdDir(): string {
    return this.env.gatewayApiCrdDir;
  }

  get caCertPath(): string {
    if (!this.pki) throw new Error('control plane not started');
    return this.pki.caCert;
  }

  async start(): Promise<void> {
    mkdirSync(join(this.dir, 'pki'), { recursive: true });
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    this.pki = createPki(join(this.dir, 'pki'));
    this.etcdPort = await freePort();
    this.apiPort = await freePort();
    await this.startEtcd();
    await this.startApiServer();
    writeFileSync(
      this.kubeconfigPath,
      kubeconfigYaml({
        server: this.server,
        caData: b64File(this.pki.caCert),
        user: {
          clientCertificateData: b64File(this.pki.adminCert),
          clientKeyData: b64File(this.pki.adminKey),
        },
      }),
      { mode: 0o600 },
    );
    await this.startControllerManager();
  }

  private async startEtcd(): Promise<void> {
    const peerPort = await freePort();
    this.etcd = startProcess(
      'etcd',
      join(this.env.binDir, 'etcd'),
      [
        '--name=local',
        `--data-dir=${join(this.dir, 'etcd')}`,
        `--listen-client-urls=${this.etcdUrl}`,
        `--advertise-client-urls=${this.etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=local=http://127.0.0.1:${peerPort}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      join(this.dir, 'logs', 'etcd.log'),
      { detached: this.detached },
    );
    await waitFor(
      'etcd health',
      () =>
        new Promise<true | undefined>((resolve) => {
          http
            .get(`${this.etcdUrl}/health`, (res) => resolve(res.statusCode === 200 ? true : undefined))
            .on('error', () => resolve(undefined));
        }),
      30_000,
    );
  }

  /** Starts kube-apiserver (again, after `stopApiServer`, on the same port). */
  async startApiServer(): Promise<void> {
    const pki = this.pki;
    if (!pki) throw new Error('control plane not started');
    this.apiserver = startProcess(
      'kube-apiserver',
      join(this.env.binDir, 'kube-apiserver'),
      [
        `--etcd-servers=${this.etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${this.apiPort}`,
        `--cert-dir=${pki.dir}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        '--authorization-mode=RBAC',
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--enable-priority-and-fairness=false',
        '--profiling=false',
        '--v=0',
        ...this.extraApiFlags,
      ],
      join(this.dir, 'logs', 'kube-apiserver.log'),
      { detached: this.detached },
    );
    const exited = this.apiserver.exited.then((code) => {
      throw new Error(
        `kube-apiserver exited with code ${code}; see ${join(this.dir, 'logs', 'kube-apiserver.log')}`,
      );
    });
    await Promise.race([
      waitFor(
        'kube-apiserver /readyz',
        async () => ((await httpsGet(`${this.server}/readyz`, pki)).status === 200 ? true : undefined),
        90_000,
        250,
      ),
      exited,
    ]);
    exited.catch(() => undefined);
  }

  async stopApiServer(): Promise<void> {
    if (this.apiserver) await stopProcess(this.apiserver);
    this.apiserver = undefined;
  }

  async restartApiServer(): Promise<void> {
    await this.stopApiServer();
    await this.startApiServer();
  }

  private async startControllerManager(): Promise<void> {
    const pki = this.pki;
    if (!pki) throw new Error('control plane not started');
    this.kcm = startProcess(
      'kube-controller-manager',
      join(this.env.binDir, 'kube-controller-manager'),
      [
        `--kubeconfig=${this.kubeconfigPath}`,
        `--service-account-private-key-file=${pki.saKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        '--use-service-account-credentials=true',
        '--leader-elect=false',
        '--secure-port=0',
        '--concurrent-job-syncs=10',
        '--v=0',
      ],
      join(this.dir, 'logs', 'kube-controller-manager.log'),
      { detached: this.detached },
    );
  }

  /** Compacts etcd's history up to its current revision, so older resourceVersions are gone. */
  async compactEtcd(): Promise<number> {
    const range = await httpPostJson(`${this.etcdUrl}/v3/kv/range`, {
      key: Buffer.from('/').toString('base64'),
      limit: 1,
    });
    const header = range.header as { revision?: string } | undefined;
    const revision = Number(header?.revision ?? 0);
    await httpPostJson(`${this.etcdUrl}/v3/kv/compaction`, { revision: String(revision), physical: true });
    return revision;
  }

  state(): ControlPlaneState {
    const pids: Record<string, number> = {};
    for (const p of [this.etcd, this.apiserver, this.kcm]) if (p?.child.pid) pids[p.name] = p.child.pid;
    return {
      dir: this.dir,
      server: this.server,
      kubeconfigPath: this.kubeconfigPath,
      etcdUrl: this.etcdUrl,
      pids,
    };
  }

  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    if (this.kcm) await stopProcess(this.kcm);
    await this.stopApiServer();
    if (this.etcd) await stopProcess(this.etcd);
    this.kcm = this.etcd = undefined;
    if (!opts.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Kills every process at once, synchronously; for process exit handlers. */
  killNow(): void {
    for (const p of [this.kcm, this.apiserver, this.etcd]) {
      if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  }
}
