/**
 * Traffic actuator: Gateway API HTTPRoute weights and shadow mirroring (the main target) and the
 * ingress-nginx canary Ingress (compatibility).
 *
 * Every apply is "make it so": it reads the object, computes the desired one, and writes only when
 * they differ (a second apply makes no write, so the resourceVersion stays). Writes are
 * replace-with-resourceVersion (optimistic concurrency; a conflict re-reads and retries). The
 * first change of an object also stores, in the same write, the fields it had before in the
 * annotation `cutover.nokta.io/previous-state`, so a rollback after an operator crash still knows
 * what to put back; `restore` puts those fields back and removes the annotation.
 *
 * All requests go through the runtime's `KubeClient` (in a controller: `ctx.client`, so they are
 * counted and aborted when leadership is lost).
 */
import {
  resourcePath,
  type KubeClient,
  type ObjectMeta,
  type OwnerReference,
} from '../../runtime/kube-client.js';
import { createLogger } from '../../runtime/logger.js';
import { use, type ApiUse } from '../../runtime/api-usage.js';
import {
  clearPreviousState,
  clone,
  jsonEqual,
  ownerReferenceTo,
  readPreviousState,
  retryOnConflict,
  writePreviousState,
} from '../k8s-util.js';
import {
  HTTP_ROUTE,
  INGRESS,
  type Ingress,
  type IngressBackend,
  type IngressSpec,
  type ServiceBackendPort,
} from '../kube-types.js';
import { MANAGED_BY_ANNOTATION, type TrafficDesired, type TrafficTarget, type WriteHook } from '../types.js';
import {
  desiredRule,
  observeRule,
  validateDesired,
  type RoutePrevious,
  type RouteRule,
} from './httproute-weights.js';

const log = createLogger('actuators.traffic');

export const GATEWAY_GROUP = HTTP_ROUTE.group;
export const GATEWAY_VERSION = HTTP_ROUTE.version;
export const CANARY_ANNOTATION_PREFIX = 'nginx.ingress.kubernetes.io/';

export interface TrafficResult {
  target: TrafficTarget;
  /** Whether this call wrote anything. */
  changed: boolean;
  resourceVersion?: string;
}

export interface TrafficObservation {
  newWeight: number;
  legacyWeight: number;
  mirror: boolean;
  /** Whether a restore record is on the object. */
  hasRestoreRecord: boolean;
}

interface HttpRoute {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: { rules?: RouteRule[]; [k: string]: unknown };
  [k: string]: unknown;
}

type RoutePreviousMap = { rules: Record<string, RoutePrevious> };

export interface TrafficOptions {
  /** Called after each write (tests throw from it to simulate a crash). */
  onWrite?: WriteHook;
  /** Who changes the traffic, e.g. `Cutover/ns/name`; stored in an annotation. */
  managedBy?: string;
}

export class TrafficActuator {
  /** Every request it makes, for the operator's RBAC (src/runtime/api-usage.ts). */
  static readonly apiUsage: ApiUse[] = [
    use(INGRESS, ['get', 'create', 'update', 'delete'], 'the ingress-nginx canary Ingress'),
    use(HTTP_ROUTE, ['get', 'update'], 'Gateway API HTTPRoute weights and mirrors'),
  ];

  constructor(
    private readonly client: KubeClient,
    private readonly opts: TrafficOptions = {},
  ) {}

  /** Applies the same split to several targets (e.g. every service on cutover day), one write each. */
  async applyAll(targets: TrafficTarget[], desired: TrafficDesired): Promise<TrafficResult[]> {
    const out: TrafficResult[] = [];
    for (const t of targets) out.push(await this.apply(t, desired));
    return out;
  }

  async restoreAll(targets: TrafficTarget[]): Promise<TrafficResult[]> {
    const out: TrafficResult[] = [];
    for (const t of targets) out.push(await this.restore(t));
    return out;
  }

  async apply(target: TrafficTarget, desired: TrafficDesired): Promise<TrafficResult> {
    validateDesired(desired);
    return target.kind === 'HTTPRoute'
      ? this.applyRoute(target, desired)
      : this.applyIngress(target, desired);
  }

