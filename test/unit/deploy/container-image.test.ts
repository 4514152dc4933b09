/**
 * deploy/Dockerfile and .dockerignore (no container runtime runs here, so the image is not built
 * by the tests): multi-stage, the final stage non-root with production dependencies only, and
 * every package the shipped code (dist/src) imports at run time is a production dependency, so
 * the `npm ci --omit=dev` stage is enough; the build context holds what the Dockerfile copies and
 * nothing local (node_modules, dist, caches, .git).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

interface Stage {
  name: string;
  lines: string[];
}

function stages(dockerfile: string): Stage[] {
  const out: Stage[] = [];
  const text = dockerfile.replace(/\\\n/g, ' ');
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) out.push({ name: from[1] ?? `stage-${out.length}`, lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

/** Whether .dockerignore keeps `path` in the build context (the last matching rule decides). */
function inContext(rules: string[], path: string): boolean {
  let kept = true;
  for (const rule of rules) {
    const negated = rule.startsWith('!');
    const p = (negated ? rule.slice(1) : rule).replace(/\/$/, '');
    const matches =
      p === '*'
        ? true
        : p.startsWith('**/')
          ? path.endsWith(p.slice(p.lastIndexOf('*') + 1))
          : path === p || path.startsWith(`${p}/`);
    if (matches) kept = negated;
  }
  return kept;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

describe('deploy: container image', () => {
  const dockerfile = readFileSync('deploy/Dockerfile', 'utf8');
  const all = stages(dockerfile);
  const final = all.at(-1)!;

  it('is multi-stage; the final stage runs as a non-root user with NODE_ENV=production', () => {
    assert.ok(all.length >= 2, 'several stages');
    const user = final.lines.filter((l) => /^USER\s/.test(l)).at(-1);
    assert.ok(user, 'the final stage sets USER');
    const uid = Number.parseInt(user.split(/\s+/)[1]!.split(':')[0]!, 10);
    assert.ok(
      Number.isInteger(uid) && uid > 0,
      `${user}: a numeric non-root uid (runAsNonRoot can check it)`,
    );
    assert.ok(final.lines.some((l) => /^ENV\s.*NODE_ENV=production/.test(l)));
  });

  it('copies into the final stage only the production dependencies and the compiled dist/src', () => {
    assert.ok(!final.lines.some((l) => /^RUN\s/.test(l)), 'nothing is installed in the final stage');
    const nodeModules = final.lines.find((l) => /^COPY\s.*node_modules/.test(l));
    assert.ok(nodeModules, 'node_modules copied from a stage');
    const from = /--from=(\S+)/.exec(nodeModules)?.[1];
    const stage = all.find((s) => s.name === from);
    assert.ok(stage, `stage ${from}`);
    assert.ok(
      stage.lines.some((l) => /^RUN\s+npm ci\b.*--omit=dev/.test(l)),
      `stage ${from} installs with npm ci --omit=dev`,
    );
    for (const l of final.lines.filter((x) => /^COPY\s/.test(x)))
      assert.doesNotMatch(
        l,
        /\s(src|test|bench)\s|\/test\b|\.ts\b/,
        `${l}: no sources or tests in the image`,
      );
  });

  it('every package dist/src imports at run time is a production dependency', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    const builtins = new Set(builtinModules);
    const missing = new Set<string>();
    for (const file of sourceFiles('src')) {
      const text = readFileSync(file, 'utf8');
      const specifiers = [
        ...[...text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!),
        ...[...text.matchAll(/^import\s+'([^']+)'/gm)].map((m) => m[1]!),
        ...[...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
      ];
      for (const s of specifiers) {
        if (s.startsWith('.') || s.startsWith('node:') || builtins.has(s)) continue;
        if (!(packageName(s) in pkg.dependencies)) missing.add(`${packageName(s)} (${file})`);
      }
    }
    assert.deepEqual([...missing], [], 'imported by shipped code but not in dependencies');
  });

  it('.dockerignore keeps what the Dockerfile copies and leaves out local builds, caches and .git', () => {
    const rules = readFileSync('.dockerignore', 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const copied = all
      .flatMap((s) => s.lines)
      .filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    assert.ok(copied.length >= 5, copied.join(' '));
    for (const p of copied)
      assert.ok(inContext(rules, p.replace(/^\.\//, '')), `${p} is in the build context`);
    for (const p of ['node_modules', 'dist', '.cache', '.git', 'coverage', 'test/fixtures', 'npm-debug.log'])
      assert.ok(!inContext(rules, p), `${p} stays out of the build context`);
  });
});
