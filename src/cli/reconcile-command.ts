/**
 * `cutover reconcile`: runs a Reconciliation manifest against two databases without Kubernetes,
 * or one shard of it inside an Indexed Job pod.
 *
 * Exit codes: 0 passed (or remediation only below the fail threshold — see below), 1 variance
 * at or over the fail threshold, 2 error (bad input, database down, failing query).
 * RemediationNeeded exits 0: it is below the rollback threshold and is reported in the output.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { redactText } from '../runtime/logger.js';
import { planFromSpec, PlanError, type ReconciliationPlan } from '../reconciliation/plan.js';
import { accountWriteGrants, connect } from '../reconciliation/connection.js';
import { runReconciliation, type Progress } from '../reconciliation/engine.js';
import { finishRun, verdictVariance, type RunResult, type ShardSpec } from '../reconciliation/result.js';
import {
  CONTEXT,
  FILENAME,
  helpText,
  KUBECONFIG,
  OUTPUT,
  parseCommandLine,
  resolveFlag,
  UsageError,
  type CommandSpec,
} from './args.js';

export const RECONCILE_COMMAND: CommandSpec = {
  name: 'reconcile',
  usage: '-f FILE [flags]',
  description: [
    'Runs a Reconciliation manifest against two databases without Kubernetes (or one shard of it in',
    'an Indexed Job pod): per check and tenant counts, money sums, row hashes and differing keys.',
  ].join('\n'),
  flags: [
    {
      ...FILENAME,
      multiple: false,
      aliases: ['file'],
      help: "Reconciliation manifest (YAML or JSON; the first kind: Reconciliation); '-' is stdin",
    },
    {
      name: 'spec-env',
      type: 'string',
      value: 'VAR',
      help: 'read the manifest (JSON or YAML, object or spec) from environment variable VAR',
    },
    {
      name: 'legacy-url',
      type: 'string',
      value: 'URL',
      env: ['CUTOVER_LEGACY_URL'],
      help: 'legacy database URL (else spec.legacy.url)',
    },
    {
      name: 'target-url',
      type: 'string',
      value: 'URL',
      env: ['CUTOVER_TARGET_URL'],
      help: 'target database URL (else spec.target.url)',
    },
    { name: 'tenant', type: 'string', value: 'T', multiple: true, help: 'only this tenant (repeatable)' },
    OUTPUT(['table', 'json'], 'table'),
    { name: 'result-file', type: 'string', value: 'FILE', help: 'also write the RunResult JSON to FILE' },
    {
      name: 'result-configmap',
      type: 'string',
      value: 'NAME',
      help: 'also write it into ConfigMap NAME (namespace $POD_NAMESPACE, labels $CUTOVER_RESULT_LABELS, owner Job $CUTOVER_OWNER_JOB_NAME/_UID): shard pods',
    },
    {
      name: 'shard-index',
      type: 'string',
      value: 'I',
      help: 'this shard (default $JOB_COMPLETION_INDEX when --shard-count is set)',
    },
    {
      name: 'shard-count',
      type: 'string',
      value: 'N',
      help: 'number of shards (default spec.parallelism.shards when the index is set)',
    },
    {
      name: 'shard-by',
      type: 'string',
      value: 'Tenant|KeyRange',
      choices: ['Tenant', 'KeyRange'],
      help: 'default spec.parallelism.shardBy',
    },
    {
      name: 'max-differing-keys',
      type: 'string',
      value: 'N',
      help: 'stop localizing a check after N keys (default 1000)',
    },
    { name: 'now', type: 'string', value: 'ISO', help: 'time windows end here (default: now)' },
    {
      ...KUBECONFIG,
      help: 'kubeconfig for --result-configmap (default: in-cluster in a Pod, else $KUBECONFIG or ~/.kube/config)',
    },
    CONTEXT,
  ],
  footer: [
    'exit codes: 0 passed or remediation needed, 1 variance at or over the fail threshold, 2 error',
    '(with --result-configmap: 0 once the result is written whatever the verdict, 2 on Error)',
  ].join('\n'),
};
const HELP = helpText(RECONCILE_COMMAND);

interface Args {
  file?: string;
  specEnv?: string;
  resultConfigMap?: string;
  legacyUrl?: string;
  targetUrl?: string;
  tenants: string[];
  output: 'table' | 'json';
  resultFile?: string;
  shardIndex?: number;
  shardCount?: number;
  shardBy?: 'Tenant' | 'KeyRange';
  maxKeys?: number;
  now?: Date;
  kubeconfig?: string;
  context?: string;
  help: boolean;
}

function parseArgs(argv: string[]): Args {
  const parsed = parseCommandLine(RECONCILE_COMMAND, argv);
  const f = parsed.flags;
  const text = (name: string): string | undefined => resolveFlag(RECONCILE_COMMAND, parsed, name).text;
  const int = (name: string): number | undefined => {
    const v = f[name] as string | undefined;
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${name} needs a non-negative integer, got '${v}'`);
    return Number(v);
  };
  const a: Args = {
    tenants: (f.tenant as string[] | undefined) ?? [],
    output: (text('output') ?? 'table') as Args['output'],
    help: parsed.help,
  };
  const set = <K extends keyof Args>(key: K, value: Args[K] | undefined): void => {
    if (value !== undefined) a[key] = value;
  };
  set('file', f.filename as string | undefined);
  set('specEnv', f['spec-env'] as string | undefined);
  set('legacyUrl', text('legacy-url'));
  set('targetUrl', text('target-url'));
  set('resultFile', f['result-file'] as string | undefined);
  set('resultConfigMap', f['result-configmap'] as string | undefined);
  set('shardIndex', int('shard-index'));
  set('shardCount', int('shard-count'));
  set('shardBy', f['shard-by'] as Args['shardBy']);
  set('maxKeys', int('max-differing-keys'));
  set('kubeconfig', text('kubeconfig'));
  set('context', text('context'));
  if (f.now !== undefined) {
    const d = new Date(f.now as string);
    if (Number.isNaN(d.getTime())) throw new UsageError('--now must be an ISO timestamp');
    a.now = d;
  }
  return a;
}

function readSpec(file: string, text: string = readFileSync(file === '-' ? 0 : file, 'utf8')): unknown {
  const docs = parseAllDocuments(text).map((d) => d.toJS() as unknown);
  const recon = docs.find(
    (d) => typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === 'Reconciliation',
  ) as { spec?: unknown } | undefined;
  if (!recon) {
    const first = docs[0];
    if (first && typeof first === 'object' && 'checks' in first) return first;
    throw new UsageError(`${file}: no 'kind: Reconciliation' document found`);
  }
  return recon.spec;
}

function shardFrom(a: Args, plan: ReconciliationPlan): ShardSpec | undefined {
  const envIndex = process.env.JOB_COMPLETION_INDEX;
  let index = a.shardIndex;
  let count = a.shardCount;
  if (
    index === undefined &&
    envIndex !== undefined &&
    envIndex !== '' &&
    (count !== undefined || plan.parallelism.shards > 1)
  ) {
    if (!/^\d+$/.test(envIndex)) throw new UsageError(`JOB_COMPLETION_INDEX '${envIndex}' is not an index`);
    index = Number(envIndex);
  }
  if (index === undefined && count === undefined) return undefined;
  count ??= plan.parallelism.shards;
  index ??= 0;
  if (count < 1 || index >= count) throw new UsageError(`shard index ${index} is not within 0..${count - 1}`);
  return { index, count, by: a.shardBy ?? plan.parallelism.shardBy };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function formatTable(r: RunResult): string {
  const lines: string[] = [];
  lines.push(
    `verdict: ${r.verdict}   rows compared: ${r.rowsCompared}   ${r.startedAt} → ${r.finishedAt}${r.shard ? `   shard ${r.shard.index}/${r.shard.count} by ${r.shard.by}` : ''}`,
  );
  if (r.error) lines.push(`error: ${r.error}`);
  lines.push('');
  const head = [
    'CHECK',
    'TYPE',
    'VERDICT',
    'LEGACY',
    'TARGET',
    'TOTAL VAR %',
    'WORST VAR %',
    'WORST TENANT',
    'KEYS',
  ];
  const rows = r.checks.map((c) => [
    c.name,
    c.type,
    c.verdict,
    c.legacyValue ?? '-',
    c.targetValue ?? '-',
    c.error ? '-' : String(c.variancePercent),
    c.error ? '-' : String(verdictVariance(c)),
    c.worstTenant ?? '-',
    String(c.differingKeys.length),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  lines.push(head.map((h, i) => pad(h, widths[i] ?? 0)).join('  '));
  for (const row of rows) lines.push(row.map((v, i) => pad(v, widths[i] ?? 0)).join('  '));
  for (const c of r.checks) {
    if (c.error) lines.push(`\n${c.name}: ERROR ${c.error}`);
    const bad = c.tenants.filter((t) => t.verdict !== 'Passed');
    if (bad.length > 0) {
      lines.push(`\n${c.name}: tenants with differences`);
      for (const t of bad)
        lines.push(
          `  tenant ${t.tenant}${t.column ? ` ${t.column}` : ''}: legacy ${t.legacy}, target ${t.target}, variance ${t.variancePercent}% → ${t.verdict}`,
        );
    }
    if (c.differingKeys.length > 0) {
      lines.push(`${c.name}: differing keys${c.differingKeysTruncated ? ' (truncated)' : ''}`);
      for (const k of c.differingKeys.slice(0, 50))
        lines.push(
          `  tenant ${k.tenant} key ${k.key}: ${k.kind}${k.columns ? ` (${k.columns.join(', ')})` : ''}`,
        );
      if (c.differingKeys.length > 50)
        lines.push(`  … ${c.differingKeys.length - 50} more (use --output json)`);
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Writes the result where it was asked for: stdout (table or JSON), --result-file and, in a shard
 * pod, --result-configmap. Returns false when the ConfigMap could not be written.
 */
