/**
 * Leader election on a coordination.k8s.io/v1 Lease (the client-go algorithm).
 *
 * - Candidates try every `retryPeriodMs` to take the Lease; they may take it only when it has no
 *   holder or when its record has not changed for `leaseDurationMs` as measured on their own
 *   clock since they observed it (no trust in other machines' clocks).
 * - Writes carry the Lease's resourceVersion: two candidates can never both win.
 * - The leader renews every `retryPeriodMs`. If it cannot renew within `renewDeadlineMs` of its
 *   last successful renewal, or it sees another holder, it stops leading at once (the abort
 *   signal given to `onStartedLeading` fires). renewDeadline < leaseDuration, so a leader always
 *   stops before another can start.
 * - `release()` (on SIGTERM) empties holderIdentity so a standby takes over without waiting.
 */
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { kubeMicroTime } from './conditions.js';
import type { KubeClient, KubeObject } from './kube-client.js';
import { isConflict, isNotFound, isApiError, resourcePath } from './kube-client.js';
import { createLogger, type Logger } from './logger.js';
import { LEASE } from './resources.js';

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Called when this process becomes leader; `signal` aborts when it stops being leader. */
  onStartedLeading: (signal: AbortSignal) => void;
  /** Called when this process stops being leader (after the signal aborted). */
  onStoppedLeading?: () => void;
  onNewLeader?: (identity: string) => void;
}

export class LeaderElector {
  private readonly clock: Clock;
  private readonly log: Logger;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  private observed: { rv?: string; holder?: string; at: number } = { at: 0 };
  private leading: AbortController | undefined;
  private lastRenew = 0;
  private stop = new AbortController();
  private loopDone: Promise<void> | undefined;
  private lastLeader = '';
  private lastWritten: Lease | undefined;

  constructor(private readonly o: LeaderElectorOptions) {
    this.clock = o.clock ?? systemClock;
    this.log = o.logger ?? createLogger('leader-election', { lease: `${o.namespace}/${o.name}` });
    this.leaseDurationMs = o.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = o.retryPeriodMs ?? 2_000;
    if (this.renewDeadlineMs >= this.leaseDurationMs)
      throw new Error('renew deadline must be shorter than the lease duration');
    if (this.retryPeriodMs >= this.renewDeadlineMs)
      throw new Error('retry period must be shorter than the renew deadline');
  }

  get isLeader(): boolean {
    return !!this.leading && !this.leading.signal.aborted;
  }

  get identity(): string {
    return this.o.identity;
  }

  start(): void {
    if (this.loopDone) return;
    this.stop = new AbortController();
    this.loopDone = this.loop();
  }

  /** Stops campaigning; when leading, stops leading and releases the Lease. */
  async shutdown(): Promise<void> {
    this.stop.abort();
    await this.loopDone;
    this.loopDone = undefined;
    if (this.leading) {
      this.stopLeading('shutdown');
      await this.release();
    }
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private async loop(): Promise<void> {
    while (!this.stop.signal.aborted) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (e) {
        this.log.warn({ err: e }, 'lease request failed');
      }
      if (this.stop.signal.aborted) break;
      if (ok) {
        this.lastRenew = this.now();
        if (!this.leading) this.startLeading();
        this.armDeadline();
      } else if (this.leading) {
        const held = this.observed.holder === this.o.identity;
        if (!held) this.stopLeading('another holder took the lease');
        else if (this.now() - this.lastRenew >= this.renewDeadlineMs)
          this.stopLeading('could not renew within the renew deadline');
      }
      try {
        await this.clock.sleep(this.retryPeriodMs, this.stop.signal);
      } catch {
        break;
      }
      if (this.leading && this.now() - this.lastRenew >= this.renewDeadlineMs)
        this.stopLeading('could not renew within the renew deadline');
    }
  }

  private deadline: AbortController | undefined;

