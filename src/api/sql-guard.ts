/**
 * The SQL guard: what a Reconciliation's own queries (a side's `query`, `customSql.legacy` and
 * `customSql.target`) may contain. A tokenizer that knows each engine's literals and comments —
 * '...' strings (with `''`, and backslash escapes on MySQL/MariaDB and in PostgreSQL E'...'),
 * "..." (an identifier on PostgreSQL, a string on MySQL/MariaDB), `...` identifiers, PostgreSQL
 * $tag$...$tag$ strings, -- and /* *\/ comments (nested on PostgreSQL), # comments on MySQL —
 * reads the query, so a word inside a literal or comment never counts and a word outside one
 * always does. The query must then be one SELECT (or WITH … SELECT, possibly in parentheses),
 * with none of what acts outside its read-only transaction: files (`INTO OUTFILE`/`DUMPFILE`,
 * `LOAD_FILE`, `pg_read_file`, `pg_ls_dir`, large objects `lo_*`), `COPY`, `dblink*`,
 * `set_config`, advisory and user locks, row locks (`FOR UPDATE`/`FOR SHARE`), sequences, data
 * changes in a WITH, functions that run SQL text of their own (`query_to_xml`), and MySQL
 * executable comments (`/*! … *\/`).
 *
 * The CRD's CEL rules check only the shape (the query starts with SELECT, WITH or a parenthesis);
 * this guard is applied by `cutover validate` (as a problem only the operator catches), by the
 * engine's plan (so the controller stalls the Reconciliation with InvalidSpec) and by anything
 * else that runs such a query. The sessions are set up so that the server reads literals as this
 * tokenizer does (PostgreSQL `standard_conforming_strings=on`; MySQL/MariaDB without
 * `NO_BACKSLASH_ESCAPES` and `ANSI_QUOTES`).
 */

export type SqlEngine = 'mysql' | 'postgres';

export type TokenKind = 'word' | 'quotedName' | 'string' | 'number' | 'symbol';

export interface SqlToken {
  kind: TokenKind;
  /** The token as written (for a quoted name: its name without the quotes). */
  text: string;
  /** Offset in the query text. */
  at: number;
}

/** A query the guard refuses: the token (or construct) and why, with the fix. */
export class UnsafeSqlError extends Error {
  constructor(
    readonly token: string,
    readonly reason: string,
  ) {
    super(`refused '${token}': ${reason}`);
    this.name = 'UnsafeSqlError';
  }
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DIGIT = /[0-9]/;
const SPACE = /\s/;

/** Splits a query into tokens, skipping whitespace and comments; throws UnsafeSqlError on what it cannot read safely. */
export function tokenize(sql: string, engine: SqlEngine): SqlToken[] {
  const pg = engine === 'postgres';
  const out: SqlToken[] = [];
  const n = sql.length;
  let i = 0;

  /** The end (exclusive) of a quoted run starting at `start` (the opening quote). */
  const quoted = (start: number, quote: string, backslash: boolean, what: string): number => {
    let j = start + 1;
    for (;;) {
      if (j >= n) throw new UnsafeSqlError(sql.slice(start, start + 20), `unterminated ${what}: close it`);
      const c = sql[j];
      if (backslash && c === '\\') {
        j += 2;
        continue;
      }
      if (c === quote) {
        if (sql[j + 1] === quote) {
          j += 2;
          continue;
        }
        return j + 1;
      }
      j++;
    }
  };

  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (SPACE.test(c)) {
      i++;
      continue;
    }
    // -- comment: on MySQL/MariaDB only when followed by a blank or the end (else it is minus
    // minus); where unsure, read on: text the server ignores may be checked, never the reverse
    if (c === '-' && next === '-' && (pg || i + 2 >= n || /[ \t\n\r\f\v]/.test(sql[i + 2]!))) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (c === '#' && !pg) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      if (!pg && (sql[i + 2] === '!' || (sql[i + 2] === 'M' && sql[i + 3] === '!')))
        throw new UnsafeSqlError(
          sql.slice(i, i + 3 + (sql[i + 2] === 'M' ? 1 : 0)),
          'MySQL/MariaDB run the text of an executable comment as SQL: remove the comment',
        );
      let depth = 1;
      let j = i + 2;
      while (depth > 0) {
        if (j >= n) throw new UnsafeSqlError('/*', 'unterminated comment: close it with */');
        if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else if (pg && sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else j++;
      }
      i = j;
      continue;
    }
    if (c === "'") {
      const end = quoted(i, "'", !pg, 'string');
      out.push({ kind: 'string', text: sql.slice(i, end), at: i });
      i = end;
      continue;
    }
    if (c === '"') {
      const end = quoted(i, '"', !pg, pg ? 'quoted name' : 'string');
      const body = sql.slice(i + 1, end - 1);
      out.push(
        pg
          ? { kind: 'quotedName', text: body.replace(/""/g, '"'), at: i }
          : { kind: 'string', text: sql.slice(i, end), at: i },
      );
      i = end;
      continue;
    }
    if (c === '`' && !pg) {
      const end = quoted(i, '`', false, 'quoted name');
      out.push({ kind: 'quotedName', text: sql.slice(i + 1, end - 1).replace(/``/g, '`'), at: i });
      i = end;
      continue;
    }
    if (c === '$' && pg) {
      if (next !== undefined && DIGIT.test(next)) {
        let j = i + 1;
        while (j < n && DIGIT.test(sql[j]!)) j++;
        out.push({ kind: 'symbol', text: sql.slice(i, j), at: i });
        i = j;
        continue;
      }
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 80));
      if (!tag) throw new UnsafeSqlError('$', 'a lone $ is not SQL: remove it');
      const close = sql.indexOf(tag[0], i + tag[0].length);
      if (close < 0)
        throw new UnsafeSqlError(tag[0], `unterminated dollar-quoted string: close it with ${tag[0]}`);
      const end = close + tag[0].length;
      out.push({ kind: 'string', text: sql.slice(i, end), at: i });
      i = end;
      continue;
    }
    if (WORD_START.test(c) || (c === '$' && !pg)) {
      let j = i + 1;
      while (j < n && WORD_PART.test(sql[j]!)) j++;
      const word = sql.slice(i, j);
      // PostgreSQL E'...' (backslash escapes) and U&'...' / U&"..." (Unicode escapes)
      if (pg && sql[j] === "'" && /^[eE]$/.test(word)) {
        const end = quoted(j, "'", true, 'string');
        out.push({ kind: 'string', text: sql.slice(i, end), at: i });
        i = end;
        continue;
      }
      if (pg && /^[uU]$/.test(word) && sql[j] === '&' && (sql[j + 1] === "'" || sql[j + 1] === '"'))
        throw new UnsafeSqlError(
          sql.slice(i, j + 2),
          'Unicode-escaped literals and names can hide a name: write the characters themselves',
        );
      out.push({ kind: 'word', text: word, at: i });
      i = j;
      continue;
    }
    if (DIGIT.test(c) || (c === '.' && next !== undefined && DIGIT.test(next))) {
      const m = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(sql.slice(i, i + 200));
      const len = m ? m[0].length : 1;
      out.push({ kind: 'number', text: sql.slice(i, i + len), at: i });
      i += len;
      continue;
    }
    out.push({ kind: 'symbol', text: c, at: i });
    i++;
  }
  return out;
}

