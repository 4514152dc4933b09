/** The CanaryPhase timing rules CEL cannot check: offline (validateManifest, `cutover validate`) and the pure helpers the controller uses. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { validateManifest } from '../../../src/api/validate.js';
import { canaryTimingProblems, cutoverFreezeAt, endByProblems } from '../../../src/api/canary-timing.js';
import type { CanaryPhaseSpec, Cutover } from '../../../src/api/types.js';

function canary(spec: Partial<CanaryPhaseSpec>): {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: unknown;
} {
  return {
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'CanaryPhase',
    metadata: { name: 'c' },
    spec: {
      services: [
        { name: 'pos', traffic: { ingress: { name: 'pos', newBackend: { name: 'pos-v2', port: 8080 } } } },
      ],
      steps: [{ weight: 10 }],
      analysis: {
        interval: '1h',
        metrics: [
          {
            name: 'p95',
            prometheus: { address: 'http://prom:9090', query: 'up' },
            successCondition: 'result <= 1.5',
          },
        ],
      },
      ...spec,
    },
  };
}

const sampleCutover = (): Cutover =>
  parseAllDocuments(readFileSync('samples/cutover-nokta.yaml', 'utf8'))
    .map((d) => d.toJS() as Cutover)
    .find((d) => d.kind === 'Cutover')!;

describe('CanaryPhase timing rules (pauses, interval, endBy)', () => {
  it('refuses step pauses that do not fit into duration, naming the field and the fix (days, which CEL cannot parse)', () => {
    const problems = validateManifest(
      canary({
        steps: [{ weight: 1, pause: '1d' }, { weight: 5, pause: '2d' }, { weight: 10 }],
        duration: '2d',
      }),
    );
    assert.equal(problems.length, 1, JSON.stringify(problems));
    const p = problems[0]!;
    assert.equal(p.path, 'spec.steps');
    assert.equal(p.operatorOnly, true);
    assert.match(p.message, /step pauses \(1d \+ 2d = 3d\) do not fit into spec.duration \(2d\)/);
    assert.match(p.message, /last step would start after the phase ended/);
    assert.match(p.message, /shorten the pauses or make duration at least 3d1s/);
  });

  it('counts the default pause (the interval) of steps without one, and the last step only when it has a pause', () => {
    // 3 steps without pauses, interval 1d: the first two are held 1d each, the last until the end.
    assert.deepEqual(
      canaryTimingProblems({
        ...(canary({}).spec as CanaryPhaseSpec),
        steps: [{ weight: 1 }, { weight: 5 }, { weight: 10 }],
        analysis: { interval: '1d', metrics: [] } as unknown as CanaryPhaseSpec['analysis'],
        duration: '3d',
      }),
      [],
    );
    const tooShort = canaryTimingProblems({
      ...(canary({}).spec as CanaryPhaseSpec),
      steps: [{ weight: 1 }, { weight: 5 }, { weight: 10 }],
      analysis: { interval: '1d', metrics: [] } as unknown as CanaryPhaseSpec['analysis'],
      duration: '2d',
    });
    assert.equal(tooShort.length, 1);
    assert.match(tooShort[0]!.message, /1d \(interval\) \+ 1d \(interval\) = 2d/);
    // The last step's own pause must fit too.
    const last = canaryTimingProblems({
      ...(canary({}).spec as CanaryPhaseSpec),
      steps: [
        { weight: 1, pause: '6h' },
        { weight: 10, pause: '1w' },
      ],
      duration: '3d',
    });
    assert.equal(last.length, 1);
    assert.match(last[0]!.message, /6h \+ 1w = 1w6h/);
  });

  it('refuses an analysis interval longer than duration', () => {
    const problems = validateManifest(
      canary({
        duration: '12h',
        analysis: { ...(canary({}).spec as CanaryPhaseSpec).analysis, interval: '1d' },
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.path),
      ['spec.analysis.interval'],
    );
    assert.match(
      problems[0]!.message,
      /"1d": longer than spec.duration \(12h\).*make interval at most 12h or duration longer/,
    );
  });

  it('accepts the sample and a phase without duration; leaves a malformed duration to the schema message', () => {
    const sample = parseAllDocuments(readFileSync('samples/canary-pos-callcenter-drivers.yaml', 'utf8'))
      .map((d) => d.toJS() as { kind: string; spec: CanaryPhaseSpec })
      .find((d) => d.kind === 'CanaryPhase')!;
    assert.deepEqual(canaryTimingProblems(sample.spec), []);
    assert.deepEqual(validateManifest(canary({ steps: [{ weight: 1, pause: '9w' }, { weight: 2 }] })), []);
    const bad = validateManifest(
      canary({ duration: '2 days', steps: [{ weight: 1, pause: '9w' }, { weight: 2 }] }),
    );
    assert.deepEqual(
      bad.map((p) => p.path),
      ['spec.duration'],
    );
    assert.match(bad[0]!.message, /must look like 90d/);
  });

  it('cutover validate refuses it offline (exit 1, the operator-only note)', () => {
    const text = [
      'apiVersion: cutover.nokta.io/v1alpha1',
      'kind: CanaryPhase',
      'metadata: { name: c }',
      'spec:',
      '  services: [{ name: pos, traffic: { ingress: { name: pos, newBackend: { name: pos-v2, port: 8080 } } } }]',
      '  steps: [{ weight: 1, pause: 2d }, { weight: 10 }]',
      '  duration: 1d',
      '  analysis:',
      '    metrics: [{ name: p95, prometheus: { address: "http://prom:9090", query: up }, successCondition: "result <= 1.5" }]',
      '',
    ].join('\n');
    const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'validate', '-f', '-'], {
      input: text,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^<stdin>:6: CanaryPhase\/c: spec.steps: Invalid value: the step pauses \(2d = 2d\) do not fit into spec.duration \(1d\)/m,
    );
    assert.match(r.stdout, /kubectl apply accepts this; the operator stops on it with InvalidSpec/);
  });

  it("endBy: the sample's freeze is the Freeze step's planned time; an endBy after it is refused with the time to use", () => {
    const co = sampleCutover();
    assert.equal(new Date(cutoverFreezeAt(co)!).toISOString(), '2026-12-01T02:00:00.000Z');
    assert.deepEqual(endByProblems({ endBy: '2026-12-01T01:00:00Z' }, co), []);
    assert.deepEqual(endByProblems({ endBy: '2026-12-01T02:00:00Z' }, co), []);
    const late = endByProblems({ endBy: '2026-12-01T03:00:00Z', cutoverRef: { name: 'nokta' } }, co);
    assert.equal(late.length, 1);
    assert.equal(late[0]!.path, 'spec.endBy');
    assert.match(
      late[0]!.message,
      /after the freeze of Cutover nokta \(2026-12-01T02:00:00Z\).*set endBy to 2026-12-01T02:00:00Z or earlier/,
    );
    // Frozen earlier than planned: the actual freeze counts.
    const frozen = { ...co, status: { frozenAt: '2026-11-30T22:00:00Z' } };
    assert.equal(endByProblems({ endBy: '2026-12-01T01:00:00Z' }, frozen).length, 1);
    // No Freeze step, no Cutover: nothing to check against.
    const noFreeze = {
      ...co,
      spec: {
        ...co.spec,
        timeline: { ...co.spec.timeline, steps: co.spec.timeline.steps.filter((s) => s.action !== 'Freeze') },
      },
    };
    assert.deepEqual(endByProblems({ endBy: '2030-01-01T00:00:00Z' }, noFreeze), []);
    assert.deepEqual(endByProblems({ endBy: '2030-01-01T00:00:00Z' }, undefined), []);
  });
});
