/**
 * Simple query sides folded into a table's scan.
 *
 * A query side of the form `SELECT col [AS name], … FROM table [WHERE predicate]` reads the same
 * rows as the table itself, filtered by the predicate and with columns renamed. Read as a derived
 * table it costs a scan of its own, and on MariaDB the `GROUP BY` over a derived table can fall
 * into an index walk with a primary-key fetch per row. Folded, it is read as the table: every
 * statement names the table's own columns, the predicate is a WHERE condition of statements that
 * read this side alone (bounds, localization, row fetches) and a `CASE WHEN` around the side's
 * aggregates inside a shared pass, so count, sum and rowHash checks over the table and over such
 * queries share one scan.
 *
 * Only a strict shape folds: plain column names (no expressions, no `*`, no DISTINCT), one table
 * without an alias, and a predicate built of unqualified column names, literals, operators and
 * function calls, with no subquery, aggregate, window, clause keyword (GROUP/ORDER/LIMIT/UNION…),
 * comment, parameter marker, quoted identifier or backslash. Anything else is read as a derived
 * table, as before.
 */
import type { Engine } from './plan.js';

export interface FoldedQuery {
  /** The table, as written (bare identifier, optionally `schema.table`). */
  table: string;
  /** Output column name (as the query would name it; lower case on MySQL) → table column. */
  columns: Map<string, string>;
  /** The WHERE predicate as written, or undefined when the query has none. */
  filter?: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Words that may not appear as a name or anywhere in the predicate. */
const BARRED = new Set([
  'select',
  'from',
  'where',
  'join',
  'inner',
  'outer',
  'cross',
  'natural',
  'using',
  'group',
  'order',
  'having',
  'limit',
  'offset',
  'fetch',
  'union',
  'intersect',
  'except',
  'minus',
  'over',
  'window',
  'partition',
  'into',
  'for',
  'lock',
  'with',
  'returning',
  'distinct',
  'distinctrow',
  'all',
  'as',
  'straight_join',
  'high_priority',
  'procedure',
  // aggregates and functions whose value is not one row's own
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'group_concat',
  'string_agg',
  'array_agg',
  'json_agg',
  'jsonb_agg',
  'json_arrayagg',
  'json_objectagg',
  'bit_and',
  'bit_or',
  'bit_xor',
  'bool_and',
  'bool_or',
  'every',
  'std',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'variance',
  'var_pop',
  'var_samp',
  'rand',
  'random',
  'uuid',
  'uuid_short',
  'gen_random_uuid',
  'nextval',
  'setval',
  'currval',
  'lastval',
  'last_insert_id',
  'row_count',
  'found_rows',
  'sleep',
  'pg_sleep',
  'benchmark',
  'get_lock',
  'release_lock',
  'values',
]);

type Token = { kind: 'word'; text: string } | { kind: 'other'; text: string };

/** Splits predicate text into tokens; undefined when it holds anything a fold does not allow. */
function tokenize(text: string): Token[] | undefined {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === "'") {
      let j = i + 1;
      for (;;) {
        const q = text.indexOf("'", j);
        if (q < 0) return undefined;
        if (text[q + 1] === "'") j = q + 2;
        else {
          j = q + 1;
          break;
        }
      }
      out.push({ kind: 'other', text: text.slice(i, j) });
      i = j;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (word) {
      out.push({ kind: 'word', text: word[0] });
      i += word[0].length;
      continue;
    }
    const number = /^\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (number) {
      out.push({ kind: 'other', text: number[0] });
      i += number[0].length;
      continue;
    }
    // operators and punctuation a plain predicate needs; no quotes of identifiers, no comments,
    // no parameter markers, no statement separator, no user variables
    if (text.startsWith('--', i) || text.startsWith('/*', i)) return undefined;
    if (!/[=<>!+\-*/%(),:|&^~]/.test(ch)) return undefined;
    out.push({ kind: 'other', text: ch });
    i++;
  }
  return out;
}

/** The predicate when it is plain enough to fold, else undefined. */
function plainPredicate(text: string): string | undefined {
  if (text.includes('\\')) return undefined;
  const tokens = tokenize(text);
  if (!tokens || tokens.length === 0) return undefined;
  for (const t of tokens) if (t.kind === 'word' && BARRED.has(t.text.toLowerCase())) return undefined;
  return text.trim();
}

function splitTopLevelCommas(text: string): string[] {
  return text.split(',').map((s) => s.trim());
}

/**
 * The fold of a query side, or undefined when the query is not of the simple shape. `engine`
 * decides how output names compare: PostgreSQL folds bare names to lower case; MySQL/MariaDB
 * column names are compared without case (the map's keys are lower case there).
 */
export function foldQuery(query: string, engine: Engine): FoldedQuery | undefined {
  if (query.includes('\\') || query.includes(';') || query.includes('\u0000')) return undefined;
  const m =
    /^\s*select\s+([\s\S]+?)\s+from\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)(?:\s+where\s+([\s\S]+?))?\s*$/i.exec(
      query,
    );
  if (!m) return undefined;
  const [, list = '', table = '', where] = m;
  if (table.split('.').some((p) => BARRED.has(p.toLowerCase()))) return undefined;
  const columns = new Map<string, string>();
  for (const item of splitTopLevelCommas(list)) {
    const parts = item.split(/\s+/);
    let source: string | undefined;
    let name: string | undefined;
    if (parts.length === 1) source = name = parts[0];
    else if (parts.length === 3 && parts[1]?.toLowerCase() === 'as') [source, , name] = parts;
    if (!source || !name || !IDENT.test(source) || !IDENT.test(name)) return undefined;
    if (BARRED.has(source.toLowerCase()) || BARRED.has(name.toLowerCase())) return undefined;
    const key = name.toLowerCase();
    if (columns.has(key)) return undefined;
    columns.set(key, engine === 'postgres' ? source.toLowerCase() : source);
  }
  if (columns.size === 0) return undefined;
  const fold: FoldedQuery = {
    table: engine === 'postgres' ? table.toLowerCase() : table,
    columns,
  };
  if (where !== undefined) {
    const filter = plainPredicate(where);
    if (filter === undefined) return undefined;
    fold.filter = filter;
  }
  return fold;
}

/**
 * The table column behind an output name the check refers to: PostgreSQL output names are
 * case-sensitive (a bare alias is lower case), MySQL/MariaDB ones are not.
 */
export function foldedColumn(fold: FoldedQuery, name: string, engine: Engine): string | undefined {
  if (engine === 'postgres') return name === name.toLowerCase() ? fold.columns.get(name) : undefined;
  return fold.columns.get(name.toLowerCase());
}
