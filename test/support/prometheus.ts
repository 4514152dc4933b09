/** Prometheus and the test exporter live in src/devenv/ since the demo starts them too. */
export * from '../../src/devenv/prometheus.js';
