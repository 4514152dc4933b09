/** The deployment manifests are valid for the real API server, and the Argo CD health checks exist for every kind. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { useCluster } from '../../support/cluster.js';
import { KINDS } from '../../../src/api/index.js';

describe('deploy/: operator manifests', function () {
  it('render with kustomize and pass a server-side dry run', async function () {
    const cluster = await useCluster();
    await cluster.applyCrds();
    const ns = await cluster.kubectl(['apply', '--server-side', '-f', '-'], {
      input: 'apiVersion: v1\nkind: Namespace\nmetadata: { name: cutover-system }\n',
    });
    assert.equal(ns.code, 0, ns.stderr);
    const r = await cluster.kubectl(['apply', '--server-side', '--dry-run=server', '-k', 'deploy/operator']);
    assert.equal(r.code, 0, r.stderr);
    for (const what of [
      'deployment.apps/cutover-operator',
      'clusterrole.rbac.authorization.k8s.io/cutover-operator',
      'role.rbac.authorization.k8s.io/cutover-operator-leader-election',
      'serviceaccount/cutover-operator',
    ]) {
      assert.match(r.stdout, new RegExp(what.replace(/\./g, '\\.')));
    }
  });

  it('has an Argo CD health check for every kind', function () {
    for (const k of Object.values(KINDS))
      assert.ok(
        existsSync(`deploy/argocd/health/${k.kind.toLowerCase()}.lua`),
        `deploy/argocd/health/${k.kind.toLowerCase()}.lua`,
      );
  });
});
