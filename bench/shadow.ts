/**
 * `npm run bench -- shadow [--duration 5m] [--rate 2000] [--slice 10s] [--max-seconds 15] [--max-lag 5ms]`
 *
 * `--max-lag` sets the rules' `queue.maxLag` (off by default): mirroring is shed while the proxy's
 * event loop runs behind, and the shed requests are printed as dropped.
 *
 * Every part is its own process, so nothing shares the proxy's event loop: legacy and the new
 * stack (1 KB JSON answers), a stalled new stack, the proxy (`cutover shadow-proxy` itself), and
 * the load generator (this file with `--role load`, open loop at a fixed rate, latency counted
 * from each request's planned start so a stall cannot hide). Printed:
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
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDurationMs } from '../src/api/schema/common.js';

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

// ------------------------------------------------------------------------------ child roles

/** A 1 KB order; the new stack's differs benignly everywhere and really in 1 % of answers. */
function order(id: number, side: 'legacy' | 'new'): string {
  const items = Array.from({ length: 9 }, (_, i) => ({
    sku: `sku-${id % 97}-${i}`,
    name: `Item number ${i} of the order`,
    qty: 1 + (i % 3),
    price: 10.5 + i,
  }));
  const o = {
    id,
    tenant: `tenant-${id % 40}`,
    status: 'CLOSED',
    total: items.reduce((s, i) => s + i.qty * i.price, 0),
    createdAt: side === 'legacy' ? '2026-12-01T02:00:00Z' : '2026-12-01T05:00:00+03:00',
    items: side === 'legacy' ? items : [...items].reverse(),
    customer: { name: 'Ayşe Yılmaz', city: 'Istanbul' },
    meta: { node: side, at: Date.now() },
  };
  if (side === 'new' && id % 100 === 0) o.status = 'OPEN';
  return JSON.stringify(o);
}

function backendRole(kind: string): void {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    if (kind === 'stalled') return; // accepts, never answers
    const id = Number(/\/orders\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
    const body = order(id, kind === 'new' ? 'new' : 'legacy');
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  });
}

interface LoadResult {
  sent: number;
  ok: number;
  errors: number;
  /** Planned (open loop) but not sent: a second of requests was already outstanding. */
  missed: number;
  /** Sent but unanswered within the grace after the run: aborted and counted here, not waited for. */
  unfinished: number;
  seconds: number;
  latenciesMs: number[];
}

/** How long requests still outstanding at the end of a run are waited for. */
const GRACE_MS = 10_000;

/** Open loop at `rate` for `seconds` (or closed loop with `connections` when rate is 0). */
async function loadRole(url: string, rate: number, seconds: number, connections: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let missed = 0;
  let unfinished = 0;
  let closing = false;
  const outstanding = new Set<http.ClientRequest>();
  const target = new URL(url);
  const once = (planned: number, id: number): Promise<void> =>
    new Promise((resolve) => {
      sent++;
      const req = http.request(
        { host: target.hostname, port: target.port, path: `/orders/${id}`, agent },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            outstanding.delete(req);
            if (res.statusCode === 200) ok++;
            else errors++;
            latencies.push(performance.now() - planned);
            resolve();
          });
          res.on('error', () => undefined);
        },
      );
      outstanding.add(req);
      req.on('error', () => {
        outstanding.delete(req);
        if (closing) unfinished++;
        else errors++;
        resolve();
      });
      req.end();
    });
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  if (rate > 0) {
    // Open loop, but never an unbounded backlog: when the target falls behind (a saturated or
    // starved proxy), the requests queued in the agent would grow for the whole run and the run
    // would then wait minutes for them to drain. Past one second of requests outstanding, a
    // planned request is counted as missed instead of sent.
    const backlog = Math.max(connections, rate);
    const inflight: Promise<void>[] = [];
    let i = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = performance.now();
        while (t0 + (i * 1000) / rate <= now && t0 + (i * 1000) / rate < end) {
          if (outstanding.size >= backlog) missed++;
          else inflight.push(once(t0 + (i * 1000) / rate, i));
          i++;
        }
        if (now >= end) resolve();
        else setImmediate(tick);
      };
      tick();
    });
    // What is still outstanding gets a grace, then is aborted and counted, never waited for.
    const grace = setTimeout(() => {
      closing = true;
      for (const r of outstanding) r.destroy();
    }, GRACE_MS);
    await Promise.all(inflight);
    clearTimeout(grace);
  } else {
    let id = 0;
    const grace = setTimeout(
      () => {
        closing = true;
        for (const r of outstanding) r.destroy();
      },
      end - t0 + GRACE_MS,
    );
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < end) await once(performance.now(), id++);
      }),
    );
    clearTimeout(grace);
  }
  const result: LoadResult = {
    sent,
    ok,
    errors,
    missed,
    unfinished,
    seconds: (performance.now() - t0) / 1000,
    latenciesMs: latencies,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  agent.destroy();
}

