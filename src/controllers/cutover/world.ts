/**
 * The Cutover's hands: the only file that calls actuators. `readWorld` reads back the effects the
 * decision waits for (routes, flags, legacy read_only, the report ConfigMap); `act` performs one
 * action, idempotently ("make it so"). Connections come from Secrets, read when needed, never
 * logged.
 */
import { Redis } from 'ioredis';
import type { Cutover, CutoverService, SecretKeyRef } from '../../api/index.js';
import { TrafficActuator } from '../../actuators/traffic/traffic.js';
import { RedisFlagStore } from '../../actuators/flags/redis-flags.js';
import { JobActuator } from '../../actuators/workloads/jobs.js';
import { DeploymentActuator } from '../../actuators/workloads/deployments.js';
import { freezeLegacy, liftLegacyFreeze, readFreezeState } from '../../actuators/freeze/legacy-freeze.js';
import type {
  FlagSpec,
  FreezeTarget,
  JobEnvVar,
  MysqlConnection,
  TrafficTarget,
} from '../../actuators/types.js';
import { isNotFound, type KubeClient, type KubeObject } from '../../runtime/kube-client.js';
import { CONFIG_MAP, SECRET } from '../../runtime/resources.js';
import { renderReport } from '../../notify/report.js';
import type { Action, ObservedWorld } from './observed.js';
import { actShadowProxies, readShadowProxies, type ObservedShadowProxy } from './shadow-proxy.js';

export const LABEL_CUTOVER = 'cutover.nokta.io/cutover';
export const FREEZE_RECORD_TABLE = 'cutover_freeze_records';

export async function secretValue(client: KubeClient, ns: string, ref: SecretKeyRef): Promise<string> {
  try {
    const s = await client.get<KubeObject & { data?: Record<string, string> }>(SECRET, ns, ref.name);
    const v = s.data?.[ref.key ?? 'url'];
    if (v === undefined) throw new Error(`Secret ${ns}/${ref.name} has no key '${ref.key ?? 'url'}'`);
    return Buffer.from(v, 'base64').toString('utf8');
  } catch (e) {
    if (isNotFound(e))
      throw new Error(`Secret ${ns}/${ref.name} not found: create it (key '${ref.key ?? 'url'}')`, {
        cause: e,
      });
    throw e;
  }
}

