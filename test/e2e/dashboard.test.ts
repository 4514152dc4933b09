/**
 * The war-room page in a real Chromium (Debian's /usr/bin/chromium driven by playwright-core)
 * against the local control plane, with the Cutover controller running in an operator (as the
 * operator's ServiceAccount) on a compressed clock (30x) and Redis for the flags:
 * - the page follows a Cutover live from start to steady state (pushed, the page never reloads);
 * - an approval made on the page (button, confirmation dialog) moves the timeline on;
 * - a rollback requested on the page with a reason shows its trigger and each action as it completes;
 * - a user without permission sees no action button, is told so, and gets a clear message if they try.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Redis } from 'ioredis';
import type { Cutover, CutoverSpec, CutoverStatus } from '../../src/api/index.js';
import { cutoverController } from '../../src/controllers/cutover/sync.js';
import { CUTOVER } from '../../src/controllers/kinds.js';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { KubeClient, type KubeObject } from '../../src/runtime/kube-client.js';
import { loadKubeConfig } from '../../src/runtime/kubeconfig.js';
import { Operator } from '../../src/runtime/operator.js';
import { parseOperatorOptions } from '../../src/runtime/options.js';
import { DEPLOYMENT, EVENT, HTTP_ROUTE, SECRET } from '../../src/runtime/resources.js';
import { recordingOptions } from '../support/api-usage.js';
import { useCluster, type TestCluster } from '../support/cluster.js';
import { operatorIdentity, type OperatorIdentity } from '../support/operator-identity.js';

type CutoverObject = Cutover & KubeObject;
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TIME_SCALE = 30;
/** Plan time 02:00 is this many real ms after the operator starts. */
const LEAD_MS = 4000;

/** Every text the element matching `selector` showed, in order (recorded in the page, across re-renders). */
async function recordTexts(page: Page, selector: string, key: string): Promise<void> {
  await page.evaluate(
    ({ selector, key }) => {
      const seen: string[] = [];
      (window as unknown as Record<string, string[]>)[key] = seen;
      const note = (): void => {
        const t = document.querySelector(selector)?.textContent ?? '';
        if (t && seen[seen.length - 1] !== t) seen.push(t);
      };
      note();
      new MutationObserver(note).observe(document.getElementById('app')!, { childList: true, subtree: true });
    },
    { selector, key },
  );
}
const recorded = (page: Page, key: string): Promise<string[]> =>
  page.evaluate((k) => (window as unknown as Record<string, string[]>)[k] ?? [], key);

