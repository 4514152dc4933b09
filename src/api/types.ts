/**
 * TypeScript types of the three kinds, kept in step with ./schema (test/unit/api/types.test.ts
 * checks every property of the schemas against a typed fixture). Fields with a schema default are
 * optional here: the API server fills them in; use `withDefaults()` offline.
 */

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
  window?: { column: string; last: string; legacyTimeZone?: string };
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
  kind?: 'missing' | 'extra' | 'changed';
  columns?: string[];
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
  | 'Shadow'
  | 'Canary'
  | 'AwaitingCutover'
  | 'CuttingOver'
  | 'Monitoring'
  | 'SteadyState'
  | 'RollingBack'
  | 'RolledBack'
  | 'Failed';
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
  owner?: string;
  description?: string;
  approval?: { required?: boolean; approvers?: string[] };
  job?: JobTemplate;
  reconciliations?: string[];
  duration?: string;
  timeout?: string;
}
export interface Rollback {
  automatic?: boolean;
  triggers?: {
    sloBreach?: { for?: string; slos?: string[] };
    reconciliationVariancePercent?: number;
    securityFlag?: { annotation?: string };
  };
  actions?: {
    trafficBack?: boolean;
    flagsOff?: boolean;
    liftLegacyFreeze?: boolean;
    replayJob?: JobTemplate;
    notify?: boolean;
  };
  keepLegacyHotFor?: string;
}
export interface CutoverSpec {
  services: CutoverService[];
  databases: { legacy: DatabaseRef; target: DatabaseRef; redis?: { secretRef: SecretKeyRef } };
  flagProvider?: FlagProvider;
  prometheusAddress?: string;
  slos?: Slo[];
  shadow?: {
    startAt: string;
    endAt: string;
    mirroring?: { enabled?: boolean; services?: string[] };
    reconciliations?: string[];
    remediationJob?: JobTemplate;
  };
  canary?: { phases: string[] };
  freeze?: {
    method: 'ReadOnly' | 'Flag' | 'Job';
    flagKey?: string;
    job?: JobTemplate;
    liftJob?: JobTemplate;
  };
  timeline: { startAt?: string; steps: TimelineStep[] };
  rollback?: Rollback;
  postCutover?: { reconciliations?: string[]; steadyStateAfter?: string; requireSignOff?: boolean };
  notifications?: { slack?: { webhookSecretRef: SecretKeyRef; channel?: string } };
  paused?: boolean;
}
export interface StepStatus {
  name?: string;
  state?: StepState;
  plannedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  jobName?: string;
  message?: string;
}
export interface RollbackStatus {
  trigger?: 'SloBreach' | 'ReconciliationVariance' | 'SecurityFlag' | 'StepFailed' | 'Manual';
  reason?: string;
  triggeredAt?: string;
  completedAt?: string;
  actions?: {
    name?: string;
    state?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
    at?: string;
    message?: string;
  }[];
}
export interface CutoverStatus extends StatusBase<CutoverPhase> {
  currentStep?: string;
  nextStep?: string;
  nextStepAt?: string;
  switchedAt?: string;
  legacyHotUntil?: string;
  steadyStateAt?: string;
  canaryPhase?: string;
  approvedSteps?: string[];
  lastActionToken?: string;
  steps?: StepStatus[];
  sloBreaches?: { slo?: string; since?: string; value?: string }[];
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
