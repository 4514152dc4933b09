import { strict as assert } from 'node:assert';
import {
  helpText,
  parseDuration,
  parseOperatorOptions,
  type OperatorOptions,
} from '../../../src/runtime/options.js';

function ok(argv: string[], env: NodeJS.ProcessEnv = {}): OperatorOptions {
  const r = parseOperatorOptions(argv, env);
  if (r.kind !== 'options')
    throw new Error(`expected options, got ${r.kind}: ${r.kind === 'error' ? r.message : ''}`);
  return r.options;
}

describe('runtime/options', () => {
  it('parses durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('15s'), 15_000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('3'), 3000);
    assert.throws(() => parseDuration('soon'), /not a duration/);
    assert.throws(() => parseDuration('5x'), /not a duration/);
    // the one grammar of src/api/duration.ts: days and weeks too, largest unit first
    assert.equal(parseDuration('2w'), 14 * 86_400_000);
    assert.equal(parseDuration('1d12h'), 36 * 3_600_000);
    assert.throws(() => parseDuration('30m1h'), /largest unit first/);
    assert.throws(() => parseDuration('1.5s'), /not a duration/);
  });

  it('has the documented defaults', () => {
    const o = ok([]);
    assert.equal(o.leaseDurationMs, 15_000);
    assert.equal(o.renewDeadlineMs, 10_000);
    assert.equal(o.retryPeriodMs, 2_000);
    assert.equal(o.leaderElect, true);
    assert.equal(o.leaderElectionNamespace, 'default');
    assert.equal(o.leaderElectionId, 'cutover-operator');
    assert.deepEqual(o.namespaces, []);
    assert.equal(o.listenHost, '0.0.0.0');
    assert.equal(o.listenPort, 8080);
    assert.equal(o.workers, 2);
    assert.equal(o.gcAfterSyncs, 100);
    assert.equal(o.kubeconfig, undefined);
    assert.match(o.identity, /-\d+-[0-9a-f]{6}$/);
  });

  it('takes the environment, and a flag wins over it', () => {
    const env = {
      POD_NAMESPACE: 'ops',
      CUTOVER_NAMESPACES: 'a, b',
      CUTOVER_WORKERS: '4',
      KUBECONFIG: '/k',
      CUTOVER_LEADER_ELECT: 'false',
    };
    const o = ok([], env);
    assert.equal(o.leaderElectionNamespace, 'ops');
    assert.deepEqual(o.namespaces, ['a', 'b']);
    assert.equal(o.workers, 4);
    assert.equal(o.kubeconfig, '/k');
    assert.equal(o.leaderElect, false);
    const f = ok(
      [
        '--leader-election-namespace',
        'x',
        '--namespaces=c',
        '--workers',
        '1',
        '--leader-elect',
        '--listen-address',
        '127.0.0.1:0',
      ],
      env,
    );
    assert.equal(f.leaderElectionNamespace, 'x');
    assert.deepEqual(f.namespaces, ['c']);
    assert.equal(f.workers, 1);
    assert.equal(f.leaderElect, true);
    assert.equal(f.listenHost, '127.0.0.1');
    assert.equal(f.listenPort, 0);
  });

  it('supports --no-<bool>, repeated lists and the Jobs image', () => {
    const o = ok([
      '--no-leader-elect',
      '--image',
      'registry.nokta.io/cutover:1.2',
      '--namespaces',
      'a',
      '--namespaces',
      'b',
    ]);
    assert.equal(o.leaderElect, false);
    assert.equal(o.image, 'registry.nokta.io/cutover:1.2');
    assert.deepEqual(o.namespaces, ['a', 'b']);
    assert.equal(ok([], { CUTOVER_IMAGE: 'x:1' }).image, 'x:1');
    assert.equal(ok([], {}).image, '', 'empty: resolved when the operator starts');
  });

  it('rejects bad input with a message naming the option', () => {
    const bad = (argv: string[], env: NodeJS.ProcessEnv, re: RegExp): void => {
      const r = parseOperatorOptions(argv, env);
      assert.equal(r.kind, 'error');
      if (r.kind === 'error') assert.match(r.message, re);
    };
    bad(
      ['--frobnicate'],
      {},
      /unknown flag '--frobnicate'; valid flags: --kubeconfig, --context, --namespaces/,
    );
    bad(['--leader-elec'], {}, /unknown flag '--leader-elec' \(did you mean --leader-elect\?\)/);
    bad(['--no-workers'], {}, /unknown flag '--no-workers'/);
    bad(['--leader-elect=yes'], {}, /flag --leader-elect takes no value/);
    bad(
      ['--workers', '--namespaces', 'a'],
      {},
      /flag --workers needs a value \(N\), got the flag '--namespaces'/,
    );
    bad(['--workers'], {}, /needs a value/);
    bad(['--workers', 'many'], {}, /--workers: 'many' is not a positive integer/);
    bad(['--gc-after-syncs=-1'], {}, /--gc-after-syncs: '-1' is not a whole number/);
    assert.equal(ok(['--gc-after-syncs', '0']).gcAfterSyncs, 0);
    bad(
      [],
      { CUTOVER_LEASE_DURATION: 'long' },
      /CUTOVER_LEASE_DURATION: 'long' is not a duration: a duration must look like 90d/,
    );
    bad(['--resync-period', '1m1m'], {}, /--resync-period: '1m1m' is not a duration/);
    bad(['--renew-deadline', '20s'], {}, /renew-deadline must be shorter than --lease-duration/);
    bad(['--listen-address', 'nowhere'], {}, /host:port/);
    bad(['positional'], {}, /unexpected argument/);
  });

  it('takes the kubeconfig context from --context or CUTOVER_CONTEXT', () => {
    assert.equal(ok([]).context, undefined);
    assert.equal(ok([], { CUTOVER_CONTEXT: 'staging' }).context, 'staging');
    assert.equal(ok(['--context', 'prod'], { CUTOVER_CONTEXT: 'staging' }).context, 'prod');
  });

  it('--help explains every option with its environment variable', () => {
    const r = parseOperatorOptions(['--help']);
    assert.equal(r.kind, 'help');
    const text = helpText();
    for (const s of [
      '--kubeconfig',
      '--context',
      'CUTOVER_CONTEXT',
      '--[no-]leader-elect',
      '--namespaces',
      '--leader-election-namespace',
      '--lease-duration',
      'CUTOVER_RENEW_DEADLINE',
      'POD_NAMESPACE',
      '--listen-address',
      '--image',
      'CUTOVER_IMAGE',
      'default: 15s',
    ]) {
      assert.ok(text.includes(s), `help mentions ${s}`);
    }
  });
});
