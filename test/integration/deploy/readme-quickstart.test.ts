/**
 * README "A first Reconciliation" works as written: the block after the marker comment runs line
 * by line through `sh` with kubectl on the PATH, against the control plane with the namespaced
 * overlay installed and the operator running under its ServiceAccount (a local process: there is
 * no kubelet here). Only the two database URLs are replaced, by those of the test services, filled
 * with the Nokta sample data; the Reconciliation `customers` ends Passed with its report written.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { kubectlBinary, useCluster, type TestCluster } from '../../support/cluster.js';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../support/databases.js';
import { startOperator, type OperatorProcess } from '../../support/operator-process.js';
import { generateNokta } from '../../../src/devenv/nokta-data/generator.js';
import { repoRoot } from '../../../src/devenv/devenv-state.js';
import { waitFor } from '../../../src/devenv/processes.js';

const MARKER = '<!-- test/integration/deploy/readme-quickstart.test.ts runs this block';

/** The shell lines of the first ```sh block after the marker. */
export function quickstartLines(readme: string): string[] {
  const at = readme.indexOf(MARKER);
  assert.ok(at >= 0, 'README.md has the quickstart marker');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block, 'a ```sh block follows the marker');
  return block[1]!.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
}

function sh(line: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'sh',
      ['-c', line],
      { cwd: repoRoot(), env, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('README: a first Reconciliation, as written', function () {
  this.timeout(15 * 60_000);
  let cluster: TestCluster;
  let legacy: TestDatabase | undefined;
  let target: TestDatabase | undefined;
  let operator: OperatorProcess | undefined;

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    const installed = await cluster.kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '-k',
      'deploy/overlays/namespaced',
    ]);
    assert.equal(installed.code, 0, installed.stderr);
    // A fresh start in namespace nokta for what the block creates.
    await cluster.kubectl([
      '-n',
      'nokta',
      'delete',
      'secret',
      'nokta-legacy-db',
      'nokta-new-db',
      '--ignore-not-found',
    ]);
    await cluster.kubectl(['-n', 'nokta', 'delete', 'reconciliation', 'customers', '--ignore-not-found']);
    legacy = await createMysqlDatabase('quickstart');
    target = await createPostgresDatabase('quickstart');
    await generateNokta(legacy.url, target.url, { scale: 2000, tenants: 3, seed: 'quickstart' });
    const kubeconfig = await cluster.restrictedKubeconfig('cutover-system', 'cutover-operator');
    operator = startOperator(['--namespaces', 'nokta', '--no-leader-elect', '--kubeconfig', kubeconfig]);
  });

  after(async () => {
    await operator?.stop();
    await legacy?.drop();
    await target?.drop();
    await cluster?.kubectl([
      '-n',
      'nokta',
      'delete',
      'secret',
      'nokta-legacy-db',
      'nokta-new-db',
      '--ignore-not-found',
    ]);
    // The sample plan's nightly schedules must not fire in an operator a later test runs.
    await cluster?.kubectl([
      '-n',
      'nokta',
      'delete',
      'reconciliations,canaryphases,cutovers',
      '--all',
      '--wait=false',
    ]);
  });

  it('runs every line of the block; the Reconciliation passes and its report is there', async () => {
    const lines = quickstartLines(readFileSync('README.md', 'utf8'));
    assert.ok(lines.length >= 5, lines.join('\n'));
    const env = {
      ...process.env,
      PATH: `${dirname(kubectlBinary())}:${process.env.PATH ?? ''}`,
      KUBECONFIG: cluster.kubeconfigPath,
    };
    const outputs: string[] = [];
    for (const written of lines) {
      const line = written
        .replace(/url='mysql:\/\/[^']*'/, `url='${legacy!.url}'`)
        .replace(/url='postgres:\/\/[^']*'/, `url='${target!.url}'`);
      const r = await sh(line, env);
      assert.equal(
        r.code,
        0,
        `${written}\n${r.stdout}${r.stderr}\noperator:\n${operator!.output().slice(-4000)}`,
      );
      outputs.push(r.stdout);
    }
    const status = JSON.parse(
      (
        await cluster.kubectl([
          '-n',
          'nokta',
          'get',
          'reconciliation',
          'customers',
          '-o',
          'jsonpath={.status}',
        ])
      ).stdout,
    ) as { phase?: string; lastRun?: { verdict?: string; trigger?: string } };
    assert.equal(status.phase, 'Passed', JSON.stringify(status));
    assert.match(status.lastRun?.trigger ?? '', /^Rerun/);
    const get = outputs.find((_, i) => /get recon customers\s/.test(lines[i]! + ' '));
    assert.match(get ?? '', /customers\s+Passed/);
    const report = outputs.find((_, i) => /customers-report/.test(lines[i]!));
    assert.match(report ?? '', /customers-count/);
    // The same annotate line again (a later second: a new token) reruns it: --overwrite.
    const annotate = lines.find((l) => /annotate recon customers/.test(l));
    assert.ok(annotate);
    await new Promise((r) => setTimeout(r, 1100));
    const again = await sh(annotate, env);
    assert.equal(again.code, 0, again.stderr);
    const token = (
      await cluster.kubectl([
        '-n',
        'nokta',
        'get',
        'reconciliation',
        'customers',
        '-o',
        "jsonpath={.metadata.annotations['cutover\\.nokta\\.io/rerun']}",
      ])
    ).stdout;
    assert.notEqual(token, status.lastRun?.trigger?.replace(/^Rerun:?\s*/, ''));
    await waitFor(
      'the second rerun',
      async () => {
        const r = await cluster.kubectl([
          '-n',
          'nokta',
          'get',
          'reconciliation',
          'customers',
          '-o',
          'jsonpath={.status.lastRerunToken} {.status.phase}',
        ]);
        return r.stdout === `${token} Passed` ? true : undefined;
      },
      120_000,
      500,
    );
    // The database URLs stay out of the operator's output.
    for (const url of [legacy!.url, target!.url]) assert.ok(!operator!.output().includes(url), url);
  });
});
