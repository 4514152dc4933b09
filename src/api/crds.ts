/** The three kinds as CustomResourceDefinitions, generated from the schemas in ./schema. */
import type { Rule, Schema } from './schema/common.js';
import { reconciliationSpec, reconciliationStatus } from './schema/reconciliation.js';
import { canaryPhaseSpec, canaryPhaseStatus } from './schema/canary-phase.js';
import { cutoverSpec, cutoverStatus } from './schema/cutover.js';

export const CRD_GROUP = 'cutover.nokta.io';
export const CRD_VERSION = 'v1alpha1';
export const API_VERSION = `${CRD_GROUP}/${CRD_VERSION}`;
/**
 * `kubectl get cutover-all` lists the three kinds. Not `cutover`: kubectl expands a category
 * before it looks at resource names, so a category equal to the Cutover kind's singular made
 * `kubectl delete cutover X` delete the CanaryPhase and the Reconciliation named X as well. The
 * category and the short names below are checked against the names of core Kubernetes, Argo CD,
 * Argo Rollouts, Flagger, OpenShift, Istio, Knative, cert-manager and Crossplane in
 * test/unit/api/names.test.ts (and against a real API server with those kinds installed in
 * test/integration/api/names-apiserver.test.ts).
 */
export const CATEGORY = 'cutover-all';

/** Annotations people (kubectl, Argo CD actions, the kubectl-cutover plugin) set to act. */
export const ANNOTATIONS = {
  /** Reconciliation: any new value requests a rerun. */
  rerun: 'cutover.nokta.io/rerun',
  /**
   * Reconciliation: `FROM/TO` (RFC 3339 both): while present, runs compare only the rows of
   * spec.window.column in [FROM, TO) (the Cutover sets it to verify a replay: freeze .. rollback).
   */
  window: 'cutover.nokta.io/window',
  /** CanaryPhase/Cutover: comma-separated gate or step names that are approved. */
  approve: 'cutover.nokta.io/approve',
  /** CanaryPhase/Cutover: `<verb>` or `<verb>:<token>`; verbs pause, resume, promote, abort (CanaryPhase), rollback (Cutover). */
  action: 'cutover.nokta.io/action',
  /** Cutover: "true" raises the critical-security-flaw rollback trigger (key configurable in spec.rollback.triggers.securityFlag). */
  securityIncident: 'cutover.nokta.io/security-incident',
} as const;

/**
 * Condition types. Every kind has the kstatus trio (Ready; Reconciling and Stalled are
 * "abnormal-true": present and True only while the operator works / is stuck); the others are
 * kind-specific. Reasons are CamelCase; InvalidSpec is the reason for a spec the API server
 * accepted but the operator cannot act on (e.g. cron '0 0 30 2 *', an unknown time zone).
 */
export const CONDITION_TYPES = {
  common: ['Ready', 'Reconciling', 'Stalled'],
  Reconciliation: ['Passed', 'RemediationNeeded', 'Failed'],
  CanaryPhase: ['AnalysisPassing', 'AwaitingApproval', 'Promoted', 'RolledBack'],
  Cutover: ['AwaitingApproval', 'LegacyFrozen', 'SwitchedOver', 'LegacyHot', 'RolledBack', 'SteadyState'],
} as const;
export const REASON_INVALID_SPEC = 'InvalidSpec';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'date' | 'boolean';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindInfo {
  kind: 'Reconciliation' | 'CanaryPhase' | 'Cutover';
  plural: string;
  singular: string;
  shortNames: string[];
  spec: Schema;
  status: Schema;
  printerColumns: PrinterColumn[];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const KINDS: Record<KindInfo['kind'], KindInfo> = {
  Reconciliation: {
    kind: 'Reconciliation',
    plural: 'reconciliations',
    singular: 'reconciliation',
    shortNames: ['recon'],
    spec: reconciliationSpec,
    status: reconciliationStatus,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      {
        name: 'Variance',
        type: 'string',
        jsonPath: '.status.summary.maxVariancePercent',
        description: 'Largest variance (%) of the last run',
      },
      {
        name: 'Worst',
        type: 'string',
        jsonPath: '.status.summary.worstTenant',
        description: 'Tenant with the largest variance',
      },
      { name: 'Last Run', type: 'date', jsonPath: '.status.lastRun.finishedAt' },
      { name: 'Next Run', type: 'string', jsonPath: '.status.nextRunAt', priority: 1 },
      age,
    ],
  },
  CanaryPhase: {
    kind: 'CanaryPhase',
    plural: 'canaryphases',
    singular: 'canaryphase',
    shortNames: ['cphase'],
    spec: canaryPhaseSpec,
    status: canaryPhaseStatus,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Step', type: 'integer', jsonPath: '.status.currentStep' },
      { name: 'Weight', type: 'integer', jsonPath: '.status.currentWeight' },
      {
        name: 'Failures',
        type: 'integer',
        jsonPath: '.status.consecutiveFailures',
        description: 'Consecutive failed measurements',
      },
      { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
      age,
    ],
  },
  Cutover: {
    kind: 'Cutover',
    plural: 'cutovers',
    singular: 'cutover',
    shortNames: ['cuto'],
    spec: cutoverSpec,
    status: cutoverStatus,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Step', type: 'string', jsonPath: '.status.currentStep' },
      { name: 'Next', type: 'string', jsonPath: '.status.nextStep' },
      {
        name: 'Next At',
        type: 'string',
        jsonPath: '.status.nextStepAt',
        description: 'UTC time of the next step (a date column would show <invalid> for future times)',
      },
      { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
      age,
    ],
  },
};

