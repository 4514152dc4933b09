/**
 * Pure part of the Gateway API traffic actuator: the desired backendRefs and filters of one
 * HTTPRoute rule for a weight split and an optional shadow mirror.
 */
import type { BackendRef, TrafficDesired } from '../types.js';
import { clone } from '../k8s-util.js';

export interface RouteBackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: unknown[];
  [k: string]: unknown;
}

export interface RouteFilter {
  type: string;
  requestMirror?: {
    backendRef: { group?: string; kind?: string; name: string; namespace?: string; port?: number };
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface RouteRule {
  backendRefs?: RouteBackendRef[];
  filters?: RouteFilter[];
  [k: string]: unknown;
}

/** What a rule had before the first change: the restore record of the rule. */
export interface RoutePrevious {
  backendRefs: RouteBackendRef[] | null;
  filters: RouteFilter[] | null;
}

function isServiceRef(r: { group?: string; kind?: string }): boolean {
  return (r.group ?? '') === '' && (r.kind ?? 'Service') === 'Service';
}

function matches(r: RouteBackendRef, b: BackendRef): boolean {
  return (
    isServiceRef(r) &&
    r.name === b.name &&
    (r.port === undefined || r.port === b.port) &&
    r.namespace === undefined
  );
}

export function validateDesired(d: TrafficDesired): void {
  if (!Number.isInteger(d.newWeight) || d.newWeight < 0 || d.newWeight > 100) {
    throw new RangeError(`newWeight must be an integer 0..100, got ${d.newWeight}`);
  }
}

/** The rule as it should be: absolute weights, the mirror filter present or absent. */
export function desiredRule(
  rule: RouteRule,
  legacy: BackendRef,
  next: BackendRef,
  d: TrafficDesired,
): RouteRule {
  validateDesired(d);
  const out = clone(rule);
  const refs = out.backendRefs ?? [];
  let sawLegacy = false;
  let sawNew = false;
  for (const r of refs) {
    if (matches(r, legacy)) {
      r.weight = 100 - d.newWeight;
      sawLegacy = true;
    } else if (matches(r, next)) {
      r.weight = d.newWeight;
      sawNew = true;
    }
  }
  if (!sawLegacy)
    refs.unshift({
      group: '',
      kind: 'Service',
      name: legacy.name,
      port: legacy.port,
      weight: 100 - d.newWeight,
    });
  if (!sawNew)
    refs.push({ group: '', kind: 'Service', name: next.name, port: next.port, weight: d.newWeight });
  out.backendRefs = refs;
  const filters = (out.filters ?? []).filter(
    (f) =>
      !(
        f.type === 'RequestMirror' &&
        f.requestMirror &&
        f.requestMirror.backendRef.name === next.name &&
        isServiceRef(f.requestMirror.backendRef)
      ),
  );
  if (d.mirror) {
    filters.push({
      type: 'RequestMirror',
      requestMirror: { backendRef: { group: '', kind: 'Service', name: next.name, port: next.port } },
    });
  }
  if (filters.length > 0) out.filters = filters;
  else delete out.filters;
  return out;
}

/** Reads the split a rule currently has. */
export function observeRule(
  rule: RouteRule,
  legacy: BackendRef,
  next: BackendRef,
): { legacyWeight: number; newWeight: number; mirror: boolean } {
  const refs = rule.backendRefs ?? [];
  const l = refs.find((r) => matches(r, legacy));
  const n = refs.find((r) => matches(r, next));
  const mirror = (rule.filters ?? []).some(
    (f) => f.type === 'RequestMirror' && f.requestMirror?.backendRef.name === next.name,
  );
  return { legacyWeight: l ? (l.weight ?? 1) : 0, newWeight: n ? (n.weight ?? 1) : 0, mirror };
}
