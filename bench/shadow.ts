/**
 * `npm run bench -- shadow [--duration 5m] [--rate 2000] [--slice 10s] [--max-seconds 15] [--max-lag 5ms] [--workers N]
 *   [--variants hop,inline,thread0,thread5,thread10,thread0-w1] [--memory-variant V|none] [--pin] [--step-rate 5000]`
 *
 * `--variants`: the proxy configurations measured one after the other in the same run (phases 1,
 * 2 and the open-loop step for each): `inline` (--mirror-thread off), `threadN` (--mirror-thread
 * on --mirror-nice N) and `hop` (nothing mirrored: the legacy path alone, the reference for what
 * mirroring adds), each optionally with `-wN` (--workers N). Default: the CLI's defaults only. `--memory-variant`: which one phase 3
 * runs (default: the first; `none` skips it). `--pin`: the proxy on CPU 0 and everything else
 * (backends, load generator) on CPU 1 (taskset), so the harness does not take the proxy's core.
 *
 * `--max-lag` sets the rules' `queue.maxLag` (off by default): mirroring is shed while the proxy's
 * event loop runs behind, and the shed requests are printed as dropped.
 *
 * `--workers` is passed to `cutover shadow-proxy` (default: its own, the CPUs available).
 *
 * Every part is its own process, so nothing shares the proxy's event loop: legacy and the new
 * stack (1 KB JSON answers), a stalled new stack, the proxy (`cutover shadow-proxy` itself), and
 * the load generator (this file with `--role load`, open loop at a fixed rate, latency counted
 * from each request's planned start so a stall cannot hide). The backends and the generator are
 * the lean raw-socket harness of shadow-harness.ts, so the proxy gets the CPU; each phase prints
 * the CPU share every process had (and the machine's, since it may be shared). Printed:
 *   1. added latency on the legacy path at --rate requests/s: the proxy (mirroring and comparing)
 *      against direct calls to legacy, in alternating slices of one run, p50/p90/p99/p99.9;
 *   2. the highest rate sustained with comparison on (closed loop, 64 connections), compared/s,
 *      and the proxy's CPU;
 *   3. the proxy's memory over --duration at --rate with the new stack stalled (samples printed).
 * Goals: added p99 < 1 ms at 2,000 requests/s; >= 5,000 requests/s compared on 2 cores; memory
 * flat within 20 %. `uptime` is printed with the figures: the machine may be shared.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDurationMs } from '../src/api/schema/common.js';
import { GRACE_MS, order, runLoad, startBackend, type LoadResult } from './shadow-harness.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

const RULES = `service: bench
compareHeaders: [content-type]
defaults:
  ignore: [/meta]
routes:
  - template: "/orders/{id}"
    numbers: [{ path: /total, tolerance: 0.001 }, { path: /items/*/price, scale: 2 }]
    timestamps: [{ path: /createdAt }]
    arrays: [{ path: /items, order: Unordered, key: /sku }]
`;

// ------------------------------------------------------------------------------- orchestration

const children: ChildProcess[] = [];

function startChild(
  args: string[],
  readyPattern: RegExp,
  stream: 'stdout' | 'stderr',
  role: 'proxy' | 'harness' = 'harness',
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const [cmd, cmdArgs] = spawnArgs(args, role);
  const child = spawn(cmd, cmdArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'error' },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buf = '';
    child[stream].on('data', (d: Buffer) => {
      buf += d.toString();
      const m = readyPattern.exec(buf);
      if (m) resolve({ child, match: m });
    });
    child.on('exit', (code) =>
      reject(new Error(`${args.join(' ')} exited with ${code} before it was ready: ${buf}`)),
    );
  });
}

interface Backend {
  port: number;
  url: string;
  pid: number;
}

async function backend(kind: string): Promise<Backend> {
  const { child, match } = await startChild(
    [fileURLToPath(import.meta.url), '--role', 'backend', '--kind', kind],
    /\{"port":(\d+)\}/,
    'stdout',
  );
  return { port: Number(match[1]), url: `http://127.0.0.1:${match[1]}`, pid: child.pid! };
}

interface Proxy {
  port: number;
  admin: string;
  pid: number;
  child: ChildProcess;
}

