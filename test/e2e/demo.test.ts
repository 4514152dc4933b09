/**
 * `npm run demo` end to end: the built demo (dist/src/devenv/demo.js, what `npm run demo` runs
 * after setup and build) as a child process, with `--keep` so that what it leaves can be checked
 * against the API server, then `npm run cluster:down` (dist/src/devenv/cluster-cli.js down).
 * Checked: it exits 0 in under five minutes; its output shows the timeline live (each stage, the
 * Cutover's phases in the plan's order, each step of the night Succeeded with its times, the
 * progress line, the Reconciliations, the reports and what is where); the Cutover in the API
 * server is in SteadyState with its final report; the second scenario (a discrepancy injected after
 * the switch) ends RolledBack by the variance trigger, every rollback action printed and recorded
 * in the sample's order, the replay Job before traffic moved back, the new stack's rows after the
 * switch in legacy, legacy writable; `cluster:down` stops what --keep left (the
 * operator, the demo's MariaDB, the control plane when the demo started it).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CutoverStatus } from '../../src/api/index.js';
import { repoRoot } from '../../src/devenv/devenv-state.js';
import { clusterDir, DEMO_MARIADB_PID, kubectl, runningCluster } from '../../src/devenv/local-cluster.js';
import { pidAlive } from '../../src/devenv/processes.js';

const run = (args: string[], timeoutMs: number): Promise<{ code: number | null; out: string; ms: number }> =>
  new Promise((resolve) => {
    const t0 = Date.now();
    const env = { ...process.env };
    delete env.KUBECONFIG;
    const child = spawn(process.execPath, args, { cwd: repoRoot(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - t0 });
    });
  });

describe('e2e: npm run demo, the full local rehearsal of the sample cutover', function () {
  this.timeout(600_000);
  let startedCluster = false;

  after(async () => {
    if (startedCluster && runningCluster())
      await run([join(repoRoot(), 'dist', 'src', 'devenv', 'cluster-cli.js'), 'down'], 60_000);
  });

  it('plays the sample Cutover to steady state, then a second one that rolls back by itself with no write lost, in under five minutes; cluster:down stops it all', async () => {
    startedCluster = runningCluster() === undefined;
    const demo = await run([join(repoRoot(), 'dist', 'src', 'devenv', 'demo.js'), '--keep'], 330_000);
    process.stdout.write(`      demo: ${(demo.ms / 1000).toFixed(1)} s\n`);
    assert.equal(demo.code, 0, demo.out.slice(-6000));
    assert.ok(demo.ms < 300_000, `the demo took ${demo.ms} ms`);
    const out = demo.out;

    for (let i = 1; i <= 7; i++) assert.match(out, new RegExp(`\\[${i}/7\\] `), `stage ${i}`);
    // The phases as the timeline printed them, in the plan's order.
    const plan = [
      'Preparation',
      'Shadow',
      'Canary',
      'AwaitingCutover',
      'CuttingOver',
      'Monitoring',
      'LegacyHot',
      'PostCutover',
      'SteadyState',
    ];
    const phases = [...out.matchAll(/Cutover phase (\w+)/g)].map((m) => m[1]!);
    for (const p of ['Preparation', 'Shadow', 'CuttingOver', 'LegacyHot', 'PostCutover', 'SteadyState'])
      assert.ok(phases.includes(p), `phase ${p} shown: ${phases.join(' ')}`);
    // Each phase first shown in the plan's order. (The status can show Shadow again for a moment
    // during the sign-off's reruns; that is the Cutover controller's, reported, not the demo's.)
    const first = [...new Set(phases)].filter((p) => plan.includes(p));
    assert.deepEqual(
      first,
      [...first].sort((a, b) => plan.indexOf(a) - plan.indexOf(b)),
      'phases in order',
    );
    // Each timeline line carries the real and the plan time.
    assert.match(out, /^\s+\d+s {2}plan \d{4}-\d\d-\d\d \d\d:\d\d {2}Cutover phase Preparation/m);
    for (const step of [
      'freeze-legacy-writes',
      'final-delta-sync',
      'reconciliation-sign-off',
      'switch-traffic',
      'enable-flags',
      'lift-freeze',
      'monitor-slos',
      'executive-checkpoint',
    ])
      assert.match(
        out,
        new RegExp(`step ${step}: Succeeded.* started \\d\\d:\\d\\d finished \\d\\d:\\d\\d`),
        `step ${step}`,
      );
    for (const prep of [
      'schemaMigration',
      'bulkCopy',
      'postLoadSql',
      'check:payments',
      'check:sms',
      'check:maps',
    ])
      assert.match(out, new RegExp(`preparation ${prep}: Succeeded`), prep);
    assert.match(out, /CanaryPhase nokta-canary: Promoted|CanaryPhase nokta-canary: Succeeded/);
    assert.match(out, /Reconciliation pos-orders: Passed/);
    // The operator ran as the install's ServiceAccount (deploy/operator's RBAC), nothing refused.
    assert.match(out, /the operator runs as ServiceAccount cutover-system\/cutover-operator/);
    assert.match(out, /the operator sent \d+ API requests as its ServiceAccount; none refused/);
    assert.match(out, /every one of legacy's \d+ plus 3 taken after the switch/);
    assert.match(out, /Reconciliation post-cutover: .*offsets done: .*\+72h/);
    assert.match(out, /an order written to legacy now: refused/);
    assert.match(out, /progress \[#+-*\] /, 'the progress line');
    assert.match(out, /── final\.md \(ConfigMap nokta-cutover-report\) ──/);
    assert.match(out, /── checkpoint\.md /);
    assert.match(out, /What is where/);

    // What the API server holds: the Cutover at steady state, its final report.
    const kc = join(clusterDir(), 'kubeconfig');
    assert.ok(existsSync(kc), 'the kept cluster has its kubeconfig');
    const co = JSON.parse(kubectl(kc, ['-n', 'nokta-demo', 'get', 'cutover', 'nokta', '-o', 'json'])) as {
      status: CutoverStatus;
    };
    assert.equal(co.status.phase, 'SteadyState');
    assert.ok(co.status.steadyStateAt && co.status.report?.finalAt);
    assert.ok(co.status.switchedAt && co.status.legacyScaledAt);
    const saved = JSON.parse(
      readFileSync(join(repoRoot(), '.cache', 'demo', 'reports', 'cutover-status.json'), 'utf8'),
    ) as CutoverStatus;
    assert.equal(saved.steadyStateAt, co.status.steadyStateAt);
    // The reports render the Cutover as the step that wrote them saw it, not an empty status.
    const finalMd = readFileSync(join(repoRoot(), '.cache', 'demo', 'reports', 'final.md'), 'utf8');
    assert.match(finalMd, /Phase \*\*SteadyState\*\*/, finalMd.slice(0, 600));
    assert.ok(finalMd.includes(`Switched at: ${co.status.switchedAt}`), finalMd.slice(0, 600));
    const checkpointMd = readFileSync(join(repoRoot(), '.cache', 'demo', 'reports', 'checkpoint.md'), 'utf8');
    assert.doesNotMatch(checkpointMd, /Phase \*\*Pending\*\*/, checkpointMd.slice(0, 600));

    // The second scenario: a discrepancy injected after the switch, the operator rolls back by
    // itself, in the sample's order, the replay before traffic moves back, no write lost.
    assert.match(out, /discrepancy injected/);
    assert.match(
      out,
      /rollback started by ReconciliationVariance: Reconciliation post-cutover: variance [\d.]+ % > 1 %/,
    );
    const order = [
      'PosOfflineOn',
      'Replay',
      'VerifyReplay',
      'TrafficBack',
      'FlagsOff',
      'ReopenLegacyWrites',
      'DrainQueue',
      'SchemaDown',
      'Notify',
    ];
    const printed = [...out.matchAll(/rollback action (\w+): (Succeeded|Skipped)/g)].map((m) => m[1]!);
    assert.deepEqual(printed, order, 'each rollback action printed as it completes, in order');
    for (const line of [
      /ok {4}traffic back on legacy/,
      /ok {4}flags back on legacy: \S+ off/,
      /ok {4}legacy writable/,
      /ok {4}the replay Job \S+ finished .* before traffic moved back/,
      /ok {4}no write lost: 6\/6 rows taken on the new stack after the switch are in legacy/,
      /ok {4}the operator's \d+ API requests as its ServiceAccount: none refused/,
    ])
      assert.match(out, line);
    assert.doesNotMatch(out, /FAIL {2}/);
    const rb = JSON.parse(
      kubectl(kc, ['-n', 'nokta-rollback', 'get', 'cutover', 'nokta-rb', '-o', 'json']),
    ) as { status: CutoverStatus };
    assert.equal(rb.status.phase, 'RolledBack');
    assert.equal(rb.status.rollback?.trigger, 'ReconciliationVariance');
    const actions = rb.status.rollback?.actions ?? [];
    assert.deepEqual(
      actions.map((a) => a.name),
      order,
    );
    for (const a of actions)
      assert.ok(a.state === 'Succeeded' || a.state === 'Skipped', `${a.name} ${a.state}`);
    for (const n of ['Replay', 'VerifyReplay', 'TrafficBack', 'FlagsOff', 'ReopenLegacyWrites'])
      assert.equal(actions.find((a) => a.name === n)?.state, 'Succeeded', n);
    const replay = actions.find((a) => a.name === 'Replay')!;
    const back = actions.find((a) => a.name === 'TrafficBack')!;
    assert.ok(Date.parse(replay.finishedAt!) <= Date.parse(back.at!), 'the replay before traffic moved back');
    const jobs = readFileSync(join(repoRoot(), '.cache', 'demo', 'jobs.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind?: string; CUTOVER_NAME?: string });
    assert.ok(
      jobs.some((j) => j.kind === 'replay' && j.CUTOVER_NAME === 'nokta-rb'),
      'the replay Job ran',
    );

    // --keep left the operator and the MariaDB running; cluster:down stops them.
    const operatorPid = Number(readFileSync(join(clusterDir(), 'operator.pid'), 'utf8'));
    const mariadbPid = Number(readFileSync(join(clusterDir(), DEMO_MARIADB_PID), 'utf8'));
    assert.ok(pidAlive(operatorPid) && pidAlive(mariadbPid), 'kept running');
    if (startedCluster) {
      const down = await run([join(repoRoot(), 'dist', 'src', 'devenv', 'cluster-cli.js'), 'down'], 60_000);
      assert.equal(down.code, 0, down.out);
      assert.equal(pidAlive(operatorPid), false, 'the operator stopped');
      assert.equal(pidAlive(mariadbPid), false, 'the MariaDB stopped');
      assert.equal(runningCluster(), undefined, 'the control plane stopped');
    }
  });
});
