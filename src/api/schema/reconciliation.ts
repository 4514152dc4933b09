/** Reconciliation: which checks to run between which two databases, when, and how to judge them. */
import {
  type Schema,
  bool,
  cron,
  databaseSchema,
  dateTime,
  duration,
  enumOf,
  int,
  list,
  localObjectRef,
  name,
  num,
  obj,
  offset,
  podOverlay,
  rule,
  sqlIdentifier,
  sqlTable,
  statusBase,
  str,
  stringMap,
  uniqueNames,
  objectName,
  timeZone,
} from './common.js';

export const RECONCILIATION_PHASES = ['Pending', 'Running', 'Passed', 'RemediationNeeded', 'Failed', 'Error'];
export const CHECK_TYPES = ['count', 'sum', 'rowHash', 'sample', 'customSql'];
export const COLUMN_TYPES = ['decimal', 'integer', 'text', 'timestamp', 'boolean'];
export const VERDICTS = ['Passed', 'RemediationNeeded', 'Failed', 'Error'];

interface Thresholds {
  remediatePercent?: number;
  failPercent?: number;
}

export function thresholdsSchema(defaults: boolean): Schema {
  return obj(
    'Variance thresholds in percent: at remediatePercent and above a check needs remediation and a rerun; at failPercent and above it fails (a rollback trigger).',
    {
      remediatePercent: num(
        'Variance (%) that asks for remediation and a rerun.',
        0,
        100,
        defaults ? 0.5 : undefined,
      ),
      failPercent: num(
        'Variance (%) that fails the check and can trigger rollback.',
        0,
        100,
        defaults ? 1 : undefined,
      ),
    },
    [],
    [
      rule<Thresholds>(
        '!has(self.remediatePercent) || !has(self.failPercent) || self.remediatePercent < self.failPercent',
        'remediatePercent must be below failPercent: lower remediatePercent or raise failPercent',
        (s) =>
          s.remediatePercent === undefined ||
          s.failPercent === undefined ||
          s.remediatePercent < s.failPercent,
        { fieldPath: '.remediatePercent' },
      ),
    ],
  );
}

/**
 * The shape of a query that CEL can check: it starts with SELECT or WITH (after blanks and
 * parentheses). What it contains is read by the SQL guard (src/api/sql-guard.ts) in
 * `cutover validate` and the operator: a pattern cannot tell a ; in a string from a second
 * statement.
 */
