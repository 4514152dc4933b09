/**
 * TypeScript types of the three kinds, kept in step with ./schema (test/unit/api/types.test.ts
 * checks every property of the schemas against a typed fixture). Fields with a schema default are
 * optional here: the API server fills them in; use `withDefaults()` offline.
 */

import type { ShadowComparison } from '../shadow/rules-schema.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';
/** metav1.Condition: type, status, reason, message and lastTransitionTime are required (the CRDs refuse a condition without them). */
export interface Condition {
  type: string;
  status: ConditionStatus;
  /** CamelCase, for machines: InvalidSpec, Passed. */
  reason: string;
  /** For people; may be empty. */
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  generation?: number;
  resourceVersion?: string;
  uid?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

export interface StatusBase<Phase extends string> {
  phase?: Phase;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface SecretKeyRef {
  name: string;
  key?: string;
}
export interface LocalObjectRef {
  name: string;
}
export type Engine = 'mysql' | 'postgres';
export interface DatabaseRef {
  engine: Engine;
  secretRef?: SecretKeyRef;
  url?: string;
}

export interface EnvVar {
  name: string;
  value?: string;
  secretKeyRef?: SecretKeyRef;
}
export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}
/** Pod settings of a Job over the operator's defaults (Pod Security "restricted"). */
export interface PodOverlay {
  annotations?: Record<string, string>;
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsUser?: number;
    runAsGroup?: number;
    fsGroup?: number;
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    seccompProfile?: { type: 'RuntimeDefault' | 'Localhost' | 'Unconfined'; localhostProfile?: string };
  };
}
export interface JobTemplate {
  image: string;
  command: string[];
  args?: string[];
  env?: EnvVar[];
  serviceAccountName?: string;
  parallelism?: number;
  completions?: number;
  completionMode?: 'NonIndexed' | 'Indexed';
  backoffLimit?: number;
  activeDeadlineSeconds?: number;
  podLabels?: Record<string, string>;
  pod?: PodOverlay;
}

// ------------------------------------------------------------------------------ Reconciliation
export type CheckType = 'count' | 'sum' | 'rowHash' | 'sample' | 'customSql';
export type ColumnType = 'decimal' | 'integer' | 'text' | 'timestamp' | 'boolean';
export type Verdict = 'Passed' | 'RemediationNeeded' | 'Failed' | 'Error';
export type ReconciliationPhase = 'Pending' | 'Running' | 'Passed' | 'RemediationNeeded' | 'Failed' | 'Error';

