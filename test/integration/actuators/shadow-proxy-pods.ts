/**
 * TEST SUPPORT ONLY (shadow-proxy tests): the local control plane has no kubelet, so the test
 * plays it for the proxy's pods: it waits for the ReplicaSet controller's pods of a Deployment and
 * writes them Running and Ready; the real Deployment controller then counts an available replica.
 * The proxy process itself is run by the test on the loopback when traffic has to go through it.
 */
import * as k8s from '@kubernetes/client-node';

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export async function markProxyPodsReady(
  kc: k8s.KubeConfig,
  namespace: string,
  deployment: string,
  timeoutMs = 60_000,
): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const pods = await core.listNamespacedPod({
      namespace,
      labelSelector: `app.kubernetes.io/instance=${deployment}`,
    });
    for (const pod of pods.items) {
      const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      if (ready) continue;
      const now = new Date();
      const c = pod.spec!.containers[0]!;
      await core.patchNamespacedPodStatus(
        {
          name: pod.metadata!.name!,
          namespace,
          body: {
            status: {
              phase: 'Running',
              startTime: now,
              podIP: '127.0.0.1',
              conditions: [
                { type: 'Ready', status: 'True', lastTransitionTime: now },
                { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
              ],
              containerStatuses: [
                {
                  name: c.name,
                  ready: true,
                  restartCount: 0,
                  image: c.image ?? '',
                  imageID: '',
                  started: true,
                  state: { running: { startedAt: now } },
                },
              ],
            },
          },
        },
        mergePatch,
      );
    }
    const d = await apps.readNamespacedDeployment({ name: deployment, namespace });
    if ((d.status?.availableReplicas ?? 0) >= 1) return;
    if (Date.now() > until) throw new Error(`Deployment ${namespace}/${deployment} did not become available`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
