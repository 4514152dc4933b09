/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The page, in the browser (compiled by tsc, served as /assets/app.js; no framework). It opens
 * one EventSource for what the path shows (the index, or one Cutover) and renders every message
 * the server pushes; it never polls. Countdowns tick locally. Actions ask for confirmation in a
 * <dialog>, are POSTed to the server (which acts with the caller's identity) and the result is
 * announced in a live region. Everything shown is escaped.
 */

interface Summary {
  namespace: string;
  name: string;
  phase: string;
  currentStep?: string;
  nextStep?: string;
  nextStepAt?: string;
  message?: string;
}
interface Step {
  name: string;
  action: string;
  owner?: string;
  description?: string;
  plannedAt?: string;
  state: string;
  approval: 'none' | 'required' | 'approved';
  approvedBy?: string;
  startedAt?: string;
  finishedAt?: string;
  message?: string;
}
interface Trigger {
  trigger: string;
  active: boolean;
  closeness: number;
  detail: string;
  since?: string;
  forMs?: number;
}
interface ShadowProxy {
  service: string;
  state: string;
  compared?: number;
  differing?: number;
  differencePercent?: number;
  measuredAt?: string;
  message?: string;
  maxDifferencePercent?: number;
  minCompared: number;
  over: boolean;
}
interface Canary {
  name: string;
  phase: string;
  currentStep?: number;
  steps: number;
  currentWeight: number;
  waitingForGate?: string;
  pauseReason?: string;
  message?: string;
  exposure: { cohort: string; service: string; weight: number; rolledBack: boolean }[];
  metrics: {
    metric: string;
    lastResult?: string;
    failures: number;
    points: { at: string; value?: number; result?: string }[];
  }[];
  rollback?: { reason?: string; metric?: string; value?: string; at?: string };
}
interface Check {
  reconciliation: string;
  check: string;
  verdict: string;
  variancePercent: number;
  worstTenant?: string;
  error?: string;
  tenants: { tenant: string; variancePercent: number; verdict: string; legacy?: string; target?: string }[];
  differingKeys: { tenant?: string; key?: string; kind?: string; columns?: string[]; rows?: number }[];
}
interface CutoverView {
  summary: Summary;
  paused: boolean;
  steadyStateSignOff: 'none' | 'required' | 'approved';
  milestones: { name: string; at?: string; reached: boolean }[];
  timeline: Step[];
  triggers: Trigger[];
  rollback?: {
    trigger?: string;
    reason?: string;
    triggeredAt?: string;
    completedAt?: string;
    actions: { name: string; state: string; at?: string; finishedAt?: string; message?: string }[];
  };
  canaries: Canary[];
  reconciliations: {
    name: string;
    role: string;
    phase: string;
    lastRunAt?: string;
    maxVariancePercent?: string;
    checks: Check[];
  }[];
  shadow: { reconciliation: string; reruns: number; state?: string; variancePercent?: number }[];
  shadowProxies: ShadowProxy[];
  events: { at: string; type: string; reason: string; kind: string; name: string; note: string }[];
}
type Message =
  | { view: 'index'; cutovers: Summary[] }
  | {
      view: 'cutover';
      user: string;
      can: { cutover: boolean; canaryPhase: boolean };
      cutover: CutoverView | null;
    };
type ActionRequest = Record<string, string>;

const app = document.getElementById('app')!;
const conn = document.getElementById('conn')!;
const toast = document.getElementById('toast')!;

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (v: string | number | undefined): string => String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);
const time = (iso?: string): string => {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? esc(iso) : d.toISOString().slice(11, 19);
};
const BAD_PHASES = new Set(['RollingBack', 'RolledBack', 'Failed', 'Aborted']);
const OK_PHASES = new Set(['SteadyState', 'PostCutover', 'Succeeded', 'Promoted']);
const phaseClass = (p: string): string =>
  BAD_PHASES.has(p) ? 'bad' : OK_PHASES.has(p) ? 'ok' : p === 'Paused' ? 'warn' : '';

function route(): { namespace: string; name: string } | undefined {
  const m = /^\/cutovers\/([^/]+)\/([^/]+)$/.exec(location.pathname);
  return m ? { namespace: decodeURIComponent(m[1]!), name: decodeURIComponent(m[2]!) } : undefined;
}

function button(label: string, req: ActionRequest, confirmText: string, danger = false): string {
  return `<button type="button" class="${danger ? 'danger' : ''}" data-action="${esc(JSON.stringify(req))}" data-confirm="${esc(confirmText)}">${esc(label)}</button>`;
}

