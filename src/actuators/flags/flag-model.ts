/**
 * The per-tenant flag model shared by both flag stores (Redis and flagd), its evaluation, and its
 * rendering to a flagd flag definition (https://flagd.dev/schema/v0/flags.json).
 *
 * A flag is identified by `service` and `key`; its flagd key is `<service>.<key>`. Each tenant has a
 * TenantFlagState; `defaultState` applies to tenants not listed. Evaluation for a context
 * `{ tenantId, <bucketingKey>, <cohort attribute> }`:
 *   1. the tenant's state (or the default; none → off);
 *   2. disabled → off;
 *   3. cohort member → on;
 *   4. no bucketing value in the context → off;
 *   5. bucket (flagd fractional over `flagKey + value`) below the percentage → on, else off.
 */
import { BUCKET_SCALE, bucketIndex, onWeight } from './bucketing.js';
import type { FlagCohort, TenantFlagState } from '../types.js';

export const TENANT_ATTRIBUTE = 'tenantId';
export const FLAGD_SCHEMA = 'https://flagd.dev/schema/v0/flags.json';

export type Variant = 'on' | 'off';

export interface FlagState {
  service: string;
  key: string;
  defaultState: TenantFlagState | null;
  tenants: Record<string, TenantFlagState>;
}

const NAME_RE = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/;

export function validateFlagName(kind: 'service' | 'key', value: string): void {
  if (!NAME_RE.test(value)) {
    throw new Error(`invalid flag ${kind} '${value}': lower-case letters, digits, '-' and '_', at most 63`);
  }
}

export function flagdKey(service: string, key: string): string {
  validateFlagName('service', service);
  validateFlagName('key', key);
  return `${service}.${key}`;
}

/** A canonical JSON text of a tenant state, so equal states compare equal as strings. */
export function canonicalState(s: TenantFlagState): string {
  const cohort: FlagCohort | null = s.cohort
    ? { name: s.cohort.name, attribute: s.cohort.attribute, members: [...s.cohort.members].sort() }
    : null;
  onWeight(s.percentage);
  return JSON.stringify({
    enabled: s.enabled,
    percentage: s.percentage,
    cohort,
    bucketingKey: s.bucketingKey,
  });
}

export function parseState(text: string): TenantFlagState {
  const v = JSON.parse(text) as Partial<TenantFlagState>;
  if (
    typeof v.enabled !== 'boolean' ||
    typeof v.percentage !== 'number' ||
    typeof v.bucketingKey !== 'string'
  ) {
    throw new Error(`malformed tenant flag state: ${text.slice(0, 200)}`);
  }
  return {
    enabled: v.enabled,
    percentage: v.percentage,
    cohort: v.cohort ?? null,
    bucketingKey: v.bucketingKey,
  };
}

/** Evaluates one tenant state for a context; the same answer flagd gives for the rendered flag. */
export function evaluateState(
  flagKey: string,
  state: TenantFlagState | null | undefined,
  ctx: Record<string, unknown>,
): Variant {
  if (!state || !state.enabled) return 'off';
  const cohort = state.cohort;
  if (cohort) {
    const member = ctx[cohort.attribute];
    if (typeof member === 'string' && cohort.members.includes(member)) return 'on';
  }
  const w = onWeight(state.percentage);
  if (w >= BUCKET_SCALE) return 'on';
  if (w <= 0) return 'off';
  const value = ctx[state.bucketingKey];
  // Bucketing values are ids: strings (or numbers, which flagd's `cat` turns into their decimal text).
  if (typeof value !== 'string' && typeof value !== 'number') return 'off';
  if (value === '' || value === 0) return 'off';
  return bucketIndex(flagKey, String(value)) < w ? 'on' : 'off';
}

export function evaluateFlag(flag: FlagState, ctx: Record<string, unknown>): Variant {
  const tenant = ctx[TENANT_ATTRIBUTE];
  const state =
    typeof tenant === 'string' && tenant in flag.tenants ? flag.tenants[tenant] : flag.defaultState;
  return evaluateState(flagdKey(flag.service, flag.key), state, ctx);
}

type Logic = Variant | Record<string, unknown>;

