/**
 * Settings of `cutover operator`: every one has a flag and an environment variable
 * (flag > environment > default), and `--help` explains them. The command line goes through the
 * shared parser of every `cutover` command (src/cli/args.ts); durations through the one duration
 * parser (src/api/duration.ts).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseDuration as parseDurationText } from '../api/duration.js';
import {
  helpText as cliHelpText,
  parseCommandLine,
  resolveFlag,
  UsageError,
  type CommandSpec,
} from '../cli/args.js';

export interface OperatorOptions {
  kubeconfig?: string;
  /** kubeconfig context (default: its current-context). */
  context?: string;
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
  /** Cutover plan time runs this many times faster than real time (rehearsals); 1 = real time. */
  timeScale: number;
  /** With timeScale: `PLAN[@REAL]`, the plan time that REAL (default: start) corresponds to. */
  timeOrigin: string;
  /** One full garbage collection after this many syncs once the queues are quiet; 0: never (src/runtime/memory.ts). */
  gcAfterSyncs: number;
}

type Kind = 'string' | 'bool' | 'duration' | 'int' | 'list';

interface OptionDef {
  key: keyof OperatorOptions | 'listen';
  flag: string;
  env: string[];
  kind: Kind;
  default: (env: NodeJS.ProcessEnv) => string;
  help: string;
  /** Placeholder of the value in the help. */
  value?: string;
  /** Smallest value of an int (default 1). */
  min?: number;
}

