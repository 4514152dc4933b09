#!/usr/bin/env node
/** `npm run cluster:up` / `npm run cluster:down`: a local control plane that stays up between commands. */
import { clusterDown, clusterUp } from './local-cluster.js';

const log = (line: string): void => {
  process.stderr.write(line + '\n');
};

async function main(cmd: string | undefined): Promise<number> {
  if (cmd === 'up') {
    const state = await clusterUp(log);
    process.stdout.write(`export KUBECONFIG=${state.kubeconfigPath}\n`);
    return 0;
  }
  if (cmd === 'down') {
    await clusterDown(log);
    return 0;
  }
  process.stderr.write('usage: cluster-cli up|down\n');
  return 2;
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`cluster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
