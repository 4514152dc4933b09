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
    const applied = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=cutover-api-test', '-f', 'crds/']);
    assert.equal(applied.code, 0, applied.stderr);
    const waited = await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s',
      'crd/cutovers.cutover.nokta.io', 'crd/canaryphases.cutover.nokta.io', 'crd/reconciliations.cutover.nokta.io']);
    assert.equal(waited.code, 0, waited.stderr);
    ns = await cluster.createNamespace('api');
  });

  after(async () => {
    if (ns) await cluster.deleteNamespace(ns);
  });

  it('registers the kinds with their shortNames and the cutover category', async () => {
    const r = await cluster.kubectl(['api-resources', '--api-group=cutover.nokta.io', '-o', 'wide', '--no-headers']);
    assert.equal(r.code, 0, r.stderr);
    for (const [plural, short, kind] of [['cutovers', 'co', 'Cutover'], ['canaryphases', 'canary', 'CanaryPhase'], ['reconciliations', 'recon', 'Reconciliation']]) {
      const line = r.stdout.split('\n').find((l) => l.startsWith(`${plural} `));
      assert.ok(line, `${plural} missing in:\n${r.stdout}`);
      assert.match(line, new RegExp(`\\b${short}\\b`));
      assert.match(line, new RegExp(`\\b${kind}\\b`));
      assert.match(line, /\bcutover\b.*$/);
    }
  });

  it('applies every sample server-side (not dry-run) and stores the defaults', async () => {
    const samples = sampleDocuments();
    assert.ok(samples.length >= 8);
    for (const s of samples) {
      assert.deepEqual(validateManifest(s.manifest), [], `cutover validate refuses ${s.file}`);
      const manifest = { ...(s.manifest as Record<string, unknown>), metadata: { ...((s.manifest as { metadata: object }).metadata), namespace: ns } };
      const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=cutover-api-test', '-f', '-'], { input: JSON.stringify(manifest) });
      assert.equal(r.code, 0, `${s.file}: ${r.stderr}`);
    }
    const got = await cluster.kubectl(['get', 'recon', 'customers', '-n', ns, '-o', 'json']);
    assert.equal(got.code, 0, got.stderr);
    const spec = (JSON.parse(got.stdout) as { spec: { tenantColumn: string; thresholds: unknown; statementTimeoutSeconds: number; legacy: { secretRef: { key: string } } } }).spec;
    assert.equal(spec.tenantColumn, 'tenant_id');
    assert.deepEqual(spec.thresholds, { remediatePercent: 0.5, failPercent: 1 });
    assert.equal(spec.statementTimeoutSeconds, 300);
    assert.equal(spec.legacy.secretRef.key, 'url');
    const canary = await cluster.kubectl(['get', 'canary', 'nokta-canary', '-n', ns, '-o', 'jsonpath={.spec.analysis.consecutiveFailureLimit}']);
    assert.equal(canary.stdout, '2');
  });

  it('refuses every invalid fixture with the message cutover validate prints', async () => {
    const fixtures = invalidFixtures();
    assert.ok(fixtures.length >= 40, `${fixtures.length} fixtures`);
    const failures: string[] = [];
    await inBatches(fixtures, 6, async (f) => {
      const offline = validateManifest(f.manifest).map((p) => `${p.path}: ${p.message}`).join('\n');
      const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=cutover-api-test', '-n', ns, '-f', '-'], { input: f.text });
      if (r.code === 0) {
        failures.push(`${f.file}: accepted by the API server`);
        return;
      }
      for (const e of f.expects) {
        if (!r.stderr.includes(e)) failures.push(`${f.file}: API server message lacks '${e}':\n  ${r.stderr.trim()}`);
        if (!offline.includes(e)) failures.push(`${f.file}: cutover validate message lacks '${e}':\n  ${offline}`);
      }
    });
    assert.deepEqual(failures, []);
    const left = await cluster.kubectl(['get', 'co,canary,recon', '-n', ns, '-o', 'name']);
    for (const f of fixtures) assert.ok(!left.stdout.includes(`/${(f.manifest as { metadata: { name: string } }).metadata.name}\n`), `${f.file} was stored`);
  });

  it('kubectl get co,canary,recon shows the printer columns with the status', async () => {
    const patches: [string, string, unknown][] = [
      ['cutover/nokta', 'co', { status: { phase: 'CuttingOver', observedGeneration: 1, currentStep: 'final-delta-sync', nextStep: 'reconciliation-sign-off', nextStepAt: '2026-12-01T02:15:00Z' } }],
      ['canaryphase/nokta-canary', 'canary', { status: { phase: 'Progressing', currentStep: 2, currentWeight: 10, consecutiveFailures: 1 } }],
      ['reconciliation/pos-orders', 'recon', { status: { phase: 'RemediationNeeded', summary: { maxVariancePercent: '0.62', worstTenant: 'istanbul-kadikoy' }, lastRun: { finishedAt: new Date(Date.now() - 2 * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'), verdict: 'RemediationNeeded' } } }],
    ];
    for (const [name, , patch] of patches) {
      const r = await cluster.kubectl(['patch', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(patch)]);
      assert.equal(r.code, 0, r.stderr);
    }
    const r = await cluster.kubectl(['get', 'co,canary,recon', '-n', ns]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /NAME\s+PHASE\s+STEP\s+NEXT\s+NEXT AT\s+AGE/);
    assert.match(out, /NAME\s+PHASE\s+STEP\s+WEIGHT\s+FAILURES\s+AGE/);
    assert.match(out, /NAME\s+PHASE\s+VARIANCE\s+WORST\s+LAST RUN\s+AGE/);
    assert.match(out, /cutover\.cutover\.nokta\.io\/nokta\s+CuttingOver\s+final-delta-sync\s+reconciliation-sign-off\s+2026-12-01T02:15:00Z\s/);
    assert.match(out, /canaryphase\.cutover\.nokta\.io\/nokta-canary\s+Progressing\s+2\s+10\s+1\s+/);
    assert.match(out, /reconciliation\.cutover\.nokta\.io\/pos-orders\s+RemediationNeeded\s+0\.62\s+istanbul-kadikoy\s+(119m|120m|121m|2h)\s/);
    // A status write does not count as a spec change: generation stays 1.
    const gen = await cluster.kubectl(['get', 'co', 'nokta', '-n', ns, '-o', 'jsonpath={.metadata.generation}']);
    assert.equal(gen.stdout, '1');
  });

  it('refuses a status that breaks the status schema', async () => {
    const r = await cluster.kubectl(['patch', 'canary/nokta-canary', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { currentWeight: 150 } })]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /status\.currentWeight/);
  });
});
