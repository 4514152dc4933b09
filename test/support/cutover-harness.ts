/**
 * What the Cutover tests share: the Cutover builders (a `pos` service on an HTTPRoute, the
 * databases, the freeze with the POS queue), the operators that run it (in this process, or as
 * `cutover operator` processes killed and restarted), and the world checks (where a route sends
 * traffic, the flags, whether legacy takes the application's writes, which Jobs ran).
 */
import { existsSync, readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import type { Redis } from 'ioredis';
import type {
  Cutover,
  CutoverService,
  CutoverSpec,
  CutoverStatus,
  JobTemplate,
} from '../../src/api/index.js';
import { CUTOVER } from '../../src/controllers/kinds.js';
import type { KubeClient, KubeObject } from '../../src/runtime/kube-client.js';
import { loadKubeConfig } from '../../src/runtime/kubeconfig.js';
import { Operator } from '../../src/runtime/operator.js';
import { parseOperatorOptions } from '../../src/runtime/options.js';
import type { ControllerSpec } from '../../src/runtime/controller.js';
import { HTTP_ROUTE } from '../../src/runtime/resources.js';
import { RedisFlagStore } from '../../src/actuators/flags/redis-flags.js';
import { recordingOptions, followOperator } from './api-usage.js';
import { startOperator, type OperatorProcess } from './operator-process.js';
import type { OwnMariadb } from '../integration/actuators/own-servers.js';

export type CutoverObject = Cutover & KubeObject;
export type Route = KubeObject & {
  spec: { rules: { backendRefs: { name: string; port?: number; weight?: number }[] }[] };
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An RFC 3339 time without milliseconds, as the Cutover's fields take it. */
export const isoSeconds = (t: number | Date): string => new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');

// ------------------------------------------------------------------------------ builders

/** A Cutover object around `spec`. */
export function cutoverObject(name: string, namespace: string, spec: CutoverSpec): CutoverObject {
  return { apiVersion: 'cutover.nokta.io/v1alpha1', kind: 'Cutover', metadata: { name, namespace }, spec };
}

/** The `pos` service: its traffic on the HTTPRoute `route` (pos-legacy → pos-v2), flag `pos.new-stack`. */
export function posService(route: string, opts: { flag?: boolean } = {}): CutoverService {
  return {
    name: 'pos',
    ...(opts.flag === false ? {} : { flagKey: 'pos.new-stack' }),
    traffic: {
      httpRoute: {
        name: route,
        legacyBackend: { name: 'pos-legacy', port: 8080 },
        newBackend: { name: 'pos-v2', port: 8080 },
      },
    },
    legacy: { name: 'pos-legacy' },
    new: { name: 'pos-v2' },
  };
}

/** Legacy from the Secret `legacy-admin`, the new stack from `new-db` (or a URL). */
export function cutoverDatabases(targetUrl?: string): CutoverSpec['databases'] {
  return {
    legacy: { engine: 'mysql', secretRef: { name: 'legacy-admin' } },
    target: targetUrl
      ? { engine: 'postgres', url: targetUrl }
      : { engine: 'postgres', secretRef: { name: 'new-db' } },
  };
}

/** Flags in Redis (Secret `redis`) under `keyPrefix`. */
export function redisFlags(keyPrefix: string): NonNullable<CutoverSpec['flagProvider']> {
  return { type: 'Redis', redis: { secretRef: { name: 'redis' }, keyPrefix } };
}

/** The freeze: read_only, the POS offline queue (unless `pos: false`), verified as `legacy-app`. */
export function cutoverFreeze(opts: { pos?: boolean } = {}): NonNullable<CutoverSpec['freeze']> {
  return {
    method: 'ReadOnly',
    ...(opts.pos === false ? {} : { posOffline: { service: 'pos', flagKey: 'pos.offline-queue' } }),
    verification: { secretRef: { name: 'legacy-app' }, table: 'cutover_freeze_probe' },
  };
}

/**
 * The spec most Cutover tests start from: `pos` on the HTTPRoute `route`, the databases, flags
 * in Redis under `keyPrefix`, the freeze (with the POS queue unless `pos: false`) and a
 * timeline starting at `startAt` (ms); `more` is merged over it.
 */
export function baseCutoverSpec(opts: {
  route: string;
  keyPrefix: string;
  startAt: number;
  steps: CutoverSpec['timeline']['steps'];
  pos?: boolean;
  flag?: boolean;
  targetUrl?: string;
  more?: Partial<CutoverSpec>;
}): CutoverSpec {
  return {
    services: [posService(opts.route, { flag: opts.flag ?? true })],
    databases: cutoverDatabases(opts.targetUrl),
    flagProvider: redisFlags(opts.keyPrefix),
    freeze: cutoverFreeze({ pos: opts.pos ?? true }),
    timeline: { startAt: isoSeconds(opts.startAt), steps: opts.steps },
    ...opts.more,
  };
}

/** A Job template running `script` with Node (the pod runner runs it when `podLabels` say so), no retries. */
export function nodeJob(
  script: string,
  env: JobTemplate['env'] = [],
  podLabels: Record<string, string> = {},
): JobTemplate {
  return {
    image: 'node',
    command: ['node', '--input-type=module', '-e', script],
    env,
    podLabels,
    backoffLimit: 0,
  };
}

/** An HTTPRoute `name` whose one rule sends everything to `backend` (port 8080). */
export async function createLegacyRoute(
  admin: KubeClient,
  ns: string,
  name: string,
  backend = 'pos-legacy',
  annotations?: Record<string, string>,
): Promise<void> {
  await admin.create(HTTP_ROUTE, ns, {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) },
    spec: {
      parentRefs: [{ name: 'public-gw' }],
      rules: [{ backendRefs: [{ name: backend, port: 8080 }] }],
    },
  });
}

