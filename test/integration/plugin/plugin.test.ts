/**
 * `kubectl cutover` against the local control plane, run the way users run it: kubectl finds
 * `kubectl-cutover` on the PATH, a symlink to dist/src/plugin/main.js in another directory (as
 * npm and krew install it). Every command, its -o json|yaml output and its exit code; the
 * annotations it writes are the ones the controllers act on (the CanaryPhase's pure decision
 * reads them back from the API server; the Cutover's names are the controller's constants).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import type { CanaryPhase, Cutover } from '../../../src/api/index.js';
import { ANNOTATIONS } from '../../../src/api/crds.js';
import { APPROVED_BY_ANNOTATION } from '../../../src/controllers/cutover/sync.js';
import { ACTION_ANNOTATION as CUTOVER_ACTION } from '../../../src/controllers/cutover/rollback.js';
import { decide as decideCanary } from '../../../src/controllers/canary-phase/decide.js';
import { repoRoot } from '../../../src/devenv/devenv-state.js';
import { APPROVED_BY } from '../../../src/plugin/actions.js';
import { kubectlBinary, useCluster, type TestCluster } from '../../support/cluster.js';

/** A time inside the sample canary's window (its endBy is past: later, every decision ends it). */
const atStart = (cp: CanaryPhase): Date => new Date(Date.parse(cp.spec.startAt!) + 60_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sample<T>(file: string): T {
  const docs = parseAllDocuments(readFileSync(join(repoRoot(), 'samples', file), 'utf8')).map(
    (d) => d.toJSON() as T,
  );
  return docs[0]!;
}

describe('kubectl cutover (the plugin, through a symlink on the PATH)', function () {
  this.timeout(5 * 60_000);
  let cluster: TestCluster;
  let ns: string;
  let bin: string;
  let env: NodeJS.ProcessEnv;

  /** `kubectl cutover ARGS` (kubectl finds the plugin on the PATH). */
  const kc = (args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(kubectlBinary(), ['cutover', ...args], { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
  const inNs = (args: string[]): Promise<Run> => kc([...args, '-n', ns]);
  const get = async <T>(kind: string, name: string): Promise<T> => {
    const r = await cluster.kubectl(['get', kind, name, '-n', ns, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as T;
  };
  const patchStatus = async (kind: string, name: string, status: unknown): Promise<void> => {
    const r = await cluster.kubectl([
      'patch',
      kind,
      name,
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]);
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    ns = await cluster.createNamespace('plugin');
    const main = join(repoRoot(), 'dist', 'src', 'plugin', 'main.js');
    chmodSync(main, 0o755); // npm and krew install bins executable; tsc does not
    bin = mkdtempSync(join(tmpdir(), 'kubectl-cutover-bin-'));
    symlinkSync(main, join(bin, 'kubectl-cutover'));
    env = {
      ...process.env,
      PATH: `${bin}:${dirname(kubectlBinary())}:${process.env.PATH ?? ''}`,
      KUBECONFIG: cluster.kubeconfigPath,
      KUBECTL_CUTOVER_USER: 'pipeline',
    };
    const objects = [
      sample<Cutover>('cutover-nokta.yaml'),
      sample<CanaryPhase>('canary-pos-callcenter-drivers.yaml'),
      ...['pos-orders', 'customers', 'drivers', 'call-logs', 'invoices', 'post-cutover'].map((r) =>
        sample<{ metadata: { namespace?: string } }>(`reconciliation-${r}.yaml`),
      ),
    ];
    for (const o of objects) {
      o.metadata.namespace = ns;
      const r = await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(o) });
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    if (bin) rmSync(bin, { recursive: true, force: true });
    if (ns) await cluster.deleteNamespace(ns);
  });

  it('names the annotations the controllers read', () => {
    assert.equal(APPROVED_BY, APPROVED_BY_ANNOTATION);
    assert.equal(ANNOTATIONS.action, CUTOVER_ACTION);
  });

  it('usage: help exits 0, no command or an unknown flag exits 2, completion scripts parse', async () => {
    const help = await kc(['help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /status NAME \[--watch\]/);
    assert.equal((await kc([])).code, 2);
    const bad = await kc(['status', '--bogus']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown flag --bogus/);
    assert.equal((await kc(['explode'])).code, 2);
    const bash = await kc(['completion', 'bash']);
    assert.equal(bash.code, 0);
    const syntax = await new Promise<number>((resolve) => {
      const c = spawn('bash', ['-n'], { stdio: ['pipe', 'ignore', 'ignore'] });
      c.on('exit', (code) => resolve(code ?? 1));
      c.stdin.end(bash.stdout);
    });
    assert.equal(syntax, 0, 'bash -n accepts the bash completion');
    assert.match(bash.stdout, /complete -F _kubectl_cutover kubectl-cutover/);
    const zsh = await kc(['completion', 'zsh']);
    assert.equal(zsh.code, 0);
    assert.match(zsh.stdout, /^#compdef kubectl-cutover/);
    assert.equal((await kc(['completion', 'fish'])).code, 2);
  });

  it('status: the tree with steps, CanaryPhase, Reconciliations and Jobs; Suspended at a gate; json and yaml', async () => {
    const job = await cluster.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'nokta-final-delta-sync-1', labels: { 'cutover.nokta.io/cutover': 'nokta' } },
        spec: {
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [{ name: 'x', image: 'busybox', command: ['true'] }],
            },
          },
        },
      }),
    });
    assert.equal(job.code, 0, job.stderr);
    await patchStatus('cutover', 'nokta', {
      phase: 'CuttingOver',
      currentStep: 'reconciliation-sign-off',
      steps: [
        {
          name: 'freeze-legacy-writes',
          state: 'Succeeded',
          startedAt: '2026-12-01T02:00:00Z',
          finishedAt: '2026-12-01T02:00:04Z',
        },
        {
          name: 'final-delta-sync',
          state: 'Succeeded',
          jobName: 'nokta-final-delta-sync-1',
          startedAt: '2026-12-01T02:10:00Z',
          finishedAt: '2026-12-01T02:12:00Z',
        },
        { name: 'reconciliation-sign-off', state: 'AwaitingApproval', awaitingSince: '2026-12-01T02:15:00Z' },
      ],
    });
    await patchStatus('canaryphase', 'nokta-canary', {
      phase: 'Succeeded',
      currentStep: 3,
      currentWeight: 100,
    });
    await patchStatus('reconciliation', 'pos-orders', {
      phase: 'Passed',
      lastRun: {
        id: 'r1',
        verdict: 'Passed',
        startedAt: '2026-12-01T02:15:10Z',
        finishedAt: '2026-12-01T02:15:40Z',
      },
    });

    const r = await inNs(['status', 'nokta']);
    assert.equal(r.code, 0, r.stderr);
    for (const want of [
      /^Cutover nokta {2}CuttingOver/m,
      /CanaryPhase nokta-canary {2}Succeeded {2}\(weight 100 %/,
      /Step freeze-legacy-writes {2}Succeeded .*\[02:00:00 → 02:00:04\]/,
      /Step reconciliation-sign-off {2}AwaitingApproval/,
      /Step switch-traffic {2}Pending/,
      /Reconciliation pos-orders {2}Passed {2}\(run r1, verdict Passed/,
      /Reconciliation customers {2}Pending/,
      /Job nokta-final-delta-sync-1/,
      /^Health: Suspended$/m,
      /^Next action: approve: kubectl cutover approve reconciliation-sign-off nokta$/m,
    ])
      assert.match(r.stdout, want);

    const j = await inNs(['status', 'cutover/nokta', '-o', 'json']);
    assert.equal(j.code, 0, j.stderr);
    const v = JSON.parse(j.stdout) as {
      health: string;
      tree: { kind: string; children: { kind: string; name: string }[] };
    };
    assert.equal(v.health, 'Suspended');
    assert.equal(v.tree.kind, 'Cutover');
    assert.ok(v.tree.children.some((c) => c.kind === 'CanaryPhase' && c.name === 'nokta-canary'));
    const y = await inNs(['status', 'nokta', '-o', 'yaml']);
    assert.equal(
      (parse(y.stdout) as { nextAction: string }).nextAction,
      'approve: kubectl cutover approve reconciliation-sign-off nokta',
    );

    const cp = await inNs(['status', 'canaryphase/nokta-canary']);
    assert.equal(cp.code, 0, cp.stderr);
    assert.match(cp.stdout, /^CanaryPhase nokta-canary {2}Succeeded/);
    const missing = await inNs(['status', 'nope']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no Cutover or CanaryPhase or Reconciliation named nope/);
  });

  it('status --watch prints each change and exits 5 when the Cutover ends rolled back', async () => {
    await patchStatus('cutover', 'nokta', {
      phase: 'RollingBack',
      rollback: {
        trigger: 'Manual',
        reason: 'test',
        triggeredAt: '2026-12-01T03:00:00Z',
        actions: [{ name: 'TrafficBack', state: 'Running' }],
      },
    });
    const child = spawn(
      kubectlBinary(),
      ['cutover', 'status', 'nokta', '-n', ns, '--watch', '--interval', '0.3'],
      { env },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
    const until = Date.now() + 30_000;
    while (!out.includes('Rolling') && !out.includes('RollingBack') && Date.now() < until)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /^Cutover nokta {2}RollingBack/m);
    await patchStatus('cutover', 'nokta', {
      phase: 'RolledBack',
      rollback: {
        completedAt: '2026-12-01T03:05:00Z',
        actions: [{ name: 'TrafficBack', state: 'Succeeded' }],
      },
    });
    assert.equal(await exited, 5);
    assert.equal(out.match(/^--- /gm)?.length, 2, out);
    assert.match(out, /^Cutover nokta {2}RolledBack/m);
    assert.match(out, /Next action: none: rolled back \(Manual\)/);
    await patchStatus('cutover', 'nokta', { phase: 'CuttingOver', rollback: null });
  });

  it('approve: Cutover steps accumulate with who approved; a CanaryPhase gate; an unknown step exits 4', async () => {
    const a = await inNs(['approve', 'reconciliation-sign-off', 'nokta', '--by', 'data-engineering-lead']);
    assert.equal(a.code, 0, a.stderr);
    const b = await inNs(['approve', 'switch-traffic', '-o', 'json']); // the namespace's only Cutover
    assert.equal(b.code, 0, b.stderr);
    assert.equal((JSON.parse(b.stdout) as { name: string }).name, 'nokta');
    let co = await get<Cutover>('cutover', 'nokta');
    assert.equal(co.metadata.annotations?.[ANNOTATIONS.approve], 'reconciliation-sign-off,switch-traffic');
    assert.equal(co.metadata.annotations?.[APPROVED_BY_ANNOTATION], 'pipeline');
    const retry = await inNs(['approve', 'retry:final-delta-sync:1', 'nokta']);
    assert.equal(retry.code, 0, retry.stderr);
    co = await get<Cutover>('cutover', 'nokta');
    assert.match(co.metadata.annotations?.[ANNOTATIONS.approve] ?? '', /,retry:final-delta-sync:1$/);
    const unknown = await inNs(['approve', 'no-such-step', 'nokta']);
    assert.equal(unknown.code, 4);
    assert.match(unknown.stderr, /has no step no-such-step/);
    assert.equal((await inNs(['approve'])).code, 2);

    const gate = await inNs(['approve', 'before-ten-percent', 'canaryphase/nokta-canary']);
    assert.equal(gate.code, 0, gate.stderr);
    const cp = await get<CanaryPhase>('canaryphase', 'nokta-canary');
    assert.match(cp.metadata.annotations?.[ANNOTATIONS.approve] ?? '', /^before-ten-percent:\w+$/);
    const d = decideCanary(
      {
        spec: cp.spec,
        status: {
          phase: 'Paused',
          waitingForGate: 'before-ten-percent',
          startedAt: atStart(cp).toISOString(),
        },
        annotations: cp.metadata.annotations ?? {},
      },
      atStart(cp),
    );
    assert.deepEqual(d.status.approvedGates, ['before-ten-percent']);
    assert.equal((await inNs(['approve', 'no-gate', 'canaryphase/nokta-canary'])).code, 4);
  });

  it('pause and resume: spec.paused on a Cutover, the action annotation on a CanaryPhase (the controller pauses)', async () => {
    await patchStatus('cutover', 'nokta', { phase: 'Paused', pausedAt: 'switch-traffic', steps: [] });
    assert.equal((await inNs(['pause', 'nokta'])).code, 0);
    assert.equal((await get<Cutover>('cutover', 'nokta')).spec.paused, true);
    const st = await inNs(['status', 'nokta']);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^Health: Suspended\nNext action: resume: kubectl cutover resume nokta\n$/m);
    assert.equal((await inNs(['resume', 'nokta'])).code, 0);
    assert.equal((await get<Cutover>('cutover', 'nokta')).spec.paused, false);

    assert.equal((await inNs(['pause', 'canaryphase/nokta-canary'])).code, 0);
    const cp = await get<CanaryPhase>('canaryphase', 'nokta-canary');
    assert.match(cp.metadata.annotations?.[ANNOTATIONS.action] ?? '', /^pause:\w+$/);
    const d = decideCanary(
      {
        spec: cp.spec,
        status: {
          phase: 'Progressing',
          startedAt: atStart(cp).toISOString(),
          appliedStep: 0,
          currentStep: 0,
        },
        annotations: cp.metadata.annotations ?? {},
      },
      atStart(cp),
    );
    assert.equal(d.status.phase, 'Paused');
    assert.equal((await inNs(['resume', 'canaryphase/nokta-canary'])).code, 0);
    assert.match(
      (await get<CanaryPhase>('canaryphase', 'nokta-canary')).metadata.annotations?.[ANNOTATIONS.action] ??
        '',
      /^resume:/,
    );
  });

  it('promote and abort act on a CanaryPhase (the controller aborts); on a Cutover they exit 4', async () => {
    assert.equal((await inNs(['promote', 'nokta-canary'])).code, 0);
    assert.match(
      (await get<CanaryPhase>('canaryphase', 'nokta-canary')).metadata.annotations?.[ANNOTATIONS.action] ??
        '',
      /^promote:/,
    );
    assert.equal((await inNs(['abort', 'canaryphase/nokta-canary'])).code, 0);
    const cp = await get<CanaryPhase>('canaryphase', 'nokta-canary');
    const d = decideCanary(
      {
        spec: cp.spec,
        status: { phase: 'Progressing', startedAt: atStart(cp).toISOString() },
        annotations: cp.metadata.annotations ?? {},
      },
      atStart(cp),
    );
    assert.equal(d.status.phase, 'Aborted');
    const p = await inNs(['promote', 'cutover/nokta']);
    assert.equal(p.code, 4);
    assert.match(p.stderr, /cannot be promoted/);
    assert.equal((await inNs(['abort', 'cutover/nokta'])).code, 4);
    assert.equal((await inNs(['promote'])).code, 2);
  });

  it('rollback needs --reason (2); sets the action the Cutover controller reads; refused once rolled back (4)', async () => {
    assert.equal((await inNs(['rollback', 'nokta'])).code, 2);
    const r = await inNs(['rollback', 'nokta', '--reason', 'payments double-charged', '-o', 'yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((parse(r.stdout) as { kind: string }).kind, 'Cutover');
    const co = await get<Cutover>('cutover', 'nokta');
    assert.equal(co.metadata.annotations?.[CUTOVER_ACTION], 'rollback:payments double-charged');
    await patchStatus('cutover', 'nokta', { phase: 'RolledBack' });
    assert.equal((await inNs(['rollback', 'nokta', '--reason', 'again'])).code, 4);
    assert.equal((await inNs(['rollback', 'canaryphase/nokta-canary', '--reason', 'x'])).code, 4);
  });

  it('rerun sets a new rerun token on a Reconciliation; a missing one exits 3', async () => {
    const r = await inNs(['rerun', 'pos-orders']);
    assert.equal(r.code, 0, r.stderr);
    const first = (await get<Cutover>('reconciliation', 'pos-orders')).metadata.annotations?.[
      ANNOTATIONS.rerun
    ];
    assert.match(first ?? '', /^\d{8}t\d{9}z$/);
    await new Promise((res) => setTimeout(res, 5));
    assert.equal((await inNs(['rerun', 'reconciliation/pos-orders'])).code, 0);
    const second = (await get<Cutover>('reconciliation', 'pos-orders')).metadata.annotations?.[
      ANNOTATIONS.rerun
    ];
    assert.notEqual(second, first);
    assert.equal((await inNs(['rerun', 'nokta'])).code, 3);
  });

  it('report prints the Markdown report from the report ConfigMap; none yet exits 3', async () => {
    const none = await inNs(['report', 'nokta']);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /nokta-cutover-report does not exist/);
    const cm = await cluster.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'nokta-cutover-report' },
        data: { 'checkpoint.md': '# Checkpoint\n', 'final.md': '# Final report\n\nrolled back\n' },
      }),
    });
    assert.equal(cm.code, 0, cm.stderr);
    const r = await inNs(['report', 'nokta']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '# Final report\n\nrolled back\n');
    const part = await inNs(['report', 'nokta', '--part', 'checkpoint', '-o', 'json']);
    assert.deepEqual(JSON.parse(part.stdout), {
      cutover: 'nokta',
      configMap: 'nokta-cutover-report',
      parts: { checkpoint: '# Checkpoint\n' },
    });
    assert.equal((await inNs(['report', 'nokta', '--part', 'review'])).code, 3);
  });

  it('runbook: every step with time, owner, approval, precondition and failure handling; triggers, actions, contacts', async () => {
    const r = await inNs(['runbook', 'nokta']);
    assert.equal(r.code, 0, r.stderr);
    const co = await get<Cutover>('cutover', 'nokta');
    for (const s of co.spec.timeline.steps) {
      const row = r.stdout.split('\n').find((l) => l.includes(`| ${s.name} (${s.action})`));
      assert.ok(row, `a row for ${s.name}`);
      assert.ok(row.includes(s.owner!), `${s.name} owner`);
    }
    for (const want of [
      /\| switch-traffic \(TrafficSwitch\) \| 2026-12-01T02:30:00Z \| DevOps \| required by devops-on-call .*if not approved within 20m: Pause/,
      /\| final-delta-sync \(DeltaSync\) \| T\+10m \(2026-12-01T02:10:00.000Z\) .*freeze-legacy-writes succeeded; legacy frozen .*the operator rolls back/,
      /\*\*SloBreach\*\*: any SLO not met for 30m/,
      /\*\*ReconciliationVariance\*\*: .*> 1 % \(from Freeze/,
      /1\. \*\*PosOfflineOn\*\*/,
      /8\. \*\*SchemaDown\*\*: the schema migration.s down Job/,
      /9\. \*\*Notify\*\*/,
      /\*\*#cutover-warroom\*\*/,
      /\*\*data-engineering-lead\*\*: approves reconciliation-sign-off/,
    ])
      assert.match(r.stdout, want);
    const j = await inNs(['runbook', 'cutover/nokta', '-o', 'json']);
    const rb = JSON.parse(j.stdout) as { timeline: unknown[]; contacts: unknown[] };
    assert.equal(rb.timeline.length, co.spec.timeline.steps.length);
    assert.equal((await inNs(['runbook', 'canaryphase/nokta-canary'])).code, 4);
  });

  it('hands the cutover CLI its own commands: kubectl cutover validate and version', async () => {
    const v = await kc(['validate', '-f', join(repoRoot(), 'samples', 'cutover-nokta.yaml')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const bad = await kc(['validate', '-f', join(repoRoot(), 'test', 'fixtures', 'invalid')]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    const version = await kc(['version', '-o', 'json']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal((JSON.parse(version.stdout) as { version: string }).version, '0.1.0');
  });

  it('runs directly through the symlink (no kubectl in between), with --kubeconfig', async () => {
    const r = await new Promise<Run>((resolve) => {
      execFile(
        join(bin, 'kubectl-cutover'),
        ['status', 'pos-orders', '-n', ns, '--kubeconfig', cluster.kubeconfigPath, '-o', 'json'],
        { env: { PATH: env.PATH ?? '' } },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { tree: { kind: string } }).tree.kind, 'Reconciliation');
  });
});
