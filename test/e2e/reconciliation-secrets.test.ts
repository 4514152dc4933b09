/**
 * End to end (issue 9, security): the operator process, as its own ServiceAccount, with
 * Reconciliations whose Secret holds a URL with an unencoded `/`, `#`, `@` or `?` in the
 * password. Each run ends in Error with a reason naming the Secret and key — never Running for
 * good — and no part of any password reaches `kubectl get -o yaml` of the Reconciliations, their
 * report ConfigMaps and Events, or the operator's log. A URL written correctly (percent-encoded)
 * runs, and the run's status says whether the accounts can write the compared tables (the
 * LeastPrivilege warning condition, with a Warning Event naming the grant). The probe's read-only
 * attack (`set_config('default_transaction_read_only','off',false)`, then `nextval`) is accepted
 * by kubectl (CEL checks the shape only) and stopped by the operator before it reads anything.
 */
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { useCluster, type TestCluster } from '../support/cluster.js';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../support/databases.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import { operatorIdentity, type OperatorIdentity } from '../support/operator-identity.js';
import { followOperator } from '../support/api-usage.js';
import type { Reconciliation, ReconciliationStatus } from '../../src/api/index.js';

/** Passwords: a distinctive prefix and suffix around the character a URL parser misreads. */
const BAD = [
  // a password starting with digits once parsed as a port, the rest as the path: the label showed it
  { name: 'slash', side: 'target', prefix: '6543', char: '/', suffix: 'Zk81SlashSecret' },
  { name: 'hash', side: 'target', prefix: 'PwHaQ7', char: '#', suffix: 'Zk81HashSecret' },
  { name: 'at', side: 'legacy', prefix: 'PwAtQ7', char: '@', suffix: 'Zk81AtSecret' },
  { name: 'question', side: 'legacy', prefix: 'PwQuQ7', char: '?', suffix: 'Zk81QuestionSecret' },
] as const;
/** Percent-encoded in the URL that works; it must not show either. */
const GOOD_PASSWORD = { prefix: 'PwOkQ7', char: '/', suffix: 'Zk81EncodedSecret' };

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

