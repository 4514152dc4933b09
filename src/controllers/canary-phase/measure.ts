/** Takes one measurement round: each metric of the spec through its provider (src/analysis): prometheus, http, reconciliation, shadowDifferences, job. */
import {
  HttpJsonProvider,
  JobProvider,
  PrometheusProvider,
  ReconciliationStatusProvider,
  ShadowDifferencesProvider,
  isPending,
  secretReader,
  type ReconciliationLike,
} from '../../analysis/index.js';
import { parseDuration } from '../../api/duration.js';
import type { AnalysisMetric, CanaryPhase, CanaryPhaseStatus, Cutover } from '../../api/types.js';
import type { KubeClient } from '../../runtime/kube-client.js';
import type { TakenMeasurement } from './decide.js';

export interface RoundInput {
  cp: CanaryPhase;
  cutover?: Cutover;
  status: CanaryPhaseStatus;
  round: number;
  metrics: string[];
  client: KubeClient;
  now: () => Date;
  reconciliation: (name: string) => ReconciliationLike | undefined;
  image: string;
  signal?: AbortSignal;
}

/** The round's measurements, or undefined while one of them (a Job) is still running. */
export async function takeRound(i: RoundInput): Promise<TakenMeasurement[] | undefined> {
  const ns = i.cp.metadata.namespace!;
  const secrets = secretReader(i.client, ns);
  const prom = new PrometheusProvider(secrets);
  const http = new HttpJsonProvider(secrets);
  const recon = new ReconciliationStatusProvider((_ns, name) => i.reconciliation(name));
  const jobs = new JobProvider(i.client);
  const shadow = new ShadowDifferencesProvider(secrets);
  const spec = i.cp.spec;
  const defs = spec.analysis.metrics.filter((m) => i.metrics.includes(m.name));
  const outcomes = await Promise.all(
    defs.map(async (m: AnalysisMetric) => {
      const last = (i.status.metrics ?? []).find((c) => c.name === m.name)?.lastAt;
      const ctx = {
        now: i.now(),
        ...(last ? { previousAt: new Date(last) } : {}),
        measurementId: String(i.round),
        ...(i.signal ? { signal: i.signal } : {}),
      };
      const cond = {
        ...(m.successCondition ? { successCondition: m.successCondition } : {}),
        ...(m.failureCondition ? { failureCondition: m.failureCondition } : {}),
      };
      if (m.prometheus)
        return {
          m,
          o: await prom.measure(
            {
              address:
                m.prometheus.address ??
                spec.analysis.prometheusAddress ??
                i.cutover?.spec.prometheusAddress ??
                '',
              query: m.prometheus.query,
              ...(m.prometheus.tokenSecretRef
                ? {
                    tokenSecretRef: {
                      name: m.prometheus.tokenSecretRef.name,
                      key: m.prometheus.tokenSecretRef.key ?? 'token',
                    },
                  }
                : {}),
              ...(m.prometheus.timeout ? { timeoutMs: parseDuration(m.prometheus.timeout) } : {}),
              ...cond,
            },
            ctx,
          ),
        };
      if (m.http)
        return {
          m,
          o: await http.measure(
            {
              url: m.http.url,
              jsonPath: m.http.jsonPath,
              ...(m.http.headerName && m.http.headerSecretRef
                ? {
                    header: {
                      name: m.http.headerName,
                      secretRef: {
                        name: m.http.headerSecretRef.name,
                        key: m.http.headerSecretRef.key ?? 'token',
                      },
                    },
                  }
                : {}),
              ...(m.http.timeout ? { timeoutMs: parseDuration(m.http.timeout) } : {}),
              ...cond,
            },
            ctx,
          ),
        };
      if (m.reconciliation)
        return {
          m,
          o: await recon.measure(
            {
              namespace: ns,
              name: m.reconciliation.name,
              ...(m.reconciliation.maxAge ? { maxAgeMs: parseDuration(m.reconciliation.maxAge) } : {}),
              ...cond,
            },
            ctx,
          ),
        };
      if (m.shadowDifferences) {
        const sd = m.shadowDifferences;
        const token = sd.prometheus?.tokenSecretRef;
        return {
          m,
          o: await shadow.measure(
            {
              service: sd.service,
              ...(sd.metricsUrl ? { metricsUrl: sd.metricsUrl } : {}),
              ...(sd.prometheus
                ? {
                    prometheus: {
                      address:
                        sd.prometheus.address ??
                        spec.analysis.prometheusAddress ??
                        i.cutover?.spec.prometheusAddress ??
                        '',
                      ...(sd.prometheus.window ? { window: sd.prometheus.window } : {}),
                      ...(token ? { tokenSecretRef: { name: token.name, key: token.key ?? 'token' } } : {}),
                    },
                  }
                : {}),
              ...(sd.minCompared !== undefined ? { minCompared: sd.minCompared } : {}),
              ...(sd.timeout ? { timeoutMs: parseDuration(sd.timeout) } : {}),
              ...cond,
            },
            ctx,
          ),
        };
      }
      const job = m.job!;
      return {
        m,
        o: await jobs.measure(
          {
            name: m.name,
            template: {
              namespace: ns,
              ownerName: i.cp.metadata.name,
              image: job.image ?? i.image,
              command: job.command,
              ...(job.args ? { args: job.args } : {}),
              backoffLimit: 0,
              activeDeadlineSeconds: Math.ceil(parseDuration(job.activeDeadline ?? '10m') / 1000),
              labels: { 'cutover.nokta.io/canary-phase': i.cp.metadata.name },
              owner: {
                apiVersion: 'cutover.nokta.io/v1alpha1',
                kind: 'CanaryPhase',
                name: i.cp.metadata.name,
                uid: i.cp.metadata.uid!,
              },
            },
          },
          ctx,
        ),
      };
    }),
  );
  const taken: TakenMeasurement[] = [];
  for (const { m, o } of outcomes) {
    if (isPending(o)) return undefined;
    taken.push({
      metric: m.name,
      result: o.result,
      reason: o.reason,
      at: o.at,
      ...(o.value !== undefined ? { value: o.value } : {}),
    });
  }
  return taken;
}
