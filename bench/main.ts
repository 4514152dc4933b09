/**
 * `npm run bench -- <name>...`: runs the named benchmarks (all when none is named). Each prints
 * its own figures, measured side by side in one run; nothing here asserts on time.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Bench {
  file: string;
  entry: string;
  what: string;
}

const BENCHES: Record<string, Bench> = {
  runtime: {
    file: 'runtime.js',
    entry: 'runRuntimeBench',
    what: 'the operator as shipped with 1,000 Reconciliations: RSS and what it is made of, time to first sync, API requests/min while idle',
  },
  rerun: {
    file: 'rerun.js',
    entry: 'runRerunBench',
    what: "runs per rerun token when the watch lags behind the operator's own writes",
  },
  reconciliation: {
    file: 'reconciliation.js',
    entry: 'runReconciliationBench',
    what: '1M orders over 50 zipf tenants: every check vs a hand-written per-tenant MD5 scan of every table, with and without differences',
  },
  readonly: {
    file: 'read-only-statements.js',
    entry: 'runReadOnlyStatementsBench',
    what: 'what the per-statement read-only transaction costs: raw vs guarded statements side by side, statements per Nokta run',
  },
  flags: {
    file: 'flags.js',
    entry: 'runFlagsBench',
    what: "flipping one service's flag for 10,000 tenants in Redis and in the flagd ConfigMap",
  },
  cutover: {
    file: 'cutover.js',
    entry: 'runCutoverBench',
    what: 'Cutover: the whole sample plan at three weeks a minute (wall time, phases, API requests, operator RSS), then a rollback trigger to traffic back on legacy (median of 10)',
  },
  canary: {
    file: 'canary.js',
    entry: 'runCanaryBench',
    what: '20 CanaryPhases, 1 s analysis, failure limit 2: deciding measurement → flags off in Redis and route weights given back',
  },
  shadow: {
    file: 'shadow.js',
    entry: 'runShadowBench',
    what: 'shadow proxy: added legacy-path latency at 2,000 requests/s, highest compared rate, memory with the new stack stalled',
  },
  dashboard: {
    file: 'dashboard.js',
    entry: 'runDashboardBench',
    what: 'war-room page in Chromium with 20 Cutovers and 200 Reconciliations: first render, status change → shown, page weight',
  },
};

async function main(argv: string[]): Promise<number> {
  // Figures only: the actuators' and operator's info logs would bury them.
  process.env.LOG_LEVEL ??= 'warn';
  // Names come first; everything from the first option on goes to the benchmarks.
  const firstOption = argv.findIndex((a) => a.startsWith('-'));
  const names = firstOption < 0 ? argv : argv.slice(0, firstOption);
  const options = firstOption < 0 ? [] : argv.slice(firstOption);
  const selected = names.length ? names : Object.keys(BENCHES);
  for (const name of selected) {
    const bench = BENCHES[name];
    if (!bench) {
      process.stderr.write(`unknown benchmark '${name}'; known: ${Object.keys(BENCHES).join(', ')}\n`);
      return 2;
    }
    const file = join(dirname(fileURLToPath(import.meta.url)), bench.file);
    if (!existsSync(file)) {
      process.stderr.write(`benchmark '${name}' is not part of this build (${file} missing)\n`);
      return 2;
    }
    process.stdout.write(`\n== ${name}: ${bench.what}\n`);
    const mod = (await import(pathToFileURL(file).href)) as Record<string, (args: string[]) => Promise<void>>;
    const fn = mod[bench.entry];
    if (typeof fn !== 'function') throw new Error(`${file} does not export ${bench.entry}`);
    await fn(options);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