  async restore(target: TrafficTarget): Promise<TrafficResult> {
    return target.kind === 'HTTPRoute' ? this.restoreRoute(target) : this.restoreIngress(target);
  }

  async observe(target: TrafficTarget): Promise<TrafficObservation> {
    if (target.kind === 'HTTPRoute') {
      const route = await this.getRoute(target);
      const rule = route.spec.rules?.[target.ruleIndex ?? 0];
      if (!rule)
        throw new Error(`HTTPRoute ${target.namespace}/${target.name} has no rule ${target.ruleIndex ?? 0}`);
      return {
        ...observeRule(rule, target.legacyBackend, target.newBackend),
        hasRestoreRecord: readPreviousState(route.metadata) !== undefined,
      };
    }
    const canary = await this.client.tryGet<Ingress>(
      INGRESS,
      target.namespace,
      canaryName(target.stableIngress),
    );
    if (!canary) return { newWeight: 0, legacyWeight: 100, mirror: false, hasRestoreRecord: false };
    const a = canary.metadata.annotations ?? {};
    const on = a[`${CANARY_ANNOTATION_PREFIX}canary`] === 'true';
    const w = on ? Number(a[`${CANARY_ANNOTATION_PREFIX}canary-weight`] ?? '0') : 0;
    return {
      newWeight: w,
      legacyWeight: 100 - w,
      mirror: false,
      hasRestoreRecord: readPreviousState(canary.metadata) !== undefined,
    };
  }

  // ---- Gateway API -------------------------------------------------------------------------

  private async getRoute(t: Extract<TrafficTarget, { kind: 'HTTPRoute' }>): Promise<HttpRoute> {
    return this.client.get<HttpRoute>(HTTP_ROUTE, t.namespace, t.name);
  }

  /** Replace with the resourceVersion read (a concurrent change → 409 → re-read and retry). */
  private async replaceRoute(
    t: Extract<TrafficTarget, { kind: 'HTTPRoute' }>,
    body: HttpRoute,
  ): Promise<HttpRoute> {
    return this.client.replace<HttpRoute>(HTTP_ROUTE, t.namespace, t.name, body);
  }

  private async applyRoute(
    t: Extract<TrafficTarget, { kind: 'HTTPRoute' }>,
    desired: TrafficDesired,
  ): Promise<TrafficResult> {
    const idx = t.ruleIndex ?? 0;
    return retryOnConflict(async () => {
      const route = await this.getRoute(t);
      const rules = route.spec.rules ?? [];
      const rule = rules[idx];
      if (!rule) throw new Error(`HTTPRoute ${t.namespace}/${t.name} has no rule ${idx}`);
      const next = desiredRule(rule, t.legacyBackend, t.newBackend, desired);
      if (jsonEqual(next, rule))
        return { target: t, changed: false, resourceVersion: route.metadata.resourceVersion };
      const body = clone(route);
      const prev = readPreviousState<RoutePreviousMap>(body.metadata) ?? { rules: {} };
      if (!prev.rules[String(idx)]) {
        prev.rules[String(idx)] = { backendRefs: rule.backendRefs ?? null, filters: rule.filters ?? null };
        writePreviousState(body.metadata, prev);
      }
      if (this.opts.managedBy)
        body.metadata.annotations = {
          ...body.metadata.annotations,
          [MANAGED_BY_ANNOTATION]: this.opts.managedBy,
        };
      body.spec.rules![idx] = next;
      const written = await this.replaceRoute(t, body);
      log.info(
        {
          route: `${t.namespace}/${t.name}`,
          rule: idx,
          newWeight: desired.newWeight,
          mirror: !!desired.mirror,
        },
        'HTTPRoute traffic set',
      );
      this.opts.onWrite?.(`HTTPRoute/${t.namespace}/${t.name}`);
      return { target: t, changed: true, resourceVersion: written.metadata.resourceVersion };
    });
  }

