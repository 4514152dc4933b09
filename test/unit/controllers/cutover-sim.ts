/**
 * A plain-data world for unit tests of the Cutover's pure `decide`: it applies the actions a
 * decision returns to in-memory state (what routes, flags, read_only, Jobs and Reconciliation
 * runs would become) and feeds the next decision what it would observe. It stands in for nothing
 * at run time: the real adapters are tested against the real services in test/integration.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Cutover, CutoverSpec } from '../../../src/api/index.js';
import { decide } from '../../../src/controllers/cutover/decide.js';
import type {
  Action,
  Decision,
  Observed,
  ObservedJobState,
  ObservedReconciliation,
  ObservedSlo,
  ObservedWorld,
} from '../../../src/controllers/cutover/observed.js';

export const SAMPLE = parse(readFileSync('samples/cutover-nokta.yaml', 'utf8')) as Cutover;

export interface SimOptions {
  spec?: CutoverSpec;
  start?: string;
  /** Approve every gate when it is reached (as `alice`). */
  autoApprove?: boolean;
  /** Outcome of a Job by its key (default Succeeded). */
  jobOutcome?: (name: string) => ObservedJobState;
  /** Variance (%) of each Reconciliation's next run. */
  variance?: Record<string, number>;
}

export interface EffectLog {
  at: string;
  what: string;
}

export class Sim {
  now: number;
  cutover: Cutover;
  jobs: Record<string, ObservedJobState> = {};
  /** Jobs created, with the POS offline flag and legacy read_only as they were at creation. */
  jobsCreated: {
    name: string;
    purpose: string;
    env: Record<string, string>;
    at: string;
    posOffline?: boolean;
    legacyReadOnly?: boolean;
  }[] = [];
  recons: Record<string, ObservedReconciliation> = {};
  canary: Observed['canaryPhases'] = {};
  slos: Record<string, ObservedSlo> = {};
  world: ObservedWorld = { traffic: {}, flags: {}, legacyReadOnly: false, posOffline: false, reportKeys: [] };
  approval?: { steps: string[]; by: string };
  delivered: Observed['notifications'] = {};
  /** The Secrets the plan names, as the sync observes them (absent: not observed). */
  secrets?: Record<string, string[] | null>;
  /** Webhook posts by event (the notifier posts each Notify it is handed). */
  posts = new Map<string, number>();
  integration: Observed['integrationChecks'] = {};
  log: EffectLog[] = [];
  decisions: Decision[] = [];
  /** Status before each decision (to check the write-ahead rule against). */
  autoApprove: boolean;
  variance: Record<string, number>;
  jobOutcome: (name: string) => ObservedJobState;
  /** The answer of an integration probe (by probe key: `<check>` or `<check>#<attempt>`). */
  probeOutcome: (key: string) => { status?: number; error?: string } = () => ({ status: 200 });
  private pendingRuns: { name: string; at: number }[] = [];

  constructor(opts: SimOptions = {}) {
    this.now = Date.parse(opts.start ?? '2026-11-20T00:00:00Z');
    const spec = structuredClone(opts.spec ?? SAMPLE.spec);
    this.cutover = {
      ...SAMPLE,
      metadata: {
        name: 'nokta',
        namespace: 'nokta',
        generation: 1,
        creationTimestamp: new Date(this.now).toISOString(),
        annotations: {},
      },
      spec,
    };
    this.autoApprove = opts.autoApprove ?? true;
    this.variance = opts.variance ?? {};
    this.jobOutcome = opts.jobOutcome ?? (() => 'Succeeded');
    for (const s of spec.services) {
      if (s.traffic) this.world.traffic[s.name] = 'legacy';
      if (s.flagKey) this.world.flags[s.name] = 'off';
    }
    for (const name of spec.shadow?.reconciliations ?? []) this.finishRun(name, this.now - 3600_000);
    for (const name of spec.canary?.phases ?? []) this.canary[name] = { phase: 'Succeeded' };
  }

  get status(): NonNullable<Cutover['status']> {
    return this.cutover.status ?? {};
  }
  iso(): string {
    return new Date(this.now).toISOString();
  }

  observed(): Observed {
    return {
      cutover: structuredClone(this.cutover),
      jobs: { ...this.jobs },
      reconciliations: structuredClone(this.recons),
      canaryPhases: structuredClone(this.canary),
      integrationChecks: { ...this.integration },
      slos: { ...this.slos },
      world: structuredClone(this.world),
      notifications: { ...this.delivered },
      ...(this.secrets ? { secrets: { ...this.secrets } } : {}),
      ...(this.approval ? { approval: { ...this.approval } } : {}),
    };
  }

  /**
   * Crash model: called before each sync; 'before-claim' loses the decision (no status written,
   * nothing done), 'after-claim' writes the status and dies before acting.
   */
  crash?: () => 'before-claim' | 'after-claim' | undefined;

  /** One sync: decide, "write" the status, act. */
  sync(): Decision {
    const d = decide(this.observed(), new Date(this.now));
    const crash = this.crash?.();
    // The process dies: its notifier's memory goes with it.
    if (crash !== undefined) this.delivered = {};
    if (crash === 'before-claim') return { ...d, actions: [], recheck: true };
    this.decisions.push(d);
    this.cutover = { ...this.cutover, status: d.status };
    if (crash === 'after-claim') return { ...d, recheck: true };
    this.apply(d.actions);
    if (this.autoApprove) {
      const gate = d.status.steps?.find((s) => s.state === 'AwaitingApproval');
      if (gate) this.approval = { steps: [gate.name!], by: 'alice@nokta' };
      else if (d.status.message?.includes('approve=steady-state'))
        this.approval = { steps: ['steady-state'], by: 'bob@nokta' };
    }
    return d;
  }

