/**
 * Offline validation with the same rules as the API server: ajv on the structural schema (after
 * applying its defaults, as the API server does), then the TypeScript twin of every CEL rule, and
 * what cron-parser and the IANA time-zone database can tell beyond a pattern. Never throws.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import type { Schema } from './schema/common.js';
import { cronFields, cronProblem } from './cron.js';
import { didYouMean, editDistance } from './did-you-mean.js';
import { API_VERSION, CRD_GROUP, KINDS, kindInfo, type KindInfo } from './crds.js';
import { unsafeQueriesOfSpec } from './sql-guard.js';
import { canaryTimingProblems } from './canary-timing.js';
import type { CanaryPhaseSpec } from './types.js';

export interface Problem {
  /** Where, as the API server writes it: spec.checks[2].legacy.table ('' for the whole manifest). */
  path: string;
  /** What is wrong and how to fix it. */
  message: string;
  /**
   * True when the API server accepts this and only the operator refuses it (Stalled,
   * InvalidSpec): a cron schedule that never fires, a time zone missing from the IANA database.
   */
  operatorOnly?: true;
}

type Json = unknown;
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

/** The schema ajv compiles: rules dropped, unknown fields refused, hints kept for messages. */
export function ajvSchema(s: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'rules' || k === 'semantic' || v === undefined || k.startsWith('x-kubernetes-')) continue;
    if (k === 'hint') out['x-hint'] = v;
    else if (k === 'properties')
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, Schema>).map(([pk, pv]) => [pk, ajvSchema(pv)]),
      );
    else if (k === 'items' || k === 'additionalProperties') out[k] = ajvSchema(v as Schema);
    else out[k] = v;
  }
  if (
    s.type === 'object' &&
    s.properties &&
    s.additionalProperties === undefined &&
    !s['x-kubernetes-preserve-unknown-fields']
  ) {
    out.additionalProperties = false;
  }
  // The API server refuses duplicates in a set list and duplicate keys in a map list.
  if (s['x-kubernetes-list-type'] === 'set') out.uniqueItems = true;
  if (s['x-kubernetes-list-type'] === 'map' && s['x-kubernetes-list-map-keys'])
    out['x-list-map-keys'] = s['x-kubernetes-list-map-keys'];
  return out;
}

/** Indices of the items whose map keys repeat an earlier item's (x-kubernetes-list-type: map). */
function duplicateMapKeys(
  items: unknown[],
  keys: string[],
): { index: number; key: Record<string, unknown> }[] {
  const seen = new Set<string>();
  const out: { index: number; key: Record<string, unknown> }[] = [];
  items.forEach((item, index) => {
    if (!isObject(item)) return;
    const key = Object.fromEntries(keys.map((k) => [k, item[k]]));
    const id = JSON.stringify(keys.map((k) => item[k]));
    if (seen.has(id)) out.push({ index, key });
    seen.add(id);
  });
  return out;
}

/**
 * Drops nulls where the schema does not allow them, as the API server does before defaulting
 * (a `field: null` in YAML is the field left out, so its default applies).
 */
function pruneNulls(schema: Schema, data: Json): void {
  if (isObject(data) && schema.properties) {
    for (const [k, sub] of Object.entries(schema.properties)) {
      if (data[k] === null) delete data[k];
      else pruneNulls(sub, data[k]);
    }
  } else if (isObject(data) && schema.additionalProperties) {
    for (const v of Object.values(data)) pruneNulls(schema.additionalProperties, v);
  } else if (Array.isArray(data) && schema.items) {
    for (const v of data) pruneNulls(schema.items, v);
  }
}

let compiled: Map<string, ValidateFunction> | undefined;
let compiledStatus: Map<string, ValidateFunction> | undefined;
/**
 * The ajv every schema fragment is compiled with: defaults applied, all errors, the API server's
 * `date-time`, our `x-hint` and `x-list-map-keys` keywords. Compile `ajvSchema(fragment)` with it.
 */
