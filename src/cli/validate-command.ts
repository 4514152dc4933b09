/**
 * `cutover validate -f FILE|DIR ...`: validates manifests offline with the same rules as the API
 * server (schema + the TypeScript twins of the CEL rules, plus cron and time-zone checks the API
 * server cannot do). Prints `FILE: Kind/name: path: message` per problem; exit 1 when any.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateManifest, type Problem } from '../api/validate.js';

const HELP = `usage: cutover validate -f FILE|DIR [-f FILE|DIR ...] [--quiet]

Validates Cutover, CanaryPhase and Reconciliation manifests (cutover.nokta.io/v1alpha1) offline,
with the same schema and rules the API server applies, plus checks the API server cannot make
(cron schedules against a cron parser, IANA time zones).

  -f, --filename PATH   a YAML/JSON file (several documents separated by ---) or a directory
                        (its *.yaml, *.yml and *.json files, recursively); repeatable; '-' is stdin
  -q, --quiet           print nothing when everything is valid
  -h, --help            this text

Each problem is printed as 'FILE: Kind/name: path: message'. Documents of other kinds
(Secrets, ConfigMaps...) are skipped. Exit code: 0 valid, 1 problems found, 2 usage or read error.`;

export interface FileReport {
  file: string;
  documents: number;
  problems: { resource: string; problem: Problem }[];
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
  return typeof d.kind === 'string' && d.kind.endsWith('List') && d.apiVersion === 'v1' && Array.isArray(d.items);
}

function isOurs(doc: unknown): boolean {
  if (typeof doc !== 'object' || doc === null) return true;
  const apiVersion = (doc as { apiVersion?: unknown }).apiVersion;
  return typeof apiVersion !== 'string' || apiVersion.startsWith('cutover.nokta.io/');
}

/** Validates the text of one file (any number of YAML documents). */
export function validateText(file: string, text: string): FileReport {
  const report: FileReport = { file, documents: 0, problems: [] };
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) {
      for (const e of doc.errors) report.problems.push({ resource: '<yaml>', problem: { path: '', message: `YAML error: ${e.message.split('\n')[0]}` } });
      continue;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    // `kubectl get -o yaml` writes a List: validate its items.
    const items = isList(value) ? value.items : [value];
    for (const item of items) {
      if (!isOurs(item)) continue;
      report.documents++;
      for (const problem of validateManifest(item)) report.problems.push({ resource: resourceName(item), problem });
    }
  }
  return report;
}

export function formatReport(r: FileReport): string[] {
  return r.problems.map(({ resource, problem }) => `${r.file}: ${resource}: ${problem.path || '(manifest)'}: ${problem.message}`);
}

export async function run(argv: string[]): Promise<number> {
  const paths: string[] = [];
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      process.stdout.write(HELP + '\n');
      return 0;
    } else if (a === '-q' || a === '--quiet') {
      quiet = true;
    } else if (a === '-f' || a === '--filename') {
      const v = argv[++i];
      if (v === undefined) {
        process.stderr.write(`cutover validate: ${a} needs a file or directory\n`);
        return 2;
      }
      paths.push(v);
    } else if (a.startsWith('--filename=')) {
      paths.push(a.slice('--filename='.length));
    } else {
      process.stderr.write(`cutover validate: unexpected argument '${a}'\n\n${HELP}\n`);
      return 2;
    }
  }
  if (paths.length === 0) {
    process.stderr.write(`cutover validate: give at least one -f FILE|DIR\n\n${HELP}\n`);
    return 2;
  }
  let files: string[];
  try {
    files = paths.flatMap(expand);
  } catch (err) {
    process.stderr.write(`cutover validate: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  let problems = 0;
  let documents = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      process.stderr.write(`cutover validate: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
    const report = validateText(file === '-' ? '<stdin>' : file, text);
    documents += report.documents;
    problems += report.problems.length;
    for (const line of formatReport(report)) process.stdout.write(line + '\n');
  }
  if (problems > 0) {
    process.stderr.write(`${problems} problem(s) in ${documents} manifest(s) of ${files.length} file(s)\n`);
    return 1;
  }
  if (!quiet) process.stdout.write(`${documents} manifest(s) in ${files.length} file(s) valid\n`);
  return 0;
}