// ------------------------------------------------------------------------------ operators

/** An operator in this process running `controllers` as the identity's ServiceAccount. */
export async function startInProcessOperator(
  kubeconfig: string,
  ns: string,
  identity: string,
  controllers: ControllerSpec<KubeObject>[],
  component: string,
  extraArgs: string[] = [],
): Promise<Operator> {
  const parsed = parseOperatorOptions(
    [
      '--no-leader-elect',
      '--namespaces',
      ns,
      '--listen-address',
      '127.0.0.1:0',
      '--identity',
      identity,
      ...extraArgs,
    ],
    {},
  );
  if (parsed.kind !== 'options') throw new Error('bad options');
  const op = new Operator(parsed.options, controllers, {
    kc: await loadKubeConfig(kubeconfig),
    ...recordingOptions(component),
  });
  await op.start();
  return op;
}

/** `cutover operator --controllers cutover` as a process (CUTOVER_CRASH_AT when given), followed for API usage. */
export function startCutoverProcess(
  kubeconfig: string,
  ns: string,
  env: Record<string, string> = {},
  args: string[] = [],
): OperatorProcess {
  const op = startOperator(
    [
      '--kubeconfig',
      kubeconfig,
      '--namespaces',
      ns,
      '--no-leader-elect',
      '--controllers',
      'cutover',
      ...args,
    ],
    env,
  );
  followOperator('controllers/cutover', op);
  return op;
}

/**
 * Runs one operator process per crash point (each dies there with SIGKILL; `before(i)` runs
 * first, e.g. to trigger a rollback); returns the points never reached within `ms`.
 */
export async function runUntilEachCrash(
  points: string[],
  start: (crashAt: string) => OperatorProcess,
  opts: { ms?: number; before?: (i: number) => Promise<void> } = {},
): Promise<{ missed: string[]; last?: OperatorProcess }> {
  const missed: string[] = [];
  let last: OperatorProcess | undefined;
  for (const [i, p] of points.entries()) {
    await opts.before?.(i);
    last = start(p);
    const code = await Promise.race([last.exited(), sleep(opts.ms ?? 30_000).then(() => 'running' as const)]);
    if (code === 'running') {
      missed.push(`${i}:${p}`);
      await last.kill();
    } else if (code !== null)
      throw new Error(`exited ${code} instead of dying at ${p}:\n${last.output().slice(-2000)}`);
  }
  return { missed, ...(last ? { last } : {}) };
}

// ------------------------------------------------------------------------------ the world

/** Reads a Cutover's status and waits for it to hold. */
export class CutoverWatch {
  constructor(
    private readonly admin: KubeClient,
    private readonly ns: string,
  ) {}

  async status(name: string): Promise<CutoverStatus> {
    return (await this.admin.tryGet<CutoverObject>(CUTOVER, this.ns, name))?.status ?? {};
  }

