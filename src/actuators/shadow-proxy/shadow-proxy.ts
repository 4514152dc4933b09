/**
 * The comparing shadow proxy of one service, deployed for the shadow phase: a ConfigMap with the
 * rules, a Deployment running `cutover shadow-proxy` in the operator's image and a Service in
 * front of it; once the proxy is available, the service's route is pointed at it through the
 * TrafficActuator (which records the route as it was, on the route); `remove` restores the route
 * exactly and deletes the three objects.
 *
 * Idempotent ("make it so"): an object already as wanted is not written (a spec-hash annotation
 * says what it was written from). Ownership-checked: an object of the same name that another owner
 * manages is never changed or deleted. Crash-safe: the route is changed only after the objects
 * exist and is restored before they are deleted, so a crash at any point is finished by calling
 * `ensure` or `remove` again.
 */
import { createLogger } from '../../runtime/logger.js';
import { use, type ApiUse } from '../../runtime/api-usage.js';
import { resourcePath, type KubeClient, type KubeObject } from '../../runtime/kube-client.js';
import type { ResourceType } from '../../runtime/kube-client.js';
import { isNotFound } from '../../runtime/kube-client.js';
import { clone, retryOnConflict } from '../k8s-util.js';
import { CONFIG_MAP, DEPLOYMENT, INGRESS, type Ingress } from '../kube-types.js';
import { TrafficActuator } from '../traffic/traffic.js';
import { MANAGED_BY_ANNOTATION, type BackendRef, type TrafficTarget, type WriteHook } from '../types.js';
import {
  PROXY_PORT,
  SPEC_HASH_ANNOTATION,
  desiredConfigMap,
  desiredDeployment,
  desiredService,
  proxyName,
  serviceUrl,
  type ShadowProxyTarget,
  type Upstreams,
} from './objects.js';

const log = createLogger('actuators.shadow-proxy');

export const SERVICE: ResourceType = { group: '', version: 'v1', plural: 'services', kind: 'Service' };

/** An object of the proxy's name exists and another owner manages it: never touched. */
export class NotOursError extends Error {}

export type ShadowProxyState = 'Absent' | 'Deploying' | 'Routed';

export interface ShadowProxyResult {
  state: ShadowProxyState;
  /** What this call wrote (`ConfigMap`, `Service`, `Deployment`, `Route`). */
  changed: string[];
  /** The proxy's Service (in-cluster DNS name and ports). */
  name: string;
}

export interface ShadowProxyObservation {
  /** ConfigMap, Service and Deployment exist (ours). */
  deployed: boolean;
  /** The Deployment has an available replica. */
  available: boolean;
  /** The service's route sends all of its traffic to the proxy. */
  routed: boolean;
}

interface DeploymentObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: { availableReplicas?: number; observedGeneration?: number };
}
interface ServiceObject extends KubeObject {
  spec?: { clusterIP?: string; clusterIPs?: string[]; [k: string]: unknown };
}

export class ShadowProxyActuator {
  /** Every request it makes, for the operator's RBAC (src/runtime/api-usage.ts). */
  static readonly apiUsage: ApiUse[] = [
    use(CONFIG_MAP, ['get', 'create', 'update', 'delete'], 'the shadow proxy: its rules'),
    use(SERVICE, ['get', 'create', 'update', 'delete'], 'the shadow proxy: its Service'),
    use(DEPLOYMENT, ['get', 'create', 'update', 'delete'], 'the shadow proxy: its Deployment'),
    use(INGRESS, ['get'], 'the shadow proxy: the legacy backend of a stable Ingress'),
    ...TrafficActuator.apiUsage,
  ];

