/**
 * TEST SUPPORT ONLY: records every Kubernetes request the operator's code makes during the test
 * suites — through the clients tests give to actuators and controllers (`operatorClient`) and, for
 * operator processes, from their own `cutover_api_requests_total` — and checks each one against
 * the usage declared next to the code (src/runtime/api-usage.ts), which the role in
 * deploy/operator/rbac.yaml is compared with. A request the declaration does not cover, or one
 * the API server refused with 403, is a violation; the root hook in hooks.ts fails the run on any.
 */
import {
  controllerApiUsage,
  RUNTIME_API_USAGE,
  usageKeys,
  type ApiUse,
} from '../../src/runtime/api-usage.js';
import { ACTUATORS_API_USAGE } from '../../src/actuators/api-usage.js';
import { registeredControllers } from '../../src/runtime/controller-registry.js';
import { KubeClient, type RequestInfo } from '../../src/runtime/kube-client.js';
import { loadKubeConfig } from '../../src/runtime/kubeconfig.js';
import { CUTOVER, CANARY_PHASE, RECONCILIATION } from '../../src/controllers/kinds.js';
import * as builtin from '../../src/runtime/resources.js';
import '../../src/controllers/index.js';
import type { TestCluster } from './cluster.js';
import { operatorIdentity, type PolicyRule } from './operator-identity.js';
import type { OperatorProcess } from './operator-process.js';

/** The operator's declared usage: runtime, every registered controller, every actuator. */
export function declaredUsage(): ApiUse[] {
  const controllers = registeredControllers().flatMap((s) => controllerApiUsage(s));
  return [...RUNTIME_API_USAGE, ...controllers, ...ACTUATORS_API_USAGE];
}

const VERBS: Record<string, string> = {
  GET: 'get',
  LIST: 'list',
  WATCH: 'watch',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};
/** Test-only kinds the runtime tests grant themselves (not the operator's). */
const TEST_GROUPS = new Set(['test.cutover.nokta.io']);
const TEST_PLURALS = new Set(['widgets']);

const seen = new Map<string, Set<string>>();
const violations = new Set<string>();
let declared: Set<string> | undefined;

/** `group|resource|verb|scope` of a request path. */
export function requestKey(verb: string, path: string): { key: string; group: string } | undefined {
  const parts = path.split('/').filter(Boolean);
  let i: number;
  let group: string;
  if (parts[0] === 'api') {
    group = '';
    i = 2;
  } else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    i = 3;
  } else return undefined;
  if (parts[i] === 'namespaces' && parts.length > i + 2) i += 2;
  const plural = parts[i] ?? '';
  const sub = parts[i + 2];
  const v = VERBS[verb];
  if (!v) return undefined;
  const resource = sub ? `${plural}/${sub}` : plural;
  const scope = group === 'coordination.k8s.io' && plural === 'leases' ? 'leader-election' : 'cluster';
  return { key: `${group}|${resource}|${v}|${scope}`, group };
}

/** Records one request of `component` (e.g. `actuators/traffic`). */
export function recordRequest(component: string, verb: string, path: string, code: number): void {
  const k = requestKey(verb, path);
  if (!k || TEST_GROUPS.has(k.group)) return;
  declared ??= usageKeys(declaredUsage());
  const set = seen.get(k.key) ?? new Set<string>();
  set.add(component);
  seen.set(k.key, set);
  if (!declared.has(k.key))
    violations.add(
      `${component}: ${k.key.replace(/\|/g, ' ')} is not declared (src/runtime/api-usage.ts, ControllerSpec.uses, an actuator's apiUsage)`,
    );
  if (code === 403)
    violations.add(
      `${component}: ${k.key.replace(/\|/g, ' ')} was refused (403): deploy/operator/rbac.yaml lacks it`,
    );
}

export function recordingOptions(component: string): { onRequest: (r: RequestInfo) => void } {
  return { onRequest: (r) => recordRequest(component, r.verb, r.path, r.code) };
}

/**
 * A KubeClient authenticated as the operator's ServiceAccount (deploy/operator/rbac.yaml applied
 * for `namespace`), whose requests are recorded for `component`.
 */
export async function operatorClient(
  cluster: TestCluster,
  namespace: string,
  component: string,
  opts: { extraRules?: PolicyRule[] } = {},
): Promise<{ client: KubeClient; kubeconfig: string }> {
  const id = await operatorIdentity(cluster, namespace, opts);
  return {
    client: new KubeClient(await loadKubeConfig(id.kubeconfig), recordingOptions(component)),
    kubeconfig: id.kubeconfig,
  };
}

/** The REST path prefix of a plural the operator uses (its metric labels carry no group). */
const PATHS = new Map<string, string>(
  [...Object.values(builtin), CUTOVER, CANARY_PHASE, RECONCILIATION].map((rt) => [
    rt.plural,
    rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`,
  ]),
);

/** Records what an operator's own metrics say it requested (call before it exits; `follow` polls). */
export async function recordOperatorMetrics(
  component: string,
  port: number,
  counted: Map<string, number>,
): Promise<void> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const m of text.matchAll(
    /^cutover_api_requests_total\{verb="([^"]+)",resource="([^"]+)",code="(\d+)"\} (\d+)/gm,
  )) {
    const [, verb = '', resource = '', code = '0', n = '0'] = m;
    const id = `${verb} ${resource} ${code}`;
    if ((counted.get(id) ?? 0) >= Number(n)) continue;
    counted.set(id, Number(n));
    const [plural = '', sub] = resource.split('/');
    const prefix = PATHS.get(plural);
    if (!prefix) {
      if (!TEST_PLURALS.has(plural))
        violations.add(`${component}: requests to '${resource}', a kind the operator does not declare`);
      continue;
    }
    const named =
      verb === 'GET' || verb === 'PUT' || verb === 'PATCH' || verb === 'DELETE' || sub !== undefined;
    recordRequest(
      component,
      verb,
      `${prefix}/${plural}${named ? '/x' : ''}${sub ? `/${sub}` : ''}`,
      Number(code),
    );
  }
}

/** Follows an operator process's metrics every 500 ms until it exits, recording its requests. */
export function followOperator(component: string, op: OperatorProcess): void {
  const counted = new Map<string, number>();
  const timer = setInterval(() => {
    const port = op.port();
    if (port !== undefined) void recordOperatorMetrics(component, port, counted).catch(() => undefined);
  }, 500);
  timer.unref();
  void op.exited().then(() => clearInterval(timer));
}

export function usageViolations(): string[] {
  return [...violations];
}

/** Declared usage no recorded request exercised in this run (for information). */
export function unexercised(): string[] {
  const all = [...usageKeys(declaredUsage())];
  return all.filter((k) => !seen.has(k) && !k.includes('/finalizers|'));
}

export function recordedComponents(): Set<string> {
  return new Set([...seen.values()].flatMap((s) => [...s]));
}