  /** Waits until `ok` holds; with `noRollback`, a rollback fails the wait at once. */
  async waitFor(
    name: string,
    what: string,
    ok: (s: CutoverStatus) => boolean,
    opts: { ms?: number; noRollback?: boolean } = {},
  ): Promise<CutoverStatus> {
    const end = Date.now() + (opts.ms ?? 120_000);
    for (;;) {
      const s = await this.status(name);
      if (opts.noRollback && (s.phase === 'RollingBack' || s.phase === 'RolledBack'))
        throw new Error(`rolled back while waiting for ${what}: ${JSON.stringify(s.rollback)}`);
      if (ok(s)) return s;
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s).slice(0, 2500)}`);
      await sleep(200);
    }
  }

  /** An HTTPRoute's weights by backend (1 when unset). */
  async routeWeights(route: string): Promise<Record<string, number>> {
    return routeWeights(this.admin, this.ns, route);
  }
}

export async function routeWeights(
  admin: KubeClient,
  ns: string,
  route: string,
): Promise<Record<string, number>> {
  const r = await admin.get<Route>(HTTP_ROUTE, ns, route);
  return Object.fromEntries(r.spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight ?? 1]));
}

/** The step named `name` in a status. */
export const stepOf = (
  s: CutoverStatus,
  name: string,
): NonNullable<CutoverStatus['steps']>[number] | undefined => s.steps?.find((x) => x.name === name);

/** Whether the flag `key` of `service` is on for everyone (defaultState). */
export async function flagOn(redis: Redis, prefix: string, service: string, key: string): Promise<boolean> {
  return (await new RedisFlagStore(redis, prefix).read(service, key)).defaultState?.enabled === true;
}

/** Removes every Redis key under `prefix` and disconnects. */
export async function dropRedisPrefix(redis: Redis | undefined, prefix: string): Promise<void> {
  if (!redis) return;
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}

/** The application's account on the own MariaDB. */
export interface LegacyApp {
  user: string;
  password: string;
}

/**
 * The database `legacy` on the own MariaDB with the freeze probe table and an application user
 * (`grants` on legacy.*); `statements` run first (`legacy.` qualified; `[sql, params]` with parameters).
 */
export async function prepareLegacy(
  maria: OwnMariadb,
  app: LegacyApp,
  statements: (string | [string, unknown[]])[] = [],
  grants = 'SELECT, INSERT, UPDATE, DELETE',
): Promise<void> {
  const root = await mysql.createConnection({ socketPath: maria.socket, user: 'root', timezone: 'Z' });
  await root.query('CREATE DATABASE legacy');
  for (const q of statements) await (typeof q === 'string' ? root.query(q) : root.query(q[0], q[1]));
  await root.query(
    'CREATE TABLE legacy.cutover_freeze_probe (id INT AUTO_INCREMENT PRIMARY KEY, probed_at DATETIME(3) NOT NULL)',
  );
  await root.query(`CREATE USER '${app.user}'@'%' IDENTIFIED BY '${app.password}'`);
  await root.query(`GRANT ${grants} ON legacy.* TO '${app.user}'@'%'`);
  await root.end();
}

/** The admin and the application URLs of the own MariaDB's `legacy`. */
export function legacyUrls(maria: OwnMariadb, app: LegacyApp): { admin: string; app: string } {
  return {
    admin: `mysql://root@localhost/legacy?socket=${encodeURIComponent(maria.socket)}`,
    app: `mysql://${app.user}:${app.password}@127.0.0.1:${maria.port}/legacy`,
  };
}

/** An INSERT as the application: 'refused' when legacy is read-only (error 1290). */
export async function appWrite(
  maria: OwnMariadb,
  app: LegacyApp,
  sql: string,
  params: unknown[],
): Promise<'ok' | 'refused'> {
  const c = await mysql.createConnection({
    host: '127.0.0.1',
    port: maria.port,
    user: app.user,
    password: app.password,
    database: 'legacy',
    timezone: 'Z',
  });
  try {
    await c.query(sql, params);
    return 'ok';
  } catch (e) {
    if ((e as { errno?: number }).errno === 1290) return 'refused';
    throw e;
  } finally {
    await c.end();
  }
}

/** Whether the own MariaDB has GLOBAL read_only on. */
export async function legacyReadOnly(maria: OwnMariadb): Promise<boolean> {
  const root = await mysql.createConnection({ socketPath: maria.socket, user: 'root' });
  try {
    const [rows] = await root.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.read_only AS ro');
    return Number(rows[0]!.ro) === 1;
  } finally {
    await root.end();
  }
}

/** The lines Jobs appended to `path` (one JSON object a pod run). */
export function jobLines<T = Record<string, string>>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}
