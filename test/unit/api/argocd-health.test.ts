/** Runs deploy/argocd/health/<kind>.lua with lua5.1 (Argo CD's Lua) against fixture objects. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** A JS value as a Lua table literal (null/undefined become nil). */
export function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string')
    return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\0/g, '\\0')}"`;
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== null && x !== undefined)
    .map(([k, x]) => `[${toLua(k)}] = ${toLua(x)}`)
    .join(', ')}}`;
}

function health(kind: string, obj: unknown): { status: string; message: string } {
  const script = `deploy/argocd/health/${kind}.lua`;
  const program = `obj = ${toLua(obj)}\nlocal hs = assert(loadfile(${toLua(script)}))()\nio.write(hs.status, "\\n", hs.message or "")`;
  const out = execFileSync('lua5.1', ['-e', program], { encoding: 'utf8' });
  const [status = '', ...rest] = out.split('\n');
  return { status, message: rest.join('\n') };
}

const cond = (type: string, status: string, message = '', reason = 'R') => ({
  type,
  status,
  reason,
  message,
});
const meta = (generation = 1) => ({ name: 'x', namespace: 'nokta', generation });

describe('deploy/argocd/health/*.lua (lua5.1)', function () {
  before(function () {
    try {
      execFileSync('lua5.1', ['-v'], { stdio: 'ignore' });
    } catch {
      throw new Error('lua5.1 is not installed: apt-get install -y lua5.1 (the setup script installs it)');
    }
    for (const k of ['reconciliation', 'canaryphase', 'cutover'])
      assert.ok(existsSync(`deploy/argocd/health/${k}.lua`), k);
  });

  it('toLua escapes strings and nests tables', () => {
    const out = execFileSync(
      'lua5.1',
      [
        '-e',
        `local t = ${toLua({ a: 'q"\\\n', b: [1, true, { c: null }] })}\nio.write(t.a, "|", t.b[1], "|", tostring(t.b[2]), "|", tostring(t.b[3].c))`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(out, 'q"\\\n|1|true|nil');
  });

  const cases: [string, string, unknown, string, RegExp][] = [
    // every kind: no status yet, old generation, Stalled
    ['reconciliation', 'no status', { metadata: meta() }, 'Progressing', /Waiting for the operator/],
    ['canaryphase', 'no status', { metadata: meta() }, 'Progressing', /Waiting for the operator/],
    ['cutover', 'no status', { metadata: meta() }, 'Progressing', /Waiting for the operator/],
    [
      'reconciliation',
      'spec change not observed',
      {
        metadata: meta(3),
        status: { observedGeneration: 2, phase: 'Passed', conditions: [cond('Ready', 'True')] },
      },
      'Progressing',
      /observe generation 3/,
    ],
    [
      'canaryphase',
      'spec change not observed',
      { metadata: meta(2), status: { observedGeneration: 1, phase: 'Succeeded' } },
      'Progressing',
      /generation 2/,
    ],
    [
      'cutover',
      'spec change not observed',
      { metadata: meta(5), status: { phase: 'SteadyState' } },
      'Progressing',
      /generation 5/,
    ],
    [
      'reconciliation',
      'Stalled',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'Pending',
          conditions: [cond('Stalled', 'True', 'Secret nokta-legacy-db not found', 'SecretMissing')],
        },
      },
      'Degraded',
      /Secret nokta-legacy-db not found/,
    ],
    [
      'canaryphase',
      'Stalled',
      {
        metadata: meta(),
        status: { observedGeneration: 1, conditions: [cond('Stalled', 'True', '', 'InvalidSpec')] },
      },
      'Degraded',
      /InvalidSpec/,
    ],
    [
      'cutover',
      'Stalled',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'Shadow',
          conditions: [cond('Stalled', 'True', 'CanaryPhase nokta-canary not found')],
        },
      },
      'Degraded',
      /nokta-canary not found/,
    ],
    // Reconciliation
    [
      'reconciliation',
      'passed',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'Passed',
          summary: { maxVariancePercent: '0.02', worstTenant: 't9' },
          conditions: [cond('Ready', 'True')],
        },
      },
      'Healthy',
      /Passed \(max variance 0.02 %, tenant t9\)/,
    ],
    [
      'reconciliation',
      'running',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'Running',
          conditions: [cond('Reconciling', 'True', 'Run 3 of schedule +24h')],
        },
      },
      'Progressing',
      /Run 3/,
    ],
    [
      'reconciliation',
      'remediation needed',
      {
        metadata: meta(),
        status: { observedGeneration: 1, phase: 'RemediationNeeded', summary: { maxVariancePercent: '0.7' } },
      },
      'Degraded',
      /Remediation needed.*0.7/,
    ],
    [
      'reconciliation',
      'failed',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'Failed',
          summary: { maxVariancePercent: '3.1', worstTenant: 'istanbul' },
        },
      },
      'Degraded',
      /failed.*3.1.*istanbul/,
    ],
    [
      'reconciliation',
      'database down',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'Error',
          lastRun: { error: 'connect ECONNREFUSED legacy-mysql:3306' },
        },
      },
      'Degraded',
      /ECONNREFUSED/,
    ],
    // CanaryPhase
    [
      'canaryphase',
      'progressing',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'Progressing',
          currentStep: 1,
          currentWeight: 5,
          consecutiveFailures: 1,
        },
      },
      'Progressing',
      /weight 5 % \(step 1\), 1 consecutive failed/,
    ],
    [
      'canaryphase',
      'paused by spec',
      {
        metadata: meta(),
        spec: { paused: true },
        status: { observedGeneration: 1, phase: 'Progressing', currentWeight: 10 },
      },
      'Suspended',
      /Paused at weight 10/,
    ],
    [
      'canaryphase',
      'waiting for a gate',
      {
        metadata: meta(),
        status: { observedGeneration: 1, phase: 'Progressing', waitingForGate: 'before-ten-percent' },
      },
      'Suspended',
      /before-ten-percent/,
    ],
    [
      'canaryphase',
      'rolled back',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'RolledBack',
          message: '2 consecutive failures of pos-invoice-p95',
        },
      },
      'Degraded',
      /RolledBack: 2 consecutive failures/,
    ],
    [
      'canaryphase',
      'succeeded',
      { metadata: meta(), status: { observedGeneration: 1, phase: 'Succeeded' } },
      'Healthy',
      /Succeeded/,
    ],
    // Cutover
    [
      'cutover',
      'cutting over',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'CuttingOver',
          currentStep: 'final-delta-sync',
          nextStep: 'reconciliation-sign-off',
          nextStepAt: '2026-12-01T02:15:00Z',
        },
      },
      'Progressing',
      /CuttingOver: final-delta-sync; next reconciliation-sign-off at 2026-12-01T02:15:00Z/,
    ],
    [
      'cutover',
      'awaiting approval',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'CuttingOver',
          steps: [
            { name: 'final-delta-sync', state: 'Succeeded' },
            { name: 'switch-traffic', state: 'AwaitingApproval' },
          ],
        },
      },
      'Suspended',
      /approval of step switch-traffic/,
    ],
    [
      'cutover',
      'rolling back',
      {
        metadata: meta(),
        status: { observedGeneration: 1, phase: 'RollingBack', rollback: { trigger: 'SloBreach' } },
      },
      'Degraded',
      /Rolling back \(SloBreach\)/,
    ],
    [
      'cutover',
      'rolled back',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'RolledBack',
          rollback: { trigger: 'SecurityFlag', reason: 'set by alice' },
        },
      },
      'Degraded',
      /RolledBack: SecurityFlag \(set by alice\)/,
    ],
    [
      'cutover',
      'paused',
      {
        metadata: meta(),
        spec: { paused: true },
        status: { observedGeneration: 1, phase: 'Canary', currentStep: 'canary' },
      },
      'Suspended',
      /Paused at canary/,
    ],
    [
      'cutover',
      'monitoring and ready',
      {
        metadata: meta(),
        status: {
          observedGeneration: 1,
          phase: 'Monitoring',
          conditions: [cond('Ready', 'True', 'switched; SLOs met')],
        },
      },
      'Healthy',
      /Monitoring: switched; SLOs met/,
    ],
    [
      'cutover',
      'steady state',
      { metadata: meta(), status: { observedGeneration: 1, phase: 'SteadyState' } },
      'Healthy',
      /Steady state/,
    ],
  ];
  for (const [kind, what, obj, status, message] of cases) {
    it(`${kind}: ${what} -> ${status}`, () => {
      const hs = health(kind, obj);
      assert.equal(hs.status, status, hs.message);
      assert.match(hs.message, message);
    });
  }
});

describe('deploy/argocd/argocd-cm-health.yaml', function () {
  it('installs every health check and is up to date with the Lua files (npm run generate)', async function () {
    const { renderArgocdCm, ARGOCD_CM_FILE } = await import('../../../src/api/render-argocd.js');
    const { readFileSync: read } = await import('node:fs');
    const { parse } = await import('yaml');
    const text = read(`deploy/argocd/${ARGOCD_CM_FILE}`, 'utf8');
    assert.equal(
      text,
      renderArgocdCm(),
      `deploy/argocd/${ARGOCD_CM_FILE} is out of date: run npm run generate`,
    );
    const cm = parse(text) as { data: Record<string, string> };
    assert.deepEqual(
      Object.keys(cm.data).sort(),
      ['actions', 'health']
        .flatMap((what) =>
          ['CanaryPhase', 'Cutover', 'Reconciliation'].map(
            (k) => `resource.customizations.${what}.cutover.nokta.io_${k}`,
          ),
        )
        .sort(),
    );
    assert.equal(
      cm.data['resource.customizations.health.cutover.nokta.io_Cutover'],
      read('deploy/argocd/health/cutover.lua', 'utf8'),
    );
  });
});
