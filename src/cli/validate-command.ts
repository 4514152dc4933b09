/**
 * `cutover validate -f FILE|DIR ...`: validates manifests offline with the same rules as the API
 * server (schema + the TypeScript twins of the CEL rules), plus the checks only the operator makes
 * (cron schedules that never fire, time zones missing from the IANA database). Prints
 * `FILE:LINE: Kind/name: path: message` per problem (or JSON with `-o json`); exit 1 when any.
 *
 * Documents meant for our API are validated: group cutover.nokta.io or a near-miss of it
 * (`cutover.nokta.com` is refused, not skipped), or no apiVersion with one of our kinds.
 * Other documents (Secrets, ConfigMaps...) are skipped and counted.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { looksLikeOurs, validateManifest, type Problem } from '../api/validate.js';
import { FILENAME, helpText, OUTPUT, parseCommandLine, UsageError, type CommandSpec } from './args.js';

export const VALIDATE_COMMAND: CommandSpec = {
  name: 'validate',
  usage: '-f FILE|DIR [-f FILE|DIR ...] [-o text|json] [-q]',
  description: [
    'Validates Cutover, CanaryPhase and Reconciliation manifests (cutover.nokta.io/v1alpha1) offline,',
    'with the same schema and rules the API server applies, plus checks the API server cannot make',
    '(cron schedules that never fire, IANA time zones): those the operator would stop on (InvalidSpec).',
  ].join('\n'),
  flags: [
    FILENAME,
    OUTPUT(['text', 'json'], 'text'),
    { name: 'quiet', short: 'q', type: 'boolean', help: 'print nothing when everything is valid' },
  ],
  footer: [
    "Each problem is printed as 'FILE:LINE: Kind/name: path: message'. Documents of our group with a",
    'typo in apiVersion (cutover.nokta.com) or an unknown kind are refused; other documents (Secrets,',
    'ConfigMaps...) are skipped. Exit code: 0 valid, 1 problems found, 2 usage or read error.',
  ].join('\n'),
};

export interface ReportedProblem extends Problem {
  /** Kind/name of the manifest ('<yaml>' for a syntax error). */
  resource: string;
  /** 1-based line and column of the field (or of the nearest enclosing one that exists). */
  line?: number;
  column?: number;
}

export interface FileReport {
  file: string;
  /** Manifests of our API that were validated. */
  documents: number;
  /** Other documents, skipped. */
  skipped: number;
  problems: ReportedProblem[];
}

function expand(path: string): string[] {
  if (path === '-') return ['-'];
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) return expand(full);
      return /\.(ya?ml|json)$/.test(entry) ? [full] : [];
    });
}

function resourceName(doc: unknown): string {
  if (typeof doc !== 'object' || doc === null) return '<not a mapping>';
  const d = doc as { kind?: unknown; metadata?: { name?: unknown } };
  const kind = typeof d.kind === 'string' ? d.kind : '<no kind>';
  const name = typeof d.metadata?.name === 'string' ? d.metadata.name : '<no name>';
  return `${kind}/${name}`;
}

function isList(doc: unknown): doc is { items: unknown[] } {
  if (typeof doc !== 'object' || doc === null) return false;
  const d = doc as { kind?: unknown; apiVersion?: unknown; items?: unknown };
  return (
    typeof d.kind === 'string' && d.kind.endsWith('List') && d.apiVersion === 'v1' && Array.isArray(d.items)
  );
}

/** `spec.checks[2].legacy` → ['spec', 'checks', 2, 'legacy']. */
export function pathSegments(path: string): (string | number)[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/** The source offset of the deepest node along `segments` that exists (the key of a mapping entry). */
function locate(doc: Document, segments: (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let at = doc.contents?.range?.[0];
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg),
      );
      if (!pair) break;
      at = (pair.key as Node | null)?.range?.[0] ?? at;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      at = item.range?.[0] ?? at;
      node = item;
    } else break;
  }
  return at;
}