async function deliver(result: RunResult, args: Args): Promise<boolean> {
  const json = redactText(JSON.stringify(result, null, 2));
  if (args.resultFile) writeFileSync(args.resultFile, json + '\n');
  process.stdout.write(args.output === 'json' ? json + '\n' : redactText(formatTable(result)));
  if (!args.resultConfigMap) return true;
  const namespace = process.env.POD_NAMESPACE;
  try {
    if (!namespace) throw new Error('POD_NAMESPACE is not set');
    const { writeShardResult } = await import('./shard-result-sink.js');
    const opts: Parameters<typeof writeShardResult>[1] = {
      name: args.resultConfigMap,
      namespace,
      kubeconfig: args.kubeconfig,
      context: args.context,
    };
    if (process.env.CUTOVER_RESULT_LABELS) opts.labels = process.env.CUTOVER_RESULT_LABELS;
    const ownerName = process.env.CUTOVER_OWNER_JOB_NAME;
    const ownerUid = process.env.CUTOVER_OWNER_JOB_UID;
    if (ownerName && ownerUid) opts.ownerJob = { name: ownerName, uid: ownerUid };
    await writeShardResult(JSON.parse(json) as RunResult, opts);
    return true;
  } catch (e) {
    process.stderr.write(
      `cutover reconcile: cannot write the result ConfigMap ${args.resultConfigMap}: ${redactText(e instanceof Error ? e.message : String(e))}\n`,
    );
    return false;
  }
}

