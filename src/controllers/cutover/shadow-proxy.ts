/**
 * The Cutover's comparing shadow proxies (spec.shadow.comparison), kept apart from the rest of the
 * controller: decide.ts calls `shadowProxiesDuringShadow` / `shadowProxiesAfterShadow` from the
 * shadow phase (and `shadowProxiesOnRollback` during a rollback), world.ts calls
 * `readShadowProxies` and `actShadowProxies`.
 *
 * During the shadow phase each compared service is served through its proxy (ShadowProxyActuator:
 * Deployment, Service, ConfigMap, the route pointed at it once available); its shadowDifferences
 * metric (src/analysis/shadow-differences.ts) is read at every sync into status.shadow.proxies.
 * When the phase ends, the go/no-go to canary: with maxDifferencePercent set, a service that has
 * compared at least minCompared answers and differs in more than that share keeps the phase open
 * (Stalled, the proxy still comparing); otherwise the routes are restored and the proxies
 * removed before the plan goes on. A rollback removes them too.
 */
import type { Cutover, CutoverService, ShadowProxyStatus } from '../../api/index.js';
import { ShadowProxyActuator } from '../../actuators/shadow-proxy/shadow-proxy.js';
import {
  ADMIN_PORT,
  proxyName,
  type ShadowProxyTarget,
  type ShadowRoute,
} from '../../actuators/shadow-proxy/objects.js';
import { ShadowDifferencesProvider } from '../../analysis/shadow-differences.js';
import { isNotFound, type KubeClient } from '../../runtime/kube-client.js';
import type { OwnerRef } from '../../actuators/types.js';
import type { DecisionContext } from './decide.js';

/** What a sync reads back of one service's proxy. */
export interface ObservedShadowProxy {
  deployed: boolean;
  routed: boolean;
  compared?: number;
  differing?: number;
  differencePercent?: number;
  /** Why the metric could not be read. */
  error?: string;
}

/** Plan ms between readings of the metric while the proxies run. */
export const SHADOW_METRIC_INTERVAL_MS = 15_000;

function routeOf(s: CutoverService): ShadowRoute | undefined {
  const t = s.traffic;
  if (t?.httpRoute)
    return {
      kind: 'HTTPRoute',
      name: t.httpRoute.name,
      ...(t.httpRoute.ruleIndex !== undefined ? { ruleIndex: t.httpRoute.ruleIndex } : {}),
      legacyBackend: t.httpRoute.legacyBackend,
      newBackend: t.httpRoute.newBackend,
    };
  if (t?.ingress) return { kind: 'Ingress', name: t.ingress.name, newBackend: t.ingress.newBackend };
  return undefined;
}

/** The actuator input of each compared service. */
export function shadowTargets(co: Cutover, image: string, owner?: OwnerRef): ShadowProxyTarget[] {
  const ns = co.metadata.namespace ?? 'default';
  const out: ShadowProxyTarget[] = [];
  for (const c of co.spec.shadow?.comparison ?? []) {
    const s = co.spec.services.find((x) => x.name === c.service);
    const route = s && routeOf(s);
    if (!route) continue;
    out.push({
      namespace: ns,
      service: c.service,
      ownerName: co.metadata.name,
      ...(owner ? { owner } : {}),
      managedBy: `Cutover/${ns}/${co.metadata.name}`,
      image,
      rules: c,
      route,
    });
  }
  return out;
}

/** Each compared service's proxy read back, with its metric while it is deployed. */
export async function readShadowProxies(
  client: KubeClient,
  co: Cutover,
  now: Date,
): Promise<Record<string, ObservedShadowProxy>> {
  const out: Record<string, ObservedShadowProxy> = {};
  const targets = shadowTargets(co, '');
  const start = co.spec.shadow ? Date.parse(co.spec.shadow.startAt) : Infinity;
  const recs = co.status?.shadow?.proxies ?? [];
  const allRemoved = targets.every((t) => recs.find((r) => r.service === t.service)?.state === 'Removed');
  // Nothing to read before the phase or once every proxy is gone.
  if (targets.length === 0 || now.getTime() < start || allRemoved) return out;
  const actuator = new ShadowProxyActuator(client);
  const provider = new ShadowDifferencesProvider();
  const ns = co.metadata.namespace ?? 'default';
  for (const t of targets) {
    let o;
    try {
      o = await actuator.observe(t);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      o = { deployed: false, routed: false };
    }
    const seen: ObservedShadowProxy = { deployed: o.deployed, routed: o.routed };
    if (o.deployed) {
      const m = await provider.measure(
        {
          service: t.service,
          ...(co.spec.prometheusAddress
            ? { prometheus: { address: co.spec.prometheusAddress } }
            : {
                metricsUrl: `http://${proxyName(co.metadata.name, t.service)}.${ns}.svc:${ADMIN_PORT}/metrics`,
              }),
        },
        { now },
      );
      if (m.compared !== undefined) seen.compared = m.compared;
      if (m.differing !== undefined) seen.differing = m.differing;
      if (m.value !== undefined) seen.differencePercent = Math.round(m.value * 1000) / 1000;
      if (m.result === 'Error') seen.error = m.reason;
    }
    out[t.service] = seen;
  }
  return out;
}

