/**
 * Reads a V8 heap snapshot (`node --heapsnapshot-signal`, `v8.writeHeapSnapshot`) and says what
 * the heap is made of:
 * - bytes by V8 node type (code, strings, objects, arrays, closures, …);
 * - code by origin: every function's SharedFunctionInfo with its bytecode, scope info and feedback
 *   metadata, its closures, and its script's source, summed per package (`pg`, `ajv`,
 *   `@kubernetes/client-node`, `src/runtime`, `node:internal`…): what loading a module costs;
 * - the largest object constructors (data: cached objects, maps, buffers' wrappers).
 */
import { readFileSync } from 'node:fs';

interface RawSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface HeapSummary {
  totalBytes: number;
  byType: Array<{ type: string; bytes: number; count: number }>;
  codeByOrigin: Array<{ origin: string; bytes: number; functions: number }>;
  topConstructors: Array<{ name: string; bytes: number; count: number }>;
}

/** `node_modules/@scope/pkg/...` → `@scope/pkg`; `dist/src/runtime/x.js` → `src/runtime`. */
export function originOf(url: string): string {
  if (!url) return '(anonymous)';
  if (url.startsWith('node:')) return url.startsWith('node:internal') ? 'node:internal' : url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  const dist = /\/dist\/((?:src|test|bench)\/[^/]+)/.exec(url);
  if (dist?.[1]) return dist[1].replace(/\.js$/, '');
  return url.length > 60 ? `…${url.slice(-59)}` : url;
}

export function summarizeHeapSnapshot(file: string, top = 12): HeapSummary {
  const s = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const meta = s.snapshot.meta;
  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const iType = meta.node_fields.indexOf('type');
  const iName = meta.node_fields.indexOf('name');
  const iSize = meta.node_fields.indexOf('self_size');
  const iEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const types = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const n = s.nodes.length / NF;
  const firstEdge = new Uint32Array(n + 1);
  for (let i = 0, e = 0; i < n; i++) {
    firstEdge[i] = e;
    e += (s.nodes[i * NF + iEdges] ?? 0) * EF;
    firstEdge[i + 1] = e;
  }
  const typeOf = (i: number): string => types[s.nodes[i * NF + iType] ?? 0] ?? '?';
  const nameOf = (i: number): string => s.strings[s.nodes[i * NF + iName] ?? 0] ?? '';
  const sizeOf = (i: number): number => s.nodes[i * NF + iSize] ?? 0;
  const edgesOf = function* (i: number): Generator<{ kind: string; name: string; to: number }> {
    for (let e = firstEdge[i] ?? 0; e < (firstEdge[i + 1] ?? 0); e += EF) {
      const kind = edgeTypes[s.edges[e + eType] ?? 0] ?? '';
      const raw = s.edges[e + eName] ?? 0;
      const name = kind === 'element' || kind === 'hidden' ? String(raw) : (s.strings[raw] ?? '');
      yield { kind, name, to: (s.edges[e + eTo] ?? 0) / NF };
    }
  };

  const byType = new Map<string, { bytes: number; count: number }>();
  const ctors = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let i = 0; i < n; i++) {
    const t = typeOf(i);
    const size = sizeOf(i);
    total += size;
    const bt = byType.get(t) ?? { bytes: 0, count: 0 };
    bt.bytes += size;
    bt.count++;
    byType.set(t, bt);
    if (t === 'object') {
      const c = ctors.get(nameOf(i)) ?? { bytes: 0, count: 0 };
      c.bytes += size;
      c.count++;
      ctors.set(nameOf(i), c);
    }
  }

  // Scripts: 'code' nodes with a 'source' edge, named by their URL.
  const scriptOrigin = new Map<number, string>();
  const originBytes = new Map<string, { bytes: number; functions: number }>();
  const add = (origin: string, bytes: number, fn = 0): void => {
    const o = originBytes.get(origin) ?? { bytes: 0, functions: 0 };
    o.bytes += bytes;
    o.functions += fn;
    originBytes.set(origin, o);
  };
  for (let i = 0; i < n; i++) {
    if (typeOf(i) !== 'code') continue;
    for (const e of edgesOf(i)) {
      if (e.name !== 'source') continue;
      const origin = originOf(nameOf(i));
      scriptOrigin.set(i, origin);
      add(origin, sizeOf(i) + sizeOf(e.to));
      break;
    }
  }
  // SharedFunctionInfos point to their script; their bytecode and metadata go with them.
  const sfiOrigin = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    if (typeOf(i) !== 'code') continue;
    let origin: string | undefined;
    const owned: number[] = [];
    for (const e of edgesOf(i)) {
      if (e.name === 'script_or_debug_info' || e.name === 'script') origin = scriptOrigin.get(e.to) ?? origin;
      else if (
        e.name === 'function_data' ||
        e.name === 'name_or_scope_info' ||
        e.name === 'raw_outer_scope_info_or_feedback_metadata'
      ) {
        if (typeOf(e.to) === 'code') owned.push(e.to);
      }
    }
    if (!origin) continue;
    sfiOrigin.set(i, origin);
    add(origin, sizeOf(i) + owned.reduce((a, j) => a + sizeOf(j), 0), 1);
  }
  for (let i = 0; i < n; i++) {
    if (typeOf(i) !== 'closure') continue;
    for (const e of edgesOf(i)) {
      if (e.name !== 'shared') continue;
      const origin = sfiOrigin.get(e.to);
      if (origin) add(origin, sizeOf(i));
      break;
    }
  }
  const sorted = <T extends { bytes: number }>(m: Map<string, T>): Array<[string, T]> =>
    [...m.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
  return {
    totalBytes: total,
    byType: sorted(byType).map(([type, v]) => ({ type, ...v })),
    codeByOrigin: sorted(originBytes)
      .slice(0, top)
      .map(([origin, v]) => ({ origin, ...v })),
    topConstructors: sorted(ctors)
      .slice(0, top)
      .map(([name, v]) => ({ name, ...v })),
  };
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