export interface Thresholds {
  remediatePercent?: number;
  failPercent?: number;
}
export interface CheckSide {
  table?: string;
  query?: string;
  tenantColumn?: string;
  windowColumn?: string;
}
export interface ColumnMapping {
  name: string;
  legacy?: string;
  target?: string;
  type: ColumnType;
  scale?: number;
  transforms?: ('lower' | 'trim')[];
  legacyTimeZone?: string;
  precision?: 0 | 3 | 6;
}
export interface Check {
  name: string;
  type: CheckType;
  description?: string;
  legacy?: CheckSide;
  target?: CheckSide;
  key?: string[];
  columns?: ColumnMapping[];
  sampleSize?: number;
  seed?: string;
  customSql?: { legacy: string; target: string };
  thresholds?: Thresholds;
}
export interface ReconciliationSchedule {
  cron?: string;
  cutoverRef?: LocalObjectRef;
  offsets?: string[];
  suspend?: boolean;
}
export interface Parallelism {
  mode?: 'Inline' | 'IndexedJob';
  shards?: number;
  shardBy?: 'Tenant' | 'KeyRange';
  image?: string;
  serviceAccountName?: string;
  podLabels?: Record<string, string>;
  pod?: PodOverlay;
}
export interface ReconciliationSpec {
  legacy: DatabaseRef;
  target: DatabaseRef;
  tenantColumn?: string;
  tenants?: string[];
  window?: {
    column: string;
    last?: string;
    from?: string;
    /** An RFC 3339 time, or 'frozenAt' (the Cutover in cutoverRef's status.frozenAt). */
    until?: string;
    cutoverRef?: LocalObjectRef;
    legacyTimeZone?: string;
  };
  thresholds?: Thresholds;
  schedule?: ReconciliationSchedule;
  parallelism?: Parallelism;
  statementTimeoutSeconds?: number;
  checks: Check[];
}
export interface TenantResult {
  tenant?: string;
  legacy?: string;
  target?: string;
  variancePercent?: number;
  verdict?: Verdict;
}
export interface DifferingKey {
  tenant?: string;
  key?: string;
  kind?: 'missing' | 'extra' | 'changed' | 'duplicateInLegacy' | 'duplicateInTarget';
  columns?: string[];
  rows?: number;
}
export interface CheckResult {
  name?: string;
  verdict?: Verdict;
  variancePercent?: number;
  legacyValue?: string;
  targetValue?: string;
  worstTenant?: string;
  tenants?: TenantResult[];
  differingKeys?: DifferingKey[];
  error?: string;
}
export interface ReconciliationStatus extends StatusBase<ReconciliationPhase> {
  lastRun?: {
    id?: string;
    trigger?: string;
    startedAt?: string;
    finishedAt?: string;
    verdict?: Verdict;
    error?: string;
  };
  nextRunAt?: string;
  runsCompleted?: number;
  completedOffsets?: string[];
  lastRerunToken?: string;
  summary?: {
    checks?: number;
    passed?: number;
    failed?: number;
    rowsCompared?: string;
    maxVariancePercent?: string;
    worstCheck?: string;
    worstTenant?: string;
  };
  checks?: CheckResult[];
  reportConfigMap?: string;
  shards?: { total?: number; succeeded?: number; failed?: number };
}
export interface Reconciliation {
  apiVersion: 'cutover.nokta.io/v1alpha1';
  kind: 'Reconciliation';
  metadata: ObjectMeta;
  spec: ReconciliationSpec;
  status?: ReconciliationStatus;
}

// ------------------------------------------------------------------------------ CanaryPhase
export type CanaryPhaseName =
  'Pending' | 'Progressing' | 'Paused' | 'Promoted' | 'Succeeded' | 'RolledBack' | 'Aborted' | 'Failed';