  private async restoreRoute(t: Extract<TrafficTarget, { kind: 'HTTPRoute' }>): Promise<TrafficResult> {
    return retryOnConflict(async () => {
      const route = await this.getRoute(t);
      const prev = readPreviousState<RoutePreviousMap>(route.metadata);
      if (!prev) return { target: t, changed: false, resourceVersion: route.metadata.resourceVersion };
      const body = clone(route);
      for (const [i, p] of Object.entries(prev.rules)) {
        const rule = body.spec.rules?.[Number(i)];
        if (!rule) continue;
        if (p.backendRefs === null) delete rule.backendRefs;
        else rule.backendRefs = p.backendRefs;
        if (p.filters === null) delete rule.filters;
        else rule.filters = p.filters;
      }
      clearPreviousState(body.metadata);
      if (body.metadata.annotations) delete body.metadata.annotations[MANAGED_BY_ANNOTATION];
      if (body.metadata.annotations && Object.keys(body.metadata.annotations).length === 0)
        delete body.metadata.annotations;
      const written = await this.replaceRoute(t, body);
      log.info({ route: `${t.namespace}/${t.name}` }, 'HTTPRoute traffic restored');
      this.opts.onWrite?.(`HTTPRoute/${t.namespace}/${t.name}`);
      return { target: t, changed: true, resourceVersion: written.metadata.resourceVersion };
    });
  }

  // ---- ingress-nginx -----------------------------------------------------------------------

  private async applyIngress(
    t: Extract<TrafficTarget, { kind: 'Ingress' }>,
    desired: TrafficDesired,
  ): Promise<TrafficResult> {
    if (desired.mirror) throw new Error('mirroring is only supported on Gateway API HTTPRoutes');
    return retryOnConflict(async () => {
      const stable = await this.client.get<Ingress>(INGRESS, t.namespace, t.stableIngress);
      const want = desiredCanary(stable, t, desired.newWeight, this.opts.managedBy);
      const name = want.metadata.name!;
      const existing = await this.client.tryGet<Ingress>(INGRESS, t.namespace, name);
      if (!existing) {
        writePreviousState(want.metadata, { existed: false } satisfies IngressPrevious);
        const created = await this.client.create<Ingress>(INGRESS, t.namespace, want);
        log.info({ ingress: `${t.namespace}/${name}`, weight: desired.newWeight }, 'canary Ingress created');
        this.opts.onWrite?.(`Ingress/${t.namespace}/${name}`);
        return { target: t, changed: true, resourceVersion: created.metadata.resourceVersion };
      }
      const prev = readPreviousState<IngressPrevious>(existing.metadata);
      const merged = clone(existing);
      merged.metadata.annotations = {
        ...stripCanaryAnnotations(existing.metadata.annotations),
        ...want.metadata.annotations,
      };
      if (prev) writePreviousState(merged.metadata, prev);
      else
        writePreviousState(merged.metadata, {
          existed: true,
          annotations: existing.metadata.annotations ?? null,
          labels: existing.metadata.labels ?? null,
          ownerReferences: existing.metadata.ownerReferences ?? null,
          spec: existing.spec ?? null,
        } satisfies IngressPrevious);
      merged.metadata.labels = { ...existing.metadata.labels, ...want.metadata.labels };
      if (want.metadata.ownerReferences) merged.metadata.ownerReferences = want.metadata.ownerReferences;
      merged.spec = want.spec;
      if (
        jsonEqual(merged.metadata.annotations, existing.metadata.annotations) &&
        jsonEqual(merged.metadata.labels, existing.metadata.labels) &&
        jsonEqual(merged.metadata.ownerReferences, existing.metadata.ownerReferences) &&
        jsonEqual(merged.spec, existing.spec)
      ) {
        return { target: t, changed: false, resourceVersion: existing.metadata.resourceVersion };
      }
      const written = await this.client.replace<Ingress>(INGRESS, t.namespace, name, merged);
      log.info({ ingress: `${t.namespace}/${name}`, weight: desired.newWeight }, 'canary Ingress updated');
      this.opts.onWrite?.(`Ingress/${t.namespace}/${name}`);
      return { target: t, changed: true, resourceVersion: written.metadata.resourceVersion };
    });
  }

