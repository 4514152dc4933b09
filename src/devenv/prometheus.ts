/**
 * Prometheus from Debian's package, started by the tests and the demo that need it on a free loopback port,
 * scraping the targets they give (usually a `startTestExporter()` server).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { freePort, startProcess, stopProcess, waitFor, type ManagedProcess } from './processes.js';

export interface TestPrometheus {
  url: string;
  /** Runs an instant query and returns its vector result. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Waits until every target has been scraped successfully at least once. */
  waitForTargets(): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<TestPrometheus>();

export async function startPrometheus(opts: {
  targets: string[];
  scrapeIntervalSeconds?: number;
}): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-prom-'));
  const port = await freePort();
  const interval = `${opts.scrapeIntervalSeconds ?? 1}s`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: interval, evaluation_interval: interval },
      scrape_configs: [{ job_name: 'test', static_configs: [{ targets: opts.targets }] }],
    }),
  );
  const proc: ManagedProcess = startProcess(
    'prometheus',
    '/usr/bin/prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    join(dir, 'prometheus.log'),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'prometheus /-/ready',
    async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
    30_000,
  );
  const prom: TestPrometheus = {
    url,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (body.status !== 'success') throw new Error(`prometheus query failed: ${body.error ?? res.status}`);
      return body.data?.result ?? [];
    },
    async waitForTargets() {
      await waitFor(
        'prometheus targets up',
        async () => {
          const res = await fetch(`${url}/api/v1/targets`);
          const body = (await res.json()) as { data: { activeTargets: Array<{ health: string }> } };
          const t = body.data.activeTargets;
          return t.length === opts.targets.length && t.every((x) => x.health === 'up') ? true : undefined;
        },
        30_000,
        250,
      );
    },
    async stop() {
      running.delete(prom);
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(prom);
  return prom;
}

export async function stopAllPrometheus(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

export interface TestExporter {
  registry: Registry;
  /** host:port to put in a scrape config. */
  target: string;
  stop(): Promise<void>;
}

/** An HTTP server exposing `registry` at /metrics, for Prometheus to scrape. */
export async function startTestExporter(registry = new Registry()): Promise<TestExporter> {
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    registry,
    target: `127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
