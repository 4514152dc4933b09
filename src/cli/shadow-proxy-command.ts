/**
 * `cutover shadow-proxy --legacy URL --new URL [--rules FILE]`: the comparing shadow proxy without
 * Kubernetes. Serves every request from legacy, mirrors the reads the rules select to the new
 * stack, compares the answers and reports differences on the admin port (/metrics, /samples,
 * /noise, /stats) and in a summary line on stderr every --report-interval.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { parseDuration } from '../api/duration.js';
import { createLogger } from '../runtime/logger.js';
import { AdminServer, summary, type Summary } from '../shadow/admin-server.js';
import {
  rulesForWorker,
  serveWorker,
  ShadowCluster,
  WORKER_INDEX_ENV,
  WORKERS_ENV,
} from '../shadow/cluster.js';
import { ShadowProxy } from '../shadow/proxy.js';
import {
  compileRules,
  defaultRules,
  loadRulesFile,
  RulesError,
  type CompiledRules,
} from '../shadow/rules.js';
import { helpText, parseCommandLine, resolveFlag, UsageError, type CommandSpec } from './args.js';

/** Defaults chosen from the benchmark (docs/shadow-proxy.md, "Mirror thread"). */
export const MIRROR_THREAD_DEFAULT: 'on' | 'off' = 'off';
export const MIRROR_NICE_DEFAULT = 10;

export const SHADOW_PROXY_COMMAND: CommandSpec = {
  name: 'shadow-proxy',
  usage: '--legacy URL --new URL [--rules FILE] [flags]',
  description: [
    'Serves every request from legacy, unchanged and streamed; sends the reads the rules select to the',
    'new stack as well (asynchronously, through a bounded queue), compares the two answers and counts',
    'every difference. The new stack being slow or down never changes what clients get.',
  ].join('\n'),
  flags: [
    {
      name: 'legacy',
      type: 'string',
      value: 'URL',
      help: 'the legacy service, e.g. http://127.0.0.1:8081 (required)',
    },
    {
      name: 'new',
      type: 'string',
      value: 'URL',
      help: "the new stack's service, e.g. http://127.0.0.1:8082 (required)",
    },
    {
      name: 'rules',
      type: 'string',
      value: 'FILE',
      help: 'comparison rules (YAML or JSON; docs/shadow-proxy.md); default: GET and HEAD mirrored, everything compared exactly',
    },
    {
      name: 'legacy-secondary',
      type: 'string',
      value: 'URL',
      help: 'a second legacy backend for noise learning (overrides noise.secondaryLegacyUrl)',
    },
    {
      name: 'listen',
      type: 'string',
      value: 'HOST:PORT',
      default: '127.0.0.1:8080',
      help: 'where clients connect (:8080 for all interfaces)',
    },
    {
      name: 'metrics-listen',
      type: 'string',
      value: 'HOST:PORT',
      default: '127.0.0.1:9464',
      help: 'admin port: /metrics, /samples, /noise, /stats, /healthz',
    },
    {
      name: 'service',
      type: 'string',
      value: 'NAME',
      help: "the service label (overrides the rules' service)",
    },
    {
      name: 'report-interval',
      type: 'string',
      value: 'DURATION',
      default: '10s',
      help: 'a summary line on stderr this often, e.g. 10s (0 for none)',
    },
    {
      name: 'workers',
      type: 'string',
      value: 'N',
      help: 'processes sharing the listening port, each mirroring and comparing its share of the traffic, the queue bounds divided among them (default: the CPUs available to the proxy)',
    },
    {
      name: 'mirror-thread',
      type: 'string',
      value: 'on|off',
      default: MIRROR_THREAD_DEFAULT,
      help: 'on: mirroring and comparison run on a worker thread of each proxy process, off the event loop that serves legacy; off: inline on it (docs/shadow-proxy.md: which is faster where)',
    },
    {
      name: 'mirror-nice',
      type: 'string',
      value: 'N',
      default: String(MIRROR_NICE_DEFAULT),
      help: "with --mirror-thread on: the thread's nice value, 0-19 (higher: the legacy path wins the CPU, at the cost of compared answers when CPU is short)",
    },
    { name: 'check', type: 'boolean', help: 'validate the rules file, print the problems, and exit' },
  ],
  footer:
    'Exit codes: 0 stopped by SIGINT/SIGTERM or --check passed, 1 invalid rules, 2 usage or start error.',
};

export interface ShadowProxyArgs {
  legacy?: string;
  newUrl?: string;
  rules?: string;
  secondary?: string;
  listen: { host: string; port: number };
  metricsListen: { host: string; port: number };
  service?: string;
  reportMs: number;
  /** Worker processes; undefined: the CPUs available. */
  workers?: number;
  mirrorThread: boolean;
  mirrorNice: number;
  check: boolean;
  help: boolean;
}

