/**
 * From the CanaryPhase spec (and its Cutover's services and flag provider when cutoverRef is set)
 * to the actuators' inputs, pure: which flag and route each service has, which tenants and pilot
 * cohort its flag covers, and what a step's weight means for each.
 */
import type { FlagCohort, FlagSpec, OwnerRef, TrafficTarget } from '../../actuators/types.js';
import { routingOf } from '../../api/schema/canary-phase.js';
import type { CanaryPhaseSpec, Cutover, FlagProvider, TrafficTarget as ApiTraffic } from '../../api/types.js';

export interface ResolvedService {
  name: string;
  routing: 'Flag' | 'Traffic';
  flagKey?: string;
  traffic?: TrafficTarget;
  /** Tenants the flag covers; `all` when no cohort of the service lists tenants. */
  tenants: string[] | 'all';
  /** The service's pilot cohort (members inline or from a ConfigMap key). */
  pilot?: {
    name: string;
    attribute: string;
    members?: string[];
    membersFrom?: { configMapName: string; key: string };
  };
}

export interface Resolved {
  services: ResolvedService[];
  flagProvider?: FlagProvider;
  bucketingKey: string;
}

export class ResolveError extends Error {}

function trafficTarget(t: ApiTraffic, namespace: string, owner: OwnerRef | undefined): TrafficTarget {
  if (t.httpRoute)
    return {
      kind: 'HTTPRoute',
      namespace,
      name: t.httpRoute.name,
      ruleIndex: t.httpRoute.ruleIndex ?? 0,
      legacyBackend: t.httpRoute.legacyBackend,
      newBackend: t.httpRoute.newBackend,
    };
  const i = t.ingress!;
  return {
    kind: 'Ingress',
    namespace,
    stableIngress: i.name,
    canaryService: i.newBackend.name,
    canaryPort: i.newBackend.port,
    ...(i.stickiness ? { stickiness: i.stickiness } : {}),
    ...(owner ? { owner } : {}),
  };
}

/** A Cutover flag key may carry its service (`pos.new-stack`): the stores take `new-stack`. */
function storeKey(service: string, key: string): string {
  return key.startsWith(`${service}.`) ? key.slice(service.length + 1) : key;
}

function isSticky(t: ApiTraffic): boolean {
  return Boolean(t.ingress && t.ingress.stickiness);
}

export function resolve(
  spec: CanaryPhaseSpec,
  namespace: string,
  cutover: Pick<Cutover, 'spec'> | undefined,
  owner?: OwnerRef,
): Resolved {
  const services = spec.services.map((s): ResolvedService => {
    const from = cutover?.spec.services.find((c) => c.name === s.name);
    if (spec.cutoverRef && !from && s.flagKey === undefined && s.traffic === undefined)
      throw new ResolveError(
        `service ${s.name} is not a service of Cutover ${spec.cutoverRef.name}: add it there, or give flagKey or traffic here`,
      );
    const flagKey = s.flagKey ?? (from?.flagKey ? storeKey(s.name, from.flagKey) : undefined);
    const routing = routingOf({
      ...(s.routing ? { routing: s.routing } : {}),
      ...(flagKey ? { flagKey } : {}),
    });
    if (routing === 'Flag' && !flagKey)
      throw new ResolveError(`service ${s.name} routes by Flag but has no flagKey`);
    // A flag-routed service leaves the Cutover's non-sticky route alone: the Cutover moves it at
    // the switch, and a weight split beside flag bucketing would split the same sessions. A
    // CanaryPhase that gives such a route itself is refused (here and by the API server).
    const inherited =
      routing === 'Flag' && from?.traffic && !isSticky(from.traffic) ? undefined : from?.traffic;
    const traffic = s.traffic ?? inherited;
    if (routing === 'Traffic' && !traffic)
      throw new ResolveError(`service ${s.name} routes by Traffic but has no traffic target`);
    if (routing === 'Flag' && traffic && !isSticky(traffic))
      throw new ResolveError(
        `service ${s.name} routes by Flag and its traffic target is a weight split: give traffic with ingress stickiness, or routing Traffic`,
      );
    const cohorts = (spec.cohorts ?? []).filter((c) => !c.services || c.services.includes(s.name));
    const listed = cohorts.flatMap((c) => c.tenants ?? []);
    const pilotCohort = cohorts.find((c) => c.pilot);
    return {
      name: s.name,
      routing,
      ...(routing === 'Flag' ? { flagKey: flagKey! } : {}),
      ...(traffic ? { traffic: trafficTarget(traffic, namespace, owner) } : {}),
      tenants: listed.length ? [...new Set(listed)].sort() : 'all',
      ...(pilotCohort?.pilot ? { pilot: { name: pilotCohort.name, ...pilotCohort.pilot } } : {}),
    };
  });
  const flagProvider = spec.flagProvider ?? cutover?.spec.flagProvider;
  if (services.some((s) => s.routing === 'Flag') && !flagProvider)
    throw new ResolveError(
      'services route by Flag but neither the CanaryPhase nor its Cutover has a flagProvider',
    );
  return {
    services,
    ...(flagProvider ? { flagProvider } : {}),
    bucketingKey: spec.bucketingKey ?? 'sessionId',
  };
}

/** The flag of a service at a step's weight (pilot members resolved by the caller). */
export function flagSpecFor(
  s: ResolvedService,
  weight: number,
  bucketingKey: string,
  members?: string[],
): FlagSpec {
  const cohort: FlagCohort | undefined =
    s.pilot && members?.length ? { name: s.pilot.name, attribute: s.pilot.attribute, members } : undefined;
  return {
    service: s.name,
    key: s.flagKey!,
    tenants: s.tenants,
    enabled: true,
    percentage: weight,
    ...(cohort ? { cohort } : {}),
    bucketingKey,
  };
}

/** The route weight of a service at a step: its weight for Traffic; 0 for Flag (header/cookie only). */
export function routeWeightFor(s: ResolvedService, weight: number): number {
  return s.routing === 'Traffic' ? weight : 0;
}

/** Members of a ConfigMap key: one per line, blanks and # comments skipped. */
export function parseMembers(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/\r?\n/)
        .map((l) => l.replace(/#.*/, '').trim())
        .filter(Boolean),
    ),
  ].sort();
}
