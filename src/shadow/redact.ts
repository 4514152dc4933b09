/**
 * What samples never show: values of configured headers (and Authorization, Cookie, Set-Cookie,
 * Proxy-Authorization always), of body fields matched by the redact patterns or whose key names a
 * credential (password, token, secret...), and of query parameters that carry credentials.
 */
import type { CompiledRules } from './rules.js';
import { ALWAYS_REDACTED_QUERY } from './rules.js';
import { parsePointer, type PointerMatcher, type States } from './json-pointer.js';

export const REDACTED = '***';
const CREDENTIAL_KEY =
  /passw(or)?d|passwd|secret|token|api[_-]?key|authorization|credential|private[_-]?key/i;

export function redactHeaderValue(rules: CompiledRules, name: string, value: unknown): unknown {
  return rules.redactHeaders.has(name.toLowerCase()) && value !== undefined ? REDACTED : value;
}

/** Request target with credential-like and configured query parameters masked. */
export function redactTarget(rules: CompiledRules, target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return target;
  const params = target
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const rawName = pair.slice(0, eq);
      let n = rawName;
      try {
        n = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // keep the raw name
      }
      return rules.redactQuery.has(n.toLowerCase()) || ALWAYS_REDACTED_QUERY.test(n)
        ? `${rawName}=${REDACTED}`
        : pair;
    });
  return `${target.slice(0, q)}?${params.join('&')}`;
}

/** The value at `pointer` of a body, with every redacted field below it masked. */
export function redactBodyValue(matcher: PointerMatcher<true>, pointer: string, value: unknown): unknown {
  let states: States = matcher.start();
  const segs = pointer === '' ? [] : parsePointer(pointer);
  for (const s of segs) {
    if (matcher.matchesHere(states) || CREDENTIAL_KEY.test(s))
      return value === undefined ? undefined : REDACTED;
    states = matcher.step(states, s);
  }
  return deep(matcher, states, value);
}

function deep(matcher: PointerMatcher<true>, states: States, value: unknown): unknown {
  if (value === undefined) return undefined;
  if (matcher.matchesHere(states)) return REDACTED;
  if (Array.isArray(value)) return value.map((v, i) => deep(matcher, matcher.step(states, String(i)), v));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = CREDENTIAL_KEY.test(k) ? REDACTED : deep(matcher, matcher.step(states, k), v);
    return out;
  }
  return value;
}
