/**
 * The one command-line parser of `cutover`: every command describes its flags here and gets the
 * same behaviour (node:util `parseArgs` underneath): `--flag value`, `--flag=value`, `-f value`,
 * `--[no-]bool`, repeated flags, `--` ends the flags; an unknown flag is refused by name with the
 * closest valid one and the list of valid flags; `--help` for every command; a flag may have
 * environment variables (flag > environment > default), named in the help.
 *
 * The same names everywhere: `-f/--filename`, `-o/--output`, `--kubeconfig`, `--context`
 * (FILENAME, OUTPUT, KUBECONFIG, CONTEXT below).
 */
import { parseArgs } from 'node:util';
import { didYouMean } from '../api/did-you-mean.js';

export interface FlagSpec {
  /** Long name, without `--`. */
  name: string;
  /** One-letter alias, without `-`. */
  short?: string;
  /** `boolean` flags take no value (`--x`, `--no-x` when negatable). */
  type: 'string' | 'boolean';
  /** Repeatable: the values are collected in order. */
  multiple?: boolean;
  /** Placeholder of the value in the help (FILE, URL, N...). */
  value?: string;
  help: string;
  /** Environment variables read when the flag is absent, first non-empty wins. */
  env?: string[];
  /** Default as text (shown in the help). */
  default?: string;
  /** For `string`: the only values allowed. */
  choices?: string[];
  /** Booleans: also accept `--no-<name>`. */
  negatable?: boolean;
  /** Other long names accepted for this flag (kept for old scripts; not shown in the help). */
  aliases?: string[];
}

export interface CommandSpec {
  /** `validate`, `operator`... (`cutover <name>`). */
  name: string;
  /** The part of the usage line after `cutover <name>`. */
  usage: string;
  /** What the command does, a paragraph. */
  description: string;
  flags: FlagSpec[];
  /** Positional arguments allowed (default none). */
  positionals?: boolean;
  /** Text after the flags (exit codes, examples). */
  footer?: string;
}

/** A command line that cannot be run: the message names the flag and the fix. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const FILENAME: FlagSpec = {
  name: 'filename',
  short: 'f',
  type: 'string',
  multiple: true,
  value: 'PATH',
  help: "a YAML/JSON file, a directory (its *.yaml, *.yml and *.json files, recursively) or '-' for stdin; repeatable",
};
export function OUTPUT(choices: string[], def: string): FlagSpec {
  return {
    name: 'output',
    short: 'o',
    type: 'string',
    value: choices.join('|'),
    choices,
    default: def,
    help: `output format: ${choices.join(' or ')}`,
  };
}
export const KUBECONFIG: FlagSpec = {
  name: 'kubeconfig',
  type: 'string',
  value: 'FILE',
  env: ['KUBECONFIG'],
  help: 'kubeconfig file(s) (several joined with the path separator, merged as kubectl does); default: in-cluster config in a Pod, else ~/.kube/config',
};
export const CONTEXT: FlagSpec = {
  name: 'context',
  type: 'string',
  value: 'NAME',
  env: ['CUTOVER_CONTEXT'],
  help: 'kubeconfig context to use (default: its current-context)',
};
const HELP: FlagSpec = { name: 'help', short: 'h', type: 'boolean', help: 'this text' };

export interface ParsedArgs {
  /** Values given on the command line (strings, booleans, or lists for repeatable flags). */
  flags: Record<string, string | boolean | string[]>;
  positionals: string[];
  help: boolean;
}

function display(f: FlagSpec): string {
  return `${f.short ? `-${f.short}, ` : ''}--${f.type === 'boolean' && f.negatable ? `[no-]${f.name}` : f.name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`;
}

function listFlags(spec: CommandSpec): string {
  return [...spec.flags, HELP].map((f) => (f.short ? `-${f.short}/--${f.name}` : `--${f.name}`)).join(', ');
}

