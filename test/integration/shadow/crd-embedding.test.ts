/**
 * The comparison rules are meant to be embedded in the Cutover as `spec.shadow.comparison[]`
 * (one per service). Proven here before the Cutover controller exists: a test CRD carries the
 * fragment exactly that way (a list of up to 16), the real API server accepts it as a structural
 * schema with its CEL rules inside the cost budget, stores the defaults, and refuses every invalid
 * rules fixture with the message `cutover shadow-proxy --check` prints.
 */
import assert from 'node:assert/strict';
import { crdSchema } from '../../../src/api/crds.js';
import { list, obj } from '../../../src/api/schema/common.js';
import { shadowComparisonSchema } from '../../../src/shadow/rules-schema.js';
import { validateRules } from '../../../src/shadow/rules.js';
import { useCluster, type TestCluster } from '../../support/cluster.js';
import { documentedExample, shadowInvalidFixtures } from '../../unit/shadow/fixtures.js';
import { parse } from 'yaml';

const GROUP = 'shadowtest.cutover.nokta.io';

function crd(): Record<string, unknown> {
  const perService = { ...shadowComparisonSchema, required: ['service'] };
  const spec = obj('Like Cutover.spec.shadow.', { comparison: list('Per service.', perService, 16) });
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `shadowembeds.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: 'ShadowEmbed',
        listKind: 'ShadowEmbedList',
        plural: 'shadowembeds',
        singular: 'shadowembed',
      },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: crdSchema(spec),
              },
            },
          },
        },
      ],
    },
  };
}

describe('shadow: the rules fragment embedded in a CRD on the real API server', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let ns: string;

  before(async () => {
    cluster = await useCluster();
    const r = await cluster.kubectl(
      ['apply', '--server-side', '--force-conflicts', '--field-manager=shadow-test', '-f', '-'],
      { input: JSON.stringify(crd()) },
    );
    assert.equal(r.code, 0, `the API server refused the fragment: ${r.stderr}`);
    const w = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      `crd/shadowembeds.${GROUP}`,
    ]);
    assert.equal(w.code, 0, w.stderr);
    ns = await cluster.createNamespace('shadow');
  });

  after(async () => {
    if (ns) await cluster.deleteNamespace(ns);
    await cluster?.kubectl(['delete', 'crd', `shadowembeds.${GROUP}`, '--wait=false']);
  });

  const manifest = (n: string, comparison: unknown[]): string =>
    JSON.stringify({
      apiVersion: `${GROUP}/v1`,
      kind: 'ShadowEmbed',
      metadata: { name: n, namespace: ns },
      spec: { comparison },
    });

  it('stores the documented example with the same defaults validateRules applies', async () => {
    const example = parse(documentedExample()) as Record<string, unknown>;
    const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=shadow-test', '-f', '-'], {
      input: manifest('example', [example, { service: 'billing' }]),
    });
    assert.equal(r.code, 0, r.stderr);
    const got = await cluster.kubectl(['get', 'shadowembed', 'example', '-n', ns, '-o', 'json']);
    const stored = (JSON.parse(got.stdout) as { spec: { comparison: Record<string, unknown>[] } }).spec
      .comparison;
    const offline = [structuredClone(example), { service: 'billing' }];
    for (const c of offline) assert.deepEqual(validateRules(c), []);
    assert.deepEqual(stored, offline);
  });

  it('refuses every invalid rules fixture with the message the offline validator gives', async () => {
    const failures: string[] = [];
    for (const f of shadowInvalidFixtures()) {
      const rules = { service: 'pos', ...(f.rules as Record<string, unknown>) };
      if (f.file === 'service-bad-name.yaml') rules.service = 'POS_Orders';
      const offline = validateRules(structuredClone(rules), 'spec.comparison[0]')
        .map((p) => `${p.path}: ${p.message}`)
        .join('\n');
      const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=shadow-test', '-f', '-'], {
        input: manifest(f.file.replace(/\.yaml$/, ''), [rules]),
      });
      if (f.offlineOnly) {
        if (r.code !== 0)
          failures.push(`${f.file}: offline-only, yet refused by the API server: ${r.stderr}`);
        continue;
      }
      if (r.code === 0) {
        failures.push(`${f.file}: accepted by the API server`);
        continue;
      }
      for (const e of f.expects) {
        // `path: message` lines name the field; other lines are the offline fix hints.
        const m = /^([A-Za-z][\w.[\]]*): (.*)$/.exec(e);
        if (!m) {
          if (!offline.includes(e)) failures.push(`${f.file}: offline message lacks '${e}':\n  ${offline}`);
          continue;
        }
        const [, path, message] = m as unknown as [string, string, string];
        if (!offline.includes(`spec.comparison[0].${path}: ${message}`))
          failures.push(`${f.file}: offline message lacks 'spec.comparison[0].${e}':\n  ${offline}`);
        if (!r.stderr.includes(`spec.comparison[0].${path}`))
          failures.push(
            `${f.file}: API server does not name spec.comparison[0].${path}:\n  ${r.stderr.trim()}`,
          );
        // The API server words type and pattern errors itself; the CEL rule messages are ours.
        const ruleMessage = !/^(Invalid value|Unsupported value|field not declared)/.test(message);
        if (ruleMessage && !r.stderr.includes(message))
          failures.push(`${f.file}: API server message lacks '${message}':\n  ${r.stderr.trim()}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});
