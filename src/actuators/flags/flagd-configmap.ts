/**
 * Feature flags for OpenFeature through flagd: the operator writes flag definitions (flagd JSON
 * schema) into a ConfigMap that flagd reads (`--uri file:` on the mounted ConfigMap or
 * `--uri core.openfeature.dev/...`), so applications using OpenFeature pick flags up with no code
 * of ours.
 *
 * ConfigMap data:
 *   - `flags.flagd.json`: `{ "$schema": ..., "flags": { "<service>.<key>": {...} } }`. Flags in it
 *     that the operator does not manage are kept as they are.
 *   - `cutover-flags-state.json`: the operator's per-tenant state of each managed flag and, per flag,
 *     the state before its first change (the restore record; `null` = the flag did not exist).
 * A flip is one ConfigMap write (atomic), with optimistic concurrency on resourceVersion; applying
 * the same spec again makes no write. Requests go through the runtime's `KubeClient` (in a
 * controller: `ctx.client`).
 */
import type { KubeClient, ObjectMeta } from '../../runtime/kube-client.js';
import { createLogger } from '../../runtime/logger.js';
import { use, type ApiUse } from '../../runtime/api-usage.js';
import { jsonEqual, ownerReferenceTo, retryOnConflict } from '../k8s-util.js';
import { CONFIG_MAP, type ConfigMap } from '../kube-types.js';
import type { FlagSpec, OwnerRef, TenantFlagState, WriteHook } from '../types.js';
import {
  FLAGD_SCHEMA,
  applySpecToState,
  canonicalState,
  flagdKey,
  groupTenants,
  parseState,
  renderFlagdFlag,
  type FlagState,
  type FlagdDocument,
  type FlagdFlag,
} from './flag-model.js';

const log = createLogger('actuators.flags.flagd');

export const FLAGD_DATA_KEY = 'flags.flagd.json';
export const STATE_DATA_KEY = 'cutover-flags-state.json';

/** Compact stored form: tenants grouped by state (10,000 tenants with one state cost one state). */
interface StoredFlag {
  service: string;
  key: string;
  default: TenantFlagState | null;
  groups: { state: TenantFlagState; tenants: string[] }[];
}

interface StoredState {
  flags: Record<string, StoredFlag>;
  previous: Record<string, StoredFlag | null>;
  /** The flagd definition before the first change (also of a flag someone else wrote), null = absent. */
  previousFlagd?: Record<string, FlagdFlag | null>;
}

function toStored(f: FlagState): StoredFlag {
  return {
    service: f.service,
    key: f.key,
    default: f.defaultState ? parseState(canonicalState(f.defaultState)) : null,
    groups: groupTenants(f.tenants).map((g) => ({
      state: parseState(canonicalState(g.state)),
      tenants: g.tenants,
    })),
  };
}

function fromStored(s: StoredFlag): FlagState {
  const tenants: Record<string, TenantFlagState> = {};
  for (const g of s.groups) for (const t of g.tenants) tenants[t] = g.state;
  return { service: s.service, key: s.key, defaultState: s.default, tenants };
}

export interface FlagdFlipResult {
  store: 'flagd';
  service: string;
  key: string;
  changed: boolean;
  resourceVersion?: string;
}

export class FlagdConfigMapStore {
  /** Every request it makes, for the operator's RBAC (src/runtime/api-usage.ts). */
  static readonly apiUsage: ApiUse[] = [
    use(CONFIG_MAP, ['get', 'create', 'update'], "flagd's flag definitions"),
  ];

  constructor(
    private readonly client: KubeClient,
    private readonly where: { namespace: string; name: string; owner?: OwnerRef },
    private readonly opts: { onWrite?: WriteHook } = {},
  ) {}

  private async read(): Promise<ConfigMap | undefined> {
    return this.client.tryGet<ConfigMap>(CONFIG_MAP, this.where.namespace, this.where.name);
  }

  private static parse(cm: ConfigMap | undefined): { doc: FlagdDocument; state: StoredState } {
    const docText = cm?.data?.[FLAGD_DATA_KEY];
    const stateText = cm?.data?.[STATE_DATA_KEY];
    const doc = docText ? (JSON.parse(docText) as FlagdDocument) : { $schema: FLAGD_SCHEMA, flags: {} };
    const state = stateText ? (JSON.parse(stateText) as StoredState) : { flags: {}, previous: {} };
    return { doc, state };
  }