const QUERY_SHAPE = /^[\s(]*(select|with)\b/i;

interface Side {
  table?: string;
  query?: string;
}
const side: Schema = obj(
  'One side of a check: a table, or a read-only SELECT (e.g. a join of the new normalized tables).',
  {
    table: sqlTable('Table (or schema.table) to read.'),
    query: str(
      'A read-only SELECT whose result is compared as if it were a table; it must expose the tenant, key and compared columns.',
      { maxLength: 8192 },
    ),
    tenantColumn: sqlIdentifier('Tenant column on this side, when it differs from spec.tenantColumn.'),
    windowColumn: sqlIdentifier(
      'Timestamp column for spec.window on this side, when it differs from spec.window.column.',
    ),
  },
  [],
  [
    rule<Side>(
      'has(self.table) != has(self.query)',
      'set exactly one of table or query: a side reads a table or a query, not both and not neither',
      (s) => (s.table !== undefined) !== (s.query !== undefined),
    ),
    rule<Side>(
      "!has(self.query) || self.query.matches('^[\\\\s(]*(?i)(select|with)\\\\b')",
      'query must be a read-only SELECT (or WITH … SELECT): start it with SELECT',
      (s) => s.query === undefined || QUERY_SHAPE.test(s.query),
      { fieldPath: '.query' },
    ),
  ],
);

interface Column {
  type?: string;
  scale?: number;
  precision?: number;
  legacyTimeZone?: string;
}
const column: Schema = obj(
  'A compared column; legacy/target give the column name on each side when it differs from name.',
  {
    name: sqlIdentifier('Column name (on both sides unless legacy/target say otherwise).'),
    legacy: sqlIdentifier('Column name on the legacy side.'),
    target: sqlIdentifier('Column name on the target side.'),
    type: enumOf('How values are canonicalized before comparison.', COLUMN_TYPES),
    scale: int('decimal: digits after the point values are rounded to.', 0, 18),
    transforms: list('text: transforms applied on both sides.', enumOf('Transform.', ['lower', 'trim']), 2, {
      'x-kubernetes-list-type': 'set',
    }),
    legacyTimeZone: timeZone(
      'timestamp: zone the legacy DATETIME values are in (IANA name or +03:00); converted to UTC.',
    ),
    precision: {
      type: 'integer',
      description: 'timestamp: fractional digits compared (0, 3 or 6).',
      enum: [0, 3, 6],
    },
  },
  ['name', 'type'],
  [
    rule<Column>(
      "!has(self.scale) || self.type == 'decimal'",
      'scale applies to decimal columns only: remove scale or set type: decimal',
      (s) => s.scale === undefined || s.type === 'decimal',
      { fieldPath: '.scale' },
    ),
    rule<Column>(
      "!has(self.precision) && !has(self.legacyTimeZone) || self.type == 'timestamp'",
      'precision and legacyTimeZone apply to timestamp columns only: remove them or set type: timestamp',
      (s) => (s.precision === undefined && s.legacyTimeZone === undefined) || s.type === 'timestamp',
    ),
  ],
);

interface Check {
  type?: string;
  legacy?: Side;
  target?: Side;
  key?: string[];
  columns?: unknown[];
  sampleSize?: number;
  customSql?: unknown;
}
const check: Schema = obj(
  'One comparison between legacy and target, per tenant.',
  {
    name: name('Unique name of the check (DNS label), e.g. pos-orders-count.'),
    type: enumOf(
      'count, sum (money columns), rowHash (hash of named columns by key), sample (N random keys), customSql.',
      CHECK_TYPES,
    ),
    description: str('What this check proves, for the report.', { maxLength: 1024 }),
    legacy: side,
    target: side,
    key: list(
      'Key columns (rowHash, sample): identify a row on both sides.',
      sqlIdentifier('Key column.'),
      8,
      { minItems: 1 },
    ),
    columns: list('Compared columns (sum, rowHash, sample).', column, 64, { minItems: 1 }),
    sampleSize: int('sample: how many random keys per tenant.', 1, 10000, 100),
    seed: str('sample: seed for choosing keys (same seed, same keys).', { maxLength: 64 }),
    customSql: obj(
      'customSql: one read-only SELECT per side, each returning rows (tenant, metric).',
      {
        legacy: str('Legacy SELECT returning (tenant, metric).', { maxLength: 8192 }),
        target: str('Target SELECT returning (tenant, metric).', { maxLength: 8192 }),
      },
      ['legacy', 'target'],
      [
        rule<{ legacy: string; target: string }>(
          "self.legacy.matches('^[\\\\s(]*(?i)(select|with)\\\\b') && self.target.matches('^[\\\\s(]*(?i)(select|with)\\\\b')",
          'customSql legacy and target must each be one read-only SELECT: start each with SELECT',
          (s) => QUERY_SHAPE.test(s.legacy) && QUERY_SHAPE.test(s.target),
        ),
      ],
    ),
    thresholds: thresholdsSchema(false),
  },
  ['name', 'type'],
  [
    rule<Check>(
      "self.type == 'customSql' || (has(self.legacy) && has(self.target))",
      'legacy and target are required for this check type: add legacy and target (each a table or a query)',
      (s) => s.type === 'customSql' || (s.legacy !== undefined && s.target !== undefined),
      { reason: 'FieldValueRequired' },
    ),
    rule<Check>(
      "self.type != 'customSql' || has(self.customSql)",
      'type customSql needs customSql.legacy and customSql.target: add them',
      (s) => s.type !== 'customSql' || s.customSql !== undefined,
      { reason: 'FieldValueRequired' },
    ),
    rule<Check>(
      "self.type == 'customSql' || !has(self.customSql)",
      'customSql is only for type customSql: remove it or change type',
      (s) => s.type === 'customSql' || s.customSql === undefined,
    ),
    rule<Check>(
      "!(self.type in ['rowHash', 'sample']) || has(self.key)",
      'rowHash and sample checks need key (the key columns): add key',
      (s) => !(s.type === 'rowHash' || s.type === 'sample') || s.key !== undefined,
      { reason: 'FieldValueRequired' },
    ),
    rule<Check>(
      "!(self.type in ['sum', 'rowHash', 'sample']) || has(self.columns)",
      'sum, rowHash and sample checks need columns: add the compared columns',
      (s) => !(s.type === 'sum' || s.type === 'rowHash' || s.type === 'sample') || s.columns !== undefined,
      { reason: 'FieldValueRequired' },
    ),
    rule<Omit<Check, 'columns'> & { columns?: Column[] }>(
      "self.type != 'sum' || !has(self.columns) || self.columns.all(c, c.type in ['decimal', 'integer'])",
      'sum adds numbers: every column of a sum check must be of type decimal or integer',
      (s) =>
        s.type !== 'sum' ||
        s.columns === undefined ||
        s.columns.every((c) => c.type === 'decimal' || c.type === 'integer'),
    ),
  ],
);

interface Schedule {
  cron?: string;
  cutoverRef?: unknown;
  offsets?: string[];
}

export const reconciliationSpec: Schema = obj(
  'What to compare between the legacy and the target database, when, and how to judge the result.',
  {
    legacy: databaseSchema,
    target: databaseSchema,
    tenantColumn: {
      ...sqlIdentifier('Tenant column used to group every check, unless a side overrides it.'),
      default: 'tenant_id',
    },
    tenants: list('Only these tenants (all when absent).', str('Tenant id.', { maxLength: 128 }), 1000, {
      minItems: 1,
    }),
    window: obj(
      'Compare only rows of a recent window on a timestamp column, e.g. the last 90 days.',
      {
        column: sqlIdentifier('Timestamp column (per side override: legacy/target.windowColumn).'),
        last: duration('Length of the window, e.g. 90d or 2w; more than 0.', undefined, { positive: true }),
        legacyTimeZone: timeZone(
          'Zone of the legacy DATETIME window column (IANA name or +03:00), for the window bound.',
        ),
      },
      ['column', 'last'],
    ),
    thresholds: { ...thresholdsSchema(true), default: {} },
    schedule: obj(
      'When to run. Absent: once, now. The annotation cutover.nokta.io/rerun=<token> requests another run.',
      {
        cron: cron('Run on this 5-field cron schedule (UTC), e.g. 0 2 * * * for nightly at 02:00.'),
        cutoverRef: localObjectRef,
        offsets: list(
          'Run at these offsets from the Cutover switch time, e.g. +4h, +24h, +72h.',
          offset('Offset.'),
          16,
          { minItems: 1 },
        ),
        suspend: bool('Stop scheduling new runs.', false),
      },
      [],
      [
        rule<Schedule>(
          'has(self.offsets) == has(self.cutoverRef)',
          "offsets and cutoverRef go together: offsets are counted from that Cutover's switch time",
          (s) => (s.offsets !== undefined) === (s.cutoverRef !== undefined),
        ),
        rule<Schedule>(
          '!(has(self.cron) && has(self.offsets))',
          'set cron or offsets, not both: use two Reconciliations for two schedules',
          (s) => !(s.cron !== undefined && s.offsets !== undefined),
        ),
        rule<Schedule>(
          '!has(self.offsets) || self.offsets.all(o, self.offsets.exists_one(p, p == o))',
          'offsets must be unique: remove the duplicate',
          (s) => s.offsets === undefined || new Set(s.offsets).size === s.offsets.length,
          { fieldPath: '.offsets' },
        ),
      ],
    ),
    parallelism: obj(
      'Run inline in the operator, or split into shards run by an Indexed Job.',
      {
        mode: enumOf('Inline or IndexedJob.', ['Inline', 'IndexedJob'], 'Inline'),
        shards: int('IndexedJob: number of shards (pods).', 1, 64, 1),
        shardBy: enumOf('IndexedJob: split by tenant or by key range.', ['Tenant', 'KeyRange'], 'Tenant'),
        image: str('IndexedJob: operator image the shards run.', { maxLength: 512 }),
        serviceAccountName: objectName('IndexedJob: ServiceAccount of the shard pods.'),
        podLabels: stringMap('IndexedJob: extra labels on the shard pods.'),
        pod: podOverlay,
      },
      [],
      [
        rule<{ mode?: string; shards?: number }>(
          "self.mode == 'IndexedJob' || !has(self.shards) || self.shards == 1",
          'shards > 1 needs mode: IndexedJob: set mode IndexedJob or shards 1',
          (s) => s.mode === 'IndexedJob' || s.shards === undefined || s.shards === 1,
          { fieldPath: '.shards' },
        ),
      ],
    ),
    statementTimeoutSeconds: int('Per-statement timeout on both databases.', 1, 86400, 300),
    checks: list('The checks; names unique.', check, 50, { minItems: 1, rules: [uniqueNames('check')] }),
  },
  ['legacy', 'target', 'checks'],
);

const tenantResult = obj('One tenant of a check.', {
  tenant: str('Tenant id.', { maxLength: 128 }),
  legacy: str('Legacy value (decimal string).', { maxLength: 64 }),
  target: str('Target value (decimal string).', { maxLength: 64 }),
  variancePercent: { type: 'number', description: 'Variance (%).' },
  verdict: enumOf('Verdict.', VERDICTS),
});
const differingKey = obj('A key that differs.', {
  tenant: str('Tenant id.', { maxLength: 128 }),
  key: str('Key value(s), canonical text.', { maxLength: 512 }),
  kind: enumOf('missing (only legacy), extra (only target), changed.', ['missing', 'extra', 'changed']),
  columns: list('Changed columns.', str('Column.', { maxLength: 63 }), 64),
});

export const reconciliationStatus: Schema = statusBase(RECONCILIATION_PHASES, {
  lastRun: obj('The last run.', {
    id: str('Run id.', { maxLength: 128 }),
    trigger: str('What started it: Create, Schedule, Offset +4h, Rerun <token>, SpecChange.', {
      maxLength: 256,
    }),
    startedAt: dateTime('Start.'),
    finishedAt: dateTime('End.'),
    verdict: enumOf('Verdict.', VERDICTS),
    error: str('Why the run could not finish.', { maxLength: 4096 }),
  }),
  nextRunAt: dateTime('Next planned run.'),
  runsCompleted: int('Finished runs.', 0, Number.MAX_SAFE_INTEGER),
  completedOffsets: list('Offsets already run (schedule.offsets).', str('Offset.', { maxLength: 32 }), 16),
  lastRerunToken: str('Last cutover.nokta.io/rerun token acted on.', { maxLength: 256 }),
  summary: obj('Summary of the last run.', {
    checks: int('Checks.', 0, 1000),
    passed: int('Passed checks.', 0, 1000),
    failed: int('Failed or remediation-needed checks.', 0, 1000),
    rowsCompared: str('Rows compared (integer as string).', { maxLength: 32 }),
    maxVariancePercent: str('Largest variance (%), as a string like 0.42.', { maxLength: 32 }),
    worstCheck: str('Check with the largest variance.', { maxLength: 63 }),
    worstTenant: str('Tenant with the largest variance.', { maxLength: 128 }),
  }),
  checks: list(
    'Per-check results.',
    obj('One check.', {
      name: str('Check name.', { maxLength: 63 }),
      verdict: enumOf('Verdict.', VERDICTS),
      variancePercent: { type: 'number', description: 'Largest variance (%) over tenants.' },
      legacyValue: str('Legacy total (string).', { maxLength: 64 }),
      targetValue: str('Target total (string).', { maxLength: 64 }),
      worstTenant: str('Tenant with the largest variance.', { maxLength: 128 }),
      tenants: list('Worst tenants (capped at 50).', tenantResult, 50),
      differingKeys: list(
        'Differing keys (capped at 20; the full list is in reportConfigMap).',
        differingKey,
        20,
      ),
      error: str('Why the check could not run.', { maxLength: 4096 }),
    }),
    50,
  ),
  reportConfigMap: str('ConfigMap with the full report.', { maxLength: 253 }),
  shards: obj('IndexedJob shards.', {
    total: int('Shards.', 0, 64),
    succeeded: int('Succeeded.', 0, 64),
    failed: int('Failed.', 0, 64),
  }),
});
