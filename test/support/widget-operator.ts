/**
 * TEST SUPPORT ONLY: `cutover operator` with the test Widget controller registered as well, for
 * the runtime's process-level tests and benchmark (`node dist/test/support/widget-operator.js
 * operator --controllers test-widgets ...`). The shipped entry point (dist/src/cli/main.js)
 * cannot run it: the widget controller is not in the image.
 */
import { registerController } from '../../src/runtime/controller-registry.js';
import { run } from '../../src/cli/operator-command.js';
import { widgetController } from './widget-controller.js';

registerController(widgetController());
const [command, ...argv] = process.argv.slice(2);
if (command !== 'operator') {
  process.stderr.write(`widget-operator: only 'operator' is supported, got '${command ?? ''}'\n`);
  process.exitCode = 2;
} else {
  process.exitCode = await run(argv);
}
