/**
 * Human reports of a run: the CLI's table and a Markdown report (`cutover reconcile -o markdown`,
 * and `report.md` in the report ConfigMap) a finance team can read and sign:
 * - every tenant whose values differ is listed, those under the remediation threshold marked
 *   "within tolerance" (a 0.01 payment change is shown, not hidden by its tiny variance);
 * - money is printed as the engine computed it, at the column's scale on both sides;
 * - a key list cut at the cap says so plainly, with how many keys were found.
 */
import { compareDecimals } from './decimal.js';
import { verdictVariance, type CheckResult, type RunResult, type TenantResult } from './result.js';

/** A tenant line whose values differ, or that did not pass. */
export function differs(t: TenantResult): boolean {
  if (t.verdict !== 'Passed') return true;
  if ((t.differingRows ?? 0) > 0) return true;
  try {
    return compareDecimals(t.legacy, t.target) !== 0;
  } catch {
    return t.legacy !== t.target;
  }
}

/** "Passed" under a difference reads as within tolerance. */
export function tenantVerdict(t: TenantResult): string {
  return t.verdict === 'Passed' ? 'within tolerance' : t.verdict;
}

/** The plain sentence for a key list cut at the cap, or undefined when it is complete. */
export function truncationNote(c: CheckResult): string | undefined {
  if (!c.differingKeysTruncated) return undefined;
  const rows = c.tenants.reduce((n, t) => n + (t.differingRows ?? 0), 0);
  return `the key list is incomplete: localization stopped at ${c.differingKeys.length} keys${rows > c.differingKeys.length ? ` of at least ${rows} differing rows` : ''} (raise --max-differing-keys, or rerun for fewer tenants)`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function tenantLine(t: TenantResult): string {
  const rows = t.differingRows ? `, ${t.differingRows} differing rows` : '';
  return `tenant ${t.tenant}${t.column ? ` ${t.column}` : ''}: legacy ${t.legacy}, target ${t.target}${rows}, variance ${t.variancePercent}% → ${tenantVerdict(t)}`;
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
    `${c.differingKeys.length}${c.differingKeysTruncated ? '+' : ''}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  lines.push(head.map((h, i) => pad(h, widths[i] ?? 0)).join('  '));
  for (const row of rows) lines.push(row.map((v, i) => pad(v, widths[i] ?? 0)).join('  '));
  for (const c of r.checks) {
    if (c.error) lines.push(`\n${c.name}: ERROR ${c.error}`);
    const differing = c.tenants.filter(differs);
    if (differing.length > 0) {
      lines.push(`\n${c.name}: tenants with differences`);
      for (const t of differing) lines.push(`  ${tenantLine(t)}`);
    }
    if (c.differingKeys.length > 0) {
      lines.push(`${c.name}: differing keys`);
      for (const k of c.differingKeys.slice(0, 50))
        lines.push(
          `  tenant ${k.tenant} key ${k.key}: ${k.kind}${k.columns ? ` (${k.columns.join(', ')})` : ''}${k.rows ? ` (${k.rows} rows)` : ''}`,
        );
      if (c.differingKeys.length > 50)
        lines.push(`  … ${c.differingKeys.length - 50} more (use --output json or markdown)`);
    }
    const note = truncationNote(c);
    if (note) lines.push(`${c.name}: ${note}`);
  }
  return lines.join('\n') + '\n';
}

/** Escapes a value for a Markdown table cell. */
function cell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function row(values: string[]): string {
  return `| ${values.map(cell).join(' | ')} |`;
}

function table(head: string[], rows: string[][], right: number[] = []): string[] {
  const align = head.map((_, i) => (right.includes(i) ? '---:' : '---'));
  return [row(head), `| ${align.join(' | ')} |`, ...rows.map(row)];
}

/** The whole run as Markdown: summary, then per check every differing tenant and every key. */
export function formatMarkdown(r: RunResult): string {
  const out: string[] = [];
  out.push(`# Reconciliation report: ${r.verdict}`, '');
  out.push(`- Run: ${r.startedAt} → ${r.finishedAt}`);
  out.push(`- Rows compared row by row: ${r.rowsCompared}`);
  if (r.shard) out.push(`- Shard ${r.shard.index} of ${r.shard.count} (by ${r.shard.by})`);
  if (r.shardsMerged) out.push(`- Merged from ${r.shardsMerged} shards`);
  if (r.error) out.push(`- **Error:** ${r.error}`);
  out.push('', '## Checks', '');
  out.push(
    ...table(
      ['Check', 'Type', 'Verdict', 'Legacy', 'Target', 'Total variance %', 'Worst tenant', 'Differing keys'],
      r.checks.map((c) => [
        c.name + (c.column ? ` (${c.column})` : ''),
        c.type,
        c.verdict,
        c.legacyValue ?? '-',
        c.targetValue ?? '-',
        c.error ? '-' : String(c.variancePercent),
        c.worstTenant ?? '-',
        `${c.differingKeys.length}${c.differingKeysTruncated ? ' (incomplete)' : ''}`,
      ]),
      [3, 4, 5, 7],
    ),
  );
  for (const c of r.checks) {
    const differing = c.tenants.filter(differs);
    if (!c.error && differing.length === 0 && c.differingKeys.length === 0) continue;
    out.push('', `## ${c.name} (${c.type}): ${c.verdict}`, '');
    out.push(
      `Thresholds: remediation at ${c.thresholds.remediatePercent} %, failure at ${c.thresholds.failPercent} %.`,
    );
    if (c.error) out.push('', `**Error:** ${c.error}`);
    if (differing.length > 0) {
      const rowLevel = c.type === 'rowHash' || c.type === 'sample';
      out.push('', `Tenants whose values differ (${differing.length}):`, '');
      out.push(
        ...table(
          [
            'Tenant',
            ...(differing.some((t) => t.column) ? ['Column'] : []),
            'Legacy',
            'Target',
            ...(rowLevel ? ['Differing rows'] : []),
            'Variance %',
            'Verdict',
          ],
          differing.map((t) => [
            t.tenant,
            ...(differing.some((x) => x.column) ? [t.column ?? ''] : []),
            t.legacy,
            t.target,
            ...(rowLevel ? [String(t.differingRows ?? 0)] : []),
            String(t.variancePercent),
            tenantVerdict(t),
          ]),
        ),
      );
    }
    if (c.differingKeys.length > 0) {
      out.push(
        '',
        `Differing keys (${c.differingKeys.length}${c.differingKeysTruncated ? ', incomplete' : ''}):`,
        '',
      );
      out.push(
        ...table(
          ['Tenant', 'Key', 'Kind', 'Columns'],
          c.differingKeys.map((k) => [
            k.tenant,
            k.key,
            k.kind,
            k.rows ? `${k.rows} rows` : (k.columns ?? []).join(', '),
          ]),
        ),
      );
    }
    const note = truncationNote(c);
    if (note) out.push('', `**Note:** ${note}.`);
  }
  return out.join('\n') + '\n';
}