export function createAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    useDefaults: true,
    verbose: true,
    strict: true,
    strictTypes: false,
  });
  addFormats(ajv);
  // the API server's date-time (kube-openapi strfmt.IsDateTime), not ajv-formats' (which takes a
  // space for T and leap seconds)
  ajv.addFormat('date-time', { type: 'string', validate: isKubeDateTime });
  ajv.addKeyword({ keyword: 'x-hint', schemaType: 'string' });
  ajv.addKeyword({
    keyword: 'x-list-map-keys',
    type: 'array',
    schemaType: 'array',
    errors: true,
    validate: function mapKeys(keys: string[], data: unknown[]): boolean {
      const dups = duplicateMapKeys(data, keys);
      (mapKeys as { errors?: Partial<ErrorObject>[] }).errors = dups.map((d) => ({
        keyword: 'x-list-map-keys',
        params: { i: d.index, key: d.key },
      }));
      return dups.length === 0;
    },
  });
  return ajv;
}

function validators(): Map<string, ValidateFunction> {
  if (compiled) return compiled;
  const ajv = createAjv();
  compiled = new Map();
  for (const info of Object.values(KINDS)) {
    compiled.set(
      info.kind,
      ajv.compile({
        type: 'object',
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          metadata: { type: 'object' },
          spec: ajvSchema(info.spec),
          status: { type: 'object' },
        },
        required: ['spec'],
        additionalProperties: false,
      }),
    );
  }
  compiledStatus = new Map();
  for (const info of Object.values(KINDS)) compiledStatus.set(info.kind, ajv.compile(ajvSchema(info.status)));
  return compiled;
}

const KUBE_TIME = /^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$/;

/** kube-openapi's strfmt.IsDateTime, the `date-time` format of CRD schemas, rule for rule. */
export function isKubeDateTime(str: string): boolean {
  if (str.length < 4) return false;
  const parts = str.toLowerCase().split('t');
  if (parts.length < 2 || !isKubeDate(parts[0]!)) return false;
  const m = KUBE_TIME.exec(parts[1]!);
  return !!m && m[1]! <= '23' && m[2]! <= '59' && m[3]! <= '59';
}

/** Go's time.Parse("2006-01-02", s): four-digit year, real month and day of that month. */
function isKubeDate(s: string): boolean {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = [
    31,
    y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28,
    31,
    30,
    31,
    30,
    31,
    31,
    30,
    31,
    30,
    31,
  ][mo - 1]!;
  return d <= days;
}

/** spec.checks[2].legacy from ['spec','checks','2','legacy'], looking at the data for list indices. */
export function formatPath(segments: string[], root: Json): string {
  let out = '';
  let node: Json = root;
  for (const seg of segments) {
    if (Array.isArray(node)) {
      out += `[${seg}]`;
      node = (node as Json[])[Number(seg)];
    } else {
      out += out === '' ? seg : `.${seg}`;
      node = isObject(node) ? node[seg] : undefined;
    }
  }
  return out;
}

function isObject(x: Json): x is Record<string, Json> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function show(v: Json): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Worded like the API server's server-side-apply errors, plus the fix. */
function typeMessage(data: Json, want: string): string {
  const got =
    data === null ? 'null' : Array.isArray(data) ? 'list' : typeof data === 'object' ? 'map' : typeof data;
  const expected: Record<string, string> = {
    integer: 'numeric (int or float)',
    number: 'numeric (int or float)',
    array: 'list',
    object: 'map',
    string: 'string',
    boolean: 'bool',
  };
  if (want === 'integer' && typeof data === 'number')
    return `Invalid value: ${show(data)}: must be of type integer: write a whole number`;
  const fix =
    want === 'integer' || want === 'number'
      ? 'write a number without quotes or units'
      : want === 'array'
        ? 'write a YAML list (items starting with -)'
        : want === 'object'
          ? 'write a mapping (key: value)'
          : `write a ${want}`;
  return `Invalid value: ${show(data)}: expected ${expected[want] ?? want}, got ${got}: must be of type ${want}: ${fix}`;
}

