/**
 * Keeps src/api/types.ts and the schemas in step: each typed fixture below compiles against the
 * types, uses every property the schema has (spec and status), and validates without a problem.
 */
import assert from 'node:assert/strict';
import { API_VERSION, KINDS } from '../../../src/api/crds.js';
import type { Schema } from '../../../src/api/schema/common.js';
import { validateManifest, validateStatus } from '../../../src/api/validate.js';
import type {
  CanaryPhase,
  Condition,
  Cutover,
  JobTemplate,
  PodOverlay,
  Reconciliation,
} from '../../../src/api/types.js';

const conditions: Condition[] = [
  {
    type: 'Ready',
    status: 'True',
    reason: 'Passed',
    message: 'all checks passed',
    lastTransitionTime: '2026-12-01T02:20:00Z',
    observedGeneration: 3,
  },
  {
    type: 'Reconciling',
    status: 'False',
    reason: 'Idle',
    message: '',
    lastTransitionTime: '2026-12-01T02:20:00Z',
  },
  {
    type: 'Stalled',
    status: 'False',
    reason: 'Idle',
    message: '',
    lastTransitionTime: '2026-12-01T02:20:00Z',
  },
];
/** The pod overlay of the Jobs the operator creates (every field). */
const pod: PodOverlay = {
  annotations: { 'sidecar.istio.io/inject': 'false' },
  nodeSelector: { pool: 'batch' },
  tolerations: [
    { key: 'batch', operator: 'Equal', value: 'true', effect: 'NoSchedule', tolerationSeconds: 60 },
  ],
  resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '2Gi' } },
  securityContext: {
    runAsUser: 1001,
    runAsGroup: 1001,
    fsGroup: 1001,
    runAsNonRoot: true,
    readOnlyRootFilesystem: false,
    seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/sync.json' },
  },
};
const job: JobTemplate = {
  image: 'registry.nokta.io/migrations:1',
  command: ['/bin/sync'],
  args: ['--all'],
  env: [
    { name: 'LEGACY_URL', secretKeyRef: { name: 'legacy', key: 'url' } },
    { name: 'MODE', value: 'delta' },
  ],
  serviceAccountName: 'sync',
  parallelism: 2,
  completions: 2,
  completionMode: 'Indexed',
  backoffLimit: 1,
  activeDeadlineSeconds: 600,
  podLabels: { team: 'data' },
  pod,
};

const reconciliation: Reconciliation = {
  apiVersion: API_VERSION,
  kind: 'Reconciliation',
  metadata: { name: 'full' },
  spec: {
    legacy: { engine: 'mysql', secretRef: { name: 'legacy', key: 'url' } },
    target: { engine: 'postgres', url: 'postgres://reconciler@db:5432/nokta' },
    tenantColumn: 'tenant_id',
    tenants: ['t1', 't2'],
    window: {
      column: 'created_at',
      last: '90d',
      until: 'frozenAt',
      cutoverRef: { name: 'nokta' },
      legacyTimeZone: 'Europe/Istanbul',
    },
    thresholds: { remediatePercent: 0.5, failPercent: 1 },
    schedule: { cutoverRef: { name: 'nokta' }, offsets: ['+4h', '+24h'], suspend: false },
    parallelism: {
      mode: 'IndexedJob',
      shards: 4,
      shardBy: 'KeyRange',
      image: 'cutover:1',
      serviceAccountName: 'recon',
      podLabels: { a: 'b' },
      pod,
    },
    statementTimeoutSeconds: 120,
    checks: [
      {
        name: 'rows',
        type: 'rowHash',
        description: 'orders against the join',
        legacy: { table: 'pos_orders', tenantColumn: 'tenant', windowColumn: 'created' },
        target: {
          query: 'SELECT o.tenant_id, o.id FROM orders o',
          tenantColumn: 'tenant_id',
          windowColumn: 'created_at',
        },
        key: ['id'],
        columns: [
          { name: 'total', legacy: 'total_amount', target: 'total', type: 'decimal', scale: 2 },
          { name: 'status', type: 'text', transforms: ['lower', 'trim'] },
          { name: 'created_at', type: 'timestamp', legacyTimeZone: '+03:00', precision: 3 },
        ],
        sampleSize: 10,
        seed: 's',
        thresholds: { remediatePercent: 0.1, failPercent: 0.5 },
      },
      {
        name: 'custom',
        type: 'customSql',
        customSql: { legacy: 'SELECT t, 1 FROM a', target: 'SELECT t, 1 FROM b' },
      },
    ],
  },
  status: {
    phase: 'RemediationNeeded',
    observedGeneration: 3,
    conditions,
    lastRun: {
      id: 'run-1',
      trigger: 'Offset +4h',
      startedAt: '2026-12-01T06:30:00Z',
      finishedAt: '2026-12-01T06:31:00Z',
      verdict: 'RemediationNeeded',
      error: 'none',
    },
    nextRunAt: '2026-12-02T02:30:00Z',
    runsCompleted: 1,
    completedOffsets: ['+4h'],
    lastRerunToken: 'abc',
    summary: {
      checks: 2,
      passed: 1,
      failed: 1,
      rowsCompared: '123456789012',
      maxVariancePercent: '0.62',
      worstCheck: 'rows',
      worstTenant: 't2',
    },
    checks: [
      {
        name: 'rows',
        verdict: 'RemediationNeeded',
        variancePercent: 0.62,
        legacyValue: '1000.00',
        targetValue: '993.80',
        worstTenant: 't2',
        tenants: [
          {
            tenant: 't2',
            legacy: '1000.00',
            target: '993.80',
            variancePercent: 0.62,
            verdict: 'RemediationNeeded',
          },
        ],
        differingKeys: [
          { tenant: 't2', key: '42', kind: 'changed', columns: ['total'] },
          { tenant: 't2', key: '43', kind: 'duplicateInTarget', rows: 2 },
        ],
        error: 'none',
      },
    ],
    reportConfigMap: 'full-report-run-1',
    shards: { total: 4, succeeded: 4, failed: 0 },
  },
};

