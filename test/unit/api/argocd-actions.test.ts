/**
 * The Argo CD side, run through lua5.1 (the Lua of Argo CD) the way Argo CD's own
 * health_test.yaml / action_test.yaml cases are: every phase of every kind through its health
 * check (a phase that waits for a time, a gate or a person is Suspended, not Progressing for days),
 * and every resource action: discovery (offered, disabled) and the object it returns (the
 * annotation or spec field the controllers read, nothing else changed).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import { CANARY_PHASES } from '../../../src/api/schema/canary-phase.js';
import { CUTOVER_PHASES } from '../../../src/api/schema/cutover.js';
import { RECONCILIATION_PHASES } from '../../../src/api/schema/reconciliation.js';
import { actionNames, renderArgocdCm } from '../../../src/api/render-argocd.js';
import { parseAction } from '../../../src/controllers/canary-phase/decide.js';
import { toLua } from './argocd-health.test.js';

/** A Lua value as JSON (tables with 1..n keys are arrays), for reading back what a script returns. */
const LUA_JSON = `
local function enc(v)
  local t = type(v)
  if t == "nil" then return "null" end
  if t == "boolean" or t == "number" then return tostring(v) end
  if t == "string" then
    return '"' .. v:gsub('[%c"\\\\]', function(c) return string.format("\\\\u%04x", c:byte()) end) .. '"'
  end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  local out = {}
  if n > 0 and #v == n then
    for i = 1, n do out[i] = enc(v[i]) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for i, k in ipairs(keys) do out[i] = enc(k) .. ":" .. enc(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end
`;

function runLua(script: string, obj: unknown): unknown {
  const program = `${LUA_JSON}\nobj = ${toLua(obj)}\nlocal r = assert(loadfile(${toLua(script)}))()\nio.write(enc(r))`;
  return JSON.parse(execFileSync('lua5.1', ['-e', program], { encoding: 'utf8' })) as unknown;
}

const health = (kind: string, obj: unknown) =>
  runLua(`deploy/argocd/health/${kind}.lua`, obj) as { status: string; message: string };
const discovery = (kind: string, obj: unknown) =>
  runLua(`deploy/argocd/actions/${kind}/discovery.lua`, obj) as Record<string, { disabled: boolean }>;
const action = <T>(kind: string, name: string, obj: T): T =>
  runLua(`deploy/argocd/actions/${kind}/${name}.lua`, obj) as T;

const meta = { name: 'x', namespace: 'nokta', generation: 1 };
const TOKEN = /^\d{8}t\d{6}z$/;

