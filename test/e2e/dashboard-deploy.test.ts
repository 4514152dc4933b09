/**
 * The war-room page as deploy/dashboard ships it: the manifests (ServiceAccount, read-only
 * ClusterRole and its binding, Deployment, Service, Ingress) applied server-side to the local
 * control plane, then `cutover dashboard` run with the Deployment's own arguments under that
 * ServiceAccount's token (what the Pod's in-cluster configuration gives it), and the page checked
 * in a real Chromium: every Cutover visible, no action button, an action refused with a clear
 * message naming the ServiceAccount, nothing changed; the shadow traffic per service, SLO-breach
 * trigger closeness moved on by the page's own timer (nothing fetched) and the Cutover's Events in
 * the log; and it answers the ingress's host name.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { parseAllDocuments } from 'yaml';
import type { Cutover } from '../../src/api/index.js';
import { CUTOVER } from '../../src/controllers/kinds.js';
import { freePort } from '../../src/devenv/processes.js';
import { KubeClient, type KubeObject } from '../../src/runtime/kube-client.js';
import { kubeMicroTime } from '../../src/runtime/conditions.js';
import { EVENT } from '../../src/runtime/resources.js';
import { useCluster, type TestCluster } from '../support/cluster.js';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const DIR = 'deploy/dashboard';
const CLI = 'dist/src/cli/main.js';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

function manifests(): Manifest[] {
  const kustomization = parseAllDocuments(
    readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'),
  )[0]!.toJS() as {
    resources: string[];
  };
  assert.deepEqual(
    [...kustomization.resources].sort(),
    readdirSync(DIR)
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .sort(),
    'the kustomization lists every manifest of deploy/dashboard',
  );
  return kustomization.resources.flatMap((f) =>
    parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => d.toJS() as Manifest),
  );
}

describe('deploy/dashboard: the war-room page in the cluster with a read-only ServiceAccount (Chromium)', function () {
  this.timeout(240_000);
  let cluster: TestCluster;
  let ns: string;
  let admin: KubeClient;
  let browser: Browser | undefined;
  let child: ChildProcess | undefined;
  let url: string;
  let suffix: string;
  const applied = manifests();

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    ns = await cluster.createNamespace('dash-deploy');
    admin = new KubeClient(cluster.kc);
    suffix = ns;
    // The manifests as shipped, moved into this test's namespace; cluster-wide names get the
    // namespace as a suffix so parallel runs never share them.
    const moved = applied.map((m) => {
      const o = JSON.parse(JSON.stringify(m)) as Manifest & {
        subjects?: { namespace: string }[];
        roleRef?: { name: string };
      };
      if (o.metadata.namespace) o.metadata.namespace = ns;
      if (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding') o.metadata.name += `-${suffix}`;
      if (o.kind === 'ClusterRoleBinding') {
        o.roleRef!.name += `-${suffix}`;
        for (const s of o.subjects ?? []) s.namespace = ns;
      }
      return o;
    });
    const r = await cluster.kubectl(
      ['apply', '--server-side', '--field-manager', 'cutover-test', '-f', '-'],
      { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: moved }) },
    );
    assert.equal(r.code, 0, r.stderr);
    for (const kind of ['serviceaccount', 'deployment', 'service', 'ingress'])
      assert.match(r.stdout, new RegExp(`${kind}[^ ]*/cutover-dashboard serverside-applied`), r.stdout);

    await admin.create<Cutover & KubeObject>(CUTOVER, ns, {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Cutover',
      metadata: { name: 'night' },
      spec: {
        services: [
          { name: 'pos', flagKey: 'pos.new-stack', legacy: { name: 'pos-legacy' }, new: { name: 'pos-v2' } },
        ],
        databases: {
          legacy: { engine: 'mysql', secretRef: { name: 'legacy-admin' } },
          target: { engine: 'postgres', secretRef: { name: 'new-db' } },
        },
        flagProvider: { type: 'Redis', redis: { secretRef: { name: 'redis' } } },
        timeline: {
          startAt: '2027-01-10T02:00:00Z',
          steps: [{ name: 'switch', action: 'TrafficSwitch', offset: '+0s', owner: 'DevOps' }],
        },
        rollback: { triggers: { securityFlag: {} }, order: ['TrafficBack', 'FlagsOff', 'Notify'] },
      },
    });

    // The Deployment's own arguments, on a free port, with the ServiceAccount's token.
    const deployment = applied.find((m) => m.kind === 'Deployment')! as Manifest & {
      spec: { template: { spec: { serviceAccountName: string; containers: { args: string[] }[] } } };
    };
    const pod = deployment.spec.template.spec;
    const kubeconfig = await cluster.restrictedKubeconfig(ns, pod.serviceAccountName);
    const args = [...pod.containers[0]!.args];
    const port = await freePort();
    args[args.indexOf('--port') + 1] = String(port);
    assert.equal(
      args[args.indexOf('--address') + 1],
      '0.0.0.0',
      'listens beyond loopback (behind the ingress)',
    );
    child = spawn(process.execPath, [CLI, ...args, '--kubeconfig', kubeconfig], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'warn' },
    });
    url = await new Promise<string>((resolve, reject) => {
      let err = '';
      child!.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (/dashboard listening on /.test(err)) resolve(`http://127.0.0.1:${port}`);
      });
      child!.on('exit', (code) => reject(new Error(`cutover dashboard exited with ${code}: ${err}`)));
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    child?.kill('SIGTERM');
    if (cluster) {
      await cluster.kubectl([
        'delete',
        'clusterrolebinding',
        `cutover-dashboard-read-only-${suffix}`,
        '--ignore-not-found',
      ]);
      await cluster.kubectl([
        'delete',
        'clusterrole',
        `cutover-dashboard-read-only-${suffix}`,
        '--ignore-not-found',
      ]);
    }
    admin?.close();
    if (ns) await cluster.deleteNamespace(ns);
  });

  it('the ClusterRole allows get, list and watch only', async () => {
    const r = await cluster.kubectl([
      'get',
      'clusterrole',
      `cutover-dashboard-read-only-${suffix}`,
      '-o',
      'json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const role = JSON.parse(r.stdout) as { rules: { verbs: string[]; resources: string[] }[] };
    const verbs = new Set(role.rules.flatMap((r) => r.verbs));
    assert.deepEqual([...verbs].sort(), ['get', 'list', 'watch']);
    assert.deepEqual(role.rules.flatMap((r) => r.resources).sort(), [
      'canaryphases',
      'cutovers',
      'events',
      'reconciliations',
    ]);
  });

  it('under that ServiceAccount the page shows no action button and refuses actions with a clear message', async () => {
    const sa = `system:serviceaccount:${ns}:cutover-dashboard`;
    const page = await browser!.newPage();
    // The index: every Cutover the ServiceAccount may list, with its phase.
    await page.goto(url);
    await page
      .locator('#cutovers')
      .getByRole('link', { name: `${ns}/night` })
      .waitFor();
    await page.goto(`${url}/cutovers/${ns}/night`);
    await page.locator('#phase').waitFor();
    const notice = (await page.locator('#read-only').textContent()) ?? '';
    assert.match(notice, new RegExp(`${sa} may not change this Cutover`));
    assert.equal(await page.locator('[data-action]').count(), 0, 'no action button');
    assert.equal(await page.getByRole('button').count(), 0, 'no button at all outside the (closed) dialog');
    for (const [verb, said] of [
      ['pause', 'pause'],
      ['rollback', 'roll back'],
    ] as const) {
      const request: Record<string, string> = { kind: 'Cutover', namespace: ns, name: 'night', verb };
      if (verb === 'rollback') request.reason = 'war-room test';
      const result = await page.evaluate(
        (r) =>
          (
            window as unknown as {
              cutoverDashboard: { act(r: Record<string, string>): Promise<{ ok: boolean; message: string }> };
            }
          ).cutoverDashboard.act(r),
        request,
      );
      assert.equal(result.ok, false, verb);
      assert.match(
        result.message,
        new RegExp(`not allowed: ${sa} may not ${said} on Cutover ${ns}/night`),
        result.message,
      );
    }
    assert.match((await page.locator('#toast').textContent()) ?? '', /not allowed: .*RBAC/);
    const co = await admin.get<Cutover & KubeObject>(CUTOVER, ns, 'night');
    assert.notEqual(co.spec.paused, true, 'nothing changed');
    assert.equal(co.metadata.annotations?.['cutover.nokta.io/action'], undefined, 'nothing changed');
    await page.close();
  });

  it('shows the shadow traffic per service, moves SLO-breach closeness on its own timer, and logs the Cutover Events', async () => {
    // No operator runs here, so the test writes the status the Cutover controller would.
    const now = Date.now();
    const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
    await admin.patch(CUTOVER, ns, 'night', {
      spec: {
        shadow: {
          startAt: iso(now - 3_600_000),
          endAt: iso(now + 3_600_000),
          maxDifferencePercent: 1,
          minCompared: 50,
        },
        rollback: { triggers: { securityFlag: {}, sloBreach: { for: '10m' } } },
      },
    });
    await admin.patch(
      CUTOVER,
      ns,
      'night',
      {
        status: {
          phase: 'Shadow',
          shadow: {
            proxies: [
              {
                service: 'pos',
                state: 'Deployed',
                compared: 400,
                differing: 12,
                differencePercent: 3,
                measuredAt: iso(now),
              },
              {
                service: 'drivers',
                state: 'Deployed',
                compared: 800,
                differing: 0,
                differencePercent: 0,
                measuredAt: iso(now),
              },
            ],
          },
          // Breached 5 of the 10 minutes ago: closeness 0.5 now, moving on with the clock.
          sloBreaches: [{ slo: 'pos-p95', since: iso(now - 300_000), value: '2.1' }],
        },
      },
      'merge',
      { subresource: 'status' },
    );
    await admin.create(EVENT, ns, {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `night.${Date.now()}` },
      eventTime: kubeMicroTime(new Date()),
      reportingController: 'cutover.nokta.io/cutover',
      reportingInstance: 'test',
      action: 'Shadow',
      reason: 'ShadowProxyDeployed',
      type: 'Normal',
      note: 'pos routed through the comparing shadow proxy',
      regarding: { apiVersion: 'cutover.nokta.io/v1alpha1', kind: 'Cutover', namespace: ns, name: 'night' },
    });
    const page = await browser!.newPage();
    await page.goto(`${url}/cutovers/${ns}/night`);
    const pos = page.locator('#shadow-proxies tr[data-service="pos"]');
    await pos.waitFor();
    assert.match((await pos.textContent()) ?? '', /3 %.*1 %.*12 of 400.*Deployed/);
    assert.equal(await pos.locator('td.bad').count(), 1, 'over the go/no-go limit');
    const drivers = page.locator('#shadow-proxies tr[data-service="drivers"]');
    assert.match((await drivers.textContent()) ?? '', /0 %/);
    assert.equal(await drivers.locator('td.ok').count(), 1);
    // The Cutover's own Event in the log.
    await page.locator('#events', { hasText: 'ShadowProxyDeployed' }).waitFor();
    assert.match(
      (await page.locator('#events').textContent()) ?? '',
      /Cutover night.*pos routed through the comparing shadow proxy/,
    );

    // Trigger closeness moves with the page's clock alone: no request leaves the page meanwhile.
    const slo = page.locator('#triggers tr[data-trigger="SloBreach"] .closeness');
    const read = async (): Promise<number> => Number(await slo.getAttribute('data-closeness'));
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const first = await read();
    assert.ok(first >= 0.49 && first < 0.6, `closeness ${first}`);
    await page.waitForTimeout(3_500);
    const later = await read();
    // 3.5 s of 600 s: at least 0.005 more (the bar is redrawn with it).
    assert.ok(later - first >= 0.004, `closeness ${first} → ${later}`);
    assert.match((await slo.locator('svg').getAttribute('aria-label')) ?? '', /^\d+ %$/);
    assert.deepEqual(requests, [], 'nothing fetched for it');
    await page.close();
  });

  it("answers the ingress's host name (not only localhost)", async () => {
    const ingress = applied.find((m) => m.kind === 'Ingress')! as Manifest & {
      spec: { rules: { host: string }[] };
    };
    const host = ingress.spec.rules[0]!.host;
    const res = await new Promise<number>((resolve, reject) => {
      import('node:http')
        .then(({ request }) => {
          const req = request(`${url}/`, { headers: { host } }, (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        })
        .catch(reject);
    });
    assert.equal(res, 200);
  });
});
