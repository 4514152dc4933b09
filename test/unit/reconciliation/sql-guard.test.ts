/**
 * The SQL guard of Reconciliation queries: valid queries the old keyword regex refused are
 * accepted; what acts outside the read-only transaction is refused wherever it hides, and a word
 * inside a literal or comment never counts.
 */
import assert from 'node:assert/strict';
import {
  assertReadOnlyQuery,
  tokenize,
  unsafeQueriesOfSpec,
  unsafeQueryReason,
  UnsafeSqlError,
  type SqlEngine,
} from '../../../src/api/sql-guard.js';
import { planFromSpec, PlanError } from '../../../src/reconciliation/plan.js';
import { validateManifest } from '../../../src/api/validate.js';

const BOTH: SqlEngine[] = ['mysql', 'postgres'];

function refused(sql: string, engine: SqlEngine, token: string | RegExp): void {
  assert.throws(
    () => assertReadOnlyQuery(sql, engine),
    (e: unknown) => {
      assert.ok(e instanceof UnsafeSqlError, `${engine}: ${sql}: ${String(e)}`);
      if (typeof token === 'string')
        assert.equal(e.token.toUpperCase(), token.toUpperCase(), `${engine}: ${sql}`);
      else assert.match(e.token, token, `${engine}: ${sql}`);
      return true;
    },
    `${engine} must refuse: ${sql}`,
  );
}

