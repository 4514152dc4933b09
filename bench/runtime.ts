/**
 * Runtime benchmark (`npm run bench -- runtime`): a real control plane, 1,000 widgets, the
 * operator as a child process (`cutover operator --test-controller widgets`). Prints
 * - API requests per minute while idle (from the operator's own `cutover_api_requests_total`),
 *   by verb and resource, next to what the Lease renewals alone cost;
 * - resident memory (the process's RSS, sampled) while idle and at its peak;
 * - sync throughput when all 1,000 widgets change at once, and the time of the initial sync.
 * Goals: no polling when idle (requests per minute near the Lease renewals alone), < 150 MB RSS.
 * BENCH_RUNTIME_WIDGETS and BENCH_RUNTIME_IDLE_SECONDS change the size and the idle window.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useCluster, stopSharedCluster } from '../test/support/cluster.js';
import { applyWidgetCrd } from '../test/integration/runtime/support.js';
import { repoRoot } from '../src/devenv/devenv-state.js';
import { KubeClient } from '../src/runtime/kube-client.js';
import { WIDGET_RESOURCE, type Widget } from '../src/runtime/test-controller.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Sample {
  total: number;
  byKind: Map<string, number>;
  syncs: number;
}

async function scrape(port: number): Promise<Sample> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const byKind = new Map<string, number>();
  let total = 0;
  let syncs = 0;
  for (const line of text.split('\n')) {
    const m = /^cutover_api_requests_total\{verb="([^"]+)",resource="([^"]+)",code="[^"]*"\} (\d+(?:\.\d+)?)$/.exec(line);
    if (m) {
      const k = `${m[1]} ${m[2]}`;
      byKind.set(k, (byKind.get(k) ?? 0) + Number(m[3]));
      total += Number(m[3]);
    }
    const s = /^cutover_sync_total\{controller="test-widgets",result="success"\} (\d+)$/.exec(line);
    if (s) syncs = Number(s[1]);
  }
  return { total, byKind, syncs };
}

export async function runRuntimeBench(): Promise<void> {
  const count = Number(process.env.BENCH_RUNTIME_WIDGETS ?? 1000);
  const idleSeconds = Number(process.env.BENCH_RUNTIME_IDLE_SECONDS ?? 60);
  const cluster = await useCluster();
  await applyWidgetCrd(cluster);
  const ns = await cluster.createNamespace('bench-runtime');
  const client = new KubeClient(cluster.kc);
  const names = Array.from({ length: count }, (_, i) => `w${String(i).padStart(4, '0')}`);
  process.stdout.write(`runtime bench: creating ${count} widgets in ${ns}\n`);
  await pool(names, 16, (n) => client.create(WIDGET_RESOURCE, ns, { metadata: { name: n }, spec: { revision: 0 } }));

  const child = spawn(
    process.execPath,
    [join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), 'operator', '--test-controller', 'widgets', '--controllers', 'test-widgets', '--namespaces', ns, '--leader-election-namespace', ns, '--listen-address', '127.0.0.1:0', '--workers', '4', '--log-level', 'warn'],
    { cwd: repoRoot(), env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid ?? 0;
  const rss: number[] = [];
  const sampler = setInterval(() => {
    try {
      rss.push(rssMb(pid));
    } catch {
      /* exited */
    }
  }, 1000);
  try {
    // The port is only in the info log; the operator runs with warn, so find it through /proc.
    const port = await findListeningPort(pid);
    const started = Date.now();
    const allSynced = async (revision: number): Promise<boolean> => {
      const l = await client.listAll<Widget>(WIDGET_RESOURCE, { namespace: ns });
      return l.items.length === count && l.items.every((w) => (w.status?.syncs ?? 0) > 0 && w.status?.lastRevision === revision);
    };
    while (!(await allSynced(0))) await sleep(500);
    const initialMs = Date.now() - started;

    // Idle: nothing changes; count the operator's own requests.
    await sleep(3000);
    const rssIdleStart = rssMb(pid);
    const before = await scrape(port);
    await sleep(idleSeconds * 1000);
    const after = await scrape(port);
    const rssIdle = rssMb(pid);
    const perMin = ((after.total - before.total) * 60) / idleSeconds;
    const kinds = [...after.byKind.entries()]
      .map(([k, v]) => [k, ((v - (before.byKind.get(k) ?? 0)) * 60) / idleSeconds] as const)
      .filter(([, v]) => v > 0)
      .sort((x, y) => y[1] - x[1]);
    const leaseRenewalsPerMin = 60 / 2; // one PUT per 2 s retry period while leading

    // Change every widget at once; measure until all are synced.
    const s0 = await scrape(port);
    const t0 = Date.now();
    await pool(names, 16, (n) => client.patch(WIDGET_RESOURCE, ns, n, { spec: { revision: 1 } }));
    const patchedMs = Date.now() - t0;
    while (!(await allSynced(1))) await sleep(250);
    const changeMs = Date.now() - t0;
    const s1 = await scrape(port);
    const peak = Math.max(...rss.filter((x) => Number.isFinite(x)));

    const rows: Array<[string, string]> = [
      ['widgets', String(count)],
      ['initial sync of all widgets', `${(initialMs / 1000).toFixed(1)} s`],
      [`idle API requests per minute (over ${idleSeconds} s)`, perMin.toFixed(1)],
      ...kinds.map(([k, v]) => [`  ${k}`, `${v.toFixed(1)}/min`] as [string, string]),
      ['  Lease renewals alone would be', `${leaseRenewalsPerMin}/min`],
      ['resident memory, idle', `${rssIdle.toFixed(1)} MB (at idle start ${rssIdleStart.toFixed(1)} MB)`],
      ['resident memory, peak', `${peak.toFixed(1)} MB`],
      [`${count} changed widgets synced in`, `${(changeMs / 1000).toFixed(1)} s (patches sent in ${(patchedMs / 1000).toFixed(1)} s)`],
      ['sync throughput', `${((count * 1000) / changeMs).toFixed(0)} widgets/s (${s1.syncs - s0.syncs} syncs, ${s1.total - s0.total} API requests)`],
      ['goal: idle requests near Lease renewals', perMin <= leaseRenewalsPerMin * 1.5 + 5 ? 'met' : 'NOT met'],
      ['goal: resident memory < 150 MB', peak < 150 ? 'met' : 'NOT met'],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write('\nruntime benchmark\n' + rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  } catch (e) {
    process.stderr.write(`operator stderr:\n${stderr.slice(-4000)}\n`);
    throw e;
  } finally {
    clearInterval(sampler);
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    client.close();
    await cluster.deleteNamespace(ns);
  }
}

/** The TCP port the process listens on (its health/metrics server), from /proc/net/tcp. */
async function findListeningPort(pid: number): Promise<number> {
  const end = Date.now() + 30_000;
  for (;;) {
    const inodes = new Set<string>();
    try {
      const { readdirSync, readlinkSync } = await import('node:fs');
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m?.[1]) inodes.add(m[1]);
        } catch {
          /* closed meanwhile */
        }
      }
      for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
        for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
          const f = line.trim().split(/\s+/);
          // state 0A = LISTEN; field 9 = inode
          if (f[3] === '0A' && f[9] && inodes.has(f[9])) return parseInt(f[1]?.split(':')[1] ?? '0', 16);
        }
      }
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error('the operator did not start listening');
    await sleep(200);
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
