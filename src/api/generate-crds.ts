#!/usr/bin/env node
/** `npm run generate`: writes crds/<plural>.cutover.nokta.io.yaml from src/api. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderCrdFiles } from './render-crds.js';
import { ARGOCD_CM_FILE, renderArgocdCm } from './render-argocd.js';

export function generate(dir = 'crds'): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [file, text] of Object.entries(renderCrdFiles())) {
    writeFileSync(join(dir, file), text);
    written.push(join(dir, file));
  }
  return written;
}

/** Writes deploy/argocd/argocd-cm-health.yaml from the Lua health checks. */
export function generateArgocd(dir = join('deploy', 'argocd')): string {
  const file = join(dir, ARGOCD_CM_FILE);
  writeFileSync(file, renderArgocdCm(join(dir, 'health')));
  return file;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const f of generate(process.argv[2] ?? 'crds')) process.stdout.write(`wrote ${f}\n`);
  process.stdout.write(`wrote ${generateArgocd()}\n`);
}