  private async restoreIngress(t: Extract<TrafficTarget, { kind: 'Ingress' }>): Promise<TrafficResult> {
    const name = canaryName(t.stableIngress);
    return retryOnConflict(async () => {
      const existing = await this.client.tryGet<Ingress>(INGRESS, t.namespace, name);
      if (!existing) return { target: t, changed: false };
      const prev = readPreviousState<IngressPrevious>(existing.metadata);
      if (!prev) return { target: t, changed: false, resourceVersion: existing.metadata.resourceVersion };
      if (!prev.existed) {
        // Deleted only if nobody changed it since the read (precondition → 409 → re-read).
        await this.client.request<unknown>('DELETE', resourcePath(INGRESS, t.namespace, name), {
          body: {
            kind: 'DeleteOptions',
            apiVersion: 'v1',
            preconditions: { resourceVersion: existing.metadata.resourceVersion },
          },
        });
        log.info({ ingress: `${t.namespace}/${name}` }, 'canary Ingress removed');
        this.opts.onWrite?.(`Ingress/${t.namespace}/${name}`);
        return { target: t, changed: true };
      }
      const body = clone(existing);
      body.metadata.annotations = prev.annotations ?? undefined;
      body.metadata.labels = prev.labels ?? undefined;
      body.metadata.ownerReferences = prev.ownerReferences ?? undefined;
      body.spec = prev.spec ?? undefined;
      const written = await this.client.replace<Ingress>(INGRESS, t.namespace, name, body);
      log.info({ ingress: `${t.namespace}/${name}` }, 'canary Ingress restored');
      this.opts.onWrite?.(`Ingress/${t.namespace}/${name}`);
      return { target: t, changed: true, resourceVersion: written.metadata.resourceVersion };
    });
  }
}

interface IngressPrevious {
  existed: boolean;
  annotations?: Record<string, string> | null;
  labels?: Record<string, string> | null;
  ownerReferences?: OwnerReference[] | null;
  spec?: IngressSpec | null;
}

export function canaryName(stable: string): string {
  const name = `${stable}-canary`;
  if (name.length > 253) throw new Error(`canary Ingress name too long: ${name}`);
  return name;
}

const CANARY_KEYS = [
  'canary',
  'canary-weight',
  'canary-weight-total',
  'canary-by-header',
  'canary-by-header-value',
  'canary-by-header-pattern',
  'canary-by-cookie',
];

function stripCanaryAnnotations(a: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a ?? {})) {
    if (!CANARY_KEYS.some((c) => k === `${CANARY_ANNOTATION_PREFIX}${c}`)) out[k] = v;
  }
  return out;
}

/** The canary Ingress derived from the stable one: same hosts, paths and TLS, backend → the new service. */
export function desiredCanary(
  stable: { spec?: IngressSpec },
  t: Extract<TrafficTarget, { kind: 'Ingress' }>,
  weight: number,
  managedBy?: string,
): Ingress {
  const spec = clone(stable.spec ?? {});
  const toCanary = (b: IngressBackend | undefined): IngressBackend | undefined => {
    if (!b?.service) return b;
    const port: ServiceBackendPort =
      t.canaryPort !== undefined ? { number: t.canaryPort } : clone(b.service.port ?? {});
    return { service: { name: t.canaryService, port } };
  };
  if (spec.defaultBackend) spec.defaultBackend = toCanary(spec.defaultBackend);
  for (const r of spec.rules ?? []) {
    for (const p of r.http?.paths ?? []) p.backend = toCanary(p.backend)!;
  }
  const p = CANARY_ANNOTATION_PREFIX;
  const annotations: Record<string, string> = {
    [`${p}canary`]: 'true',
    [`${p}canary-weight`]: String(weight),
  };
  if (t.stickiness?.header) {
    annotations[`${p}canary-by-header`] = t.stickiness.header;
    if (t.stickiness.headerValue) annotations[`${p}canary-by-header-value`] = t.stickiness.headerValue;
  }
  if (t.stickiness?.cookie) annotations[`${p}canary-by-cookie`] = t.stickiness.cookie;
  if (managedBy) annotations[MANAGED_BY_ANNOTATION] = managedBy;
  const meta: ObjectMeta = {
    name: canaryName(t.stableIngress),
    namespace: t.namespace,
    labels: {
      'app.kubernetes.io/managed-by': 'cutover-operator',
      'cutover.nokta.io/canary-of': t.stableIngress,
    },
    annotations,
  };
  if (t.owner) meta.ownerReferences = [ownerReferenceTo(t.owner)];
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: meta, spec };
}
