/**
 * Deployment scaling through the scale subresource (legacy stack kept hot, then scaled down after
 * the hot period). The replicas before the first change are kept in the Deployment's
 * `cutover.nokta.io/previous-state` annotation, written before the scale: a crash between the two
 * writes is finished by the next call, and a restore brings the original replicas back.
 *
 * All requests go through the runtime's `KubeClient` (in a controller: `ctx.client`); writes are
 * replaces with the resourceVersion read, retried on a conflict.
 */
import { resourcePath, type KubeClient } from '../../runtime/kube-client.js';
import { createLogger } from '../../runtime/logger.js';
import { use, type ApiUse } from '../../runtime/api-usage.js';
import { clearPreviousState, readPreviousState, retryOnConflict, writePreviousState } from '../k8s-util.js';
import { DEPLOYMENT, type Deployment, type Scale } from '../kube-types.js';
import type { WriteHook } from '../types.js';

const log = createLogger('actuators.deployments');

interface ScalePrevious {
  replicas: number;
}

export interface ScaleResult {
  changed: boolean;
  previousReplicas: number;
  replicas: number;
}

export class DeploymentActuator {
  /** Every request it makes, for the operator's RBAC (src/runtime/api-usage.ts). */
  static readonly apiUsage: ApiUse[] = [
    use(DEPLOYMENT, ['get', 'update'], 'the restore record (annotation) on the Deployment'),
    use(DEPLOYMENT, ['get', 'update'], 'replicas through the scale subresource', 'scale'),
  ];

  constructor(
    private readonly client: KubeClient,
    private readonly opts: { onWrite?: WriteHook } = {},
  ) {}

  private readDeployment(namespace: string, name: string): Promise<Deployment> {
    return this.client.get<Deployment>(DEPLOYMENT, namespace, name);
  }

  private replaceDeployment(namespace: string, name: string, body: Deployment): Promise<Deployment> {
    return this.client.replace<Deployment>(DEPLOYMENT, namespace, name, body);
  }

  private readScale(namespace: string, name: string): Promise<Scale> {
    return this.client.request<Scale>('GET', resourcePath(DEPLOYMENT, namespace, name, 'scale'));
  }

  private replaceScale(namespace: string, name: string, body: Scale): Promise<Scale> {
    return this.client.replace<Scale>(DEPLOYMENT, namespace, name, body, 'scale');
  }

  async scaleDeployment(namespace: string, name: string, replicas: number): Promise<ScaleResult> {
    if (!Number.isInteger(replicas) || replicas < 0)
      throw new RangeError(`replicas must be a non-negative integer, got ${replicas}`);
    // Write 1: the restore record, only before the first change.
    const recorded = await retryOnConflict(async () => {
      const d = await this.readDeployment(namespace, name);
      const prev = readPreviousState<ScalePrevious>(d.metadata);
      if (prev) return prev;
      const current = d.spec?.replicas ?? 1;
      if (current === replicas) return undefined;
      writePreviousState(d.metadata, { replicas: current } satisfies ScalePrevious);
      await this.replaceDeployment(namespace, name, d);
      this.opts.onWrite?.(`Deployment/${namespace}/${name}/record`);
      return { replicas: current };
    });
    // Write 2: the scale itself.
    return retryOnConflict(async () => {
      const scale = await this.readScale(namespace, name);
      const current = scale.spec?.replicas ?? 0;
      const previousReplicas = recorded?.replicas ?? current;
      if (current === replicas) return { changed: false, previousReplicas, replicas };
      scale.spec = { ...scale.spec, replicas };
      await this.replaceScale(namespace, name, scale);
      log.info({ deployment: `${namespace}/${name}`, from: current, to: replicas }, 'Deployment scaled');
      this.opts.onWrite?.(`Deployment/${namespace}/${name}/scale`);
      return { changed: true, previousReplicas, replicas };
    });
  }

  /** Scales back to the replicas before the first change and removes the record. */
  async restoreScale(namespace: string, name: string): Promise<ScaleResult | undefined> {
    const d = await this.readDeployment(namespace, name);
    const prev = readPreviousState<ScalePrevious>(d.metadata);
    if (!prev) return undefined;
    const res = await retryOnConflict(async () => {
      const scale = await this.readScale(namespace, name);
      const current = scale.spec?.replicas ?? 0;
      if (current === prev.replicas)
        return { changed: false, previousReplicas: current, replicas: prev.replicas };
      scale.spec = { ...scale.spec, replicas: prev.replicas };
      await this.replaceScale(namespace, name, scale);
      this.opts.onWrite?.(`Deployment/${namespace}/${name}/scale`);
      return { changed: true, previousReplicas: current, replicas: prev.replicas };
    });
    await retryOnConflict(async () => {
      const cur = await this.readDeployment(namespace, name);
      if (!readPreviousState(cur.metadata)) return;
      clearPreviousState(cur.metadata);
      await this.replaceDeployment(namespace, name, cur);
      this.opts.onWrite?.(`Deployment/${namespace}/${name}/record`);
    });
    log.info({ deployment: `${namespace}/${name}`, replicas: prev.replicas }, 'Deployment scale restored');
    return res;
  }
}
