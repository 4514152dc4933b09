/**
 * The CanaryPhase controller inside an operator (in this process), against the real API server
 * (as the operator's ServiceAccount), Redis, a flagd ConfigMap and a real Prometheus scraping a
 * test exporter whose values the tests set.
 */
import assert from 'node:assert/strict';
import { Gauge, Registry } from 'prom-client';
import { Redis } from 'ioredis';
import { FLAGD_DATA_KEY, STATE_DATA_KEY } from '../../../src/actuators/flags/flagd-configmap.js';
import { parseState } from '../../../src/actuators/flags/flag-model.js';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { CanaryPhase, CanaryPhaseSpec, CanaryPhaseStatus, Cutover } from '../../../src/api/types.js';
import { closeFlagConnections } from '../../../src/controllers/canary-phase/exposure.js';
import { canaryPhaseController } from '../../../src/controllers/canary-phase/sync.js';
import { ACTION_ANNOTATION } from '../../../src/controllers/canary-phase/decide.js';
import { CANARY_PHASE, CUTOVER } from '../../../src/controllers/kinds.js';
import { freePort } from '../../../src/devenv/processes.js';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.js';
import { loadKubeConfig } from '../../../src/runtime/kubeconfig.js';
import { Operator } from '../../../src/runtime/operator.js';
import { parseOperatorOptions } from '../../../src/runtime/options.js';
import { CONFIG_MAP, EVENT, HTTP_ROUTE, INGRESS, SECRET } from '../../../src/runtime/resources.js';
import { recordingOptions } from '../../support/api-usage.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { useRedis, type TestRedis } from '../../support/databases.js';
import { operatorIdentity, type OperatorIdentity } from '../../support/operator-identity.js';
import {
  startPrometheus,
  startTestExporter,
  type TestExporter,
  type TestPrometheus,
} from '../../support/prometheus.js';

type CP = CanaryPhase & KubeObject;
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null)) as unknown;