interface Obj {
  metadata: { name: string; namespace: string; generation: number; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

describe('Argo CD health: every phase of every kind (lua5.1)', function () {
  const cutoverSpec = { timeline: { steps: [{ name: 'switch', action: 'TrafficSwitch' }] } };
  const expectCutover: Record<string, [string, RegExp]> = {
    Pending: ['Progressing', /Pending/],
    Preparation: ['Progressing', /Preparation/],
    Shadow: ['Progressing', /Shadow/],
    Canary: ['Progressing', /Canary/],
    AwaitingCutover: ['Suspended', /Waiting for the cutover night/],
    CuttingOver: ['Progressing', /CuttingOver/],
    Monitoring: ['Progressing', /Monitoring/],
    LegacyHot: ['Suspended', /legacy kept hot until 2026-12-03T02:30:00Z/],
    PostCutover: ['Suspended', /waiting for steady state/],
    SteadyState: ['Healthy', /Steady state/],
    Paused: ['Suspended', /Paused/],
    RollingBack: ['Degraded', /Rolling back/],
    RolledBack: ['Degraded', /RolledBack/],
    Failed: ['Degraded', /Failed/],
    Aborted: ['Degraded', /Aborted/],
  };
  it('the table covers every Cutover phase', () =>
    assert.deepEqual(Object.keys(expectCutover).sort(), [...CUTOVER_PHASES].sort()));
  for (const phase of CUTOVER_PHASES) {
    it(`Cutover ${phase} -> ${expectCutover[phase]![0]}`, () => {
      const hs = health('cutover', {
        metadata: meta,
        spec: cutoverSpec,
        status: { observedGeneration: 1, phase, legacyHotUntil: '2026-12-03T02:30:00Z' },
      });
      assert.equal(hs.status, expectCutover[phase]![0], hs.message);
      assert.match(hs.message, expectCutover[phase]![1]);
    });
  }
  it('Cutover waiting for the planned time of its next step -> Suspended', () => {
    const hs = health('cutover', {
      metadata: meta,
      spec: cutoverSpec,
      status: {
        observedGeneration: 1,
        phase: 'CuttingOver',
        nextStep: 'switch',
        nextStepAt: '2026-12-01T02:30:00Z',
        steps: [{ name: 'switch', state: 'Waiting' }],
      },
    });
    assert.deepEqual(hs, {
      status: 'Suspended',
      message: 'Waiting until 2026-12-01T02:30:00Z for step switch',
    });
  });
  it('Cutover with a step running and the next one planned -> Progressing', () => {
    const hs = health('cutover', {
      metadata: meta,
      spec: cutoverSpec,
      status: {
        observedGeneration: 1,
        phase: 'CuttingOver',
        currentStep: 'sync',
        nextStep: 'switch',
        nextStepAt: '2026-12-01T02:30:00Z',
        steps: [
          { name: 'sync', state: 'Running' },
          { name: 'switch', state: 'Waiting' },
        ],
      },
    });
    assert.equal(hs.status, 'Progressing');
  });
  it('Cutover in PostCutover waiting for sign-off (AwaitingApproval condition) -> Suspended', () => {
    const hs = health('cutover', {
      metadata: meta,
      spec: cutoverSpec,
      status: {
        observedGeneration: 1,
        phase: 'PostCutover',
        conditions: [
          {
            type: 'AwaitingApproval',
            status: 'True',
            message: 'stable: waiting for cutover.nokta.io/approve=steady-state',
          },
        ],
      },
    });
    assert.deepEqual(hs, {
      status: 'Suspended',
      message: 'stable: waiting for cutover.nokta.io/approve=steady-state',
    });
  });

  const expectCanary: Record<string, string> = {
    Pending: 'Suspended',
    Progressing: 'Progressing',
    Paused: 'Suspended',
    Promoted: 'Healthy',
    Succeeded: 'Healthy',
    RolledBack: 'Degraded',
    Aborted: 'Degraded',
    Failed: 'Degraded',
  };
  it('the table covers every CanaryPhase phase', () =>
    assert.deepEqual(Object.keys(expectCanary).sort(), [...CANARY_PHASES].sort()));
  for (const phase of CANARY_PHASES) {
    it(`CanaryPhase ${phase} -> ${expectCanary[phase]}`, () => {
      const hs = health('canaryphase', {
        metadata: meta,
        spec: { startAt: '2026-11-29T00:00:00Z', steps: [{ weight: 5 }] },
        status: { observedGeneration: 1, phase, currentWeight: 5, currentStep: 0 },
      });
      assert.equal(hs.status, expectCanary[phase], hs.message);
    });
  }
  it('CanaryPhase Pending until its startAt -> Suspended with the time', () => {
    const hs = health('canaryphase', {
      metadata: meta,
      spec: { startAt: '2026-11-29T00:00:00Z', steps: [{ weight: 5 }] },
      status: { observedGeneration: 1, phase: 'Pending' },
    });
    assert.deepEqual(hs, { status: 'Suspended', message: 'Starts at 2026-11-29T00:00:00Z' });
  });

  const expectRecon: Record<string, string> = {
    Pending: 'Suspended',
    Running: 'Progressing',
    Passed: 'Healthy',
    RemediationNeeded: 'Degraded',
    Failed: 'Degraded',
    Error: 'Degraded',
  };
  it('the table covers every Reconciliation phase', () =>
    assert.deepEqual(Object.keys(expectRecon).sort(), [...RECONCILIATION_PHASES].sort()));
  for (const phase of RECONCILIATION_PHASES) {
    it(`Reconciliation ${phase} -> ${expectRecon[phase]}`, () => {
      const hs = health('reconciliation', {
        metadata: meta,
        spec: {},
        status: {
          observedGeneration: 1,
          phase,
          nextRunAt: '2026-12-01T04:00:00Z',
          ...(phase === 'Pending' ? {} : { lastRun: { id: 'r1' } }),
          ...(phase === 'Running'
            ? { conditions: [{ type: 'Reconciling', status: 'True', message: 'run r1' }] }
            : {}),
          ...(phase === 'Passed' ? { conditions: [{ type: 'Ready', status: 'True' }] } : {}),
        },
      });
      assert.equal(hs.status, expectRecon[phase], hs.message);
    });
  }
});

describe('Argo CD resource actions (lua5.1, like action_test.yaml)', function () {
  it('the kinds offer approve, pause, resume (Cutover); approve, pause, resume, promote, abort (CanaryPhase); rerun (Reconciliation)', () => {
    assert.deepEqual(actionNames('deploy/argocd/actions', 'Cutover'), ['approve', 'pause', 'resume']);
    assert.deepEqual(actionNames('deploy/argocd/actions', 'CanaryPhase'), [
      'approve',
      'pause',
      'resume',
      'promote',
      'abort',
    ]);
    assert.deepEqual(actionNames('deploy/argocd/actions', 'Reconciliation'), ['rerun']);
  });

  it('argocd-cm installs every action with its discovery', () => {
    const cm = parse(renderArgocdCm()) as { data: Record<string, string> };
    for (const [kind, names] of [
      ['Cutover', ['approve', 'pause', 'resume']],
      ['CanaryPhase', ['approve', 'pause', 'resume', 'promote', 'abort']],
      ['Reconciliation', ['rerun']],
    ] as const) {
      const a = parse(cm.data[`resource.customizations.actions.cutover.nokta.io_${kind}`]!) as {
        'discovery.lua': string;
        definitions: { name: string; 'action.lua': string }[];
      };
      assert.match(a['discovery.lua'], /return actions/);
      assert.deepEqual(
        a.definitions.map((d) => d.name),
        names,
      );
      for (const d of a.definitions) assert.match(d['action.lua'], /return obj/);
    }
  });

  const cutover = (
    status: Record<string, unknown>,
    spec: Record<string, unknown> = {},
    annotations?: Record<string, string>,
  ): Obj => ({
    metadata: { ...meta, ...(annotations ? { annotations } : {}) },
    spec: {
      timeline: {
        steps: [
          { name: 'sign-off', action: 'ReconciliationSignOff' },
          { name: 'switch', action: 'TrafficSwitch' },
        ],
      },
      ...spec,
    },
    status,
  });

  it('Cutover discovery: approve only with a step awaiting approval; pause xor resume; nothing but resume once ended', () => {
    assert.deepEqual(
      discovery(
        'cutover',
        cutover({ phase: 'CuttingOver', steps: [{ name: 'switch', state: 'AwaitingApproval' }] }),
      ),
      {
        approve: { disabled: false },
        pause: { disabled: false },
        resume: { disabled: true },
      },
    );
    assert.deepEqual(discovery('cutover', cutover({ phase: 'Paused' }, { paused: true })), {
      approve: { disabled: true },
      pause: { disabled: true },
      resume: { disabled: false },
    });
    for (const phase of ['SteadyState', 'RolledBack', 'RollingBack', 'Failed', 'Aborted'])
      assert.deepEqual(
        discovery('cutover', cutover({ phase, steps: [{ name: 'switch', state: 'AwaitingApproval' }] })),
        {
          approve: { disabled: true },
          pause: { disabled: true },
          resume: { disabled: true },
        },
      );
  });

  it('Cutover approve adds the waiting step to cutover.nokta.io/approve, keeps earlier ones, names argocd', () => {
    const before = cutover(
      {
        phase: 'CuttingOver',
        steps: [
          { name: 'sign-off', state: 'Succeeded' },
          { name: 'switch', state: 'AwaitingApproval' },
        ],
      },
      {},
      {
        'cutover.nokta.io/approve': 'sign-off',
        other: 'kept',
      },
    );
    const after = action('cutover', 'approve', before);
    assert.deepEqual(after, {
      ...before,
      metadata: {
        ...before.metadata,
        annotations: {
          'cutover.nokta.io/approve': 'sign-off,switch',
          'cutover.nokta.io/approved-by': 'argocd',
          other: 'kept',
        },
      },
    });
    const fresh = action(
      'cutover',
      'approve',
      cutover({ steps: [{ name: 'switch', state: 'AwaitingApproval' }] }),
    );
    assert.equal(fresh.metadata.annotations?.['cutover.nokta.io/approve'], 'switch');
  });

  it('Cutover pause and resume set spec.paused', () => {
    const before = cutover({ phase: 'CuttingOver' });
    const paused = action('cutover', 'pause', before);
    assert.deepEqual(paused, { ...before, spec: { ...before.spec, paused: true } });
    const resumed = action('cutover', 'resume', paused);
    assert.deepEqual(resumed, { ...before, spec: { ...before.spec, paused: false } });
  });

  const canary = (status: Record<string, unknown>): Obj => ({
    metadata: { ...meta },
    spec: { steps: [{ weight: 5 }], gates: [{ name: 'qa', beforeStep: 1 }] },
    status,
  });

  it('CanaryPhase discovery: approve only at a gate, pause xor resume, nothing once ended', () => {
    assert.deepEqual(discovery('canaryphase', canary({ phase: 'Progressing' })), {
      approve: { disabled: true },
      pause: { disabled: false },
      resume: { disabled: true },
      promote: { disabled: false },
      abort: { disabled: false },
    });
    assert.deepEqual(discovery('canaryphase', canary({ phase: 'Paused', waitingForGate: 'qa' })), {
      approve: { disabled: false },
      pause: { disabled: true },
      resume: { disabled: false },
      promote: { disabled: false },
      abort: { disabled: false },
    });
    for (const phase of ['Promoted', 'Succeeded', 'RolledBack', 'Aborted', 'Failed'])
      for (const [, v] of Object.entries(discovery('canaryphase', canary({ phase }))))
        assert.equal(v.disabled, true, phase);
  });

  it('CanaryPhase approve writes <gate>:<token> for the gate it waits for; without a gate nothing changes', () => {
    const before = canary({ phase: 'Paused', waitingForGate: 'qa' });
    const after = action('canaryphase', 'approve', before);
    const v = after.metadata.annotations?.['cutover.nokta.io/approve'] ?? '';
    assert.match(v, /^qa:\d{8}t\d{6}z$/);
    assert.deepEqual(after, {
      ...before,
      metadata: {
        ...before.metadata,
        annotations: { 'cutover.nokta.io/approve': v, 'cutover.nokta.io/approved-by': 'argocd' },
      },
    });
    const none = canary({ phase: 'Progressing' });
    assert.deepEqual(action('canaryphase', 'approve', none), none);
  });

  for (const verb of ['pause', 'resume', 'promote', 'abort'] as const) {
    it(`CanaryPhase ${verb} writes cutover.nokta.io/action=${verb}:<token>, which the controller parses as ${verb}`, () => {
      const before = canary({ phase: 'Progressing' });
      const after = action('canaryphase', verb, before);
      const v = after.metadata.annotations?.['cutover.nokta.io/action'] ?? '';
      assert.equal(v.split(':')[0], verb);
      assert.match(v.split(':')[1]!, TOKEN);
      assert.equal(parseAction(v), verb);
      assert.deepEqual(after, {
        ...before,
        metadata: { ...before.metadata, annotations: { 'cutover.nokta.io/action': v } },
      });
    });
  }

  it('Reconciliation discovery: rerun disabled while a run is in progress', () => {
    const r = (phase: string): Obj => ({ metadata: { ...meta }, spec: {}, status: { phase } });
    assert.deepEqual(discovery('reconciliation', r('Running')), { rerun: { disabled: true } });
    for (const phase of ['Pending', 'Passed', 'RemediationNeeded', 'Failed', 'Error'])
      assert.deepEqual(discovery('reconciliation', r(phase)), { rerun: { disabled: false } }, phase);
  });

  it('Reconciliation rerun writes a new cutover.nokta.io/rerun token and keeps other annotations', () => {
    const before: Obj = {
      metadata: { ...meta, annotations: { 'cutover.nokta.io/rerun': 'old', a: 'b' } },
      spec: {},
      status: { phase: 'Failed' },
    };
    const after = action('reconciliation', 'rerun', before);
    const v = after.metadata.annotations?.['cutover.nokta.io/rerun'] ?? '';
    assert.match(v, TOKEN);
    assert.deepEqual(after, {
      ...before,
      metadata: { ...before.metadata, annotations: { 'cutover.nokta.io/rerun': v, a: 'b' } },
    });
  });
});
