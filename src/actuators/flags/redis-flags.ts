/**
 * Feature flags in Redis (layout documented in ./README.md).
 *
 * A flip is one Lua script, so every tenant of a service's flag changes together or not at all:
 * Redis runs a script atomically and persists (AOF) and replicates its effects as one MULTI/EXEC,
 * so even a Redis killed during the flip comes back with all tenants old or all new. The script
 * compares before writing (a repeated flip writes nothing and keeps the version), records each
 * field's value before its first change in the `:previous` hash (the restore record, crash-safe
 * because it is written in the same transaction), bumps the version and publishes it.
 */
import { Redis } from 'ioredis';
import { createLogger } from '../../runtime/logger.js';
import type { FlagSpec, TenantFlagState } from '../types.js';
import {
  canonicalState,
  evaluateState,
  flagdKey,
  parseState,
  type FlagState,
  type Variant,
} from './flag-model.js';

const log = createLogger('actuators.flags.redis');

export const DEFAULT_TENANT_FIELD = '*';
const ABSENT = '!absent';

const FLIP_SCRIPT = `
local state = ARGV[1]
local mode = ARGV[2]
local fields = {}
if mode == 'all' then
  fields = redis.call('HKEYS', KEYS[1])
  table.insert(fields, '*')
else
  for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
end
local changed = 0
for _, f in ipairs(fields) do
  local cur = redis.call('HGET', KEYS[1], f)
  if cur ~= state then
    if cur then redis.call('HSETNX', KEYS[3], f, cur) else redis.call('HSETNX', KEYS[3], f, '${ABSENT}') end
    redis.call('HSET', KEYS[1], f, state)
    changed = changed + 1
  end
end
local v
if changed > 0 then
  v = redis.call('INCR', KEYS[2])
  redis.call('SADD', KEYS[4], ARGV[3])
  redis.call('PUBLISH', ARGV[4], tostring(v))
else
  v = tonumber(redis.call('GET', KEYS[2]) or '0')
end
return {changed, v}
`;

const RESTORE_SCRIPT = `
local prev = redis.call('HGETALL', KEYS[3])
if #prev == 0 then return {0, tonumber(redis.call('GET', KEYS[2]) or '0')} end
for i = 1, #prev, 2 do
  if prev[i + 1] == '${ABSENT}' then redis.call('HDEL', KEYS[1], prev[i]) else redis.call('HSET', KEYS[1], prev[i], prev[i + 1]) end
end
redis.call('DEL', KEYS[3])
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], tostring(v))
return {#prev / 2, v}
`;

export interface RedisFlagRestore {
  store: 'redis';
  service: string;
  key: string;
  /** Version after the apply. */
  version: number;
  /** Tenant fields written by this apply (0 when the state was already as desired). */
  changed: number;
}

export interface RedisFlagKeys {
  hash: string;
  version: string;
  previous: string;
  channel: string;
  index: string;
}

type FlagCommands = {
  cutoverFlagFlip(...args: (string | number)[]): Promise<[number, number]>;
  cutoverFlagRestore(...args: (string | number)[]): Promise<[number, number]>;
};

export class RedisFlagStore {
  private readonly redis: Redis & FlagCommands;

  constructor(
    redis: Redis,
    private readonly prefix = 'cutover:',
  ) {
    this.redis = redis as Redis & FlagCommands;
    if (!('cutoverFlagFlip' in redis)) {
      redis.defineCommand('cutoverFlagFlip', { numberOfKeys: 4, lua: FLIP_SCRIPT });
      redis.defineCommand('cutoverFlagRestore', { numberOfKeys: 3, lua: RESTORE_SCRIPT });
    }
  }

  keys(service: string, key: string): RedisFlagKeys {
    flagdKey(service, key);
    const base = `${this.prefix}flags:${service}:${key}`;
    return {
      hash: base,
      version: `${base}:version`,
      previous: `${base}:previous`,
      channel: `${base}:changes`,
      index: `${this.prefix}flags:index`,
    };
  }

  /** Makes the service's flag for the spec's tenants equal to the spec, atomically. */
  async apply(spec: FlagSpec): Promise<RedisFlagRestore> {
    const k = this.keys(spec.service, spec.key);
    const state: TenantFlagState = {
      enabled: spec.enabled,
      percentage: spec.percentage,
      cohort: spec.cohort ?? null,
      bucketingKey: spec.bucketingKey,
    };
    const json = canonicalState(state);
    const member = `${spec.service}:${spec.key}`;
    const tenants = spec.tenants === 'all' ? [] : spec.tenants;
    const mode = spec.tenants === 'all' ? 'all' : 'list';
    const [changed, version] = await this.redis.cutoverFlagFlip(
      k.hash,
      k.version,
      k.previous,
      k.index,
      json,
      mode,
      member,
      k.channel,
      ...tenants,
    );
    if (changed > 0) {
      log.info(
        { service: spec.service, flag: spec.key, changed, version, percentage: spec.percentage },
        'flag flipped',
      );
    }
    return {
      store: 'redis',
      service: spec.service,
      key: spec.key,
      version: Number(version),
      changed: Number(changed),
    };
  }

  /** Puts back every tenant field as it was before the first apply since the last restore. */
  async restore(service: string, key: string): Promise<{ restored: number; version: number }> {
    const k = this.keys(service, key);
    const [restored, version] = await this.redis.cutoverFlagRestore(k.hash, k.version, k.previous, k.channel);
    if (restored > 0) log.info({ service, flag: key, restored, version }, 'flag restored');
    return { restored: Number(restored), version: Number(version) };
  }

  async version(service: string, key: string): Promise<number> {
    return Number((await this.redis.get(this.keys(service, key).version)) ?? '0');
  }

  /** The whole flag as stored. */
  async read(service: string, key: string): Promise<FlagState> {
    const all = await this.redis.hgetall(this.keys(service, key).hash);
    const tenants: Record<string, TenantFlagState> = {};
    let defaultState: TenantFlagState | null = null;
    for (const [f, v] of Object.entries(all)) {
      if (f === DEFAULT_TENANT_FIELD) defaultState = parseState(v);
      else tenants[f] = parseState(v);
    }
    return { service, key, defaultState, tenants };
  }

  /** What an application reading Redis decides for a context (tenantId, session/user ids, cohort ids). */
  async evaluate(service: string, key: string, ctx: Record<string, unknown>): Promise<Variant> {
    const tenant = typeof ctx.tenantId === 'string' ? ctx.tenantId : DEFAULT_TENANT_FIELD;
    const [own, def] = await this.redis.hmget(this.keys(service, key).hash, tenant, DEFAULT_TENANT_FIELD);
    const text = own ?? def;
    return evaluateState(flagdKey(service, key), text ? parseState(text) : null, ctx);
  }

  /**
   * Calls `onChange(version)` on every change of the flag. Uses its own subscriber connection;
   * returns a function that unsubscribes and closes it.
   */
  async watch(
    service: string,
    key: string,
    onChange: (version: number) => void,
  ): Promise<() => Promise<void>> {
    const channel = this.keys(service, key).channel;
    const sub = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    sub.on('error', (err: Error) =>
      log.debug({ err: err.message, channel }, 'flag watcher connection error'),
    );
    sub.on('message', (ch: string, msg: string) => {
      if (ch === channel) onChange(Number(msg));
    });
    await sub.subscribe(channel);
    return async () => {
      await sub.unsubscribe(channel);
      sub.disconnect();
    };
  }
}

export { ABSENT as REDIS_ABSENT_MARKER };
