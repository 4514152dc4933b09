/**
 * TEST SUPPORT ONLY: runs one actuator call in a process of its own and kills that process with
 * SIGKILL right after a chosen write (`crashAt`, matched against the end of the actuator's
 * `onWrite` step name) — a real crash mid-change: no exception handler, no finally block, open
 * connections cut. The crash tests of the actuators then check what the killed call left and that
 * a new call finishes the change.
 *
 *   node dist/test/support/actuator-child.js '<json Action>'
 *
 * Kubernetes actions use $KUBECONFIG (the tests pass the operator's ServiceAccount).
 */
import type { FreezeRecord, FreezeTarget, TrafficDesired, TrafficTarget } from '../../src/actuators/types.js';

export type Action =
  | { kind: 'scale'; namespace: string; name: string; replicas: number; crashAt: string }
  | { kind: 'traffic'; targets: TrafficTarget[]; desired: TrafficDesired; crashAt: string }
  | { kind: 'freeze'; target: FreezeTarget; recordTable: string; crashAt: string }
  | { kind: 'lift'; target: FreezeTarget; record: FreezeRecord; recordTable: string; crashAt: string };

/** Exit code of a child whose call finished without reaching `crashAt` (a test setup error). */
export const NO_CRASH_EXIT = 3;

async function main(action: Action): Promise<void> {
  const onWrite = (step: string): void => {
    // SIGKILL to itself ends the process before kill() returns: nothing after the write runs.
    if (step === action.crashAt || step.endsWith(`/${action.crashAt}`)) process.kill(process.pid, 'SIGKILL');
  };
  if (action.kind === 'scale' || action.kind === 'traffic') {
    const { KubeClient } = await import('../../src/runtime/kube-client.js');
    const { loadKubeConfig } = await import('../../src/runtime/kubeconfig.js');
    const client = new KubeClient(await loadKubeConfig());
    if (action.kind === 'scale') {
      const { DeploymentActuator } = await import('../../src/actuators/workloads/deployments.js');
      await new DeploymentActuator(client, { onWrite }).scaleDeployment(
        action.namespace,
        action.name,
        action.replicas,
      );
    } else {
      const { TrafficActuator } = await import('../../src/actuators/traffic/traffic.js');
      await new TrafficActuator(client, { onWrite }).applyAll(action.targets, action.desired);
    }
  } else {
    const { freezeLegacy, liftLegacyFreeze } = await import('../../src/actuators/freeze/legacy-freeze.js');
    if (action.kind === 'freeze')
      await freezeLegacy(action.target, { recordTable: action.recordTable, onWrite });
    else await liftLegacyFreeze(action.target, action.record, { recordTable: action.recordTable, onWrite });
  }
  process.exitCode = NO_CRASH_EXIT;
}

main(JSON.parse(process.argv[2] ?? '{}') as Action).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