/**
 * Words refused wherever they appear outside literals and comments: data changes inside a WITH,
 * row locks (FOR UPDATE), COPY, SELECT … INTO. Statements such as DROP or CALL need no entry:
 * they cannot follow the leading SELECT/WITH without a ; which is refused.
 */
const REFUSED_WORDS: Record<string, string> = {
  INSERT: 'a query only reads: remove the INSERT',
  UPDATE: 'a query only reads (no data change, no FOR UPDATE row lock): remove it',
  DELETE: 'a query only reads: remove the DELETE',
  MERGE: 'a query only reads: remove the MERGE',
  COPY: 'COPY reads and writes files and programs on the server: select the rows instead',
  INTO: 'SELECT … INTO writes a file, a table or variables: remove the INTO clause',
};

/** Functions (exact names) that act outside the read-only transaction or run SQL text of their own. */
const REFUSED_FUNCTIONS: Record<string, string> = {
  LOAD_FILE: 'reads a file on the database server',
  SET_CONFIG: 'changes a server setting, which can outlive the query',
  GET_LOCK: 'takes a user lock, which outlives the transaction',
  RELEASE_LOCK: 'releases a user lock',
  RELEASE_ALL_LOCKS: 'releases user locks',
  IS_FREE_LOCK: 'inspects user locks',
  IS_USED_LOCK: 'inspects user locks',
  NEXTVAL: 'advances a sequence',
  SETVAL: 'sets a sequence',
  LASTVAL: 'reads session sequence state',
  QUERY_TO_XML: 'runs SQL text of its own, unchecked',
  QUERY_TO_XMLSCHEMA: 'runs SQL text of its own, unchecked',
  QUERY_TO_XML_AND_XMLSCHEMA: 'runs SQL text of its own, unchecked',
  CURSOR_TO_XML: 'reads a cursor of the session',
  PG_NOTIFY: 'sends a notification outside the transaction',
  PG_TERMINATE_BACKEND: 'stops another session',
  PG_CANCEL_BACKEND: 'cancels another session',
  PG_RELOAD_CONF: 'reloads the server configuration',
  PG_ROTATE_LOGFILE: 'rotates the server log',
  PG_STAT_FILE: 'reads file metadata on the database server',
  LOREAD: 'reads a large object',
  LOWRITE: 'writes a large object',
  PG_LOGICAL_EMIT_MESSAGE: 'writes to the write-ahead log',
  PG_SWITCH_WAL: 'switches the write-ahead log file',
  PG_PROMOTE: 'promotes a standby server',
  SYS_EXEC: 'runs a program on the database server',
  SYS_EVAL: 'runs a program on the database server',
};

