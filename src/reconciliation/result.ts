/**
 * Results of a reconciliation run, verdict rules and the merge of shard results.
 *
 * Verdict rules (per tenant, then the worst tenant is the check's verdict, the worst check the
 * run's):
 * - count, sum, customSql: variance = |legacy − target| / |legacy| × 100 (legacy = 0: 0 if target
 *   is 0, else 100). variance ≥ failPercent → Failed; ≥ remediatePercent → RemediationNeeded;
 *   else Passed.
 * - rowHash, sample: variance = differing rows / legacy rows × 100 with the same thresholds, and
 *   any differing row makes the tenant at least RemediationNeeded: a changed financial row never
 *   passes silently, however large the table.
 * - a check that could not run is Error, and any Error makes the run Error (never Passed).
 *
 * `mergeResults` combines the results of shards (by tenant or by key range) into the result an
 * unsharded run gives: values of the same tenant are added exactly, variances and verdicts are
 * recomputed from the merged values.
 */
import { addDecimals, ratioPercent, sumDecimals, variancePercent } from './decimal.js';
import type { CheckType, Thresholds } from './plan.js';

export type Verdict = 'Passed' | 'RemediationNeeded' | 'Failed' | 'Error';

export interface DifferingKey {
  tenant: string;
  /** The key value, or JSON of the key columns' values for a composite key. */
  key: string;
  /** missing: in legacy, not in target; extra: in target only; changed: in both, values differ. */
  kind: 'missing' | 'extra' | 'changed';
  columns?: string[];
}

export interface TenantResult {
  tenant: string;
  /** For sum checks over several columns: which column this line is about. */
  column?: string;
  legacy: string;
  target: string;
  variancePercent: number;
  verdict: Verdict;
  /** rowHash / sample: rows that differ (the numerator of the variance). */
  differingRows?: number;
}

export interface CheckResult {
  name: string;
  type: CheckType;
  verdict: Verdict;
  variancePercent: number;
  legacyValue?: string;
  targetValue?: string;
  /** For a sum check over several columns: the column legacyValue/targetValue refer to. */
  column?: string;
  worstTenant?: string;
  tenants: TenantResult[];
  differingKeys: DifferingKey[];
  /** True when localization stopped at the differing-key cap. */
  differingKeysTruncated?: boolean;
  thresholds: Thresholds;
  /** sample checks: the seed used (rerun with it to draw the same keys). */
  seed?: string;
  error?: string;
}

export interface ShardSpec {
  index: number;
  count: number;
  by: 'Tenant' | 'KeyRange';
}

export interface RunResult {
  verdict: Verdict;
  startedAt: string;
  finishedAt: string;
  error?: string;
  /** Legacy rows compared row by row: the rows of rowHash checks plus the keys drawn by samples. */
  rowsCompared: number;
  checks: CheckResult[];
  shard?: ShardSpec;
  /** Results merged from shards. */
  shardsMerged?: number;
  /**
   * Write privileges the accounts hold on the compared tables (`legacy: DELETE on shop.*`);
   * [] when they can only read; absent when not checked.
   */
  writeGrants?: string[];
}

const RANK: Record<Verdict, number> = { Passed: 0, RemediationNeeded: 1, Failed: 2, Error: 3 };

export function worstVerdict(verdicts: Iterable<Verdict>): Verdict {
  let worst: Verdict = 'Passed';
  for (const v of verdicts) if (RANK[v] > RANK[worst]) worst = v;
  return worst;
}

export function verdictFor(variance: number, t: Thresholds, hasDifferingRows = false): Verdict {
  if (variance >= t.failPercent) return 'Failed';
  if (variance >= t.remediatePercent || hasDifferingRows) return 'RemediationNeeded';
  return 'Passed';
}

function isRowLevel(type: CheckType): boolean {
  return type === 'rowHash' || type === 'sample';
}