/** mysql://user:pass@host:port/db or mysql://user@localhost/db?socket=/path → a connection. */
export function mysqlConnection(url: string): MysqlConnection {
  const u = new URL(url);
  const c: MysqlConnection = { user: decodeURIComponent(u.username) || 'root' };
  if (u.password) c.password = decodeURIComponent(u.password);
  const socket = u.searchParams.get('socket');
  if (socket) c.socketPath = socket;
  else {
    c.host = u.hostname || '127.0.0.1';
    c.port = u.port ? Number(u.port) : 3306;
  }
  const db = u.pathname.replace(/^\//, '');
  if (db) c.database = decodeURIComponent(db);
  return c;
}

/** A flag key as the flag store takes it (`pos.new-stack` → `pos-new-stack`). */
export function flagStoreKey(flagKey: string): string {
  return flagKey
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

export function trafficTarget(ns: string, s: CutoverService): TrafficTarget | undefined {
  if (s.traffic?.httpRoute)
    return {
      kind: 'HTTPRoute',
      namespace: ns,
      name: s.traffic.httpRoute.name,
      legacyBackend: s.traffic.httpRoute.legacyBackend,
      newBackend: s.traffic.httpRoute.newBackend,
    };
  if (s.traffic?.ingress)
    return {
      kind: 'Ingress',
      namespace: ns,
      stableIngress: s.traffic.ingress.name,
      canaryService: s.traffic.ingress.newBackend.name,
      canaryPort: s.traffic.ingress.newBackend.port,
    };
  return undefined;
}

/** Per-Cutover connections (Redis client, freeze record), reused across syncs. */
export class CutoverWorld {
  private redis?: Redis;
  private redisUrl?: string;
  /** Whether the last freeze's verification write was refused. */
  freezeVerified?: boolean;
  /** Integration checks probed: HTTP status or error. */
  readonly probes: Record<string, { status?: number; error?: string }> = {};

  constructor(
    private readonly client: KubeClient,
    private co: () => Cutover,
  ) {}

  /**
   * The Cutover this world acts for, as the current sync sees it. The world outlives a sync, so
   * each sync hands it its own copy (a getter kept from the first sync would render reports from
   * the Cutover as it was then, with no status).
   */
  follow(co: () => Cutover): void {
    this.co = co;
  }

  private get ns(): string {
    return this.co().metadata.namespace ?? 'default';
  }

  async close(): Promise<void> {
    this.redis?.disconnect();
    this.redis = undefined;
  }

  private async flags(): Promise<RedisFlagStore | undefined> {
    const p = this.co().spec.flagProvider;
    const ref = p?.redis?.secretRef ?? this.co().spec.databases.redis?.secretRef;
    if (!ref) return undefined;
    const url = await secretValue(this.client, this.ns, ref);
    if (!this.redis || this.redisUrl !== url) {
      this.redis?.disconnect();
      const redis = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: false });
      redis.on('error', () => undefined); // errors surface on the commands
      // The connection must not keep a stopping operator alive: with 100 Cutovers, 100 of them
      // held the process after SIGTERM (the runtime bench waited for its exit for good).
      redis.on('connect', () => redis.stream.unref());
      this.redis = redis;
      this.redisUrl = url;
    }
    return new RedisFlagStore(this.redis, p?.redis?.keyPrefix ?? 'cutover:');
  }

  private async freezeTarget(): Promise<FreezeTarget> {
    const spec = this.co().spec;
    const legacy = spec.databases.legacy;
    const url = legacy.secretRef ? await secretValue(this.client, this.ns, legacy.secretRef) : legacy.url!;
    const t: FreezeTarget = {
      admin: mysqlConnection(url),
      actor: `cutover-operator (Cutover ${this.ns}/${this.co().metadata.name})`,
      reason: 'cutover freeze',
    };
    const v = spec.freeze?.verification;
    if (v) {
      t.verifyWith = mysqlConnection(await secretValue(this.client, this.ns, v.secretRef));
      t.verifyTable = v.table ?? 'cutover_freeze_probe';
    }
    return t;
  }

  private posFlag(on: boolean): FlagSpec | undefined {
    const p = this.co().spec.freeze?.posOffline;
    if (!p) return undefined;
    return {
      service: p.service ?? 'pos',
      key: flagStoreKey(p.flagKey),
      tenants: 'all',
      enabled: on,
      percentage: on ? 100 : 0,
      bucketingKey: 'tenantId',
    };
  }

  /** The effects decide waits for, read back. */
  async read(reportKeys: string[], exportLagSeconds: number | undefined): Promise<ObservedWorld> {
    const co = this.co();
    const w: ObservedWorld = {
      traffic: {},
      flags: {},
      reportKeys,
      ...(exportLagSeconds !== undefined ? { exportLagSeconds } : {}),
    };
    const traffic = new TrafficActuator(this.client);
    for (const s of co.spec.services) {
      const t = trafficTarget(this.ns, s);
      if (!t) continue;
      try {
        const o = await traffic.observe(t);
        w.traffic[s.name] = o.newWeight >= 100 ? 'new' : o.newWeight <= 0 ? 'legacy' : 'mixed';
      } catch (e) {
        if (!isNotFound(e)) throw e;
        w.traffic[s.name] = 'legacy';
      }
    }
    const flags = await this.flags();
    if (flags) {
      for (const s of co.spec.services) {
        if (!s.flagKey) continue;
        const f = await flags.read(s.name, flagStoreKey(s.flagKey));
        const on = f.defaultState?.enabled === true || Object.values(f.tenants).some((t) => t.enabled);
        w.flags[s.name] = on ? 'on' : 'off';
      }
      const pos = this.posFlag(true);
      if (pos) {
        const f = await flags.read(pos.service, pos.key);
        w.posOffline = f.defaultState?.enabled === true;
      }
    }
    if (co.spec.freeze) {
      const state = await readFreezeState((await this.freezeTarget()).admin);
      w.legacyReadOnly = state.readOnly;
      if (this.freezeVerified !== undefined) w.freezeVerified = this.freezeVerified;
    }
    return w;
  }

  /** The comparing shadow proxies read back, with their metric (shadow-proxy.ts). */
  readShadowProxies(now: Date): Promise<Record<string, ObservedShadowProxy>> {
    return readShadowProxies(this.client, this.co(), now);
  }

  /** One action, idempotent. */
  async act(
    a: Action,
    env: {
      owner: { apiVersion: string; kind: string; name: string; uid: string };
      now: Date;
      image?: string;
    },
  ): Promise<void> {
    const co = this.co();
    switch (a.kind) {
      case 'ShadowProxy':
        await actShadowProxies(this.client, co, a, { owner: env.owner, image: env.image ?? '' });
        return;
      case 'CreateJob': {
        const t = a.template;
        const vars: JobEnvVar[] = [
          ...(t.env ?? []).map((e) =>
            e.secretKeyRef
              ? {
                  name: e.name,
                  secretKeyRef: { name: e.secretKeyRef.name, key: e.secretKeyRef.key ?? 'url' },
                }
              : { name: e.name, value: e.value ?? '' },
          ),
          ...Object.entries(a.env as unknown as Record<string, string>).map(([name, value]) => ({
            name,
            value,
          })),
        ];
        await new JobActuator(this.client).ensureJob({
          namespace: this.ns,
          ownerName: co.metadata.name,
          step: a.purpose,
          name: a.name,
          image: t.image,
          command: t.command,
          ...(t.args ? { args: t.args } : {}),
          env: vars,
          ...(t.completions !== undefined ? { completions: t.completions } : {}),
          ...(t.parallelism !== undefined ? { parallelism: t.parallelism } : {}),
          ...(t.completionMode === 'Indexed' ? { indexed: true } : {}),
          ...(t.backoffLimit !== undefined ? { backoffLimit: t.backoffLimit } : {}),
          ...(t.activeDeadlineSeconds !== undefined
            ? { activeDeadlineSeconds: t.activeDeadlineSeconds }
            : {}),
          ...(t.serviceAccountName ? { serviceAccountName: t.serviceAccountName } : {}),
          labels: { [LABEL_CUTOVER]: co.metadata.name },
          ...(t.podLabels ? { podLabels: t.podLabels } : {}),
          ...(t.pod ? { pod: t.pod } : {}),
          owner: env.owner,
        });
        return;
      }
      case 'DeleteJob':
        await new JobActuator(this.client).deleteJob(this.ns, a.name);
        return;
      case 'FreezeLegacy': {
        const pos = this.posFlag(true);
        const flags = pos ? await this.flags() : undefined;
        const record = await freezeLegacy(await this.freezeTarget(), {
          recordTable: FREEZE_RECORD_TABLE,
          ...(pos && flags ? { posOffline: { flags, spec: pos } } : {}),
        });
        this.freezeVerified = record.verified === true;
        return;
      }
      case 'ReopenLegacyWrites':
        await liftLegacyFreeze(await this.freezeTarget(), undefined, { recordTable: FREEZE_RECORD_TABLE });
        return;
      case 'PosOffline': {
        const spec = this.posFlag(a.on);
        const flags = await this.flags();
        if (spec && flags) await flags.apply(spec);
        return;
      }
      case 'Traffic': {
        const traffic = new TrafficActuator(this.client, {
          managedBy: `Cutover/${this.ns}/${co.metadata.name}`,
        });
        for (const s of co.spec.services.filter((x) => a.services.includes(x.name))) {
          const t = trafficTarget(this.ns, s);
          if (t) await traffic.apply(t, { newWeight: a.to === 'new' ? 100 : 0 });
        }
        return;
      }
      case 'Flags': {
        const flags = await this.flags();
        if (!flags) throw new Error('flags need spec.flagProvider.redis (or databases.redis): add it');
        for (const s of co.spec.services.filter((x) => a.services.includes(x.name) && x.flagKey)) {
          await flags.apply({
            service: s.name,
            key: flagStoreKey(s.flagKey!),
            tenants: a.tenants ?? 'all',
            enabled: a.on,
            percentage: a.on ? 100 : 0,
            bucketingKey: 'tenantId',
          });
        }
        return;
      }
      case 'RerunReconciliation':
        // The rerun token (and, for the replay check, the window) as annotations of the Reconciliation.
        await this.client.patch(
          {
            group: 'cutover.nokta.io',
            version: 'v1alpha1',
            plural: 'reconciliations',
            kind: 'Reconciliation',
          },
          this.ns,
          a.name,
          {
            metadata: {
              annotations: {
                'cutover.nokta.io/rerun': a.token,
                ...(a.window ? { 'cutover.nokta.io/window': `${a.window.from}/${a.window.to}` } : {}),
              },
            },
          },
        );
        return;
      case 'ProbeIntegration': {
        const check = co.spec.preparation?.integrationChecks?.find((c) => c.name === a.name);
        if (!check) return;
        const headers: Record<string, string> = {};
        if (check.header)
          headers[check.header.name] = await secretValue(this.client, this.ns, check.header.secretRef);
        try {
          const res = await fetch(check.url, {
            method: check.method ?? 'GET',
            headers,
            signal: AbortSignal.timeout(10_000),
          });
          this.probes[a.key] = { status: res.status };
        } catch (e) {
          this.probes[a.key] = { error: `probe failed: ${(e as Error).message}` };
        }
        return;
      }
      case 'ScaleLegacy': {
        const d = new DeploymentActuator(this.client);
        for (const s of co.spec.services)
          if ((s.legacy.kind ?? 'Deployment') === 'Deployment') {
            try {
              await d.scaleDeployment(this.ns, s.legacy.name, a.replicas);
            } catch (e) {
              if (!isNotFound(e)) throw e;
            }
          }
        return;
      }
      case 'WriteReport': {
        const name = co.spec.report?.configMapName ?? `${co.metadata.name}-report`;
        const existing = await this.client.tryGet<KubeObject & { data?: Record<string, string> }>(
          CONFIG_MAP,
          this.ns,
          name,
        );
        await this.client.createOrReplace(CONFIG_MAP, this.ns, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            name,
            namespace: this.ns,
            labels: { [LABEL_CUTOVER]: co.metadata.name },
            ownerReferences: [{ ...env.owner, controller: true }],
          },
          data: { ...(existing?.data ?? {}), [`${a.part}.md`]: renderReport(co, a.part, env.now) },
        });
        return;
      }
      case 'Notify':
        return; // the sync hands these to the notifier
    }
  }
}
