/**
 * Run results in ConfigMaps: the shard results the shard pods write, and the full report of a
 * run (every tenant and differing key the engine found, beyond what fits in status).
 */
import type { RunResult } from '../../reconciliation/result.js';
import { formatMarkdown } from '../../reconciliation/report.js';
import type { KubeClient, KubeObject, OwnerReference } from '../../runtime/kube-client.js';
import { CONFIG_MAP } from '../../runtime/resources.js';
import { LABEL_RECONCILIATION, LABEL_RUN } from './resources.js';

/** ConfigMaps hold at most 1 MiB; keep the report well under it. */
export const MAX_REPORT_BYTES = 900_000;
/** Of which the Markdown report beside the JSON one may take this much. */
export const MAX_MARKDOWN_BYTES = 300_000;

type ConfigMap = KubeObject & { data?: Record<string, string> };

export function errorResult(startedAt: Date, finishedAt: Date, error: string): RunResult {
  return {
    verdict: 'Error',
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    error,
    rowsCompared: 0,
    checks: [],
  };
}

/** The RunResult a shard pod wrote into its ConfigMap, if it did. */
export function shardResultOf(cm: KubeObject | undefined): RunResult | undefined {
  const data: unknown = cm?.data;
  const text =
    data && typeof data === 'object' ? (data as Record<string, unknown>)['result.json'] : undefined;
  return typeof text === 'string' && text ? (JSON.parse(text) as RunResult) : undefined;
}

/** Shrinks a result to fit a ConfigMap: differing keys, then tenants, are cut and the cut noted. */
export function fitReport(
  result: RunResult,
  maxBytes = MAX_REPORT_BYTES,
): { json: string; truncated: boolean } {
  let json = JSON.stringify(result, null, 1);
  if (json.length <= maxBytes) return { json, truncated: false };
  const copy = structuredClone(result);
  for (const limit of [1000, 200, 50, 10]) {
    for (const c of copy.checks) {
      if (c.differingKeys.length > limit) {
        c.differingKeys = c.differingKeys.slice(0, limit);
        c.differingKeysTruncated = true;
      }
      if (c.tenants.length > limit * 5)
        c.tenants = [...c.tenants].sort((a, b) => b.variancePercent - a.variancePercent).slice(0, limit * 5);
    }
    json = JSON.stringify(copy);
    if (json.length <= maxBytes) return { json, truncated: true };
  }
  return {
    json: JSON.stringify({
      ...copy,
      checks: copy.checks.map((c) => ({ ...c, tenants: [], differingKeys: [] })),
    }),
    truncated: true,
  };
}

/** The Markdown report of a (fitted) result, cut with a note if it would not fit. */
export function markdownReport(result: RunResult, maxBytes = MAX_MARKDOWN_BYTES): string {
  const md = formatMarkdown(result);
  if (Buffer.byteLength(md) <= maxBytes) return md;
  const note = '\n\n**The report was cut here to fit a ConfigMap; report.json has every check.**\n';
  let cut = md.slice(0, maxBytes - note.length);
  while (Buffer.byteLength(cut) > maxBytes - note.length) cut = cut.slice(0, -1000);
  return cut.slice(0, cut.lastIndexOf('\n')) + note;
}

/** Writes `<reconciliation>-report` (create or replace); returns its name. */
export async function writeReport(
  client: KubeClient,
  namespace: string,
  reconciliation: string,
  owner: OwnerReference,
  runId: string,
  result: RunResult,
): Promise<string> {
  const name = `${reconciliation}-report`;
  const { json, truncated } = fitReport(result, MAX_REPORT_BYTES - MAX_MARKDOWN_BYTES);
  const markdown = markdownReport(JSON.parse(json) as RunResult);
  const body: ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace,
      labels: { [LABEL_RECONCILIATION]: reconciliation, [LABEL_RUN]: runId },
      ownerReferences: [owner],
    },
    data: {
      'report.json': json,
      'report.md': markdown,
      run: runId,
      verdict: result.verdict,
      truncated: String(truncated),
    },
  };
  await client.createOrReplace(CONFIG_MAP, namespace, body);
  return name;
}