/** Fills variance and verdict of one tenant line from its values. */
export function scoreTenant(
  type: CheckType,
  t: Omit<TenantResult, 'variancePercent' | 'verdict'>,
  th: Thresholds,
): TenantResult {
  if (isRowLevel(type)) {
    const differing = t.differingRows ?? 0;
    const variance = ratioPercent(differing, Number(t.legacy));
    return { ...t, variancePercent: variance, verdict: verdictFor(variance, th, differing > 0) };
  }
  const variance = variancePercent(t.legacy, t.target);
  return { ...t, variancePercent: variance, verdict: verdictFor(variance, th) };
}

/** Builds a check's verdict, totals and worst tenant from scored tenant lines. */
export function finishCheck(
  base: Pick<CheckResult, 'name' | 'type' | 'thresholds' | 'differingKeys'> & Partial<CheckResult>,
  tenants: TenantResult[],
): CheckResult {
  const sorted = [...tenants].sort((a, b) =>
    a.tenant === b.tenant ? (a.column ?? '').localeCompare(b.column ?? '') : a.tenant < b.tenant ? -1 : 1,
  );
  let worst: TenantResult | undefined;
  for (const t of sorted)
    if (!worst || t.variancePercent > worst.variancePercent || RANK[t.verdict] > RANK[worst.verdict])
      worst = t;
  const result: CheckResult = {
    ...base,
    verdict: worstVerdict(sorted.map((t) => t.verdict)),
    variancePercent: 0,
    tenants: sorted,
    differingKeys: [...base.differingKeys].sort((a, b) =>
      a.tenant === b.tenant
        ? a.key.localeCompare(b.key, 'en', { numeric: true })
        : a.tenant < b.tenant
          ? -1
          : 1,
    ),
  };
  if (worst && worst.variancePercent > 0) result.worstTenant = worst.tenant;
  if (isRowLevel(base.type)) {
    const legacy = sorted.reduce((n, t) => n + Number(t.legacy), 0);
    const target = sorted.reduce((n, t) => n + Number(t.target), 0);
    const differing = sorted.reduce((n, t) => n + (t.differingRows ?? 0), 0);
    result.legacyValue = String(legacy);
    result.targetValue = String(target);
    result.variancePercent = ratioPercent(differing, legacy);
  } else {
    // totals per column (one column for count/custom); report the column with the worst variance
    const columns = [...new Set(sorted.map((t) => t.column ?? ''))];
    let best: { column: string; legacy: string; target: string; variance: number } | undefined;
    for (const c of columns) {
      const lines = sorted.filter((t) => (t.column ?? '') === c);
      const legacy = sumDecimals(lines.map((t) => t.legacy));
      const target = sumDecimals(lines.map((t) => t.target));
      const variance = variancePercent(legacy, target);
      if (!best || variance > best.variance) best = { column: c, legacy, target, variance };
    }
    result.legacyValue = best?.legacy ?? '0';
    result.targetValue = best?.target ?? '0';
    result.variancePercent = best?.variance ?? 0;
    if (best && best.column) result.column = best.column;
    else delete result.column;
  }
  return result;
}

export function errorCheck(
  name: string,
  type: CheckType,
  thresholds: Thresholds,
  error: string,
): CheckResult {
  return {
    name,
    type,
    verdict: 'Error',
    variancePercent: 0,
    tenants: [],
    differingKeys: [],
    thresholds,
    error,
  };
}

export function finishRun(
  startedAt: Date,
  finishedAt: Date,
  checks: CheckResult[],
  error?: string,
): RunResult {
  const errors = checks.filter((c) => c.error).map((c) => `${c.name}: ${c.error}`);
  const allErrors = [...(error ? [error] : []), ...errors];
  const run: RunResult = {
    verdict: allErrors.length > 0 ? 'Error' : worstVerdict(checks.map((c) => c.verdict)),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    rowsCompared: checks
      .filter((c) => isRowLevel(c.type))
      .reduce((n, c) => n + c.tenants.reduce((m, t) => m + Number(t.legacy), 0), 0),
    checks,
  };
  if (allErrors.length > 0) run.error = allErrors.join('; ');
  return run;
}

