/**
 * Pure part of the shadow-proxy actuator: the names and the ConfigMap, Service and Deployment of
 * one service's comparing proxy (`cutover shadow-proxy` in the operator's image), Pod Security
 * "restricted", the rules mounted read-only from the ConfigMap.
 */
import { createHash } from 'node:crypto';
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import type { KubeObject, ObjectMeta } from '../../runtime/kube-client.js';
import type { ShadowComparison } from '../../shadow/rules-schema.js';
import { ownerReferenceTo, stableStringify } from '../k8s-util.js';
import type { ConfigMap } from '../kube-types.js';
import { MANAGED_BY_ANNOTATION, type BackendRef, type OwnerRef } from '../types.js';

/** The proxy's client port and its admin port (/metrics, /stats, /readyz). */
export const PROXY_PORT = 8080;
export const ADMIN_PORT = 9464;
export const RULES_KEY = 'rules.json';
export const RULES_DIR = '/etc/cutover-shadow';
export const SHADOW_PROXY_LABEL = 'cutover.nokta.io/shadow-proxy-of';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
/** Hash of what the operator wants an object to be: a different hash means the object is rewritten. */
export const SPEC_HASH_ANNOTATION = 'cutover.nokta.io/spec-hash';

/** Resources of the proxy's container unless the rules say otherwise. */
export const DEFAULT_PROXY_RESOURCES = {
  requests: { cpu: '250m', memory: '128Mi' },
  limits: { memory: '512Mi' },
};

/** Where one service's traffic enters: the rule of an HTTPRoute or a stable ingress-nginx Ingress. */
export type ShadowRoute =
  | { kind: 'HTTPRoute'; name: string; ruleIndex?: number; legacyBackend: BackendRef; newBackend: BackendRef }
  | { kind: 'Ingress'; name: string; newBackend: BackendRef };

export interface ShadowProxyTarget {
  namespace: string;
  /** Service name (spec.services[].name): the metrics label and part of the objects' names. */
  service: string;
  /** Owner name (the Cutover's), part of the objects' names. */
  ownerName: string;
  owner?: OwnerRef;
  /** Who manages the objects and the route, e.g. `Cutover/ns/name`; checked before any write. */
  managedBy: string;
  /** The operator's image (its entrypoint is `cutover`). */
  image: string;
  rules: ShadowComparison;
  route: ShadowRoute;
  /** Extra labels of the proxy pods. */
  podLabels?: Record<string, string>;
}

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** `<owner>-shadow-<service>`, or a hashed form when that is not a valid Service name (63, DNS-1035). */
export function proxyName(ownerName: string, service: string): string {
  const plain = `${ownerName}-shadow-${service}`;
  if (plain.length <= 63 && DNS_LABEL.test(plain)) return plain;
  const hash = createHash('sha256').update(`${ownerName}/${service}`).digest('hex').slice(0, 10);
  const head = `${ownerName}-shadow`
    .toLowerCase()
    .replace(/[^-a-z0-9]/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 52)
    .replace(/-+$/, '');
  return head ? `${head}-${hash}` : `shadow-${hash}`;
}

export function serviceUrl(namespace: string, b: BackendRef): string {
  return `http://${b.name}.${namespace}.svc:${b.port}`;
}

export function hashOf(v: unknown): string {
  return createHash('sha256').update(stableStringify(v)).digest('hex').slice(0, 16);
}

/** Labels on every object of the proxy. */
export function proxyLabels(t: ShadowProxyTarget): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'cutover-shadow-proxy',
    'app.kubernetes.io/managed-by': 'cutover-operator',
    [INSTANCE_LABEL]: proxyName(t.ownerName, t.service),
    [SHADOW_PROXY_LABEL]: t.service,
  };
}

function meta(t: ShadowProxyTarget, specHash: string): ObjectMeta {
  const m: ObjectMeta = {
    name: proxyName(t.ownerName, t.service),
    namespace: t.namespace,
    labels: proxyLabels(t),
    annotations: { [MANAGED_BY_ANNOTATION]: t.managedBy, [SPEC_HASH_ANNOTATION]: specHash },
  };
  if (t.owner) m.ownerReferences = [ownerReferenceTo(t.owner)];
  return m;
}