  private readonly traffic: TrafficActuator;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: { onWrite?: WriteHook } = {},
  ) {
    this.traffic = new TrafficActuator(client, opts);
  }

  /** Objects as wanted; once the proxy is available, the route through it. */
  async ensure(t: ShadowProxyTarget): Promise<ShadowProxyResult> {
    const name = proxyName(t.ownerName, t.service);
    const changed: string[] = [];
    const up = await this.upstreams(t);
    if (await this.ensureObject(CONFIG_MAP, t, desiredConfigMap(t))) changed.push('ConfigMap');
    if (await this.ensureObject(SERVICE, t, desiredService(t))) changed.push('Service');
    if (await this.ensureObject(DEPLOYMENT, t, desiredDeployment(t, up))) changed.push('Deployment');
    const d = await this.client.get<DeploymentObject>(DEPLOYMENT, t.namespace, name);
    if (!isAvailable(d)) return { state: 'Deploying', changed, name };
    const routed = await new TrafficActuator(this.client, {
      managedBy: t.managedBy,
      ...(this.opts.onWrite ? { onWrite: this.opts.onWrite } : {}),
    }).apply(this.proxyTarget(t), { newWeight: 100 });
    if (routed.changed) {
      changed.push('Route');
      log.info({ service: t.service, proxy: `${t.namespace}/${name}` }, 'route points at the shadow proxy');
    }
    return { state: 'Routed', changed, name };
  }

  /** The route as it was before `ensure`, then the objects deleted (ours only). */
  async remove(t: ShadowProxyTarget): Promise<ShadowProxyResult> {
    const name = proxyName(t.ownerName, t.service);
    const changed: string[] = [];
    const restored = await this.traffic.restore(this.proxyTarget(t));
    if (restored.changed) {
      changed.push('Route');
      log.info({ service: t.service }, 'route restored: the shadow proxy is out of the path');
    }
    for (const [rt, kind] of [
      [DEPLOYMENT, 'Deployment'],
      [SERVICE, 'Service'],
      [CONFIG_MAP, 'ConfigMap'],
    ] as const) {
      if (await this.deleteOurs(rt, t, name)) changed.push(kind);
    }
    return { state: 'Absent', changed, name };
  }

  async observe(t: ShadowProxyTarget): Promise<ShadowProxyObservation> {
    const name = proxyName(t.ownerName, t.service);
    const objs = await Promise.all(
      [CONFIG_MAP, SERVICE, DEPLOYMENT].map((rt) =>
        this.client.tryGet<DeploymentObject>(rt, t.namespace, name),
      ),
    );
    const deployed = objs.every((o) => o !== undefined && managedBy(o) === t.managedBy);
    const d = objs[2];
    const traffic = await this.traffic.observe(this.proxyTarget(t));
    return {
      deployed,
      available: deployed && d !== undefined && isAvailable(d),
      routed: traffic.newWeight === 100 && traffic.hasRestoreRecord,
    };
  }

  /** The traffic target whose "new" backend is the proxy: weight 100 routes everything through it. */
  proxyTarget(t: ShadowProxyTarget): TrafficTarget {
    const proxy: BackendRef = { name: proxyName(t.ownerName, t.service), port: PROXY_PORT };
    const r = t.route;
    if (r.kind === 'HTTPRoute')
      return {
        kind: 'HTTPRoute',
        namespace: t.namespace,
        name: r.name,
        ...(r.ruleIndex !== undefined ? { ruleIndex: r.ruleIndex } : {}),
        legacyBackend: r.legacyBackend,
        newBackend: proxy,
      };
    return {
      kind: 'Ingress',
      namespace: t.namespace,
      stableIngress: r.name,
      canaryService: proxy.name,
      canaryPort: proxy.port,
      ...(t.owner ? { owner: t.owner } : {}),
    };
  }

  /** Where the proxy forwards: legacy (the route's legacy backend) and the new stack. */
  async upstreams(t: ShadowProxyTarget): Promise<Upstreams> {
    const r = t.route;
    const newUrl = serviceUrl(t.namespace, r.newBackend);
    if (r.kind === 'HTTPRoute') return { legacyUrl: serviceUrl(t.namespace, r.legacyBackend), newUrl };
    const stable = await this.client.get<Ingress>(INGRESS, t.namespace, r.name);
    const backend =
      stable.spec?.rules?.flatMap((x) => x.http?.paths ?? []).find((p) => p.backend.service)?.backend
        .service ?? stable.spec?.defaultBackend?.service;
    if (!backend?.name) throw new Error(`Ingress ${t.namespace}/${r.name} has no service backend`);
    if (backend.port?.number === undefined)
      throw new Error(
        `Ingress ${t.namespace}/${r.name}: the legacy backend's port is named (${backend.port?.name ?? '?'}); the shadow proxy needs a port number`,
      );
    return { legacyUrl: serviceUrl(t.namespace, { name: backend.name, port: backend.port.number }), newUrl };
  }

  /** Creates or rewrites one object; true when it wrote. */
  private async ensureObject(rt: ResourceType, t: ShadowProxyTarget, want: KubeObject): Promise<boolean> {
    const name = want.metadata.name!;
    return retryOnConflict(async () => {
      const existing = await this.client.tryGet<ServiceObject>(rt, t.namespace, name);
      if (!existing) {
        await this.client.create(rt, t.namespace, want);
        log.info({ kind: rt.kind, object: `${t.namespace}/${name}` }, 'shadow proxy object created');
        this.opts.onWrite?.(`${rt.kind}/${t.namespace}/${name}`);
        return true;
      }
      this.checkOurs(rt, t, existing);
      const hash = want.metadata.annotations?.[SPEC_HASH_ANNOTATION];
      if (existing.metadata.annotations?.[SPEC_HASH_ANNOTATION] === hash) return false;
      const body = clone(want) as ServiceObject;
      body.metadata.resourceVersion = existing.metadata.resourceVersion;
      if (rt === SERVICE && body.spec) {
        // The cluster IP is the API server's; a replace keeps it.
        if (existing.spec?.clusterIP) body.spec.clusterIP = existing.spec.clusterIP;
        if (existing.spec?.clusterIPs) body.spec.clusterIPs = existing.spec.clusterIPs;
      }
      await this.client.replace(rt, t.namespace, name, body);
      log.info({ kind: rt.kind, object: `${t.namespace}/${name}` }, 'shadow proxy object updated');
      this.opts.onWrite?.(`${rt.kind}/${t.namespace}/${name}`);
      return true;
    });
  }

  private checkOurs(rt: ResourceType, t: ShadowProxyTarget, o: KubeObject): void {
    const by = managedBy(o);
    const foreignOwner =
      t.owner !== undefined &&
      (o.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid !== t.owner!.uid);
    if (by !== t.managedBy || foreignOwner)
      throw new NotOursError(
        `${rt.kind} ${t.namespace}/${o.metadata.name} exists and is not managed by ${t.managedBy}${by ? ` (managed by ${by})` : ''}: rename or remove it`,
      );
  }

  /** Deletes the object if it exists and is ours (precondition: the uid read); true when deleted. */
  private async deleteOurs(rt: ResourceType, t: ShadowProxyTarget, name: string): Promise<boolean> {
    const o = await this.client.tryGet(rt, t.namespace, name);
    if (!o) return false;
    this.checkOurs(rt, t, o);
    try {
      await this.client.request<unknown>('DELETE', resourcePath(rt, t.namespace, name), {
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          propagationPolicy: 'Background',
          preconditions: { uid: o.metadata.uid },
        },
      });
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
    log.info({ kind: rt.kind, object: `${t.namespace}/${name}` }, 'shadow proxy object deleted');
    this.opts.onWrite?.(`${rt.kind}/${t.namespace}/${name}`);
    return true;
  }
}

function managedBy(o: KubeObject): string | undefined {
  return o.metadata.annotations?.[MANAGED_BY_ANNOTATION];
}

function isAvailable(d: DeploymentObject): boolean {
  const gen = d.metadata.generation ?? 0;
  return (d.status?.availableReplicas ?? 0) >= 1 && (d.status?.observedGeneration ?? 0) >= gen;
}
