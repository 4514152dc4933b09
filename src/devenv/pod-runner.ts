/**
 * A stand-in for the kubelet, which the local control plane does not have.
 *
 * It polls Pods labelled `cutover.nokta.io/test-run=true`, runs the first container's command as
 * a local process (cwd = repository root, the pod's env with Secret, ConfigMap and field refs
 * resolved, `node` mapped to this Node binary) and writes the pod's status: Running while it
 * runs, then Succeeded or Failed with the exit code and the tail of its output as the
 * termination message. The real Job controller then completes or fails the Job. Pods labelled
 * `cutover.nokta.io/test-ready=true` (Deployment pods) are only marked Running and Ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { repoRoot } from './devenv-state.js';

export const RUN_LABEL = 'cutover.nokta.io/test-run';
export const READY_LABEL = 'cutover.nokta.io/test-ready';

export interface PodRun {
  namespace: string;
  name: string;
  exitCode?: number;
  output: string;
}

export interface PodRunner {
  /** Every pod this runner started, by namespace/name. */
  runs: Map<string, PodRun>;
  stop(): Promise<void>;
}

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

async function resolveEnv(
  core: k8s.CoreV1Api,
  pod: k8s.V1Pod,
  container: k8s.V1Container,
): Promise<Record<string, string>> {
  const ns = pod.metadata?.namespace ?? 'default';
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.secretRef?.name) {
      const s = await core.readNamespacedSecret({ name: from.secretRef.name, namespace: ns });
      for (const [k, v] of Object.entries(s.data ?? {}))
        env[(from.prefix ?? '') + k] = Buffer.from(v, 'base64').toString();
    }
    if (from.configMapRef?.name) {
      const c = await core.readNamespacedConfigMap({ name: from.configMapRef.name, namespace: ns });
      for (const [k, v] of Object.entries(c.data ?? {})) env[(from.prefix ?? '') + k] = v;
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => env[n] ?? m);
    } else if (e.valueFrom?.secretKeyRef) {
      const s = await core.readNamespacedSecret({ name: e.valueFrom.secretKeyRef.name ?? '', namespace: ns });
      const v = s.data?.[e.valueFrom.secretKeyRef.key];
      if (v !== undefined) env[e.name] = Buffer.from(v, 'base64').toString();
    } else if (e.valueFrom?.configMapKeyRef) {
      const c = await core.readNamespacedConfigMap({
        name: e.valueFrom.configMapKeyRef.name ?? '',
        namespace: ns,
      });
      const v = c.data?.[e.valueFrom.configMapKeyRef.key];
      if (v !== undefined) env[e.name] = v;
    } else if (e.valueFrom?.fieldRef) {
      env[e.name] = fieldValue(pod, e.valueFrom.fieldRef.fieldPath);
    }
  }
  return env;
}

function fieldValue(pod: k8s.V1Pod, path: string): string {
  const m = path.match(/^metadata\.(labels|annotations)\['(.+)'\]$/);
  if (m) return (m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[m[2] ?? ''] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    default:
      return '';
  }
}

