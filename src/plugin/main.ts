#!/usr/bin/env node
/**
 * `kubectl-cutover`, the kubectl plugin (`kubectl cutover ...`): status, approve, pause, resume,
 * promote, abort, rollback, rerun, report, runbook, completion; `dashboard` is the cutover CLI's.
 * Installed by npm (bin) or krew as a symlink to this file: Node resolves the symlink, so the
 * imports below are found wherever the link lives. Exit codes: ./exit-codes.ts.
 */
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { CONFIG_MAP } from '../runtime/resources.js';
import type { KubeObject } from '../runtime/kube-client.js';
import { approve, canaryAction, pauseOrResume, rerun, rollback, type ActionResult } from './actions.js';
import { CLI_COMMANDS, parseArgs, type Output, type PluginArgs } from './args.js';
import {
  apiFailure,
  connect,
  jobsLabelled,
  onlyCutover,
  readCutoverWorld,
  resolve,
  type Session,
} from './cluster.js';
import { bashCompletion, zshCompletion } from './completion.js';
import { EXIT, PluginError, type ExitCode } from './exit-codes.js';
import { buildRunbook, renderRunbook } from './runbook.js';
import { canaryView, cutoverView, reconciliationView, renderTree, type StatusView } from './status-tree.js';

export const USAGE = `kubectl cutover: steer the cutover-operator's Cutovers, CanaryPhases and Reconciliations

Usage: kubectl cutover COMMAND [ARGS] [-n NAMESPACE] [-o text|json|yaml]

  status NAME [--watch]        tree of the Cutover, its CanaryPhases, Reconciliations and Jobs, and the next action
  approve STEP [NAME]          approve a Cutover step (or a CanaryPhase gate: NAME = canaryphase/X) [--by WHO]
  pause NAME | resume NAME     pause or resume a Cutover (spec.paused) or a CanaryPhase
  promote NAME | abort NAME    promote or abort a CanaryPhase
  rollback [NAME] --reason R   start the Cutover's rollback now
  rerun RECON                  run a Reconciliation now
  report NAME [--part P]       the Markdown report (final, checkpoint or review) from the report ConfigMap
  runbook NAME                 the migration playbook generated from the Cutover
  dashboard | validate | reconcile | version ...   the cutover CLI's commands, as they are
  completion bash|zsh          shell completion

NAME is a bare name (looked up as Cutover, CanaryPhase, Reconciliation) or kind/name; without
NAME, commands on a Cutover use the namespace's only Cutover.
Flags: -n/--namespace, --kubeconfig, --context, -o/--output, -w/--watch, --interval SECONDS.
Exit codes: 0 done, 1 error, 2 usage, 3 not found, 4 not applicable, 5 degraded (status).
`;

function print(out: Output, value: unknown, text: string): void {
  if (out === 'json') process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else if (out === 'yaml') process.stdout.write(stringify(value));
  else process.stdout.write(text);
}

function need(a: PluginArgs, n: number, what: string): string {
  const v = a.positional[n];
  if (v === undefined) throw new PluginError(EXIT.usage, `${a.command} needs ${what}`);
  return v;
}

async function view(s: Session, ref: string): Promise<StatusView> {
  const obj = await resolve(s, ref);
  if (obj.kind === 'Cutover') return cutoverView(await readCutoverWorld(s, obj));
  if (obj.kind === 'CanaryPhase')
    return canaryView(obj, await jobsLabelled(s, 'cutover.nokta.io/canary-phase', obj.metadata.name));
  return reconciliationView(obj, await jobsLabelled(s, 'cutover.nokta.io/reconciliation', obj.metadata.name));
}

const statusCode = (v: StatusView): ExitCode => (v.health === 'Degraded' ? EXIT.degraded : EXIT.ok);
const statusValue = (v: StatusView) => ({
  health: v.health,
  nextAction: v.nextAction,
  terminal: v.terminal,
  tree: v.tree,
});

async function status(s: Session, a: PluginArgs): Promise<ExitCode> {
  const ref = a.positional[0] ?? (await onlyCutover(s)).metadata.name;
  if (!a.watch) {
    const v = await view(s, ref);
    print(a.output, statusValue(v), renderTree(v));
    return statusCode(v);
  }
  let last = '';
  for (;;) {
    const v = await view(s, ref);
    const text = renderTree(v);
    if (text !== last) {
      if (a.output === 'json') process.stdout.write(JSON.stringify(statusValue(v)) + '\n');
      else if (a.output === 'yaml') process.stdout.write('---\n' + stringify(statusValue(v)));
      else process.stdout.write(`--- ${new Date().toISOString()}\n${text}`);
      last = text;
    }
    if (v.terminal) return statusCode(v);
    await new Promise((r) => setTimeout(r, a.interval * 1000));
  }
}

