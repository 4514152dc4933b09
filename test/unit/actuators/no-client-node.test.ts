/**
 * The actuators run inside the operator, which must stay under 150 MB resident memory; loading
 * @kubernetes/client-node costs ~80 MB. So nothing under src/actuators may load it at run time
 * (`import type` is fine: it is erased at compile time). Checked on the build in dist/.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const distSrc = fileURLToPath(new URL('../../../src/', import.meta.url));
const actuatorsIndex = join(distSrc, 'actuators', 'index.js');
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Resolve hook (runs on the loader thread): reports every module that resolves into
 * node_modules/@kubernetes/client-node over the port; answers 'flush' after the reports it sent.
 */
const HOOK = `
let port;
export function initialize(data) {
  port = data.port;
  port.on('message', (m) => { if (m === 'flush') port.postMessage({ flushed: true }); });
}
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes('/node_modules/@kubernetes/client-node/')) port.postMessage({ url: r.url });
  return r;
}
`;

/**
 * Script for `node --input-type=module -e`: registers the hook, imports the module given as the
 * first argument, and prints as JSON the client-node modules it loaded (ESM through the hook, and
 * CommonJS from the require cache).
 */
const PROBE = `
import { register, createRequire } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const esm = [];
let flushed;
const done = new Promise((r) => (flushed = r));
port1.on('message', (m) => (m.flushed ? flushed() : esm.push(m.url)));
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}), {
  data: { port: port2 },
  transferList: [port2],
});
await import(process.argv[1]);
port1.postMessage('flush');
await done;
const cjs = Object.keys(createRequire(import.meta.url).cache).filter((p) =>
  p.includes('/node_modules/@kubernetes/client-node/'),
);
// Exit only once the (large) answer is flushed: a pipe write is asynchronous.
process.stdout.write(JSON.stringify({ esm, cjs }), () => process.exit(0));
`;

interface Loaded {
  esm: string[];
  cjs: string[];
}

function probe(moduleUrl: string): Promise<Loaded> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', PROBE, moduleUrl],
      { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`probe of ${moduleUrl} failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout) as Loaded);
        } catch {
          reject(new Error(`probe of ${moduleUrl} printed no result: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  );
}

describe('actuators do not load @kubernetes/client-node', function () {
  this.timeout(60_000);

  it('the probe sees client-node when a module does load it (control)', async () => {
    const loaded = await probe(
      pathToFileURL(join(repoRoot, 'node_modules', '@kubernetes', 'client-node', 'dist', 'index.js')).href,
    );
    assert.ok(loaded.esm.length > 10, `client-node modules seen: ${loaded.esm.length}`);
  });

  it('importing dist/src/actuators/index.js loads no client-node module', async () => {
    const loaded = await probe(pathToFileURL(actuatorsIndex).href);
    const all = [...loaded.esm, ...loaded.cjs];
    assert.equal(
      all.length,
      0,
      `${all.length} client-node modules loaded, e.g. ${all.slice(0, 3).join(', ')}`,
    );
  });

  it('no compiled actuator imports or requires client-node, not even lazily', () => {
    const files = jsFiles(join(distSrc, 'actuators'));
    assert.ok(files.length >= 10, `actuator modules found: ${files.length}`);
    const loads = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)['"`]@kubernetes\/client-node/;
    const offenders = files.filter((f) => loads.test(readFileSync(f, 'utf8')));
    assert.deepEqual(offenders, []);
  });
});