  private async write(
    cm: ConfigMap | undefined,
    doc: FlagdDocument,
    state: StoredState,
  ): Promise<string | undefined> {
    const data: Record<string, string> = {
      ...(cm?.data ?? {}),
      [FLAGD_DATA_KEY]: JSON.stringify(doc),
      [STATE_DATA_KEY]: JSON.stringify(state),
    };
    const empty = Object.keys(state.flags).length === 0 && Object.keys(state.previous).length === 0;
    if (empty) delete data[STATE_DATA_KEY];
    if (!cm) {
      const metadata: ObjectMeta = {
        name: this.where.name,
        namespace: this.where.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'cutover-operator' },
      };
      if (this.where.owner) metadata.ownerReferences = [ownerReferenceTo(this.where.owner)];
      const created = await this.client.create<ConfigMap>(CONFIG_MAP, this.where.namespace, {
        metadata,
        data,
      });
      return created.metadata.resourceVersion;
    }
    // Replace with the resourceVersion read: a concurrent write → 409 → re-read and retry.
    const body: ConfigMap = { ...cm, data };
    const written = await this.client.replace<ConfigMap>(
      CONFIG_MAP,
      this.where.namespace,
      this.where.name,
      body,
    );
    return written.metadata.resourceVersion;
  }

  /** Makes the flag of the spec's service and tenants equal to the spec, in one ConfigMap write. */
  async apply(spec: FlagSpec): Promise<FlagdFlipResult> {
    const fk = flagdKey(spec.service, spec.key);
    return retryOnConflict(async () => {
      const cm = await this.read();
      const { doc, state } = FlagdConfigMapStore.parse(cm);
      const stored = state.flags[fk];
      const current: FlagState = stored
        ? fromStored(stored)
        : { service: spec.service, key: spec.key, defaultState: null, tenants: {} };
      const next = toStored(applySpecToState(current, spec));
      const rendered = renderFlagdFlag(fromStored(next));
      if (stored && jsonEqual(stored, next) && jsonEqual(doc.flags[fk], rendered)) {
        return {
          store: 'flagd',
          service: spec.service,
          key: spec.key,
          changed: false,
          resourceVersion: cm?.metadata.resourceVersion,
        };
      }
      if (!(fk in state.previous)) {
        state.previous[fk] = stored ?? null;
        state.previousFlagd = { ...(state.previousFlagd ?? {}), [fk]: doc.flags[fk] ?? null };
      }
      state.flags[fk] = next;
      const flags: Record<string, FlagdFlag> = { ...doc.flags, [fk]: rendered };
      const rv = await this.write(cm, { $schema: doc.$schema ?? FLAGD_SCHEMA, flags }, state);
      log.info(
        {
          configMap: `${this.where.namespace}/${this.where.name}`,
          flag: fk,
          percentage: spec.percentage,
          enabled: spec.enabled,
        },
        'flagd flag written',
      );
      this.opts.onWrite?.(`ConfigMap/${this.where.namespace}/${this.where.name}`);
      return { store: 'flagd', service: spec.service, key: spec.key, changed: true, resourceVersion: rv };
    });
  }

  /** Puts the flag back as it was before its first change (removes it if it did not exist). */
  async restore(service: string, key: string): Promise<FlagdFlipResult> {
    const fk = flagdKey(service, key);
    return retryOnConflict(async () => {
      const cm = await this.read();
      const { doc, state } = FlagdConfigMapStore.parse(cm);
      if (!cm || !(fk in state.previous)) {
        return {
          store: 'flagd',
          service,
          key,
          changed: false,
          resourceVersion: cm?.metadata.resourceVersion,
        };
      }
      const prev = state.previous[fk];
      const prevFlagd = state.previousFlagd?.[fk];
      delete state.previous[fk];
      if (state.previousFlagd) delete state.previousFlagd[fk];
      const flags = { ...doc.flags };
      if (prev) state.flags[fk] = prev;
      else delete state.flags[fk];
      if (prevFlagd) flags[fk] = prevFlagd;
      else if (prevFlagd === null) delete flags[fk];
      else if (prev) flags[fk] = renderFlagdFlag(fromStored(prev));
      else delete flags[fk];
      const rv = await this.write(cm, { $schema: doc.$schema ?? FLAGD_SCHEMA, flags }, state);
      log.info({ configMap: `${this.where.namespace}/${this.where.name}`, flag: fk }, 'flagd flag restored');
      this.opts.onWrite?.(`ConfigMap/${this.where.namespace}/${this.where.name}`);
      return { store: 'flagd', service, key, changed: true, resourceVersion: rv };
    });
  }

  /** The flagd document as flagd reads it. */
  async document(): Promise<FlagdDocument> {
    return FlagdConfigMapStore.parse(await this.read()).doc;
  }

  async flag(service: string, key: string): Promise<FlagState | undefined> {
    const s = FlagdConfigMapStore.parse(await this.read()).state.flags[flagdKey(service, key)];
    return s ? fromStored(s) : undefined;
  }
}