export function parseHostPort(flag: string, text: string): { host: string; port: number } {
  const m =
    /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text) ??
    (/^\d{1,5}$/.test(text) ? [text, undefined, '', text] : null);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new UsageError(`${flag} needs HOST:PORT like 127.0.0.1:8080, :8080 or [::1]:8080, got '${text}'`);
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? '0.0.0.0' : m[2]);
  return { host, port };
}

function parseUrl(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`${flag} needs a URL like http://127.0.0.1:8081, got '${text}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`${flag}: only http:// and https:// URLs, got '${text}'`);
  if (u.username || u.password) throw new UsageError(`${flag}: the URL must not carry credentials`);
  return text;
}

export function parseShadowProxyArgs(argv: string[]): ShadowProxyArgs {
  const parsed = parseCommandLine(SHADOW_PROXY_COMMAND, argv);
  const flag = (name: string): string | undefined => resolveFlag(SHADOW_PROXY_COMMAND, parsed, name, {}).text;
  const interval = flag('report-interval') ?? '10s';
  let reportMs = 0;
  if (interval !== '0') {
    try {
      reportMs = parseDuration(interval);
    } catch {
      throw new UsageError(`--report-interval needs a duration like 10s or 1m (or 0), got '${interval}'`);
    }
  }
  const service = flag('service');
  if (service !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(service)) {
    throw new UsageError(
      `--service needs a name of lower-case letters, digits and -, like pos, got '${service}'`,
    );
  }
  const workersText = flag('workers');
  let workers: number | undefined;
  if (workersText !== undefined) {
    workers = Number(workersText);
    if (!/^\d+$/.test(workersText) || workers < 1 || workers > 256)
      throw new UsageError(`--workers needs a whole number from 1 to 256, got '${workersText}'`);
  }
  const threadText = flag('mirror-thread') ?? MIRROR_THREAD_DEFAULT;
  if (threadText !== 'on' && threadText !== 'off')
    throw new UsageError(`--mirror-thread needs on or off, got '${threadText}'`);
  const niceText = flag('mirror-nice') ?? String(MIRROR_NICE_DEFAULT);
  const mirrorNice = Number(niceText);
  if (!/^\d+$/.test(niceText) || mirrorNice > 19)
    throw new UsageError(`--mirror-nice needs a whole number from 0 to 19, got '${niceText}'`);
  return {
    workers,
    mirrorThread: threadText === 'on',
    mirrorNice,
    legacy: parseUrl('--legacy', flag('legacy')),
    newUrl: parseUrl('--new', flag('new')),
    rules: flag('rules'),
    secondary: parseUrl('--legacy-secondary', flag('legacy-secondary')),
    listen: parseHostPort('--listen', flag('listen') ?? '127.0.0.1:8080'),
    metricsListen: parseHostPort('--metrics-listen', flag('metrics-listen') ?? '127.0.0.1:9464'),
    service,
    reportMs,
    check: parsed.flags.check === true,
    help: parsed.help,
  };
}

function loadRules(args: ShadowProxyArgs): CompiledRules {
  const rules = args.rules ? loadRulesFile(args.rules) : defaultRules();
  return args.service ? compileRules({ ...rules.source, service: args.service }) : rules;
}

export async function run(argv: string[]): Promise<number> {
  let args: ShadowProxyArgs;
  try {
    args = parseShadowProxyArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`${e.message}\n\n${helpText(SHADOW_PROXY_COMMAND)}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${helpText(SHADOW_PROXY_COMMAND)}\n`);
    return 0;
  }
  let rules: CompiledRules;
  try {
    rules = loadRules(args);
  } catch (e) {
    if (e instanceof RulesError) {
      err(e.message);
      return 1;
    }
    throw e;
  }
  if (args.check) {
    process.stdout.write(
      `${args.rules ?? '(default rules)'}: valid (${rules.routes.length} route(s), service ${rules.service})\n`,
    );
    return 0;
  }
  if (!args.legacy || !args.newUrl) {
    err(`cutover shadow-proxy: --legacy and --new are required\n\n${helpText(SHADOW_PROXY_COMMAND)}`);
    return 2;
  }
  if (cluster.isWorker) return runWorker(args, args.legacy, args.newUrl, rules);
  const workers = args.workers ?? availableParallelism();
  if (workers > 1) return runPrimary(args, rules, workers);
  const proxy = new ShadowProxy({
    legacyUrl: args.legacy,
    newUrl: args.newUrl,
    secondaryLegacyUrl: args.secondary,
    rules,
    mirrorThread: args.mirrorThread,
    mirrorNice: args.mirrorNice,
  });
  const admin = new AdminServer(proxy);
  let listening: { address: string; port: number };
  let adminAt: { address: string; port: number };
  try {
    listening = await proxy.listen(args.listen.port, args.listen.host);
    adminAt = await admin.listen(args.metricsListen.port, args.metricsListen.host);
  } catch (e) {
    err(`cutover shadow-proxy: cannot listen: ${(e as Error).message}`);
    await proxy.close(0).catch(() => undefined);
    return 2;
  }
  announce(args, rules, listening, adminAt, 1);
  const timer = reportEvery(args, rules, () => summary(proxy));
  await stopSignal();
  if (timer) clearInterval(timer);
  err('shadow-proxy stopping: finishing open exchanges');
  await proxy.close();
  await admin.close();
  return 0;
}

