import { strict as assert } from 'node:assert';
import { KubeConfig } from '@kubernetes/client-node';
import { describePath, resourcePath, KubeClient } from '../../../src/runtime/kube-client.js';
import {
  controllerOf,
  isOwnedBy,
  ownerKeys,
  ownerReferenceFor,
  withOwnerReference,
} from '../../../src/runtime/owner-refs.js';
import { EventRecorder } from '../../../src/runtime/events.js';
import { redactSecrets } from '../../../src/runtime/logger.js';
import { redactStatus } from '../../../src/runtime/status-writer.js';
import { hasFinalizer, isBeingDeleted } from '../../../src/runtime/finalizers.js';
import { objectKey, splitKey } from '../../../src/runtime/cache.js';

const CUTOVER = { group: 'cutover.nokta.io', version: 'v1alpha1', plural: 'cutovers', kind: 'Cutover' };
const CM = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };

describe('runtime/kube helpers', () => {
  it('builds REST paths for core and grouped kinds, subresources included', () => {
    assert.equal(resourcePath(CM, 'ns', 'x'), '/api/v1/namespaces/ns/configmaps/x');
    assert.equal(
      resourcePath(CUTOVER, 'ns', 'c', 'status'),
      '/apis/cutover.nokta.io/v1alpha1/namespaces/ns/cutovers/c/status',
    );
    assert.equal(resourcePath(CUTOVER), '/apis/cutover.nokta.io/v1alpha1/cutovers');
    assert.equal(
      resourcePath({ ...CM, plural: 'namespaces', namespaced: false }, 'ignored', 'n'),
      '/api/v1/namespaces/n',
    );
    assert.deepEqual(describePath('/apis/cutover.nokta.io/v1alpha1/namespaces/ns/cutovers/c/status'), {
      resource: 'cutovers/status',
      named: true,
    });
    assert.deepEqual(describePath('/api/v1/namespaces/ns/configmaps'), {
      resource: 'configmaps',
      named: false,
    });
    assert.deepEqual(describePath('/api/v1/namespaces'), { resource: 'namespaces', named: false });
    assert.deepEqual(describePath('/api/v1/namespaces/x'), { resource: 'namespaces', named: true });
  });

  it('keys objects by namespace/name', () => {
    assert.equal(objectKey({ metadata: { namespace: 'a', name: 'b' } }), 'a/b');
    assert.equal(objectKey({ metadata: { name: 'b' } }), 'b');
    assert.deepEqual(splitKey('a/b'), { namespace: 'a', name: 'b' });
    assert.deepEqual(splitKey('b'), { name: 'b' });
  });

  it('owner references map owned objects back to the owner key', () => {
    const owner = {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Cutover',
      metadata: { name: 'c1', namespace: 'ns', uid: 'u1' },
    };
    const ref = ownerReferenceFor(owner, CUTOVER);
    assert.deepEqual(ref, {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Cutover',
      name: 'c1',
      uid: 'u1',
      controller: true,
      blockOwnerDeletion: true,
    });
    const job = withOwnerReference({ metadata: { name: 'j', namespace: 'ns' } }, ref);
    assert.deepEqual(ownerKeys(job, CUTOVER), ['ns/c1']);
    assert.deepEqual(ownerKeys(job, { group: 'other.io', kind: 'Cutover' }), []);
    assert.equal(controllerOf(job)?.uid, 'u1');
    assert.ok(isOwnedBy(job, owner));
    assert.throws(() => withOwnerReference(job, { ...ref, uid: 'u2' }), /already has a controller owner/);
    assert.throws(() => ownerReferenceFor({ metadata: { name: 'x' } }, CUTOVER), /no uid/);
  });

  it('finalizer and deletion predicates', () => {
    const o = {
      metadata: {
        name: 'x',
        finalizers: ['cutover.nokta.io/cleanup'],
        deletionTimestamp: '2026-01-01T00:00:00Z',
      },
    };
    assert.ok(hasFinalizer(o, 'cutover.nokta.io/cleanup'));
    assert.ok(!hasFinalizer(o, 'other'));
    assert.ok(isBeingDeleted(o));
  });

  it('redacts credentials in free text, status messages and event notes', () => {
    const text =
      'connect postgres://app:s3cr3t@db:5432/x failed; password=hunter2 token: abc.def {"apiKey":"k-123"} Authorization: Bearer eyJhbGci';
    const r = redactSecrets(text);
    for (const secret of ['s3cr3t', 'hunter2', 'abc.def', 'k-123', 'eyJhbGci'])
      assert.ok(!r.includes(secret), `${secret} leaked in ${r}`);
    assert.ok(r.includes('postgres://app:***@db:5432/x'));
    const st = redactStatus({
      phase: 'Error',
      conditions: [{ type: 'Ready', message: 'password=hunter2' }],
      note: 'x',
    });
    assert.equal(st.conditions[0]?.message, 'password=***');
    assert.equal(st.phase, 'Error');
  });

  it('builds events.k8s.io/v1 Events with a redacted, bounded note', () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const rec = new EventRecorder(new KubeClient(kc), { instance: 'pod-1' });
    const regarding = { metadata: { name: 'c1', namespace: 'ns', uid: 'u1', resourceVersion: '7' } };
    const ev = rec.build(
      regarding,
      CUTOVER,
      {
        type: 'Warning',
        reason: 'RollbackTriggered',
        action: 'Rollback',
        note: `db password=hunter2 ${'x'.repeat(2000)}`,
      },
      new Date('2026-01-01T00:00:00Z'),
    );
    assert.equal(ev.apiVersion, 'events.k8s.io/v1');
    assert.equal(ev.metadata.namespace, 'ns');
    assert.match(ev.metadata.name ?? '', /^c1\.[0-9a-f]+$/);
    assert.equal(ev.eventTime, '2026-01-01T00:00:00.000000Z');
    assert.equal(ev.reportingController, 'cutover.nokta.io/operator');
    assert.equal(ev.reportingInstance, 'pod-1');
    assert.deepEqual(ev.regarding, {
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Cutover',
      name: 'c1',
      namespace: 'ns',
      uid: 'u1',
      resourceVersion: '7',
    });
    const note = String(ev.note);
    assert.ok(!note.includes('hunter2'));
    assert.ok(Buffer.byteLength(note) <= 1024);
  });
});
