/**
 * `cutover operator`: runs the registered controllers with leader election, metrics and health
 * endpoints. Controllers come from `src/controllers/index.js` (each module there calls
 * `registerController`), plus any a wrapping entry point registered before calling `run`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseOperatorOptions } from '../runtime/options.js';
import type { ControllerSpec } from '../runtime/controller.js';
import type { KubeObject } from '../runtime/kube-client.js';

async function loadRegisteredControllers(): Promise<void> {
  const index = join(dirname(fileURLToPath(import.meta.url)), '..', 'controllers', 'index.js');
  if (existsSync(index)) await import(pathToFileURL(index).href);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseOperatorOptions(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text + '\n');
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`cutover operator: ${parsed.message}\n`);
    return 2;
  }
  const options = parsed.options;
  // The logger reads LOG_LEVEL when first used: set it before anything logs.
  process.env.LOG_LEVEL = options.logLevel;
  const { createLogger } = await import('../runtime/logger.js');
  const { registeredControllers } = await import('../runtime/controller-registry.js');
  const { Operator } = await import('../runtime/operator.js');
  const log = createLogger('operator-command');

  // The Cutover controller reads its plan clock from these (the operator's own clock stays real).
  process.env.CUTOVER_TIME_SCALE = String(options.timeScale);
  process.env.CUTOVER_TIME_ORIGIN = options.timeOrigin;
  await loadRegisteredControllers();
  let specs: ControllerSpec<KubeObject>[] = registeredControllers();
  if (options.controllers.length > 0) {
    const unknown = options.controllers.filter((n) => !specs.some((s) => s.name === n));
    if (unknown.length > 0) {
      process.stderr.write(
        `cutover operator: unknown controllers: ${unknown.join(', ')} (known: ${specs.map((s) => s.name).join(', ') || 'none'})\n`,
      );
      return 2;
    }
    specs = specs.filter((s) => options.controllers.includes(s.name));
  }

  let operator: InstanceType<typeof Operator>;
  try {
    operator = await Operator.create(options, specs);
    await operator.start();
  } catch (e) {
    log.error({ err: e }, 'operator failed to start');
    process.stderr.write(`cutover operator: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        log.warn({ signal: sig }, 'second signal: exiting now');
        process.exit(1);
      }
      log.info({ signal: sig }, 'signal received');
      operator.stop().then(
        () => resolve(0),
        (e: unknown) => {
          log.error({ err: e }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
