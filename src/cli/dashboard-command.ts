/**
 * `cutover dashboard` (and `kubectl cutover dashboard`): the war-room page on localhost, with the
 * caller's kubeconfig, so it shows exactly what the caller may see and acts as the caller.
 */
import {
  CONTEXT,
  helpText,
  KUBECONFIG,
  parseCommandLine,
  resolveFlag,
  UsageError,
  type CommandSpec,
} from './args.js';

export const DASHBOARD_COMMAND: CommandSpec = {
  name: 'dashboard',
  usage: '[--port N] [--address HOST] [--namespace NS] [--kubeconfig FILE] [--context NAME]',
  description:
    'Serves the war-room page: every Cutover you may see with its phase, and one live page per Cutover (timeline, rollback triggers, canary exposure and analysis, reconciliation results, events). Updates are pushed as the resources change. Actions (approve, pause, resume, promote, abort, roll back) are performed with your identity, so RBAC decides; buttons appear only where you are allowed.',
  flags: [
    {
      name: 'port',
      short: 'p',
      type: 'string',
      value: 'N',
      default: '3100',
      env: ['CUTOVER_DASHBOARD_PORT'],
      help: 'port to listen on (0: any free port)',
    },
    {
      name: 'address',
      type: 'string',
      value: 'HOST',
      default: '127.0.0.1',
      help: 'address to listen on; anything but loopback also answers other host names (behind an ingress)',
    },
    {
      name: 'namespace',
      short: 'n',
      type: 'string',
      value: 'NS',
      help: 'only this namespace (default: every namespace you may list)',
    },
    KUBECONFIG,
    CONTEXT,
  ],
  footer: 'Exit codes: 0 stopped by SIGINT/SIGTERM, 1 cannot read the cluster, 2 usage or cannot listen.',
};

export async function run(argv: string[]): Promise<number> {
  const err = (line: string): void => void process.stderr.write(`${line}\n`);
  let port: number;
  let parsed;
  try {
    parsed = parseCommandLine(DASHBOARD_COMMAND, argv);
    const p = resolveFlag(DASHBOARD_COMMAND, parsed, 'port').text ?? '3100';
    if (!/^\d{1,5}$/.test(p) || Number(p) > 65535)
      throw new UsageError(`--port needs a port number, got '${p}'`);
    port = Number(p);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`${e.message}\n\n${helpText(DASHBOARD_COMMAND)}`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`${helpText(DASHBOARD_COMMAND)}\n`);
    return 0;
  }
  const text = (name: string): string | undefined => resolveFlag(DASHBOARD_COMMAND, parsed, name).text;
  const { loadKubeConfig } = await import('../runtime/kubeconfig.js');
  const { startDashboard } = await import('../dashboard/server.js');
  const context = text('context');
  const namespace = text('namespace');
  let dashboard;
  try {
    const kc = await loadKubeConfig(text('kubeconfig'), process.env, context ? { context } : {});
    dashboard = await startDashboard({
      kc,
      port,
      host: text('address') ?? '127.0.0.1',
      ...(namespace ? { namespace } : {}),
    });
  } catch (e) {
    const msg = (e as Error).message;
    err(`cutover dashboard: ${msg}`);
    return /EADDRINUSE|EACCES|listen/.test(msg) ? 2 : 1;
  }
  // One line a program can parse (tests and the bench read the URL from it).
  err(`dashboard listening on ${dashboard.url}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await dashboard.stop();
  return 0;
}
