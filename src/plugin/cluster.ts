/**
 * What the plugin reads from and writes to the cluster: the kubeconfig (as kubectl finds it),
 * the namespace, the object a NAME designates (`cutover/x`, `canaryphase/x`, `reconciliation/x`
 * or a bare name, looked up as a Cutover, then a CanaryPhase, then a Reconciliation), and the
 * objects around a Cutover that `status` shows.
 */
import type { CanaryPhase, Cutover, Reconciliation } from '../api/index.js';
import { CANARY_PHASE, CUTOVER, RECONCILIATION } from '../controllers/kinds.js';
import { KubeClient, isApiError, type KubeObject, type ResourceType } from '../runtime/kube-client.js';
import { LiteKubeConfig, isFullKubeConfig, loadKubeConfig } from '../runtime/kubeconfig.js';
import { JOB } from '../runtime/resources.js';
import type { PluginArgs } from './args.js';
import { EXIT, PluginError } from './exit-codes.js';
import { jobView, reconciliationsOf, type CutoverWorld, type JobView } from './status-tree.js';

export type Kind = 'Cutover' | 'CanaryPhase' | 'Reconciliation';
export type AnyResource = (Cutover | CanaryPhase | Reconciliation) & KubeObject;

const TYPES: Record<Kind, ResourceType> = {
  Cutover: CUTOVER,
  CanaryPhase: CANARY_PHASE,
  Reconciliation: RECONCILIATION,
};
const PREFIXES: Record<string, Kind> = {
  cutover: 'Cutover',
  cutovers: 'Cutover',
  'cutover.cutover.nokta.io': 'Cutover',
  canaryphase: 'CanaryPhase',
  canaryphases: 'CanaryPhase',
  canary: 'CanaryPhase',
  cp: 'CanaryPhase',
  reconciliation: 'Reconciliation',
  reconciliations: 'Reconciliation',
  recon: 'Reconciliation',
};

export function resourceOf(kind: Kind): ResourceType {
  return TYPES[kind];
}

export interface Session {
  client: KubeClient;
  namespace: string;
}

export async function connect(a: PluginArgs): Promise<Session> {
  let kc;
  try {
    kc = await loadKubeConfig(a.kubeconfig, process.env, { context: a.context });
  } catch (e) {
    throw new PluginError(EXIT.error, e instanceof Error ? e.message : String(e));
  }
  let ns = a.namespace;
  if (!ns && kc instanceof LiteKubeConfig) ns = kc.namespace;
  if (!ns && isFullKubeConfig(kc)) ns = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return { client: new KubeClient(kc, { timeoutMs: 30_000 }), namespace: ns || 'default' };
}

/** `kind/name` or a bare name; `only` limits the kinds a bare name is looked up as. */
export async function resolve(
  s: Session,
  ref: string,
  only: Kind[] = ['Cutover', 'CanaryPhase', 'Reconciliation'],
): Promise<AnyResource> {
  const slash = ref.indexOf('/');
  if (slash > 0) {
    const kind = PREFIXES[ref.slice(0, slash).toLowerCase()];
    if (!kind)
      throw new PluginError(
        EXIT.usage,
        `unknown kind in ${ref}: use cutover/, canaryphase/ or reconciliation/`,
      );
    const name = ref.slice(slash + 1);
    const obj = await s.client.tryGet<AnyResource>(TYPES[kind], s.namespace, name);
    if (!obj) throw new PluginError(EXIT.notFound, `${kind} ${s.namespace}/${name} not found`);
    return obj;
  }
  for (const kind of only) {
    const obj = await s.client.tryGet<AnyResource>(TYPES[kind], s.namespace, ref);
    if (obj) return obj;
  }
  throw new PluginError(EXIT.notFound, `no ${only.join(' or ')} named ${ref} in namespace ${s.namespace}`);
}

/** The only Cutover of the namespace (for commands whose NAME may be left out). */
export async function onlyCutover(s: Session): Promise<AnyResource> {
  const list = await s.client.list<AnyResource>(CUTOVER, { namespace: s.namespace });
  if (list.items.length === 1) return list.items[0]!;
  if (list.items.length === 0) throw new PluginError(EXIT.notFound, `no Cutover in namespace ${s.namespace}`);
  throw new PluginError(
    EXIT.usage,
    `${list.items.length} Cutovers in namespace ${s.namespace} (${list.items.map((c) => c.metadata.name).join(', ')}): name one`,
  );
}

export async function jobsLabelled(s: Session, label: string, value: string): Promise<JobView[]> {
  const list = await s.client.list(JOB, { namespace: s.namespace, labelSelector: `${label}=${value}` });
  return list.items
    .map((j) => jobView(j))
    .sort((x, y) => (x.startedAt ?? '').localeCompare(y.startedAt ?? '') || x.name.localeCompare(y.name));
}

export async function readCutoverWorld(s: Session, co: Cutover): Promise<CutoverWorld> {
  const name = co.metadata.name ?? '';
  const w: CutoverWorld = { cutover: co, canaryPhases: {}, reconciliations: {}, jobs: {} };
  w.jobs['Cutover'] = await jobsLabelled(s, 'cutover.nokta.io/cutover', name);
  for (const p of co.spec.canary?.phases ?? []) {
    w.canaryPhases[p] = await s.client.tryGet<CanaryPhase & KubeObject>(CANARY_PHASE, s.namespace, p);
    w.jobs[`CanaryPhase/${p}`] = await jobsLabelled(s, 'cutover.nokta.io/canary-phase', p);
  }
  for (const r of reconciliationsOf(co)) {
    w.reconciliations[r] = await s.client.tryGet<Reconciliation & KubeObject>(RECONCILIATION, s.namespace, r);
    w.jobs[`Reconciliation/${r}`] = await jobsLabelled(s, 'cutover.nokta.io/reconciliation', r);
  }
  return w;
}

/** An API error as the message and exit code of the plugin. */
export function apiFailure(e: unknown): PluginError | undefined {
  if (!isApiError(e)) return undefined;
  if (e.statusCode === 404) return new PluginError(EXIT.notFound, e.message);
  return new PluginError(EXIT.error, e.message);
}