export function defaultIdentity(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

const DEFS: OptionDef[] = [
  {
    key: 'kubeconfig',
    flag: 'kubeconfig',
    env: ['KUBECONFIG'],
    kind: 'string',
    value: 'FILE',
    default: () => '',
    help: 'kubeconfig file(s), merged as kubectl does; empty: in-cluster config when running in a Pod, else ~/.kube/config',
  },
  {
    key: 'context',
    flag: 'context',
    env: ['CUTOVER_CONTEXT'],
    kind: 'string',
    value: 'NAME',
    default: () => '',
    help: 'kubeconfig context to use; empty: its current-context',
  },
  {
    key: 'namespaces',
    flag: 'namespaces',
    env: ['CUTOVER_NAMESPACES', 'WATCH_NAMESPACES'],
    kind: 'list',
    default: () => '',
    help: 'comma-separated namespaces to watch; empty: all namespaces',
  },
  {
    key: 'controllers',
    flag: 'controllers',
    env: ['CUTOVER_CONTROLLERS'],
    kind: 'list',
    default: () => '',
    help: 'comma-separated controllers to run; empty: all registered',
  },
  {
    key: 'workers',
    flag: 'workers',
    env: ['CUTOVER_WORKERS'],
    kind: 'int',
    default: () => '2',
    help: 'concurrent syncs per controller (never two for one key)',
  },
  {
    key: 'gcAfterSyncs',
    flag: 'gc-after-syncs',
    env: ['CUTOVER_GC_AFTER_SYNCS'],
    kind: 'int',
    min: 0,
    value: 'N',
    default: () => '100',
    help: 'after a burst of at least N syncs (the start-up pass, objects created in bulk), one full garbage collection once the queues have been quiet for 5s: gives back the heap the burst grew; 0: leave it to V8',
  },
  {
    key: 'leaderElect',
    flag: 'leader-elect',
    env: ['CUTOVER_LEADER_ELECT'],
    kind: 'bool',
    default: () => 'true',
    help: 'elect a leader through a Lease; only the leader syncs (--no-leader-elect for a single replica)',
  },
  {
    key: 'leaderElectionNamespace',
    flag: 'leader-election-namespace',
    env: ['CUTOVER_LEADER_ELECTION_NAMESPACE', 'POD_NAMESPACE'],
    kind: 'string',
    value: 'NAMESPACE',
    default: () => 'default',
    help: 'namespace of the Lease',
  },
  {
    key: 'leaderElectionId',
    flag: 'leader-election-id',
    env: ['CUTOVER_LEADER_ELECTION_ID'],
    kind: 'string',
    value: 'NAME',
    default: () => 'cutover-operator',
    help: 'name of the Lease',
  },
  {
    key: 'leaseDurationMs',
    flag: 'lease-duration',
    env: ['CUTOVER_LEASE_DURATION'],
    kind: 'duration',
    default: () => '15s',
    help: 'how long standbys wait after the last renewal before taking over',
  },
  {
    key: 'renewDeadlineMs',
    flag: 'renew-deadline',
    env: ['CUTOVER_RENEW_DEADLINE'],
    kind: 'duration',
    default: () => '10s',
    help: 'the leader stops acting when it could not renew for this long',
  },
  {
    key: 'retryPeriodMs',
    flag: 'retry-period',
    env: ['CUTOVER_RETRY_PERIOD'],
    kind: 'duration',
    default: () => '2s',
    help: 'interval between renewals and acquisition attempts',
  },
  {
    key: 'identity',
    flag: 'identity',
    env: ['CUTOVER_IDENTITY', 'POD_NAME'],
    kind: 'string',
    value: 'NAME',
    default: () => defaultIdentity(),
    help: 'holder identity in the Lease',
  },
  {
    key: 'listen',
    flag: 'listen-address',
    env: ['CUTOVER_LISTEN_ADDRESS'],
    kind: 'string',
    value: 'HOST:PORT',
    default: () => '0.0.0.0:8080',
    help: 'host:port of /metrics, /healthz and /readyz (port 0: any free port)',
  },
  {
    key: 'resyncPeriodMs',
    flag: 'resync-period',
    env: ['CUTOVER_RESYNC_PERIOD'],
    kind: 'duration',
    default: () => '10m',
    help: 'every object is synced again this often; 0 disables',
  },
  {
    key: 'watchSilenceMs',
    flag: 'watch-silence-timeout',
    env: ['CUTOVER_WATCH_SILENCE_TIMEOUT'],
    kind: 'duration',
    default: () => '12m',
    help: 'restart a watch that delivered no event or bookmark for this long',
  },
  {
    key: 'apiTimeoutMs',
    flag: 'api-timeout',
    env: ['CUTOVER_API_TIMEOUT'],
    kind: 'duration',
    default: () => '30s',
    help: 'timeout of one API request (watches excepted)',
  },
  {
    key: 'shutdownTimeoutMs',
    flag: 'shutdown-timeout',
    env: ['CUTOVER_SHUTDOWN_TIMEOUT'],
    kind: 'duration',
    default: () => '30s',
    help: 'on SIGTERM, wait this long for in-flight syncs before aborting them',
  },
  {
    key: 'timeScale',
    flag: 'time-scale',
    env: ['CUTOVER_TIME_SCALE'],
    kind: 'int',
    value: 'N',
    default: () => '1',
    help: 'rehearsals: Cutover plan time runs N times faster (every time and offset of the plan scaled)',
  },
  {
    key: 'timeOrigin',
    flag: 'time-origin',
    env: ['CUTOVER_TIME_ORIGIN'],
    kind: 'string',
    value: 'PLAN[@REAL]',
    default: () => '',
    help: 'rehearsals: the plan time (RFC 3339) that REAL (default: now) corresponds to; empty: plan time = real time at start',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: ['LOG_LEVEL'],
    kind: 'string',
    value: 'LEVEL',
    default: () => 'info',
    help: 'trace, debug, info, warn, error',
  },
  {
    key: 'image',
    flag: 'image',
    env: ['CUTOVER_IMAGE'],
    kind: 'string',
    value: 'IMAGE',
    default: () => '',
    help: "image of the Jobs the operator runs (reconciliation shards); empty: the image of the operator's own Pod, else ghcr.io/nokta/cutover-operator:<version>",
  },
];

/**
 * A flag's duration: the project's one grammar (src/api/duration.ts: `500ms`, `15s`, `2m`,
 * `1h30m`), or a bare whole number of seconds (`0` disables a period).
 */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^[0-9]{1,9}$/.test(t)) return Number(t) * 1000;
  return parseDurationText(t);
}

