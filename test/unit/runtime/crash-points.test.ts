import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseCrashAt } from '../../../src/runtime/crash-points.js';

/** Runs crashPoint('p', 'ns/a') then crashPoint('p', 'ns/b'), five rounds, in a child with CUTOVER_CRASH_AT=`at`. */
function run(at: string): { reached: string[]; signal: NodeJS.Signals | null } {
  const module = fileURLToPath(new URL('../../../src/runtime/crash-points.js', import.meta.url));
  const script = `
    const { crashPoint } = await import(${JSON.stringify(module)});
    for (let i = 1; i <= 5; i++)
      for (const key of ['ns/a', 'ns/b']) {
        crashPoint('p', key);
        process.stdout.write(key + '#' + i + '\\n');
      }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, CUTOVER_CRASH_AT: at },
    encoding: 'utf8',
  });
  return { reached: r.stdout.trim().split('\n').filter(Boolean), signal: r.signal };
}

describe('crash points (test only)', () => {
  it('parses an occurrence suffix', () => {
    assert.deepEqual(parseCrashAt('cutover:after-claim'), { target: 'cutover:after-claim', nth: 1 });
    assert.deepEqual(parseCrashAt('cutover:after-claim@ns/x#3'), {
      target: 'cutover:after-claim@ns/x',
      nth: 3,
    });
    assert.deepEqual(parseCrashAt('p#0'), { target: 'p#0', nth: 1 });
  });

  it('kills the process the first time, or the n-th time, the named point is reached', () => {
    assert.deepEqual(run('p'), { reached: [], signal: 'SIGKILL' });
    assert.deepEqual(run('p@ns/b'), { reached: ['ns/a#1'], signal: 'SIGKILL' });
    assert.deepEqual(run('p#3'), { reached: ['ns/a#1', 'ns/b#1'], signal: 'SIGKILL' });
    assert.deepEqual(run('p@ns/a#2'), { reached: ['ns/a#1', 'ns/b#1'], signal: 'SIGKILL' });
    assert.deepEqual(run('p@ns/b#5').reached.length, 9);
    assert.deepEqual(run('q').signal, null, 'another point never kills');
    assert.deepEqual(run('p@ns/c#1').reached.length, 10);
  });
});
