/**
 * The Kubernetes cluster the tests use: a LocalControlPlane started once per test process (and
 * stopped by the mocha global teardown in hooks.ts), or the cluster `KUBECONFIG` points at.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { LocalControlPlane } from '../../src/devenv/control-plane.js';
import { kubeconfigYaml } from '../../src/devenv/kubeconfig.js';
import { waitFor } from '../../src/devenv/processes.js';
import { readDevenvState, repoRoot } from '../../src/devenv/devenv-state.js';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestCluster {
  kc: k8s.KubeConfig;
  kubeconfigPath: string;
  /** Runs kubectl against this cluster; never throws on a non-zero exit. */
  kubectl(args: string[], opts?: { input?: string; kubeconfig?: string }): Promise<KubectlResult>;
  /** Creates a namespace with a unique name and waits for its default ServiceAccount. */
  createNamespace(prefix: string): Promise<string>;
  deleteNamespace(name: string): Promise<void>;
  /** A kubeconfig that authenticates as `serviceAccount` in `namespace` (created if missing) with a bound token. */
  restrictedKubeconfig(namespace: string, serviceAccount: string): Promise<string>;
  /** Applies the operator's CRDs from crds/ and waits until they are established. */
  applyCrds(): Promise<void>;
  /** Applies the Gateway API standard-channel CRDs (HTTPRoute, Gateway, ...). */
  applyGatewayApiCrds(): Promise<void>;
  /** Only for the local control plane; undefined with an external KUBECONFIG. */
  controlPlane?: LocalControlPlane;
  restartApiServer(): Promise<void>;
  compactEtcd(): Promise<number>;
}

let shared: Promise<TestCluster> | undefined;
let localPlane: LocalControlPlane | undefined;

export function kubectlBinary(): string {
  if (localPlane) return localPlane.kubectlPath;
  try {
    return join(readDevenvState().binDir, 'kubectl');
  } catch {
    return 'kubectl';
  }
}

function runKubectl(kubeconfig: string, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectlBinary(),
      ['--kubeconfig', kubeconfig, ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

async function build(): Promise<TestCluster> {
  let kubeconfigPath = process.env.KUBECONFIG;
  if (!kubeconfigPath) {
    localPlane = new LocalControlPlane();
    const plane = localPlane;
    process.once('exit', () => plane.killNow());
    await plane.start();
    kubeconfigPath = plane.kubeconfigPath;
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const path = kubeconfigPath;
  const kubectl = (
    args: string[],
    opts: { input?: string; kubeconfig?: string } = {},
  ): Promise<KubectlResult> => runKubectl(opts.kubeconfig ?? path, args, opts.input);

  const applyDir = async (dir: string, what: string): Promise<void> => {
    const r = await kubectl(['apply', '--server-side', '--force-conflicts', '-f', dir]);
    if (r.code !== 0) throw new Error(`applying ${what} failed: ${r.stderr}`);
    const names = readdirSync(dir).length;
    const w = await kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', dir]);
    if (w.code !== 0) throw new Error(`${what} (${names} files) not established: ${w.stderr}`);
  };

  const cluster: TestCluster = {
    kc,
    kubeconfigPath: path,
    kubectl,
    controlPlane: localPlane,
    async createNamespace(prefix: string): Promise<string> {
      const name = `${prefix
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .slice(0, 40)}-${randomBytes(3).toString('hex')}`;
      await core.createNamespace({
        body: { metadata: { name, labels: { 'cutover.nokta.io/test': 'true' } } },
      });
      // kube-controller-manager's ServiceAccount controller creates `default`; on a loaded machine
      // it can take longer than a test should wait, so after a few seconds the test creates it
      // itself, as that controller would (a 409 means the controller was first).
      const started = Date.now();
      let created = false;
      await waitFor(
        `default ServiceAccount in ${name}`,
        async () => {
          try {
            await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
            return true;
          } catch (err) {
            if (!created && Date.now() - started > 5_000) {
              created = true;
              await core
                .createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } })
                .catch(() => undefined);
            }
            throw err;
          }
        },
        30_000,
        100,
      );
      return name;
    },
    async deleteNamespace(name: string): Promise<void> {
      await core.deleteNamespace({ name }).catch(() => undefined);
    },
    async restrictedKubeconfig(namespace: string, serviceAccount: string): Promise<string> {
      await core
        .createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } })
        .catch((e: unknown) => {
          if ((e as { code?: number }).code !== 409) throw e;
        });
      const tr = await core.createNamespacedServiceAccountToken({
        name: serviceAccount,
        namespace,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      });
      const token = tr.status?.token;
      if (!token) throw new Error('TokenRequest returned no token');
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new Error('kubeconfig has no current cluster');
      const caData =
        cluster.caData ??
        (cluster.caFile ? (await import('node:fs')).readFileSync(cluster.caFile).toString('base64') : '');
      const file = join(mkdtempSync(join(tmpdir(), 'cutover-sa-')), 'kubeconfig');
      writeFileSync(
        file,
        kubeconfigYaml({
          server: cluster.server,
          caData,
          user: { token },
          namespace,
          name: `${namespace}-${serviceAccount}`,
        }),
        { mode: 0o600 },
      );
      return file;
    },
    async applyCrds(): Promise<void> {
      await applyDir(join(repoRoot(), 'crds'), "the operator's CRDs");
    },
    async applyGatewayApiCrds(): Promise<void> {
      await applyDir(readDevenvState().gatewayApiCrdDir, 'the Gateway API CRDs');
    },
    async restartApiServer(): Promise<void> {
      if (!localPlane) throw new Error('restartApiServer needs the local control plane (unset KUBECONFIG)');
      await localPlane.restartApiServer();
    },
    async compactEtcd(): Promise<number> {
      if (!localPlane) throw new Error('compactEtcd needs the local control plane (unset KUBECONFIG)');
      return localPlane.compactEtcd();
    },
  };
  return cluster;
}

/** The shared cluster of this test process, started on first use. */
export function useCluster(): Promise<TestCluster> {
  shared ??= build();
  return shared;
}

/** Stops the local control plane if this process started one. */
export async function stopSharedCluster(): Promise<void> {
  if (localPlane) await localPlane.stop();
  localPlane = undefined;
  shared = undefined;
}