/** The rules the proxy reads, with the service label set. */
export function rulesDocument(t: ShadowProxyTarget): string {
  return `${JSON.stringify({ ...t.rules, service: t.service }, null, 2)}\n`;
}

export function desiredConfigMap(t: ShadowProxyTarget): ConfigMap {
  const data = { [RULES_KEY]: rulesDocument(t) };
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(t, hashOf(data)), data };
}

export function desiredService(t: ShadowProxyTarget): KubeObject & { spec: V1Service['spec'] } {
  const spec: NonNullable<V1Service['spec']> = {
    type: 'ClusterIP',
    selector: { [INSTANCE_LABEL]: proxyName(t.ownerName, t.service) },
    ports: [
      { name: 'http', port: PROXY_PORT, targetPort: 'http', protocol: 'TCP' },
      { name: 'metrics', port: ADMIN_PORT, targetPort: 'metrics', protocol: 'TCP' },
    ],
  };
  return { apiVersion: 'v1', kind: 'Service', metadata: meta(t, hashOf(spec)), spec };
}

/** The legacy and new URLs the proxy forwards to. */
/** CPUs in a cpu quantity (250m → 0.25, 2 → 2, 1.5 → 1.5); undefined when absent or unreadable. */
function cpus(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  const m = /^\+?([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(m?)$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]) / (m[2] === 'm' ? 1000 : 1);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * The proxy's worker processes in its Pod: the CPUs its limit (else its request) gives, at least
 * one. Not the node's CPU count, which the proxy would see itself and which a Pod does not get.
 */
export function proxyWorkers(resources: {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}): number {
  const n = cpus(resources.limits?.cpu) ?? cpus(resources.requests?.cpu) ?? 1;
  return Math.max(1, Math.min(64, Math.ceil(n)));
}

export interface Upstreams {
  legacyUrl: string;
  newUrl: string;
}

export function desiredDeployment(
  t: ShadowProxyTarget,
  up: Upstreams,
): KubeObject & { spec: V1Deployment['spec'] } {
  const name = proxyName(t.ownerName, t.service);
  const labels = proxyLabels(t);
  const resources = t.rules.resources ?? DEFAULT_PROXY_RESOURCES;
  const spec: NonNullable<V1Deployment['spec']> = {
    replicas: 1,
    revisionHistoryLimit: 2,
    selector: { matchLabels: { [INSTANCE_LABEL]: name } },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
    template: {
      metadata: {
        labels: { ...labels, ...(t.podLabels ?? {}) },
        annotations: {
          // A change of the rules rolls the pods (the file is read at start).
          'cutover.nokta.io/rules-hash': hashOf(rulesDocument(t)),
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(ADMIN_PORT),
          'prometheus.io/path': '/metrics',
        },
      },
      spec: {
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'shadow-proxy',
            image: t.image,
            args: [
              'shadow-proxy',
              '--legacy',
              up.legacyUrl,
              '--new',
              up.newUrl,
              '--rules',
              `${RULES_DIR}/${RULES_KEY}`,
              '--listen',
              `:${PROXY_PORT}`,
              '--metrics-listen',
              `:${ADMIN_PORT}`,
              '--report-interval',
              '1m',
              '--workers',
              String(proxyWorkers(resources)),
            ],
            ports: [
              { name: 'http', containerPort: PROXY_PORT, protocol: 'TCP' },
              { name: 'metrics', containerPort: ADMIN_PORT, protocol: 'TCP' },
            ],
            readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' }, periodSeconds: 5 },
            livenessProbe: {
              httpGet: { path: '/healthz', port: 'metrics' },
              periodSeconds: 10,
              failureThreshold: 6,
            },
            resources: {
              ...(resources.requests ? { requests: { ...resources.requests } } : {}),
              ...(resources.limits ? { limits: { ...resources.limits } } : {}),
            },
            securityContext: {
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'] },
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
            },
            volumeMounts: [{ name: 'rules', mountPath: RULES_DIR, readOnly: true }],
          },
        ],
        volumes: [{ name: 'rules', configMap: { name } }],
      },
    },
  };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(t, hashOf(spec)), spec };
}
