/**
 * What importing one module costs: a fresh Node process imports it and reports its resident
 * memory and V8 heap after two full GCs, minus those of a process that imported nothing.
 */
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';

export interface ModuleCost {
  module: string;
  rssMb: number;
  heapMb: number;
}

const PROBE = `
const target = process.argv[1];
// The baseline imports a module too, so the module loader's own cost is not put on the first one.
await import(target || 'data:text/javascript,export default 1');
globalThis.gc(); globalThis.gc();
await new Promise((r) => setTimeout(r, 50));
globalThis.gc();
const m = process.memoryUsage();
process.stdout.write(JSON.stringify({ rss: m.rss, heap: m.heapUsed }), () => process.exit(0));
`;

function probe(specifier: string | undefined, cwd: string): Promise<{ rss: number; heap: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--input-type=module', '-e', PROBE, specifier ?? ''],
      { cwd },
      (err, stdout) => {
        if (err) reject(new Error(`importing ${specifier ?? '(nothing)'} failed: ${err.message}`));
        else resolve(JSON.parse(stdout) as { rss: number; heap: number });
      },
    );
  });
}

/**
 * Costs of `modules` (bare package names resolved from `cwd`'s node_modules, or file paths), each
 * alone in a fresh process; the median of `runs` measurements.
 */
export async function moduleCosts(
  modules: string[],
  cwd: string,
  runs = 3,
): Promise<{ baseRssMb: number; costs: ModuleCost[] }> {
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const measure = async (spec: string | undefined): Promise<{ rss: number; heap: number }> => {
    const rs: Array<{ rss: number; heap: number }> = [];
    for (let i = 0; i < runs; i++) rs.push(await probe(spec, cwd));
    return { rss: median(rs.map((r) => r.rss)), heap: median(rs.map((r) => r.heap)) };
  };
  const base = await measure(undefined);
  const out: ModuleCost[] = [];
  for (const m of modules) {
    // A bare name resolves from cwd's node_modules (the -e script's base is cwd).
    const spec = m.startsWith('/') ? pathToFileURL(m).href : m;
    const r = await measure(spec);
    out.push({
      module: m,
      rssMb: (r.rss - base.rss) / 1024 / 1024,
      heapMb: (r.heap - base.heap) / 1024 / 1024,
    });
  }
  return { baseRssMb: base.rss / 1024 / 1024, costs: out };
}
