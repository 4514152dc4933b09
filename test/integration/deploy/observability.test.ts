/**
 * deploy/observability: the PrometheusRule and the Grafana dashboard.
 * - promtool (Debian's prometheus package) parses every rule and every dashboard query, and runs
 *   the alert unit tests of prometheusrule.test.yaml;
 * - every metric they name is one the operator or its shadow proxy really exports;
 * - a real Prometheus scraping the operator's metrics registry (a recorded Reconciliation run,
 *   the phases of three objects, the leader gauge) answers every dashboard query, and the alert
 *   expressions select the series they are meant to.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { OperatorMetrics } from '../../../src/runtime/metrics.js';
import { ShadowMetrics } from '../../../src/shadow/metrics.js';
import { recordRun } from '../../../src/controllers/reconciliation/metrics.js';
import { canaryMetrics } from '../../../src/controllers/canary-phase/metrics.js';
import type { RunResult } from '../../../src/reconciliation/result.js';
import { startPrometheus, startTestExporter } from '../../support/prometheus.js';
import { promtool } from './tools.js';

const RULE_FILE = 'deploy/observability/prometheusrule.yaml';
const RULE_TESTS = 'deploy/observability/prometheusrule.test.yaml';
const DASHBOARD = 'deploy/observability/grafana-dashboard.json';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface RuleGroups {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
}

function ruleGroups(): RuleGroups {
  const doc = parse(readFileSync(RULE_FILE, 'utf8')) as { kind: string; spec: RuleGroups };
  assert.equal(doc.kind, 'PrometheusRule');
  return doc.spec;
}

function alerts(): Rule[] {
  return ruleGroups().groups.flatMap((g) => g.rules);
}

/** Every query of the dashboard with Grafana's variables replaced by what Prometheus takes. */
function dashboardQueries(): Array<{ panel: string; expr: string }> {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  return d.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      expr: t.expr
        .replaceAll('$namespace', '.*')
        .replaceAll('$__rate_interval', '1m')
        .replaceAll('$__range', '1h'),
    })),
  );
}

/** Metric names the operator and its shadow proxy export (histograms with their series). */
async function exportedNames(): Promise<Set<string>> {
  const operator = new OperatorMetrics();
  recordRun(operator.registry, 'ns', 'r', runResult(0.1));
  canaryMetrics(operator.registry); // registered by the CanaryPhase controller in the operator's registry
  const shadow = new ShadowMetrics();
  const names = new Set<string>();
  for (const registry of [operator.registry, shadow.registry]) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram')
        for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    }
  }
  return names;
}

function runResult(variance: number): RunResult {
  const now = Date.now();
  return {
    verdict: variance >= 1 ? 'Failed' : 'Passed',
    startedAt: new Date(now - 42_000).toISOString(),
    finishedAt: new Date(now).toISOString(),
    rowsCompared: 1000,
    checks: [
      {
        name: 'orders-count',
        type: 'count',
        verdict: variance >= 1 ? 'Failed' : 'Passed',
        variancePercent: variance,
        tenants: [],
        differingKeys: [],
        thresholds: { remediatePercent: 0.5, failPercent: 1 },
      },
    ],
  };
}