/** The ShadowProxy action: make the proxies of these services exist and routed (on) or gone (off). */
export async function actShadowProxies(
  client: KubeClient,
  co: Cutover,
  a: { on: boolean; services: string[] },
  env: { owner: OwnerRef; image: string },
): Promise<void> {
  const actuator = new ShadowProxyActuator(client);
  for (const t of shadowTargets(co, env.image, env.owner).filter((x) => a.services.includes(x.service))) {
    if (a.on) await actuator.ensure(t);
    else await actuator.remove(t);
  }
}

function records(ctx: DecisionContext): ShadowProxyStatus[] {
  return ((ctx.st.shadow ??= {}).proxies ??= []);
}

function compared(ctx: DecisionContext): string[] {
  return (ctx.cutover.spec.shadow?.comparison ?? []).map((c) => c.service);
}

/** Records what each proxy measured (a reading that changed only: no status write per sync). */
function recordReadings(ctx: DecisionContext): void {
  const recs = records(ctx);
  for (const service of compared(ctx)) {
    const seen = ctx.o.shadowProxies?.[service];
    let r = recs.find((x) => x.service === service);
    if (!r) {
      r = { service };
      recs.push(r);
    }
    if (!seen?.deployed) continue;
    r.state = 'Deployed';
    const next: ShadowProxyStatus = {
      ...(seen.compared !== undefined ? { compared: seen.compared } : {}),
      ...(seen.differing !== undefined ? { differing: seen.differing } : {}),
      ...(seen.differencePercent !== undefined ? { differencePercent: seen.differencePercent } : {}),
      ...(seen.error ? { message: seen.error } : {}),
    };
    const same =
      r.compared === next.compared &&
      r.differing === next.differing &&
      r.differencePercent === next.differencePercent &&
      r.message === next.message;
    if (same) continue;
    delete r.compared;
    delete r.differing;
    delete r.differencePercent;
    delete r.message;
    Object.assign(r, next, { measuredAt: ctx.nowIso });
  }
}

/** In the shadow phase: every compared service served through its proxy, its metric recorded. */
export function shadowProxiesDuringShadow(ctx: DecisionContext): void {
  const services = compared(ctx);
  if (services.length === 0) return;
  recordReadings(ctx);
  const pending = services.filter((s) => !ctx.o.shadowProxies?.[s]?.routed);
  if (pending.length > 0) {
    // Write-ahead: recorded Deployed in the status the sync writes before it acts.
    for (const s of pending) records(ctx).find((r) => r.service === s)!.state = 'Deployed';
    ctx.actions.push({ kind: 'ShadowProxy', on: true, services: pending });
    ctx.recheck = true; // the Deployment becoming available is not watched
  }
  ctx.wakeAt(ctx.now + SHADOW_METRIC_INTERVAL_MS);
}

/**
 * When the shadow phase is over: the go/no-go (a reason to keep the phase open, or undefined),
 * then the proxies removed. True once every route is restored and every proxy gone.
 */
export function shadowProxiesAfterShadow(ctx: DecisionContext): { blocked?: string; done: boolean } {
  const services = compared(ctx);
  if (services.length === 0) return { done: true };
  const recs = records(ctx);
  const live = services.filter((s) => recs.find((r) => r.service === s)?.state !== 'Removed');
  if (live.length === 0) return { done: true };
  recordReadings(ctx);
  const spec = ctx.cutover.spec.shadow!;
  if (spec.maxDifferencePercent !== undefined) {
    const min = spec.minCompared ?? 100;
    const over: string[] = [];
    for (const s of live) {
      const r = recs.find((x) => x.service === s);
      const n = r?.compared ?? 0;
      if (n < min) over.push(`${s}: ${n} answer(s) compared, fewer than minCompared ${min}`);
      else if ((r?.differencePercent ?? 0) > spec.maxDifferencePercent)
        over.push(`${s}: ${r?.differencePercent} % of answers differ > ${spec.maxDifferencePercent} %`);
    }
    if (over.length > 0) {
      ctx.wakeAt(ctx.now + SHADOW_METRIC_INTERVAL_MS);
      return { blocked: `shadow comparison: ${over.join('; ')}`, done: false };
    }
  }
  return { done: removeProxies(ctx, live) };
}

/** During a rollback: every proxy out of the path. */
export function shadowProxiesOnRollback(ctx: DecisionContext): void {
  const services = compared(ctx);
  const live = services.filter((s) => ctx.o.shadowProxies?.[s]?.deployed || ctx.o.shadowProxies?.[s]?.routed);
  if (live.length > 0) removeProxies(ctx, live);
}

function removeProxies(ctx: DecisionContext, services: string[]): boolean {
  const recs = records(ctx);
  const gone = (s: string): boolean => {
    const seen = ctx.o.shadowProxies?.[s];
    return seen !== undefined && !seen.deployed && !seen.routed;
  };
  for (const s of services.filter(gone)) {
    const r = recs.find((x) => x.service === s);
    if (r && r.state !== 'Removed') {
      r.state = 'Removed';
      ctx.notify(`shadow-proxy:${s}:removed`, `Shadow proxy of ${s} removed; its route is restored`);
    }
  }
  const left = services.filter((s) => !gone(s));
  if (left.length === 0) return true;
  ctx.actions.push({ kind: 'ShadowProxy', on: false, services: left });
  ctx.recheck = true;
  return false;
}