function bar(fraction: number, cls: string): string {
  const pct = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
  const color = cls === 'bad' ? '#f85149' : cls === 'warn' ? '#d29922' : '#3fb950';
  return `<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="${pct} %"><rect width="100" height="10" fill="#2d3643"/><rect width="${pct}" height="10" fill="${color}"/></svg>`;
}

const RESULT_COLORS: Record<string, string> = {
  Successful: '#3fb950',
  Failed: '#f85149',
  Error: '#f85149',
  Inconclusive: '#d29922',
  NoData: '#9aa7b4',
};
function chart(points: { at: string; value?: number; result?: string }[], label: string): string {
  if (!points.length) return '<p class="muted">no measurement yet</p>';
  const values = points.map((p) => p.value ?? 0);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const w = 300;
  const h = 50;
  const xy = points.map((p, i) => [
    points.length === 1 ? w / 2 : (i / (points.length - 1)) * (w - 10) + 5,
    h - 5 - (((p.value ?? 0) - min) / span) * (h - 10),
  ]);
  const line = xy.map(([x, y]) => `${x!.toFixed(1)},${y!.toFixed(1)}`).join(' ');
  const dots = points
    .map(
      (p, i) =>
        `<circle cx="${xy[i]![0]!.toFixed(1)}" cy="${xy[i]![1]!.toFixed(1)}" r="3.5" fill="${RESULT_COLORS[p.result ?? ''] ?? '#58a6ff'}"><title>${esc(time(p.at))} ${esc(p.value ?? '')} ${esc(p.result ?? '')}</title></circle>`,
    )
    .join('');
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}: ${points.length} measurements, last ${esc(points[points.length - 1]!.value ?? '')} ${esc(points[points.length - 1]!.result ?? '')}"><polyline points="${line}" fill="none" stroke="#58a6ff" stroke-width="1.5"/>${dots}</svg>`;
}

