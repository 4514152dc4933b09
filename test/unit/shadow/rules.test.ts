/**
 * The rules file: every invalid fixture is refused with its path and fix, defaults are applied,
 * and compiled rules pick the route and decide mirroring as documented.
 */
import assert from 'node:assert/strict';
import { collectRules } from '../../../src/api/crds.js';
import { parseRules, validateRules, defaultRules, RulesError } from '../../../src/shadow/rules.js';
import { shadowComparisonSchema, type ShadowComparison } from '../../../src/shadow/rules-schema.js';
import {
  MIRROR_NICE_DEFAULT,
  MIRROR_THREAD_DEFAULT,
  parseShadowProxyArgs,
  parseHostPort,
} from '../../../src/cli/shadow-proxy-command.js';
import { documentedExample, shadowInvalidFixtures } from './fixtures.js';

describe('shadow: rules files', () => {
  it('refuses every invalid fixture with the path and the fix', () => {
    const fixtures = shadowInvalidFixtures();
    assert.ok(fixtures.length >= 15);
    for (const f of fixtures) {
      const problems = validateRules(structuredClone(f.rules));
      const text = problems.map((p) => `${p.path}: ${p.message}`).join('\n');
      assert.ok(problems.length > 0, `${f.file} accepted`);
      for (const e of f.expects) assert.ok(text.includes(e), `${f.file}: '${e}' not in:\n${text}`);
    }
  });

  it('has an invalid fixture for every CEL rule of the fragment', () => {
    const messages = shadowInvalidFixtures()
      .flatMap((f) => f.expects)
      .join('\n');
    for (const { path, rule } of collectRules(shadowComparisonSchema)) {
      assert.ok(
        messages.includes(rule.message.split(':')[0]!),
        `no fixture exercises the rule at ${path || '(root)'}: ${rule.message}`,
      );
    }
  });

  it('accepts the documented example and applies the defaults', () => {
    const rules = parseRules(documentedExample(), 'docs example');
    assert.ok(rules.routes.length >= 2);
    const empty = {} as ShadowComparison;
    assert.deepEqual(validateRules(empty), []);
    assert.deepEqual(empty.methods, ['GET', 'HEAD']);
    assert.equal(empty.queue, undefined, 'objects absent stay absent, as the API server does');
    const d = defaultRules('pos');
    assert.equal(d.queueSize, 1000);
    assert.equal(d.concurrency, 64);
    assert.equal(d.newStackTimeoutMs, 5000);
    assert.equal(d.maxBodyBytes, 1048576);
    assert.deepEqual([...d.forwardHeaders], ['accept', 'accept-language', 'content-type']);
    assert.ok(d.redactHeaders.has('authorization') && d.redactHeaders.has('cookie'));
  });

  it('reports YAML errors and files that are no mapping', () => {
    assert.throws(
      () => parseRules('routes: [', 'broken.yaml'),
      (e: unknown) => e instanceof RulesError && /broken\.yaml: .*YAML error/s.test(e.message),
    );
    assert.deepEqual(
      validateRules([1, 2]).map((p) => p.message),
      ['the comparison rules must be a mapping (service, routes, defaults...): see docs/shadow-proxy.md'],
    );
    assert.deepEqual(validateRules({ routes: [{ template: '/a' }] }, 'spec.shadow.comparison[0]'), []);
    assert.equal(
      validateRules({ routes: [{}] }, 'spec.shadow.comparison[0]')[0]!.path,
      'spec.shadow.comparison[0].routes[0].template',
    );
  });

  it('picks the first route whose template and methods match, and mirrors what the rules select', () => {
    const r = parseRules(`
methods: [GET, HEAD, POST]
paths: [/api/**, /search]
excludePaths: [/api/auth/**]
routes:
  - { template: "/api/orders/{id}/items", methods: [GET] }
  - { template: "/api/orders/{id}" }
  - { template: /api/orders/* }
  - { template: /search, methods: [POST] }
`);
    assert.equal(r.routeFor('GET', '/api/orders/42/items').label, '/api/orders/{id}/items');
    assert.equal(r.routeFor('HEAD', '/api/orders/42/items').label, 'other');
    assert.equal(r.routeFor('GET', '/api/orders/42').label, '/api/orders/{id}');
    assert.equal(r.routeFor('GET', '/api/orders/42/').label, '/api/orders/{id}');
    assert.equal(r.routeFor('POST', '/search').label, '/search');
    assert.equal(r.routeFor('GET', '/api/customers/1').label, 'other');
    assert.equal(r.mirrors('GET', '/api/orders/1'), true);
    assert.equal(r.mirrors('GET', '/api'), true);
    assert.equal(r.mirrors('POST', '/search'), true);
    assert.equal(r.mirrors('GET', '/api/auth/login'), false);
    assert.equal(r.mirrors('GET', '/healthz'), false);
    assert.equal(r.mirrors('DELETE', '/api/orders/1'), false);
  });
});

describe('shadow: cutover shadow-proxy arguments', () => {
  it('parses the flags with node:util.parseArgs and explains bad ones', () => {
    const a = parseShadowProxyArgs([
      '--legacy',
      'http://127.0.0.1:8081',
      '--new=http://127.0.0.1:8082',
      '--rules',
      'r.yaml',
      '--listen',
      ':9000',
      '--metrics-listen',
      '[::1]:9464',
      '--report-interval',
      '0',
    ]);
    assert.equal(a.legacy, 'http://127.0.0.1:8081');
    assert.equal(a.newUrl, 'http://127.0.0.1:8082');
    assert.deepEqual(a.listen, { host: '0.0.0.0', port: 9000 });
    assert.deepEqual(a.metricsListen, { host: '::1', port: 9464 });
    assert.equal(a.reportMs, 0);
    assert.deepEqual(parseShadowProxyArgs([]).listen, { host: '127.0.0.1', port: 8080 });
    const defaults = parseShadowProxyArgs([]);
    assert.deepEqual(
      [defaults.mirrorThread, defaults.mirrorNice],
      [MIRROR_THREAD_DEFAULT === 'on', MIRROR_NICE_DEFAULT],
    );
    const threaded = parseShadowProxyArgs(['--mirror-thread', 'on', '--mirror-nice', '5']);
    assert.deepEqual([threaded.mirrorThread, threaded.mirrorNice], [true, 5]);
    assert.equal(parseShadowProxyArgs(['--mirror-thread=off']).mirrorThread, false);
    assert.throws(() => parseShadowProxyArgs(['--mirror-thread', 'yes']), /--mirror-thread needs on or off/);
    assert.throws(
      () => parseShadowProxyArgs(['--mirror-nice', '20']),
      /--mirror-nice needs a whole number from 0 to 19/,
    );
    assert.throws(() => parseShadowProxyArgs(['--mirror-nice', '-1']), /--mirror-nice/);
    assert.throws(
      () => parseShadowProxyArgs(['--legacy', 'ftp://x']),
      /--legacy: only http:\/\/ and https:\/\//,
    );
    assert.throws(() => parseShadowProxyArgs(['--new', 'http://u:p@x']), /must not carry credentials/);
    assert.throws(() => parseShadowProxyArgs(['--listen', 'localhost']), /--listen needs HOST:PORT/);
    assert.throws(
      () => parseShadowProxyArgs(['--report-interval', 'often']),
      /--report-interval needs a duration/,
    );
    assert.throws(() => parseShadowProxyArgs(['--bogus']), /unknown flag '--bogus'/);
    assert.throws(() => parseHostPort('--listen', '1.2.3.4:99999'), /HOST:PORT/);
  });
});
