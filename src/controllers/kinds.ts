/**
 * The operator's own kinds as REST coordinates, derived from the API's `KINDS` (the one list of
 * kinds: names, plurals and schemas live in src/api/crds.ts). Built-in kinds are in
 * src/runtime/resources.ts.
 */
import { CRD_GROUP, CRD_VERSION, KINDS, type KindInfo } from '../api/crds.js';
import type { ResourceType } from '../runtime/kube-client.js';

export function kindResource(kind: KindInfo['kind']): ResourceType {
  return { group: CRD_GROUP, version: CRD_VERSION, plural: KINDS[kind].plural, kind };
}

export const RECONCILIATION = kindResource('Reconciliation');
export const CANARY_PHASE = kindResource('CanaryPhase');
export const CUTOVER = kindResource('Cutover');