export function startPodRunner(
  kc: k8s.KubeConfig,
  opts: { namespace?: string; pollMs?: number; extraEnv?: Record<string, string> } = {},
): PodRunner {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const runs = new Map<string, PodRun>();
  const children = new Set<ChildProcess>();
  const seen = new Set<string>();
  let stopped = false;

  const patchStatus = (pod: k8s.V1Pod, status: k8s.V1PodStatus): Promise<unknown> =>
    core
      .patchNamespacedPodStatus(
        { name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', body: { status } },
        mergePatch,
      )
      .catch(() => undefined);

  const markReady = async (pod: k8s.V1Pod): Promise<void> => {
    const now = new Date();
    const c = pod.spec?.containers[0];
    await patchStatus(pod, {
      phase: 'Running',
      startTime: now,
      podIP: '127.0.0.1',
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: now },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
      ],
      containerStatuses: c
        ? [
            {
              name: c.name,
              ready: true,
              restartCount: 0,
              image: c.image ?? '',
              imageID: '',
              started: true,
              state: { running: { startedAt: now } },
            },
          ]
        : [],
    });
  };

  const run = async (pod: k8s.V1Pod): Promise<void> => {
    const c = pod.spec?.containers[0];
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const record: PodRun = { namespace: ns, name, output: '' };
    runs.set(`${ns}/${name}`, record);
    const started = new Date();
    const fail = async (message: string, exitCode: number): Promise<void> => {
      record.exitCode = exitCode;
      await patchStatus(pod, {
        phase: 'Failed',
        startTime: started,
        containerStatuses: c
          ? [
              {
                name: c.name,
                ready: false,
                restartCount: 0,
                image: c.image ?? '',
                imageID: '',
                state: {
                  terminated: {
                    exitCode,
                    reason: 'Error',
                    message,
                    startedAt: started,
                    finishedAt: new Date(),
                  },
                },
              },
            ]
          : [],
      });
    };
    if (!c || !(c.command ?? c.args)) return fail('test pod runner: the first container has no command', 128);
    let env: Record<string, string>;
    try {
      env = await resolveEnv(core, pod, c);
    } catch (e) {
      return fail(`test pod runner: cannot resolve env: ${e instanceof Error ? e.message : String(e)}`, 128);
    }
    // As the kubelet does: $(VAR) in command and args expands from the container's env.
    const argv = [...(c.command ?? []), ...(c.args ?? [])].map((a) =>
      a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => env[n] ?? m),
    );
    const bin = argv[0] === 'node' ? process.execPath : (argv[0] ?? '');
    const child = spawn(bin, argv.slice(1), {
      cwd: repoRoot(),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        ...opts.extraEnv,
        ...env,
        HOSTNAME: name,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const collect = (b: Buffer): void => {
      record.output = (record.output + b.toString()).slice(-64 * 1024);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    // Listen for the exit before any await: a process that ends during the Running patch must
    // still be seen to finish.
    const exitCode = new Promise<number>((resolve) => {
      child.once('exit', (exit, signal) => resolve(exit ?? (signal ? 137 : 1)));
      child.once('error', () => resolve(127));
    });
    await patchStatus(pod, {
      phase: 'Running',
      startTime: started,
      podIP: '127.0.0.1',
      containerStatuses: [
        {
          name: c.name,
          ready: true,
          restartCount: 0,
          image: c.image ?? '',
          imageID: '',
          started: true,
          state: { running: { startedAt: started } },
        },
      ],
    });
    const code = await exitCode;
    children.delete(child);
    record.exitCode = code;
    if (stopped) return;
    const finished = new Date();
    await patchStatus(pod, {
      phase: code === 0 ? 'Succeeded' : 'Failed',
      startTime: started,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          lastTransitionTime: finished,
          reason: code === 0 ? 'PodCompleted' : 'PodFailed',
        },
      ],
      containerStatuses: [
        {
          name: c.name,
          ready: false,
          restartCount: 0,
          image: c.image ?? '',
          imageID: '',
          state: {
            terminated: {
              exitCode: code,
              reason: code === 0 ? 'Completed' : 'Error',
              message: code === 0 ? undefined : record.output.slice(-4096),
              startedAt: started,
              finishedAt: finished,
            },
          },
        },
      ],
    });
  };

  const poll = async (): Promise<void> => {
    const selector = `${RUN_LABEL}=true`;
    for (const [label, handler] of [
      [selector, run],
      [`${READY_LABEL}=true`, markReady],
    ] as const) {
      const list = opts.namespace
        ? await core.listNamespacedPod({ namespace: opts.namespace, labelSelector: label })
        : await core.listPodForAllNamespaces({ labelSelector: label });
      for (const pod of list.items) {
        const uid = pod.metadata?.uid ?? '';
        if (seen.has(uid) || pod.metadata?.deletionTimestamp) continue;
        if (pod.status?.phase && pod.status.phase !== 'Pending') continue;
        seen.add(uid);
        void handler(pod);
      }
    }
  };

  const loop = (async () => {
    while (!stopped) {
      await poll().catch(() => undefined);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
    }
  })();

  return {
    runs,
    async stop() {
      stopped = true;
      for (const c of children) c.kill('SIGKILL');
      await loop;
    },
  };
}
