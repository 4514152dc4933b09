/** Mocha global fixtures: stop what the tests started, even when a test failed. */
import { stopSharedCluster } from './cluster.js';
import { stopAllPrometheus } from './prometheus.js';

export async function mochaGlobalTeardown(): Promise<void> {
  await stopAllPrometheus();
  await stopSharedCluster();
}
