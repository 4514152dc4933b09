/**
 * The operator's own memory: V8's full garbage collection without `--expose-gc`
 * (src/runtime/memory.ts), and the one collection the operator runs once its start-up pass is over
 * (`--gc-after-first-pass`), driven through in-memory list/watch transports.
 */
import { strict as assert } from 'node:assert';
import { collectGarbage } from '../../../src/runtime/memory.js';
import type { SyncContext } from '../../../src/runtime/controller.js';
import type { KubeObject, ResourceType } from '../../../src/runtime/kube-client.js';
import { Operator } from '../../../src/runtime/operator.js';
import { parseOperatorOptions, type OperatorOptions } from '../../../src/runtime/options.js';
import { MemoryTransport } from '../../support/memory-transport.js';

const WIDGET: ResourceType = {
  group: 'test.cutover.nokta.io',
  version: 'v1',
  plural: 'widgets',
  kind: 'Widget',
};

/** A kubeconfig for a cluster that does not exist: these tests must not send a single request. */
const offlineKc = {
  getCurrentCluster: () => null,
  applyToHTTPSOptions: () => Promise.resolve(),
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function options(extra: string[]): OperatorOptions {
  const r = parseOperatorOptions(
    ['--no-leader-elect', '--listen-address', '127.0.0.1:0', '--image', 'example/operator:test', ...extra],
    {},
  );
  assert.equal(r.kind, 'options');
  return (r as { options: OperatorOptions }).options;
}

/** An unreachable object whose collection a WeakRef shows (a WeakRef keeps its target until the job ends). */
function garbage(): WeakRef<object> {
  return new WeakRef({ payload: new Array(1000).fill('x') });
}

describe('runtime/memory', () => {
  it('collectGarbage runs a full collection (an unreachable object is gone) and leaves no global gc behind', async () => {
    const hadGc = typeof (globalThis as { gc?: unknown }).gc === 'function';
    const ref = garbage();
    await new Promise((r) => setImmediate(r));
    assert.ok(ref.deref(), 'not collected yet');
    // deref() keeps the target alive until the end of this job.
    await new Promise((r) => setImmediate(r));
    const { before, after } = collectGarbage();
    assert.equal(ref.deref(), undefined, 'collected');
    assert.ok(before.used > 0 && after.used > 0 && after.committed >= after.used);
    assert.equal(typeof (globalThis as { gc?: unknown }).gc === 'function', hadGc);
  });

  it('the operator collects once, after every controller has synced the objects it started with', async () => {
    const widgets = new MemoryTransport();
    for (let i = 0; i < 30; i++) widgets.put(`w${i}`);
    const synced: string[] = [];
    const collectedAfter: number[] = [];
    const op = new Operator(
      options(['--gc-after-first-pass']),
      [
        {
          name: 'widgets',
          resource: WIDGET,
          sync: async (ctx: SyncContext<KubeObject>) => {
            await sleep(2);
            synced.push(ctx.key);
            return { requeueAfter: 3_600_000 };
          },
        },
      ],
      {
        kc: offlineKc,
        transport: () => widgets,
        collectGarbage: () => {
          collectedAfter.push(synced.length);
          return {
            before: { used: 2, committed: 3, rss: 4 },
            after: { used: 1, committed: 2, rss: 3 },
          };
        },
      },
    );
    try {
      await op.start();
      const end = Date.now() + 10_000;
      while (collectedAfter.length === 0 && Date.now() < end) await sleep(10);
      assert.deepEqual(collectedAfter, [30], 'one collection, after the 30 syncs of the first pass');
      // Later syncs (a new object) do not collect again.
      widgets.current.onEvent({ type: 'ADDED', object: widgets.put('late') });
      while (synced.length < 31 && Date.now() < end) await sleep(10);
      await sleep(1500);
      assert.deepEqual(collectedAfter, [30]);
    } finally {
      await op.stop();
    }
  });

  it('without --gc-after-first-pass the operator leaves collection to V8', async () => {
    const widgets = new MemoryTransport();
    widgets.put('w0');
    let synced = 0;
    let collected = 0;
    const op = new Operator(
      options([]),
      [{ name: 'widgets', resource: WIDGET, sync: () => Promise.resolve(void synced++) }],
      {
        kc: offlineKc,
        transport: () => widgets,
        collectGarbage: () => {
          collected++;
          return { before: { used: 0, committed: 0, rss: 0 }, after: { used: 0, committed: 0, rss: 0 } };
        },
      },
    );
    try {
      await op.start();
      const end = Date.now() + 5000;
      while (synced === 0 && Date.now() < end) await sleep(10);
      await sleep(1500);
      assert.equal(synced, 1);
      assert.equal(collected, 0);
    } finally {
      await op.stop();
    }
  });
});
