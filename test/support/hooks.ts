/**
 * Mocha root hooks and global fixtures: after every test, the operator's API usage recorded in
 * this run is checked against its declaration (test/support/api-usage.ts); at the end, stop what
 * the tests started, even when a test failed.
 */
import { stopSharedCluster } from './cluster.js';
import { stopAllPrometheus } from './prometheus.js';

export const mochaHooks = {
  async afterAll(this: unknown): Promise<void> {
    const { recordedComponents, usageViolations, unexercised } = await import('./api-usage.js');
    const components = recordedComponents();
    if (components.size === 0) return;
    const violations = usageViolations();
    if (violations.length > 0) {
      throw new Error(
        `the operator made Kubernetes requests its RBAC declaration does not cover:\n  ${violations.join('\n  ')}`,
      );
    }
    const idle = unexercised();
    process.stdout.write(
      `\nAPI usage: every request of ${[...components].sort().join(', ')} is declared and granted` +
        (idle.length
          ? `; declared but not exercised in this run: ${idle.map((k) => k.split('|').slice(0, 3).join(' ')).join(', ')}`
          : '') +
        '\n',
    );
  },
};

export async function mochaGlobalTeardown(): Promise<void> {
  await stopAllPrometheus();
  await stopSharedCluster();
}