/** What the first one cannot hold at the same time (cron instead of offsets, the other side forms). */
const reconciliationNightly: Reconciliation = {
  apiVersion: API_VERSION,
  kind: 'Reconciliation',
  metadata: { name: 'nightly' },
  spec: {
    legacy: { engine: 'mysql', url: 'mysql://reader@legacy:3306/nokta' },
    target: { engine: 'postgres', secretRef: { name: 'new', key: 'dsn' } },
    window: { column: 'created_at', from: '2026-01-01T00:00:00Z', until: '2026-04-01T00:00:00Z' },
    schedule: { cron: '0 2 * * *' },
    checks: [
      {
        name: 'count',
        type: 'count',
        legacy: { query: 'SELECT tenant_id FROM pos_orders' },
        target: { table: 'public.orders' },
      },
    ],
  },
};

const canary: CanaryPhase = {
  apiVersion: API_VERSION,
  kind: 'CanaryPhase',
  metadata: { name: 'full' },
  spec: {
    cutoverRef: { name: 'nokta' },
    services: [
      {
        name: 'pos',
        routing: 'Flag',
        flagKey: 'new-stack',
        traffic: {
          ingress: {
            name: 'pos',
            newBackend: { name: 'pos-v2', port: 80 },
            stickiness: { header: 'X-Stack', headerValue: 'new', cookie: 'stack' },
          },
        },
      },
      {
        name: 'cc',
        routing: 'Traffic',
        traffic: {
          httpRoute: {
            name: 'cc',
            ruleIndex: 1,
            legacyBackend: { name: 'cc', port: 80 },
            newBackend: { name: 'cc-v2', port: 80 },
          },
        },
      },
    ],
    cohorts: [
      { name: 'ten', services: ['pos'], tenants: ['t1', 't2'] },
      { name: 'pilot', services: ['pos'], pilot: { attribute: 'driverId', members: ['d1'] } },
      {
        name: 'pilot-cm',
        services: ['cc'],
        tenants: ['t3'],
        pilot: { attribute: 'driverId', membersFrom: { configMapName: 'pilots', key: 'drivers' } },
      },
    ],
    flagProvider: {
      type: 'Flagd',
      redis: { secretRef: { name: 'redis', key: 'url' }, keyPrefix: 'f:' },
      flagd: { configMapName: 'flags' },
    },
    bucketingKey: 'sessionId',
    steps: [{ weight: 5, pause: '1h' }, { weight: 10 }],
    gates: [{ name: 'qa', beforeStep: 1 }],
    analysis: {
      interval: '1h',
      count: 24,
      consecutiveFailureLimit: 2,
      inconclusive: { limit: 3, onLimit: 'Pause' },
      noData: { limit: 2, onLimit: 'Rollback' },
      error: { limit: 4, onLimit: 'Pause' },
      rollbackScope: 'Service',
      prometheusAddress: 'http://prometheus:9090',
      metrics: [
        {
          name: 'p95',
          services: ['pos'],
          prometheus: {
            address: 'http://prom:9090',
            query: 'up',
            tokenSecretRef: { name: 'prom', key: 'token' },
            timeout: '5s',
          },
          successCondition: 'result >= 0 && result <= 1.5',
          failureCondition: 'result > 2',
        },
        {
          name: 'variance',
          reconciliation: { name: 'rows', maxAge: '2h' },
          successCondition: 'result < 0.5',
        },
        {
          name: 'journey',
          job: { image: 'journey:1', command: ['node'], args: ['journey.js'], activeDeadline: '5m' },
        },
        {
          name: 'pos-differences',
          services: ['pos'],
          shadowDifferences: {
            service: 'pos',
            prometheus: {
              address: 'http://prom:9090',
              window: '1h',
              tokenSecretRef: { name: 'prom', key: 'token' },
            },
            minCompared: 100,
            timeout: '5s',
          },
          successCondition: 'result <= 0.5',
        },
        {
          name: 'pos-differences-now',
          shadowDifferences: { service: 'pos', metricsUrl: 'http://full-shadow-pos.shop.svc:9464/metrics' },
          failureCondition: 'result > 2',
        },
        {
          name: 'qa',
          http: {
            url: 'https://qa/x',
            jsonPath: 'open.blocker',
            headerSecretRef: { name: 'qa', key: 'token' },
            headerName: 'Authorization',
            timeout: '3s',
          },
          successCondition: 'result == 0',
        },
      ],
    },
    duration: '48h',
    startAt: '2026-11-29T02:00:00Z',
    endBy: '2026-12-01T02:00:00Z',
    progressDeadline: '30m',
    onSuccess: 'Restore',
    autoPromote: true,
    paused: false,
  },
  status: {
    phase: 'Progressing',
    observedGeneration: 1,
    conditions,
    currentStep: 1,
    currentWeight: 10,
    appliedStep: 1,
    stepStartedAt: '2026-11-29T03:00:00Z',
    startedAt: '2026-11-29T02:00:00Z',
    finishedAt: '2026-12-01T02:00:00Z',
    consecutiveFailures: 1,
    measurementsTaken: 5,
    lastMeasuredAt: '2026-11-29T07:00:00Z',
    nextMeasurementAt: '2026-11-29T08:00:00Z',
    waitingForGate: 'qa',
    approvedGates: ['qa'],
    pauseReason: 'paused by annotation',
    lastActionToken: 'promote:1',
    lastApproveToken: 'qa:1',
    metrics: [
      {
        name: 'p95',
        lastResult: 'Successful',
        lastAt: '2026-11-29T07:00:00Z',
        failures: 0,
        inconclusive: 0,
        noData: 0,
        errors: 0,
      },
    ],
    measurements: [
      { metric: 'p95', at: '2026-11-29T07:00:00Z', value: '1.2', result: 'Successful', message: 'ok' },
    ],
    rolledBackServices: ['pos'],
    rollback: {
      reason: 'p95 failed twice',
      metric: 'p95',
      value: '2.4',
      at: '2026-11-29T07:00:00Z',
      services: ['pos'],
    },
    restoredServices: ['pos'],
    restoredAt: '2026-11-29T07:00:01Z',
    pausedAt: '2026-11-29T07:00:00Z',
    measuringRound: 5,
    message: 'holding 10 %',
  },
};

