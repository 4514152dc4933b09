/** The pod runner (a stand-in for the kubelet) lives in src/devenv/ since the demo runs Jobs too. */
export * from '../../src/devenv/pod-runner.js';
