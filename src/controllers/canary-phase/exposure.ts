/**
 * Applies and restores a CanaryPhase's exposure through the actuators (idempotent, crash-safe):
 * each service's flag (Redis or flagd ConfigMap) and route (HTTPRoute weights or canary Ingress).
 * Restore uses the actuators' restore records: every change the phase made is given back exactly.
 */
import { Redis } from 'ioredis';
import { FlagdConfigMapStore } from '../../actuators/flags/flagd-configmap.js';
import { RedisFlagStore } from '../../actuators/flags/redis-flags.js';
import { TrafficActuator } from '../../actuators/traffic/traffic.js';
import type { FlagSpec } from '../../actuators/types.js';
import { secretReader } from '../../analysis/secrets.js';
import type { KubeClient, KubeObject } from '../../runtime/kube-client.js';
import { CONFIG_MAP } from '../../runtime/resources.js';
import { flagSpecFor, parseMembers, routeWeightFor, type Resolved, type ResolvedService } from './resolve.js';

interface FlagStore {
  apply(spec: FlagSpec): Promise<unknown>;
  restore(service: string, key: string): Promise<unknown>;
}

/** One Redis connection per URL for the life of the process. */
const redisByUrl = new Map<string, Redis>();
function redisFor(url: string): Redis {
  const known = redisByUrl.get(url);
  if (known) return known;
  const r = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: false });
  r.on('error', () => undefined); // errors surface on the commands
  // The connection must not keep a stopping operator alive (SIGTERM → exit).
  r.on('connect', () => r.stream.unref());
  redisByUrl.set(url, r);
  return r;
}
/** Closes the Redis connections (operator shutdown, tests). */
export async function closeFlagConnections(): Promise<void> {
  const all = [...redisByUrl.values()];
  redisByUrl.clear();
  await Promise.all(all.map((r) => r.quit().catch(() => r.disconnect())));
}

export class Exposure {
  private store: Promise<FlagStore> | undefined;
  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly resolved: Resolved,
  ) {}

  private flags(): Promise<FlagStore> {
    this.store ??= (async (): Promise<FlagStore> => {
      const p = this.resolved.flagProvider;
      if (!p) throw new Error('no flagProvider');
      if (p.type === 'Flagd')
        return new FlagdConfigMapStore(this.client, {
          namespace: this.namespace,
          name: p.flagd!.configMapName,
        });
      const ref = p.redis!.secretRef;
      const url = (
        await secretReader(this.client, this.namespace)({ name: ref.name, key: ref.key ?? 'url' })
      ).trim();
      return new RedisFlagStore(redisFor(url), p.redis!.keyPrefix ?? 'cutover:');
    })();
    return this.store;
  }

  private async members(s: ResolvedService): Promise<string[] | undefined> {
    if (!s.pilot) return undefined;
    if (s.pilot.members) return [...new Set(s.pilot.members)].sort();
    const from = s.pilot.membersFrom!;
    const cm = await this.client.get<KubeObject & { data?: Record<string, string> }>(
      CONFIG_MAP,
      this.namespace,
      from.configMapName,
    );
    const text = cm.data?.[from.key];
    if (text === undefined)
      throw new Error(`ConfigMap ${this.namespace}/${from.configMapName} has no key ${from.key}`);
    return parseMembers(text);
  }

  private service(name: string): ResolvedService {
    const s = this.resolved.services.find((x) => x.name === name);
    if (!s) throw new Error(`unknown service ${name}`);
    return s;
  }

  /** Makes the services' flags and routes what `weight` says. */
  async apply(services: string[], weight: number): Promise<void> {
    const traffic = new TrafficActuator(this.client);
    await Promise.all(
      services.map(async (name) => {
        const s = this.service(name);
        if (s.routing === 'Flag')
          await (
            await this.flags()
          ).apply(flagSpecFor(s, weight, this.resolved.bucketingKey, await this.members(s)));
        if (s.traffic) await traffic.apply(s.traffic, { newWeight: routeWeightFor(s, weight) });
      }),
    );
  }

  /** Gives back every change made to the services' flags and routes (restore records). */
  async restore(services: string[]): Promise<void> {
    const traffic = new TrafficActuator(this.client);
    await Promise.all(
      services.map(async (name) => {
        const s = this.service(name);
        await Promise.all([
          s.routing === 'Flag' ? this.flags().then((f) => f.restore(s.name, s.flagKey!)) : undefined,
          s.traffic ? traffic.restore(s.traffic) : undefined,
        ]);
      }),
    );
  }
}
