/**
 * The internal plan of a reconciliation run, read defensively from a `Reconciliation` spec.
 *
 * `planFromSpec(spec)` accepts the agreed manifest shape (see docs in the README of
 * samples/nokta) and returns a validated `ReconciliationPlan`, or throws `PlanError` listing every
 * problem found. Identifiers are validated here so dialects can quote them without re-checking.
 */

import { DURATION_FORMAT, isDuration, parseDuration as parseWindowDuration } from '../api/duration.js';
import { unsafeQueriesOfSpec } from '../api/sql-guard.js';

export type Engine = 'mysql' | 'postgres';
export type CheckType = 'count' | 'sum' | 'rowHash' | 'sample' | 'customSql';
export type ColumnType = 'decimal' | 'integer' | 'text' | 'timestamp' | 'boolean';
export type Transform = 'lower' | 'trim';

export interface Thresholds {
  remediatePercent: number;
  failPercent: number;
}

export interface DatabaseRef {
  engine: Engine;
  secretName?: string;
  secretKey: string;
  url?: string;
}

export interface SideSource {
  /** Exactly one of table / query. */
  table?: string;
  query?: string;
  tenantColumn: string;
  windowColumn?: string;
}

export interface ColumnMapping {
  /** Name used in results (and by default on both sides). */
  name: string;
  legacy: string;
  target: string;
  type: ColumnType;
  /** decimal: digits after the point (default 2). */
  scale: number;
  transforms: Transform[];
  /** timestamp: zone of a naive legacy DATETIME ('+03:00', 'UTC', or a named zone). */
  legacyTimeZone?: string;
  /** timestamp: fractional digits kept (0, 3 or 6; default 0). */
  precision: 0 | 3 | 6;
}

export interface CheckPlan {
  name: string;
  type: CheckType;
  legacy: SideSource;
  target: SideSource;
  key: string[];
  columns: ColumnMapping[];
  sampleSize: number;
  seed?: string;
  customSql?: { legacy: string; target: string };
  thresholds: Thresholds;
}

export interface WindowPlan {
  column: string;
  /** Zone of naive legacy timestamps in the window column (e.g. '+03:00'); default UTC. */
  legacyTimeZone?: string;
  /** Length of the window in milliseconds. */
  lastMs: number;
  last: string;
}

export interface ReconciliationPlan {
  legacy: DatabaseRef;
  target: DatabaseRef;
  tenantColumn: string;
  tenants?: string[];
  window?: WindowPlan;
  thresholds: Thresholds;
  statementTimeoutSeconds: number;
  parallelism: { mode: 'Inline' | 'IndexedJob'; shards: number; shardBy: 'Tenant' | 'KeyRange' };
  checks: CheckPlan[];
}

