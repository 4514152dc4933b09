/**
 * Our names against a real API server that also serves kinds with the names we used to clash
 * with (Flagger's Canary, OpenShift's ClusterOperator, Argo Rollouts' Rollout), driven through
 * kubectl as people use it:
 * - `kubectl get cutover-all` lists our three kinds and nothing else;
 * - `kubectl get cutover` lists Cutovers and `kubectl delete cutover X` deletes the Cutover X only
 *   (with the old category `cutover`, the first listed all three kinds and the second refused or,
 *   with older kubectl, deleted the CanaryPhase and the Reconciliation named X as well);
 * - `kubectl get canary`, `co`, `ro` still reach Flagger, OpenShift and Argo Rollouts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { useCluster, type TestCluster } from '../../support/cluster.js';

const FOREIGN = 'test/fixtures/foreign-crds';

describe('api: names on a real API server, next to Flagger, OpenShift and Argo Rollouts kinds', function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let ns: string;
  let cacheDir: string;
  const installed: string[] = [];

  /** kubectl with its own discovery cache, so no earlier run's names are remembered. */
  const kubectl = (args: string[], input?: string) =>
    cluster.kubectl(['--cache-dir', cacheDir, ...args], input !== undefined ? { input } : {});

  before(async () => {
    cluster = await useCluster();
    cacheDir = mkdtempSync(join(tmpdir(), 'cutover-kubectl-cache-'));
    await cluster.applyCrds();
    for (const file of readdirSync(FOREIGN).sort()) {
      const name = (parse(readFileSync(join(FOREIGN, file), 'utf8')) as { metadata: { name: string } })
        .metadata.name;
      const exists = await kubectl(['get', 'crd', name, '-o', 'name']);
      if (exists.code === 0) continue; // a real cluster that has the project installed: use it, never remove it
      const r = await kubectl(['apply', '--server-side', '-f', join(FOREIGN, file)]);
      assert.equal(r.code, 0, r.stderr);
      installed.push(name);
    }
    if (installed.length) {
      const w = await kubectl([
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        ...installed.map((n) => `crd/${n}`),
      ]);
      assert.equal(w.code, 0, w.stderr);
    }
    ns = await cluster.createNamespace('names');
    const same = 'shared-name';
    const docs = [
      {
        apiVersion: 'cutover.nokta.io/v1alpha1',
        kind: 'Reconciliation',
        metadata: { name: same, namespace: ns },
        spec: {
          legacy: { engine: 'mysql', secretRef: { name: 'legacy' } },
          target: { engine: 'postgres', secretRef: { name: 'new' } },
          checks: [{ name: 'c', type: 'count', legacy: { table: 'a' }, target: { table: 'b' } }],
        },
      },
      {
        apiVersion: 'cutover.nokta.io/v1alpha1',
        kind: 'CanaryPhase',
        metadata: { name: same, namespace: ns },
        spec: {
          services: [{ name: 'pos', flagKey: 'pos-new' }],
          flagProvider: { type: 'Flagd', flagd: { configMapName: 'flags' } },
          steps: [{ weight: 10 }],
          analysis: {
            metrics: [{ name: 'v', reconciliation: { name: same }, successCondition: 'result < 0.5' }],
          },
        },
      },
      {
        apiVersion: 'cutover.nokta.io/v1alpha1',
        kind: 'Cutover',
        metadata: { name: same, namespace: ns },
        spec: {
          services: [
            { name: 'pos', flagKey: 'pos-new', legacy: { name: 'pos-legacy' }, new: { name: 'pos-new' } },
          ],
          databases: {
            legacy: { engine: 'mysql', secretRef: { name: 'legacy' } },
            target: { engine: 'postgres', secretRef: { name: 'new' } },
          },
          timeline: { steps: [{ name: 'switch', action: 'TrafficSwitch', at: '2026-12-01T02:30:00Z' }] },
        },
      },
      {
        apiVersion: 'flagger.app/v1beta1',
        kind: 'Canary',
        metadata: { name: same, namespace: ns },
        spec: { targetRef: { kind: 'Deployment', name: 'pos' } },
      },
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        metadata: { name: same, namespace: ns },
        spec: {},
      },
    ];
    for (const d of docs) {
      const r = await kubectl(
        ['apply', '--server-side', '--field-manager=cutover-names-test', '-f', '-'],
        JSON.stringify(d),
      );
      assert.equal(r.code, 0, `${d.kind}: ${r.stderr}`);
    }
  });

  after(async () => {
    if (ns) await cluster.deleteNamespace(ns);
    for (const name of installed) await kubectl(['delete', 'crd', name, '--wait=false']);
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  });

  it('registers the category cutover-all and the short names cuto, cphase, recon', async () => {
    const r = await kubectl(['api-resources', '--api-group=cutover.nokta.io', '-o', 'wide', '--no-headers']);
    assert.equal(r.code, 0, r.stderr);
    for (const [plural, short, kind] of [
      ['cutovers', 'cuto', 'Cutover'],
      ['canaryphases', 'cphase', 'CanaryPhase'],
      ['reconciliations', 'recon', 'Reconciliation'],
    ]) {
      const line = r.stdout.split('\n').find((l) => l.startsWith(`${plural} `));
      assert.ok(line, `${plural} missing in:\n${r.stdout}`);
      assert.match(line, new RegExp(`\\s${short}\\s`));
      assert.match(line, new RegExp(`\\s${kind}\\s`));
      assert.match(line, /\scutover-all\s*$/);
    }
  });

  it('kubectl get cutover-all lists exactly our three kinds', async () => {
    const r = await kubectl(['get', 'cutover-all', '-n', ns, '-o', 'name']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), [
      'canaryphase.cutover.nokta.io/shared-name',
      'cutover.cutover.nokta.io/shared-name',
      'reconciliation.cutover.nokta.io/shared-name',
    ]);
    const short = await kubectl(['get', 'cuto,cphase,recon', '-n', ns, '-o', 'name']);
    assert.equal(short.stdout.trim().split('\n').length, 3, short.stdout + short.stderr);
  });

  it("kubectl get canary, co and ro still reach Flagger's, OpenShift's and Argo Rollouts' kinds", async () => {
    const canary = await kubectl(['get', 'canary', '-n', ns, '-o', 'name']);
    assert.equal(canary.code, 0, canary.stderr);
    assert.equal(canary.stdout.trim(), 'canary.flagger.app/shared-name');
    const co = await kubectl(['get', 'co', '-o', 'name']);
    assert.equal(co.code, 0, co.stderr);
    assert.doesNotMatch(co.stdout, /cutover\.nokta\.io/);
    const ro = await kubectl(['get', 'ro', '-n', ns, '-o', 'name']);
    assert.equal(ro.stdout.trim(), 'rollout.argoproj.io/shared-name');
  });

  it('kubectl get cutover lists Cutovers only (with the old category it listed all three kinds)', async () => {
    const r = await kubectl(['get', 'cutover', '-n', ns, '-o', 'name']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'cutover.cutover.nokta.io/shared-name');
  });

  // With the old category, kubectl 1.34 refuses ("you must specify only one resource"); older
  // kubectl versions deleted the CanaryPhase and the Reconciliation named X as well.
  it('kubectl delete cutover X deletes only the Cutover X', async () => {
    const d = await kubectl(['delete', 'cutover', 'shared-name', '-n', ns]);
    assert.equal(d.code, 0, d.stderr);
    const lines = d.stdout.trim().split('\n');
    assert.equal(lines.length, 1, d.stdout);
    assert.match(lines[0]!, /^cutover\.cutover\.nokta\.io "shared-name" deleted/);
    const left = await kubectl(['get', 'cutover-all', '-n', ns, '-o', 'name']);
    assert.deepEqual(left.stdout.trim().split('\n').sort(), [
      'canaryphase.cutover.nokta.io/shared-name',
      'reconciliation.cutover.nokta.io/shared-name',
    ]);
  });
});