/** A proxy configuration: its extra CLI flags. */
interface Variant {
  name: string;
  flags: string[];
  /** `hop`: nothing is mirrored (every path excluded), the proxy's legacy path alone. */
  hopOnly?: boolean;
}

function variantOf(name: string): Variant {
  // A -wN suffix: --workers N for this variant.
  const w = /^(.*)-w(\d+)$/.exec(name);
  const workers = w ? ['--workers', w[2]!] : [];
  const base = w ? w[1]! : name;
  if (base === 'inline') return { name, flags: ['--mirror-thread', 'off', ...workers] };
  const m = /^thread(\d+)$/.exec(base);
  if (m) return { name, flags: ['--mirror-thread', 'on', '--mirror-nice', m[1]!, ...workers] };
  if (base === 'default') return { name, flags: workers };
  if (base === 'hop') return { name, flags: ['--mirror-thread', 'off', ...workers], hopOnly: true };
  throw new Error(
    `--variants: inline, threadN (N the nice value), hop (nothing mirrored) or default, each optionally -wN (workers), got '${name}'`,
  );
}

/** taskset prefix: the proxy on CPU 0, the harness on CPU 1 (with --pin). */
let pinning: { proxy: string; harness: string } | undefined;

function spawnArgs(args: string[], role: 'proxy' | 'harness'): [string, string[]] {
  if (!pinning) return [process.execPath, args];
  return ['taskset', ['-c', pinning[role], process.execPath, ...args]];
}

async function proxy(
  legacy: Backend,
  candidate: Backend,
  rulesFile: string,
  workers?: string,
  variant: Variant = { name: 'default', flags: [] },
): Promise<Proxy> {
  const { child, match } = await startChild(
    [
      CLI,
      'shadow-proxy',
      '--legacy',
      legacy.url,
      '--new',
      candidate.url,
      '--rules',
      rulesFile,
      '--listen',
      '127.0.0.1:0',
      '--metrics-listen',
      '127.0.0.1:0',
      '--report-interval',
      '0',
      ...(workers !== undefined ? ['--workers', workers] : []),
      ...variant.flags,
    ],
    /listening on 127\.0\.0\.1:(\d+) .*admin on 127\.0\.0\.1:(\d+)/,
    'stderr',
    'proxy',
  );
  return { port: Number(match[1]), admin: `http://127.0.0.1:${match[2]}`, pid: child.pid!, child };
}

interface LoadRun extends LoadResult {
  /** CPU seconds the load generator used. */
  cpuSeconds: number;
}

async function load(port: number, rate: number, seconds: number, connections = 64): Promise<LoadRun> {
  const child = spawn(
    ...spawnArgs(
      [
        fileURLToPath(import.meta.url),
        '--role',
        'load',
        '--port',
        String(port),
        '--rate',
        String(rate),
        '--seconds',
        String(seconds),
        '--connections',
        String(connections),
      ],
      'harness',
    ),
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  await new Promise((resolve) => child.on('exit', resolve));
  return JSON.parse(text) as LoadRun;
}

async function stats(admin: string): Promise<Record<string, number>> {
  const res = await fetch(`${admin}/stats`);
  return (await res.json()) as Record<string, number>;
}

/**
 * prom-client samples the event loop with a 10 ms timer (`eventLoopMonitoringPrecision`), and
 * its `nodejs_eventloop_lag_*` figures are the timer's intervals, not their lateness: an idle
 * loop reads about 10 ms (measured: min 8.7 ms, p50 10.1 ms). The bench prints the lateness.
 */
const LOOP_MONITOR_INTERVAL_MS = 10;

/** The proxy's event-loop delay (ms) since the last scrape (prom-client resets it at each). */
async function loopDelay(admin: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const v = (name: string): number => {
    const m = new RegExp(
      `^cutover_shadow_nodejs_eventloop_lag_${name}_seconds(?:\\{[^}]*\\})? (\\S+)$`,
      'm',
    ).exec(text);
    return m ? Math.max(0, Number(m[1]) * 1000 - LOOP_MONITOR_INTERVAL_MS) : NaN;
  };
  return { p99: v('p99'), max: v('max') };
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

/** The process and its children (the proxy's workers). */
function tree(pid: number): number[] {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(kids ? kids.split(' ').flatMap((k) => tree(Number(k))) : [])];
  } catch {
    return [pid];
  }
}