function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off'].includes(t)) return false;
  throw new Error(`'${text}' is not a boolean (true or false)`);
}

const PLACEHOLDER: Record<Kind, string> = {
  string: 'VALUE',
  bool: '',
  duration: 'DURATION',
  int: 'N',
  list: 'A,B',
};

/** The command line of `cutover operator`, for the shared parser (src/cli/args.ts). */
export const OPERATOR_COMMAND: CommandSpec = {
  name: 'operator',
  usage: '[flags]',
  description: [
    'Runs the cutover controllers: watches the custom resources and the objects they own, syncs',
    'each changed resource (only in the leader replica) and serves /metrics, /healthz, /readyz.',
    'Every flag can also be set through the environment; a flag wins over the environment.',
  ].join('\n'),
  flags: DEFS.map((d) => ({
    name: d.flag,
    type: d.kind === 'bool' ? 'boolean' : 'string',
    ...(d.kind === 'bool' ? { negatable: true } : { value: d.value ?? PLACEHOLDER[d.kind] }),
    ...(d.kind === 'list' ? { multiple: true } : {}),
    help: d.help,
    env: d.env,
    default: d.key === 'identity' ? 'hostname-pid-random' : d.default({}),
  })),
  footer: 'Durations: 500ms, 15s, 2m, 1h30m (or a whole number of seconds).',
};

export function helpText(): string {
  return cliHelpText(OPERATOR_COMMAND);
}

export type ParseResult =
  | { kind: 'options'; options: OperatorOptions }
  | { kind: 'help'; text: string }
  | { kind: 'error'; message: string };

export function parseOperatorOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ParseResult {
  let parsed;
  try {
    parsed = parseCommandLine(OPERATOR_COMMAND, argv);
  } catch (e) {
    if (e instanceof UsageError)
      return { kind: 'error', message: e.message.replace(/^cutover operator: /, '') };
    throw e;
  }
  if (parsed.help) return { kind: 'help', text: helpText() };
  const out: Record<string, unknown> = {};
  try {
    for (const d of DEFS) {
      const given = parsed.flags[d.flag];
      // booleans come parsed from the command line; everything else is text from flag, env or default
      const { text: resolved, from } =
        given === undefined || typeof given !== 'boolean'
          ? resolveFlag(OPERATOR_COMMAND, parsed, d.flag, env)
          : { text: String(given), from: `--${d.flag}` };
      // the real default (the help shows a description of it for the identity)
      const text = from === 'default' || resolved === undefined ? d.default(env) : resolved;
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
            const min = d.min ?? 1;
            if (!/^\d+$/.test(text.trim()) || Number(text) < min)
              throw new Error(`'${text}' is not a ${min === 0 ? 'whole number' : 'positive integer'}`);
            out[d.key] = Number(text);
            break;
          }
          case 'list':
            out[d.key] = text
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean);
            break;
        }
      } catch (e) {
        throw new Error(`${from}: ${(e as Error).message}`, { cause: e });
      }
    }
    const listen = String(out.listen);
    const m = /^(.*):(\d+)$/.exec(listen);
    if (!m) throw new Error(`--listen-address: '${listen}' is not host:port`);
    out.listenHost = m[1] === '' ? '0.0.0.0' : m[1];
    out.listenPort = Number(m[2]);
    delete out.listen;
    if (out.kubeconfig === '') delete out.kubeconfig;
    if (out.context === '') delete out.context;
    const o = out as unknown as OperatorOptions;
    if (o.renewDeadlineMs >= o.leaseDurationMs)
      throw new Error('--renew-deadline must be shorter than --lease-duration');
    if (o.retryPeriodMs >= o.renewDeadlineMs)
      throw new Error('--retry-period must be shorter than --renew-deadline');
    return { kind: 'options', options: o };
  } catch (e) {
    return { kind: 'error', message: (e as Error).message };
  }
}
