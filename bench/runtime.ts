/**
 * Runtime benchmark (`npm run bench -- runtime`): the operator as shipped (`cutover operator`,
 * every registered controller, under its own ServiceAccount with deploy/operator/rbac.yaml) on a
 * real control plane, with POPULATION custom resources (1,000 Reconciliations, 100 Cutovers and
 * 100 CanaryPhases, each copied from its sample and given what it needs to idle as it would in a
 * cluster: see `manifest` and `dependencies`). Prints
 * - resident memory (RSS of the process): at start before any resource exists, with the
 *   population synced and idle, and after a restart with the population in place;
 * - what the memory at start is made of: a heap snapshot of the idle operator (code by package,
 *   bytes by V8 type, largest constructors) and the cost of importing each large dependency alone;
 * - time to readiness (every watched kind's cache synced) and to the first sync of every object,
 *   for new objects and after a restart;
 * - API requests per minute while idle (the operator's own `cutover_api_requests_total`), by verb
 *   and resource, next to what the Lease renewals alone cost.
 * Goals: RSS < 150 MB; idle requests near the Lease renewals alone.
 * BENCH_RUNTIME_POPULATION (e.g. `Reconciliation=200`) and BENCH_RUNTIME_IDLE_SECONDS (default
 * 330: longer than any 5-minute poll) change the size and the idle window. Wall times depend on
 * the machine's load (printed); the operator's CPU seconds much less.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { useCluster, stopSharedCluster } from '../test/support/cluster.js';
import { operatorIdentity } from '../test/support/operator-identity.js';
import { startOperator, type OperatorProcess } from '../test/support/operator-process.js';
import { repoRoot } from '../src/devenv/devenv-state.js';
import { KubeClient, type KubeObject, type ResourceType } from '../src/runtime/kube-client.js';
import { KINDS } from '../src/api/crds.js';
import { kindResource } from '../src/controllers/kinds.js';
import { CONFIG_MAP, SECRET } from '../src/runtime/resources.js';
import { MYSQL_ADMIN_URL, REDIS_URL } from '../test/support/databases.js';
import { summarizeHeapSnapshot, mb, type HeapSummary } from './heap-snapshot.js';
import { moduleCosts } from './module-cost.js';

type KindName = keyof typeof KINDS;

/** What the benchmark creates: the issue's 1,000 Reconciliations and 100 Cutovers and CanaryPhases. */
const POPULATION: Partial<Record<KindName, number>> = {
  Reconciliation: 1000,
  Cutover: 100,
  CanaryPhase: 100,
};

/** The sample each kind's objects are copied from (renamed, and made idle where it matters). */
const SAMPLES: Record<KindName, string> = {
  Reconciliation: 'samples/reconciliation-pos-orders.yaml',
  Cutover: 'samples/cutover-nokta.yaml',
  CanaryPhase: 'samples/canary-pos-callcenter-drivers.yaml',
};