describe('cutover dashboard in Chromium (real control plane, operator on a compressed clock, Redis)', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let ns: string;
  let identity: OperatorIdentity;
  let admin: KubeClient;
  let operator: Operator | undefined;
  let dashboard: Dashboard | undefined;
  let viewerDashboard: Dashboard | undefined;
  let browser: Browser | undefined;
  let redis: Redis;
  let planOrigin: number;
  let realOrigin: number;
  const prefix = `test-dashboard-${randomBytes(4).toString('hex')}:`;
  const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    await cluster.applyGatewayApiCrds();
    ns = await cluster.createNamespace('dashboard');
    identity = await operatorIdentity(cluster, ns);
    admin = new KubeClient(cluster.kc);
    redis = new Redis('redis://127.0.0.1:6379/0');
    await admin.create(SECRET, ns, {
      metadata: { name: 'redis' },
      stringData: { url: 'redis://127.0.0.1:6379/0' },
    });
    for (const route of ['pos', 'pos-rb'])
      await admin.create(HTTP_ROUTE, ns, {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: route, namespace: ns },
        spec: {
          parentRefs: [{ name: 'public-gw' }],
          rules: [{ backendRefs: [{ name: 'pos-legacy', port: 8080 }] }],
        },
      });
    for (const name of ['pos-legacy', 'pos-v2'])
      await admin.create(DEPLOYMENT, ns, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: ns },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: { containers: [{ name: 'app', image: 'pos' }] },
          },
        },
      });
    realOrigin = Date.now() + LEAD_MS;
    planOrigin = Date.parse('2026-12-02T02:00:00Z');
    const parsed = parseOperatorOptions(
      ['--no-leader-elect', '--namespaces', ns, '--listen-address', '127.0.0.1:0', '--identity', 'dashboard'],
      {},
    );
    if (parsed.kind !== 'options') throw new Error('bad options');
    operator = new Operator(
      parsed.options,
      [cutoverController({ timeScale: TIME_SCALE, timeOrigin: `${iso(planOrigin)}@${iso(realOrigin)}` })],
      { kc: await loadKubeConfig(identity.kubeconfig), ...recordingOptions('dashboard') },
    );
    await operator.start();
    dashboard = await startDashboard({
      kc: await loadKubeConfig(cluster.kubeconfigPath),
      port: 0,
      namespace: ns,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await dashboard?.stop();
    await viewerDashboard?.stop();
    await operator?.stop();
    admin?.close();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });

  const spec = (
    route: string,
    steps: CutoverSpec['timeline']['steps'],
    startAt = planOrigin,
  ): CutoverSpec => ({
    services: [
      {
        name: 'pos',
        flagKey: `pos.new-stack-${route}`,
        traffic: {
          httpRoute: {
            name: route,
            legacyBackend: { name: 'pos-legacy', port: 8080 },
            newBackend: { name: 'pos-v2', port: 8080 },
          },
        },
        legacy: { name: 'pos-legacy' },
        new: { name: 'pos-v2' },
      },
    ],
    databases: {
      legacy: { engine: 'mysql', secretRef: { name: 'legacy-admin' } },
      target: { engine: 'postgres', secretRef: { name: 'new-db' } },
    },
    flagProvider: { type: 'Redis', redis: { secretRef: { name: 'redis' }, keyPrefix: prefix } },
    timeline: { startAt: iso(startAt), steps },
    rollback: {
      triggers: { securityFlag: {} },
      order: ['TrafficBack', 'FlagsOff', 'Notify'],
      keepLegacyHotFor: '8m',
    },
    postCutover: { steadyStateAfter: '1m' },
  });
  const status = async (name: string): Promise<CutoverStatus> =>
    (await admin.tryGet<CutoverObject>(CUTOVER, ns, name))?.status ?? {};

  it('follows a compressed-clock Cutover live to steady state; an approval on the page moves the timeline on', async () => {
    const page = await browser!.newPage();
    await page.goto(`${dashboard!.url}/cutovers/${ns}/night`);
    await page.getByText('No such Cutover').waitFor();
    await recordTexts(page, '#phase', 'phases');
    await admin.create(CUTOVER, ns, {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Cutover',
      metadata: { name: 'night', namespace: ns },
      spec: spec('pos', [
        { name: 'switch', action: 'TrafficSwitch', offset: '+0s', owner: 'DevOps' },
        {
          name: 'go-live',
          action: 'EnableFlags',
          offset: '+1m',
          owner: 'Operations Lead',
          approval: { required: true },
        },
        { name: 'watch', action: 'Monitor', offset: '+2m', duration: '1m' },
        { name: 'report', action: 'Report', offset: '+4m' },
      ]),
    } satisfies CutoverObject);

    // The gate: the page offers the approval; a person approves through the confirmation dialog.
    const approve = page.getByRole('button', { name: 'Approve go-live' });
    await page
      .locator('[data-step="go-live"] .step-state', { hasText: 'AwaitingApproval' })
      .waitFor({ timeout: 60_000 });
    assert.equal(
      await page.locator('[data-step="switch"] .step-state').textContent(),
      'Succeeded',
      'the switch before it is shown done',
    );
    await approve.focus();
    await page.keyboard.press('Enter'); // keyboard works: Enter on the focused button
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Approve step go-live (EnableFlags) of night?').waitFor();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#toast', { hasText: 'done: approve go-live on Cutover' }).waitFor();
    await page
      .locator('[data-step="go-live"] .step-state', { hasText: 'Succeeded' })
      .waitFor({ timeout: 30_000 });
    await page.locator('[data-step="go-live"]', { hasText: 'approved by' }).waitFor();
    const st = await status('night');
    assert.equal(st.approvals?.[0]?.step, 'go-live');
    assert.match(
      st.approvals?.[0]?.by ?? '',
      /admin|system:/,
      'approved by the caller, as the API server knows it',
    );

    // Then on to post-cutover, each phase pushed to the page as it happens; the sign-off moves it to steady state.
    await page.locator('#phase', { hasText: 'PostCutover' }).waitFor({ timeout: 120_000 });
    await page.getByRole('button', { name: 'Approve steady state' }).click();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#toast', { hasText: 'done: approve steady-state on Cutover' }).waitFor();
    await page.locator('#phase', { hasText: 'SteadyState' }).waitFor({ timeout: 60_000 });
    const phases = await recorded(page, 'phases');
    const order = [
      'Pending',
      'AwaitingCutover',
      'CuttingOver',
      'Monitoring',
      'LegacyHot',
      'PostCutover',
      'SteadyState',
    ];
    const known = phases.filter((p) => order.includes(p));
    assert.deepEqual(
      known,
      [...known].sort((a, b) => order.indexOf(a) - order.indexOf(b)),
      phases.join(' → '),
    );
    for (const p of ['CuttingOver', 'LegacyHot', 'SteadyState'])
      assert.ok(phases.includes(p), `the page showed ${p}: ${phases.join(' → ')}`);
    for (const s of ['switch', 'go-live', 'watch', 'report'])
      assert.equal(await page.locator(`[data-step="${s}"] .step-state`).textContent(), 'Succeeded', s);
    // The event log: an events.k8s.io Event about this Cutover appears as it is recorded
    // (the Cutover controller itself records none; CanaryPhase and Reconciliation events show too).
    await admin.create(EVENT, ns, {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'night.dba-check', namespace: ns },
      eventTime: new Date().toISOString().replace('Z', '000Z'),
      reportingController: 'people/dba',
      reportingInstance: 'dba-on-call',
      action: 'Verify',
      reason: 'FreezeVerified',
      note: 'legacy row counts checked by the DBA on call',
      type: 'Normal',
      regarding: { apiVersion: 'cutover.nokta.io/v1alpha1', kind: 'Cutover', name: 'night', namespace: ns },
    });
    await page.locator('#events', { hasText: 'legacy row counts checked by the DBA on call' }).waitFor();
    await page.close();
  });

  it('a rollback requested on the page shows its trigger, reason and each action as it completes', async () => {
    const planNow = planOrigin + (Date.now() - realOrigin) * TIME_SCALE;
    await admin.create(CUTOVER, ns, {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Cutover',
      metadata: { name: 'rb', namespace: ns },
      spec: spec(
        'pos-rb',
        [
          { name: 'switch', action: 'TrafficSwitch', offset: '+0s' },
          { name: 'flags', action: 'EnableFlags', offset: '+0s' },
          { name: 'watch', action: 'Monitor', offset: '+0s', duration: '10h' },
        ],
        planNow,
      ),
    } satisfies CutoverObject);
    const page = await browser!.newPage();
    await page.goto(`${dashboard!.url}/cutovers/${ns}/rb`);
    await page
      .locator('[data-step="watch"] .step-state', { hasText: 'Running' })
      .waitFor({ timeout: 120_000 });
    assert.match(
      (await page.locator('[data-trigger="SecurityFlag"]').textContent()) ?? '',
      /not set/,
      'the security trigger is shown, not raised',
    );
    // Each rollback action's state as the page showed it, in order.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { rollbackSeen: string[] }).rollbackSeen = seen;
      new MutationObserver(() => {
        const rows = [...document.querySelectorAll('[data-rollback-action]')].map(
          (r) => `${r.getAttribute('data-rollback-action')}=${r.children[1]?.textContent ?? ''}`,
        );
        const line = rows.join(' ');
        if (line && seen[seen.length - 1] !== line) seen.push(line);
      }).observe(document.getElementById('app')!, { childList: true, subtree: true });
    });
    await page.getByRole('button', { name: 'Roll back…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason (required)').fill('payments fail for pilot tenants');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#toast', { hasText: 'done: roll back on Cutover' }).waitFor();
    await page.locator('#phase', { hasText: 'RolledBack' }).waitFor({ timeout: 120_000 });
    assert.match((await page.locator('#rollback h2').textContent()) ?? '', /Manual/);
    assert.match(
      (await page.locator('#rollback-reason').textContent()) ?? '',
      /payments fail for pilot tenants/,
    );
    assert.match(
      (await page.locator('[data-trigger="Manual"]').textContent()) ?? '',
      /payments fail for pilot tenants/,
    );
    const seen = await page.evaluate(() => (window as unknown as { rollbackSeen: string[] }).rollbackSeen);
    const final = seen[seen.length - 1] ?? '';
    assert.equal(final, 'TrafficBack=Succeeded FlagsOff=Succeeded Notify=Succeeded', seen.join('\n'));
    // Shown one by one: a render with TrafficBack done and Notify not yet.
    assert.ok(
      seen.some((l) => l.includes('TrafficBack=Succeeded') && !l.includes('Notify=Succeeded')),
      `each action shown as it completes:\n${seen.join('\n')}`,
    );
    await page.close();
  });

  it('a user without permission sees no action button and gets a clear message if they try', async () => {
    const viewer = 'war-room-viewer';
    const r = await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'Role',
            metadata: { name: viewer, namespace: ns },
            rules: [
              {
                apiGroups: ['cutover.nokta.io'],
                resources: ['cutovers', 'canaryphases', 'reconciliations'],
                verbs: ['get', 'list', 'watch'],
              },
              { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['get', 'list', 'watch'] },
            ],
          },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: { name: viewer, namespace: ns },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: viewer },
            subjects: [{ kind: 'ServiceAccount', name: viewer, namespace: ns }],
          },
        ],
      }),
    });
    assert.equal(r.code, 0, r.stderr);
    const kubeconfig = await cluster.restrictedKubeconfig(ns, viewer);
    viewerDashboard = await startDashboard({ kc: await loadKubeConfig(kubeconfig), port: 0, namespace: ns });
    const page = await browser!.newPage();
    await page.goto(`${viewerDashboard.url}/cutovers/${ns}/night`);
    await page.locator('#phase').waitFor();
    const notice = (await page.locator('#read-only').textContent()) ?? '';
    assert.match(notice, new RegExp(`system:serviceaccount:${ns}:${viewer} may not change this Cutover`));
    assert.equal(await page.locator('[data-action]').count(), 0, 'no action button');
    assert.equal(await page.getByRole('button').count(), 0, 'no button at all outside the (closed) dialog');

    // Trying anyway (the same path as a button): refused by the API server, said plainly.
    const result = await page.evaluate(
      (ns) =>
        (
          window as unknown as {
            cutoverDashboard: { act(r: Record<string, string>): Promise<{ ok: boolean; message: string }> };
          }
        ).cutoverDashboard.act({ kind: 'Cutover', namespace: ns, name: 'night', verb: 'pause' }),
      ns,
    );
    assert.equal(result.ok, false);
    assert.match(
      result.message,
      new RegExp(`not allowed: system:serviceaccount:${ns}:${viewer} may not pause on Cutover`),
    );
    assert.match((await page.locator('#toast').textContent()) ?? '', /not allowed: .*RBAC/);
    const co = await admin.get<CutoverObject>(CUTOVER, ns, 'night');
    assert.notEqual(co.spec.paused, true, 'nothing changed');

    // The index lists the Cutovers with their phase, for this user too.
    await page.goto(viewerDashboard.url);
    await page
      .locator('#cutovers')
      .getByRole('link', { name: `${ns}/night` })
      .waitFor();
    assert.equal(await page.locator('#cutovers tbody tr').count(), 2);
    await page.close();
  });
  it('refuses what a browser could be tricked into: another Host (DNS rebinding), a cross-origin POST (CSRF)', async () => {
    const raw = (path: string, method: string, headers: Record<string, string>, body = ''): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(`${dashboard!.url}${path}`, { method, headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
    const body = JSON.stringify({ kind: 'Cutover', namespace: ns, name: 'night', verb: 'pause' });
    const host = new URL(dashboard!.url).host;
    assert.equal(await raw('/', 'GET', { Host: 'attacker.example' }), 421);
    assert.equal(
      await raw('/api/action', 'POST', { Host: host, 'Content-Type': 'application/json' }, body),
      403,
    );
    assert.equal(
      await raw(
        '/api/action',
        'POST',
        { Host: host, Origin: 'http://attacker.example', 'Content-Type': 'application/json' },
        body,
      ),
      403,
    );
    assert.notEqual(
      (await admin.get<CutoverObject>(CUTOVER, ns, 'night')).spec.paused,
      true,
      'nothing changed',
    );
    const page = await fetch(`${dashboard!.url}/`);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  });
});
