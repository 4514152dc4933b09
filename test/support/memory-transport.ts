/**
 * TEST SUPPORT ONLY: an in-memory list/watch transport for the informer's loop logic and the
 * controller's contract in unit tests (the real transport is exercised against kube-apiserver in
 * test/integration/runtime). `holdLists()` keeps every list pending until `releaseLists()`, so a
 * test can see what happens before a cache has synced.
 */
import type { ListResult, ListWatchTransport } from '../../src/runtime/informer.js';
import {
  ApiError,
  type KubeObject,
  type WatchEvent,
  type WatchHandle,
} from '../../src/runtime/kube-client.js';

export interface OpenWatch {
  rv: string;
  timeoutSeconds: number;
  onEvent: (ev: WatchEvent) => void;
  onDone: (err?: unknown) => void;
  aborted: boolean;
}

export class MemoryTransport implements ListWatchTransport<KubeObject> {
  objects = new Map<string, KubeObject>();
  rv = 100;
  lists = 0;
  listFailures = 0;
  watches: OpenWatch[] = [];
  private held: Array<() => void> | undefined;

  constructor(private readonly namespace = 'ns') {}

  put(name: string, data = '', extra: Partial<KubeObject> = {}): KubeObject {
    const o: KubeObject = {
      ...extra,
      metadata: {
        name,
        namespace: this.namespace,
        resourceVersion: String(++this.rv),
        ...(extra.metadata ?? {}),
      },
      data,
    };
    this.objects.set(name, o);
    return o;
  }

  holdLists(): void {
    this.held ??= [];
  }

  releaseLists(): void {
    const h = this.held ?? [];
    this.held = undefined;
    for (const r of h) r();
  }

  async list(): Promise<ListResult<KubeObject>> {
    this.lists++;
    if (this.held) await new Promise<void>((r) => this.held?.push(r));
    if (this.listFailures > 0) {
      this.listFailures--;
      throw new ApiError('connection refused', 0);
    }
    return {
      items: [...this.objects.values()].map((o) => structuredClone(o)),
      resourceVersion: String(this.rv),
    };
  }

  watch(
    rv: string,
    timeoutSeconds: number,
    onEvent: (ev: WatchEvent) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle> {
    const w: OpenWatch = { rv, timeoutSeconds, onEvent, onDone, aborted: false };
    this.watches.push(w);
    return Promise.resolve({ abort: () => (w.aborted = true) });
  }

  get current(): OpenWatch {
    const w = this.watches[this.watches.length - 1];
    if (!w) throw new Error('no watch open');
    return w;
  }
}