function addCounts(a: string, b: string): string {
  return addDecimals(a, b);
}

/** Merges shard results into one run result (same verdicts as an unsharded run). */
export function mergeResults(results: RunResult[]): RunResult {
  if (results.length === 0) throw new Error('mergeResults needs at least one result');
  const order: string[] = [];
  const byName = new Map<string, CheckResult[]>();
  for (const r of results)
    for (const c of r.checks) {
      if (!byName.has(c.name)) {
        byName.set(c.name, []);
        order.push(c.name);
      }
      byName.get(c.name)?.push(c);
    }
  const checks = order.map((name) => {
    const parts = byName.get(name) ?? [];
    const first = parts[0] as CheckResult;
    const errors = parts.filter((p) => p.error).map((p) => p.error as string);
    if (errors.length > 0)
      return errorCheck(name, first.type, first.thresholds, [...new Set(errors)].join('; '));
    const lines = new Map<string, Omit<TenantResult, 'variancePercent' | 'verdict'>>();
    for (const p of parts)
      for (const t of p.tenants) {
        const id = `${t.tenant}\u0000${t.column ?? ''}`;
        const prev = lines.get(id);
        if (!prev) {
          const line: Omit<TenantResult, 'variancePercent' | 'verdict'> = {
            tenant: t.tenant,
            legacy: t.legacy,
            target: t.target,
          };
          if (t.column !== undefined) line.column = t.column;
          if (t.differingRows !== undefined) line.differingRows = t.differingRows;
          lines.set(id, line);
        } else {
          prev.legacy = addCounts(prev.legacy, t.legacy);
          prev.target = addCounts(prev.target, t.target);
          if (t.differingRows !== undefined) prev.differingRows = (prev.differingRows ?? 0) + t.differingRows;
        }
      }
    const tenants = [...lines.values()].map((l) => scoreTenant(first.type, l, first.thresholds));
    const base: Pick<CheckResult, 'name' | 'type' | 'thresholds' | 'differingKeys'> & Partial<CheckResult> = {
      name,
      type: first.type,
      thresholds: first.thresholds,
      differingKeys: parts.flatMap((p) => p.differingKeys),
    };
    if (parts.some((p) => p.differingKeysTruncated)) base.differingKeysTruncated = true;
    if (first.seed !== undefined) base.seed = first.seed;
    return finishCheck(base, tenants);
  });
  const started = results.map((r) => r.startedAt).sort()[0] as string;
  const finished = results
    .map((r) => r.finishedAt)
    .sort()
    .at(-1) as string;
  const runErrors = results
    .filter((r) => r.error && !r.checks.some((c) => c.error))
    .map((r) => r.error as string);
  const merged = finishRun(
    new Date(started),
    new Date(finished),
    checks,
    runErrors.length > 0 ? runErrors.join('; ') : undefined,
  );
  merged.shardsMerged = results.length;
  const grants = results.flatMap((r) => r.writeGrants ?? []);
  if (results.some((r) => r.writeGrants)) merged.writeGrants = [...new Set(grants)].sort();
  const counts = new Set(results.map((r) => r.shard?.count).filter((c) => c !== undefined));
  if (counts.size === 1) {
    const count = [...counts][0] as number;
    const seen = new Set(results.map((r) => r.shard?.index));
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
    if (missing.length > 0) {
      merged.verdict = 'Error';
      merged.error = [merged.error, `results of shard(s) ${missing.join(', ')} of ${count} are missing`]
        .filter(Boolean)
        .join('; ');
    }
  }
  return merged;
}

/**
 * The variance a check's verdict rests on: its worst tenant's, or the total's when that is
 * larger. The engine's `variancePercent` is the total over all tenants, which can be 0 while one
 * tenant is off by 100 % (a row under the wrong tenant): status shows what decided the verdict.
 */
export function verdictVariance(c: CheckResult): number {
  return c.tenants.reduce((m, t) => Math.max(m, t.variancePercent), c.variancePercent);
}