describe('CanaryPhase controller (real control plane, Redis, flagd ConfigMap, Prometheus)', function () {
  this.timeout(240_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let redisT: TestRedis;
  let redis: Redis;
  let exporter: TestExporter;
  let prom: TestPrometheus;
  let operator: Operator | undefined;
  const gauges: Record<string, Gauge> = {};

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('ctl-canary');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    redisT = await useRedis('canary');
    redis = new Redis(redisT.url);
    const registry = new Registry();
    for (const n of ['pos_p95', 'driver_p95', 'reports_p95'])
      gauges[n] = new Gauge({ name: n, help: n, labelNames: ['phase'], registers: [registry] });
    exporter = await startTestExporter(registry);
    prom = await startPrometheus({ targets: [exporter.target] });
    await prom.waitForTargets();
    await admin.create(SECRET, ns, { metadata: { name: 'flags-redis' }, stringData: { url: redisT.url } });
    operator = await startOperator();
  });

  async function startOperator(): Promise<Operator> {
    const kc = await loadKubeConfig(identity.kubeconfig);
    const parsed = parseOperatorOptions(
      [
        '--no-leader-elect',
        '--namespaces',
        ns,
        '--listen-address',
        '127.0.0.1:0',
        '--identity',
        'ctl-canary',
      ],
      {},
    );
    if (parsed.kind !== 'options') throw new Error('bad options');
    const op = new Operator(parsed.options, [canaryPhaseController()], {
      kc,
      onRequest: recordingOptions('controllers/canary-phase').onRequest,
    });
    await op.start();
    return op;
  }

  after(async () => {
    await operator?.stop();
    await closeFlagConnections();
    redis?.disconnect();
    await redisT?.cleanup();
    await prom?.stop();
    await exporter?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
  });

  const status = async (name: string): Promise<CanaryPhaseStatus | undefined> =>
    (await admin.tryGet<CP>(CANARY_PHASE, ns, name))?.status;
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 90_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await probe())}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const waitStatus = (
    name: string,
    what: string,
    ok: (s: CanaryPhaseStatus) => boolean,
  ): Promise<CanaryPhaseStatus> =>
    waitFor(what, async () => {
      const s = await status(name);
      return s && ok(s) ? s : undefined;
    });
  /** Sets a gauge of one phase and waits until Prometheus shows it. */
  async function setGauge(metric: string, phase: string, value: number): Promise<void> {
    gauges[metric]!.set({ phase }, value);
    await waitFor(`${metric}{phase="${phase}"} = ${value}`, async () => {
      const r = await prom.query(`${metric}{phase="${phase}"}`);
      return r.length === 1 && Number(r[0]!.value[1]) === value ? true : undefined;
    });
  }
  const query = (metric: string, phase: string): string => `max(${metric}{phase="${phase}"})`;
  const create = (name: string, spec: CanaryPhaseSpec): Promise<CP> =>
    admin.create<CP>(CANARY_PHASE, ns, {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'CanaryPhase',
      metadata: { name },
      spec,
    });
  const annotate = (name: string, value: string): Promise<unknown> =>
    admin.patch(
      CANARY_PHASE,
      ns,
      name,
      { metadata: { annotations: { [ACTION_ANNOTATION]: value } } },
      'merge',
    );
  const redisFlag = async (prefix: string, service: string): Promise<Record<string, string>> =>
    redis.hgetall(`${prefix}flags:${service}:new-stack`);

  async function createRoute(name: string): Promise<KubeObject> {
    return admin.create(HTTP_ROUTE, ns, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name, annotations: { team: 'platform' } },
      spec: {
        parentRefs: [{ name: 'public-gw' }],
        rules: [{ backendRefs: [{ name: `${name}-legacy`, port: 8080 }] }],
      },
    });
  }
  async function createIngress(name: string): Promise<KubeObject> {
    return admin.create(INGRESS, ns, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: `${name}.nokta.test`,
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: `${name}-legacy`, port: { number: 8080 } } },
                },
              ],
            },
          },
        ],
      },
    });
  }

  it('one failed measurement does not roll back, two in a row do: flags, routes and Ingresses restored field by field', async () => {
    const prefix = `${redisT.prefix}a:`;
    const route = await createRoute('reports');
    await createIngress('pos');
    await setGauge('pos_p95', 'a', 0.5);
    await setGauge('reports_p95', 'a', 0.5);
    await create('two-failures', {
      flagProvider: {
        type: 'Redis',
        redis: { secretRef: { name: 'flags-redis', key: 'url' }, keyPrefix: prefix },
      },
      services: [
        {
          name: 'pos',
          routing: 'Flag',
          flagKey: 'new-stack',
          traffic: {
            ingress: {
              name: 'pos',
              newBackend: { name: 'pos-v2', port: 8080 },
              stickiness: { header: 'X-Stack', headerValue: 'new' },
            },
          },
        },
        {
          name: 'reports',
          routing: 'Traffic',
          traffic: {
            httpRoute: {
              name: 'reports',
              legacyBackend: { name: 'reports-legacy', port: 8080 },
              newBackend: { name: 'reports-v2', port: 8080 },
            },
          },
        },
      ],
      cohorts: [{ name: 'tenants', tenants: ['t1', 't2'] }],
      steps: [{ weight: 10, pause: '1h' }],
      analysis: {
        interval: '1s',
        consecutiveFailureLimit: 2,
        prometheusAddress: prom.url,
        metrics: [
          {
            name: 'pos-p95',
            services: ['pos'],
            prometheus: { query: query('pos_p95', 'a') },
            successCondition: 'result <= 1.5',
          },
          {
            name: 'reports-p95',
            services: ['reports'],
            prometheus: { query: query('reports_p95', 'a') },
            successCondition: 'result <= 1.5',
          },
        ],
      },
    });
    await waitStatus(
      'two-failures',
      'step applied and a success measured',
      (s) => s.appliedStep === 0 && (s.measurementsTaken ?? 0) >= 1,
    );
    const flag = await redisFlag(prefix, 'pos');
    assert.deepEqual(Object.keys(flag).sort(), ['t1', 't2']);
    assert.equal(parseState(flag.t1!).percentage, 10);
    const routed = await admin.get<KubeObject & { spec: { rules: Array<{ backendRefs: unknown[] }> } }>(
      HTTP_ROUTE,
      ns,
      'reports',
    );
    assert.deepEqual(plain(routed.spec.rules[0]!.backendRefs), [
      { group: '', kind: 'Service', name: 'reports-legacy', port: 8080, weight: 90 },
      { group: '', kind: 'Service', name: 'reports-v2', port: 8080, weight: 10 },
    ]);
    const canaryIngress = await admin.get<KubeObject>(INGRESS, ns, 'pos-canary');
    const ann = canaryIngress.metadata.annotations ?? {};
    assert.equal(
      ann['nginx.ingress.kubernetes.io/canary-weight'],
      '0',
      'a flag-routed service has no weight split',
    );
    assert.equal(ann['nginx.ingress.kubernetes.io/canary-by-header'], 'X-Stack');

    await setGauge('pos_p95', 'a', 3.2);
    const rolled = await waitStatus(
      'two-failures',
      'rolled back',
      (s) => s.phase === 'RolledBack' && s.restoredAt !== undefined,
    );
    // The decision: exactly two failed measurements of pos-p95 in a row, the second deciding.
    const pos = (rolled.measurements ?? []).filter((m) => m.metric === 'pos-p95');
    const failed = pos.filter((m) => m.result === 'Failed');
    assert.equal(failed.length, 2, JSON.stringify(pos));
    assert.equal(pos.at(-1)!.result, 'Failed');
    assert.equal(pos.at(-2)!.result, 'Failed');
    assert.equal(rolled.rollback?.metric, 'pos-p95');
    assert.equal(rolled.rollback?.value, '3.2');
    assert.equal(rolled.rollback?.at, failed[1]!.at);
    assert.deepEqual(rolled.rollback?.services, ['pos', 'reports'], 'scope Phase: every service');
    assert.match(rolled.rollback?.reason ?? '', /pos-p95 failed 2 times in a row/);
    // Restored exactly: no flag fields, the route as it was, the canary Ingress gone.
    assert.deepEqual(await redisFlag(prefix, 'pos'), {});
    const back = await admin.get<KubeObject & { spec: unknown }>(HTTP_ROUTE, ns, 'reports');
    assert.deepEqual(plain(back.spec), plain((route as KubeObject & { spec: unknown }).spec));
    assert.equal(back.metadata.annotations?.['cutover.nokta.io/previous-state'], undefined);
    assert.deepEqual(back.metadata.annotations, { team: 'platform' });
    assert.equal(await admin.tryGet(INGRESS, ns, 'pos-canary'), undefined);
    const events = (await admin.list(EVENT, { namespace: ns })).items.filter(
      (e) => (e.regarding as { name?: string }).name === 'two-failures',
    );
    assert.ok(events.some((e) => e.reason === 'RolledBack' && /pos-p95/.test(String(e.note))));
    const text = await operator!.metrics.text();
    const series = (name: string, labels: string): number =>
      Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    assert.equal(series('cutover_canary_rollbacks_total', `namespace="${ns}",canaryphase="two-failures"`), 1);
    assert.equal(
      series(
        'cutover_canary_measurements_total',
        `namespace="${ns}",canaryphase="two-failures",metric="pos-p95",result="Failed"`,
      ),
      2,
    );
  });

  it('rollbackScope Service (flagd ConfigMap): a failing POS metric rolls back POS and leaves drivers on', async () => {
    const original = {
      $schema: 'https://flagd.dev/schema/v0/flags.json',
      flags: {
        'legacy.banner': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' },
      },
    };
    await admin.create(CONFIG_MAP, ns, {
      metadata: { name: 'flags' },
      data: { [FLAGD_DATA_KEY]: JSON.stringify(original) },
    });
    await admin.create(CONFIG_MAP, ns, {
      metadata: { name: 'pilots' },
      data: { drivers: 'd-1\nd-2 # pilot\n\nd-3\n' },
    });
    await setGauge('pos_p95', 'b', 0.5);
    await setGauge('driver_p95', 'b', 1);
    await create('by-service', {
      flagProvider: { type: 'Flagd', flagd: { configMapName: 'flags' } },
      services: [
        { name: 'pos', routing: 'Flag', flagKey: 'new-stack' },
        { name: 'driver', routing: 'Flag', flagKey: 'new-stack' },
      ],
      cohorts: [
        {
          name: 'pilot-drivers',
          services: ['driver'],
          pilot: { attribute: 'driverId', membersFrom: { configMapName: 'pilots', key: 'drivers' } },
        },
      ],
      steps: [{ weight: 5, pause: '1h' }],
      analysis: {
        interval: '1s',
        rollbackScope: 'Service',
        prometheusAddress: prom.url,
        metrics: [
          {
            name: 'pos-p95',
            services: ['pos'],
            prometheus: { query: query('pos_p95', 'b') },
            successCondition: 'result <= 1.5',
          },
          {
            name: 'driver-p95',
            services: ['driver'],
            prometheus: { query: query('driver_p95', 'b') },
            successCondition: 'result <= 5',
          },
        ],
      },
    });
    await waitStatus(
      'by-service',
      'applied and measured',
      (s) => s.appliedStep === 0 && (s.measurementsTaken ?? 0) >= 1,
    );
    const doc = async (): Promise<{ flags: Record<string, unknown> }> =>
      JSON.parse(
        (await admin.get<KubeObject & { data: Record<string, string> }>(CONFIG_MAP, ns, 'flags')).data[
          FLAGD_DATA_KEY
        ]!,
      ) as {
        flags: Record<string, unknown>;
      };
    assert.ok((await doc()).flags['pos.new-stack']);
    assert.match(
      JSON.stringify((await doc()).flags['driver.new-stack']),
      /d-1.*d-2.*d-3/,
      'pilot members from the ConfigMap',
    );
    await setGauge('pos_p95', 'b', 4);
    const s = await waitStatus('by-service', 'POS rolled back', (x) =>
      (x.restoredServices ?? []).includes('pos'),
    );
    assert.equal(s.phase, 'Progressing');
    assert.deepEqual(s.rolledBackServices, ['pos']);
    const after = await doc();
    assert.equal(after.flags['pos.new-stack'], undefined, 'POS flag given back (it did not exist before)');
    assert.ok(after.flags['driver.new-stack'], 'drivers stay on the new stack');
    assert.deepEqual(after.flags['legacy.banner'], original.flags['legacy.banner']);
    const cm = await admin.get<KubeObject & { data: Record<string, string> }>(CONFIG_MAP, ns, 'flags');
    assert.ok(cm.data[STATE_DATA_KEY]);
    // Later rounds measure only the driver metric.
    const taken = s.measurementsTaken ?? 0;
    const later = await waitStatus(
      'by-service',
      'two more rounds',
      (x) => (x.measurementsTaken ?? 0) >= taken + 2,
    );
    const newer = (later.measurements ?? []).filter((m) => Date.parse(m.at!) > Date.parse(s.rollback!.at!));
    assert.ok(newer.length > 0 && newer.every((m) => m.metric === 'driver-p95'), JSON.stringify(newer));
  });

  it('promote skips the wait; abort gives every change back', async () => {
    const prefix = `${redisT.prefix}c:`;
    await setGauge('pos_p95', 'c', 0.5);
    await create('promote-abort', {
      flagProvider: {
        type: 'Redis',
        redis: { secretRef: { name: 'flags-redis', key: 'url' }, keyPrefix: prefix },
      },
      services: [{ name: 'pos', flagKey: 'new-stack' }],
      steps: [
        { weight: 5, pause: '1h' },
        { weight: 10, pause: '1h' },
      ],
      analysis: {
        interval: '1h',
        prometheusAddress: prom.url,
        metrics: [
          {
            name: 'pos-p95',
            prometheus: { query: query('pos_p95', 'c') },
            successCondition: 'result <= 1.5',
          },
        ],
      },
    });
    await waitStatus('promote-abort', 'step 0 applied', (s) => s.appliedStep === 0);
    assert.equal(parseState((await redisFlag(prefix, 'pos'))['*']!).percentage, 5);
    await annotate('promote-abort', 'promote:1');
    await waitStatus('promote-abort', 'step 1 applied', (s) => s.appliedStep === 1);
    const on10 = parseState((await redisFlag(prefix, 'pos'))['*']!);
    assert.equal(on10.percentage, 10);
    await annotate('promote-abort', 'abort:2');
    const s = await waitStatus(
      'promote-abort',
      'aborted and restored',
      (x) => x.phase === 'Aborted' && x.restoredAt !== undefined,
    );
    assert.equal(s.lastActionToken, 'abort:2');
    assert.deepEqual(await redisFlag(prefix, 'pos'), {});
  });

  it("timing the API server accepts but the operator cannot use stalls as InvalidSpec naming the field; endBy is checked against the Cutover's freeze", async () => {
    const prefix = `${redisT.prefix}t:`;
    const base = (): CanaryPhaseSpec => ({
      flagProvider: {
        type: 'Redis',
        redis: { secretRef: { name: 'flags-redis', key: 'url' }, keyPrefix: prefix },
      },
      services: [{ name: 'pos', flagKey: 'new-stack' }],
      steps: [{ weight: 5, pause: '2d' }, { weight: 10 }],
      analysis: {
        interval: '1h',
        prometheusAddress: prom.url,
        metrics: [
          {
            name: 'pos-p95',
            prometheus: { query: query('pos_p95', 't') },
            successCondition: 'result <= 1.5',
          },
        ],
      },
    });
    const stalled = (s: CanaryPhaseStatus): { reason?: string; message?: string } | undefined => {
      const c = (s.conditions ?? []).find((x) => x.type === 'Stalled' && x.status === 'True');
      return c ? { reason: c.reason, message: c.message } : undefined;
    };
    // Pauses of two days in a phase of one: days are what CEL cannot compare, so the API server takes it.
    await create('timing-pauses', { ...base(), duration: '1d' });
    const p = await waitStatus('timing-pauses', 'Stalled', (s) => stalled(s) !== undefined);
    assert.equal(stalled(p)?.reason, 'InvalidSpec');
    assert.match(
      stalled(p)?.message ?? '',
      /^spec.steps: .*step pauses \(2d = 2d\) do not fit into spec.duration \(1d\).*make duration at least 2d1s/,
    );
    assert.equal(p.appliedStep, undefined, 'nothing applied');
    assert.deepEqual(await redisFlag(prefix, 'pos'), {});

    // endBy one hour after the freeze of the Cutover it names (the sample's plan, freeze at 02:00).
    const sample = parseAllDocuments(readFileSync('samples/cutover-nokta.yaml', 'utf8'))
      .map((d) => d.toJS() as Cutover & KubeObject)
      .find((d) => d.kind === 'Cutover')!;
    await admin.create(CUTOVER, ns, { ...sample, metadata: { name: 'nokta' } });
    await create('timing-endby', {
      ...base(),
      // A service of its own (the Cutover's pos has a weight split, which a Flag service refuses).
      services: [{ name: 'kiosk', flagKey: 'new-stack' }],
      steps: [{ weight: 5, pause: '1h' }, { weight: 10 }],
      cutoverRef: { name: 'nokta' },
      endBy: '2026-12-01T03:00:00Z',
    });
    const e = await waitStatus('timing-endby', 'Stalled', (s) => stalled(s) !== undefined);
    assert.equal(stalled(e)?.reason, 'InvalidSpec');
    assert.match(
      stalled(e)?.message ?? '',
      /^spec.endBy: .*after the freeze of Cutover nokta \(2026-12-01T02:00:00Z\).*set endBy to 2026-12-01T02:00:00Z or earlier/,
    );
    // Fixed: the phase is synced again and goes on (it ends at its endBy, long past).
    await admin.patch(CANARY_PHASE, ns, 'timing-endby', { spec: { endBy: '2026-12-01T01:00:00Z' } });
    const fixed = await waitStatus(
      'timing-endby',
      'not stalled',
      (s) => stalled(s) === undefined && s.phase !== undefined,
    );
    assert.equal(fixed.phase, 'Succeeded', fixed.message);
  });

  it('no data and a Prometheus that is down pause the phase (their limits), never roll it back', async () => {
    const prefix = `${redisT.prefix}d:`;
    const down = `http://127.0.0.1:${await freePort()}`;
    await create('no-data', {
      flagProvider: {
        type: 'Redis',
        redis: { secretRef: { name: 'flags-redis', key: 'url' }, keyPrefix: prefix },
      },
      services: [{ name: 'pos', flagKey: 'new-stack' }],
      steps: [{ weight: 5, pause: '1h' }],
      analysis: {
        interval: '1s',
        noData: { limit: 2, onLimit: 'Pause' },
        error: { limit: 2, onLimit: 'Pause' },
        prometheusAddress: prom.url,
        metrics: [
          {
            name: 'absent',
            prometheus: { query: 'max(not_exported_anywhere)' },
            successCondition: 'result <= 1.5',
          },
          {
            name: 'unreachable',
            prometheus: { address: down, query: 'up', timeout: '2s' },
            successCondition: 'result == 1',
          },
        ],
      },
    });
    const s = await waitStatus('no-data', 'paused', (x) => x.phase === 'Paused');
    assert.match(s.pauseReason ?? '', /(absent without data|unreachable in error) 2 times in a row/);
    const results = new Set((s.measurements ?? []).map((m) => `${m.metric}:${m.result}`));
    assert.deepEqual([...results].sort(), ['absent:NoData', 'unreachable:Error']);
    assert.equal(s.rolledBackServices, undefined);
    assert.equal(
      parseState((await redisFlag(prefix, 'pos'))['*']!).percentage,
      5,
      'the exposure is held, not rolled back',
    );
  });

  it('an operator restart keeps the step, the measurements and the failure count; a round due while it was down is taken once', async () => {
    const prefix = `${redisT.prefix}e:`;
    await setGauge('pos_p95', 'e', 3);
    await create('restart', {
      flagProvider: {
        type: 'Redis',
        redis: { secretRef: { name: 'flags-redis', key: 'url' }, keyPrefix: prefix },
      },
      services: [{ name: 'pos', flagKey: 'new-stack' }],
      steps: [{ weight: 5, pause: '1h' }],
      analysis: {
        interval: '2s',
        consecutiveFailureLimit: 3,
        prometheusAddress: prom.url,
        metrics: [
          {
            name: 'pos-p95',
            prometheus: { query: query('pos_p95', 'e') },
            successCondition: 'result <= 1.5',
          },
        ],
      },
    });
    await waitStatus('restart', 'one failure', (s) => s.appliedStep === 0 && s.consecutiveFailures === 1);
    await operator!.stop();
    operator = undefined;
    const down = await status('restart');
    const version = await redis.get(`${prefix}flags:pos:new-stack:version`);
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 7000)); // three intervals missed
    operator = await startOperator();
    const after = await waitStatus(
      'restart',
      'rolled back',
      (s) => s.phase === 'RolledBack' && s.restoredAt !== undefined,
    );
    const rounds = (after.measurements ?? []).filter((m) => m.metric === 'pos-p95');
    assert.equal(rounds.length, 3, `failure 1 before the restart, 2 and 3 after: ${JSON.stringify(rounds)}`);
    assert.equal(
      after.measurementsTaken,
      (down?.measurementsTaken ?? 0) + 2,
      'the missed rounds were not replayed',
    );
    const [, second, third] = rounds.map((m) => Date.parse(m.at!));
    assert.ok(second! > stoppedAt, 'nothing measured while down');
    // Scheduled one interval (2 s) after the catch-up round's claim; a replay would follow at once.
    assert.ok(
      third! - second! >= 1000,
      `the round after the catch-up is an interval later, not a burst: ${third! - second!} ms`,
    );
    assert.equal(
      after.rollback?.reason?.includes('failed 3 times in a row'),
      true,
      'the count survived the restart',
    );
    assert.equal(down?.currentStep, 0);
    // One flip for the step before the restart, one for the restore: the step was not applied again.
    assert.equal(version, '1');
    assert.equal(await redis.get(`${prefix}flags:pos:new-stack:version`), '2');
  });
});