/** Validates the text of one file (any number of YAML documents). */
export function validateText(file: string, text: string): FileReport {
  const report: FileReport = { file, documents: 0, skipped: 0, problems: [] };
  const lines = new LineCounter();
  for (const doc of parseAllDocuments(text, { lineCounter: lines })) {
    if (doc.errors.length) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0];
        report.problems.push({
          resource: '<yaml>',
          path: '',
          message: `YAML error: ${e.message.split('\n')[0]!}`,
          ...(pos ? { line: pos.line, column: pos.col } : {}),
        });
      }
      continue;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    // `kubectl get -o yaml` writes a List: validate its items.
    const items: { item: unknown; prefix: (string | number)[] }[] = isList(value)
      ? value.items.map((item, i) => ({ item, prefix: ['items', i] }))
      : [{ item: value, prefix: [] }];
    for (const { item, prefix } of items) {
      if (!looksLikeOurs(item)) {
        report.skipped++;
        continue;
      }
      report.documents++;
      for (const problem of validateManifest(item)) {
        const offset = locate(doc, [...prefix, ...pathSegments(problem.path)]);
        const pos = offset !== undefined ? lines.linePos(offset) : undefined;
        report.problems.push({
          resource: resourceName(item),
          ...problem,
          ...(pos ? { line: pos.line, column: pos.col } : {}),
        });
      }
    }
  }
  return report;
}

const OPERATOR_ONLY = ' (kubectl apply accepts this; the operator stops on it with InvalidSpec)';

export function formatReport(r: FileReport): string[] {
  return r.problems.map(
    (p) =>
      `${r.file}${p.line ? `:${p.line}` : ''}: ${p.resource}: ${p.path || '(manifest)'}: ${p.message}${p.operatorOnly ? OPERATOR_ONLY : ''}`,
  );
}

export function run(argv: string[]): Promise<number> {
  return Promise.resolve(validateCommand(argv));
}

function validateCommand(argv: string[]): number {
  let paths: string[];
  let output: string;
  let quiet: boolean;
  try {
    const parsed = parseCommandLine(VALIDATE_COMMAND, argv);
    if (parsed.help) {
      process.stdout.write(helpText(VALIDATE_COMMAND) + '\n');
      return 0;
    }
    paths = (parsed.flags.filename as string[] | undefined) ?? [];
    output = (parsed.flags.output as string | undefined) ?? 'text';
    quiet = parsed.flags.quiet === true;
    if (paths.length === 0) throw new UsageError('cutover validate: give at least one -f FILE|DIR');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n\n${helpText(VALIDATE_COMMAND)}\n`);
    return 2;
  }
  let files: string[];
  try {
    files = paths.flatMap(expand);
  } catch (err) {
    process.stderr.write(`cutover validate: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const reports: FileReport[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      process.stderr.write(
        `cutover validate: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      return 2;
    }
    reports.push(validateText(file === '-' ? '<stdin>' : file, text));
  }
  const problems = reports.reduce((n, r) => n + r.problems.length, 0);
  const documents = reports.reduce((n, r) => n + r.documents, 0);
  const skipped = reports.reduce((n, r) => n + r.skipped, 0);
  if (output === 'json') {
    const body = {
      valid: problems === 0,
      files: files.length,
      manifests: documents,
      skipped,
      problems: reports.flatMap((r) => r.problems.map((p) => ({ file: r.file, ...p }))),
    };
    process.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return problems > 0 ? 1 : 0;
  }
  for (const r of reports) for (const line of formatReport(r)) process.stdout.write(line + '\n');
  const other = skipped > 0 ? `, ${skipped} other document(s) skipped` : '';
  if (problems > 0) {
    process.stderr.write(
      `${problems} problem(s) in ${documents} manifest(s) of ${files.length} file(s)${other}\n`,
    );
    return 1;
  }
  if (!quiet) process.stdout.write(`${documents} manifest(s) in ${files.length} file(s) valid${other}\n`);
  return 0;
}