describe('SQL guard of reconciliation queries', () => {
  it('accepts the valid queries the keyword regex refused', () => {
    const valid = [
      '(SELECT tenant_id, id FROM orders)',
      "SELECT tenant_id, REPLACE(status, 'old', 'new') AS status FROM orders",
      "SELECT tenant_id, id FROM orders WHERE order_no <> 'a;b'",
      "SELECT tenant_id, id FROM orders WHERE status <> 'set'",
      "WITH o AS (SELECT * FROM orders WHERE note <> 'delete me; drop table x') SELECT tenant_id, COUNT(*) FROM o GROUP BY tenant_id",
      "SELECT tenant_id, 'INTO OUTFILE' AS x FROM t -- set_config(, a comment\n",
      "SELECT tenant_id /* pg_read_file('x') ; */ FROM t",
      '  ((select tenant_id from t union all select tenant_id from u))',
      'SELECT t.tenant_id, t.updated_at, t.inserted_by, t.lock_version, t.copy_count FROM t',
    ];
    for (const engine of BOTH)
      for (const sql of valid) assert.equal(unsafeQueryReason(sql, engine), undefined, `${engine}: ${sql}`);
    // engine-specific literals
    assert.equal(
      unsafeQueryReason("SELECT tenant_id FROM t WHERE a = $x$it's; set_config($x$", 'postgres'),
      undefined,
    );
    assert.equal(
      unsafeQueryReason("SELECT tenant_id FROM t WHERE a = E'it\\'s; INTO'", 'postgres'),
      undefined,
    );
    assert.equal(unsafeQueryReason('SELECT "into", "set_config" FROM t', 'postgres'), undefined);
    assert.equal(unsafeQueryReason("SELECT `into` FROM t WHERE a = 'it\\'s; GET_LOCK('", 'mysql'), undefined);
    assert.equal(
      unsafeQueryReason('SELECT a FROM t WHERE b = "x; INTO OUTFILE" # copy (x)\n', 'mysql'),
      undefined,
    );
    assert.equal(unsafeQueryReason('SELECT a /*+ MAX_EXECUTION_TIME(1000) */ FROM t', 'mysql'), undefined);
  });

  it('refuses what acts outside the transaction, naming the token', () => {
    const cases: [string, SqlEngine[], string | RegExp][] = [
      [
        "SELECT tenant_id, 1 FROM t WHERE set_config('default_transaction_read_only','off',false)='off'",
        BOTH,
        'set_config',
      ],
      ["SELECT * FROM t INTO OUTFILE '/tmp/x'", ['mysql'], 'INTO OUTFILE'],
      ["SELECT * FROM t INTO DUMPFILE '/tmp/x'", ['mysql'], 'INTO DUMPFILE'],
      ['SELECT 1 INTO @v', ['mysql'], 'INTO'],
      ['SELECT * INTO TEMP x FROM t', ['postgres'], 'INTO'],
      ["SELECT LOAD_FILE('/etc/passwd')", ['mysql'], 'LOAD_FILE'],
      ["SELECT pg_read_file('/etc/passwd')", ['postgres'], 'pg_read_file'],
      ["SELECT pg_catalog.pg_read_binary_file ('/etc/passwd')", ['postgres'], 'pg_read_binary_file'],
      ["SELECT * FROM pg_ls_dir('.')", ['postgres'], 'pg_ls_dir'],
      ["SELECT lo_import('/etc/passwd')", ['postgres'], 'lo_import'],
      ["SELECT lo_export(1, '/tmp/x')", ['postgres'], 'lo_export'],
      ["SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)", ['postgres'], 'dblink'],
      ["SELECT dblink_exec('host=x', 'x')", ['postgres'], 'dblink_exec'],
      ['SELECT pg_advisory_lock(1)', ['postgres'], 'pg_advisory_lock'],
      ['SELECT pg_try_advisory_xact_lock(1)', ['postgres'], 'pg_try_advisory_xact_lock'],
      ["SELECT GET_LOCK('x', 10)", ['mysql'], 'GET_LOCK'],
      ["SELECT RELEASE_LOCK('x')", ['mysql'], 'RELEASE_LOCK'],
      ["SELECT nextval('s')", ['postgres'], 'nextval'],
      ["SELECT \"set_config\"('a','b',false)", ['postgres'], 'set_config'],
      ["SELECT `LOAD_FILE`('/etc/passwd')", ['mysql'], 'LOAD_FILE'],
      ["SELECT * FROM query_to_xml('select 1', true, true, '')", ['postgres'], 'query_to_xml'],
      ['SELECT loread(lo_open(1, 262144), 100)', ['postgres'], 'loread'],
      [
        "SELECT pg_create_logical_replication_slot('s', 'test_decoding')",
        ['postgres'],
        'pg_create_logical_replication_slot',
      ],
      ["SELECT sys_exec('id')", ['mysql'], 'sys_exec'],
      ['SELECT * FROM t FOR UPDATE', BOTH, 'UPDATE'],
      ['SELECT * FROM t FOR SHARE', BOTH, 'SHARE'],
      ['SELECT * FROM t LOCK IN SHARE MODE', ['mysql'], 'SHARE'],
      ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', ['postgres'], 'DELETE'],
      ['SELECT 1; SELECT 2', BOTH, ';'],
      ['SELECT 1;', BOTH, ';'],
      ["SELECT a FROM t WHERE b = 'x'; DROP TABLE t", BOTH, ';'],
      ['DELETE FROM t', BOTH, 'DELETE'],
      ["COPY t TO '/tmp/x'", ['postgres'], 'COPY'],
      ['SET default_transaction_read_only = off', BOTH, 'SET'],
      ['REPLACE INTO t VALUES (1)', ['mysql'], 'REPLACE'],
      ['VALUES (1)', BOTH, 'VALUES'],
      ['', BOTH, '(empty)'],
      // hidden from a naive reader: executable comments, unterminated literals, escapes
      ["SELECT 1 /*!50000 INTO OUTFILE '/tmp/x' */", ['mysql'], '/*!'],
      ["SELECT 1 /*M! , LOAD_FILE('/etc/passwd') */", ['mysql'], '/*M!'],
      // a backslash does not escape in a PostgreSQL '...' (the session keeps standard_conforming_strings on)
      ["SELECT 'a\\' , pg_read_file('/etc/passwd') , 'b'", ['postgres'], 'pg_read_file'],
      ["SELECT 'unterminated", BOTH, /^'unterminated/],
      ['SELECT $a$ never closed', ['postgres'], '$a$'],
      ['SELECT 1 /* open', BOTH, '/*'],
      ['SELECT U&"\\0070g_read_file"(\'/etc/passwd\')', ['postgres'], 'U&"'],
      // PostgreSQL nests comments: the first */ does not end this one, the second does
      ["SELECT 1 /* /* */ still a comment */ , pg_read_file('/x')", ['postgres'], 'pg_read_file'],
      // MySQL does not nest them: after the first */ the text is SQL again
      ["SELECT 1 /* /* */ , LOAD_FILE('/x') /* */", ['mysql'], 'LOAD_FILE'],
      // MySQL: --x is minus minus, not a comment; what follows is read
      ["SELECT 1 --1, LOAD_FILE('/x')", ['mysql'], 'LOAD_FILE'],
    ];
    for (const [sql, engines, token] of cases) for (const e of engines) refused(sql, e, token);
  });

  it('reads each engine’s literals as that engine does', () => {
    // in PostgreSQL a backslash does not escape in '...'; in MySQL it does
    assert.deepEqual(
      tokenize("'a\\' x", 'postgres').map((t) => t.kind),
      ['string', 'word'],
    );
    assert.throws(() => tokenize("'a\\' x", 'mysql'), UnsafeSqlError);
    // "..." is a name in PostgreSQL and a string in MySQL
    assert.equal(tokenize('"a""b"', 'postgres')[0]?.kind, 'quotedName');
    assert.equal(tokenize('"a""b"', 'postgres')[0]?.text, 'a"b');
    assert.equal(tokenize('"a""b"', 'mysql')[0]?.kind, 'string');
    // # is a comment in MySQL and an operator in PostgreSQL; $1 is a parameter
    assert.equal(tokenize('a # b', 'mysql').length, 1);
    assert.equal(tokenize('a # b', 'postgres').length, 3);
    assert.deepEqual(
      tokenize('x = $1 AND y$z = $$q$$', 'postgres').map((t) => t.text),
      ['x', '=', '$1', 'AND', 'y$z', '=', '$$q$$'],
    );
  });

  it('names the field of a spec and the refused token; the plan and cutover validate refuse it', () => {
    const spec = {
      legacy: { engine: 'mysql', secretRef: { name: 'l' } },
      target: { engine: 'postgres', secretRef: { name: 't' } },
      checks: [
        {
          name: 'ok',
          type: 'count',
          legacy: { query: "SELECT tenant_id FROM t WHERE order_no <> 'a;b'" },
          target: { query: "(SELECT tenant_id FROM t WHERE status <> 'set')" },
        },
        {
          name: 'attack',
          type: 'count',
          legacy: { table: 'orders' },
          target: {
            query:
              "SELECT tenant_id FROM orders WHERE set_config('default_transaction_read_only','off',false)='off'",
          },
        },
        {
          name: 'custom',
          type: 'customSql',
          customSql: {
            legacy: "SELECT tenant_id, COUNT(*) FROM t GROUP BY tenant_id INTO OUTFILE '/tmp/x'",
            target: 'SELECT tenant_id, COUNT(*) FROM t GROUP BY tenant_id',
          },
        },
      ],
    };
    const problems = unsafeQueriesOfSpec(spec);
    assert.deepEqual(
      problems.map((p) => p.path),
      ['spec.checks[1].target.query', 'spec.checks[2].customSql.legacy'],
    );
    assert.match(problems[0]!.message, /refused 'set_config'.*PostgreSQL query/);
    assert.match(problems[1]!.message, /refused 'INTO OUTFILE'.*MySQL\/MariaDB query/);

    assert.throws(
      () => planFromSpec(spec),
      (e: unknown) =>
        e instanceof PlanError &&
        e.problems.some((p) => p.startsWith("spec.checks[1].target.query: refused 'set_config'")) &&
        e.problems.some((p) => p.startsWith("spec.checks[2].customSql.legacy: refused 'INTO OUTFILE'")),
    );

    const offline = validateManifest({
      apiVersion: 'cutover.nokta.io/v1alpha1',
      kind: 'Reconciliation',
      metadata: { name: 'r' },
      spec,
    });
    assert.deepEqual(
      offline.map((p) => [p.path, p.operatorOnly]),
      [
        ['spec.checks[1].target.query', true],
        ['spec.checks[2].customSql.legacy', true],
      ],
    );
  });
});
