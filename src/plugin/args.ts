/** The command line of `kubectl cutover`: a command, its positional arguments and the flags. */
import { EXIT, PluginError } from './exit-codes.js';

export type Output = 'text' | 'json' | 'yaml';

/** Commands that are the cutover CLI's own (`kubectl cutover validate -f samples/` keeps working). */
export const CLI_COMMANDS = ['dashboard', 'validate', 'reconcile', 'version'];

export interface PluginArgs {
  command: string;
  positional: string[];
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  output: Output;
  watch: boolean;
  reason?: string;
  by?: string;
  part?: string;
  /** Seconds between two reads of `status --watch`. */
  interval: number;
  /** Everything after the command, untouched (for the commands handed to the cutover CLI). */
  rest: string[];
}

const VALUE_FLAGS: Record<string, keyof PluginArgs> = {
  '-n': 'namespace',
  '--namespace': 'namespace',
  '--kubeconfig': 'kubeconfig',
  '--context': 'context',
  '-o': 'output',
  '--output': 'output',
  '--reason': 'reason',
  '--by': 'by',
  '--part': 'part',
  '--interval': 'interval',
};

export function parseArgs(argv: string[]): PluginArgs {
  const a: PluginArgs = { command: '', positional: [], output: 'text', watch: false, interval: 2, rest: [] };
  let command: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '-h' || x === '--help') {
      help = true;
      continue;
    }
    if (x === '-w' || x === '--watch') {
      a.watch = true;
      continue;
    }
    const eq = x.indexOf('=');
    const flag = x.startsWith('--') && eq > 0 ? x.slice(0, eq) : x;
    const key = VALUE_FLAGS[flag];
    if (key) {
      const value = flag !== x ? x.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new PluginError(EXIT.usage, `${flag} needs a value`);
      set(a, key, value, flag);
      continue;
    }
    if (x.startsWith('-') && x !== '-') throw new PluginError(EXIT.usage, `unknown flag ${x}`);
    if (command === undefined) {
      command = x;
      if (CLI_COMMANDS.includes(x)) {
        // The cutover CLI's own command: everything after it is its arguments.
        a.rest = argv.slice(i + 1);
        break;
      }
    } else a.positional.push(x);
  }
  a.command = help ? 'help' : (command ?? '');
  return a;
}

function set(a: PluginArgs, key: keyof PluginArgs, value: string, flag: string): void {
  if (key === 'output') {
    if (value !== 'json' && value !== 'yaml' && value !== 'text')
      throw new PluginError(EXIT.usage, `${flag} takes json, yaml or text, not ${value}`);
    a.output = value;
  } else if (key === 'interval') {
    const n = Number(value);
    if (!(n > 0)) throw new PluginError(EXIT.usage, `${flag} takes a number of seconds`);
    a.interval = n;
  } else if (key === 'namespace' || key === 'kubeconfig' || key === 'context') a[key] = value;
  else if (key === 'reason' || key === 'by' || key === 'part') a[key] = value;
}
