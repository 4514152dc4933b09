/**
 * The operator's own memory (src/runtime/memory.ts): V8's full garbage collection without
 * `--expose-gc`, and the one collection after a burst of syncs (`--gc-after-syncs`): alone with a
 * fake clock, and in an operator driven through in-memory list/watch transports.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { BurstCollector, collectGarbage, type HeapFigures } from '../../../src/runtime/memory.js';
import { FakeClock } from '../../../src/runtime/clock.js';
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
const ticks = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};
const figures: HeapFigures = { used: 1, committed: 2, rss: 3 };

function options(extra: string[]): OperatorOptions {
  const r = parseOperatorOptions(
    ['--no-leader-elect', '--listen-address', '127.0.0.1:0', '--image', 'example/operator:test', ...extra],
    {},
  );
  assert.equal(r.kind, 'options');
  return (r as { options: OperatorOptions }).options;
}

/** An unreachable object whose collection a WeakRef shows. */
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

  it('BurstCollector: one collection once minSyncs syncs have ended and the queues were quiet for quietMs', async () => {
    const clock = new FakeClock();
    let idle = false;
    const collections: number[] = [];
    const c = new BurstCollector({
      minSyncs: 3,
      quietMs: 5000,
      clock,
      idle: () => idle,
      collect: () => ({ before: figures, after: figures }),
      onCollected: (r) => collections.push(r.syncs),
    });
    c.synced();
    c.synced();
    clock.advance(60_000);
    await ticks();
    assert.deepEqual(collections, [], 'two syncs are no burst');
    c.synced();
    clock.advance(3000);
    await ticks();
    c.synced(); // the burst goes on: quiet counts from the last sync
    clock.advance(4000);
    await ticks();
    assert.deepEqual(collections, [], 'not 5 s quiet since the last sync yet');
    clock.advance(1000);
    await ticks();
    assert.deepEqual(collections, [], 'quiet, but keys still wait in a queue');
    idle = true;
    clock.advance(100);
    await ticks();
    assert.deepEqual(collections, [4], 'one collection for the four syncs');
    clock.advance(600_000);
    await ticks();
    assert.deepEqual(collections, [4], 'nothing more without syncs');
    c.synced();
    c.synced();
    c.synced();
    c.stop();
    clock.advance(10_000);
    await ticks();
    assert.deepEqual(collections, [4], 'stopped: no collection');
  });

  it('the operator with --gc-after-syncs collects once after the start-up pass, and again only after another burst', async () => {
    const widgets = new MemoryTransport();
    for (let i = 0; i < 30; i++) widgets.put(`w${i}`);
    const synced: string[] = [];
    const collectedAfter: number[] = [];
    const op = new Operator(
      options(['--gc-after-syncs', '20']),
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
        gcQuietMs: 300,
        collectGarbage: () => {
          collectedAfter.push(synced.length);
          return { before: figures, after: figures };
        },
      },
    );
    const until = async (what: string, cond: () => boolean): Promise<void> => {
      const end = Date.now() + 10_000;
      while (!cond()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(10);
      }
    };
    try {
      await op.start();
      await until('the collection', () => collectedAfter.length > 0);
      assert.deepEqual(collectedAfter, [30], 'one collection, after the 30 syncs of the start-up pass');
      // A few changes are no burst.
      for (let i = 0; i < 5; i++) widgets.current.onEvent({ type: 'ADDED', object: widgets.put(`a${i}`) });
      await until('35 syncs', () => synced.length === 35);
      await sleep(800);
      assert.deepEqual(collectedAfter, [30]);
      // Objects created in bulk are.
      for (let i = 0; i < 20; i++) widgets.current.onEvent({ type: 'ADDED', object: widgets.put(`b${i}`) });
      await until('the second collection', () => collectedAfter.length > 1);
      assert.deepEqual(collectedAfter, [30, 55]);
    } finally {
      await op.stop();
    }
  });

  it('without --gc-after-syncs (0) the operator leaves collection to V8', async () => {
    const widgets = new MemoryTransport();
    for (let i = 0; i < 30; i++) widgets.put(`w${i}`);
    let synced = 0;
    let collected = 0;
    const op = new Operator(
      options(['--gc-after-syncs', '0']),
      [{ name: 'widgets', resource: WIDGET, sync: () => Promise.resolve(void synced++) }],
      {
        kc: offlineKc,
        transport: () => widgets,
        gcQuietMs: 100,
        collectGarbage: () => {
          collected++;
          return { before: figures, after: figures };
        },
      },
    );
    try {
      await op.start();
      const end = Date.now() + 5000;
      while (synced < 30 && Date.now() < end) await sleep(10);
      await sleep(500);
      assert.equal(synced, 30);
      assert.equal(collected, 0);
    } finally {
      await op.stop();
    }
  });
});

describe('runtime/memory: the settings as shipped', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
  const read = (p: string): string => readFileSync(join(root, p), 'utf8');
  const mib = (q: string): number => {
    const m = /^(\d+)(Mi|Gi)$/.exec(q);
    assert.ok(m, `memory quantity ${q} in Mi or Gi`);
    return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
  };
  const oldSpace = (nodeOptions: string): number =>
    Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1] ?? NaN);

  it('the Deployment, the Helm chart and the image give Node the same flags, the old space within 3/4 of the memory limit', () => {
    const dep = parseAllDocuments(read('deploy/operator/deployment.yaml'))
      .map((d) => d.toJSON() as Record<string, unknown> | null)
      .find((d) => d?.kind === 'Deployment') as {
      spec: {
        template: {
          spec: {
            containers: Array<{
              name: string;
              env?: Array<{ name: string; value?: string }>;
              resources: { limits: { memory: string } };
            }>;
          };
        };
      };
    };
    const c = dep.spec.template.spec.containers.find((x) => x.name === 'operator');
    assert.ok(c);
    const env = (n: string): string | undefined => c.env?.find((e) => e.name === n)?.value;
    const nodeOptions = env('NODE_OPTIONS') ?? '';
    assert.match(nodeOptions, /--max-semi-space-size=\d+/);
    assert.ok(oldSpace(nodeOptions) <= (mib(c.resources.limits.memory) * 3) / 4, nodeOptions);
    assert.equal(env('MALLOC_ARENA_MAX'), '2');

    const values = parse(read('deploy/helm/cutover-operator/values.yaml')) as {
      nodeOptions: string;
      resources: { limits: { memory: string } };
    };
    assert.equal(values.nodeOptions, nodeOptions);
    assert.ok(oldSpace(values.nodeOptions) <= (mib(values.resources.limits.memory) * 3) / 4);
    const template = read('deploy/helm/cutover-operator/templates/deployment.yaml');
    assert.match(template, /- name: NODE_OPTIONS\s+value: \{\{ \.Values\.nodeOptions \| quote \}\}/);
    assert.match(template, /- name: MALLOC_ARENA_MAX\s+value: '2'/);

    const docker = read('deploy/Dockerfile');
    const m = /^ENV NODE_OPTIONS="([^"]*)" MALLOC_ARENA_MAX=(\d+)$/m.exec(docker);
    assert.ok(m, 'the final stage sets NODE_OPTIONS and MALLOC_ARENA_MAX');
    assert.equal(m[1], nodeOptions);
    assert.equal(m[2], '2');
  });
});
