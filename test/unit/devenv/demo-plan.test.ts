/**
 * The demo's plan (src/devenv/demo-plan.ts): the sample Cutover, CanaryPhase and Reconciliations as
 * the demo applies them pass the offline validator (the API server's rules), keep every step of the
 * sample in order, lie in the real past (the Reconciliation controller's offsets are real time),
 * run every Job through the pod runner with the demo's Secrets, and never point at the sample's
 * remote hosts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Cutover } from '../../../src/api/index.js';
import { validateManifest } from '../../../src/api/validate.js';
import { repoRoot } from '../../../src/devenv/devenv-state.js';
import { RUN_LABEL } from '../../../src/devenv/pod-runner.js';
import {
  DAY,
  DEMO_RECONS,
  demoCanaryPhase,
  demoCutover,
  demoNamespaceItems,
  demoReconciliation,
  shiftDate,
} from '../../../src/devenv/demo-plan.js';

describe('demo plan: the sample made playable locally', () => {
  const shiftMs = Math.floor((Date.now() - 60 * DAY) / DAY) * DAY - Date.parse('2026-11-16T00:00:00Z');
  const opts = {
    namespace: 'nokta-demo',
    shiftMs,
    sandboxUrl: 'http://127.0.0.1:9',
    jobLog: '/tmp/jobs.log',
    redisPrefix: 'demo-nokta:',
    prometheusUrl: 'http://127.0.0.1:9090',
    approvedBy: 'demo-lead',
  };
  const sample = parse(readFileSync(join(repoRoot(), 'samples', 'cutover-nokta.yaml'), 'utf8')) as Cutover;

  it('every object passes the validator', () => {
    const objs = [
      demoCutover(opts),
      demoCanaryPhase(opts),
      ...Object.entries(DEMO_RECONS).map(([n, t]) => demoReconciliation('nokta-demo', n, t)),
      demoReconciliation('nokta-demo', 'post-cutover', 'orders', true),
    ];
    for (const o of objs) assert.deepEqual(validateManifest(o), [], `${o.kind}/${o.metadata.name}`);
  });

  it("keeps the sample's steps and rollback, moves the dates into the past, runs Jobs on the pod runner", () => {
    const co = demoCutover(opts);
    assert.deepEqual(
      co.spec.timeline.steps.map((s) => [s.name, s.action]),
      sample.spec.timeline.steps.map((s) => [s.name, s.action]),
    );
    assert.deepEqual(co.spec.rollback?.order, sample.spec.rollback?.order);
    assert.equal(co.spec.timeline.startAt, shiftDate(sample.spec.timeline.startAt!, shiftMs));
    assert.ok(Date.parse(co.spec.timeline.startAt) < Date.now() - 7 * DAY, 'the night lies in the real past');
    assert.ok(Date.parse(co.spec.shadow!.startAt) < Date.parse(co.spec.timeline.startAt));
    const jobs = [
      co.spec.preparation!.schemaMigration!.job,
      co.spec.preparation!.bulkCopy!.job,
      co.spec.preparation!.postLoadSql!.job,
      ...co.spec.timeline.steps.flatMap((s) => (s.job ? [s.job] : [])),
      co.spec.rollback!.replayJob,
      co.spec.rollback!.exportJob,
    ];
    for (const j of jobs) {
      assert.ok(j);
      assert.equal(j.podLabels?.[RUN_LABEL], 'true');
      assert.equal(j.command?.[0], 'node');
      // The replay writes into the frozen legacy: the admin account, as in the sample.
      const legacySecret = j === co.spec.rollback!.replayJob ? 'nokta-legacy-admin-db' : 'nokta-legacy-db';
      assert.deepEqual(
        j.env?.filter((e) => e.name === 'LEGACY_URL').map((e) => e.secretKeyRef?.name),
        [legacySecret],
      );
    }
    const text = JSON.stringify(co);
    assert.doesNotMatch(text, /nokta\.io\/v1\/health|sandbox\.|prometheus\.monitoring\.svc/);
    assert.equal(co.spec.flagProvider?.redis?.keyPrefix, 'demo-nokta:');
    assert.equal(co.metadata.namespace, 'nokta-demo');
  });

  it('the rollback scenario: its own Cutover name in every reference, a verification that runs only when asked', () => {
    const o = { ...opts, namespace: 'nokta-rollback', name: 'nokta-rb', redisPrefix: 'demo-nokta:rb:' };
    const co = demoCutover(o);
    assert.equal(co.metadata.name, 'nokta-rb');
    assert.equal(co.spec.rollback?.verifyReconciliation, 'replay-window');
    assert.deepEqual(co.spec.postCutover?.reconciliations, ['post-cutover']);
    const post = demoReconciliation('nokta-rollback', 'post-cutover', 'orders', true, 'nokta-rb');
    assert.equal(post.spec.schedule?.cutoverRef?.name, 'nokta-rb');
    assert.equal(post.spec.window?.cutoverRef?.name, 'nokta-rb');
    const verify = demoReconciliation('nokta-rollback', 'replay-window', 'orders', false, 'nokta-rb', true);
    assert.equal(verify.spec.schedule?.suspend, true);
    const items = demoNamespaceItems('nokta-rollback', {
      legacyAdminUrl: 'mysql://root@localhost/l',
      legacyUrl: 'mysql://a:b@127.0.0.1:1/l',
      targetUrl: 'postgres://postgres@127.0.0.1:5432/n',
      redisUrl: 'redis://127.0.0.1:6379/0',
      tokens: { payments: 'p', sms: 's' },
      hookUrl: 'http://127.0.0.1:9/hook',
    }) as { kind: string; metadata: { name: string; namespace?: string } }[];
    for (const x of [co, demoCanaryPhase(o), post, verify])
      assert.deepEqual(validateManifest(x), [], `${x.kind}/${x.metadata.name}`);
    // Every Secret the Cutover names is in the namespace.
    const secrets = new Set(items.filter((i) => i.kind === 'Secret').map((i) => i.metadata.name));
    for (const m of JSON.stringify(co).matchAll(/"secret(?:Key)?Ref":\{"name":"([^"]+)"/g))
      assert.ok(secrets.has(m[1]!), `Secret ${m[1]}`);
    assert.ok(items.every((i) => i.kind === 'Namespace' || i.metadata.namespace === 'nokta-rollback'));
  });
});
