/**
 * The Kubernetes kinds the actuators read and write through the runtime's `KubeClient`, as they
 * are on the wire (JSON; timestamps are strings). Objects are written back as they were read, so
 * fields not named here are kept.
 *
 * Spec shapes reuse @kubernetes/client-node's model types with `import type` only: they are erased
 * at compile time, so the actuators never load that package (~80 MB) at run time.
 */
import type {
  V1IngressBackend,
  V1IngressSpec,
  V1JobSpec,
  V1ServiceBackendPort,
} from '@kubernetes/client-node';
import type { KubeObject } from '../runtime/kube-client.js';

export type { V1IngressBackend as IngressBackend, V1IngressSpec as IngressSpec };
export type { V1JobSpec as JobSpec, V1ServiceBackendPort as ServiceBackendPort };

export { CONFIG_MAP, POD, JOB, DEPLOYMENT, INGRESS, HTTP_ROUTE } from '../runtime/resources.js';

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

export interface JobCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  [k: string]: unknown;
}

export interface Job extends KubeObject {
  spec?: V1JobSpec;
  status?: {
    active?: number;
    succeeded?: number;
    failed?: number;
    conditions?: JobCondition[];
    [k: string]: unknown;
  };
}

export interface Pod extends KubeObject {
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    containerStatuses?: {
      name: string;
      state?: { terminated?: { exitCode?: number; reason?: string; message?: string; [k: string]: unknown } };
      [k: string]: unknown;
    }[];
    [k: string]: unknown;
  };
}

export interface Deployment extends KubeObject {
  spec?: { replicas?: number; [k: string]: unknown };
}

/** `autoscaling/v1` Scale, the `scale` subresource of a Deployment. */
export interface Scale extends KubeObject {
  spec?: { replicas?: number };
}

export interface Ingress extends KubeObject {
  spec?: V1IngressSpec;
}