/** Dependencies whose import cost is printed (each alone in a fresh process). */
const MODULES = [
  'prom-client',
  'pino',
  'yaml',
  'ajv',
  'cron-parser',
  'pg',
  'mysql2/promise',
  'ioredis',
  '@openfeature/flagd-core',
  '@kubernetes/client-node',
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One way of running the operator, measured side by side after a restart with the population in
 * place: `env` replaces the shipped env's entries (NODE_OPTIONS…; '' removes one), `args` are
 * added to `cutover operator`'s.
 */
interface Variant {
  name: string;
  env?: Record<string, string>;
  args?: string[];
  /** Node flags not allowed in NODE_OPTIONS (--optimize-for-size). */
  nodeArgs?: string[];
}

/** What is measured side by side (BENCH_RUNTIME_VARIANTS=name,name… picks some; `none` skips them). */
function variants(shipped: Record<string, string>): Variant[] {
  const all: Variant[] = [
    { name: 'as shipped' },
    {
      name: 'before: --max-semi-space-size=4, MALLOC_ARENA_MAX=2, --gc-after-syncs 0',
      env: { NODE_OPTIONS: '--max-semi-space-size=4', MALLOC_ARENA_MAX: '2' },
      args: ['--gc-after-syncs', '0'],
    },
    {
      name: 'Node defaults (no NODE_OPTIONS, no MALLOC_ARENA_MAX), --gc-after-syncs 0',
      env: { NODE_OPTIONS: '', MALLOC_ARENA_MAX: '' },
      args: ['--gc-after-syncs', '0'],
    },
    { name: 'shipped, --gc-after-syncs 0', args: ['--gc-after-syncs', '0'] },
    {
      name: 'shipped without --max-old-space-size',
      env: { NODE_OPTIONS: (shipped.NODE_OPTIONS ?? '').replace(/\s*--max-old-space-size=\d+/, '').trim() },
    },
    {
      name: 'shipped with --max-old-space-size=128',
      env: {
        NODE_OPTIONS: (shipped.NODE_OPTIONS ?? '').replace(
          /--max-old-space-size=\d+/,
          '--max-old-space-size=128',
        ),
      },
    },
    { name: 'shipped + --optimize-for-size', nodeArgs: ['--optimize-for-size'] },
    { name: 'shipped + --workers 1', args: ['--workers', '1'] },
  ];
  const pick = process.env.BENCH_RUNTIME_VARIANTS;
  if (!pick) return all;
  if (pick === 'none') return [];
  const names = pick.split(',').map((x) => x.trim());
  return all.filter((v) => names.some((n) => v.name === n || v.name.startsWith(n)));
}

const resourceOf = (kind: KindName): ResourceType => kindResource(kind);

function population(): Array<[KindName, number]> {
  const env = process.env.BENCH_RUNTIME_POPULATION;
  if (!env) return Object.entries(POPULATION) as Array<[KindName, number]>;
  return env.split(',').map((p) => {
    const [k, v] = p.split('=');
    if (!k || !(k in KINDS) || !v || !/^\d+$/.test(v))
      throw new Error(`BENCH_RUNTIME_POPULATION: '${p}' is not Kind=count`);
    return [k as KindName, Number(v)];
  });
}

function sample(kind: KindName): KubeObject {
  const doc = parseAllDocuments(readFileSync(join(repoRoot(), SAMPLES[kind]), 'utf8'))
    .map((d) => d.toJSON() as KubeObject | null)
    .find((d) => d?.kind === kind);
  if (!doc) throw new Error(`${SAMPLES[kind]} has no ${kind}`);
  return doc;
}

/** The Cutover every fourth Reconciliation's post-cutover schedule waits for when no Cutover is in the population (it never switches here). */
const WAITED_CUTOVER = 'bench-cutover';

const nameOf = (kind: KindName, i: number): string => `${kind.toLowerCase()}-${String(i).padStart(4, '0')}`;

/** How far the samples' plan moves into the future: whole days, so the plan starts about three years from now. */
const SHIFT_MS =
  Math.ceil((Date.now() + 3 * 365 * 86_400_000 - Date.parse('2026-11-24T00:00:00Z')) / 86_400_000) *
  86_400_000;

/** Every RFC 3339 time in the object moved by SHIFT_MS (the plan's order and gaps kept). */
function shiftTimes(v: unknown): unknown {
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z$/.test(v))
    return new Date(Date.parse(v) + SHIFT_MS).toISOString().replace('.000Z', 'Z');
  if (Array.isArray(v)) return v.map(shiftTimes);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shiftTimes(x)]));
  return v;
}

/**
 * Object i of a kind: the sample renamed, wired to the other objects of the population, and idle
 * the way it is in a real cluster before the plan begins:
 * - Reconciliations: three in four on a nightly-like cron that does not fire during the run, one
 *   in four waiting for a Cutover's traffic switch (post-cutover checks at +4h and +24h);
 * - Cutover i: the sample's plan moved three years ahead (waiting for its shadow phase), its
 *   CanaryPhase canaryphase-i and five of the Reconciliations; its preparation (migration, bulk
 *   copy and sandbox checks, one-off Jobs and probes of the Nokta sandboxes) is left out: a
 *   Cutover waiting weeks for its shadow phase has done it;
 * - CanaryPhase i: the sample's phase moved with the plan (Pending until its start, ending before
 *   the Cutover's freeze), part of cutover-i.
 * The Secrets and the ConfigMap they name exist (`dependencies`).
 */