function rssMb(pid: number): number {
  let kb = 0;
  for (const p of tree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}

/** CPU seconds (user + system) of a process and its live children. */
function cpuSeconds(pid: number): number {
  let s = 0;
  for (const p of tree(pid)) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      s += (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (100/s)
    } catch {
      // exited meanwhile
    }
  }
  return s;
}

/** The machine's busy and total CPU time (all cores), from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - (f[4] ?? 0), total };
}

/** Measures the CPU share of named processes (and of the machine) over a phase. */
class CpuMeter {
  private readonly start: Map<string, number>;
  private readonly machine = machineCpu();
  private readonly t0 = performance.now();
  constructor(private readonly pids: Record<string, number>) {
    this.start = new Map(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
  }
  /** CPU seconds one of the processes used so far in the phase. */
  used(name: string): number {
    return cpuSeconds(this.pids[name]!) - this.start.get(name)!;
  }
  /** "proxy 93 %, legacy 8 %, ... of a core; machine 150 % of 200 %" (load = the generator's CPU seconds). */
  line(loadCpuSeconds: number): string {
    const secs = (performance.now() - this.t0) / 1000;
    const parts = Object.entries(this.pids).map(
      ([k, p]) => `${k} ${(((cpuSeconds(p) - this.start.get(k)!) / secs) * 100).toFixed(0)} %`,
    );
    parts.push(`load generator ${((loadCpuSeconds / secs) * 100).toFixed(0)} %`);
    const m = machineCpu();
    const cores = availableParallelism();
    const busy = ((m.busy - this.machine.busy) / (m.total - this.machine.total)) * cores * 100;
    return `CPU (100 % = one core): ${parts.join(', ')}; whole machine ${busy.toFixed(0)} % of ${cores * 100} %`;
  }
}

const uptime = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();
const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const f2 = (x: number): string => x.toFixed(2);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runShadowBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '5m' },
      rate: { type: 'string', default: '2000' },
      slice: { type: 'string', default: '10s' },
      'max-seconds': { type: 'string', default: '15' },
      'max-lag': { type: 'string' },
      workers: { type: 'string' },
      variants: { type: 'string', default: 'default' },
      'memory-variant': { type: 'string' },
      pin: { type: 'boolean', default: false },
      'step-rate': { type: 'string', default: '5000' },
    },
    strict: true,
  });
  const durationMs = parseDurationMs(values.duration);
  const rate = Number(values.rate);
  const stepRate = Number(values['step-rate']);
  const sliceS = parseDurationMs(values.slice) / 1000;
  const maxS = Number(values['max-seconds']);
  // `--variants none`: phase 3 only (with --memory-variant).
  const variants =
    values.variants === 'none' ? [] : values.variants.split(',').map((v) => variantOf(v.trim()));
  const memoryName = values['memory-variant'] ?? variants[0]?.name ?? 'default';
  const dir = mkdtempSync(join(tmpdir(), 'shadow-bench-'));
  const rulesFile = join(dir, 'rules.yaml');
  const maxLag = values['max-lag'];
  if (maxLag !== undefined) parseDurationMs(maxLag);
  const rules = maxLag !== undefined ? `${RULES}queue: { maxLag: ${maxLag} }\n` : RULES;
  writeFileSync(rulesFile, rules);
  // the `hop` variant: the same rules with every path excluded from mirroring
  const hopRulesFile = join(dir, 'rules-hop.yaml');
  writeFileSync(
    hopRulesFile,
    rules.replace(/^service: .*\n/, (line) => `${line}excludePaths: ["/**"]\n`),
  );
  if (values.pin) {
    if (availableParallelism() < 2) throw new Error('--pin needs 2 CPUs');
    pinning = { proxy: '0', harness: '1' };
  }
  out(`machine: ${uptime()}`);
  out(`queue.maxLag: ${maxLag ?? 'off (every matching request mirrored)'}`);
  out(
    `proxy workers: ${values.workers ?? (values.pin ? 'default (the CPUs available to it: 1, pinned)' : `default (CPUs available: ${availableParallelism()})`)}`,
  );
  out(`variants: ${variants.map((v) => `${v.name} (${v.flags.join(' ') || 'CLI defaults'})`).join('; ')}`);
  if (values.pin) out('pinned: the proxy on CPU 0; backends and load generator on CPU 1 (taskset)');
  const summaries: string[] = [];
  try {
    const [legacy, candidate, stalled] = await Promise.all([
      backend('legacy'),
      backend('new'),
      backend('stalled'),
    ]);
    const bytes = order(1, 'legacy', Date.now()).length;
    out(
      `answers: ${bytes} bytes of JSON; rules: ${rules.split('\n').length - 1} lines (ignore, tolerance, scale, instants, set by key); 1 % of new answers really differ`,
    );
    for (const variant of variants) {
      out(`\n=== ${variant.name} (${variant.flags.join(' ') || 'CLI defaults'}) ===`);
      summaries.push(
        await measure(
          variant,
          legacy,
          candidate,
          variant.hopOnly ? hopRulesFile : rulesFile,
          values.workers,
          rate,
          stepRate,
          sliceS,
          maxS,
        ),
      );
    }
    if (variants.length > 0) out('\nsummary (one line per variant, same run):');
    for (const l of summaries) out(`   ${l}`);
    out(`   machine: ${uptime()}`);
    if (memoryName !== 'none') {
      await memory(
        variantOf(memoryName),
        legacy,
        stalled,
        rulesFile,
        values.workers,
        rate,
        durationMs,
        values.duration,
      );
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Phases 1, 1b and 2 for one proxy configuration; returns its summary line. */
async function measure(
  variant: Variant,
  legacy: Backend,
  candidate: Backend,
  rulesFile: string,
  workers: string | undefined,
  rate: number,
  stepRate: number,
  sliceS: number,
  maxS: number,
): Promise<string> {
  const p = await proxy(legacy, candidate, rulesFile, workers, variant);
  const procs = { proxy: p.pid, legacy: legacy.pid, new: candidate.pid };
  // 1. Added latency at a fixed rate, direct and through the proxy in alternating slices.
  out(
    `1. legacy-path latency at ${rate} requests/s (open loop, ${sliceS}s slices alternating direct/proxy, 2 slices each after a warm-up)`,
  );
  await load(legacy.port, rate, 2);
  await load(p.port, rate, 2);
  const lat: Record<'direct' | 'proxy', number[]> = { direct: [], proxy: [] };
  let errors = 0;
  const behind = { direct: 0, proxy: 0 };
  const cpuLines: Record<'direct' | 'proxy', string[]> = { direct: [], proxy: [] };
  const delays: { p99: number; max: number }[] = [];
  const before = await stats(p.admin);
  for (let s = 0; s < 4; s++) {
    const which = s % 2 === 0 ? 'direct' : 'proxy';
    const meter = new CpuMeter(procs);
    if (which === 'proxy') await loopDelay(p.admin); // resets the delay histogram
    const r = await load(which === 'direct' ? legacy.port : p.port, rate, sliceS);
    if (which === 'proxy') delays.push(await loopDelay(p.admin));
    cpuLines[which].push(meter.line(r.cpuSeconds));
    lat[which].push(...r.latenciesMs);
    errors += r.errors;
    behind[which] += r.missed + r.unfinished;
  }
  const after = await stats(p.admin);
  const row = (name: string, xs: number[]): number[] => {
    const s = [...xs].sort((a, b) => a - b);
    const v = [50, 90, 99, 99.9].map((q) => pct(s, q));
    out(
      `   ${name.padEnd(7)} p50 ${f2(v[0]!)} ms  p90 ${f2(v[1]!)} ms  p99 ${f2(v[2]!)} ms  p99.9 ${f2(v[3]!)} ms  max ${f2(s[s.length - 1]!)} ms  (${s.length} requests)`,
    );
    return v;
  };
  const d = row('direct', lat.direct);
  const x = row('proxy', lat.proxy);
  out(
    `   added   p50 ${f2(x[0]! - d[0]!)} ms  p99 ${f2(x[2]! - d[2]!)} ms   (goal: p99 < 1 ms)   errors ${errors}`,
  );
  const delayText = delays.map((l) => `p99 ${f2(l.p99)} ms / max ${f2(l.max)} ms`).join('; ');
  out(`   proxy event-loop delay (legacy path's loop, per proxied slice): ${delayText}`);
  if (behind.direct + behind.proxy > 0)
    out(
      `   NOT KEPT UP: ${behind.direct} direct and ${behind.proxy} proxied requests missed (over 1 s of backlog) or unanswered ${GRACE_MS / 1000}s after the slice; the percentiles above leave them out`,
    );
  out(
    `   proxy meanwhile: mirrored ${after.mirrored! - before.mirrored!}, compared ${after.compared! - before.compared!}, differing ${after.differing! - before.differing!}, dropped ${after.dropped! - before.dropped!}`,
  );
  for (const which of ['direct', 'proxy'] as const)
    cpuLines[which].forEach((l, i) => out(`   ${which} slice ${i + 1}: ${l}`));
  out(`   machine: ${uptime()}`);

  // 1b. An open-loop step at stepRate through the proxy.
  out(`1b. open-loop step: ${stepRate} requests/s through the proxy for ${sliceS}s`);
  const t0 = await stats(p.admin);
  await loopDelay(p.admin);
  const stepMeter = new CpuMeter(procs);
  const step = await load(p.port, stepRate, sliceS);
  const stepDelay = await loopDelay(p.admin);
  const t1 = await stats(p.admin);
  const ss = [...step.latenciesMs].sort((a, b) => a - b);
  const stepCompared = (t1.compared! - t0.compared!) / step.seconds;
  out(
    `   p50 ${f2(pct(ss, 50))} ms  p99 ${f2(pct(ss, 99))} ms  answered ${step.ok}, missed ${step.missed}, unanswered ${step.unfinished}, errors ${step.errors}; compared ${stepCompared.toFixed(0)}/s, dropped ${t1.dropped! - t0.dropped!}; event-loop delay p99 ${f2(stepDelay.p99)} ms / max ${f2(stepDelay.max)} ms`,
  );
  out(`   ${stepMeter.line(step.cpuSeconds)}`);

  // 2. Highest sustained rate with comparison on.
  out(`2. highest rate through the proxy with comparison on (closed loop, 64 connections, ${maxS}s)`);
  const directMeter = new CpuMeter(procs);
  const directMax = await load(legacy.port, 0, Math.min(5, maxS));
  out(`   direct to legacy (reference): ${(directMax.ok / directMax.seconds).toFixed(0)} requests/s`);
  out(`   ${directMeter.line(directMax.cpuSeconds)}`);
  const s0 = await stats(p.admin);
  const meter = new CpuMeter(procs);
  const m = await load(p.port, 0, maxS);
  await sleep(500);
  const cpuLine = meter.line(m.cpuSeconds);
  const s1 = await stats(p.admin);
  const compared = (s1.compared! - s0.compared!) / m.seconds;
  const perRequestUs = (meter.used('proxy') / (s1.requests! - s0.requests!)) * 1e6;
  const perComparedUs = (meter.used('proxy') / (s1.compared! - s0.compared!)) * 1e6;
  out(
    `   through the proxy: ${(m.ok / m.seconds).toFixed(0)} requests/s, ${compared.toFixed(0)} compared/s, dropped ${s1.dropped! - s0.dropped!}, new-stack errors ${s1.errors! - s0.errors!}   (goal: >= 5,000 compared/s)`,
  );
  out(`   ${cpuLine}`);
  out(
    `   proxy CPU per request (all its processes and threads, mirroring and comparing included): ${perRequestUs.toFixed(0)} us; per compared answer ${perComparedUs.toFixed(0)} us`,
  );
  out(`   machine: ${uptime()}`);
  p.child.kill('SIGTERM');
  await new Promise((r) => p.child.once('exit', r));
  const maxDelay = Math.max(...delays.map((l) => l.max));
  return `${variant.name.padEnd(8)} added p50 ${f2(x[0]! - d[0]!)} / p99 ${f2(x[2]! - d[2]!)} ms at ${rate}/s (missed ${behind.proxy}), loop delay max ${f2(maxDelay)} ms; step ${stepRate}/s: p99 ${f2(pct(ss, 99))} ms, ${stepCompared.toFixed(0)} compared/s, missed ${step.missed + step.unfinished}; closed loop ${compared.toFixed(0)} compared/s; ${perRequestUs.toFixed(0)} us CPU/request (${perComparedUs.toFixed(0)} per compared); load ${uptime().replace(/.*load average: /, '')}`;
}

/** Phase 3: the proxy's memory over the duration with the new stack stalled. */
async function memory(
  variant: Variant,
  legacy: Backend,
  stalled: Backend,
  rulesFile: string,
  workers: string | undefined,
  rate: number,
  durationMs: number,
  duration: string,
): Promise<void> {
  const q = await proxy(legacy, stalled, rulesFile, workers, variant);
  const every = Math.max(5_000, Math.floor(durationMs / 20));
  out(
    `\n3. proxy memory (all its processes) over ${duration} at ${rate} requests/s with the new stack stalled, ${variant.name} (samples every ${every / 1000}s)`,
  );
  const loading = load(q.port, rate, durationMs / 1000);
  const samples: { t: number; rss: number; admitted: number; buffered: number }[] = [];
  const start = performance.now();
  while (performance.now() - start < durationMs - 500) {
    await sleep(every);
    const st = await stats(q.admin);
    const sample = {
      t: (performance.now() - start) / 1000,
      rss: rssMb(q.pid),
      admitted: st.admitted!,
      buffered: st.bufferedBytes!,
    };
    samples.push(sample);
    out(
      `   t=${sample.t.toFixed(0).padStart(4)}s  rss ${sample.rss.toFixed(1)} MB  queue ${sample.admitted}  buffered ${(sample.buffered / 1024).toFixed(0)} kB  dropped ${st.dropped}  timeouts ${st.errors}`,
    );
  }
  const lr = await loading;
  const warm = samples[Math.min(samples.length - 1, Math.max(1, Math.floor(samples.length / 5)))]!;
  const later = samples.filter((s) => s.t >= warm.t);
  const maxRss = Math.max(...later.map((s) => s.rss));
  const last = samples[samples.length - 1]!;
  out(
    `   after warm-up (t=${warm.t.toFixed(0)}s) ${warm.rss.toFixed(1)} MB, highest ${maxRss.toFixed(1)} MB (+${(((maxRss - warm.rss) / warm.rss) * 100).toFixed(1)} %), last ${last.rss.toFixed(1)} MB (${(((last.rss - warm.rss) / warm.rss) * 100).toFixed(1)} %)   (goal: within 20 %)`,
  );
  out(
    `   legacy answers meanwhile: ${lr.ok} ok, ${lr.errors} errors, ${lr.missed} missed (over 1 s of backlog), ${lr.unfinished} unanswered ${GRACE_MS / 1000}s after the run, p99 ${f2(
      pct(
        [...lr.latenciesMs].sort((a, b) => a - b),
        99,
      ),
    )} ms`,
  );
  out(`machine: ${uptime()}`);
}

// A child process of the benchmark: `node dist/bench/shadow.js --role backend|load ...`.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      kind: { type: 'string', default: 'legacy' },
      port: { type: 'string', default: '0' },
      rate: { type: 'string', default: '0' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
    },
  });
  if (values.role === 'backend') {
    const kind = values.kind === 'new' || values.kind === 'stalled' ? values.kind : 'legacy';
    void startBackend(kind).then((port) => process.stdout.write(`${JSON.stringify({ port })}\n`));
  } else if (values.role === 'load') {
    void runLoad(
      Number(values.port),
      Number(values.rate),
      Number(values.seconds),
      Number(values.connections),
    ).then((r) => {
      const u = process.cpuUsage();
      process.stdout.write(`${JSON.stringify({ ...r, cpuSeconds: (u.user + u.system) / 1e6 })}\n`, () =>
        process.exit(0),
      );
    });
  } else {
    process.stderr.write(
      'usage: node dist/bench/shadow.js --role backend|load (run the benchmark with npm run bench -- shadow)\n',
    );
    process.exitCode = 2;
  }
}
