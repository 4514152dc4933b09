/**
 * The shadow proxy's workers: each gets its share of the rules' bounds (the whole proxy stays
 * within them), and the operator runs as many as the Pod's CPU gives.
 */
import assert from 'node:assert/strict';
import { proxyWorkers } from '../../../src/actuators/shadow-proxy/objects.js';
import { rulesForWorker } from '../../../src/shadow/cluster.js';
import { compileRules } from '../../../src/shadow/rules.js';

describe('shadow: proxy workers', () => {
  it('divides the queue, concurrency, connections and buffered bytes among the workers', () => {
    const rules = compileRules({
      service: 'pos',
      queue: { size: 1000, concurrency: 64 },
      newStack: { maxConnections: 10 },
      maxBufferedBytes: 1_000_000,
    });
    assert.equal(rulesForWorker(rules, 1), rules);
    const w = rulesForWorker(rules, 3);
    assert.deepEqual(
      [w.queueSize, w.concurrency, w.maxConnections, w.maxBufferedBytes],
      [334, 22, 4, 333_333],
    );
    assert.ok(3 * w.maxBufferedBytes <= rules.maxBufferedBytes);
    // Everything else is the same rules: routes, matching, samples.
    assert.equal(w.routeFor('GET', '/x'), rules.routeFor('GET', '/x'));
    assert.equal(w.sampleSize, rules.sampleSize);
    const tiny = rulesForWorker(compileRules({ service: 'pos', queue: { size: 2, concurrency: 2 } }), 4);
    assert.deepEqual([tiny.queueSize, tiny.concurrency], [1, 1]);
  });

  it("runs as many workers as the Pod's CPU limit (else request) gives, at least one", () => {
    assert.equal(proxyWorkers({ requests: { cpu: '250m', memory: '128Mi' } }), 1);
    assert.equal(proxyWorkers({ limits: { cpu: '2' }, requests: { cpu: '500m' } }), 2);
    assert.equal(proxyWorkers({ limits: { cpu: '1500m' } }), 2);
    assert.equal(proxyWorkers({ requests: { cpu: '3' } }), 3);
    assert.equal(proxyWorkers({ limits: { memory: '1Gi' } }), 1);
    assert.equal(proxyWorkers({}), 1);
  });
});
