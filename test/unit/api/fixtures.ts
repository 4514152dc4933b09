/** Reads test/fixtures/invalid: one manifest per file, `# expect: fragment` lines name the messages. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export interface InvalidFixture {
  file: string;
  text: string;
  manifest: unknown;
  expects: string[];
}

export const INVALID_DIR = 'test/fixtures/invalid';

export function invalidFixtures(): InvalidFixture[] {
  return readdirSync(INVALID_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const text = readFileSync(join(INVALID_DIR, f), 'utf8');
      const expects = [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]!.trim());
      return { file: f, text, manifest: parse(text) as unknown, expects };
    });
}

/** Top-level samples/*.yaml (samples/nokta belongs to the reconciliation engine). */
export function sampleDocuments(): { file: string; text: string; manifest: unknown }[] {
  return readdirSync('samples')
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => {
      const text = readFileSync(join('samples', f), 'utf8');
      return parseAllDocuments(text).map((d) => ({ file: f, text, manifest: d.toJS() as unknown }));
    });
}
