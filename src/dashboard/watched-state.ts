/**
 * The dashboard's one source of truth is the API server: an informer per kind (Cutover,
 * CanaryPhase, Reconciliation, events.k8s.io Event) with the caller's credentials, so it sees
 * exactly what the caller may list and watch. Every change calls the listeners with the namespace
 * it happened in; the server turns that into pushes to the pages that show it.
 */
import type { CanaryPhase, Cutover, Reconciliation } from '../api/index.js';
import { CANARY_PHASE, CUTOVER, RECONCILIATION } from '../controllers/kinds.js';
import { Informer, kubeTransport } from '../runtime/informer.js';
import type { KubeClient, KubeObject, ResourceType } from '../runtime/kube-client.js';
import { createLogger } from '../runtime/logger.js';
import { EVENT } from '../runtime/resources.js';
import { cutoverView, summarize, type CutoverSummary, type CutoverView, type KubeEvent } from './view.js';

type Obj<T> = T & KubeObject;
const WATCHED_KINDS = new Set(['Cutover', 'CanaryPhase', 'Reconciliation']);

export class WatchedState {
  private readonly cutovers: Informer<Obj<Cutover>>;
  private readonly canaries: Informer<Obj<CanaryPhase>>;
  private readonly recons: Informer<Obj<Reconciliation>>;
  private readonly events: Informer<Obj<KubeEvent>>;
  private readonly listeners = new Set<(namespace: string) => void>();

  constructor(client: KubeClient, namespace?: string) {
    const logger = createLogger('dashboard');
    const informer = <T extends KubeObject>(rt: ResourceType): Informer<T> => {
      const inf = new Informer<T>(
        `dashboard-${rt.plural}`,
        kubeTransport<T>(client, rt, namespace ? { namespace } : {}),
        { logger },
      );
      const changed = (o: T): void => this.emit(o.metadata.namespace ?? '');
      inf.addHandler({ onAdd: changed, onUpdate: (_old, o) => changed(o), onDelete: changed });
      return inf;
    };
    this.cutovers = informer(CUTOVER);
    this.canaries = informer(CANARY_PHASE);
    this.recons = informer(RECONCILIATION);
    this.events = informer(EVENT);
  }

  start(): void {
    for (const i of this.all()) i.start();
  }

  /** Resolves when the Cutovers, CanaryPhases and Reconciliations are listed (Events may be forbidden). */
  async waitForSync(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([this.cutovers, this.canaries, this.recons].map((i) => i.waitForSync())),
      new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('could not list Cutovers, CanaryPhases and Reconciliations (see the log)')),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((i) => i.stop()));
  }

  onChange(fn: (namespace: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(ns: string): void {
    for (const l of this.listeners) l(ns);
  }

  private all(): Informer<KubeObject>[] {
    return [this.cutovers, this.canaries, this.recons, this.events];
  }

  index(): CutoverSummary[] {
    return this.cutovers.cache
      .list()
      .map(summarize)
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  }

  cutover(namespace: string, name: string, now = Date.now()): CutoverView | undefined {
    const co = this.cutovers.cache.get(`${namespace}/${name}`);
    if (!co) return undefined;
    const inNs = <T extends KubeObject>(inf: Informer<T>): Map<string, T> =>
      new Map(
        inf.cache
          .list()
          .filter((o) => o.metadata.namespace === namespace)
          .map((o) => [o.metadata.name ?? '', o]),
      );
    const canaryNames = new Set(co.spec.canary?.phases ?? []);
    const events = this.events.cache
      .list()
      .filter(
        (e) =>
          e.metadata.namespace === namespace &&
          WATCHED_KINDS.has(e.regarding?.kind ?? '') &&
          (e.regarding?.kind !== 'CanaryPhase' || canaryNames.has(e.regarding.name ?? '')) &&
          (e.regarding?.kind !== 'Cutover' || e.regarding.name === name),
      );
    return cutoverView({
      cutover: co,
      canaryPhases: inNs(this.canaries),
      reconciliations: inNs(this.recons),
      events,
      now,
    });
  }
}