export interface BackendRef {
  name: string;
  port: number;
}
export interface TrafficTarget {
  ingress?: {
    name: string;
    newBackend: BackendRef;
    stickiness?: { header?: string; headerValue?: string; cookie?: string };
  };
  httpRoute?: { name: string; ruleIndex?: number; legacyBackend: BackendRef; newBackend: BackendRef };
}
export type Routing = 'Flag' | 'Traffic';
export interface CanaryService {
  name: string;
  routing?: Routing;
  flagKey?: string;
  traffic?: TrafficTarget;
}
export interface PilotCohort {
  attribute: string;
  members?: string[];
  membersFrom?: { configMapName: string; key: string };
}
export interface Cohort {
  name: string;
  services?: string[];
  tenants?: string[];
  pilot?: PilotCohort;
}
export interface FlagProvider {
  type: 'Redis' | 'Flagd';
  redis?: { secretRef: SecretKeyRef; keyPrefix?: string };
  flagd?: { configMapName: string };
}
export interface CanaryStep {
  weight: number;
  pause?: string;
}
export interface Gate {
  name: string;
  beforeStep: number;
}
export interface AnalysisMetric {
  name: string;
  services?: string[];
  prometheus?: { address?: string; query: string; tokenSecretRef?: SecretKeyRef; timeout?: string };
  reconciliation?: { name: string; maxAge?: string };
  http?: {
    url: string;
    jsonPath: string;
    headerSecretRef?: SecretKeyRef;
    headerName?: string;
    timeout?: string;
  };
  job?: { image?: string; command: string[]; args?: string[]; activeDeadline?: string };
  shadowDifferences?: {
    service: string;
    metricsUrl?: string;
    prometheus?: { address?: string; window?: string; tokenSecretRef?: SecretKeyRef };
    minCompared?: number;
    timeout?: string;
  };
  successCondition?: string;
  failureCondition?: string;
}
export interface ResultLimit {
  limit?: number;
  onLimit?: 'Pause' | 'Rollback';
}
export interface Analysis {
  interval?: string;
  count?: number;
  consecutiveFailureLimit?: number;
  inconclusive?: ResultLimit;
  noData?: ResultLimit;
  error?: ResultLimit;
  rollbackScope?: 'Phase' | 'Service';
  prometheusAddress?: string;
  metrics: AnalysisMetric[];
}
export interface CanaryPhaseSpec {
  cutoverRef?: LocalObjectRef;
  services: CanaryService[];
  cohorts?: Cohort[];
  flagProvider?: FlagProvider;
  bucketingKey?: string;
  steps: CanaryStep[];
  gates?: Gate[];
  analysis: Analysis;
  duration?: string;
  startAt?: string;
  endBy?: string;
  progressDeadline?: string;
  onSuccess?: 'Hold' | 'Restore';
  autoPromote?: boolean;
  paused?: boolean;
}
export type MeasurementResultName = 'Successful' | 'Failed' | 'Inconclusive' | 'Error' | 'NoData';
export interface Measurement {
  metric?: string;
  at?: string;
  value?: string;
  result?: MeasurementResultName;
  message?: string;
}
export interface MetricCounts {
  name?: string;
  lastResult?: MeasurementResultName;
  lastAt?: string;
  failures?: number;
  inconclusive?: number;
  noData?: number;
  errors?: number;
}
export interface CanaryPhaseStatus extends StatusBase<CanaryPhaseName> {
  currentStep?: number;
  currentWeight?: number;
  appliedStep?: number;
  stepStartedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  consecutiveFailures?: number;
  measurementsTaken?: number;
  lastMeasuredAt?: string;
  nextMeasurementAt?: string;
  waitingForGate?: string;
  approvedGates?: string[];
  pauseReason?: string;
  pausedAt?: string;
  measuringRound?: number;
  lastActionToken?: string;
  lastApproveToken?: string;
  metrics?: MetricCounts[];
  measurements?: Measurement[];
  rolledBackServices?: string[];
  rollback?: {
    reason?: string;
    metric?: string;
    value?: string;
    at?: string;
    services?: string[];
  };
  restoredServices?: string[];
  restoredAt?: string;
  message?: string;
}
export interface CanaryPhase {
  apiVersion: 'cutover.nokta.io/v1alpha1';
  kind: 'CanaryPhase';
  metadata: ObjectMeta;
  spec: CanaryPhaseSpec;
  status?: CanaryPhaseStatus;
}

// ------------------------------------------------------------------------------ Cutover
export type CutoverPhase =
  | 'Pending'
  | 'Preparation'
  | 'Shadow'
  | 'Canary'
  | 'AwaitingCutover'
  | 'CuttingOver'
  | 'Monitoring'
  | 'LegacyHot'
  | 'PostCutover'
  | 'SteadyState'
  | 'Paused'
  | 'RollingBack'
  | 'RolledBack'
  | 'Failed'
  | 'Aborted';
export type StepAction =
  | 'Freeze'
  | 'DeltaSync'
  | 'ReconciliationSignOff'
  | 'TrafficSwitch'
  | 'EnableFlags'
  | 'LiftFreeze'
  | 'Monitor'
  | 'Report'
  | 'Job'
  | 'Notify';
export type StepState =
  'Pending' | 'Waiting' | 'AwaitingApproval' | 'Running' | 'Succeeded' | 'Failed' | 'Skipped';
export type OnFailure = 'Rollback' | 'Pause' | 'Abort';
export type RollbackAction =
  | 'PosOfflineOn'
  | 'Replay'
  | 'VerifyReplay'
  | 'TrafficBack'
  | 'FlagsOff'
  | 'ReopenLegacyWrites'
  | 'DrainQueue'
  | 'SchemaDown'
  | 'Notify';
