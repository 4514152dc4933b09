/** `cutover validate` as people run it: the built CLI in a child process. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReport, validateText } from '../../../src/cli/validate-command.js';
import { invalidFixtures } from './fixtures.js';

function cli(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'validate', ...args], {
    encoding: 'utf8',
    input,
  });
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
      const lines = r.stdout
        .split('\n')
        .filter((l) =>
          new RegExp(`^test/fixtures/invalid/${f.file.replace(/\./g, '\\.')}:\\d+: ${kind}/${name}: `).test(
            l,
          ),
        );
      assert.ok(lines.length > 0, `${f.file} not reported`);
      for (const e of f.expects)
        assert.ok(
          lines.some((l) => l.includes(e)),
          `${f.file}: '${e}' not in\n${lines.join('\n')}`,
        );
    }
    assert.match(r.stderr, /problem\(s\) in \d+ manifest\(s\) of \d+ file\(s\)/);
  });

  it('reads multi-document YAML and stdin, skips other kinds, reports YAML syntax errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-validate-'));
    try {
      const file = join(dir, 'all.yaml');
      writeFileSync(
        file,
        [
          'apiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData: { url: "mysql://x" }',
          'apiVersion: cutover.nokta.io/v1alpha1\nkind: Reconciliation\nmetadata: { name: ok }\nspec:\n  legacy: { engine: mysql, secretRef: { name: a } }\n  target: { engine: postgres, secretRef: { name: b } }\n  checks: [{ name: c, type: count, legacy: { table: a }, target: { table: b } }]',
          'apiVersion: cutover.nokta.io/v1alpha1\nkind: Reconciliation\nmetadata: { name: bad }\nspec:\n  legacy: { engine: mysql, secretRef: { name: a } }\n  target: { engine: postgres, secretRef: { name: b } }\n  thresholds: { remediatePercent: 2, failPercent: 1 }\n  checks: [{ name: c, type: count, legacy: { table: a }, target: { table: b } }]',
        ].join('\n---\n'),
      );
      const r = cli(['-f', file]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stdout.trim(),
        `${file}:20: Reconciliation/bad: spec.thresholds.remediatePercent: remediatePercent must be below failPercent: lower remediatePercent or raise failPercent`,
      );

      const s = cli(
        ['-f', '-'],
        'kind: CanaryPhase\napiVersion: cutover.nokta.io/v1alpha1\nmetadata: { name: c }\nspec: { services: [] }\n',
      );
      assert.equal(s.code, 1);
      assert.match(
        s.stdout,
        /^<stdin>:4: CanaryPhase\/c: spec.services: Invalid value: should have at least 1 items/m,
      );
      assert.match(s.stdout, /^<stdin>:4: CanaryPhase\/c: spec.steps: Required value/m);

      const list = validateText(
        'list.yaml',
        'apiVersion: v1\nkind: List\nitems:\n- apiVersion: cutover.nokta.io/v1alpha1\n  kind: Cutover\n  metadata: { name: co1 }\n  spec: {}\n',
      );
      assert.equal(list.documents, 1);
      assert.ok(
        formatReport(list).some((l) =>
          l.startsWith('list.yaml:7: Cutover/co1: spec.services: Required value'),
        ),
        formatReport(list).join('\n'),
      );

      const y = validateText('broken.yaml', 'kind: Cutover\n  bad: [indent\n');
      assert.match(
        formatReport(y)[0] ?? '',
        /^broken\.yaml:\d+: <yaml>: \(manifest\): YAML error:/,
        formatReport(y).join('\n'),
      );
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

  it('refuses a typo in our group, a missing apiVersion and an unknown kind of ours instead of skipping them', () => {
    const body =
      'metadata: { name: r }\nspec:\n  legacy: { engine: mysql, secretRef: { name: a } }\n  target: { engine: postgres, secretRef: { name: b } }\n  checks: [{ name: c, type: count, legacy: { table: a }, target: { table: b } }]\n';
    const typo = cli(['-f', '-'], `apiVersion: cutover.nokta.com/v1alpha1\nkind: Reconciliation\n${body}`);
    assert.equal(typo.code, 1, typo.stdout + typo.stderr);
    assert.match(
      typo.stdout,
      /^<stdin>:1: Reconciliation\/r: apiVersion: Unsupported value: "cutover.nokta.com\/v1alpha1": supported values: "cutover.nokta.io\/v1alpha1"/m,
    );
    assert.doesNotMatch(typo.stdout + typo.stderr, /0 manifest\(s\)/);
    const version = cli(['-f', '-'], `apiVersion: cutover.nokta.io/v1\nkind: Reconciliation\n${body}`);
    assert.match(
      version.stdout,
      /apiVersion: Unsupported value: "cutover.nokta.io\/v1": .*the version of this API is v1alpha1/,
    );
    const missing = cli(['-f', '-'], `kind: Reconciliation\n${body}`);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stdout,
      /^<stdin>:1: Reconciliation\/r: apiVersion: Required value: add apiVersion: cutover.nokta.io\/v1alpha1$/m,
    );
    const kind = cli(['-f', '-'], `apiVersion: cutover.nokta.io/v1alpha1\nkind: Reconcilation\n${body}`);
    assert.equal(kind.code, 1);
    assert.match(
      kind.stdout,
      /^<stdin>:2: Reconcilation\/r: kind: Unsupported value: "Reconcilation": .*did you mean Reconciliation\?/m,
    );
    const core = cli(['-f', '-'], `apiVersion: v1\nkind: Reconciliation\n${body}`);
    assert.equal(core.code, 1);
    assert.match(
      core.stdout,
      /apiVersion: Unsupported value: "v1": supported values: "cutover.nokta.io\/v1alpha1"/,
    );
    // other groups are skipped, and counted
    const other = cli(
      ['-f', '-'],
      'apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: { name: c }\nspec: {}\n',
    );
    assert.equal(other.code, 0, other.stdout + other.stderr);
    assert.match(other.stdout, /0 manifest\(s\) in 1 file\(s\) valid, 1 other document\(s\) skipped/);
  });

  it('gives the line of each problem, of the field itself or of the nearest enclosing one', () => {
    const text = [
      'apiVersion: cutover.nokta.io/v1alpha1', // 1
      'kind: Reconciliation', // 2
      'metadata:', // 3
      '  name: lines', // 4
      'spec:', // 5
      '  legacy: { engine: oracle, secretRef: { name: a } }', // 6
      '  target:', // 7
      '    engine: postgres', // 8
      '  window:', // 9
      '    column: created_at', // 10
      '    last: 0d', // 11
      '  checks:', // 12
      '    - name: c', // 13
      '      type: rowHash', // 14
      '      legacy: { table: a }', // 15
      '      target: { table: b }', // 16
      '      columns:', // 17
      '        - { name: x, type: text }', // 18
    ].join('\n');
    const report = validateText('lines.yaml', text);
    const at = Object.fromEntries(report.problems.map((p) => [p.path, p.line]));
    assert.equal(at['spec.legacy.engine'], 6);
    assert.equal(at['spec.window.last'], 11);
    assert.equal(at['spec.target'], 7, 'a rule on the target mapping (no connection) points at target');
    assert.equal(at['spec.checks[0]'], 13, 'a rule on a list item points at the item');
  });

  it('-o json gives every problem with file, line, column, kind/name, path and message', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cutover-validate-json-'));
    try {
      const file = join(dir, 'zero.yaml');
      writeFileSync(
        file,
        [
          'apiVersion: cutover.nokta.io/v1alpha1',
          'kind: Reconciliation',
          'metadata:',
          '  name: zero-window',
          'spec:',
          '  legacy: { engine: mysql, secretRef: { name: a } }',
          '  target: { engine: postgres, secretRef: { name: b } }',
          '  window:',
          '    column: created_at',
          '    last: 0d',
          '  checks: [{ name: c, type: count, legacy: { table: a }, target: { table: b } }]',
        ].join('\n'),
      );
      const r = cli(['-f', file, '-f', 'samples', '-o', 'json']);
      assert.equal(r.code, 1);
      const out = JSON.parse(r.stdout) as {
        valid: boolean;
        files: number;
        manifests: number;
        problems: {
          file: string;
          line: number;
          column: number;
          resource: string;
          path: string;
          message: string;
        }[];
      };
      assert.equal(out.valid, false);
      assert.ok(out.files >= 9 && out.manifests >= 9, JSON.stringify(out));
      assert.deepEqual(
        out.problems.map((p) => ({ ...p, message: p.message.split(':')[0] })),
        [
          {
            file,
            line: 10,
            column: 5,
            resource: 'Reconciliation/zero-window',
            path: 'spec.window.last',
            message: 'must be longer than 0',
          },
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const ok = cli(['-f', 'samples', '-o', 'json']);
    assert.equal(ok.code, 0);
    assert.equal((JSON.parse(ok.stdout) as { valid: boolean }).valid, true);
  });

  it('marks what only the operator refuses (kubectl apply accepts it)', () => {
    const r = cli(
      ['-f', '-'],
      'apiVersion: cutover.nokta.io/v1alpha1\nkind: Reconciliation\nmetadata: { name: r }\nspec:\n  legacy: { engine: mysql, secretRef: { name: a } }\n  target: { engine: postgres, secretRef: { name: b } }\n  schedule: { cron: "0 0 30 2 *" }\n  checks: [{ name: c, type: count, legacy: { table: a }, target: { table: b } }]\n',
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^<stdin>:7: Reconciliation\/r: spec.schedule.cron: Invalid value: "0 0 30 2 \*": not a valid cron schedule .*\(kubectl apply accepts this; the operator stops on it with InvalidSpec\)$/m,
    );
  });

  it('refuses unknown flags by name, listing the valid ones; -o must be text or json', () => {
    const r = cli(['--filname', 'x']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /cutover validate: unknown flag '--filname' \(did you mean --filename\?\); valid flags: -f\/--filename, -o\/--output, -q\/--quiet, -h\/--help/,
    );
    const o = cli(['-f', 'samples', '-o', 'yaml']);
    assert.equal(o.code, 2);
    assert.match(o.stderr, /--output must be text or json, not 'yaml'/);
    const p = cli(['samples']);
    assert.match(p.stderr, /unexpected argument 'samples' \(files go after -f: -f samples\)/);
  });
});
