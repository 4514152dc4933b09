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
import { connect } from '../reconciliation/connection.js';
import { runReconciliation, type Progress } from '../reconciliation/engine.js';
import { finishRun, verdictVariance, type RunResult, type ShardSpec } from '../reconciliation/result.js';

const HELP = `usage: cutover reconcile -f FILE [options]

  -f, --file FILE          Reconciliation manifest (YAML or JSON; the first kind: Reconciliation)
  --spec-env VAR           read the manifest (JSON or YAML, object or spec) from environment variable VAR
  --legacy-url URL         legacy database URL (else $CUTOVER_LEGACY_URL, else spec.legacy.url)
  --target-url URL         target database URL (else $CUTOVER_TARGET_URL, else spec.target.url)
  --tenant T               only this tenant (repeatable)
  --output table|json      table (default) or the RunResult as JSON
  --result-file FILE       also write the RunResult JSON to FILE
  --result-configmap NAME  also write it into ConfigMap NAME (namespace $POD_NAMESPACE, labels
                           $CUTOVER_RESULT_LABELS, owner Job $CUTOVER_OWNER_JOB_NAME/_UID): shard pods
  --shard-index I          this shard (default $JOB_COMPLETION_INDEX when --shard-count is set)
  --shard-count N          number of shards (default spec.parallelism.shards when the index is set)
  --shard-by Tenant|KeyRange  default spec.parallelism.shardBy
  --max-differing-keys N   stop localizing a check after N keys (default 1000)
  --now ISO                time windows end here (default: now)

exit codes: 0 passed or remediation needed, 1 variance at or over the fail threshold, 2 error
(with --result-configmap: 0 once the result is written whatever the verdict, 2 on Error)`;

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
  help: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Args {
  const a: Args = { tenants: [], output: 'table', help: false };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i] as string;
    const eq = name.indexOf('=');
    const flag = name.startsWith('--') && eq > 0 ? name.slice(0, eq) : name;
    const value = (): string => {
      if (name.startsWith('--') && eq > 0) return name.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const int = (v: string): number => {
      if (!/^\d+$/.test(v)) throw new UsageError(`${flag} needs a non-negative integer, got '${v}'`);
      return Number(v);
    };
    switch (flag) {
      case '-f':
      case '--file':
        a.file = value();
        break;
      case '--spec-env':
        a.specEnv = value();
        break;
      case '--result-configmap':
        a.resultConfigMap = value();
        break;
      case '--legacy-url':
        a.legacyUrl = value();
        break;
      case '--target-url':
        a.targetUrl = value();
        break;
      case '--tenant':
        a.tenants.push(value());
        break;
      case '--output':
      case '-o': {
        const v = value();
        if (v !== 'table' && v !== 'json') throw new UsageError(`--output must be table or json`);
        a.output = v;
        break;
      }
      case '--result-file':
        a.resultFile = value();
        break;
      case '--shard-index':
        a.shardIndex = int(value());
        break;
      case '--shard-count':
        a.shardCount = int(value());
        break;
      case '--shard-by': {
        const v = value();
        if (v !== 'Tenant' && v !== 'KeyRange') throw new UsageError('--shard-by must be Tenant or KeyRange');
        a.shardBy = v;
        break;
      }
      case '--max-differing-keys':
        a.maxKeys = int(value());
        break;
      case '--now': {
        const d = new Date(value());
        if (Number.isNaN(d.getTime())) throw new UsageError('--now must be an ISO timestamp');
        a.now = d;
        break;
      }
      case '-h':
      case '--help':
        a.help = true;
        break;
      default:
        throw new UsageError(`unknown option '${name}'`);
    }
  }
  return a;
}

