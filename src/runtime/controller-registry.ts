/**
 * Where controllers register themselves. A controller module calls `registerController(spec)`
 * when imported; `cutover operator` imports `src/controllers/index.js` (when the build has it)
 * and then runs every registered controller (or those chosen with --controllers).
 */
import type { ControllerSpec } from './controller.js';
import type { KubeObject } from './kube-client.js';

const registry = new Map<string, ControllerSpec<KubeObject>>();

export function registerController<T extends KubeObject>(spec: ControllerSpec<T>): void {
  if (registry.has(spec.name)) throw new Error(`controller '${spec.name}' is registered twice`);
  registry.set(spec.name, spec);
}

export function registeredControllers(): ControllerSpec<KubeObject>[] {
  return [...registry.values()];
}