/** A run that could not start still delivers a RunResult (verdict Error, the reason). */
async function deliverError(message: string, args: Args): Promise<number> {
  process.stderr.write(`cutover reconcile: ${redactText(message)}\n`);
  if (args.output === 'json' || args.resultFile || args.resultConfigMap) {
    const now = new Date();
    await deliver(finishRun(now, now, [], redactText(message)), args);
  }
  return 2;
}

export function exitCodeFor(r: RunResult): number {
  if (r.verdict === 'Error') return 2;
  if (r.verdict === 'Failed') return 1;
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n\n${HELP}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  let plan: ReconciliationPlan;
  let shard: ShardSpec | undefined;
  try {
    if (args.specEnv) {
      const text = process.env[args.specEnv];
      if (!text) throw new UsageError(`environment variable ${args.specEnv} is empty`);
      plan = planFromSpec(readSpec(`$${args.specEnv}`, text));
    } else if (args.file) plan = planFromSpec(readSpec(args.file));
    else throw new UsageError('-f FILE (or --spec-env VAR) is required');
    shard = shardFrom(args, plan);
  } catch (e) {
    if (e instanceof UsageError && !args.specEnv && !args.file) {
      process.stderr.write(`cutover reconcile: ${e.message}\n\n${HELP}\n`);
      return 2;
    }
    return deliverError(
      e instanceof PlanError || e instanceof UsageError
        ? e.message
        : `cannot read the manifest: ${e instanceof Error ? e.message : String(e)}`,
      args,
    );
  }
  const legacyUrl = args.legacyUrl ?? plan.legacy.url;
  const targetUrl = args.targetUrl ?? plan.target.url;
  if (!legacyUrl || !targetUrl) {
    const side = !legacyUrl ? 'legacy' : 'target';
    return deliverError(
      `no ${side} database URL (use --${side}-url or CUTOVER_${side.toUpperCase()}_URL)`,
      args,
    );
  }
  let legacy, target;
  try {
    legacy = connect(plan.legacy.engine, legacyUrl, {
      role: 'legacy',
      statementTimeoutSeconds: plan.statementTimeoutSeconds,
    });
    target = connect(plan.target.engine, targetUrl, {
      role: 'target',
      statementTimeoutSeconds: plan.statementTimeoutSeconds,
    });
  } catch (e) {
    await legacy?.close();
    return deliverError(e instanceof Error ? e.message : String(e), args);
  }
  const tty = process.stderr.isTTY === true;
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const onProgress = (p: Progress): void => {
    if (!tty) return;
    const what = `check ${p.checkIndex}/${p.checkCount} ${p.check}: ${p.phase}${p.tenant !== undefined ? ` tenant ${p.tenant}` : ''}${p.rows !== undefined ? (p.phase === 'localize' ? ` (${p.rows} segments)` : ` (${p.rows} rows)`) : ''}`;
    process.stderr.write(`\r\x1b[K${what}${p.phase === 'done' ? '\n' : ''}`);
  };
  try {
    const opts: Parameters<typeof runReconciliation>[2] = {
      onProgress,
      signal: controller.signal,
      tenants: args.tenants,
    };
    if (shard) opts.shard = shard;
    if (args.now) opts.now = args.now;
    if (args.maxKeys !== undefined) opts.maxDifferingKeys = args.maxKeys;
    // the least-privilege warning: what the accounts can write among the compared tables
    const writeGrants = await accountWriteGrants(plan, { legacy, target });
    const ran = await runReconciliation(plan, { legacy, target }, opts);
    const result = writeGrants ? { ...ran, writeGrants } : ran;
    if (tty) process.stderr.write('\r\x1b[K');
    const delivered = await deliver(result, args);
    if (!delivered) return 2;
    // a shard pod that delivered its result succeeded even when the data failed: the controller
    // merges the verdicts, and a Job must not retry a deterministic Failed (only errors retry)
    if (args.resultConfigMap && result.verdict !== 'Error') return 0;
    return exitCodeFor(result);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all([legacy.close(), target.close()]);
  }
}