async function report(s: Session, a: PluginArgs): Promise<ExitCode> {
  const co = a.positional[0] ? await resolve(s, a.positional[0], ['Cutover']) : await onlyCutover(s);
  if (co.kind !== 'Cutover')
    throw new PluginError(EXIT.notApplicable, `${co.kind} ${co.metadata.name} has no Markdown report`);
  const cmName =
    co.status?.report?.configMap ?? co.spec.report?.configMapName ?? `${co.metadata.name}-report`;
  const cm = await s.client.tryGet<KubeObject & { data?: Record<string, string> }>(
    CONFIG_MAP,
    s.namespace,
    cmName,
  );
  const parts = a.part ? [a.part] : ['final', 'checkpoint'].filter((p) => cm?.data?.[`${p}.md`]).slice(0, 1);
  if (!a.part && cm?.data?.['review.md']) parts.push('review');
  const found = parts.filter((p) => cm?.data?.[`${p}.md`] !== undefined);
  if (!cm || found.length === 0)
    throw new PluginError(
      EXIT.notFound,
      `no ${a.part ?? 'report'} yet for Cutover ${co.metadata.name} (ConfigMap ${s.namespace}/${cmName}${cm ? ` has ${Object.keys(cm.data ?? {}).join(', ') || 'no keys'}` : ' does not exist'})`,
    );
  const value = {
    cutover: co.metadata.name,
    configMap: cmName,
    parts: Object.fromEntries(found.map((p) => [p, cm.data![`${p}.md`]!])),
  };
  print(a.output, value, found.map((p) => cm.data![`${p}.md`]!).join('\n'));
  return EXIT.ok;
}

async function runbook(s: Session, a: PluginArgs): Promise<ExitCode> {
  const co = a.positional[0] ? await resolve(s, a.positional[0], ['Cutover']) : await onlyCutover(s);
  if (co.kind !== 'Cutover')
    throw new PluginError(
      EXIT.notApplicable,
      `${co.kind} ${co.metadata.name} has no runbook: name a Cutover`,
    );
  const rb = buildRunbook(co);
  print(a.output, rb, renderRunbook(rb));
  return EXIT.ok;
}

/** `dashboard` (and validate, reconcile, version) are the cutover CLI's: handed over unchanged. */
function cutoverCli(a: PluginArgs): ExitCode {
  const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [cli, a.command, ...a.rest], { stdio: 'inherit' });
  return (r.status ?? EXIT.error) as ExitCode;
}

async function act(s: Session, a: PluginArgs): Promise<ActionResult> {
  switch (a.command) {
    case 'approve':
      return approve(s, need(a, 0, 'STEP (a Cutover step or a CanaryPhase gate)'), a.positional[1], a.by);
    case 'pause':
    case 'resume':
      return pauseOrResume(s, a.command, a.positional[0]);
    case 'promote':
    case 'abort':
      return canaryAction(s, a.command, need(a, 0, 'NAME (a CanaryPhase)'));
    case 'rollback':
      return rollback(s, a.positional[0], a.reason);
    case 'rerun':
      return rerun(s, need(a, 0, 'RECON (a Reconciliation)'));
  }
  throw new PluginError(EXIT.usage, `unknown command ${a.command}\n\n${USAGE}`);
}

export async function run(argv: string[]): Promise<ExitCode> {
  const a = parseArgs(argv);
  switch (a.command) {
    case '':
    case 'help':
      process.stdout.write(USAGE);
      return a.command === '' ? EXIT.usage : EXIT.ok;
    case 'completion': {
      const shell = need(a, 0, 'a shell: bash or zsh');
      if (shell !== 'bash' && shell !== 'zsh')
        throw new PluginError(EXIT.usage, `completion for bash or zsh, not ${shell}`);
      process.stdout.write(shell === 'bash' ? bashCompletion() : zshCompletion());
      return EXIT.ok;
    }
  }
  if (CLI_COMMANDS.includes(a.command)) return cutoverCli(a);
  const s = await connect(a);
  if (a.command === 'status') return status(s, a);
  if (a.command === 'report') return report(s, a);
  if (a.command === 'runbook') return runbook(s, a);
  const r = await act(s, a);
  print(a.output, r, `${r.kind.toLowerCase()}/${r.name} ${a.command}: ${r.message}\n`);
  return EXIT.ok;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      const pe = e instanceof PluginError ? e : apiFailure(e);
      process.stderr.write(
        `kubectl cutover: ${pe?.message ?? (e instanceof Error ? e.message : String(e))}\n`,
      );
      process.exit(pe?.code ?? EXIT.error);
    },
  );
}