function readSpec(file: string, text: string = readFileSync(file, 'utf8')): unknown {
  const docs = parseAllDocuments(text).map((d) => d.toJS() as unknown);
  const recon = docs.find((d) => typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === 'Reconciliation') as { spec?: unknown } | undefined;
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
  if (index === undefined && envIndex !== undefined && envIndex !== '' && (count !== undefined || plan.parallelism.shards > 1)) {
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
  lines.push(`verdict: ${r.verdict}   rows compared: ${r.rowsCompared}   ${r.startedAt} → ${r.finishedAt}${r.shard ? `   shard ${r.shard.index}/${r.shard.count} by ${r.shard.by}` : ''}`);
  if (r.error) lines.push(`error: ${r.error}`);
  lines.push('');
  const head = ['CHECK', 'TYPE', 'VERDICT', 'LEGACY', 'TARGET', 'TOTAL VAR %', 'WORST VAR %', 'WORST TENANT', 'KEYS'];
  const rows = r.checks.map((c) => [c.name, c.type, c.verdict, c.legacyValue ?? '-', c.targetValue ?? '-', c.error ? '-' : String(c.variancePercent), c.error ? '-' : String(verdictVariance(c)), c.worstTenant ?? '-', String(c.differingKeys.length)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  lines.push(head.map((h, i) => pad(h, widths[i] ?? 0)).join('  '));
  for (const row of rows) lines.push(row.map((v, i) => pad(v, widths[i] ?? 0)).join('  '));
  for (const c of r.checks) {
    if (c.error) lines.push(`\n${c.name}: ERROR ${c.error}`);
    const bad = c.tenants.filter((t) => t.verdict !== 'Passed');
    if (bad.length > 0) {
      lines.push(`\n${c.name}: tenants with differences`);
      for (const t of bad) lines.push(`  tenant ${t.tenant}${t.column ? ` ${t.column}` : ''}: legacy ${t.legacy}, target ${t.target}, variance ${t.variancePercent}% → ${t.verdict}`);
    }
    if (c.differingKeys.length > 0) {
      lines.push(`${c.name}: differing keys${c.differingKeysTruncated ? ' (truncated)' : ''}`);
      for (const k of c.differingKeys.slice(0, 50)) lines.push(`  tenant ${k.tenant} key ${k.key}: ${k.kind}${k.columns ? ` (${k.columns.join(', ')})` : ''}`);
      if (c.differingKeys.length > 50) lines.push(`  … ${c.differingKeys.length - 50} more (use --output json)`);
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
    const opts: Parameters<typeof writeShardResult>[1] = { name: args.resultConfigMap, namespace };
    if (process.env.CUTOVER_RESULT_LABELS) opts.labels = process.env.CUTOVER_RESULT_LABELS;
    const ownerName = process.env.CUTOVER_OWNER_JOB_NAME;
    const ownerUid = process.env.CUTOVER_OWNER_JOB_UID;
    if (ownerName && ownerUid) opts.ownerJob = { name: ownerName, uid: ownerUid };
    await writeShardResult(JSON.parse(json) as RunResult, opts);
    return true;
  } catch (e) {
    process.stderr.write(`cutover reconcile: cannot write the result ConfigMap ${args.resultConfigMap}: ${redactText(e instanceof Error ? e.message : String(e))}\n`);
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
    process.stderr.write(`cutover reconcile: ${e instanceof Error ? e.message : String(e)}\n\n${HELP}\n`);
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
    return deliverError(e instanceof PlanError || e instanceof UsageError ? e.message : `cannot read the manifest: ${e instanceof Error ? e.message : String(e)}`, args);
  }
  const legacyUrl = args.legacyUrl ?? process.env.CUTOVER_LEGACY_URL ?? plan.legacy.url;
  const targetUrl = args.targetUrl ?? process.env.CUTOVER_TARGET_URL ?? plan.target.url;
  if (!legacyUrl || !targetUrl) {
    const side = !legacyUrl ? 'legacy' : 'target';
    return deliverError(`no ${side} database URL (use --${side}-url or CUTOVER_${side.toUpperCase()}_URL)`, args);
  }
  let legacy, target;
  try {
    legacy = connect(plan.legacy.engine, legacyUrl, { role: 'legacy', statementTimeoutSeconds: plan.statementTimeoutSeconds });
    target = connect(plan.target.engine, targetUrl, { role: 'target', statementTimeoutSeconds: plan.statementTimeoutSeconds });
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
    const opts: Parameters<typeof runReconciliation>[2] = { onProgress, signal: controller.signal, tenants: args.tenants };
    if (shard) opts.shard = shard;
    if (args.now) opts.now = args.now;
    if (args.maxKeys !== undefined) opts.maxDifferingKeys = args.maxKeys;
    const result = await runReconciliation(plan, { legacy, target }, opts);
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
