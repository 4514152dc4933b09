/** `cutover validate` as people run it: the built CLI in a child process. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReport, validateText } from '../../../src/cli/validate-command.js';
import { invalidFixtures } from './fixtures.js';

function cli(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'validate', ...args], { encoding: 'utf8', input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cutover validate (CLI)', () => {
  it('--help explains the options and exits 0', () => {
    const r = cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: cutover validate -f FILE\|DIR/);
    assert.match(r.stdout, /Exit code: 0 valid, 1 problems found/);
  });

  it('is listed by cutover --help', () => {
    const r = spawnSync(process.execPath, ['dist/src/cli/main.js', '--help'], { encoding: 'utf8' });
    assert.match(r.stdout, /validate\s+validate manifests offline/);
  });

  it('accepts the samples directory (exit 0)', () => {
    const r = cli(['-f', 'samples']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /manifest\(s\) in \d+ file\(s\) valid/);
  });

  it('refuses the invalid fixtures directory, one line per problem with file, kind/name and path (exit 1)', () => {
    const r = cli(['-f', 'test/fixtures/invalid']);
    assert.equal(r.code, 1);
    for (const f of invalidFixtures()) {
      const kind = (f.manifest as { kind: string }).kind;
      const name = (f.manifest as { metadata: { name: string } }).metadata.name;
      const lines = r.stdout.split('\n').filter((l) => l.startsWith(`test/fixtures/invalid/${f.file}: ${kind}/${name}: `));
      assert.ok(lines.length > 0, `${f.file} not reported`);
      for (const e of f.expects) assert.ok(lines.some((l) => l.includes(e)), `${f.file}: '${e}' not in\n${lines.join('\n')}`);
    }
    assert.match(r.stderr, /problem\(s\) in \d+ manifest\(s\) of \d+ file\(s\)/);
  });

  it('reads multi-document YAML and stdin, skips other kinds, reports YAML syntax errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-validate-'));
    try {
      const file = join(dir, 'all.yaml');
      writeFileSync(file, [
        'apiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData: { url: "mysql://x" }',
        'apiVersion: cutover.nokta.io/v1alpha1\nkind: Reconciliation\nmetadata: { name: ok }\nspec:\n  legacy: { engine: mysql, secretRef: { name: a } }\n  target: { engine: postgres, secretRef: { name: b } }\n  checks: [{ name: c, type: count, legacy: { table: a }, target: { table: b } }]',
        'apiVersion: cutover.nokta.io/v1alpha1\nkind: Reconciliation\nmetadata: { name: bad }\nspec:\n  legacy: { engine: mysql, secretRef: { name: a } }\n  target: { engine: postgres, secretRef: { name: b } }\n  thresholds: { remediatePercent: 2, failPercent: 1 }\n  checks: [{ name: c, type: count, legacy: { table: a }, target: { table: b } }]',
      ].join('\n---\n'));
      const r = cli(['-f', file]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout.trim(), `${file}: Reconciliation/bad: spec.thresholds.remediatePercent: remediatePercent must be below failPercent: lower remediatePercent or raise failPercent`);

      const s = cli(['-f', '-'], 'kind: CanaryPhase\napiVersion: cutover.nokta.io/v1alpha1\nmetadata: { name: c }\nspec: { services: [] }\n');
      assert.equal(s.code, 1);
      assert.match(s.stdout, /^<stdin>: CanaryPhase\/c: spec.services: Invalid value: should have at least 1 items/m);
      assert.match(s.stdout, /^<stdin>: CanaryPhase\/c: spec.steps: Required value/m);

      const list = validateText('list.yaml', 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: cutover.nokta.io/v1alpha1\n  kind: Cutover\n  metadata: { name: co1 }\n  spec: {}\n');
      assert.equal(list.documents, 1);
      assert.ok(formatReport(list).some((l) => l.startsWith('list.yaml: Cutover/co1: spec.services: Required value')), formatReport(list).join('\n'));

      const y = validateText('broken.yaml', 'kind: Cutover\n  bad: [indent\n');
      assert.ok(formatReport(y)[0]?.startsWith('broken.yaml: <yaml>: (manifest): YAML error:'), formatReport(y).join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 on usage errors and unreadable files', () => {
    assert.equal(cli([]).code, 2);
    assert.equal(cli(['samples']).code, 2);
    const r = cli(['-f', 'no/such/file.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no\/such\/file.yaml/);
  });
});
