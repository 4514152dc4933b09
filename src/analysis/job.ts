/**
 * Job provider: a measurement runs a Job (e.g. the scripted order journey of the POS, call
 * center, customer and driver apps) and its success or failure is the result, like Argo Rollouts'
 * job metric. The Job's name comes from the metric and the measurement id, so a call after a
 * crash adopts the Job already started instead of running it twice. While it runs, the outcome
 * is Pending; the caller measures again when the Job changes (it watches its Jobs).
 */
import { JobActuator, jobObservation } from '../actuators/workloads/jobs.js';
import type { JobTemplateInput } from '../actuators/types.js';
import type { KubeClient } from '../runtime/kube-client.js';
import type { AnalysisProvider, MeasureContext, MeasureOutcome } from './types.js';

export interface JobMetric {
  /** Metric name (part of the Job's name). */
  name: string;
  /** The Job to run; `step` and `attempt` are set by the provider. */
  template: Omit<JobTemplateInput, 'step' | 'attempt' | 'name'>;
}

export const JOB_METRIC_LABEL = 'cutover.nokta.io/analysis-metric';

export function jobTemplateFor(metric: JobMetric, measurementId: string): JobTemplateInput {
  const attempt = Number(measurementId);
  return {
    ...metric.template,
    step: `analysis-${metric.name}`,
    ...(Number.isInteger(attempt) && attempt >= 0 ? { attempt } : { attempt: hashId(measurementId) }),
    labels: { ...metric.template.labels, [JOB_METRIC_LABEL]: metric.name },
  };
}

function hashId(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}

export class JobProvider implements AnalysisProvider<JobMetric> {
  private readonly jobs: JobActuator;
  constructor(client: KubeClient) {
    this.jobs = new JobActuator(client);
  }

  async measure(metric: JobMetric, ctx: MeasureContext): Promise<MeasureOutcome> {
    const at = ctx.now.toISOString();
    if (ctx.measurementId === undefined)
      return { result: 'Error', reason: 'a Job measurement needs a measurement id', at };
    const { name, job } = await this.jobs.ensureJob(jobTemplateFor(metric, ctx.measurementId));
    const ns = metric.template.namespace;
    const obs = await this.jobs.withPodFailure(ns, jobObservation(job));
    if (obs.state === 'Running') return { pending: true, reason: `Job ${ns}/${name} running`, at };
    if (obs.state === 'Succeeded')
      return { value: 1, result: 'Successful', reason: `Job ${ns}/${name} succeeded`, at };
    const pod = obs.podFailure;
    const detail = pod
      ? `pod ${pod.pod}${pod.exitCode !== undefined ? ` exit code ${pod.exitCode}` : ''}${pod.message ? `: ${pod.message.slice(0, 256)}` : pod.reason ? `: ${pod.reason}` : ''}`
      : (obs.message ?? obs.reason ?? 'failed');
    return { value: 0, result: 'Failed', reason: `Job ${ns}/${name} failed: ${detail}`, at };
  }
}