function manifest(
  kind: KindName,
  base: KubeObject,
  i: number,
  namespace: string,
  counts: Partial<Record<KindName, number>>,
): KubeObject {
  const o = structuredClone(base);
  o.metadata = { name: nameOf(kind, i), namespace, labels: o.metadata.labels ?? {} };
  const cutovers = counts.Cutover ?? 0;
  const recons = counts.Reconciliation ?? 0;
  if (kind === 'Reconciliation') {
    (o.spec as { schedule?: unknown }).schedule =
      i % 4 === 3
        ? {
            cutoverRef: { name: cutovers ? nameOf('Cutover', i % cutovers) : WAITED_CUTOVER },
            offsets: ['+4h', '+24h'],
          }
        : { cron: '0 3 1 1 *' };
  }
  if (kind === 'Cutover') {
    const spec = shiftTimes(o.spec) as Record<string, unknown> & {
      canary?: { phases: string[] };
      shadow?: { reconciliations?: string[] };
      timeline: { steps: Array<{ reconciliations?: string[] }> };
      postCutover?: { reconciliations?: string[] };
      rollback?: { verifyReconciliation?: string };
    };
    delete spec.preparation;
    const own = recons
      ? Array.from({ length: Math.min(5, recons) }, (_, k) => nameOf('Reconciliation', (i * 5 + k) % recons))
      : [];
    if (spec.canary) spec.canary.phases = counts.CanaryPhase ? [nameOf('CanaryPhase', i)] : [];
    if (spec.shadow) spec.shadow.reconciliations = own;
    for (const step of spec.timeline.steps) if (step.reconciliations) step.reconciliations = own;
    if (spec.postCutover) spec.postCutover.reconciliations = own.slice(0, 1);
    if (spec.rollback && own.length) spec.rollback.verifyReconciliation = own[own.length - 1];
    o.spec = spec;
  }
  if (kind === 'CanaryPhase') {
    const spec = shiftTimes(o.spec) as Record<string, unknown> & {
      cutoverRef?: { name: string };
      services: Array<{ name: string; routing?: string; traffic?: unknown }>;
    };
    if (cutovers) spec.cutoverRef = { name: nameOf('Cutover', i % cutovers) };
    else delete spec.cutoverRef;
    // The two samples disagree: the canary routes call-center by Flag while the Cutover gives it
    // an HTTPRoute weight split, which the controller refuses beside flag bucketing (InvalidSpec).
    // Here call-center gets a route of its own that only flag-on sessions take, as pos has.
    for (const svc of spec.services)
      if (svc.name === 'call-center' && svc.routing === 'Flag' && svc.traffic === undefined)
        svc.traffic = {
          ingress: {
            name: 'call-center',
            newBackend: { name: 'call-center-v2', port: 8080 },
            stickiness: { header: 'X-Stack', headerValue: 'new' },
          },
        };
    o.spec = spec;
  }
  return o;
}

