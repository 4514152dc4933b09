/**
 * The mirror thread's entry (worker_threads): receives whole jobs from the proxy's main thread
 * (the request and legacy's complete answer), sends them to the new stack, compares and records
 * the results in metrics, samples and noise of its own (MirrorEngine), and tells the main thread
 * which jobs are done (batched), so the main thread's queue bound holds until then. With a nice
 * value it lowers its own priority (Linux: setpriority on the calling thread), so the legacy path
 * on the main thread wins the CPU.
 */
import { readlinkSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { ShadowMetrics } from './metrics.js';
import { MirrorEngine } from './mirror-engine.js';
import { bodyFromWire, type FromThread, type MirrorThreadData, type ToThread } from './mirror-wire.js';
import { compileRules } from './rules.js';

const port = parentPort;
if (!port) throw new Error('mirror-thread.js runs as a worker thread only');
const data = workerData as MirrorThreadData;

/** This thread's kernel id and nice value (Linux /proc), for the log and the tests. */
function threadSelf(): { tid: number | undefined; nice: number | undefined } {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { tid, nice: Number(fields[16]) };
  } catch {
    return { tid: undefined, nice: undefined };
  }
}

let niceError: string | undefined;
if (data.nice !== 0) {
  try {
    // pid 0: the calling thread on Linux (nice values are per thread there).
    setPriority(0, data.nice);
  } catch (err) {
    niceError = (err as Error).message;
  }
}

const rules = { ...compileRules(data.source), ...data.bounds };
const metrics = new ShadowMetrics({ defaultMetrics: false });
let done: number[] = [];
let flushing = false;
const engine = new MirrorEngine({
  rules,
  metrics,
  newUrl: data.newUrl,
  secondaryLegacyUrl: data.secondaryLegacyUrl,
  onDone: (id) => {
    done.push(id);
    if (flushing) return;
    flushing = true;
    setImmediate(flush);
  },
});
metrics.live = {
  service: rules.service,
  inFlight: () => engine.inFlight,
  bufferedBytes: () => engine.budget.used,
};

function state(): { bufferedBytes: number; inFlight: number; queued: number } {
  return { bufferedBytes: engine.budget.used, inFlight: engine.inFlight, queued: engine.queued };
}

function send(m: FromThread): void {
  port!.postMessage(m);
}

function flush(): void {
  flushing = false;
  if (done.length === 0) return;
  const ids = done;
  done = [];
  send({ type: 'done', ids, ...state() });
}

port.on('message', (m: ToThread) => {
  switch (m.type) {
    case 'jobs':
      for (const j of m.jobs)
        engine.submit({
          id: j.id,
          method: j.method,
          target: j.target,
          headers: j.headers,
          requestBody: j.requestBody ? Buffer.from(j.requestBody) : undefined,
          legacy: { ...j.legacy, body: bodyFromWire(j.legacy.body) },
        });
      return;
    case 'report':
      void metrics.registry.getMetricsAsJSON().then((json) =>
        send({
          type: 'report',
          id: m.id,
          report: {
            metrics: json,
            samples: {
              size: engine.samples.size,
              samples: engine.samples.recent(),
              firstOfEachField: engine.samples.firstExamples(),
            },
            noise: { enabled: engine.noise !== undefined, routes: engine.noise?.report() ?? [] },
            ...state(),
          },
        }),
      );
      return;
    case 'stop':
      void engine.close().then(() => {
        send({ type: 'stopped' });
        port.close();
      });
      return;
  }
});

send({ type: 'ready', ...threadSelf(), niceError });