function ajvProblem(e: ErrorObject, root: Json): Problem {
  const segments = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path = formatPath(segments, root);
  const parent = (e.parentSchema ?? {}) as {
    'x-hint'?: string;
    description?: string;
    properties?: Record<string, { description?: string }>;
  };
  const hint = parent['x-hint'] ? `: ${parent['x-hint']}` : '';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const missing = String(p.missingProperty);
      const what = parent.properties?.[missing]?.description;
      return {
        path: join(path, missing),
        message: `Required value: add ${missing}${what ? ` (${what.replace(/\.$/, '')})` : ''}`,
      };
    }
    case 'additionalProperties': {
      const extra = String(p.additionalProperty);
      const known = Object.keys(parent.properties ?? {});
      return {
        path: join(path, extra),
        message: `field not declared in schema: remove ${extra} or fix its spelling (known fields: ${known.join(', ')})`,
      };
    }
    case 'type':
      return { path, message: typeMessage(e.data, String(p.type)) };
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ');
      return { path, message: `Unsupported value: ${show(e.data)}: supported values: ${allowed}` };
    }
    case 'pattern':
      return { path, message: `Invalid value: ${show(e.data)}: should match '${String(p.pattern)}'${hint}` };
    case 'format':
      return { path, message: `Invalid value: ${show(e.data)}: must be of type ${String(p.format)}${hint}` };
    case 'minimum':
      return {
        path,
        message: `Invalid value: ${show(e.data)}: should be greater than or equal to ${String(p.limit)}`,
      };
    case 'maximum':
      return {
        path,
        message: `Invalid value: ${show(e.data)}: should be less than or equal to ${String(p.limit)}`,
      };
    case 'minLength':
      return {
        path,
        message: `Invalid value: ${show(e.data)}: should be at least ${String(p.limit)} chars long`,
      };
    case 'maxLength':
      return { path, message: `Too long: may not be more than ${String(p.limit)} bytes: shorten it` };
    case 'minItems':
      return { path, message: `Invalid value: should have at least ${String(p.limit)} items` };
    case 'maxItems':
      return {
        path,
        message: `Too many: ${Array.isArray(e.data) ? e.data.length : '?'}: must have at most ${String(p.limit)} items`,
      };
    case 'uniqueItems': {
      // the later of the two identical items, as the API server reports it
      const i = Math.max(Number(p.i), Number(p.j));
      const item = Array.isArray(e.data) ? (e.data as Json[])[i] : undefined;
      return {
        path: `${path}[${i}]`,
        message: `Duplicate value: ${show(item)}: duplicate entries in a set list: remove the duplicate`,
      };
    }
    case 'x-list-map-keys': {
      const key = Object.entries(p.key as Record<string, Json>)
        .map(([k, v]) => `"${k}":${show(v)}`)
        .join(',');
      return {
        path: `${path}[${String(p.i)}]`,
        message: `Duplicate value: map[string]interface {}{${key}}: remove the duplicate`,
      };
    }
    case 'maxProperties':
      return { path, message: `Too many: must have at most ${String(p.limit)} items` };
    default:
      return { path, message: e.message ?? `invalid (${e.keyword})` };
  }
}

/** CEL twins, cron and time zones, on every node of `data` the schema has rules for. */
function applyRules(schema: Schema, data: Json, path: string, badPaths: string[], out: Problem[]): void {
  if (data === undefined) return;
  const clean = !badPaths.some((b) => b === path || b.startsWith(`${path}.`) || b.startsWith(`${path}[`));
  if (clean) {
    let rulesHold = true;
    for (const r of schema.rules ?? []) {
      // Rules run only on values that passed the schema, so a twin that throws is a bug of ours:
      // report it (the property test looks for it) instead of hiding it.
      let ok: boolean;
      try {
        ok = r.check(data);
      } catch (err) {
        out.push({
          path,
          message: `internal validator error in rule '${r.cel}': ${err instanceof Error ? err.message : String(err)}`,
        });
        continue;
      }
      if (!ok) {
        rulesHold = false;
        out.push({ path: r.fieldPath ? `${path}${r.fieldPath}` : path, message: r.message });
      }
    }
    if (rulesHold && typeof data === 'string') semanticStringChecks(schema, data, path, out);
  }
  if (isObject(data) && schema.properties) {
    for (const [k, sub] of Object.entries(schema.properties))
      applyRules(sub, data[k], join(path, k), badPaths, out);
  }
  if (Array.isArray(data) && schema.items) {
    data.forEach((item, i) => applyRules(schema.items!, item, `${path}[${i}]`, badPaths, out));
  }
}

