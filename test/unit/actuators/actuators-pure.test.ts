import assert from 'node:assert/strict';
import fc from 'fast-check';
import type * as k8s from '@kubernetes/client-node';
import {
  desiredRule,
  observeRule,
  type RouteRule,
} from '../../../src/actuators/traffic/httproute-weights.js';
import { desiredCanary } from '../../../src/actuators/traffic/traffic.js';
import { MAX_JOB_NAME, jobName } from '../../../src/actuators/workloads/job-naming.js';
import { buildJob, DEFAULT_RESOURCES, jobObservation } from '../../../src/actuators/workloads/jobs.js';
import type { Job } from '../../../src/actuators/kube-types.js';
import { quoteMysqlIdent } from '../../../src/actuators/freeze/legacy-freeze.js';
import type { JobTemplateInput } from '../../../src/actuators/types.js';

const legacy = { name: 'pos-legacy', port: 8080 };
const next = { name: 'pos-new', port: 9090 };

describe('actuators pure logic', () => {
  describe('HTTPRoute rule weights', () => {
    const rule: RouteRule = {
      matches: [{ path: { type: 'PathPrefix', value: '/' } }],
      backendRefs: [{ name: 'pos-legacy', port: 8080 }],
    };

    it('sets absolute weights and adds the new backend', () => {
      const r = desiredRule(rule, legacy, next, { newWeight: 10 });
      assert.deepEqual(r.backendRefs, [
        { name: 'pos-legacy', port: 8080, weight: 90 },
        { group: '', kind: 'Service', name: 'pos-new', port: 9090, weight: 10 },
      ]);
      assert.equal(r.filters, undefined);
      assert.deepEqual(rule.backendRefs, [{ name: 'pos-legacy', port: 8080 }], 'input not mutated');
    });

    it('is idempotent: the desired rule of a desired rule is itself, for any weight and mirror', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 100 }),
          fc.boolean(),
          fc.integer({ min: 0, max: 100 }),
          fc.boolean(),
          (w1, m1, w2, m2) => {
            const a = desiredRule(rule, legacy, next, { newWeight: w1, mirror: m1 });
            const b = desiredRule(a, legacy, next, { newWeight: w2, mirror: m2 });
            const c = desiredRule(b, legacy, next, { newWeight: w2, mirror: m2 });
            assert.deepEqual(c, b);
            const o = observeRule(b, legacy, next);
            return (
              o.newWeight === w2 &&
              o.legacyWeight === 100 - w2 &&
              o.mirror === m2 &&
              (b.filters?.length ?? 0) === (m2 ? 1 : 0)
            );
          },
        ),
      );
    });

    it('keeps filters it does not own and rejects bad weights', () => {
      const withHeader: RouteRule = {
        ...rule,
        filters: [
          { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x', value: '1' }] } },
        ],
      };
      const r = desiredRule(withHeader, legacy, next, { newWeight: 0, mirror: true });
      assert.equal(r.filters?.length, 2);
      assert.equal(desiredRule(r, legacy, next, { newWeight: 0 }).filters?.length, 1);
      assert.throws(() => desiredRule(rule, legacy, next, { newWeight: 101 }));
      assert.throws(() => desiredRule(rule, legacy, next, { newWeight: 2.5 }));
    });
  });

  describe('ingress-nginx canary', () => {
    it('derives hosts, paths, TLS and class from the stable Ingress and sets the canary annotations', () => {
      const stable: k8s.V1Ingress = {
        metadata: { name: 'web', namespace: 'shop' },
        spec: {
          ingressClassName: 'nginx',
          tls: [{ hosts: ['a.test'] }],
          rules: [
            {
              host: 'a.test',
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: 'web-legacy', port: { name: 'http' } } },
                  },
                ],
              },
            },
          ],
        },
      };
      const c = desiredCanary(
        stable,
        {
          kind: 'Ingress',
          namespace: 'shop',
          stableIngress: 'web',
          canaryService: 'web-new',
          stickiness: { cookie: 'beta' },
        },
        30,
      );
      assert.equal(c.metadata?.name, 'web-canary');
      assert.equal(c.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight'], '30');
      assert.equal(c.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-by-cookie'], 'beta');
      assert.equal(c.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-by-header'], undefined);
      assert.deepEqual(c.spec?.rules?.[0]?.http?.paths[0]?.backend.service, {
        name: 'web-new',
        port: { name: 'http' },
      });
      assert.deepEqual(c.spec?.tls, stable.spec?.tls);
      assert.equal(
        stable.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name,
        'web-legacy',
        'stable not mutated',
      );
    });
  });

  describe('Job naming', () => {
    const t: JobTemplateInput = {
      namespace: 'ns',
      ownerName: 'Spring-Cutover',
      step: 'delta_sync',
      image: 'img',
      command: ['node', 'x.js'],
    };

    it('is deterministic per owner, step, template and attempt', () => {
      assert.equal(jobName(t), jobName({ ...t }));
      assert.match(jobName(t), /^spring-cutover-delta-sync-[0-9a-f]{8}$/);
      assert.notEqual(jobName(t), jobName({ ...t, attempt: 1 }));
      assert.notEqual(jobName(t), jobName({ ...t, args: ['--tenant', 'a'] }));
      assert.equal(
        jobName(t),
        jobName({ ...t, namespace: 'other', labels: { a: 'b' } }),
        'labels and namespace do not change what runs',
      );
    });

    it('always yields a valid DNS label of at most 52 characters', () => {
      fc.assert(
        fc.property(
          fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$/),
          fc.stringMatching(/^[a-z][a-z0-9-]{0,80}$/),
          (owner, step) => {
            const n = jobName({ ...t, ownerName: owner, step });
            return n.length <= MAX_JOB_NAME && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(n);
          },
        ),
      );
    });

    it('builds an Indexed Job for sharded work', () => {
      const j = buildJob({
        ...t,
        indexed: true,
        completions: 8,
        parallelism: 4,
        env: [{ name: 'PGPASSWORD', secretKeyRef: { name: 'db', key: 'password' } }],
      });
      assert.equal(j.spec?.completionMode, 'Indexed');
      assert.equal(j.spec?.completions, 8);
      assert.equal(j.spec?.parallelism, 4);
      assert.equal(j.spec?.template.spec?.restartPolicy, 'Never');
      assert.deepEqual(j.spec?.template.spec?.containers[0]?.env?.[0], {
        name: 'PGPASSWORD',
        valueFrom: { secretKeyRef: { name: 'db', key: 'password' } },
      });
      assert.throws(() => buildJob({ ...t, indexed: true }), /completions/);
    });

    it('defaults to Pod Security "restricted" with modest resources; the overlay changes what it may', () => {
      const plainJob = buildJob(t);
      const pod = plainJob.spec?.template.spec;
      assert.deepEqual(pod?.securityContext, {
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      assert.deepEqual(pod?.containers[0]?.securityContext, {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        readOnlyRootFilesystem: true,
      });
      assert.deepEqual(pod?.containers[0]?.resources, DEFAULT_RESOURCES);
      const overlaid = buildJob({
        ...t,
        pod: {
          annotations: { 'sidecar.istio.io/inject': 'false' },
          nodeSelector: { pool: 'batch' },
          tolerations: [{ key: 'batch', operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
          resources: { requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '8Gi' } },
          securityContext: {
            runAsUser: 1001,
            fsGroup: 2000,
            readOnlyRootFilesystem: false,
            seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/pgloader.json' },
          },
        },
      });
      const o = overlaid.spec?.template;
      assert.deepEqual(o?.metadata?.annotations, { 'sidecar.istio.io/inject': 'false' });
      assert.deepEqual(o?.spec?.nodeSelector, { pool: 'batch' });
      assert.deepEqual(o?.spec?.tolerations, [
        { key: 'batch', operator: 'Equal', value: 'true', effect: 'NoSchedule' },
      ]);
      assert.deepEqual(o?.spec?.containers[0]?.resources, {
        requests: { cpu: '2', memory: '4Gi' },
        limits: { memory: '8Gi' },
      });
      assert.deepEqual(o?.spec?.securityContext, {
        runAsNonRoot: true,
        runAsUser: 1001,
        fsGroup: 2000,
        seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/pgloader.json' },
      });
      assert.deepEqual(
        o?.spec?.containers[0]?.securityContext,
        { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: false },
        'escalation and capabilities cannot be given back',
      );
      assert.notEqual(
        overlaid.metadata.name,
        plainJob.metadata.name,
        'a pod template cannot change: a new overlay is a new Job',
      );
    });

    it('takes a caller-derived name, field refs and a per-index retry limit', () => {
      const j = buildJob({
        ...t,
        name: 'recon-r1abc',
        indexed: true,
        completions: 3,
        backoffLimitPerIndex: 2,
        podLabels: { run: 'yes' },
        env: [{ name: 'NS', fieldRef: 'metadata.namespace' }],
      });
      assert.equal(j.metadata.name, 'recon-r1abc');
      assert.equal(j.spec?.backoffLimitPerIndex, 2);
      assert.equal(j.spec?.backoffLimit, undefined, 'per index instead of for the whole Job');
      assert.equal(j.spec?.template.metadata?.labels?.run, 'yes');
      assert.equal(j.metadata.labels?.run, undefined, 'pod labels stay on the pods');
      assert.deepEqual(j.spec?.template.spec?.containers[0]?.env?.[0], {
        name: 'NS',
        valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
      });
    });

    it('reads a Job from its status alone: FailureTarget is already a failure', () => {
      const job = (conditions: Array<{ type: string; status: string; reason?: string }>): Job => ({
        metadata: { name: 'j' },
        status: { succeeded: 1, failed: 2, conditions },
      });
      assert.equal(jobObservation(job([])).state, 'Running');
      assert.equal(jobObservation(job([{ type: 'Complete', status: 'True' }])).state, 'Succeeded');
      const target = jobObservation(
        job([{ type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded' }]),
      );
      assert.equal(target.state, 'Failed');
      assert.equal(target.reason, 'BackoffLimitExceeded');
      assert.equal(jobObservation(job([{ type: 'Failed', status: 'False' }])).state, 'Running');
    });
  });

  it('quotes MySQL identifiers and refuses anything else', () => {
    assert.equal(quoteMysqlIdent('cutover_meta.freeze_log'), '`cutover_meta`.`freeze_log`');
    assert.throws(() => quoteMysqlIdent('x`; DROP TABLE y'));
    assert.throws(() => quoteMysqlIdent('a.b.c'));
  });
});
