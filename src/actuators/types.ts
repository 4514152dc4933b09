/**
 * Input and output types of the actuators. Controllers map their CRD specs onto these; the
 * actuators do not depend on src/api.
 */

/** Annotation, on any object an actuator touched, holding the JSON of the fields before its first change. */
export const PREVIOUS_STATE_ANNOTATION = 'cutover.nokta.io/previous-state';
/** Annotation naming the owner (e.g. `Cutover/ns/name`) on objects an actuator created or changed. */
export const MANAGED_BY_ANNOTATION = 'cutover.nokta.io/managed-by';

/** A Kubernetes owner to put in ownerReferences of objects the actuators create. */
export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export interface BackendRef {
  name: string;
  port: number;
}

/** Where traffic of one service is shifted. */
export type TrafficTarget =
  | {
      kind: 'HTTPRoute';
      namespace: string;
      name: string;
      /** Rule of the route whose backendRefs are weighted; default 0. */
      ruleIndex?: number;
      legacyBackend: BackendRef;
      newBackend: BackendRef;
    }
  | {
      kind: 'Ingress';
      namespace: string;
      /** Name of the stable (legacy) Ingress; the canary is `<stableIngress>-canary`. */
      stableIngress: string;
      canaryService: string;
      /** Port of the canary service; default: the port of the stable backend. */
      canaryPort?: number;
      stickiness?: { header?: string; headerValue?: string; cookie?: string };
      owner?: OwnerRef;
    };

/** What a traffic target should look like: idempotent, absolute values. */
export interface TrafficDesired {
  /** Percentage 0..100 of requests sent to the new backend. */
  newWeight: number;
  /** Shadow phase: mirror the requests of the rule to the new backend (HTTPRoute only). */
  mirror?: boolean;
}

/** A cohort that always gets the flag on, whatever the percentage (e.g. pilot drivers). */
export interface FlagCohort {
  name: string;
  /** Evaluation context attribute holding the member id, e.g. `driverId`. */
  attribute: string;
  members: string[];
}

/** One service's flag for a set of tenants. */
export interface FlagSpec {
  /** Service, e.g. `pos`, `callcenter`, `driver`, `customer`, `billing`. */
  service: string;
  /** Flag key, e.g. `new-stack`. */
  key: string;
  /** Tenants whose flag is set to this state; `all` = every tenant known for the service. */
  tenants: string[] | 'all';
  enabled: boolean;
  /** Percentage of sessions/users (0..100, up to 3 decimals) getting the new variant. */
  percentage: number;
  cohort?: FlagCohort;
  /** Evaluation context attribute used for sticky bucketing. */
  bucketingKey: string;
}

/** The state of one tenant's flag, as stored in Redis and rendered to flagd. */
export interface TenantFlagState {
  enabled: boolean;
  percentage: number;
  cohort?: FlagCohort | null;
  bucketingKey: string;
}

/** A toleration of the Job's pods (core/v1 Toleration). */
export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

/**
 * What a spec may change of a Job's pods, over the defaults of Pod Security "restricted":
 * seccomp RuntimeDefault, runAsNonRoot, no privilege escalation, every capability dropped, a
 * read-only root filesystem, and modest resources. Privilege escalation and capabilities cannot
 * be given back.
 */
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

/** One environment variable: a literal, a Secret key, or a field of the pod (downward API). */
export interface JobEnvVar {
  name: string;
  value?: string;
  secretKeyRef?: { name: string; key: string };
  /** e.g. `metadata.namespace`, `metadata.labels['batch.kubernetes.io/controller-uid']`. */
  fieldRef?: string;
}

/** A Job to create from a template of the spec. */
export interface JobTemplateInput {
  namespace: string;
  /** Owner name, e.g. the Cutover's name. */
  ownerName: string;
  /** Step, e.g. `delta-sync`, `bulk-copy`, `replay`, `remediate`, `reconcile-shard`. */
  step: string;
  /** Retry attempt: a new attempt makes a new Job; the same attempt never does. */
  attempt?: number;
  /**
   * The Job's name when the caller derives it itself (e.g. from a run id); default
   * `<owner>-<step>-<template hash>`. Either way the same input always names the same Job.
   */
  name?: string;
  image: string;
  command: string[];
  args?: string[];
  env?: JobEnvVar[];
  /** For sharded work: Indexed Job with this many completions (= shards). */
  completions?: number;
  parallelism?: number;
  indexed?: boolean;
  backoffLimit?: number;
  /** Indexed Jobs: retries of each index on its own (then backoffLimit is not used). */
  backoffLimitPerIndex?: number;
  activeDeadlineSeconds?: number;
  ttlSecondsAfterFinished?: number;
  /** On the Job and its pods. */
  labels?: Record<string, string>;
  /** On the pods only. */
  podLabels?: Record<string, string>;
  serviceAccountName?: string;
  /** Name of the container; default `main`. */
  containerName?: string;
  pod?: PodOverlay;
  owner?: OwnerRef;
}

export type JobState = 'Running' | 'Succeeded' | 'Failed';

export interface JobObservation {
  name: string;
  state: JobState;
  reason?: string;
  message?: string;
  succeeded: number;
  failed: number;
  active: number;
  /** For a failed Job, what the failed pod said, when available. */
  podFailure?: { pod: string; exitCode?: number; reason?: string; message?: string };
}

/** Connection options of the legacy MySQL/MariaDB. */
export interface MysqlConnection {
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  password?: string;
  database?: string;
}

export interface FreezeTarget {
  /** A privileged connection (needs SUPER / READ_ONLY ADMIN) that sets the global variables. */
  admin: MysqlConnection;
  /** A non-privileged application user whose write must fail while frozen. */
  verifyWith?: MysqlConnection;
  /** Table (in verifyWith's database) the verification write targets; default `cutover_freeze_probe`. */
  verifyTable?: string;
  actor: string;
  reason: string;
}

export interface FreezeRecord {
  frozen: boolean;
  frozenBy?: string;
  frozenAt?: string;
  reason?: string;
  /** Whether the server has super_read_only (MySQL ≥ 5.7.8; MariaDB does not). */
  superReadOnly: boolean;
  /** Global values before the freeze, restored by the lift. */
  previous?: { readOnly: boolean; superReadOnly?: boolean };
  /** Whether a write by the verification user was refused while frozen. */
  verified?: boolean;
  liftedBy?: string;
  liftedAt?: string;
}

/**
 * Hook called after each write an actuator makes, with a name of the write. Tests throw from it to
 * simulate a crash of the operator between two writes.
 */
export type WriteHook = (step: string) => void;
