/** Invalid rules fixtures (`# expect:` lines) and the documented example, for unit and API-server tests. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const SHADOW_INVALID_DIR = 'test/unit/shadow/fixtures/invalid';

export function shadowInvalidFixtures(): {
  file: string;
  text: string;
  rules: unknown;
  expects: string[];
  offlineOnly: boolean;
}[] {
  return readdirSync(SHADOW_INVALID_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(SHADOW_INVALID_DIR, file), 'utf8');
      return {
        file,
        text,
        rules: parse(text) as unknown,
        expects: [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]!.trim()),
        offlineOnly: /^# offline-only$/m.test(text),
      };
    });
}

/** The first ```yaml block of docs/shadow-proxy.md: the documented example must stay valid. */
export function documentedExample(): string {
  const doc = readFileSync('docs/shadow-proxy.md', 'utf8');
  const m = /```yaml\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/shadow-proxy.md has no yaml example');
  return m[1]!;
}
