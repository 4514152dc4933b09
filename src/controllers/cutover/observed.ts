/**
 * What the Cutover's decision reads (gathered by the sync from caches and read-backs) and the
 * actions it asks for. Plain data: `decide()` is a pure function of these and the time.
 */
import type {
  CanaryPhaseName,
  Cutover,
  CutoverJobEnvironment,
  JobTemplate,
  ReconciliationPhase,
} from '../../api/index.js';
import type { ObservedShadowProxy } from './shadow-proxy.js';
import type { ObservedSecrets } from './invalid-spec.js';

/** A Job the Cutover created, as its cache shows it. */
export type ObservedJobState = 'Running' | 'Succeeded' | 'Failed';

/** The last run of a Reconciliation, from its status. */
export interface ObservedReconciliation {
  phase?: ReconciliationPhase;
  /** When its last run started / finished (RFC 3339). */
  runStartedAt?: string;
  runFinishedAt?: string;
  /** Largest variance (%) of the last completed run. */
  variancePercent?: number;
  /** The rerun token it last acted on (`cutover.nokta.io/rerun`). */
  rerunToken?: string;
}

/** One SLO's current reading through the analysis providers. */
export interface ObservedSlo {
  /** The value read; undefined when the query gave no data. */
  value?: number;
  /** The objective holds (no data counts as met: a breach needs a value). */
  met: boolean;
}

/** Effects read back from the world (the actuators' read functions). */
export interface ObservedWorld {
  /** Per service with traffic config: where its traffic goes now. */
  traffic: Record<string, 'legacy' | 'new' | 'mixed'>;
  /** Per service with a flag: on (the requested tenants or all) or off. */
  flags: Record<string, 'on' | 'off'>;
  /** Legacy MySQL read_only is on (undefined: could not be read). */
  legacyReadOnly?: boolean;
  /** The POS offline-first queue flag is on. */
  posOffline?: boolean;
  /** The freeze's verification write was refused. */
  freezeVerified?: boolean;
  /** The report ConfigMap has these keys (checkpoint, final, review). */
  reportKeys: string[];
  /** The export Job's reported lag in seconds (ConfigMap `<cutover>-export`, key lagSeconds). */
  exportLagSeconds?: number;
}

export interface Observed {
  cutover: Cutover;
  /** Jobs owned by the Cutover, by name. */
  jobs: Record<string, ObservedJobState>;
  /** Reconciliations named by the Cutover, by name (absent: does not exist). */
  reconciliations: Record<string, ObservedReconciliation>;
  /** CanaryPhases named by spec.canary.phases, by name. */
  canaryPhases: Record<string, { phase?: CanaryPhaseName; message?: string }>;
  /** Integration checks probed during preparation (by probe key, see probeKey): the HTTP status or an error. */
  integrationChecks: Record<string, { status?: number; error?: string }>;
  /** SLO readings (absent: not read this sync). */
  slos: Record<string, ObservedSlo>;
  world: ObservedWorld;
  /** The comparing shadow proxies (spec.shadow.comparison), by service: see shadow-proxy.ts. */
  shadowProxies?: Record<string, ObservedShadowProxy>;
  /**
   * Notifications this process's notifier has (by event): still being delivered (Sending),
   * delivered or given up on. After a restart it is empty.
   */
  notifications: Record<string, { state: 'Sending' | 'Sent' | 'Failed'; attempts: number }>;
  /**
   * `cutover.nokta.io/approve` (comma-separated step names) and who approved, from
   * `cutover.nokta.io/approved-by` (see docs/cutover.md: the approval convention).
   */
  approval?: { steps: string[]; by: string };
  /** The Secrets the plan names: their keys, null when missing (absent: not observed). */
  secrets?: ObservedSecrets;
}

/** What a sync does after it has won the claim on the status that records the action as started. */
export type Action =
  | { kind: 'CreateJob'; purpose: string; name: string; template: JobTemplate; env: CutoverJobEnvironment }
  | { kind: 'DeleteJob'; name: string }
  | { kind: 'FreezeLegacy' }
  | { kind: 'ReopenLegacyWrites' }
  | { kind: 'PosOffline'; on: boolean }
  | { kind: 'Traffic'; to: 'legacy' | 'new'; services: string[] }
  | { kind: 'Flags'; on: boolean; services: string[]; tenants?: string[] }
  | {
      kind: 'RerunReconciliation';
      name: string;
      token: string;
      /** Bound the run to data in this window (the replay verification). */
      window?: { from: string; to: string };
    }
  | {
      kind: 'ProbeIntegration';
      name: string;
      /** Where the result is kept: the check's name, `<name>#<attempt>` for a retry. */
      key: string;
    }
  | { kind: 'ShadowProxy'; on: boolean; services: string[] }
  | { kind: 'ScaleLegacy'; replicas: number }
  | { kind: 'Notify'; event: string; text: string }
  | { kind: 'WriteReport'; part: 'checkpoint' | 'final' | 'review' };

export interface Decision {
  status: NonNullable<Cutover['status']>;
  actions: Action[];
  /** Plan time (ms) until the next planned change; undefined: nothing planned. */
  requeueAfterMs?: number;
  /** An effect is waiting to be confirmed by a read-back (not watched): look again soon. */
  recheck: boolean;
}