function stateLogic(s: TenantFlagState | null): Logic {
  if (!s || !s.enabled) return 'off';
  const w = onWeight(s.percentage);
  let split: Logic;
  if (w >= BUCKET_SCALE) split = 'on';
  else if (w <= 0) split = 'off';
  else {
    split = {
      if: [
        { var: s.bucketingKey },
        {
          fractional: [
            { cat: [{ var: '$flagd.flagKey' }, { var: s.bucketingKey }] },
            ['on', w],
            ['off', BUCKET_SCALE - w],
          ],
        },
        'off',
      ],
    };
  }
  if (s.cohort && s.cohort.members.length > 0) {
    return { if: [{ in: [{ var: s.cohort.attribute }, [...s.cohort.members].sort()] }, 'on', split] };
  }
  return split;
}

/** Tenants grouped by identical state, in a deterministic order. */
export function groupTenants(
  tenants: Record<string, TenantFlagState>,
): { state: TenantFlagState; tenants: string[] }[] {
  const groups = new Map<string, { state: TenantFlagState; tenants: string[] }>();
  for (const t of Object.keys(tenants).sort()) {
    const s = tenants[t]!;
    const k = canonicalState(s);
    const g = groups.get(k);
    if (g) g.tenants.push(t);
    else groups.set(k, { state: s, tenants: [t] });
  }
  return [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, g]) => g);
}

export interface FlagdFlag {
  state: 'ENABLED' | 'DISABLED';
  variants: { on: boolean; off: boolean };
  defaultVariant: Variant;
  targeting?: Record<string, unknown>;
  metadata?: Record<string, string | number | boolean>;
}

/** Renders one flag to a flagd flag definition. */
export function renderFlagdFlag(flag: FlagState): FlagdFlag {
  // Tenants whose state is the default need no branch of their own (keeps an "all tenants" flip small).
  const defaultKey = flag.defaultState ? canonicalState(flag.defaultState) : undefined;
  const groups = groupTenants(flag.tenants).filter((g) => canonicalState(g.state) !== defaultKey);
  const defaultLogic = stateLogic(flag.defaultState);
  const metadata = { service: flag.service, managedBy: 'cutover-operator' };
  const variants = { on: true, off: false };
  if (groups.length === 0 && typeof defaultLogic === 'string') {
    return { state: 'ENABLED', variants, defaultVariant: defaultLogic, metadata };
  }
  const branches: unknown[] = [];
  for (const g of groups) {
    branches.push({ in: [{ var: TENANT_ATTRIBUTE }, g.tenants] }, stateLogic(g.state));
  }
  branches.push(defaultLogic);
  const targeting = branches.length === 1 ? (defaultLogic as Record<string, unknown>) : { if: branches };
  return { state: 'ENABLED', variants, defaultVariant: 'off', targeting, metadata };
}

export interface FlagdDocument {
  $schema: string;
  flags: Record<string, FlagdFlag>;
}

export function renderFlagdDocument(flags: FlagState[]): FlagdDocument {
  const out: Record<string, FlagdFlag> = {};
  for (const f of [...flags].sort((a, b) =>
    flagdKey(a.service, a.key).localeCompare(flagdKey(b.service, b.key)),
  )) {
    out[flagdKey(f.service, f.key)] = renderFlagdFlag(f);
  }
  return { $schema: FLAGD_SCHEMA, flags: out };
}

/** The state a FlagSpec asks for, applied to a flag's current state (pure). */
export function applySpecToState(
  current: FlagState,
  spec: {
    tenants: string[] | 'all';
    enabled: boolean;
    percentage: number;
    cohort?: FlagCohort;
    bucketingKey: string;
  },
): FlagState {
  const s: TenantFlagState = {
    enabled: spec.enabled,
    percentage: spec.percentage,
    cohort: spec.cohort ?? null,
    bucketingKey: spec.bucketingKey,
  };
  canonicalState(s);
  if (spec.tenants === 'all') {
    const tenants: Record<string, TenantFlagState> = {};
    for (const t of Object.keys(current.tenants)) tenants[t] = s;
    return { ...current, defaultState: s, tenants };
  }
  const tenants = { ...current.tenants };
  for (const t of spec.tenants) tenants[t] = s;
  return { ...current, tenants };
}