/** Parses `argv` (the arguments after `cutover <command>`). Throws UsageError. */
export function parseCommandLine(spec: CommandSpec, argv: string[]): ParsedArgs {
  const flags = [...spec.flags, HELP];
  const byName = new Map<string, FlagSpec>();
  for (const f of flags) {
    byName.set(f.name, f);
    for (const a of f.aliases ?? []) byName.set(a, f);
  }
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, f] of byName)
    options[name] = {
      type: f.type,
      multiple: true,
      ...(f.short && name === f.name ? { short: f.short } : {}),
    };
  const { tokens } = parseArgs({
    args: argv,
    options,
    strict: false,
    allowPositionals: true,
    allowNegative: true,
    tokens: true,
  });
  const cmd = `cutover ${spec.name}`;
  const out: ParsedArgs = { flags: {}, positionals: [], help: false };
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      if (!spec.positionals) {
        const hint = t.value.startsWith('-')
          ? ''
          : spec.flags.some((f) => f.name === 'filename')
            ? ` (files go after -f: -f ${t.value})`
            : '';
        throw new UsageError(`${cmd}: unexpected argument '${t.value}'${hint}`);
      }
      out.positionals.push(t.value);
      continue;
    }
    const f = byName.get(t.name);
    const negated = t.rawName.startsWith('--no-') && !byName.has(t.rawName.slice(2));
    if (!f || (negated && !(f.type === 'boolean' && f.negatable))) {
      const raw = t.rawName;
      const names = flags.flatMap((x) => [x.name, ...(x.negatable ? [`no-${x.name}`] : [])]);
      const guess = raw.startsWith('--') ? didYouMean(raw.slice(2), names) : undefined;
      throw new UsageError(
        `${cmd}: unknown flag '${raw}'${guess ? ` (did you mean --${guess}?)` : ''}; valid flags: ${listFlags(spec)}`,
      );
    }
    if (f === HELP) {
      out.help = true;
      continue;
    }
    if (f.type === 'boolean') {
      if (t.inlineValue)
        throw new UsageError(`${cmd}: flag --${f.name} takes no value (got '${t.rawName}=${t.value ?? ''}')`);
      out.flags[f.name] = !negated;
      continue;
    }
    const v = t.value;
    if (v === undefined)
      throw new UsageError(`${cmd}: flag ${t.rawName} needs a value (${f.value ?? 'VALUE'})`);
    if (!t.inlineValue && v.startsWith('-') && v !== '-') {
      throw new UsageError(
        `${cmd}: flag ${t.rawName} needs a value (${f.value ?? 'VALUE'}), got the flag '${v}'; write ${t.rawName}=${v} if that is the value`,
      );
    }
    if (f.choices && !f.choices.includes(v))
      throw new UsageError(`${cmd}: --${f.name} must be ${f.choices.join(' or ')}, not '${v}'`);
    if (f.multiple) out.flags[f.name] = [...((out.flags[f.name] as string[] | undefined) ?? []), v];
    else out.flags[f.name] = v;
  }
  return out;
}

/** Where a value came from, for messages: `--workers`, `CUTOVER_WORKERS` or `default`. */
export interface Resolved {
  text: string | undefined;
  from: string;
}

/** The text of a string flag: the command line, else its environment variables, else its default. */
export function resolveFlag(
  spec: CommandSpec,
  parsed: ParsedArgs,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Resolved {
  const f = spec.flags.find((x) => x.name === name);
  if (!f) throw new Error(`flag --${name} is not declared by cutover ${spec.name}`);
  const given = parsed.flags[name];
  if (given !== undefined)
    return { text: Array.isArray(given) ? given.join(',') : String(given), from: `--${name}` };
  for (const e of f.env ?? []) {
    const v = env[e];
    if (v !== undefined && v !== '') return { text: v, from: e };
  }
  return { text: f.default, from: 'default' };
}

/** `--help` of a command: usage, description, every flag with its environment variables and default. */
export function helpText(spec: CommandSpec): string {
  const rows = [...spec.flags, HELP].map((f) => {
    const extra = [
      f.env?.length ? `env: ${f.env.join(', ')}` : '',
      f.default !== undefined && f.default !== '' ? `default: ${f.default}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    return { left: display(f), help: f.help, extra };
  });
  const width = Math.min(36, Math.max(...rows.map((r) => r.left.length)) + 2);
  const lines = rows.flatMap((r) => {
    const head =
      r.left.length + 2 > width
        ? [`  ${r.left}`, `  ${''.padEnd(width)}${r.help}`]
        : [`  ${r.left.padEnd(width)}${r.help}`];
    return r.extra ? [...head, `  ${''.padEnd(width)}${r.extra}`] : head;
  });
  return [
    `usage: cutover ${spec.name} ${spec.usage}`.trimEnd(),
    '',
    spec.description,
    '',
    'flags:',
    ...lines,
    ...(spec.footer ? ['', spec.footer] : []),
  ].join('\n');
}