describe('e2e: Reconciliation with malformed database URLs and over-privileged accounts', function () {
  this.timeout(300_000);
  let cluster: TestCluster;
  let ns: string;
  let legacy: TestDatabase;
  let target: TestDatabase;
  let identity: OperatorIdentity;
  let operator: OperatorProcess | undefined;
  const reader = `recon_reader_${process.pid}`;

  const kubectlOk = async (args: string[], input?: string): Promise<string> => {
    const r = await cluster.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const getStatus = async (name: string): Promise<ReconciliationStatus> =>
    (
      JSON.parse(await kubectlOk(['get', 'reconciliation', name, '-n', ns, '-o', 'json'])) as {
        status?: ReconciliationStatus;
      }
    ).status ?? {};
  const waitFinished = async (name: string): Promise<ReconciliationStatus> => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const st = await getStatus(name);
      if (st.lastRun?.finishedAt) return st;
      if (Date.now() > deadline)
        throw new Error(
          `${name} did not finish; status ${JSON.stringify(st)}\noperator log:\n${operator?.output().slice(-4000) ?? ''}`,
        );
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  const manifest = (name: string, legacySecret: string, targetSecret: string): Reconciliation => ({
    apiVersion: 'cutover.nokta.io/v1alpha1',
    kind: 'Reconciliation',
    metadata: { name, namespace: ns },
    spec: {
      legacy: { engine: 'mysql', secretRef: { name: legacySecret, key: 'url' } },
      target: { engine: 'postgres', secretRef: { name: targetSecret, key: 'url' } },
      tenantColumn: 'tenant_id',
      checks: [{ name: 'orders', type: 'count', legacy: { table: 'orders' }, target: { table: 'orders' } }],
    },
  });
  const secret = async (name: string, url: string): Promise<void> => {
    await kubectlOk(['create', 'secret', 'generic', name, '-n', ns, `--from-literal=url=${url}`]);
  };
  /** `scheme://user:PASSWORD@host:port/db` with the password as written (not encoded). */
  const withPassword = (url: string, user: string, password: string): string =>
    url.replace(/^(\w+:\/\/)[^@/]*@?/, `$1${user}:${password}@`);

  before(async () => {
    cluster = await useCluster();
    await cluster.applyCrds();
    ns = await cluster.createNamespace('e2e-recon-secrets');
    [legacy, target] = await Promise.all([
      createMysqlDatabase('e2e_secret_l'),
      createPostgresDatabase('e2e_secret_t'),
    ]);
    const my = await mysql.createConnection(legacy.url);
    await my.query('CREATE TABLE orders (id INT PRIMARY KEY, tenant_id VARCHAR(10) NOT NULL)');
    await my.query("INSERT INTO orders VALUES (1, 'acme'), (2, 'beta')");
    await my.query(`CREATE USER IF NOT EXISTS '${reader}'@'%'`);
    await my.query(`GRANT SELECT ON \`${legacy.name}\`.orders TO '${reader}'@'%'`);
    await my.end();
    const pc = new pg.Client({ connectionString: target.url });
    await pc.connect();
    await pc.query('CREATE TABLE orders (id INT PRIMARY KEY, tenant_id TEXT NOT NULL)');
    await pc.query("INSERT INTO orders VALUES (1, 'acme'), (2, 'beta')");
    await pc.query('CREATE SEQUENCE order_seq');
    await pc.query(`CREATE ROLE ${reader} LOGIN`);
    await pc.query(`GRANT SELECT ON orders TO ${reader}`);
    await pc.end();

    await secret('legacy-db', legacy.url);
    await secret('target-db', target.url);
    for (const b of BAD) {
      const base = b.side === 'legacy' ? legacy.url : target.url;
      await secret(`${b.name}-db`, withPassword(base, 'app', `${b.prefix}${b.char}${b.suffix}`));
    }
    const encoded = encodeURIComponent(`${GOOD_PASSWORD.prefix}${GOOD_PASSWORD.char}${GOOD_PASSWORD.suffix}`);
    // PostgreSQL here trusts local connections: the password travels but is not checked
    await secret('target-encoded-db', withPassword(target.url, 'postgres', encoded));
    const readerUrl = (url: string): string => {
      const u = new URL(url);
      u.username = reader;
      return u.toString();
    };
    await secret('legacy-reader-db', readerUrl(legacy.url));
    await secret('target-reader-db', readerUrl(target.url));

    identity = await operatorIdentity(cluster, ns);
    operator = startOperator([
      '--kubeconfig',
      identity.kubeconfig,
      '--namespaces',
      ns,
      '--leader-election-namespace',
      ns,
    ]);
    followOperator('e2e/reconciliation-secrets', operator);
  });

  after(async () => {
    await operator?.stop();
    await identity?.cleanup();
    if (ns) await cluster.deleteNamespace(ns);
    const my = await mysql.createConnection(legacy.url).catch(() => undefined);
    await my?.query(`DROP USER IF EXISTS '${reader}'@'%'`).catch(() => undefined);
    await my?.end();
    const pc = new pg.Client({ connectionString: target.url });
    await pc.connect().catch(() => undefined);
    await pc.query(`DROP OWNED BY ${reader}`).catch(() => undefined);
    await pc.query(`DROP ROLE IF EXISTS ${reader}`).catch(() => undefined);
    await pc.end().catch(() => undefined);
    await Promise.all([legacy?.drop(), target?.drop()]);
  });

  it('an unencoded / # @ ? in the password: Error naming the Secret and key, and the password nowhere', async () => {
    for (const b of BAD) {
      const [l, t] = b.side === 'legacy' ? [`${b.name}-db`, 'target-db'] : ['legacy-db', `${b.name}-db`];
      await kubectlOk(['apply', '-f', '-'], JSON.stringify(manifest(`bad-${b.name}`, l, t)));
    }
    for (const b of BAD) {
      const st = await waitFinished(`bad-${b.name}`);
      assert.equal(st.lastRun?.verdict, 'Error', `bad-${b.name}: ${JSON.stringify(st.lastRun)}`);
      assert.equal(st.phase, 'Error');
      assert.match(
        st.lastRun?.error ?? '',
        new RegExp(`Secret ${ns}/${b.name}-db key 'url' \\(spec\\.${b.side}\\.secretRef\\).*percent-encoded`),
      );
    }
    const everything = [
      await kubectlOk(['get', 'reconciliations,configmaps', '-n', ns, '-o', 'yaml']),
      await kubectlOk(['get', 'events', '-n', ns, '-o', 'yaml']),
      await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '-o', 'yaml']),
      operator!.output(),
    ].join('\n');
    assert.match(everything, /bad-slash-report/, 'the report ConfigMaps were written (and searched)');
    for (const b of BAD)
      // a short number could occur anywhere (a resourceVersion): only distinctive parts are searched
      for (const part of [b.prefix, b.suffix].filter((p) => !/^\d+$/.test(p)))
        assert.ok(!everything.includes(part), `'${part}' of the ${b.name} password leaked`);
  });

  it('a percent-encoded URL works; the LeastPrivilege condition names the write grants, or says the accounts only read', async () => {
    await kubectlOk(
      ['apply', '-f', '-'],
      JSON.stringify(manifest('writer', 'legacy-db', 'target-encoded-db')),
    );
    await kubectlOk(
      ['apply', '-f', '-'],
      JSON.stringify(manifest('reader', 'legacy-reader-db', 'target-reader-db')),
    );
    const writer = await waitFinished('writer');
    assert.equal(writer.lastRun?.verdict, 'Passed', JSON.stringify(writer.lastRun));
    const wc = (writer.conditions as Condition[] | undefined)?.find((c) => c.type === 'LeastPrivilege');
    assert.equal(wc?.status, 'False', JSON.stringify(writer.conditions));
    assert.equal(wc?.reason, 'WriteGrants');
    assert.match(wc?.message ?? '', /legacy: [A-Z, ]*(ALL|INSERT)[A-Z, ]* on \*\.\*/);
    assert.match(wc?.message ?? '', /target: INSERT, UPDATE, DELETE, TRUNCATE on orders/);
    // a warning, not a failure: the run's own conditions are unaffected
    assert.equal((writer.conditions as Condition[]).find((c) => c.type === 'Ready')?.status, 'True');

    const reader = await waitFinished('reader');
    assert.equal(reader.lastRun?.verdict, 'Passed', JSON.stringify(reader.lastRun));
    const rc = (reader.conditions as Condition[] | undefined)?.find((c) => c.type === 'LeastPrivilege');
    assert.equal(rc?.status, 'True', JSON.stringify(reader.conditions));
    assert.equal(rc?.reason, 'ReadOnlyAccounts');

    const events = JSON.parse(await kubectlOk(['get', 'events.events.k8s.io', '-n', ns, '-o', 'json'])) as {
      items: { reason: string; type: string; note?: string; regarding: { name: string } }[];
    };
    const warnings = events.items.filter((e) => e.reason === 'WriteGrants');
    assert.deepEqual(
      warnings.map((e) => [e.regarding.name, e.type]),
      [['writer', 'Warning']],
    );
    const everything = [
      await kubectlOk(['get', 'reconciliations,configmaps', '-n', ns, '-o', 'yaml']),
      JSON.stringify(events),
      operator!.output(),
    ].join('\n');
    for (const part of [GOOD_PASSWORD.prefix, GOOD_PASSWORD.suffix])
      assert.ok(!everything.includes(part), `'${part}' of the encoded password leaked`);
  });

  it("the probe's read-only attack is applied by kubectl and stopped by the operator: InvalidSpec naming field and token, nothing run", async () => {
    const attack = manifest('attack', 'legacy-db', 'target-db');
    attack.spec.checks = [
      {
        name: 'switch-off',
        type: 'count',
        legacy: { table: 'orders' },
        target: {
          query:
            "SELECT tenant_id FROM orders WHERE set_config('default_transaction_read_only','off',false)='off'",
        },
      },
      {
        name: 'advance',
        type: 'count',
        legacy: { table: 'orders' },
        target: { query: "SELECT tenant_id FROM orders WHERE nextval('order_seq') > 0" },
      },
    ];
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(attack));
    const deadline = Date.now() + 60_000;
    let st: ReconciliationStatus;
    for (;;) {
      st = await getStatus('attack');
      if ((st.conditions as Condition[] | undefined)?.some((c) => c.type === 'Stalled')) break;
      if (Date.now() > deadline) throw new Error(`not stalled: ${JSON.stringify(st)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    const stalled = (st.conditions as Condition[]).find((c) => c.type === 'Stalled');
    assert.equal(stalled?.reason, 'InvalidSpec');
    assert.match(stalled?.message ?? '', /spec\.checks\[0\]\.target\.query: refused 'set_config'/);
    assert.equal(st.phase, 'Error');
    assert.equal(st.lastRun, undefined, 'no run started');
    const pc = new pg.Client({ connectionString: target.url });
    await pc.connect();
    try {
      const seq = await pc.query<{ is_called: boolean }>('SELECT is_called FROM order_seq');
      assert.equal(seq.rows[0]?.is_called, false, 'the sequence never moved');
    } finally {
      await pc.end();
    }
  });
});