const cutover: Cutover = {
  apiVersion: API_VERSION,
  kind: 'Cutover',
  metadata: { name: 'full' },
  spec: {
    services: [
      {
        name: 'pos',
        flagKey: 'pos.new',
        traffic: {
          ingress: {
            name: 'pos',
            newBackend: { name: 'pos-v2', port: 80 },
            stickiness: { header: 'X-Stack', headerValue: 'new', cookie: 'stack' },
          },
        },
        legacy: { kind: 'Deployment', name: 'pos' },
        new: { kind: 'StatefulSet', name: 'pos-v2' },
      },
      {
        name: 'cc',
        traffic: {
          httpRoute: {
            name: 'cc',
            ruleIndex: 1,
            legacyBackend: { name: 'cc', port: 80 },
            newBackend: { name: 'cc-v2', port: 80 },
          },
        },
        legacy: { name: 'cc' },
        new: { name: 'cc-v2' },
      },
    ],
    databases: {
      legacy: {
        engine: 'mysql',
        secretRef: { name: 'legacy', key: 'url' },
        url: 'mysql://reader@legacy:3306/nokta',
      },
      target: {
        engine: 'postgres',
        secretRef: { name: 'new', key: 'url' },
        url: 'postgres://reader@new:5432/nokta',
      },
      redis: { secretRef: { name: 'redis', key: 'url' } },
    },
    flagProvider: {
      type: 'Redis',
      redis: { secretRef: { name: 'redis', key: 'url' }, keyPrefix: 'nokta:' },
      flagd: { configMapName: 'flags' },
    },
    prometheusAddress: 'http://prometheus:9090',
    slos: [
      {
        name: 'pos-invoice',
        service: 'pos',
        description: 'POS invoice <= 1.5 s',
        query: 'up',
        objective: 'result <= 1.5',
      },
    ],
    preparation: {
      schemaMigration: { version: '2026.11.1', job, downJob: job },
      bulkCopy: { job },
      postLoadSql: { job },
      integrationChecks: [
        {
          name: 'payments',
          url: 'https://sandbox.payments.example/health',
          method: 'GET',
          expectStatus: 200,
          header: { name: 'Authorization', secretRef: { name: 'payments-sandbox', key: 'token' } },
          timeout: '10s',
        },
      ],
    },
    shadow: {
      startAt: '2026-11-24T00:00:00Z',
      endAt: '2026-11-28T00:00:00Z',
      mirroring: { enabled: true, services: ['pos'] },
      reconciliations: ['rows'],
      remediationJob: job,
      remediatePercent: 0.5,
      maxReruns: 2,
      comparison: [
        {
          service: 'pos',
          methods: ['GET', 'HEAD'],
          paths: ['/api/**'],
          excludePaths: ['/healthz'],
          forwardHeaders: ['accept'],
          compareHeaders: ['content-type'],
          defaults: {
            ignore: ['/meta'],
            numbers: [{ path: '/total', tolerance: 0.001, scale: 2, acceptStrings: true }],
            timestamps: [
              { path: '/**/updatedAt', tolerance: '1s', assumeZone: 'Europe/Istanbul', epoch: 'Seconds' },
            ],
            arrays: [{ path: '/items', order: 'Unordered', key: '/sku' }],
            strings: [{ path: '/name', trim: true, ignoreCase: true, collapseWhitespace: true }],
            nullEqualsMissing: true,
            compareBody: true,
          },
          routes: [
            {
              template: '/api/orders/{id}',
              methods: ['GET'],
              compareHeaders: ['etag'],
              ignore: ['/meta'],
              numbers: [{ path: '/total', tolerance: 0.001, scale: 2, acceptStrings: true }],
              timestamps: [{ path: '/createdAt', tolerance: '1s', assumeZone: 'UTC', epoch: 'Milliseconds' }],
              arrays: [{ path: '/tags', order: 'Unordered', key: '/id' }],
              strings: [{ path: '/name', trim: true, ignoreCase: true, collapseWhitespace: true }],
              nullEqualsMissing: true,
              compareBody: true,
            },
          ],
          redact: { headers: ['x-tenant-token'], fields: ['/customer/phone'], queryParams: ['session'] },
          queue: { size: 1000, concurrency: 64, maxLag: '5ms' },
          newStack: { timeout: '5s', maxConnections: 64 },
          maxBodyBytes: 1048576,
          maxBufferedBytes: 67108864,
          samples: { size: 100, maxValueLength: 512 },
          noise: { secondaryLegacyUrl: 'http://pos-legacy-2:8080', minSamples: 20, minRate: 0.1 },
          resources: {
            requests: { cpu: '250m', memory: '128Mi' },
            limits: { cpu: '1', memory: '512Mi' },
          },
        },
      ],
      maxDifferencePercent: 1,
      minCompared: 100,
    },
    canary: { phases: ['full'] },
    freeze: {
      method: 'ReadOnly',
      flagKey: 'freeze',
      job,
      liftJob: job,
      posOffline: { service: 'pos', flagKey: 'pos.offline-queue' },
      verification: { secretRef: { name: 'legacy-app', key: 'url' }, table: 'cutover_freeze_probe' },
    },
    timeline: {
      startAt: '2026-12-01T02:00:00Z',
      steps: [
        {
          name: 'sync',
          action: 'DeltaSync',
          offset: '+10m',
          owner: 'Data Engineering',
          description: 'delta',
          approval: { required: true, approvers: ['lead'], timeout: '30m', onTimeout: 'Abort' },
          job,
          timeout: '20m',
          onFailure: 'Pause',
        },
        { name: 'sign-off', action: 'ReconciliationSignOff', offset: '+15m', reconciliations: ['rows'] },
        { name: 'switch', action: 'TrafficSwitch', at: '2026-12-01T02:30:00Z', services: ['pos'] },
        {
          name: 'flags',
          action: 'EnableFlags',
          offset: '+45m',
          tenants: ['tenant-1'],
          dependsOn: ['switch'],
        },
        { name: 'watch', action: 'Monitor', offset: '+1h', duration: '3h' },
      ],
    },
    rollback: {
      automatic: true,
      triggers: {
        sloBreach: { for: '30m', slos: ['pos-invoice'], activeFrom: 'Switch', activeUntil: 'SteadyState' },
        reconciliationVariance: { percent: 1, activeFrom: 'Freeze', activeUntil: 'LegacyHotEnd' },
        securityFlag: {
          annotation: 'cutover.nokta.io/security-incident',
          activeFrom: 'Canary',
          activeUntil: 'LegacyHotEnd',
        },
        stepFailed: { enabled: true },
      },
      order: [
        'PosOfflineOn',
        'Replay',
        'VerifyReplay',
        'TrafficBack',
        'FlagsOff',
        'ReopenLegacyWrites',
        'DrainQueue',
        'Notify',
      ],
      replayJob: job,
      verifyReconciliation: 'replay-window',
      exportJob: job,
      maxExportLag: '1m',
      keepLegacyHotFor: '48h',
      legacyReplicasAfterHot: 1,
    },
    report: { configMapName: 'full-report' },
    postCutover: { reconciliations: ['rows'], steadyStateAfter: '14d', requireSignOff: true },
    notifications: { slack: { webhookSecretRef: { name: 'hook', key: 'url' }, channel: '#cutover-warroom' } },
    paused: false,
  },
  status: {
    phase: 'RolledBack',
    observedGeneration: 2,
    conditions,
    currentStep: 'watch',
    nextStep: 'report',
    nextStepAt: '2026-12-01T06:00:00Z',
    pausedAt: 'sync',
    frozenAt: '2026-12-01T02:00:01Z',
    lastSyncAt: '2026-12-01T02:14:00Z',
    switchedAt: '2026-12-01T02:30:05Z',
    legacyHotUntil: '2026-12-03T02:30:05Z',
    legacyScaledAt: '2026-12-03T02:30:06Z',
    stableSince: '2026-12-01T02:30:05Z',
    steadyStateAt: '2026-12-15T02:30:05Z',
    canaryPhase: 'full',
    approvedSteps: ['sync'],
    approvals: [{ step: 'sync', by: 'alice@nokta', at: '2026-12-01T02:09:00Z' }],
    lastActionToken: 'rollback:1',
    preparation: [
      {
        name: 'schemaMigration',
        state: 'Succeeded',
        attempt: 1,
        jobName: 'full-schema-migration-1',
        startedAt: '2026-11-20T00:00:00Z',
        finishedAt: '2026-11-20T00:05:00Z',
        message: 'version 2026.11.1',
      },
    ],
    shadow: {
      completedAt: '2026-11-26T00:00:00Z',
      proxies: [
        {
          service: 'pos',
          state: 'Deployed',
          compared: 2000,
          differing: 4,
          differencePercent: 0.2,
          measuredAt: '2026-11-25T00:10:00Z',
          message: 'read through Prometheus',
        },
      ],
      reruns: [
        {
          reconciliation: 'rows',
          count: 1,
          state: 'Succeeded',
          at: '2026-11-25T00:10:00Z',
          jobName: 'full-remediate-rows-1',
        },
      ],
    },
    freeze: {
      legacyReadOnly: true,
      posOffline: true,
      verified: true,
      frozenBy: 'cutover-operator (sync)',
      newPrimaryLiftedAt: '2026-12-01T03:00:00Z',
      legacyReopenedAt: '2026-12-01T03:48:00Z',
    },
    signOff: {
      step: 'sign-off',
      afterSyncAt: '2026-12-01T02:14:00Z',
      reconciliations: [
        { name: 'rows', runStartedAt: '2026-12-01T02:15:00Z', phase: 'Passed', variancePercent: '0' },
      ],
      signedAt: '2026-12-01T02:20:00Z',
    },
    export: { jobName: 'full-export-1', lagSeconds: 3, reportedAt: '2026-12-01T03:39:00Z' },
    notifications: [{ event: 'phase:RollingBack', at: '2026-12-01T03:40:00Z', state: 'Sent', attempts: 1 }],
    report: {
      configMap: 'full-report',
      checkpointAt: '2026-12-01T06:00:00Z',
      finalAt: '2026-12-01T03:50:00Z',
    },
    steps: [
      {
        name: 'sync',
        state: 'Succeeded',
        attempt: 1,
        plannedAt: '2026-12-01T02:10:00Z',
        awaitingSince: '2026-12-01T02:10:00Z',
        startedAt: '2026-12-01T02:10:00Z',
        finishedAt: '2026-12-01T02:14:00Z',
        jobName: 'full-sync-1',
        message: 'done',
      },
    ],
    sloBreaches: [{ slo: 'pos-invoice', since: '2026-12-01T03:10:00Z', value: '2.1' }],
    rollback: {
      trigger: 'SloBreach',
      reason: 'pos-invoice 2.1 > 1.5 for 30m',
      triggeredAt: '2026-12-01T03:40:00Z',
      completedAt: '2026-12-01T03:50:00Z',
      window: { from: '2026-12-01T02:00:01Z', to: '2026-12-01T03:40:01Z' },
      ignoredTriggers: [{ trigger: 'SecurityFlag', at: '2026-12-01T03:41:00Z', reason: 'annotation set' }],
      actions: [
        {
          name: 'Replay',
          state: 'Succeeded',
          at: '2026-12-01T03:40:01Z',
          finishedAt: '2026-12-01T03:45:00Z',
          jobName: 'full-replay-1',
          message: 'replayed',
        },
      ],
      review: { dueAt: '2026-12-08T03:40:00Z', configMap: 'full-report' },
    },
    message: 'rolled back',
  },
};

