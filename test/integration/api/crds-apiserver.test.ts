/**
 * The generated CRDs against the real API server: they are accepted (structural, CEL within the
 * cost budget), every sample applies server-side, every invalid fixture is refused with the
 * message its file names (the same message `cutover validate` prints), and kubectl shows the
 * printer columns.
 */
import assert from 'node:assert/strict';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { validateManifest } from '../../../src/api/validate.js';
import { invalidFixtures, sampleDocuments } from '../../unit/api/fixtures.js';

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe('api: CRDs on the real API server', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: string;

  before(async () => {
    cluster = await useCluster();
    const applied = await cluster.kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '--field-manager=cutover-api-test',
      '-f',
      'crds/',
    ]);
    assert.equal(applied.code, 0, applied.stderr);
    const waited = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/cutovers.cutover.nokta.io',
      'crd/canaryphases.cutover.nokta.io',
      'crd/reconciliations.cutover.nokta.io',
    ]);
    assert.equal(waited.code, 0, waited.stderr);
    ns = await cluster.createNamespace('api');
  });

  after(async () => {
    if (ns) await cluster.deleteNamespace(ns);
  });

  it('applies every sample server-side (not dry-run) and stores the defaults', async () => {
    const samples = sampleDocuments();
    assert.ok(samples.length >= 8);
    for (const s of samples) {
      assert.deepEqual(validateManifest(s.manifest), [], `cutover validate refuses ${s.file}`);
      const manifest = {
        ...(s.manifest as Record<string, unknown>),
        metadata: { ...(s.manifest as { metadata: object }).metadata, namespace: ns },
      };
      const r = await cluster.kubectl(
        ['apply', '--server-side', '--field-manager=cutover-api-test', '-f', '-'],
        { input: JSON.stringify(manifest) },
      );
      assert.equal(r.code, 0, `${s.file}: ${r.stderr}`);
    }
    const got = await cluster.kubectl(['get', 'recon', 'customers', '-n', ns, '-o', 'json']);
    assert.equal(got.code, 0, got.stderr);
    const spec = (
      JSON.parse(got.stdout) as {
        spec: {
          tenantColumn: string;
          thresholds: unknown;
          statementTimeoutSeconds: number;
          legacy: { secretRef: { key: string } };
        };
      }
    ).spec;
    assert.equal(spec.tenantColumn, 'tenant_id');
    assert.deepEqual(spec.thresholds, { remediatePercent: 0.5, failPercent: 1 });
    assert.equal(spec.statementTimeoutSeconds, 300);
    assert.equal(spec.legacy.secretRef.key, 'url');
    const canary = await cluster.kubectl([
      'get',
      'cphase',
      'nokta-canary',
      '-n',
      ns,
      '-o',
      'jsonpath={.spec.analysis.consecutiveFailureLimit}',
    ]);
    assert.equal(canary.stdout, '2');
  });

  it('refuses every invalid fixture with the message cutover validate prints', async () => {
    const fixtures = invalidFixtures();
    assert.ok(fixtures.length >= 100, `${fixtures.length} fixtures`);
    const failures: string[] = [];
    await inBatches(fixtures, 6, async (f) => {
      const offline = validateManifest(f.manifest)
        .map((p) => `${p.path}: ${p.message}`)
        .join('\n');
      const r = await cluster.kubectl(
        ['apply', '--server-side', '--field-manager=cutover-api-test', '-n', ns, '-f', '-'],
        { input: f.text },
      );
      if (r.code === 0) {
        failures.push(`${f.file}: accepted by the API server`);
        return;
      }
      for (const e of f.expects) {
        if (!r.stderr.includes(e))
          failures.push(`${f.file}: API server message lacks '${e}':\n  ${r.stderr.trim()}`);
        if (!offline.includes(e))
          failures.push(`${f.file}: cutover validate message lacks '${e}':\n  ${offline}`);
      }
    });
    assert.deepEqual(failures, []);
    const left = await cluster.kubectl(['get', 'cutover-all', '-n', ns, '-o', 'name']);
    for (const f of fixtures)
      assert.ok(
        !left.stdout.includes(`/${(f.manifest as { metadata: { name: string } }).metadata.name}\n`),
        `${f.file} was stored`,
      );
  });

  it('kubectl get cutover-all shows the printer columns with the status', async () => {
    const patches: [string, string, unknown][] = [
      [
        'cutover/nokta',
        'cuto',
        {
          status: {
            phase: 'CuttingOver',
            observedGeneration: 1,
            currentStep: 'final-delta-sync',
            nextStep: 'reconciliation-sign-off',
            nextStepAt: '2026-12-01T02:15:00Z',
          },
        },
      ],
      [
        'canaryphase/nokta-canary',
        'cphase',
        { status: { phase: 'Progressing', currentStep: 2, currentWeight: 10, consecutiveFailures: 1 } },
      ],
      [
        'reconciliation/pos-orders',
        'recon',
        {
          status: {
            phase: 'RemediationNeeded',
            summary: { maxVariancePercent: '0.62', worstTenant: 'istanbul-kadikoy' },
            lastRun: {
              finishedAt: new Date(Date.now() - 2 * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
              verdict: 'RemediationNeeded',
            },
          },
        },
      ],
    ];
    for (const [name, , patch] of patches) {
      const r = await cluster.kubectl([
        'patch',
        name,
        '-n',
        ns,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify(patch),
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const r = await cluster.kubectl(['get', 'cutover-all', '-n', ns]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /NAME\s+PHASE\s+STEP\s+NEXT\s+NEXT AT\s+AGE/);
    assert.match(out, /NAME\s+PHASE\s+STEP\s+WEIGHT\s+FAILURES\s+AGE/);
    assert.match(out, /NAME\s+PHASE\s+VARIANCE\s+WORST\s+LAST RUN\s+AGE/);
    assert.match(
      out,
      /cutover\.cutover\.nokta\.io\/nokta\s+CuttingOver\s+final-delta-sync\s+reconciliation-sign-off\s+2026-12-01T02:15:00Z\s/,
    );
    assert.match(out, /canaryphase\.cutover\.nokta\.io\/nokta-canary\s+Progressing\s+2\s+10\s+1\s+/);
    assert.match(
      out,
      /reconciliation\.cutover\.nokta\.io\/pos-orders\s+RemediationNeeded\s+0\.62\s+istanbul-kadikoy\s+(119m|120m|121m|2h)\s/,
    );
    // A status write does not count as a spec change: generation stays 1.
    const gen = await cluster.kubectl([
      'get',
      'cuto',
      'nokta',
      '-n',
      ns,
      '-o',
      'jsonpath={.metadata.generation}',
    ]);
    assert.equal(gen.stdout, '1');
  });

  it('refuses a status that breaks the status schema', async () => {
    const r = await cluster.kubectl([
      'patch',
      'canaryphase/nokta-canary',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { currentWeight: 150 } }),
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /status\.currentWeight/);
  });

  it('refuses a condition without reason, message or lastTransitionTime, as metav1.Condition does', async () => {
    const patch = (conditions: unknown[]) =>
      cluster.kubectl([
        'patch',
        'reconciliation/pos-orders',
        '-n',
        ns,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status: { conditions } }),
      ]);
    const full = {
      type: 'Ready',
      status: 'True',
      reason: 'Passed',
      message: 'all checks passed',
      lastTransitionTime: '2026-12-01T02:20:00Z',
    };
    const ok = await patch([
      full,
      { ...full, type: 'Stalled', status: 'False', reason: 'Idle', message: '' },
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    for (const missing of ['reason', 'message', 'lastTransitionTime']) {
      const { [missing]: _, ...rest } = full as Record<string, string>;
      const r = await patch([rest]);
      assert.notEqual(r.code, 0, `a condition without ${missing} was stored`);
      assert.match(r.stderr, new RegExp(`status\\.conditions\\[0\\]\\.${missing}: Required value`), r.stderr);
    }
    const bad = await patch([{ ...full, reason: 'not camel case' }]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /status\.conditions\[0\]\.reason: Invalid value/);
    const status = await patch([{ ...full, status: 'Maybe' }]);
    assert.match(status.stderr, /status\.conditions\[0\]\.status: Unsupported value: "Maybe"/);
  });
});
