/** Helpers shared by the runtime integration tests: the Widget CRD and small waits. */
import { join } from 'node:path';
import type { TestCluster } from '../../support/cluster.js';
import type { PolicyRule } from '../../support/operator-identity.js';
import { repoRoot } from '../../../src/devenv/devenv-state.js';
import { sleep } from '../../support/wait-for.js';

export { sleep, waitFor } from '../../support/wait-for.js';

export const WIDGET_CRD = join(repoRoot(), 'test', 'fixtures', 'runtime', 'widget-crd.yaml');

/**
 * What the operator's role would grant a controller of the test Widget kind (added per test
 * namespace on top of deploy/operator/rbac.yaml: the Widget is not one of the operator's kinds).
 */
export const WIDGET_RULES: PolicyRule[] = [
  {
    apiGroups: ['test.cutover.nokta.io'],
    resources: ['widgets'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  { apiGroups: ['test.cutover.nokta.io'], resources: ['widgets/status'], verbs: ['update'] },
];

let applied: Promise<void> | undefined;

/** Applies the Widget CRD once per test process and waits until it is served. */
export function applyWidgetCrd(cluster: TestCluster): Promise<void> {
  applied ??= (async () => {
    const r = await cluster.kubectl(['apply', '-f', WIDGET_CRD]);
    if (r.code !== 0) throw new Error(`applying the Widget CRD failed: ${r.stderr}`);
    const w = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      '-f',
      WIDGET_CRD,
    ]);
    if (w.code !== 0) throw new Error(`the Widget CRD is not established: ${w.stderr}`);
    // Established does not mean the API group is served yet by discovery-less clients; probe it.
    const end = Date.now() + 30_000;
    for (;;) {
      const g = await cluster.kubectl(['get', 'widgets.test.cutover.nokta.io', '-A', '-o', 'name']);
      if (g.code === 0) return;
      if (Date.now() > end) throw new Error(`widgets are not served: ${g.stderr}`);
      await sleep(200);
    }
  })();
  return applied;
}