/** Every property path of a schema ('spec.checks[].key[]'...). */
function schemaPaths(s: Schema, path: string): string[] {
  const out = [path];
  for (const [k, v] of Object.entries(s.properties ?? {})) out.push(...schemaPaths(v, `${path}.${k}`));
  if (s.items) out.push(...schemaPaths(s.items, `${path}[]`));
  return out;
}
function valuePaths(v: unknown, path: string, mapPaths: Set<string>): string[] {
  const out = [path];
  if (Array.isArray(v)) for (const x of v) out.push(...valuePaths(x, `${path}[]`, mapPaths));
  else if (typeof v === 'object' && v !== null && !mapPaths.has(path))
    for (const [k, x] of Object.entries(v)) out.push(...valuePaths(x, `${path}.${k}`, mapPaths));
  return out;
}
function mapPathsOf(s: Schema, path: string, out = new Set<string>()): Set<string> {
  if (s.additionalProperties) out.add(path);
  for (const [k, v] of Object.entries(s.properties ?? {})) mapPathsOf(v, `${path}.${k}`, out);
  if (s.items) mapPathsOf(s.items, `${path}[]`, out);
  return out;
}

describe('api: types.ts matches the schemas', () => {
  const byKind: [keyof typeof KINDS, (Reconciliation | CanaryPhase | Cutover)[]][] = [
    ['Reconciliation', [reconciliation, reconciliationNightly]],
    ['CanaryPhase', [canary]],
    ['Cutover', [cutover]],
  ];
  for (const [kind, objs] of byKind) {
    const info = KINDS[kind];
    it(`${kind}: the typed fixtures are valid`, () => {
      for (const obj of objs) {
        assert.deepEqual(validateManifest(obj), [], obj.metadata.name);
        if (obj.status) assert.deepEqual(validateStatus(kind, obj.status), [], obj.metadata.name);
      }
    });
    for (const part of ['spec', 'status'] as const) {
      it(`${kind}: the typed fixtures use every ${part} property of the schema`, () => {
        const schema = part === 'spec' ? info.spec : info.status;
        const used = new Set(objs.flatMap((obj) => valuePaths(obj[part], part, mapPathsOf(schema, part))));
        const missing = schemaPaths(schema, part).filter((p) => !used.has(p));
        assert.deepEqual(missing, []);
      });
    }
  }
});
