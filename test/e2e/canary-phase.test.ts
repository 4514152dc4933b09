/**
 * End to end: the operator process, run as its own ServiceAccount with the RBAC of deploy/operator,
 * drives CanaryPhases that a person handles with kubectl only: `kubectl apply`, `kubectl annotate`
 * for pause, resume and promote (cutover.nokta.io/action: <verb>:<token>), `kubectl wait` watching
 * the status to the end — one phase promoted step by step to Promoted, one rolled back by two
 * failing measurements of a real Prometheus. The flags are read back from Redis, the Events with
 * kubectl.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import { stringify } from 'yaml';
import { parseState } from '../../src/actuators/flags/flag-model.js';
import type { CanaryPhaseStatus } from '../../src/api/index.js';
import { useCluster, type TestCluster } from '../support/cluster.js';
import { useRedis, type TestRedis } from '../support/databases.js';
import { followOperator } from '../support/api-usage.js';
import { operatorIdentity, type OperatorIdentity } from '../support/operator-identity.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import {
  startPrometheus,
  startTestExporter,
  type TestExporter,
  type TestPrometheus,
} from '../support/prometheus.js';

describe('e2e: CanaryPhase through kubectl (operator process as its ServiceAccount)', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let redisT: TestRedis;
  let redis: Redis;
  let exporter: TestExporter;
  let prom: TestPrometheus;
  let gauge: Gauge;
  let operator: OperatorProcess | undefined;

  const kubectlOk = async (args: string[], input?: string): Promise<string> => {
    const r = await cluster.kubectl(args, input === undefined ? {} : { input });
    assert.equal(
      r.code,
      0,
      `kubectl ${args.join(' ')}: ${r.stderr}\noperator log:\n${operator?.output().slice(-3000) ?? ''}`,
    );
    return r.stdout;
  };
  const status = async (name: string): Promise<CanaryPhaseStatus> =>
    (
      JSON.parse(await kubectlOk(['get', 'canaryphase', name, '-n', ns, '-o', 'json'])) as {
        status?: CanaryPhaseStatus;
      }
    ).status ?? {};
  /** `kubectl wait` (a watch) until the JSONPath has the value. */
  const waitFor = (name: string, path: string, value: string, timeout = '90s'): Promise<string> =>
    kubectlOk([
      'wait',
      `canaryphase/${name}`,
      '-n',
      ns,
      `--for=jsonpath={${path}}=${value}`,
      `--timeout=${timeout}`,
    ]);
  const act = (name: string, verb: string, token: string): Promise<string> =>
    kubectlOk([
      'annotate',
      'canaryphase',
      name,
      '-n',
      ns,
      '--overwrite',
      `cutover.nokta.io/action=${verb}:${token}`,
    ]);
  const flagPercent = async (name: string): Promise<number | undefined> => {
    const h = await redis.hgetall(`${redisT.prefix}${name}:flags:pos:new-stack`);
    return h['*'] !== undefined ? parseState(h['*']).percentage : undefined;
  };
  const manifest = (name: string, steps: Array<{ weight: number; pause?: string }>): string =>
    stringify({
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'CanaryPhase',
      metadata: { name, namespace: ns },
      spec: {
        flagProvider: {
          type: 'Redis',
          redis: { secretRef: { name: 'flags-redis', key: 'url' }, keyPrefix: `${redisT.prefix}${name}:` },
        },
        services: [{ name: 'pos', flagKey: 'new-stack' }],
        steps,
        analysis: {
          interval: '1s',
          consecutiveFailureLimit: 2,
          prometheusAddress: prom.url,
          metrics: [
            {
              name: 'pos-invoice-p95',
              prometheus: { query: `max(e2e_pos_invoice_p95_seconds{phase="${name}"})` },
              successCondition: 'result <= 1.5',
            },
          ],
        },
      },
    });

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    ns = await cluster.createNamespace('e2e-canary');
    identity = await operatorIdentity(cluster, ns);
    redisT = await useRedis('e2e-canary');
    redis = new Redis(redisT.url);
    const registry = new Registry();
    gauge = new Gauge({
      name: 'e2e_pos_invoice_p95_seconds',
      help: 'POS invoice p95',
      labelNames: ['phase'],
      registers: [registry],
    });
    gauge.set({ phase: 'promoted' }, 0.9);
    gauge.set({ phase: 'rolled-back' }, 2.5);
    exporter = await startTestExporter(registry);
    prom = await startPrometheus({ targets: [exporter.target] });
    await prom.waitForTargets();
    for (const p of ['promoted', 'rolled-back'])
      for (
        let i = 0;
        i < 300 && (await prom.query(`e2e_pos_invoice_p95_seconds{phase="${p}"}`)).length === 0;
        i++
      )
        await new Promise((r) => setTimeout(r, 100));
    await kubectlOk([
      'create',
      'secret',
      'generic',
      'flags-redis',
      '-n',
      ns,
      `--from-literal=url=${redisT.url}`,
    ]);
    operator = startOperator([
      '--kubeconfig',
      identity.kubeconfig,
      '--namespaces',
      ns,
      '--leader-election-namespace',
      ns,
    ]);
    followOperator('e2e/canary-phase', operator);
  });
  after(async () => {
    await operator?.stop();
    redis?.disconnect();
    await redisT?.cleanup();
    await prom?.stop();
    await exporter?.stop();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
  });

  it('apply, pause, resume, promote step by step to Promoted', async () => {
    const name = 'promoted';
    await kubectlOk(
      ['apply', '-f', '-'],
      manifest(name, [{ weight: 10, pause: '1h' }, { weight: 50, pause: '1h' }, { weight: 100 }]),
    );
    await waitFor(name, '.status.appliedStep', '0');
    assert.equal(await flagPercent(name), 10);
    await waitFor(name, '.status.measurementsTaken', '1');

    await act(name, 'pause', 't1');
    await waitFor(name, '.status.phase', 'Paused');
    const paused = await status(name);
    assert.equal(paused.lastActionToken, 'pause:t1');
    assert.match(paused.pauseReason ?? '', /./);
    // Paused holds the step: a promote is what moves it, not the clock.
    await act(name, 'resume', 't2');
    await waitFor(name, '.status.phase', 'Progressing');
    assert.equal((await status(name)).currentStep, 0, 'resume keeps the step');

    await act(name, 'promote', 't3');
    await waitFor(name, '.status.appliedStep', '1');
    assert.equal(await flagPercent(name), 50, 'promote skipped the hour of step 1');
    await act(name, 'promote', 't4');
    await waitFor(name, '.status.appliedStep', '2');
    assert.equal(await flagPercent(name), 100);
    await act(name, 'promote', 't5');
    await waitFor(name, '.status.phase', 'Promoted');
    const done = await status(name);
    assert.equal(done.lastActionToken, 'promote:t5');
    assert.ok(
      (done.measurements ?? []).every((m) => m.result === 'Successful'),
      JSON.stringify(done.measurements),
    );
    assert.equal(await flagPercent(name), 100, 'onSuccess Hold keeps the exposure');
    // The same token again is not acted on twice.
    await act(name, 'promote', 't5');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await status(name)).phase, 'Promoted');
    const events = await kubectlOk([
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      `involvedObject.name=${name},involvedObject.kind=CanaryPhase`,
      '-o',
      'jsonpath={range .items[*]}{.reason}{"\\n"}{end}',
    ]);
    for (const reason of ['StepStarted', 'PhaseChanged'])
      assert.match(events, new RegExp(`^${reason}$`, 'm'));
  });

  it('apply a phase whose metric fails twice: RolledBack with the deciding value, the flag given back', async () => {
    const name = 'rolled-back';
    await kubectlOk(['apply', '-f', '-'], manifest(name, [{ weight: 10, pause: '1h' }]));
    await waitFor(name, '.status.phase', 'RolledBack');
    await waitFor(name, '.status.restoredServices[0]', 'pos');
    const s = await status(name);
    assert.equal(s.rollback?.metric, 'pos-invoice-p95');
    assert.equal(s.rollback?.value, '2.5');
    assert.equal((s.measurements ?? []).filter((m) => m.result === 'Failed').length, 2);
    assert.ok(s.restoredAt, 'restoredAt set');
    assert.deepEqual(await redis.hgetall(`${redisT.prefix}${name}:flags:pos:new-stack`), {});
    const cond = (s.conditions ?? []).find((c) => c.type === 'Stalled');
    assert.equal(cond?.status, 'True');
    assert.equal(cond?.reason, 'RolledBack');
    const events = await kubectlOk([
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      `involvedObject.name=${name},reason=RolledBack`,
      '-o',
      'jsonpath={.items[*].message}',
    ]);
    assert.match(events, /rolled back pos/);
  });
});