/** A local Slack stand-in: accepts the Cutovers' notifications and counts them. */
async function webhookSink(): Promise<{ url: string; posts: () => number; close: () => Promise<void> }> {
  let posts = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/cutover-warroom`,
    posts: () => posts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * What the samples name, so that nothing waits on a missing object: the database Secrets (the
 * Reconciliations' never dialled while idle; the Cutover reads legacy read_only as its admin
 * account, on the local MariaDB), Redis (the flag store, local Redis), the war-room webhook (a
 * local sink), the QA tracker token and the pilot drivers' ConfigMap.
 */
async function dependencies(client: KubeClient, ns: string, webhookUrl: string): Promise<void> {
  const secret = (name: string, data: Record<string, string>): Promise<unknown> =>
    client.create(SECRET, ns, { metadata: { name }, stringData: data });
  const unused = 'mysql://reconciler@127.0.0.1:1/none';
  await secret('nokta-legacy-db', { url: unused });
  await secret('nokta-new-db', { url: unused });
  await secret('nokta-legacy-admin-db', { url: MYSQL_ADMIN_URL });
  await secret('nokta-legacy-app-db', { url: MYSQL_ADMIN_URL });
  await secret('nokta-redis', { url: REDIS_URL });
  await secret('cutover-warroom-webhook', { url: webhookUrl });
  await secret('qa-tracker-token', { token: 'Bearer bench' });
  await client.create(CONFIG_MAP, ns, {
    metadata: { name: 'nokta-pilot-drivers' },
    data: { drivers: 'driver-0001\ndriver-0002\n' },
  });
}

/** The plain `value` env of the operator's container in deploy/operator/deployment.yaml (NODE_OPTIONS…): the process as shipped. */
function shippedEnv(): Record<string, string> {
  const docs = parseAllDocuments(
    readFileSync(join(repoRoot(), 'deploy', 'operator', 'deployment.yaml'), 'utf8'),
  ).map((d) => d.toJSON() as KubeObject | null);
  const dep = docs.find((d) => d?.kind === 'Deployment') as
    | {
        spec?: {
          template?: {
            spec?: { containers?: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> };
          };
        };
      }
    | undefined;
  const c = dep?.spec?.template?.spec?.containers?.find((x) => x.name === 'operator');
  return Object.fromEntries(
    (c?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value ?? '']),
  );
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds (user + system) the process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Median of `n` RSS samples one second apart. */
async function steadyRss(pid: number, n = 5): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    xs.push(rssMb(pid));
    if (i < n - 1) await sleep(1000);
  }
  return [...xs].sort((a, b) => a - b)[Math.floor(n / 2)] ?? NaN;
}

/** Where a process's resident memory is: file-backed vs anonymous (/proc), V8 heap by space (/metrics). */
async function memoryBreakdown(pid: number, port: number): Promise<Array<[string, string]>> {
  const smaps = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string): number =>
    Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(smaps)?.[1] ?? NaN) / 1024;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const metric = (re: RegExp): Array<[string, number]> =>
    [...text.matchAll(re)].map((m) => [m[1] ?? '', Number(m[2]) / 1024 / 1024]);
  const spaces = metric(/^cutover_nodejs_heap_space_size_total_bytes\{space="([^"]+)"\} (\d+)$/gm).filter(
    ([, v]) => v >= 0.5,
  );
  const external = metric(/^cutover_nodejs_(external_memory)_bytes (\d+)$/gm);
  return [
    [
      '  resident',
      `${kb('Rss').toFixed(1)} MB: anonymous ${kb('Anonymous').toFixed(1)} MB, file-backed ${(kb('Rss') - kb('Anonymous')).toFixed(1)} MB`,
    ],
    ...spaces.map(([k, v]): [string, string] => [`  V8 ${k} (committed)`, `${v.toFixed(1)} MB`]),
    ...external.map(([k, v]): [string, string] => [`  ${k.replace('_', ' ')}`, `${v.toFixed(1)} MB`]),
  ];
}

/** The V8 heap from the operator's /metrics: used and committed, and the old space's committed size, in MB. */
async function heapFigures(port: number): Promise<{ used: number; committed: number; oldCommitted: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const v = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN) / 1024 / 1024;
  return {
    used: v(/^cutover_nodejs_heap_size_used_bytes (\d+)$/m),
    committed: v(/^cutover_nodejs_heap_size_total_bytes (\d+)$/m),
    oldCommitted: v(/^cutover_nodejs_heap_space_size_total_bytes\{space="old"\} (\d+)$/m),
  };
}

interface Scrape {
  total: number;
  byKind: Map<string, number>;
  syncs: number;
}

async function scrape(port: number): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const byKind = new Map<string, number>();
  let total = 0;
  let syncs = 0;
  for (const line of text.split('\n')) {
    const m =
      /^cutover_api_requests_total\{verb="([^"]+)",resource="([^"]+)",code="[^"]*"\} (\d+(?:\.\d+)?)$/.exec(
        line,
      );
    if (m) {
      const k = `${m[1]} ${m[2]}`;
      byKind.set(k, (byKind.get(k) ?? 0) + Number(m[3]));
      total += Number(m[3]);
    }
    const s = /^cutover_sync_total\{controller="[^"]+",result="success"\} (\d+)$/.exec(line);
    if (s) syncs += Number(s[1]);
  }
  return { total, byKind, syncs };
}

async function waitUntil(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
  stepMs = 200,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Runs `f` over `items` with at most `n` at a time. */
async function pool<T>(items: T[], n: number, f: (x: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) {
        const x = items[i++] as T;
        await f(x);
      }
    }),
  );
}

export async function runRuntimeBench(): Promise<void> {
  const pop = population();
  const counts: Partial<Record<KindName, number>> = Object.fromEntries(pop);
  const total = pop.reduce((a, [, n]) => a + n, 0);
  // Longer than the slowest timer a controller could use to poll (5 minutes), so polling shows.
  const idleSeconds = Number(process.env.BENCH_RUNTIME_IDLE_SECONDS ?? 330);
  // How long a restarted operator idles after its first pass before its memory is read.
  const settleSeconds = Number(process.env.BENCH_RUNTIME_SETTLE_SECONDS ?? 30);
  const cluster = await useCluster();
  await cluster.applyCrds();
  const ns = await cluster.createNamespace('bench-runtime');
  const identity = await operatorIdentity(cluster, ns);
  const client = new KubeClient(cluster.kc);
  const snapshotDir = mkdtempSync(join(tmpdir(), 'cutover-heap-'));
  const webhook = await webhookSink();
  await dependencies(client, ns, webhook.url);
  const args = [
    '--kubeconfig',
    identity.kubeconfig,
    '--namespaces',
    ns,
    '--leader-election-namespace',
    ns,
    '--log-level',
    'info',
  ];
  let op: OperatorProcess | undefined;
  const start = async (
    variant: Variant = { name: 'as shipped' },
  ): Promise<{
    op: OperatorProcess;
    port: number;
    readyMs: number;
    leaderMs: number;
    startedAt: number;
  }> => {
    const t0 = Date.now();
    const p = startOperator(
      [...args, ...(variant.args ?? [])],
      { ...shippedEnv(), ...variant.env, LOG_LEVEL: 'info' },
      {
        nodeArgs: [
          ...(variant.nodeArgs ?? []),
          '--heapsnapshot-signal=SIGUSR2',
          `--diagnostic-dir=${snapshotDir}`,
        ],
      },
    );
    op = p;
    await waitUntil('the operator to listen', () => p.port() !== undefined, 30_000, 50);
    const port = p.port() ?? 0;
    await waitUntil(
      '/readyz',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
      60_000,
      50,
    );
    const readyMs = Date.now() - t0;
    await waitUntil(
      'leadership',
      async () => /^cutover_leader 1$/m.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()),
      60_000,
      100,
    );
    return { op: p, port, readyMs, leaderMs: Date.now() - t0, startedAt: t0 };
  };
  /** Makes the operator write a heap snapshot (SIGUSR2) and summarizes it. */
  const heapSnapshot = async (p: OperatorProcess, port: number): Promise<HeapSummary> => {
    p.signal('SIGUSR2');
    await waitUntil(
      'the heap snapshot',
      () => readdirSync(snapshotDir).some((f) => f.endsWith('.heapsnapshot')),
      60_000,
    );
    // The snapshot is written on the main thread: once /healthz answers, the file is complete.
    await waitUntil(
      'the operator after the snapshot',
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200,
      60_000,
    );
    const file = join(snapshotDir, readdirSync(snapshotDir).find((f) => f.endsWith('.heapsnapshot')) ?? '');
    const summary = summarizeHeapSnapshot(file);
    rmSync(file);
    return summary;
  };
  const synced = async (): Promise<boolean> => {
    for (const [kind, n] of pop) {
      const l = await client.listAll(resourceOf(kind), { namespace: ns });
      const done = l.items.filter(
        (o) =>
          (o.status as { observedGeneration?: number } | undefined)?.observedGeneration ===
          o.metadata.generation,
      ).length;
      if (done < n) return false;
    }
    return true;
  };

  try {
    process.stdout.write(
      `runtime bench: namespace ${ns}, ${pop.map(([k, n]) => `${n} ${k}`).join(', ')}; operator env from deploy/operator/deployment.yaml: ${JSON.stringify(shippedEnv())}\n`,
    );
    // 1. The operator with nothing to do: its memory at start, and a heap snapshot of it.
    const first = await start();
    await sleep(5000);
    const rssEmpty = await steadyRss(first.op.child.pid ?? 0);
    const heap = await heapSnapshot(first.op, first.port);
    await first.op.stop();

    // 2. A fresh operator; the population created while it runs.
    const second = await start();
    await sleep(3000);
    const rssBefore = await steadyRss(second.op.child.pid ?? 0, 3);
    const t0 = Date.now();
    const cpu0 = cpuSeconds(second.op.child.pid ?? 0);
    const requests0 = (await scrape(second.port)).total;
    for (const [kind, n] of pop) {
      const base = sample(kind);
      await pool(
        Array.from({ length: n }, (_, i) => i),
        16,
        (i) => client.create(resourceOf(kind), ns, manifest(kind, base, i, ns, counts)),
      );
    }
    if (!counts.Cutover && (counts.Reconciliation ?? 0) > 3) {
      const co = manifest('Cutover', sample('Cutover'), 0, ns, counts);
      co.metadata.name = WAITED_CUTOVER;
      await client.create(resourceOf('Cutover'), ns, co);
    }
    const createdMs = Date.now() - t0;
    await waitUntil(`the first sync of ${total} objects`, synced, 600_000, 500);
    const firstSyncMs = Date.now() - t0;
    const firstSyncCpu = cpuSeconds(second.op.child.pid ?? 0) - cpu0;
    const firstSyncRequests = (await scrape(second.port)).total - requests0;

    // 3. Idle: nothing changes; count the operator's own requests and sample its memory.
    await sleep(5000);
    const rssSamples: number[] = [];
    const before = await scrape(second.port);
    const cpuIdle0 = cpuSeconds(second.op.child.pid ?? 0);
    const idleEnd = Date.now() + idleSeconds * 1000;
    while (Date.now() < idleEnd) {
      rssSamples.push(rssMb(second.op.child.pid ?? 0));
      await sleep(1000);
    }
    const after = await scrape(second.port);
    const perMin = ((after.total - before.total) * 60) / idleSeconds;
    const kinds = [...after.byKind.entries()]
      .map(([k, v]) => [k, ((v - (before.byKind.get(k) ?? 0)) * 60) / idleSeconds] as const)
      .filter(([, v]) => v > 0)
      .sort((x, y) => y[1] - x[1]);
    const idleCpu = cpuSeconds(second.op.child.pid ?? 0) - cpuIdle0;
    const rssIdle = [...rssSamples].sort((a, b) => a - b)[Math.floor(rssSamples.length / 2)] ?? NaN;
    const rssIdleMax = Math.max(...rssSamples);
    const idleSyncs = after.syncs - before.syncs;
    await second.op.stop();

    // 4. Restart with the population in place: readiness and the first sync of every object.
    const third = await start();
    await waitUntil(
      `${total} syncs after the restart`,
      async () => (await scrape(third.port)).syncs >= total,
      600_000,
      200,
    );
    const restartSyncMs = Date.now() - third.startedAt;
    const restartCpu = cpuSeconds(third.op.child.pid ?? 0);
    const restartRequests = (await scrape(third.port)).total;
    await sleep(5000);
    const rssRestart5s = await steadyRss(third.op.child.pid ?? 0);
    await sleep(Math.max(0, settleSeconds - 10) * 1000);
    const rssRestart = await steadyRss(third.op.child.pid ?? 0);
    const breakdown = await memoryBreakdown(third.op.child.pid ?? 0, third.port);
    const heapFull = await heapSnapshot(third.op, third.port);
    await third.op.stop();
    process.stdout.write(
      `restart: RSS ${rssRestart.toFixed(1)} MB after ${settleSeconds} s idle (${rssRestart5s.toFixed(1)} MB at 5 s); idle with objects ${rssIdle.toFixed(1)} MB (max ${rssIdleMax.toFixed(1)}); at start ${rssEmpty.toFixed(1)} MB; idle requests/min ${perMin.toFixed(1)}; webhook posts ${webhook.posts()}\n`,
    );
    const { baseRssMb, costs } = await moduleCosts(MODULES, repoRoot());

    // 5. Variants side by side: each a restart with the population in place, measured once every
    // object has synced and the operator has been idle for settleSeconds.
    const variantRows: string[][] = [];
    for (const v of variants(shippedEnv())) {
      let r: Awaited<ReturnType<typeof start>>;
      try {
        r = await start(v);
      } catch (e) {
        process.stdout.write(
          `variant '${v.name}' did not start: ${String(e)}\n${op?.output().slice(-500) ?? ''}\n`,
        );
        await op?.stop();
        continue;
      }
      const pid = r.op.child.pid ?? 0;
      await waitUntil(
        `${total} syncs after the restart (${v.name})`,
        async () => (await scrape(r.port)).syncs >= total,
        600_000,
        200,
      );
      const syncedMs = Date.now() - r.startedAt;
      const rssSynced = rssMb(pid);
      await sleep(settleSeconds * 1000);
      const rss = await steadyRss(pid);
      const heap = await heapFigures(r.port);
      const rssMax = Math.max(rssSynced, rss);
      variantRows.push([
        v.name,
        rss.toFixed(1),
        rssSynced.toFixed(1),
        heap.used.toFixed(1),
        heap.committed.toFixed(1),
        heap.oldCommitted.toFixed(1),
        (r.readyMs / 1000).toFixed(2),
        (syncedMs / 1000).toFixed(1),
        cpuSeconds(pid).toFixed(1),
        rssMax < 150 ? 'yes' : 'no',
      ]);
      process.stdout.write(`variant: ${(variantRows[variantRows.length - 1] ?? []).join(' | ')}\n`);
      await r.op.stop();
    }

    const leaseRenewalsPerMin = 60 / 2; // one PUT per 2 s retry period while leading
    const rows: Array<[string, string]> = [
      ['objects', pop.map(([k, n]) => `${n} ${k}`).join(', ')],
      [
        'resident memory at start, no objects',
        `${rssEmpty.toFixed(1)} MB (second start ${rssBefore.toFixed(1)} MB)`,
      ],
      [
        `resident memory idle with ${total} objects`,
        `${rssIdle.toFixed(1)} MB (max ${rssIdleMax.toFixed(1)} MB)`,
      ],
      [
        `resident memory after a restart with ${total} objects`,
        `${rssRestart.toFixed(1)} MB after ${settleSeconds} s idle (${rssRestart5s.toFixed(1)} MB 5 s after every object synced)`,
      ],
      ['ready (caches synced) after start, no objects', `${(first.readyMs / 1000).toFixed(2)} s`],
      [`created ${total} objects in`, `${(createdMs / 1000).toFixed(1)} s`],
      [
        `first sync of all ${total} new objects`,
        `${(firstSyncMs / 1000).toFixed(1)} s after the first create, ${firstSyncCpu.toFixed(1)} s of operator CPU, ${firstSyncRequests} API requests`,
      ],
      [`ready after a restart with ${total} objects`, `${(third.readyMs / 1000).toFixed(2)} s`],
      [
        `every object synced after a restart`,
        `${(restartSyncMs / 1000).toFixed(1)} s after start, ${restartCpu.toFixed(1)} s of operator CPU and ${restartRequests} API requests (start included)`,
      ],
      ['load average (1 min) at the end', readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?'],
      [`idle API requests per minute (over ${idleSeconds} s)`, perMin.toFixed(1)],
      ...kinds.map(([k, v]) => [`  ${k}`, `${v.toFixed(1)}/min`] as [string, string]),
      ['  Lease renewals alone would be', `${leaseRenewalsPerMin}/min`],
      ['syncs while idle', `${idleSyncs} (${idleCpu.toFixed(1)} s of operator CPU)`],
      ['war-room notifications received (local webhook)', String(webhook.posts())],
      [
        'goal: idle requests near Lease renewals',
        perMin <= leaseRenewalsPerMin * 1.5 + 5 ? 'met' : 'NOT met',
      ],
      [
        'goal: resident memory < 150 MB',
        Math.max(rssEmpty, rssIdleMax, rssRestart) < 150 ? 'met' : 'NOT met',
      ],
    ];
    const table = (rs: Array<[string, string]>): string => {
      const w = Math.max(...rs.map((r) => r[0].length));
      return rs.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
    };
    process.stdout.write('\nruntime benchmark\n' + table(rows) + '\n');
    const printHeap = (title: string, h: HeapSummary): void => {
      process.stdout.write(`\n${title} (heap snapshot: ${mb(h.totalBytes)} of live JS heap)\n`);
      process.stdout.write(
        '  by V8 type:\n' +
          table(h.byType.slice(0, 8).map((t) => [`  ${t.type}`, `${mb(t.bytes)} (${t.count} nodes)`])) +
          '\n',
      );
      process.stdout.write(
        '  code (functions, bytecode, sources) by package:\n' +
          table(h.codeByOrigin.map((o) => [`  ${o.origin}`, `${mb(o.bytes)} (${o.functions} functions)`])) +
          '\n',
      );
      process.stdout.write(
        '  largest constructors:\n' +
          table(h.topConstructors.slice(0, 8).map((c) => [`  ${c.name}`, `${mb(c.bytes)} (${c.count})`])) +
          '\n',
      );
    };
    process.stdout.write(
      `\nresident memory after a restart with ${total} objects, by kind\n` + table(breakdown) + '\n',
    );
    printHeap('the operator at start, no objects', heap);
    printHeap(`the operator after a restart with ${total} objects`, heapFull);
    if (variantRows.length) {
      const head = [
        'variant',
        `RSS idle ${settleSeconds}s (MB)`,
        'RSS all synced (MB)',
        'heap used (MB)',
        'heap committed (MB)',
        'old space committed (MB)',
        'ready (s)',
        'all synced (s)',
        'CPU (s)',
        '< 150 MB',
      ];
      const rs = [head, ...variantRows];
      const w = head.map((_, i) => Math.max(...rs.map((r) => (r[i] ?? '').length)));
      process.stdout.write(
        `\nvariants after a restart with ${total} objects (each a fresh operator; RSS idle: median of 5 samples after ${settleSeconds} s idle)\n` +
          rs
            .map(
              (r) =>
                '  ' + r.map((c, i) => (i === 0 ? c.padEnd(w[i] ?? 0) : c.padStart(w[i] ?? 0))).join('  '),
            )
            .join('\n') +
          '\n',
      );
    }
    process.stdout.write(
      `\ncost of importing each dependency alone (fresh process, after GC; Node itself: ${baseRssMb.toFixed(1)} MB)\n` +
        table(
          costs.map((c) => [
            `  ${c.module}`,
            `RSS +${c.rssMb.toFixed(1)} MB, heap +${c.heapMb.toFixed(1)} MB`,
          ]),
        ) +
        '\n',
    );
  } catch (e) {
    process.stderr.write(`operator output:\n${op?.output().slice(-4000) ?? ''}\n`);
    throw e;
  } finally {
    await op?.stop();
    client.close();
    rmSync(snapshotDir, { recursive: true, force: true });
    await webhook.close();
    await identity.cleanup();
    await cluster.deleteNamespace(ns);
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  runRuntimeBench()
    .then(() => stopSharedCluster())
    .catch(async (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      await stopSharedCluster();
      process.exitCode = 1;
    });
}