export type Milestone =
  'Preparation' | 'Shadow' | 'Canary' | 'Freeze' | 'Switch' | 'LegacyHotEnd' | 'SteadyState';
export interface TriggerWindow {
  activeFrom?: Milestone;
  activeUntil?: Milestone;
}
export type RollbackTrigger =
  'SloBreach' | 'ReconciliationVariance' | 'SecurityFlag' | 'StepFailed' | 'Manual';
/** The variables every Job a Cutover creates gets (docs/cutover.md); values are RFC 3339 or '' until known. */
export interface CutoverJobEnvironment {
  CUTOVER_NAME: string;
  CUTOVER_FROZEN_AT: string;
  CUTOVER_SWITCHED_AT: string;
  CUTOVER_LAST_SYNC_AT: string;
  CUTOVER_REPORT_CONFIGMAP: string;
}
export interface WorkloadRef {
  kind?: 'Deployment' | 'StatefulSet';
  name: string;
}
export interface CutoverService {
  name: string;
  flagKey?: string;
  traffic?: TrafficTarget;
  legacy: WorkloadRef;
  new: WorkloadRef;
}
export interface Slo {
  name: string;
  service?: string;
  description?: string;
  query: string;
  objective: string;
}
export interface TimelineStep {
  name: string;
  action: StepAction;
  at?: string;
  offset?: string;
  dependsOn?: string[];
  onFailure?: OnFailure;
  services?: string[];
  tenants?: string[];
  owner?: string;
  description?: string;
  approval?: { required?: boolean; approvers?: string[]; timeout?: string; onTimeout?: OnFailure };
  job?: JobTemplate;
  reconciliations?: string[];
  duration?: string;
  timeout?: string;
}
export interface Rollback {
  automatic?: boolean;
  triggers?: {
    sloBreach?: { for?: string; slos?: string[] } & TriggerWindow;
    reconciliationVariance?: { percent?: number } & TriggerWindow;
    securityFlag?: { annotation?: string } & TriggerWindow;
    stepFailed?: { enabled?: boolean };
  };
  order?: RollbackAction[];
  replayJob?: JobTemplate;
  verifyReconciliation?: string;
  exportJob?: JobTemplate;
  maxExportLag?: string;
  keepLegacyHotFor?: string;
  legacyReplicasAfterHot?: number;
}
export interface IntegrationCheck {
  name: string;
  url: string;
  method?: 'GET' | 'HEAD' | 'POST';
  expectStatus?: number;
  header?: { name: string; secretRef: SecretKeyRef };
  timeout?: string;
}
export interface Preparation {
  schemaMigration?: { version: string; job?: JobTemplate; downJob?: JobTemplate };
  bulkCopy?: { job: JobTemplate };
  postLoadSql?: { job: JobTemplate };
  integrationChecks?: IntegrationCheck[];
}
export interface CutoverSpec {
  services: CutoverService[];
  databases: { legacy: DatabaseRef; target: DatabaseRef; redis?: { secretRef: SecretKeyRef } };
  flagProvider?: FlagProvider;
  prometheusAddress?: string;
  slos?: Slo[];
  preparation?: Preparation;
  shadow?: {
    startAt: string;
    endAt: string;
    mirroring?: { enabled?: boolean; services?: string[] };
    reconciliations?: string[];
    remediationJob?: JobTemplate;
    remediatePercent?: number;
    maxReruns?: number;
    comparison?: (ShadowComparison & { service: string })[];
    maxDifferencePercent?: number;
    minCompared?: number;
  };
  canary?: { phases: string[] };
  freeze?: {
    method: 'ReadOnly' | 'Flag' | 'Job';
    flagKey?: string;
    job?: JobTemplate;
    liftJob?: JobTemplate;
    posOffline?: { service?: string; flagKey: string };
    verification?: { secretRef: SecretKeyRef; table?: string };
  };
  timeline: { startAt?: string; steps: TimelineStep[] };
  rollback?: Rollback;
  report?: { configMapName?: string };
  postCutover?: { reconciliations?: string[]; steadyStateAfter?: string; requireSignOff?: boolean };
  notifications?: { slack?: { webhookSecretRef: SecretKeyRef; channel?: string } };
  paused?: boolean;
}
export interface StepStatus {
  name?: string;
  state?: StepState;
  attempt?: number;
  plannedAt?: string;
  awaitingSince?: string;
  startedAt?: string;
  finishedAt?: string;
  jobName?: string;
  message?: string;
}
export interface RollbackActionStatus {
  name?: string;
  state?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Skipped';
  at?: string;
  finishedAt?: string;
  jobName?: string;
  message?: string;
}
export interface RollbackStatus {
  trigger?: RollbackTrigger;
  reason?: string;
  triggeredAt?: string;
  completedAt?: string;
  window?: { from?: string; to?: string };
  ignoredTriggers?: { trigger?: string; at?: string; reason?: string }[];
  actions?: RollbackActionStatus[];
  review?: { dueAt?: string; configMap?: string };
}
export interface PreparationItemStatus {
  name?: string;
  state?: StepState;
  /** Attempts so far (a retry: cutover.nokta.io/approve=retry:<name>:<attempt>). */
  attempt?: number;
  jobName?: string;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}