export class PlanError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid Reconciliation spec: ${problems.join('; ')}`);
    this.name = 'PlanError';
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** `name` or `schema.name`, each part a plain SQL identifier. */
export function isIdentifier(value: string, allowQualified = false): boolean {
  const parts = value.split('.');
  if (parts.length > (allowQualified ? 2 : 1)) return false;
  return parts.every((p) => IDENT.test(p));
}

/** A window length ('90d', '2w') → milliseconds, by the project's one parser (src/api/duration.ts); 0 is refused. */
export function parseDuration(text: string): number {
  if (!isDuration(text))
    throw new PlanError([
      `duration '${text}' must look like 90d, 12h, 30m or 1h30m: write ${DURATION_FORMAT}`,
    ]);
  const ms = parseWindowDuration(text);
  if (ms <= 0) throw new PlanError([`duration '${text}' must be longer than 0: write a window like 90d`]);
  return ms;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Reader {
  readonly problems: string[] = [];

  str(o: Obj, key: string, path: string, required: boolean): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) {
      if (required) this.problems.push(`${path}.${key} is required`);
      return undefined;
    }
    if (typeof v !== 'string' || v.length === 0) {
      this.problems.push(`${path}.${key} must be a non-empty string`);
      return undefined;
    }
    return v;
  }

  num(o: Obj, key: string, path: string): number | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      this.problems.push(`${path}.${key} must be a non-negative number`);
      return undefined;
    }
    return v;
  }

  ident(o: Obj, key: string, path: string, required: boolean, qualified = false): string | undefined {
    const v = this.str(o, key, path, required);
    if (v !== undefined && !isIdentifier(v, qualified)) {
      this.problems.push(`${path}.${key} '${v}' is not a valid SQL identifier`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(
    o: Obj,
    key: string,
    path: string,
    allowed: readonly T[],
    fallback?: T,
  ): T | undefined {
    const v = o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.problems.push(`${path}.${key} must be one of ${allowed.join(', ')}`);
      return undefined;
    }
    return v as T;
  }
}

function readDatabase(r: Reader, v: unknown, path: string): DatabaseRef {
  const o = isObj(v) ? v : {};
  if (!isObj(v)) r.problems.push(`${path} is required`);
  const engine = r.oneOf(o, 'engine', path, ['mysql', 'postgres'] as const) ?? 'mysql';
  const ref: DatabaseRef = { engine, secretKey: 'url' };
  if (isObj(o.secretRef)) {
    const name = r.str(o.secretRef, 'name', `${path}.secretRef`, true);
    if (name) ref.secretName = name;
    ref.secretKey = r.str(o.secretRef, 'key', `${path}.secretRef`, false) ?? 'url';
  }
  const url = r.str(o, 'url', path, false);
  if (url) ref.url = url;
  return ref;
}

function readThresholds(r: Reader, v: unknown, path: string, fallback: Thresholds): Thresholds {
  if (v === undefined) return fallback;
  if (!isObj(v)) {
    r.problems.push(`${path} must be an object`);
    return fallback;
  }
  const t = {
    remediatePercent: r.num(v, 'remediatePercent', path) ?? fallback.remediatePercent,
    failPercent: r.num(v, 'failPercent', path) ?? fallback.failPercent,
  };
  if (t.remediatePercent > t.failPercent)
    r.problems.push(`${path}.remediatePercent must not exceed failPercent`);
  return t;
}

function readSide(
  r: Reader,
  v: unknown,
  path: string,
  tenantColumn: string,
  needsSource: boolean,
): SideSource {
  const o = isObj(v) ? v : {};
  if (needsSource && !isObj(v)) r.problems.push(`${path} is required`);
  const table = r.ident(o, 'table', path, false, true);
  const query = r.str(o, 'query', path, false);
  if (needsSource && (table === undefined) === (query === undefined) && isObj(v)) {
    r.problems.push(`${path} needs exactly one of table or query`);
  }
  const side: SideSource = { tenantColumn: r.ident(o, 'tenantColumn', path, false) ?? tenantColumn };
  if (table) side.table = table;
  if (query) side.query = query;
  const wc = r.ident(o, 'windowColumn', path, false);
  if (wc) side.windowColumn = wc;
  return side;
}

function readColumns(r: Reader, v: unknown, path: string): ColumnMapping[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    r.problems.push(`${path} must be a list`);
    return [];
  }
  return v.map((c, i) => {
    const p = `${path}[${i}]`;
    const o = isObj(c) ? c : {};
    const name = r.ident(o, 'name', p, true) ?? `column${i}`;
    const type =
      r.oneOf(o, 'type', p, ['decimal', 'integer', 'text', 'timestamp', 'boolean'] as const) ?? 'text';
    const transforms: Transform[] = [];
    if (o.transforms !== undefined) {
      if (!Array.isArray(o.transforms)) r.problems.push(`${p}.transforms must be a list`);
      else
        for (const t of o.transforms as unknown[]) {
          if (t === 'lower' || t === 'trim') transforms.push(t);
          else r.problems.push(`${p}.transforms: '${String(t)}' is not one of lower, trim`);
        }
    }
    const precision = o.precision ?? 0;
    if (precision !== 0 && precision !== 3 && precision !== 6)
      r.problems.push(`${p}.precision must be 0, 3 or 6`);
    const scale = r.num(o, 'scale', p) ?? 2;
    if (!Number.isInteger(scale) || scale > 30) r.problems.push(`${p}.scale must be an integer 0..30`);
    const col: ColumnMapping = {
      name,
      legacy: r.ident(o, 'legacy', p, false) ?? name,
      target: r.ident(o, 'target', p, false) ?? name,
      type,
      scale,
      transforms,
      precision: precision === 3 || precision === 6 ? precision : 0,
    };
    const tz = r.str(o, 'legacyTimeZone', p, false);
    if (tz !== undefined) {
      if (!/^([+-]\d{2}:\d{2}|UTC|[A-Za-z_]+(\/[A-Za-z0-9_+-]+){0,2})$/.test(tz))
        r.problems.push(`${p}.legacyTimeZone '${tz}' is not a time zone`);
      else col.legacyTimeZone = tz;
    }
    return col;
  });
}

const CHECK_TYPES = ['count', 'sum', 'rowHash', 'sample', 'customSql'] as const;

function readCheck(
  r: Reader,
  v: unknown,
  path: string,
  tenantColumn: string,
  thresholds: Thresholds,
): CheckPlan {
  const o = isObj(v) ? v : {};
  if (!isObj(v)) r.problems.push(`${path} must be an object`);
  const name = r.str(o, 'name', path, true) ?? path;
  const type = r.oneOf(o, 'type', path, CHECK_TYPES) ?? 'count';
  const needsSource = type !== 'customSql';
  const check: CheckPlan = {
    name,
    type,
    legacy: readSide(r, o.legacy, `${path}.legacy`, tenantColumn, needsSource),
    target: readSide(r, o.target, `${path}.target`, tenantColumn, needsSource),
    key: [],
    columns: readColumns(r, o.columns, `${path}.columns`),
    sampleSize: 100,
    thresholds: readThresholds(r, o.thresholds, `${path}.thresholds`, thresholds),
  };
  if (o.key !== undefined) {
    if (!Array.isArray(o.key) || o.key.length === 0) r.problems.push(`${path}.key must be a non-empty list`);
    else
      for (const k of o.key) {
        if (typeof k === 'string' && isIdentifier(k)) check.key.push(k);
        else r.problems.push(`${path}.key: '${String(k)}' is not a valid SQL identifier`);
      }
  }
  const size = r.num(o, 'sampleSize', path);
  if (size !== undefined) {
    if (!Number.isInteger(size) || size < 1 || size > 100_000)
      r.problems.push(`${path}.sampleSize must be an integer 1..100000`);
    else check.sampleSize = size;
  }
  const seed = o.seed;
  if (seed !== undefined) {
    if (typeof seed === 'string' || typeof seed === 'number') check.seed = String(seed);
    else r.problems.push(`${path}.seed must be a string`);
  }
  if ((type === 'rowHash' || type === 'sample') && check.key.length === 0)
    r.problems.push(`${path}.key is required for ${type} checks`);
  if ((type === 'rowHash' || type === 'sample') && check.columns.length === 0)
    r.problems.push(`${path}.columns is required for ${type} checks`);
  if (type === 'sum') {
    if (check.columns.length === 0)
      r.problems.push(`${path}.columns is required for sum checks (the money columns)`);
    for (const c of check.columns)
      if (c.type !== 'decimal' && c.type !== 'integer')
        r.problems.push(`${path}.columns: sum column '${c.name}' must be decimal or integer`);
  }
  const names = new Set<string>();
  for (const c of check.columns) {
    if (names.has(c.name)) r.problems.push(`${path}.columns: '${c.name}' appears twice`);
    names.add(c.name);
  }
  if (type === 'customSql') {
    const cs = isObj(o.customSql) ? o.customSql : undefined;
    if (!cs) r.problems.push(`${path}.customSql with legacy and target queries is required`);
    else {
      const legacy = r.str(cs, 'legacy', `${path}.customSql`, true);
      const target = r.str(cs, 'target', `${path}.customSql`, true);
      if (legacy && target) check.customSql = { legacy, target };
    }
  }
  return check;
}

/** Reads a `Reconciliation.spec` (already parsed from YAML/JSON) into a plan; throws PlanError. */
export function planFromSpec(spec: unknown): ReconciliationPlan {
  const r = new Reader();
  const o = isObj(spec) ? spec : {};
  if (!isObj(spec)) r.problems.push('spec must be an object');
  const tenantColumn = r.ident(o, 'tenantColumn', 'spec', false) ?? 'tenant_id';
  const thresholds = readThresholds(r, o.thresholds, 'spec.thresholds', {
    remediatePercent: 0.5,
    failPercent: 1.0,
  });
  const plan: ReconciliationPlan = {
    legacy: readDatabase(r, o.legacy, 'spec.legacy'),
    target: readDatabase(r, o.target, 'spec.target'),
    tenantColumn,
    thresholds,
    statementTimeoutSeconds: 300,
    parallelism: { mode: 'Inline', shards: 1, shardBy: 'Tenant' },
    checks: [],
  };
  if (o.tenants !== undefined) {
    if (!Array.isArray(o.tenants) || o.tenants.some((t) => typeof t !== 'string' && typeof t !== 'number'))
      r.problems.push('spec.tenants must be a list of strings');
    else plan.tenants = o.tenants.map(String);
  }
  if (o.window !== undefined) {
    if (!isObj(o.window)) r.problems.push('spec.window must be an object');
    else {
      const column = r.ident(o.window, 'column', 'spec.window', true);
      const last = r.str(o.window, 'last', 'spec.window', true);
      if (column && last) {
        try {
          plan.window = { column, last, lastMs: parseDuration(last) };
          const tz = r.str(o.window, 'legacyTimeZone', 'spec.window', false);
          if (tz !== undefined) plan.window.legacyTimeZone = tz;
        } catch (e) {
          r.problems.push(...(e instanceof PlanError ? e.problems : [String(e)]));
        }
      }
    }
  }
  const timeout = r.num(o, 'statementTimeoutSeconds', 'spec');
  if (timeout !== undefined) {
    if (!Number.isInteger(timeout) || timeout < 1)
      r.problems.push('spec.statementTimeoutSeconds must be a positive integer');
    else plan.statementTimeoutSeconds = timeout;
  }
  if (o.parallelism !== undefined && isObj(o.parallelism)) {
    const p = o.parallelism;
    plan.parallelism = {
      mode: r.oneOf(p, 'mode', 'spec.parallelism', ['Inline', 'IndexedJob'] as const, 'Inline') ?? 'Inline',
      shards: r.num(p, 'shards', 'spec.parallelism') ?? 1,
      shardBy:
        r.oneOf(p, 'shardBy', 'spec.parallelism', ['Tenant', 'KeyRange'] as const, 'Tenant') ?? 'Tenant',
    };
    if (!Number.isInteger(plan.parallelism.shards) || plan.parallelism.shards < 1)
      r.problems.push('spec.parallelism.shards must be a positive integer');
  }
  if (!Array.isArray(o.checks) || o.checks.length === 0)
    r.problems.push('spec.checks must be a non-empty list');
  else {
    plan.checks = o.checks.map((c, i) => readCheck(r, c, `spec.checks[${i}]`, tenantColumn, thresholds));
    const names = new Set<string>();
    for (const c of plan.checks) {
      if (names.has(c.name)) r.problems.push(`spec.checks: name '${c.name}' appears twice`);
      names.add(c.name);
    }
  }
  // the queries of the spec, by the SQL guard (one read-only SELECT, nothing acting outside it)
  for (const p of unsafeQueriesOfSpec(spec)) r.problems.push(`${p.path}: ${p.message}`);
  if (r.problems.length > 0) throw new PlanError(r.problems);
  return plan;
}
