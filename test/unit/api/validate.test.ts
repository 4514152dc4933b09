import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { API_VERSION, KINDS, collectRules } from '../../../src/api/crds.js';
import { validateManifest, validateStatus, withDefaults } from '../../../src/api/validate.js';
import {
  parseCondition,
  conditionHolds,
  parseDurationMs,
  CRON_PATTERN,
} from '../../../src/api/schema/common.js';
import { planFromSpec } from '../../../src/reconciliation/plan.js';
import type { Reconciliation } from '../../../src/api/types.js';
import { invalidFixtures, sampleDocuments } from './fixtures.js';

function problemsText(m: unknown): string {
  return validateManifest(m)
    .map((p) => `${p.path}: ${p.message}`)
    .join('\n');
}

function recon(spec: Record<string, unknown>): unknown {
  return {
    apiVersion: API_VERSION,
    kind: 'Reconciliation',
    metadata: { name: 'r' },
    spec: {
      legacy: { engine: 'mysql', secretRef: { name: 'legacy' } },
      target: { engine: 'postgres', secretRef: { name: 'new' } },
      checks: [{ name: 'c', type: 'count', legacy: { table: 'a' }, target: { table: 'b' } }],
      ...spec,
    },
  };
}

describe('api: validateManifest', () => {
  const samples = sampleDocuments();
  it('has samples for all three kinds', () => {
    const kinds = new Set(samples.map((s) => (s.manifest as { kind: string }).kind));
    assert.deepEqual([...kinds].sort(), ['CanaryPhase', 'Cutover', 'Reconciliation']);
  });
  for (const s of samples) {
    it(`accepts samples/${s.file} (${(s.manifest as { metadata: { name: string } }).metadata.name})`, () => {
      assert.deepEqual(validateManifest(s.manifest), []);
    });
  }

  const fixtures = invalidFixtures();
  it('has at least 100 invalid fixtures, each naming the expected message', () => {
    assert.ok(fixtures.length >= 100, `${fixtures.length} fixtures`);
    for (const f of fixtures) assert.ok(f.expects.length > 0, `${f.file}: no '# expect:' line`);
  });
  for (const f of fixtures) {
    it(`refuses ${f.file}`, () => {
      const text = problemsText(f.manifest);
      assert.notEqual(text, '', 'no problem reported');
      for (const e of f.expects) assert.ok(text.includes(e), `expected '${e}' in:\n${text}`);
    });
  }

  it('covers every CEL rule with at least one invalid fixture', () => {
    const messages = fixtures.map((f) => problemsText(f.manifest)).join('\n');
    const uncovered = Object.values(KINDS)
      .flatMap((k) => collectRules(k.spec, 'spec').map((r) => ({ kind: k.kind, ...r })))
      .filter(({ rule }) => !messages.includes(rule.message))
      .map(({ kind, path, rule }) => `${kind} ${path}: ${rule.message}`);
    assert.deepEqual(uncovered, []);
  });

  it('reports the values in the message of a threshold problem and the path of the field', () => {
    const problems = validateManifest(recon({ thresholds: { remediatePercent: 1.5, failPercent: 1.0 } }));
    assert.deepEqual(problems, [
      {
        path: 'spec.thresholds.remediatePercent',
        message: 'remediatePercent must be below failPercent: lower remediatePercent or raise failPercent',
      },
    ]);
  });

  it('applies schema defaults before the rules, as the API server does', () => {
    // failPercent defaults to 1: a remediatePercent of 2 alone is already wrong.
    assert.match(
      problemsText(recon({ thresholds: { remediatePercent: 2 } })),
      /remediatePercent must be below failPercent/,
    );
    const r = withDefaults(recon({}) as Reconciliation);
    assert.deepEqual(r.spec.thresholds, { remediatePercent: 0.5, failPercent: 1 });
    assert.equal(r.spec.tenantColumn, 'tenant_id');
    assert.equal(r.spec.statementTimeoutSeconds, 300);
    assert.equal(r.spec.legacy.secretRef?.key, 'url');
    assert.throws(() => withDefaults(recon({ tenantColumn: 'a b' })), /spec.tenantColumn/);
  });

  it('checks cron schedules beyond the pattern (what the API server cannot)', () => {
    for (const c of ['0 0 30 2 *', '5-2 * * * *', '*/0 * * * *']) {
      assert.match(c, new RegExp(CRON_PATTERN, 'i'), `${c} passes the pattern (the API server accepts it)`);
      const problems = validateManifest(recon({ schedule: { cron: c } }));
      assert.equal(problems.length, 1, c);
      assert.match(
        `${problems[0]!.path}: ${problems[0]!.message}`,
        /spec.schedule.cron: Invalid value: .*not a valid cron schedule/,
        c,
      );
      assert.equal(problems[0]!.operatorOnly, true, 'marked as what only the operator refuses');
    }
    for (const c of [
      '0 2 * * *',
      '*/15 * * * 1-5',
      '0 3 1,15 * *',
      '30 2 * JAN-MAR MON',
      '30 2 * jan-mar mon',
      '0  2 * * *',
    ]) {
      assert.equal(problemsText(recon({ schedule: { cron: c } })), '', c);
    }
  });

  it('checks time zones against the IANA database (what the API server cannot)', () => {
    const check = (tz: string) =>
      problemsText(
        recon({
          checks: [
            {
              name: 'c',
              type: 'rowHash',
              legacy: { table: 'a' },
              target: { table: 'b' },
              key: ['id'],
              columns: [{ name: 't', type: 'timestamp', legacyTimeZone: tz }],
            },
          ],
        }),
      );
    assert.match(check('Mars/Olympus_Mons'), /unknown time zone/);
    assert.equal(check('Europe/Istanbul'), '');
    assert.equal(check('+03:00'), '');
    assert.equal(check('UTC'), '');
  });

  it('refuses what is not a manifest of ours, with the reason', () => {
    assert.match(problemsText(null), /must be a mapping/);
    assert.match(problemsText([1, 2]), /must be a mapping/);
    assert.match(
      problemsText({ ...(recon({}) as object), apiVersion: 'cutover.nokta.io/v1' }),
      /apiVersion: Unsupported value: "cutover.nokta.io\/v1"/,
    );
    assert.match(
      problemsText({ ...(recon({}) as object), kind: 'Rollout' }),
      /kind: Unsupported value: "Rollout"/,
    );
    assert.match(problemsText({ ...(recon({}) as object), metadata: {} }), /metadata.name: Required value/);
    assert.match(
      problemsText({ ...(recon({}) as object), metadata: { name: 'Bad_Name' } }),
      /metadata.name: Invalid value/,
    );
    assert.match(problemsText({ ...(recon({}) as object), spec: undefined }), /^spec: Required value/);
  });

  it('reports every problem, not only the first', () => {
    const problems = validateManifest(
      recon({ tenantColumn: 'x y', statementTimeoutSeconds: 0, window: { column: 'c', last: 'ninety' } }),
    );
    assert.deepEqual(problems.map((p) => p.path).sort(), [
      'spec.statementTimeoutSeconds',
      'spec.tenantColumn',
      'spec.window.last',
    ]);
  });

  it('ignores status (the API server drops it on apply) but validateStatus checks it', () => {
    assert.deepEqual(validateManifest({ ...(recon({}) as object), status: { phase: 'Nonsense' } }), []);
    const ready = {
      type: 'Ready',
      status: 'True',
      reason: 'Passed',
      message: 'all checks passed',
      lastTransitionTime: '2026-12-01T02:20:00Z',
    };
    assert.deepEqual(
      validateStatus('Reconciliation', { phase: 'Passed', observedGeneration: 2, conditions: [ready] }),
      [],
    );
    const bad = validateStatus('Reconciliation', { phase: 'Nonsense', conditions: [{ type: 'Ready' }] });
    assert.deepEqual(bad.map((p) => p.path).sort(), [
      'status.conditions[0].lastTransitionTime',
      'status.conditions[0].message',
      'status.conditions[0].reason',
      'status.conditions[0].status',
      'status.phase',
    ]);
  });

  it('parses conditions and durations the way the schema describes them', () => {
    assert.deepEqual(parseCondition('result <= 1.5'), { op: '<=', value: 1.5 });
    assert.deepEqual(parseCondition('result==0'), { op: '==', value: 0 });
    assert.throws(() => parseCondition('latency < 1'), /not a condition/);
    assert.equal(conditionHolds(parseCondition('result < 0.5'), 0.49), true);
    assert.equal(conditionHolds(parseCondition('result >= 1'), 0.99), false);
    assert.equal(parseDurationMs('90d'), 90 * 86_400_000);
    assert.equal(parseDurationMs('1h30m'), 5_400_000);
    assert.equal(parseDurationMs('+4h'), 14_400_000);
    assert.equal(parseDurationMs('-30m'), -1_800_000);
    assert.throws(() => parseDurationMs('4 hours'), /not a duration/);
    assert.equal(parseDurationMs('+2w'), 14 * 86_400_000);
  });

  it('supports weeks end to end: schema, validator, the engine plan and the offsets agree', () => {
    const m = recon({ window: { column: 'created_at', last: '2w' } }) as { spec: unknown };
    assert.equal(problemsText(m), '');
    assert.equal(planFromSpec(m.spec).window?.lastMs, 14 * 86_400_000);
    assert.equal(problemsText(recon({ window: { column: 'created_at', last: '1w3d12h' } })), '');
    assert.equal(
      planFromSpec((recon({ window: { column: 'c', last: '1w3d12h' } }) as { spec: unknown }).spec).window
        ?.lastMs,
      (10 * 24 + 12) * 3_600_000,
    );
    assert.equal(
      problemsText(recon({ schedule: { cutoverRef: { name: 'co' }, offsets: ['+1w', '+2w'] } })),
      '',
    );
  });

  it('refuses a window of 0 and durations beyond the grammar, with the format in the message', () => {
    assert.equal(
      problemsText(recon({ window: { column: 'c', last: '0d' } })),
      'spec.window.last: must be longer than 0: write a duration like 90d, 12h or 30m',
    );
    assert.throws(
      () => planFromSpec((recon({ window: { column: 'c', last: '0d' } }) as { spec: unknown }).spec),
      /must be longer than 0/,
    );
    for (const last of ['999999w', '30m1h', '1h1h', '1.5h', '90 days', '']) {
      assert.match(
        problemsText(recon({ window: { column: 'c', last } })),
        /^spec\.window\.last: must look like 90d, 12h, 30m or 1h30m: write whole numbers with the units w, d, h, m, s or ms, largest unit first/,
        last,
      );
      assert.throws(
        () => planFromSpec((recon({ window: { column: 'c', last } }) as { spec: unknown }).spec),
        last === '' ? /must be a non-empty string/ : /must look like 90d/,
        last,
      );
    }
    // 0 stays allowed where it means "at once" (a step without pause)
    assert.equal(
      problemsText({
        ...(recon({}) as object),
        kind: 'CanaryPhase',
        spec: {
          services: [{ name: 'pos', flagKey: 'pos' }],
          flagProvider: { type: 'Flagd', flagd: { configMapName: 'f' } },
          steps: [{ weight: 10, pause: '0s' }],
          analysis: {
            metrics: [{ name: 'm', reconciliation: { name: 'r' }, successCondition: 'result < 1' }],
          },
        },
      }),
      '',
    );
  });

  it('accepts cron descriptors as a CronJob does, and refuses @every with the cron to write', () => {
    for (const c of [
      '@daily',
      '@midnight',
      '@hourly',
      '@weekly',
      '@monthly',
      '@yearly',
      '@annually',
      '@DAILY',
    ]) {
      assert.equal(problemsText(recon({ schedule: { cron: c } })), '', c);
    }
    assert.match(
      problemsText(recon({ schedule: { cron: '@every 6h' } })),
      /^spec\.schedule\.cron: @every is not supported .*: write it as 5 cron fields/,
    );
    assert.match(
      problemsText(recon({ schedule: { cron: '@sometimes' } })),
      /^spec\.schedule\.cron: must be a cron schedule: write 5 fields/,
    );
  });

  it('gives cron, zone and duration problems as short messages, not the regular expression', () => {
    for (const spec of [
      { schedule: { cron: '61 * * * *' } },
      { window: { column: 'c', last: 'soon', legacyTimeZone: 'Not A Zone' } },
    ]) {
      for (const p of validateManifest(recon(spec))) {
        assert.ok(p.message.length < 200, p.message);
        assert.doesNotMatch(p.message, /should match|\^\(/, p.message);
      }
    }
  });

  it('refuses duplicates in a set list, as the API server does', () => {
    const columns = (transforms: string[]) => [{ name: 'email', type: 'text', transforms }];
    const check = (transforms: string[]) =>
      recon({
        checks: [
          {
            name: 'c',
            type: 'rowHash',
            legacy: { table: 'a' },
            target: { table: 'b' },
            key: ['id'],
            columns: columns(transforms),
          },
        ],
      });
    assert.equal(
      problemsText(check(['trim', 'trim'])),
      'spec.checks[0].columns[0].transforms[1]: Duplicate value: "trim": duplicate entries in a set list: remove the duplicate',
    );
    assert.equal(problemsText(check(['lower', 'trim'])), '');
  });

  it('drops nulls before validating, as the API server does (a null field is an absent one)', () => {
    assert.equal(problemsText(recon({ window: null, tenants: null, thresholds: null })), '');
    assert.match(problemsText(recon({ legacy: null })), /^spec\.legacy: Required value/);
  });

  it('validates the full Nokta Cutover sample timeline in UTC', () => {
    const co = parse(readFileSync('samples/cutover-nokta.yaml', 'utf8')) as {
      spec: { timeline: { steps: { name: string; action: string }[] }; slos: { objective: string }[] };
    };
    assert.deepEqual(
      co.spec.timeline.steps.map((s) => s.action),
      [
        'Freeze',
        'DeltaSync',
        'ReconciliationSignOff',
        'TrafficSwitch',
        'EnableFlags',
        'LiftFreeze',
        'Monitor',
        'Report',
      ],
    );
    assert.deepEqual(
      co.spec.slos.map((s) => s.objective),
      ['result <= 1.5', 'result <= 30', 'result <= 5', 'result <= 3'],
    );
  });
});
