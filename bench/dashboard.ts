/**
 * `npm run bench -- dashboard`: the war-room page with 20 Cutovers and 200 Reconciliations (10
 * per Cutover, each with 5 checks over 10 tenants in its status) on the local control plane, in a
 * real Chromium (/usr/bin/chromium through playwright-core). Prints, median and worst of several:
 * - first render: navigation start → the page rendered the pushed data (index and a Cutover page;
 *   goal < 1 s);
 * - update: a status written on the API server → the page shows it (goal < 1 s);
 * - page weight: HTML + script + stylesheet + the first pushed message of a Cutover page, in KB.
 * The statuses are written by the bench (no operator): the page reads only status.
 */
import { chromium } from 'playwright-core';
import type { Cutover, Reconciliation } from '../src/api/types.js';
import { CUTOVER, RECONCILIATION } from '../src/controllers/kinds.js';
import { startDashboard } from '../src/dashboard/server.js';
import { KubeClient, type KubeObject } from '../src/runtime/kube-client.js';
import { loadKubeConfig } from '../src/runtime/kubeconfig.js';
import { stopSharedCluster, useCluster } from '../test/support/cluster.js';

const CUTOVERS = 20;
const RECONS_PER_CUTOVER = 10;
const ROUNDS = 7;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (xs: number[]): string =>
  `median ${median(xs).toFixed(0)} ms, worst ${Math.max(...xs).toFixed(0)} ms`;

function reconciliation(ns: string, name: string, seed: number): Reconciliation & KubeObject {
  return {
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'Reconciliation',
    metadata: { name, namespace: ns },
    spec: {
      legacy: { engine: 'mysql', secretRef: { name: 'legacy' } },
      target: { engine: 'postgres', secretRef: { name: 'new-db' } },
      checks: [
        { name: 'orders-count', type: 'count', legacy: { table: 'orders' }, target: { table: 'orders' } },
      ],
    },
    status: {
      phase: 'RemediationNeeded',
      lastRun: { startedAt: new Date().toISOString(), verdict: 'RemediationNeeded' },
      summary: { checks: 5, passed: 4, failed: 1, maxVariancePercent: String((seed % 7) / 10) },
      checks: Array.from({ length: 5 }, (_, c) => ({
        name: `check-${c}`,
        verdict: c === 0 ? ('RemediationNeeded' as const) : ('Passed' as const),
        variancePercent: c === 0 ? (seed % 7) / 10 : 0,
        legacyValue: '100000',
        targetValue: '99990',
        worstTenant: 'tenant-3',
        tenants: Array.from({ length: 10 }, (_, t) => ({
          tenant: `tenant-${t}`,
          legacy: '10000',
          target: t === 3 ? '9990' : '10000',
          variancePercent: t === 3 ? 0.1 : 0,
          verdict: t === 3 ? ('RemediationNeeded' as const) : ('Passed' as const),
        })),
        differingKeys: Array.from({ length: 5 }, (_, k) => ({
          tenant: 'tenant-3',
          key: String(1000 + k),
          kind: 'changed' as const,
          columns: ['total'],
        })),
      })),
    },
  };
}

function cutover(ns: string, name: string, recons: string[]): Cutover & KubeObject {
  return {
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'Cutover',
    metadata: { name, namespace: ns },
    spec: {
      services: [
        {
          name: 'pos',
          flagKey: 'pos.new-stack',
          legacy: { name: 'pos-legacy' },
          new: { name: 'pos-v2' },
        },
      ],
      databases: {
        legacy: { engine: 'mysql', secretRef: { name: 'legacy' } },
        target: { engine: 'postgres', secretRef: { name: 'new-db' } },
      },
      timeline: {
        startAt: '2026-12-02T02:00:00Z',
        steps: [
          {
            name: 'freeze',
            action: 'Monitor',
            offset: '+0s',
            owner: 'Operations Lead',
            duration: '1m',
          },
          { name: 'switch', action: 'TrafficSwitch', offset: '+30m', owner: 'DevOps' },
          {
            name: 'sign-off',
            action: 'ReconciliationSignOff',
            offset: '+45m',
            reconciliations: recons,
            approval: { required: true },
          },
          { name: 'report', action: 'Report', offset: '+4h' },
        ],
      },
      rollback: {
        triggers: { securityFlag: {}, reconciliationVariance: { percent: 1 } },
        order: ['TrafficBack', 'FlagsOff', 'Notify'],
      },
      postCutover: { reconciliations: recons },
    },
  };
}