// ------------------------------------------------------------------------------- orchestration

const children: ChildProcess[] = [];

function startChild(
  args: string[],
  readyPattern: RegExp,
  stream: 'stdout' | 'stderr',
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, {
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

async function backend(kind: string): Promise<string> {
  const { match } = await startChild(
    [fileURLToPath(import.meta.url), '--role', 'backend', '--kind', kind],
    /\{"port":(\d+)\}/,
    'stdout',
  );
  return `http://127.0.0.1:${match[1]}`;
}

async function proxy(
  legacy: string,
  candidate: string,
  rulesFile: string,
): Promise<{ url: string; admin: string; pid: number; child: ChildProcess }> {
  const { child, match } = await startChild(
    [
      CLI,
      'shadow-proxy',
      '--legacy',
      legacy,
      '--new',
      candidate,
      '--rules',
      rulesFile,
      '--listen',
      '127.0.0.1:0',
      '--metrics-listen',
      '127.0.0.1:0',
      '--report-interval',
      '0',
    ],
    /listening on 127\.0\.0\.1:(\d+) .*admin on 127\.0\.0\.1:(\d+)/,
    'stderr',
  );
  return {
    url: `http://127.0.0.1:${match[1]}`,
    admin: `http://127.0.0.1:${match[2]}`,
    pid: child.pid!,
    child,
  };
}

async function load(url: string, rate: number, seconds: number, connections = 64): Promise<LoadResult> {
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      '--role',
      'load',
      '--url',
      url,
      '--rate',
      String(rate),
      '--seconds',
      String(seconds),
      '--connections',
      String(connections),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.on('exit', resolve));
  return JSON.parse(out) as LoadResult;
}

async function stats(admin: string): Promise<Record<string, number>> {
  const res = await fetch(`${admin}/stats`);
  return (await res.json()) as Record<string, number>;
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (100/s)
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
    },
    strict: true,
  });
  const durationMs = parseDurationMs(values.duration);
  const rate = Number(values.rate);
  const sliceS = parseDurationMs(values.slice) / 1000;
  const maxS = Number(values['max-seconds']);
  const dir = mkdtempSync(join(tmpdir(), 'shadow-bench-'));
  const rulesFile = join(dir, 'rules.yaml');
  const maxLag = values['max-lag'];
  if (maxLag !== undefined) parseDurationMs(maxLag);
  const rules = maxLag !== undefined ? `${RULES}queue: { maxLag: ${maxLag} }\n` : RULES;
  writeFileSync(rulesFile, rules);
  out(`machine: ${uptime()}`);
  out(`queue.maxLag: ${maxLag ?? 'off (every matching request mirrored)'}`);
  try {
    const [legacy, candidate, stalled] = await Promise.all([
      backend('legacy'),
      backend('new'),
      backend('stalled'),
    ]);
    const p = await proxy(legacy, candidate, rulesFile);
    const bytes = order(1, 'legacy').length;
    out(
      `answers: ${bytes} bytes of JSON; rules: ${rules.split('\n').length - 1} lines (ignore, tolerance, scale, instants, set by key); 1 % of new answers really differ`,
    );

    // 1. Added latency at a fixed rate, direct and through the proxy in alternating slices.
    out(
      `\n1. legacy-path latency at ${rate} requests/s (open loop, ${sliceS}s slices alternating direct/proxy, 2 slices each after a warm-up)`,
    );
    await load(legacy, rate, 2);
    await load(p.url, rate, 2);
    const lat: Record<'direct' | 'proxy', number[]> = { direct: [], proxy: [] };
    let errors = 0;
    const behind = { direct: 0, proxy: 0 };
    const before = await stats(p.admin);
    for (let s = 0; s < 4; s++) {
      const which = s % 2 === 0 ? 'direct' : 'proxy';
      const r = await load(which === 'direct' ? legacy : p.url, rate, sliceS);
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
    if (behind.direct + behind.proxy > 0)
      out(
        `   NOT KEPT UP: ${behind.direct} direct and ${behind.proxy} proxied requests missed (over 1 s of backlog) or unanswered ${GRACE_MS / 1000}s after the slice; the percentiles above leave them out`,
      );
    out(
      `   proxy meanwhile: mirrored ${after.mirrored! - before.mirrored!}, compared ${after.compared! - before.compared!}, differing ${after.differing! - before.differing!}, dropped ${after.dropped! - before.dropped!}`,
    );

    // 2. Highest sustained rate with comparison on.
    out(`\n2. highest rate through the proxy with comparison on (closed loop, 64 connections, ${maxS}s)`);
    const directMax = await load(legacy, 0, Math.min(5, maxS));
    out(`   direct to legacy (reference): ${(directMax.ok / directMax.seconds).toFixed(0)} requests/s`);
    const s0 = await stats(p.admin);
    const c0 = cpuSeconds(p.pid);
    const t0 = performance.now();
    const m = await load(p.url, 0, maxS);
    await sleep(500);
    const secs = (performance.now() - t0) / 1000;
    const s1 = await stats(p.admin);
    const cpu = (cpuSeconds(p.pid) - c0) / secs;
    const compared = (s1.compared! - s0.compared!) / m.seconds;
    out(
      `   through the proxy: ${(m.ok / m.seconds).toFixed(0)} requests/s, ${compared.toFixed(0)} compared/s, dropped ${s1.dropped! - s0.dropped!}, new-stack errors ${s1.errors! - s0.errors!}, proxy CPU ${(cpu * 100).toFixed(0)} % of a core   (goal: >= 5,000 compared/s)`,
    );
    out(`   machine: ${uptime()}`);
    p.child.kill('SIGTERM');

    // 3. Memory with the new stack stalled.
    const q = await proxy(legacy, stalled, rulesFile);
    const every = Math.max(5_000, Math.floor(durationMs / 20));
    out(
      `\n3. proxy memory over ${values.duration} at ${rate} requests/s with the new stack stalled (samples every ${every / 1000}s)`,
    );
    const loading = load(q.url, rate, durationMs / 1000);
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
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

// A child process of the benchmark: `node dist/bench/shadow.js --role backend|load ...`.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      kind: { type: 'string', default: 'legacy' },
      url: { type: 'string', default: '' },
      rate: { type: 'string', default: '0' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
    },
  });
  if (values.role === 'backend') backendRole(values.kind);
  else if (values.role === 'load')
    void loadRole(values.url, Number(values.rate), Number(values.seconds), Number(values.connections));
  else {
    process.stderr.write(
      'usage: node dist/bench/shadow.js --role backend|load (run the benchmark with npm run bench -- shadow)\n',
    );
    process.exitCode = 2;
  }
}