  /** Stops leading when no renewal succeeds within renewDeadlineMs, even if a request hangs. */
  private armDeadline(): void {
    this.deadline?.abort();
    const d = new AbortController();
    this.deadline = d;
    this.clock.sleep(this.renewDeadlineMs, d.signal).then(
      () => {
        if (!d.signal.aborted && this.leading) this.stopLeading('could not renew within the renew deadline');
      },
      () => undefined,
    );
  }

  private startLeading(): void {
    this.leading = new AbortController();
    this.log.info({ identity: this.o.identity }, 'became leader');
    try {
      this.o.onStartedLeading(this.leading.signal);
    } catch (e) {
      this.log.error({ err: e }, 'onStartedLeading threw');
    }
  }

  private stopLeading(why: string): void {
    const l = this.leading;
    if (!l) return;
    this.leading = undefined;
    this.deadline?.abort();
    this.log.warn({ identity: this.o.identity, why }, 'stopped leading');
    l.abort(new Error(`lost leadership: ${why}`));
    try {
      this.o.onStoppedLeading?.();
    } catch (e) {
      this.log.error({ err: e }, 'onStoppedLeading threw');
    }
  }

  private observe(lease: Lease): void {
    const rv = lease.metadata.resourceVersion;
    const holder = lease.spec?.holderIdentity ?? '';
    if (rv !== this.observed.rv) this.observed = { rv, holder, at: this.now() };
    if (holder && holder !== this.lastLeader) {
      this.lastLeader = holder;
      this.o.onNewLeader?.(holder);
    }
  }

  /** One attempt; true when this process holds the Lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity } = this.o;
    const signal = AbortSignal.timeout(Math.max(500, this.renewDeadlineMs - this.retryPeriodMs));
    const nowIso = kubeMicroTime(this.clock.now());
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    // Fast path (as client-go): the leader renews with the Lease it wrote last, one request.
    const cached = this.lastWritten;
    if (this.leading && cached?.spec?.holderIdentity === identity) {
      try {
        const updated = await client.request<Lease>('PUT', resourcePath(LEASE, namespace, name), {
          signal,
          body: {
            ...cached,
            spec: { ...cached.spec, renewTime: nowIso, leaseDurationSeconds: durationSeconds },
          },
        });
        this.observe(updated);
        this.lastWritten = updated;
        return true;
      } catch (e) {
        this.lastWritten = undefined;
        if (!isConflict(e)) throw e;
      }
    }
    let lease: Lease;
    try {
      lease = await client.request<Lease>('GET', resourcePath(LEASE, namespace, name), { signal });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        const created = await client.request<Lease>('POST', resourcePath(LEASE, namespace), {
          signal,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: nowIso,
              renewTime: nowIso,
              leaseTransitions: 0,
            },
          },
        });
        this.observe(created);
        this.lastWritten = created;
        return true;
      } catch (ce) {
        if (isApiError(ce, 409)) return false;
        throw ce;
      }
    }
    this.observe(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const mine = holder === identity;
    const heldByOther = holder !== '' && !mine;
    const observedDuration = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && this.now() - this.observed.at < observedDuration) return false;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: nowIso,
        acquireTime: mine ? (spec.acquireTime ?? nowIso) : nowIso,
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      const updated = await client.request<Lease>('PUT', resourcePath(LEASE, namespace, name), {
        signal,
        body: next,
      });
      this.observe(updated);
      this.lastWritten = updated;
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  /** Gives the Lease up if this process holds it (holderIdentity emptied, duration 1 s). */
  async release(): Promise<void> {
    const { client, namespace, name, identity } = this.o;
    try {
      const lease = await client.request<Lease>('GET', resourcePath(LEASE, namespace, name));
      if ((lease.spec?.holderIdentity ?? '') !== identity) return;
      const nowIso = kubeMicroTime(this.clock.now());
      await client.request<Lease>('PUT', resourcePath(LEASE, namespace, name), {
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: null,
            leaseDurationSeconds: 1,
            renewTime: nowIso,
            acquireTime: null,
          },
        },
      });
      this.log.info('released the lease');
    } catch (e) {
      this.log.warn({ err: e }, 'could not release the lease');
    }
  }
}