export function kindInfo(kind: string): KindInfo | undefined {
  return Object.prototype.hasOwnProperty.call(KINDS, kind) ? KINDS[kind as KindInfo['kind']] : undefined;
}

/** Every rule of a schema tree with the path of the node it sits on (for tests and docs). */
export function collectRules(schema: Schema, path = ''): { path: string; rule: Rule }[] {
  const out: { path: string; rule: Rule }[] = (schema.rules ?? []).map((r) => ({ path, rule: r }));
  for (const [k, v] of Object.entries(schema.properties ?? {})) out.push(...collectRules(v, `${path}.${k}`));
  if (schema.items) out.push(...collectRules(schema.items, `${path}[]`));
  if (schema.additionalProperties) out.push(...collectRules(schema.additionalProperties, `${path}[*]`));
  return out;
}

/**
 * The API server (v1.34, kube-openapi) lets a JSON list through a `type: string` field that has
 * `format: date-time`: the format check answers for the type check. A CEL rule on the field reads
 * the value as a timestamp and refuses anything else ("invalid data, expected string"), so every
 * date-time field carries this guard in the CRD. Offline, ajv's type check already refuses it,
 * so the guard has no TypeScript twin (the apiserver-agreement property test found the gap).
 */
export const DATE_TIME_TYPE_GUARD = {
  rule: 'self == self',
  message: 'must be an RFC 3339 time, a string: write e.g. 2026-12-01T02:00:00Z',
} as const;

/** A schema fragment as the API server wants it: rules become x-kubernetes-validations, hints go. */
export function crdSchema(s: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'rules' || k === 'hint' || k === 'semantic' || v === undefined) continue;
    if (k === 'properties') {
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, Schema>).map(([pk, pv]) => [pk, crdSchema(pv)]),
      );
    } else if (k === 'items' || k === 'additionalProperties') {
      out[k] = crdSchema(v as Schema);
    } else {
      out[k] = v;
    }
  }
  const validations: Record<string, unknown>[] = (s.rules ?? []).map((r) => ({
    rule: r.cel,
    message: r.message,
    ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
  }));
  if (s.type === 'string' && s.format === 'date-time') validations.push({ ...DATE_TIME_TYPE_GUARD });
  if (validations.length) out['x-kubernetes-validations'] = validations;
  return out;
}

export function crdManifest(info: KindInfo): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${info.plural}.${CRD_GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'cutover-operator' },
    },
    spec: {
      group: CRD_GROUP,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: info.shortNames,
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: CRD_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: info.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `${info.kind} (${API_VERSION}). Generated from src/api; do not edit.`,
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: crdSchema(info.spec),
                status: crdSchema(info.status),
              },
              required: ['spec'],
            },
          },
        },
      ],
    },
  };
}

/** The three CRDs, in a stable order. */
export function crdManifests(): Record<string, unknown>[] {
  return [KINDS.Cutover, KINDS.CanaryPhase, KINDS.Reconciliation].map(crdManifest);
}