/** Function name prefixes (file access, large objects, dblink, advisory locks). */
const REFUSED_PREFIXES: [string, string][] = [
  ['PG_READ_', 'reads a file on the database server'],
  ['PG_LS_', 'lists a directory on the database server'],
  ['PG_FILE_', 'writes or reads a file on the database server'],
  ['LO_', 'large-object functions read and write server files and objects'],
  ['DBLINK', 'opens a connection to another database, outside this transaction'],
  ['PG_ADVISORY_', 'takes or releases an advisory lock, which outlives the transaction'],
  ['PG_TRY_ADVISORY_', 'takes an advisory lock, which outlives the transaction'],
  ['PG_CREATE_', 'creates a replication slot or restore point on the server'],
  ['PG_DROP_', 'drops a replication slot on the server'],
  ['PG_REPLICATION_ORIGIN_', 'changes replication state on the server'],
];

function refusedFunction(name: string): string | undefined {
  const upper = name.toUpperCase();
  const exact = REFUSED_FUNCTIONS[upper];
  if (exact) return exact;
  return REFUSED_PREFIXES.find(([p]) => upper.startsWith(p))?.[1];
}

const upperWord = (t: SqlToken | undefined): string => (t?.kind === 'word' ? t.text.toUpperCase() : '');

/**
 * Throws UnsafeSqlError unless `sql` is one read-only SELECT (or WITH … SELECT, in parentheses or
 * not) with nothing in it that acts outside its transaction.
 */
export function assertReadOnlyQuery(sql: string, engine: SqlEngine): void {
  const tokens = tokenize(sql, engine);
  let first = 0;
  while (tokens[first]?.kind === 'symbol' && tokens[first]?.text === '(') first++;
  const lead = upperWord(tokens[first]);
  if (lead !== 'SELECT' && lead !== 'WITH') {
    const t = tokens[first];
    throw new UnsafeSqlError(
      t ? t.text : '(empty)',
      'a query must be one read-only SELECT (or WITH … SELECT): start it with SELECT or WITH',
    );
  }
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind === 'symbol' && t.text === ';')
      throw new UnsafeSqlError(';', 'a query must be one statement: remove the ; (and what follows it)');
    if (t.kind !== 'word' && t.kind !== 'quotedName') continue;
    const upper = t.text.toUpperCase();
    if (t.kind === 'word') {
      const why = REFUSED_WORDS[upper];
      if (why) {
        const after = upperWord(tokens[k + 1]);
        const shown =
          upper === 'INTO' && (after === 'OUTFILE' || after === 'DUMPFILE') ? `INTO ${after}` : t.text;
        throw new UnsafeSqlError(shown, why);
      }
      // FOR SHARE, FOR KEY SHARE (PostgreSQL), LOCK IN SHARE MODE (MySQL): row locks
      if (
        upper === 'SHARE' &&
        (upperWord(tokens[k - 1]) === 'FOR' ||
          upperWord(tokens[k - 1]) === 'KEY' ||
          upperWord(tokens[k + 1]) === 'MODE')
      )
        throw new UnsafeSqlError(
          t.text,
          'a row lock blocks writers on the database: remove the locking clause',
        );
    }
    const next = tokens[k + 1];
    if (next?.kind === 'symbol' && next.text === '(') {
      const why = refusedFunction(t.text);
      if (why) throw new UnsafeSqlError(t.text, `${why}: it is not allowed in a reconciliation query`);
    }
  }
}

/** The problem with a query, or undefined when the guard accepts it. */
export function unsafeQueryReason(sql: string, engine: SqlEngine): string | undefined {
  try {
    assertReadOnlyQuery(sql, engine);
    return undefined;
  } catch (e) {
    if (e instanceof UnsafeSqlError) return e.message;
    throw e;
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Every query of a Reconciliation spec the guard refuses, as `{ path, message }` naming the field
 * (`spec.checks[2].legacy.query`, `spec.checks[0].customSql.target`) and the refused token.
 */
export function unsafeQueriesOfSpec(spec: unknown): { path: string; message: string }[] {
  if (!isObj(spec) || !Array.isArray(spec.checks)) return [];
  const engineOf = (side: 'legacy' | 'target'): SqlEngine => {
    const db = spec[side];
    return isObj(db) && db.engine === 'postgres' ? 'postgres' : 'mysql';
  };
  const out: { path: string; message: string }[] = [];
  const check = (value: unknown, engine: SqlEngine, path: string): void => {
    if (typeof value !== 'string') return;
    const why = unsafeQueryReason(value, engine);
    if (why)
      out.push({ path, message: `${why} (${engine === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB'} query)` });
  };
  spec.checks.forEach((c: unknown, i: number) => {
    if (!isObj(c)) return;
    for (const side of ['legacy', 'target'] as const) {
      const s = c[side];
      if (isObj(s)) check(s.query, engineOf(side), `spec.checks[${i}].${side}.query`);
      const custom = c.customSql;
      if (isObj(custom)) check(custom[side], engineOf(side), `spec.checks[${i}].customSql.${side}`);
    }
  });
  return out;
}