export async function runDashboardBench(): Promise<void> {
  const cluster = await useCluster();
  await cluster.applyCrds();
  const ns = await cluster.createNamespace('bench-dashboard');
  const admin = new KubeClient(cluster.kc);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
  try {
    for (let c = 0; c < CUTOVERS; c++) {
      const names = Array.from({ length: RECONS_PER_CUTOVER }, (_, r) => `co-${c}-recon-${r}`);
      for (const [r, n] of names.entries()) {
        const obj = reconciliation(ns, n, c * RECONS_PER_CUTOVER + r);
        await admin.create(RECONCILIATION, ns, obj);
        await admin.patch(RECONCILIATION, ns, n, { status: obj.status }, 'merge', { subresource: 'status' });
      }
      await admin.create(CUTOVER, ns, cutover(ns, `cutover-${c}`, names));
      await admin.patch(
        CUTOVER,
        ns,
        `cutover-${c}`,
        {
          status: {
            phase: 'CuttingOver',
            currentStep: 'switch',
            nextStep: 'sign-off',
            nextStepAt: '2026-12-02T02:45:00Z',
            steps: [
              { name: 'freeze', state: 'Succeeded', plannedAt: '2026-12-02T02:00:00Z' },
              { name: 'switch', state: 'Running', plannedAt: '2026-12-02T02:30:00Z' },
            ],
          },
        },
        'merge',
        { subresource: 'status' },
      );
    }
    const t0 = Date.now();
    dashboard = await startDashboard({ kc: await loadKubeConfig(cluster.kubeconfigPath), port: 0 });
    process.stdout.write(
      `dashboard synced ${CUTOVERS} Cutovers and ${CUTOVERS * RECONS_PER_CUTOVER} Reconciliations in ${Date.now() - t0} ms\n`,
    );
    const page = await browser.newPage();
    const firstRender = async (path: string): Promise<number> => {
      await page.goto('about:blank');
      const start = Date.now();
      await page.goto(`${dashboard!.url}${path}`);
      await page.waitForSelector('body[data-rendered]');
      return Date.now() - start;
    };
    const index: number[] = [];
    const detail: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      index.push(await firstRender('/'));
      detail.push(await firstRender(`/cutovers/${ns}/cutover-${i % CUTOVERS}`));
    }
    const rows = await (async () => {
      await firstRender('/');
      return page.locator('#cutovers tbody tr').count();
    })();
    process.stdout.write(`first render, index (${rows} Cutovers): ${fmt(index)}\n`);
    process.stdout.write(`first render, one Cutover with 10 Reconciliations (50 checks): ${fmt(detail)}\n`);

    await firstRender(`/cutovers/${ns}/cutover-0`);
    const updates: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const marker = `bench update ${i} ${Date.now()}`;
      const start = Date.now();
      await admin.patch(CUTOVER, ns, 'cutover-0', { status: { message: marker } }, 'merge', {
        subresource: 'status',
      });
      await page.locator('#message', { hasText: marker }).waitFor({ timeout: 10_000 });
      updates.push(Date.now() - start);
    }
    process.stdout.write(`status change → shown on the page: ${fmt(updates)}\n`);

    const size = async (path: string): Promise<number> =>
      (await (await fetch(`${dashboard!.url}${path}`)).arrayBuffer()).byteLength;
    const html = await size(`/cutovers/${ns}/cutover-0`);
    const js = await size('/assets/app.js');
    const css = await size('/assets/app.css');
    const firstMessage = async (query: string): Promise<number> => {
      const ctl = new AbortController();
      const res = await fetch(`${dashboard!.url}/events${query}`, { signal: ctl.signal });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('\n\n')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
      ctl.abort();
      return Buffer.byteLength(text.slice(0, text.indexOf('\n\n')));
    };
    const data = await firstMessage(`?namespace=${ns}&name=cutover-0`);
    const indexData = await firstMessage('');
    const kb = (n: number): string => (n / 1024).toFixed(1);
    process.stdout.write(
      `page weight: HTML ${kb(html)} KB + script ${kb(js)} KB + stylesheet ${kb(css)} KB (no framework, no chart library) = ${kb(html + js + css)} KB; first message ${kb(data)} KB (Cutover page), ${kb(indexData)} KB (index)\n`,
    );
  } finally {
    await browser.close();
    await dashboard?.stop();
    await cluster.deleteNamespace(ns);
    admin.close();
    await stopSharedCluster();
  }
}