const err = (line: string): void => void process.stderr.write(`${line}\n`);

function hostOf(a: { address: string; port: number }): string {
  return `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
}

/** One line a program can parse (tests and the bench read the ports from it). */
function announce(
  args: ShadowProxyArgs,
  rules: CompiledRules,
  listening: { address: string; port: number },
  adminAt: { address: string; port: number },
  workers: number,
): void {
  const secondary = args.secondary ?? rules.secondaryLegacyUrl;
  err(
    `shadow-proxy listening on ${hostOf(listening)} (legacy ${args.legacy}, new ${args.newUrl}${secondary ? `, secondary ${secondary}` : ''}); admin on ${hostOf(adminAt)}; service ${rules.service}, ${rules.routes.length} route(s), ${workers} worker(s), mirror ${args.mirrorThread ? `thread (nice ${args.mirrorNice})` : 'inline'}`,
  );
}

function reportEvery(
  args: ShadowProxyArgs,
  rules: CompiledRules,
  stats: () => Promise<Summary>,
): NodeJS.Timeout | undefined {
  if (args.reportMs <= 0) return undefined;
  const timer = setInterval(() => {
    void stats().then((s) => {
      const rate = s.compared ? ((s.differing / s.compared) * 100).toFixed(2) : '0.00';
      err(
        `requests ${s.requests}  mirrored ${s.mirrored}  compared ${s.compared}  differing ${s.differing} (${rate}%)  noise ${s.noise}  dropped ${s.dropped}  errors ${s.errors}  queue ${s.admitted}/${rules.queueSize}${s.restarts ? `  worker restarts ${s.restarts}` : ''}`,
      );
    });
  }, args.reportMs);
  timer.unref();
  return timer;
}

function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** The primary of several workers: supervises them and serves the admin port for all. */
async function runPrimary(args: ShadowProxyArgs, rules: CompiledRules, workers: number): Promise<number> {
  const log = createLogger('shadow-proxy', { service: rules.service });
  const proxies = new ShadowCluster({ workers, service: rules.service, sampleSize: rules.sampleSize, log });
  const admin = new AdminServer(proxies);
  let listening: { address: string; port: number };
  let adminAt: { address: string; port: number };
  try {
    listening = await proxies.start();
    adminAt = await admin.listen(args.metricsListen.port, args.metricsListen.host);
  } catch (e) {
    err(`cutover shadow-proxy: cannot listen: ${(e as Error).message}`);
    await proxies.stop(1_000);
    return 2;
  }
  announce(args, rules, listening, adminAt, workers);
  const timer = reportEvery(args, rules, () => proxies.stats());
  await stopSignal();
  if (timer) clearInterval(timer);
  err('shadow-proxy stopping: finishing open exchanges');
  await proxies.stop();
  await admin.close();
  return 0;
}

/** One worker of several: a whole proxy on the shared port with its share of the bounds. */
async function runWorker(
  args: ShadowProxyArgs,
  legacy: string,
  newUrl: string,
  rules: CompiledRules,
): Promise<number> {
  const index = Number(process.env[WORKER_INDEX_ENV] ?? '0');
  const workers = Number(process.env[WORKERS_ENV] ?? '1');
  const proxy = new ShadowProxy({
    legacyUrl: legacy,
    newUrl,
    secondaryLegacyUrl: args.secondary,
    rules: rulesForWorker(rules, workers),
    mirrorThread: args.mirrorThread,
    mirrorNice: args.mirrorNice,
    logger: createLogger('shadow-proxy', { service: rules.service, worker: index }),
  });
  try {
    await proxy.listen(args.listen.port, args.listen.host);
  } catch (e) {
    err(`cutover shadow-proxy worker ${index}: cannot listen: ${(e as Error).message}`);
    process.exit(2);
  }
  await Promise.race([serveWorker(proxy), stopSignal()]);
  await proxy.close();
  process.exit(0);
}