export interface NotificationStatus {
  event?: string;
  at?: string;
  /**
   * Pending: queued; Sending: handed to the notifier (recorded before the post, write-ahead);
   * Sent, Failed: what the notifier reported; Unconfirmed: the operator restarted while it was
   * Sending, so it may have been posted and is not posted again.
   */
  state?: 'Pending' | 'Sending' | 'Sent' | 'Failed' | 'Unconfirmed';
  attempts?: number;
}
export interface CutoverStatus extends StatusBase<CutoverPhase> {
  currentStep?: string;
  nextStep?: string;
  nextStepAt?: string;
  pausedAt?: string;
  frozenAt?: string;
  lastSyncAt?: string;
  switchedAt?: string;
  legacyHotUntil?: string;
  legacyScaledAt?: string;
  stableSince?: string;
  steadyStateAt?: string;
  canaryPhase?: string;
  approvedSteps?: string[];
  approvals?: { step?: string; by?: string; at?: string }[];
  lastActionToken?: string;
  preparation?: PreparationItemStatus[];
  shadow?: {
    completedAt?: string;
    proxies?: ShadowProxyStatus[];
    reruns?: { reconciliation?: string; count?: number; state?: StepState; at?: string; jobName?: string }[];
  };
  steps?: StepStatus[];
  freeze?: {
    legacyReadOnly?: boolean;
    posOffline?: boolean;
    verified?: boolean;
    frozenBy?: string;
    newPrimaryLiftedAt?: string;
    legacyReopenedAt?: string;
  };
  signOff?: {
    step?: string;
    afterSyncAt?: string;
    reconciliations?: { name?: string; runStartedAt?: string; phase?: string; variancePercent?: string }[];
    signedAt?: string;
  };
  export?: { jobName?: string; lagSeconds?: number; reportedAt?: string };
  sloBreaches?: { slo?: string; since?: string; value?: string }[];
  notifications?: NotificationStatus[];
  report?: { configMap?: string; checkpointAt?: string; finalAt?: string };
  rollback?: RollbackStatus;
  message?: string;
}
export interface Cutover {
  apiVersion: 'cutover.nokta.io/v1alpha1';
  kind: 'Cutover';
  metadata: ObjectMeta;
  spec: CutoverSpec;
  status?: CutoverStatus;
}

export type CutoverResource = Reconciliation | CanaryPhase | Cutover;

/** One service's comparing shadow proxy in the Cutover's status. */
export interface ShadowProxyStatus {
  service?: string;
  state?: 'Deployed' | 'Removed';
  compared?: number;
  differing?: number;
  differencePercent?: number;
  measuredAt?: string;
  message?: string;
}