let zones: Set<string> | undefined;
function knownTimeZone(tz: string): boolean {
  if (tz === 'UTC' || /^[+-][0-9]{2}:[0-9]{2}$/.test(tz)) return true;
  zones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (zones.has(tz)) return true;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** What the CRD cannot say: the API server accepts these; the operator reports them as Stalled/InvalidSpec. */
function semanticStringChecks(schema: Schema, value: string, path: string, out: Problem[]): void {
  if (schema.semantic === 'cron') {
    const why = cronProblem(value);
    if (why !== undefined) {
      const fields = cronFields(value);
      out.push({
        path,
        operatorOnly: true,
        message: `Invalid value: ${show(value)}: not a valid cron schedule${fields !== value.trim() ? ` (${fields})` : ''} (${why}): fix the fields, e.g. '0 2 * * *' for 02:00 every day`,
      });
    }
  }
  if (schema.semantic === 'timeZone' && !knownTimeZone(value)) {
    out.push({
      path,
      operatorOnly: true,
      message: `Invalid value: ${show(value)}: unknown time zone (not in the IANA database): use a zone like UTC or Europe/Istanbul, or an offset like +03:00`,
    });
  }
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Every problem of one manifest (an object parsed from YAML/JSON); [] when it is valid. */
export function validateManifest(obj: unknown): Problem[] {
  try {
    return validateUnsafe(obj);
  } catch (err) {
    return [
      { path: '', message: `internal validator error: ${err instanceof Error ? err.message : String(err)}` },
    ];
  }
}

/**
 * True when a manifest looks meant for our API: its group is ours or a near-miss of it
 * (`cutover.nokta.com`, `cutover.nokta.io` without a version), or it has no apiVersion and one of
 * our kinds. `cutover validate` validates these and skips other kinds (Secrets, ConfigMaps...).
 */
export function looksLikeOurs(obj: unknown): boolean {
  if (!isObject(obj)) return false;
  const { apiVersion, kind } = obj;
  if (typeof apiVersion === 'string' && apiVersion !== '') {
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : apiVersion;
    const ourKind = typeof kind === 'string' && kindInfo(kind) !== undefined;
    // our group, a near-miss of it, or one of our kinds in the core group or a group named like ours
    return (
      group === CRD_GROUP ||
      editDistance(group.toLowerCase(), CRD_GROUP) <= 3 ||
      /\bnokta\b/i.test(group) ||
      (ourKind && (!apiVersion.includes('/') || /cutover/i.test(group)))
    );
  }
  return (
    typeof kind === 'string' &&
    (kindInfo(kind) !== undefined || didYouMean(kind, Object.keys(KINDS)) !== undefined)
  );
}

function validateUnsafe(obj: unknown): Problem[] {
  if (!isObject(obj))
    return [
      {
        path: '',
        message: `a manifest must be a mapping with apiVersion, kind, metadata and spec, not ${show(obj)}`,
      },
    ];
  const problems: Problem[] = [];
  if (obj.apiVersion === undefined || obj.apiVersion === null || obj.apiVersion === '') {
    problems.push({ path: 'apiVersion', message: `Required value: add apiVersion: ${API_VERSION}` });
  } else if (obj.apiVersion !== API_VERSION) {
    const guess =
      typeof obj.apiVersion === 'string' && obj.apiVersion.startsWith(`${CRD_GROUP}/`)
        ? `the version of this API is ${API_VERSION.split('/')[1]!}`
        : `the group is ${CRD_GROUP}`;
    problems.push({
      path: 'apiVersion',
      message: `Unsupported value: ${show(obj.apiVersion)}: supported values: "${API_VERSION}": ${guess}, write apiVersion: ${API_VERSION}`,
    });
  }
  const kinds = Object.keys(KINDS);
  const info: KindInfo | undefined = typeof obj.kind === 'string' ? kindInfo(obj.kind) : undefined;
  if (!info) {
    if (obj.kind === undefined || obj.kind === null || obj.kind === '') {
      problems.push({ path: 'kind', message: `Required value: add kind: one of ${kinds.join(', ')}` });
    } else {
      const guess = typeof obj.kind === 'string' ? didYouMean(obj.kind, kinds) : undefined;
      problems.push({
        path: 'kind',
        message: `Unsupported value: ${show(obj.kind)}: supported values: ${kinds.map((k) => `"${k}"`).join(', ')}${guess ? `: did you mean ${guess}?` : ''}`,
      });
    }
    return problems;
  }
  const meta = obj.metadata;
  if (!isObject(meta)) {
    problems.push({ path: 'metadata', message: 'Required value: add metadata with a name' });
  } else if (typeof meta.name !== 'string' || meta.name === '') {
    problems.push({ path: 'metadata.name', message: 'Required value: name or generateName is required' });
  } else if (meta.name.length > 253 || !NAME_RE.test(meta.name)) {
    problems.push({
      path: 'metadata.name',
      message: `Invalid value: ${show(meta.name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    });
  }
  const data = structuredClone(obj);
  if (data.spec === null) delete data.spec;
  pruneNulls(info.spec, data.spec);
  const validate = validators().get(info.kind)!;
  const bad: string[] = [];
  if (!validate(data)) {
    for (const e of validate.errors ?? []) {
      const p = ajvProblem(e, data);
      if (!problems.some((q) => q.path === p.path && q.message === p.message)) problems.push(p);
      bad.push(p.path);
    }
  }
  applyRules(info.spec, data.spec, 'spec', bad, problems);
  // The CEL rules check only a query's shape; the SQL guard reads it (the operator refuses it).
  if (info.kind === 'Reconciliation')
    for (const p of unsafeQueriesOfSpec(data.spec))
      if (!problems.some((q) => q.path === p.path)) problems.push({ ...p, operatorOnly: true });
  // Durations CEL cannot compare (d and w): the pauses fit into duration, interval <= duration.
  // Checked on a spec the schema and its rules accept (the rules read its shape).
  if (info.kind === 'CanaryPhase' && problems.length === 0)
    for (const p of canaryTimingProblems(data.spec as Partial<CanaryPhaseSpec> | undefined))
      problems.push({ ...p, operatorOnly: true });
  return problems;
}

/** The manifest with the schema defaults applied, as the API server would store it (throws if invalid). */
export function withDefaults<T>(obj: T): T {
  const problems = validateManifest(obj);
  if (problems.length) throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  const data = structuredClone(obj) as Record<string, Json>;
  pruneNulls(KINDS[String(data.kind) as KindInfo['kind']].spec, data.spec);
  validators().get(String(data.kind))!(data);
  return data as T;
}

/**
 * Problems of a status object against its kind's status schema (paths start with status.), so
 * controllers and tests can check what they write before the API server refuses it.
 */
export function validateStatus(kind: string, status: unknown): Problem[] {
  try {
    if (!kindInfo(kind)) return [{ path: 'kind', message: `Unsupported value: ${show(kind)}` }];
    validators();
    const validate = compiledStatus!.get(kind)!;
    const data = { status: structuredClone(status) };
    if (validate(data.status)) return [];
    return (validate.errors ?? []).map((e) => {
      const p = ajvProblem({ ...e, instancePath: `/status${e.instancePath}` }, data);
      return p;
    });
  } catch (err) {
    return [
      {
        path: 'status',
        message: `internal validator error: ${err instanceof Error ? err.message : String(err)}`,
      },
    ];
  }
}

const fragmentValidators = new WeakMap<Schema, ValidateFunction>();

/**
 * Problems of `data` against a schema fragment that is not a kind of its own (the shadow proxy's
 * rules file, which a Cutover also embeds), worded as for a manifest, with paths under `root`.
 * Applies the fragment's defaults to `data` in place, as the API server would store it.
 */
export function validateFragment(schema: Schema, data: unknown, root = ''): Problem[] {
  try {
    let validate = fragmentValidators.get(schema);
    if (!validate) {
      validate = createAjv().compile(ajvSchema(schema));
      fragmentValidators.set(schema, validate);
    }
    const holder = { value: data };
    const problems: Problem[] = [];
    const bad: string[] = [];
    if (!validate(data)) {
      for (const e of validate.errors ?? []) {
        const p = ajvProblem({ ...e, instancePath: `/value${e.instancePath}` }, holder);
        p.path = p.path === 'value' ? root : p.path.replace(/^value/, root);
        if (p.path.startsWith('.')) p.path = p.path.slice(1);
        if (!problems.some((q) => q.path === p.path && q.message === p.message)) problems.push(p);
        bad.push(p.path);
      }
    }
    applyRules(schema, data, root, bad, problems);
    return problems;
  } catch (err) {
    return [
      {
        path: root,
        message: `internal validator error: ${err instanceof Error ? err.message : String(err)}`,
      },
    ];
  }
}
