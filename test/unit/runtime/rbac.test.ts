/**
 * deploy/operator/rbac.yaml grants exactly what the operator's code declares it uses (the
 * runtime, every registered controller, every actuator: src/runtime/api-usage.ts): a verb the
 * code needs and the role lacks fails in a cluster; a verb the role grants and nothing uses is a
 * privilege too many. The declaration itself is checked against every request recorded during
 * the test suites (test/support/api-usage.ts).
 */
import assert from 'node:assert/strict';
import { usageKeys } from '../../../src/runtime/api-usage.js';
import { declaredUsage } from '../../support/api-usage.js';
import { operatorRules, type PolicyRule } from '../../support/operator-identity.js';

function grantedKeys(rules: PolicyRule[], scope: 'cluster' | 'leader-election'): Set<string> {
  const s = new Set<string>();
  for (const r of rules) {
    assert.equal(r.resourceNames, undefined, 'the role names no objects');
    for (const g of r.apiGroups)
      for (const res of r.resources) for (const v of r.verbs) s.add(`${g}|${res}|${v}|${scope}`);
  }
  return s;
}

const show = (keys: string[]): string => keys.map((k) => k.split('|').slice(0, 3).join(' ')).join(', ');

describe('deploy/operator RBAC', () => {
  it('grants exactly the verbs the runtime, the controllers and the actuators use', () => {
    const { clusterRole, leaderElection } = operatorRules();
    const granted = new Set([
      ...grantedKeys(clusterRole, 'cluster'),
      ...grantedKeys(leaderElection, 'leader-election'),
    ]);
    const used = usageKeys(declaredUsage());
    const missing = [...used].filter((k) => !granted.has(k)).sort();
    const extra = [...granted].filter((k) => !used.has(k)).sort();
    assert.deepEqual(missing, [], `the role lacks verbs the code uses: ${show(missing)}`);
    assert.deepEqual(extra, [], `the role grants verbs nothing uses: ${show(extra)}`);
  });

  it('lets scaleDeployment write the restore record on the Deployment (update), not only read it', () => {
    const { clusterRole } = operatorRules();
    const deployments = clusterRole.filter(
      (r) => r.apiGroups.includes('apps') && r.resources.includes('deployments'),
    );
    assert.ok(deployments.some((r) => r.verbs.includes('update')));
  });
});