describe('deploy/observability: PrometheusRule and Grafana dashboard', function () {
  this.timeout(120_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-promtool-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('promtool checks the rules and runs their unit tests (each alert fires on its series, and only there)', async () => {
    writeFileSync(join(dir, 'rules.yaml'), stringify(ruleGroups()));
    const check = await promtool(['check', 'rules', join(dir, 'rules.yaml')]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`SUCCESS: ${alerts().length} rules found`));
    assert.deepEqual(
      alerts()
        .map((a) => a.alert)
        .sort(),
      [
        'CutoverOperatorDown',
        'CutoverOperatorNoLeader',
        'CutoverPhaseStalled',
        'CutoverReconciliationFailed',
        'CutoverReconciliationLastRunTooOld',
        'CutoverReconciliationVarianceHigh',
        'CutoverRollbackStarted',
        'CutoverSyncErrors',
      ],
    );
    copyFileSync(RULE_TESTS, join(dir, 'prometheusrule.test.yaml'));
    const tested = await promtool(['test', 'rules', join(dir, 'prometheusrule.test.yaml')]);
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /SUCCESS/);
    // Every alert has at least one case in which it fires.
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as {
      tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const firing = new Set(
      tests.tests.flatMap((t) =>
        t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    for (const a of alerts()) assert.ok(firing.has(a.alert!), `${a.alert} has a case in which it fires`);
  });

  it('promtool parses every query of the dashboard', async () => {
    const queries = dashboardQueries();
    assert.ok(queries.length >= 20, `${queries.length} queries`);
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr })),
        },
      ],
    };
    writeFileSync(join(dir, 'dashboard-queries.yaml'), stringify(rules));
    const check = await promtool(['check', 'rules', join(dir, 'dashboard-queries.yaml')]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`SUCCESS: ${queries.length} rules found`));
  });

  it('names only metrics the operator and its shadow proxy export', async () => {
    const exported = await exportedNames();
    const used = new Set<string>();
    for (const e of [...alerts().map((a) => a.expr), ...dashboardQueries().map((q) => q.expr)])
      for (const m of e.matchAll(/\bcutover_[a-z0-9_]+/g)) used.add(m[0]);
    const unknown = [...used].filter((n) => !exported.has(n)).sort();
    assert.deepEqual(unknown, [], 'metrics nothing exports');
    for (const n of [
      'cutover_build_info',
      'cutover_reconciliation_last_run_timestamp_seconds',
      'cutover_phase',
      'cutover_phase_since_timestamp_seconds',
    ])
      assert.ok(used.has(n), `${n} is used`);
  });

  it('a real Prometheus scraping the operator metrics answers every dashboard query; the alert expressions select the right series', async () => {
    const operator = new OperatorMetrics();
    operator.leader.set(1);
    recordRun(operator.registry, 'nokta', 'pos-orders', runResult(1.5));
    const t0 = Date.now();
    operator.observePhase('Reconciliation', 'nokta', 'pos-orders', 'Failed', t0);
    operator.observePhase('Cutover', 'nokta', 'nokta', 'CuttingOver', t0 - 7 * 3600_000);
    operator.observePhase('Cutover', 'nokta', 'nokta', 'RollingBack', t0 - 7 * 3600_000);
    operator.observePhase('CanaryPhase', 'nokta', 'pos-canary', 'Progressing', t0 - 3600_000);
    const canary = canaryMetrics(operator.registry);
    canary.weight.set({ namespace: 'nokta', canaryphase: 'pos-canary' }, 25);
    canary.measurements.inc({
      namespace: 'nokta',
      canaryphase: 'pos-canary',
      metric: 'error-rate',
      result: 'Failed',
    });
    canary.failures.set({ namespace: 'nokta', canaryphase: 'pos-canary', metric: 'error-rate' }, 2);
    canary.value.set({ namespace: 'nokta', canaryphase: 'pos-canary', metric: 'error-rate' }, 0.07);
    canary.rollbacks.inc({ namespace: 'nokta', canaryphase: 'pos-canary' });
    const shadow = new ShadowMetrics();
    shadow.compared.inc({ service: 'pos', route: '/orders' }, 10);
    shadow.differing.inc({ service: 'pos', route: '/orders' }, 1);
    const opExporter = await startTestExporter(operator.registry);
    const shadowExporter = await startTestExporter(shadow.registry);
    const prom = await startPrometheus({ targets: [opExporter.target, shadowExporter.target] });
    try {
      await prom.waitForTargets();
      for (const q of dashboardQueries()) await prom.query(q.expr);
      const variance = await prom.query(
        dashboardQueries().find((q) => q.panel === 'Variance per check (last run)')!.expr,
      );
      assert.deepEqual(
        variance.map((v) => [v.metric.reconciliation, v.metric.check, v.value[1]]),
        [['pos-orders', 'orders-count', '1.5']],
      );
      const weight = await prom.query(
        dashboardQueries().find((q) => q.panel === 'Canary weight (flag percentage / route weight)')!.expr,
      );
      assert.deepEqual(
        weight.map((v) => [v.metric.canaryphase, v.value[1]]),
        [['pos-canary', '25']],
      );
      const analysis = dashboardQueries().filter(
        (q) => q.panel === 'Analysis values and consecutive failures',
      );
      assert.deepEqual(
        (await prom.query(analysis[1]!.expr)).map((v) => [v.metric.metric, v.value[1]]),
        [['error-rate', '2']],
      );
      const rollbackEvents = dashboardQueries().filter((q) => q.panel === 'Rollback events');
      assert.deepEqual(
        (await prom.query(rollbackEvents[1]!.expr)).map((v) => `${v.metric.name} ${v.metric.phase}`),
        ['nokta RollingBack'],
      );
      const version = await prom.query(dashboardQueries().find((q) => q.panel === 'Versions')!.expr);
      assert.equal(version.length, 1);
      assert.equal(version[0]!.metric.version, '0.1.0');
      assert.equal(version[0]!.metric.node_version, process.version);

      const expr = (name: string): string => alerts().find((a) => a.alert === name)!.expr;
      const high = await prom.query(expr('CutoverReconciliationVarianceHigh'));
      assert.deepEqual(
        high.map((v) => v.metric.check),
        ['orders-count'],
      );
      const failed = await prom.query(expr('CutoverReconciliationFailed'));
      assert.deepEqual(
        failed.map((v) => `${v.metric.name} ${v.metric.phase}`),
        ['pos-orders Failed'],
      );
      const rollback = await prom.query(expr('CutoverRollbackStarted'));
      assert.deepEqual(
        rollback.map((v) => `${v.metric.kind} ${v.metric.name} ${v.metric.phase}`),
        ['Cutover nokta RollingBack'],
      );
      // The Cutover has been RollingBack for 7 h (over 6 h); the canary Progressing for 1 h (under 12 h).
      const stalled = await prom.query(expr('CutoverPhaseStalled'));
      assert.deepEqual(
        stalled.map((v) => `${v.metric.kind} ${v.metric.name} ${v.metric.phase}`),
        ['Cutover nokta RollingBack'],
      );
      assert.deepEqual(await prom.query(expr('CutoverReconciliationLastRunTooOld')), []);
      assert.deepEqual(await prom.query(expr('CutoverOperatorNoLeader')), []);
    } finally {
      await prom.stop();
      await opExporter.stop();
      await shadowExporter.stop();
    }
  });
});