  apply(actions: Action[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case 'CreateJob':
          if (this.jobs[a.name] === undefined) {
            this.jobs[a.name] = 'Running';
            this.jobsCreated.push({
              name: a.name,
              purpose: a.purpose,
              env: { ...a.env },
              at: this.iso(),
              ...(this.world.posOffline !== undefined ? { posOffline: this.world.posOffline } : {}),
              ...(this.world.legacyReadOnly !== undefined
                ? { legacyReadOnly: this.world.legacyReadOnly }
                : {}),
            });
            // The export Job reports a small lag once it runs.
            if (a.purpose === 'export') this.world.exportLagSeconds = 5;
            this.effect(`job ${a.purpose}`);
          }
          break;
        case 'DeleteJob':
          delete this.jobs[a.name];
          break;
        case 'FreezeLegacy':
          if (!this.world.legacyReadOnly) this.effect('legacy read-only');
          this.world.legacyReadOnly = true;
          this.world.freezeVerified = true;
          break;
        case 'ReopenLegacyWrites':
          if (this.world.legacyReadOnly) this.effect('legacy writable');
          this.world.legacyReadOnly = false;
          break;
        case 'PosOffline':
          if (this.world.posOffline !== a.on) this.effect(`pos offline ${a.on ? 'on' : 'off'}`);
          this.world.posOffline = a.on;
          break;
        case 'Traffic':
          for (const s of a.services) {
            if (this.world.traffic[s] !== a.to) this.effect(`traffic ${s} -> ${a.to}`);
            this.world.traffic[s] = a.to;
          }
          break;
        case 'Flags':
          for (const s of a.services) {
            const v = a.on ? 'on' : 'off';
            if (this.world.flags[s] !== v) this.effect(`flag ${s} ${v}`);
            this.world.flags[s] = v;
          }
          break;
        case 'RerunReconciliation': {
          const r = (this.recons[a.name] ??= {});
          if (r.rerunToken !== a.token) {
            // As the Reconciliation controller's claim: the token with a new, unfinished run.
            r.rerunToken = a.token;
            r.runStartedAt = new Date(this.now).toISOString();
            delete r.runFinishedAt;
            this.pendingRuns.push({ name: a.name, at: this.now });
            this.effect(`rerun ${a.name}${a.window ? ` window ${a.window.from}..${a.window.to}` : ''}`);
          }
          break;
        }
        case 'ProbeIntegration':
          this.integration[a.key] = this.probeOutcome(a.key);
          break;
        case 'ScaleLegacy':
          this.effect(`scale legacy ${a.replicas}`);
          break;
        case 'Notify':
          if (this.delivered[a.event] === undefined) {
            this.posts.set(a.event, (this.posts.get(a.event) ?? 0) + 1);
            this.delivered[a.event] = { state: 'Sent', attempts: 1 };
          }
          break;
        case 'WriteReport':
          if (!this.world.reportKeys.includes(a.part)) {
            this.world.reportKeys.push(a.part);
            this.effect(`report ${a.part}`);
          }
          break;
      }
    }
  }

  private effect(what: string): void {
    if (this.log.at(-1)?.what !== what || this.log.at(-1)?.at !== this.iso())
      this.log.push({ at: this.iso(), what });
  }

  private finishRun(name: string, startedAt: number): void {
    const variance = this.variance[name] ?? 0.1;
    const r = (this.recons[name] ??= {});
    r.runStartedAt = new Date(startedAt).toISOString();
    r.runFinishedAt = new Date(startedAt + 1000).toISOString();
    r.variancePercent = variance;
    r.phase = variance > 1 ? 'Failed' : variance > 0.5 ? 'RemediationNeeded' : 'Passed';
  }

  /** Jobs and Reconciliation runs started before now finish (a second of world time). */
  tick(ms: number): void {
    for (const [name, state] of Object.entries(this.jobs))
      if (state === 'Running' && !name.endsWith('-export-1')) this.jobs[name] = this.jobOutcome(name);
    for (const run of this.pendingRuns.splice(0))
      this.finishRun(run.name, Math.max(run.at, this.now - ms) + 1);
    this.now += ms;
  }

  /** Syncs until `until` holds or the plan stops moving; time jumps to the next planned change. */
  run(until: (s: Sim) => boolean, maxSyncs = 2000): void {
    for (let i = 0; i < maxSyncs; i++) {
      const d = this.sync();
      if (until(this)) return;
      const busy =
        d.recheck || d.actions.some((a) => a.kind === 'CreateJob' || a.kind === 'RerunReconciliation');
      const step = busy ? 1000 : Math.min(d.requeueAfterMs ?? 3600_000, 3600_000);
      this.tick(Math.max(step, 1000));
    }
    throw new Error(`still ${this.status.phase} after ${maxSyncs} syncs: ${this.status.message}`);
  }
}

/** The index in the log of the first effect matching `what`. */
export function firstIndex(log: EffectLog[], what: string | RegExp): number {
  return log.findIndex((e) => (typeof what === 'string' ? e.what === what : what.test(e.what)));
}
