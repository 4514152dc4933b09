/**
 * Settings of `cutover operator`: every one has a flag and an environment variable
 * (flag > environment > default), and `--help` explains them.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

export interface OperatorOptions {
  kubeconfig?: string;
  /** Empty = all namespaces. */
  namespaces: string[];
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  identity: string;
  listenHost: string;
  listenPort: number;
  workers: number;
  resyncPeriodMs: number;
  watchSilenceMs: number;
  apiTimeoutMs: number;
  /** Empty = every registered controller. */
  controllers: string[];
  /** Image of the Jobs the operator runs itself; empty: resolved at start (see image.ts). */
  image: string;
  shutdownTimeoutMs: number;
  logLevel: string;
}

type Kind = 'string' | 'bool' | 'duration' | 'int' | 'list';

interface OptionDef {
  key: keyof OperatorOptions | 'listen';
  flag: string;
  env: string[];
  kind: Kind;
  default: (env: NodeJS.ProcessEnv) => string;
  help: string;
}

export function defaultIdentity(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

const DEFS: OptionDef[] = [
  { key: 'kubeconfig', flag: 'kubeconfig', env: ['KUBECONFIG'], kind: 'string', default: () => '', help: 'kubeconfig file; empty: in-cluster config when running in a Pod, else ~/.kube/config' },
  { key: 'namespaces', flag: 'namespaces', env: ['CUTOVER_NAMESPACES', 'WATCH_NAMESPACES'], kind: 'list', default: () => '', help: 'comma-separated namespaces to watch; empty: all namespaces' },
  { key: 'controllers', flag: 'controllers', env: ['CUTOVER_CONTROLLERS'], kind: 'list', default: () => '', help: 'comma-separated controllers to run; empty: all registered' },
  { key: 'workers', flag: 'workers', env: ['CUTOVER_WORKERS'], kind: 'int', default: () => '2', help: 'concurrent syncs per controller (never two for one key)' },
  { key: 'leaderElect', flag: 'leader-elect', env: ['CUTOVER_LEADER_ELECT'], kind: 'bool', default: () => 'true', help: 'elect a leader through a Lease; only the leader syncs (--no-leader-elect for a single replica)' },
  { key: 'leaderElectionNamespace', flag: 'leader-election-namespace', env: ['CUTOVER_LEADER_ELECTION_NAMESPACE', 'POD_NAMESPACE'], kind: 'string', default: () => 'default', help: 'namespace of the Lease' },
  { key: 'leaderElectionId', flag: 'leader-election-id', env: ['CUTOVER_LEADER_ELECTION_ID'], kind: 'string', default: () => 'cutover-operator', help: 'name of the Lease' },
  { key: 'leaseDurationMs', flag: 'lease-duration', env: ['CUTOVER_LEASE_DURATION'], kind: 'duration', default: () => '15s', help: 'how long standbys wait after the last renewal before taking over' },
  { key: 'renewDeadlineMs', flag: 'renew-deadline', env: ['CUTOVER_RENEW_DEADLINE'], kind: 'duration', default: () => '10s', help: 'the leader stops acting when it could not renew for this long' },
  { key: 'retryPeriodMs', flag: 'retry-period', env: ['CUTOVER_RETRY_PERIOD'], kind: 'duration', default: () => '2s', help: 'interval between renewals and acquisition attempts' },
  { key: 'identity', flag: 'identity', env: ['CUTOVER_IDENTITY', 'POD_NAME'], kind: 'string', default: () => defaultIdentity(), help: 'holder identity in the Lease (default: hostname-pid-random)' },
  { key: 'listen', flag: 'listen-address', env: ['CUTOVER_LISTEN_ADDRESS'], kind: 'string', default: () => '0.0.0.0:8080', help: 'host:port of /metrics, /healthz and /readyz (port 0: any free port)' },
  { key: 'resyncPeriodMs', flag: 'resync-period', env: ['CUTOVER_RESYNC_PERIOD'], kind: 'duration', default: () => '10m', help: 'every object is synced again this often; 0 disables' },
  { key: 'watchSilenceMs', flag: 'watch-silence-timeout', env: ['CUTOVER_WATCH_SILENCE_TIMEOUT'], kind: 'duration', default: () => '12m', help: 'restart a watch that delivered no event or bookmark for this long' },
  { key: 'apiTimeoutMs', flag: 'api-timeout', env: ['CUTOVER_API_TIMEOUT'], kind: 'duration', default: () => '30s', help: 'timeout of one API request (watches excepted)' },
  { key: 'shutdownTimeoutMs', flag: 'shutdown-timeout', env: ['CUTOVER_SHUTDOWN_TIMEOUT'], kind: 'duration', default: () => '30s', help: 'on SIGTERM, wait this long for in-flight syncs before aborting them' },
  { key: 'logLevel', flag: 'log-level', env: ['LOG_LEVEL'], kind: 'string', default: () => 'info', help: 'trace, debug, info, warn, error' },
  { key: 'image', flag: 'image', env: ['CUTOVER_IMAGE'], kind: 'string', default: () => '', help: "image of the Jobs the operator runs (reconciliation shards); empty: the image of the operator's own Pod, else ghcr.io/nokta/cutover-operator:<version>" },
];

/** Parses `500ms`, `15s`, `2m`, `1h`, `1m30s`; a bare number is seconds. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const n = Number(m[1]);
    total += n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    matched = re.lastIndex;
  }
  if (matched !== t.length || t.length === 0) throw new Error(`'${text}' is not a duration (use e.g. 500ms, 15s, 2m, 1h)`);
  return Math.round(total);
}

function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off'].includes(t)) return false;
  throw new Error(`'${text}' is not a boolean (true or false)`);
}

export function helpText(): string {
  const lines = DEFS.map((d) => {
    const flag = d.kind === 'bool' ? `--[no-]${d.flag}` : `--${d.flag} ${d.kind === 'duration' ? 'DURATION' : d.kind === 'int' ? 'N' : d.kind === 'list' ? 'A,B' : 'VALUE'}`;
    const def = d.key === 'identity' ? 'hostname-pid-random' : d.default({});
    return `  ${flag.padEnd(40)} ${d.help}\n  ${''.padEnd(40)} env: ${d.env.join(', ')}${def ? `; default: ${def}` : ''}`;
  });
  return [
    'usage: cutover operator [options]',
    '',
    'Runs the cutover controllers: watches the custom resources and the objects they own, syncs',
    'each changed resource (only in the leader replica) and serves /metrics, /healthz, /readyz.',
    'Every option can also be set through the environment; a flag wins over the environment.',
    '',
    'options:',
    ...lines,
    `  ${'--help'.padEnd(40)} this text`,
  ].join('\n');
}

export type ParseResult = { kind: 'options'; options: OperatorOptions } | { kind: 'help'; text: string } | { kind: 'error'; message: string };

export function parseOperatorOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ParseResult {
  const raw = new Map<string, string>();
  const byFlag = new Map(DEFS.map((d) => [d.flag, d]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--help' || a === '-h') return { kind: 'help', text: helpText() };
    if (!a.startsWith('--')) return { kind: 'error', message: `unexpected argument '${a}'` };
    const eq = a.indexOf('=');
    let name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
    let def = byFlag.get(name);
    if (!def && name.startsWith('no-') && byFlag.get(name.slice(3))?.kind === 'bool' && value === undefined) {
      name = name.slice(3);
      def = byFlag.get(name);
      value = 'false';
    }
    if (!def) return { kind: 'error', message: `unknown option '--${name}' (see --help)` };
    if (value === undefined) {
      if (def.kind === 'bool') value = 'true';
      else {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('--')) return { kind: 'error', message: `option '--${name}' needs a value` };
        value = next;
        i++;
      }
    }
    raw.set(def.flag, def.kind === 'list' && raw.has(def.flag) ? `${raw.get(def.flag) ?? ''},${value}` : value);
  }
  const out: Record<string, unknown> = {};
  try {
    for (const d of DEFS) {
      const fromEnv = d.env.map((e) => env[e]).find((v) => v !== undefined && v !== '');
      const text = raw.get(d.flag) ?? fromEnv ?? d.default(env);
      const where = raw.has(d.flag) ? `--${d.flag}` : fromEnv !== undefined ? d.env.find((e) => env[e] === fromEnv) : 'default';
      try {
        switch (d.kind) {
          case 'string':
            out[d.key] = text;
            break;
          case 'bool':
            out[d.key] = parseBool(text);
            break;
          case 'duration':
            out[d.key] = parseDuration(text);
            break;
          case 'int': {
            if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new Error(`'${text}' is not a positive integer`);
            out[d.key] = Number(text);
            break;
          }
          case 'list':
            out[d.key] = text.split(',').map((s) => s.trim()).filter(Boolean);
            break;
        }
      } catch (e) {
        throw new Error(`${where ?? d.flag}: ${(e as Error).message}`, { cause: e });
      }
    }
    const listen = String(out.listen);
    const m = /^(.*):(\d+)$/.exec(listen);
    if (!m) throw new Error(`--listen-address: '${listen}' is not host:port`);
    out.listenHost = m[1] === '' ? '0.0.0.0' : m[1];
    out.listenPort = Number(m[2]);
    delete out.listen;
    if (out.kubeconfig === '') delete out.kubeconfig;
    const o = out as unknown as OperatorOptions;
    if (o.renewDeadlineMs >= o.leaseDurationMs) throw new Error('--renew-deadline must be shorter than --lease-duration');
    if (o.retryPeriodMs >= o.renewDeadlineMs) throw new Error('--retry-period must be shorter than --renew-deadline');
    return { kind: 'options', options: o };
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
}