function renderIndex(list: Summary[]): string {
  if (!list.length) return '<h1>Cutovers</h1><p>No Cutover you may see.</p>';
  const rows = list
    .map(
      (c) =>
        `<tr><td><a href="/cutovers/${encodeURIComponent(c.namespace)}/${encodeURIComponent(c.name)}">${esc(c.namespace)}/${esc(c.name)}</a></td><td class="${phaseClass(c.phase)}" data-phase>${esc(c.phase)}</td><td>${esc(c.currentStep ?? '')}</td><td>${esc(c.nextStep ?? '')} <span class="time">${time(c.nextStepAt)}</span></td></tr>`,
    )
    .join('');
  return `<h1>Cutovers (${list.length})</h1><table id="cutovers"><thead><tr><th scope="col">Cutover</th><th scope="col">Phase</th><th scope="col">Current step</th><th scope="col">Next step</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function renderTimeline(v: CutoverView, ref: { namespace: string; name: string }, can: boolean): string {
  const ms = v.milestones
    .map(
      (m) =>
        `<li><span class="time">${time(m.at)}</span><span>${esc(m.name)}</span><span class="${m.reached ? 'ok' : 'muted'}">${m.reached ? 'reached' : ''}</span></li>`,
    )
    .join('');
  const steps = v.timeline
    .map((s) => {
      const current = v.summary.currentStep === s.name || s.state === 'AwaitingApproval';
      const approval =
        s.approval === 'approved'
          ? `<span class="ok">approved by ${esc(s.approvedBy ?? '?')}</span>`
          : s.approval === 'required'
            ? '<span class="warn">needs approval</span>'
            : '';
      const act =
        can && s.approval === 'required' && s.state !== 'Succeeded' && s.state !== 'Skipped'
          ? button(
              `Approve ${s.name}`,
              { kind: 'Cutover', ...ref, verb: 'approve', step: s.name },
              `Approve step ${s.name} (${s.action}) of ${ref.name}?`,
            )
          : '';
      return `<li class="${current ? 'current' : ''}" data-step="${esc(s.name)}"><span class="time">${time(s.plannedAt)}</span><span><strong>${esc(s.name)}</strong> <span class="muted">${esc(s.action)}${s.owner ? ` · ${esc(s.owner)}` : ''}</span> ${approval}${s.message ? `<br><span class="muted">${esc(s.message)}</span>` : ''} ${act}</span><span class="step-state state-${esc(s.state)}">${esc(s.state)}</span></li>`;
    })
    .join('');
  return `<section aria-labelledby="h-timeline"><h2 id="h-timeline">Timeline</h2><ol class="timeline" id="milestones">${ms}</ol><h2>Cutover night</h2><ol class="timeline" id="steps">${steps}</ol></section>`;
}

function renderTriggers(v: CutoverView): string {
  const rows = v.triggers
    .map((t) => {
      const cls = closenessClass(t.closeness);
      // A breach that fires after lasting long enough: the page moves the bar on its own timer.
      const timed = t.since && t.forMs ? ` data-since="${esc(t.since)}" data-for-ms="${t.forMs}"` : '';
      return `<tr data-trigger="${esc(t.trigger)}"${timed}><th scope="row">${esc(t.trigger)}${t.active ? '' : ' <span class="muted">(off)</span>'}</th><td><span class="closeness" data-closeness="${t.closeness.toFixed(3)}">${bar(t.closeness, cls)}</span><span class="${cls}">${esc(t.detail)}</span></td></tr>`;
    })
    .join('');
  return `<section aria-labelledby="h-triggers"><h2 id="h-triggers">Rollback triggers</h2><table id="triggers">${rows}</table></section>`;
}

function renderRollback(v: CutoverView): string {
  const rb = v.rollback;
  if (!rb) return '';
  const actions = rb.actions
    .map(
      (a) =>
        `<tr data-rollback-action="${esc(a.name)}"><td>${esc(a.name)}</td><td class="state-${esc(a.state)}">${esc(a.state)}</td><td class="time">${time(a.at)}${a.finishedAt ? ` → ${time(a.finishedAt)}` : ''}</td><td>${esc(a.message ?? '')}</td></tr>`,
    )
    .join('');
  return `<section aria-labelledby="h-rollback" id="rollback"><h2 id="h-rollback" class="bad">Rollback: ${esc(rb.trigger ?? '')}</h2><p id="rollback-reason">${esc(rb.reason ?? '')}</p><p class="time">triggered ${time(rb.triggeredAt)}${rb.completedAt ? `, completed ${time(rb.completedAt)}` : ''}</p><table><thead><tr><th>Action</th><th>State</th><th>When</th><th></th></tr></thead><tbody>${actions}</tbody></table></section>`;
}

function renderCanaries(v: CutoverView, ns: string, can: boolean): string {
  if (!v.canaries.length) return '';
  const each = v.canaries
    .map((c) => {
      const ref = { kind: 'CanaryPhase', namespace: ns, name: c.name };
      const acts = can
        ? `<div class="actions">${[
            c.waitingForGate
              ? button(
                  `Approve gate ${c.waitingForGate}`,
                  { ...ref, verb: 'approve', gate: c.waitingForGate },
                  `Approve gate ${c.waitingForGate} of ${c.name}?`,
                )
              : '',
            c.phase === 'Paused'
              ? button('Resume', { ...ref, verb: 'resume' }, `Resume canary ${c.name}?`)
              : button('Pause', { ...ref, verb: 'pause' }, `Pause canary ${c.name}?`),
            button('Promote', { ...ref, verb: 'promote' }, `Promote canary ${c.name} to its next step?`),
            button(
              'Abort',
              { ...ref, verb: 'abort' },
              `Abort canary ${c.name}? Every change it made is given back.`,
              true,
            ),
          ].join('')}</div>`
        : '';
      const exposure = c.exposure
        .map(
          (e) =>
            `<tr><td>${esc(e.cohort)}</td><td>${esc(e.service)}</td><td>${bar(e.weight / 100, e.rolledBack ? 'bad' : 'ok')}${e.weight} %${e.rolledBack ? ' <span class="bad">rolled back</span>' : ''}</td></tr>`,
        )
        .join('');
      const metrics = c.metrics
        .map(
          (m) =>
            `<tr><td>${esc(m.metric)}</td><td class="${esc(m.lastResult ?? '')}">${esc(m.lastResult ?? '—')}${m.failures ? ` (${m.failures} failed)` : ''}</td><td>${chart(m.points, m.metric)}</td></tr>`,
        )
        .join('');
      return `<div data-canary="${esc(c.name)}"><h3>${esc(c.name)} <span class="${phaseClass(c.phase)}">${esc(c.phase)}</span> <span class="muted">step ${(c.currentStep ?? 0) + 1}/${c.steps} · ${c.currentWeight} %</span></h3>${c.message ? `<p class="muted">${esc(c.message)}</p>` : ''}${c.rollback ? `<p class="bad">rolled back: ${esc(c.rollback.reason ?? '')} ${esc(c.rollback.metric ?? '')} ${esc(c.rollback.value ?? '')}</p>` : ''}${acts}<table><thead><tr><th>Cohort</th><th>Service</th><th>Exposure</th></tr></thead><tbody>${exposure}</tbody></table><table><thead><tr><th>Analysis</th><th>Last</th><th>Over time</th></tr></thead><tbody>${metrics}</tbody></table></div>`;
    })
    .join('');
  return `<section aria-labelledby="h-canary"><h2 id="h-canary">Canary</h2>${each}</section>`;
}

function renderReconciliations(v: CutoverView): string {
  if (!v.reconciliations.length) return '';
  const checks = v.reconciliations
    .flatMap((r) => r.checks.map((c) => ({ r, c })))
    .sort((a, b) => b.c.variancePercent - a.c.variancePercent);
  const rows = checks
    .map(({ r, c }) => {
      const tenants = c.tenants
        .map(
          (t) =>
            `<tr><td>${esc(t.tenant)}</td><td class="${esc(t.verdict)}">${esc(t.verdict)}</td><td>${t.variancePercent} %</td><td>${esc(t.legacy ?? '')}</td><td>${esc(t.target ?? '')}</td></tr>`,
        )
        .join('');
      const keys = c.differingKeys
        .map(
          (k) =>
            `<tr><td>${esc(k.tenant ?? '')}</td><td><code>${esc(k.key ?? '')}</code></td><td>${esc(k.kind ?? '')}</td><td>${esc((k.columns ?? []).join(', '))}</td></tr>`,
        )
        .join('');
      const id = `chk-${r.name}-${c.check}`.replace(/[^A-Za-z0-9-]/g, '-');
      return `<details id="${esc(id)}"><summary><span class="${esc(c.verdict)}">${esc(c.verdict)}</span> ${esc(r.name)} / <strong>${esc(c.check)}</strong> ${c.variancePercent} %${c.worstTenant ? ` · worst tenant ${esc(c.worstTenant)}` : ''}</summary>${c.error ? `<p class="bad">${esc(c.error)}</p>` : ''}${tenants ? `<table><thead><tr><th>Tenant</th><th>Verdict</th><th>Variance</th><th>Legacy</th><th>New</th></tr></thead><tbody>${tenants}</tbody></table>` : ''}${keys ? `<h4>Differing keys</h4><table><thead><tr><th>Tenant</th><th>Key</th><th>Kind</th><th>Columns</th></tr></thead><tbody>${keys}</tbody></table>` : '<p class="muted">no differing key recorded</p>'}</details>`;
    })
    .join('');
  const heads = v.reconciliations
    .map(
      (r) =>
        `<li>${esc(r.name)} <span class="muted">(${esc(r.role)})</span> <span class="${esc(r.phase)}">${esc(r.phase)}</span>${r.maxVariancePercent ? ` max ${esc(r.maxVariancePercent)} %` : ''} <span class="time">${time(r.lastRunAt)}</span></li>`,
    )
    .join('');
  return `<section aria-labelledby="h-recon"><h2 id="h-recon">Reconciliation</h2><ul>${heads}</ul>${rows || '<p class="muted">no results yet</p>'}</section>`;
}

function renderShadow(v: CutoverView): string {
  if (!v.shadow.length) return '';
  const rows = v.shadow
    .map(
      (s) =>
        `<tr><td>${esc(s.reconciliation)}</td><td>${s.variancePercent !== undefined ? `${s.variancePercent} %` : '—'}</td><td>${s.reruns}</td><td>${esc(s.state ?? '')}</td></tr>`,
    )
    .join('');
  return `<section aria-labelledby="h-shadow"><h2 id="h-shadow">Shadow differences</h2><table><thead><tr><th>Reconciliation</th><th>Difference</th><th>Reruns</th><th>State</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function renderShadowProxies(v: CutoverView): string {
  if (!v.shadowProxies.length) return '';
  const rows = v.shadowProxies
    .map((p) => {
      const rate = p.differencePercent !== undefined ? `${+p.differencePercent.toFixed(3)} %` : '—';
      const limit = p.maxDifferencePercent !== undefined ? `${p.maxDifferencePercent} %` : '—';
      const few = (p.compared ?? 0) < p.minCompared;
      const cls = p.over ? 'bad' : few ? 'muted' : 'ok';
      return `<tr data-service="${esc(p.service)}"><th scope="row">${esc(p.service)}</th><td class="${cls}" data-rate>${rate}${few ? ` <span class="muted">(fewer than ${p.minCompared} compared)</span>` : ''}</td><td>${limit}</td><td>${p.differing ?? 0} of ${p.compared ?? 0}</td><td>${esc(p.state)}</td><td class="muted">${p.message ? esc(p.message) : p.measuredAt ? time(p.measuredAt) : ''}</td></tr>`;
    })
    .join('');
  return `<section aria-labelledby="h-shadow-proxies"><h2 id="h-shadow-proxies">Shadow traffic: differences per service</h2><table id="shadow-proxies"><thead><tr><th>Service</th><th>Differ</th><th>Go/no-go limit</th><th>Answers</th><th>Proxy</th><th>Measured</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function renderEvents(v: CutoverView): string {
  const rows = v.events
    .map(
      (e) =>
        `<tr><td class="time">${time(e.at)}</td><td class="${e.type === 'Warning' ? 'warn' : ''}">${esc(e.reason)}</td><td>${esc(e.kind)} ${esc(e.name)}</td><td>${esc(e.note)}</td></tr>`,
    )
    .join('');
  return `<section aria-labelledby="h-events"><h2 id="h-events">Event log</h2><table id="events"><tbody>${rows || '<tr><td class="muted">no events</td></tr>'}</tbody></table></section>`;
}

function renderCutover(
  m: Extract<Message, { view: 'cutover' }>,
  ref: { namespace: string; name: string },
): string {
  const v = m.cutover;
  if (!v)
    return `<h1>${esc(ref.namespace)}/${esc(ref.name)}</h1><p>No such Cutover, or you may not see it.</p>`;
  const s = v.summary;
  const canAct = m.can.cutover;
  const controls = canAct
    ? `<div class="actions" id="cutover-actions">${
        v.paused
          ? button('Resume', { kind: 'Cutover', ...ref, verb: 'resume' }, `Resume ${ref.name}?`)
          : button(
              'Pause',
              { kind: 'Cutover', ...ref, verb: 'pause' },
              `Pause ${ref.name} before its next step?`,
            )
      }${
        v.steadyStateSignOff === 'required' && s.phase === 'PostCutover'
          ? button(
              'Approve steady state',
              { kind: 'Cutover', ...ref, verb: 'approve', step: 'steady-state' },
              `Sign off ${ref.name}: steady state once the SLOs held long enough?`,
            )
          : ''
      }${button('Roll back…', { kind: 'Cutover', ...ref, verb: 'rollback' }, `Roll ${ref.name} back to legacy? Give the reason.`, true)}</div>`
    : `<p class="notice" id="read-only">Read-only: ${esc(m.user)} may not change this Cutover (RBAC allows no patch of cutovers in ${esc(ref.namespace)}), so no action is offered.</p>`;
  const next = s.nextStep
    ? `<p class="next">Next: <strong>${esc(s.nextStep)}</strong> at <span class="time">${time(s.nextStepAt)}</span> <span data-countdown="${esc(s.nextStepAt ?? '')}"></span></p>`
    : '';
  return `<h1>${esc(ref.namespace)}/${esc(ref.name)}</h1><p class="phase ${phaseClass(s.phase)}" id="phase" aria-live="polite">${esc(s.phase)}</p>${next}${s.message ? `<p class="muted" id="message">${esc(s.message)}</p>` : ''}${controls}<div class="grid">${renderTimeline(v, ref, canAct)}${renderRollback(v)}${renderTriggers(v)}${renderCanaries(v, ref.namespace, m.can.canaryPhase)}${renderReconciliations(v)}${renderShadowProxies(v)}${renderShadow(v)}${renderEvents(v)}</div>`;
}

function closenessClass(c: number): string {
  return c >= 1 ? 'bad' : c >= 0.5 ? 'warn' : 'ok';
}

function tick(): void {
  // Rollback trigger closeness from the watched state and the clock: nothing is fetched.
  for (const row of document.querySelectorAll<HTMLElement>('tr[data-since][data-for-ms]')) {
    const since = Date.parse(row.dataset.since ?? '');
    const forMs = Number(row.dataset.forMs);
    const holder = row.querySelector<HTMLElement>('.closeness');
    if (Number.isNaN(since) || !(forMs > 0) || !holder) continue;
    const c = Math.max(0, Math.min(1, (Date.now() - since) / forMs));
    if (holder.dataset.closeness === c.toFixed(3)) continue;
    holder.dataset.closeness = c.toFixed(3);
    holder.innerHTML = bar(c, closenessClass(c));
  }
  for (const el of document.querySelectorAll<HTMLElement>('[data-countdown]')) {
    const at = Date.parse(el.dataset.countdown ?? '');
    if (Number.isNaN(at)) continue;
    const s = Math.round((at - Date.now()) / 1000);
    const abs = Math.abs(s);
    const text = `${Math.floor(abs / 3600)}:${String(Math.floor((abs % 3600) / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
    el.textContent = s >= 0 ? `in ${text}` : `${text} ago`;
  }
}

function render(m: Message): void {
  const ref = route();
  // Keep what the reader opened and where the keyboard focus is across re-renders.
  const open = new Set([...app.querySelectorAll('details[open]')].map((d) => d.id));
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
  const focusKey =
    focused?.dataset.action ?? (focused?.closest('details') ? focused.closest('details')!.id : '');
  app.innerHTML =
    m.view === 'index' || !ref ? renderIndex(m.view === 'index' ? m.cutovers : []) : renderCutover(m, ref);
  for (const id of open) document.getElementById(id)?.setAttribute('open', '');
  if (focusKey) {
    const again = [...app.querySelectorAll<HTMLElement>('[data-action], details > summary')].find(
      (el) => el.dataset.action === focusKey || el.parentElement?.id === focusKey,
    );
    again?.focus();
  }
  tick();
  document.body.dataset.rendered = String(Date.now());
}

function say(text: string, ok: boolean): void {
  const p = document.createElement('p');
  p.className = ok ? 'ok' : 'bad';
  p.textContent = text;
  toast.replaceChildren(p);
  setTimeout(() => p.remove(), 15_000);
}

/** Posts an action; the answer (done, or why not) is announced. */
async function act(req: ActionRequest): Promise<{ ok: boolean; message: string }> {
  let result: { ok: boolean; message: string };
  try {
    const res = await fetch('/api/action', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(req),
    });
    result = (await res.json()) as { ok: boolean; message: string };
  } catch (e) {
    result = { ok: false, message: `the dashboard did not answer: ${String(e)}` };
  }
  say(result.message, result.ok);
  return result;
}

const dialog = document.getElementById('confirm') as HTMLDialogElement;
const reason = document.getElementById('reason') as HTMLTextAreaElement;
const reasonLabel = document.getElementById('reason-label')!;

function confirmAndAct(req: ActionRequest, text: string): void {
  const needsReason = req.verb === 'rollback';
  document.getElementById('confirm-title')!.textContent =
    `${req.verb![0]!.toUpperCase()}${req.verb!.slice(1)} — please confirm`;
  document.getElementById('confirm-text')!.textContent = text;
  reason.hidden = !needsReason;
  reasonLabel.hidden = !needsReason;
  reason.value = '';
  dialog.returnValue = '';
  dialog.onclose = () => {
    if (dialog.returnValue !== 'ok') return;
    if (needsReason && !reason.value.trim()) {
      say('A rollback needs a reason: nothing was done.', false);
      return;
    }
    void act(needsReason ? { ...req, reason: reason.value } : req);
  };
  dialog.showModal();
  (needsReason ? reason : document.getElementById('confirm-cancel')!).focus();
}

app.addEventListener('click', (ev) => {
  const el = (ev.target as HTMLElement).closest<HTMLElement>('[data-action]');
  if (!el) return;
  confirmAndAct(JSON.parse(el.dataset.action!) as ActionRequest, el.dataset.confirm ?? 'Are you sure?');
});

function connect(): void {
  const ref = route();
  const url = ref
    ? `/events?namespace=${encodeURIComponent(ref.namespace)}&name=${encodeURIComponent(ref.name)}`
    : '/events';
  const source = new EventSource(url);
  source.onopen = () => (conn.textContent = 'live');
  source.onerror = () => (conn.textContent = 'reconnecting…');
  source.onmessage = (ev: MessageEvent<string>) => render(JSON.parse(ev.data) as Message);
}

// For scripts (and the browser tests): the same path as the buttons, without the dialog.
(window as unknown as { cutoverDashboard: { act: typeof act } }).cutoverDashboard = { act };
setInterval(tick, 1000);
connect();
