/**
 * URL path patterns and route templates, one syntax for both: `/orders/{id}/items` — a segment is
 * literal, `{name}` or `*` (exactly one segment), or `**` (any number of segments, also none; only
 * as the last segment). Route templates name the route in metrics, so a label has as many values
 * as there are templates, never one per order id.
 */

/** The schema's pattern for a path pattern or template (also checked by `compilePathPattern`). */
export const PATH_PATTERN_REGEX =
  "^/(([-A-Za-z0-9._~!$&'()+,;=:@%]+|\\{[A-Za-z_][A-Za-z0-9_]*\\}|\\*)/)*([-A-Za-z0-9._~!$&'()+,;=:@%]+|\\{[A-Za-z_][A-Za-z0-9_]*\\}|\\*|\\*\\*)?$";

export interface PathPattern {
  readonly text: string;
  /** Named parameters, in order (`{id}` → 'id'). */
  readonly params: readonly string[];
  /** Params of a matching path (decoded), or undefined when it does not match. */
  match(path: string): Record<string, string> | undefined;
  test(path: string): boolean;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compilePathPattern(text: string): PathPattern {
  if (!new RegExp(PATH_PATTERN_REGEX).test(text)) {
    throw new Error(
      `'${text}' is not a path pattern: write /segment/{param}/* with ** only at the end, like /orders/{id} or /api/**`,
    );
  }
  const params: string[] = [];
  const segs = text === '/' ? [''] : text.slice(1).split('/');
  let re = '^';
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === '**') {
      // `/api/**` matches /api, /api/ and /api/anything/below.
      re += '(?:/.*)?';
    } else if (seg === '*') {
      re += '/[^/]+';
    } else if (/^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(seg)) {
      params.push(seg.slice(1, -1));
      re += '/([^/]+)';
    } else {
      re += `/${escapeRegex(seg)}`;
    }
    if (last && seg !== '**') re += '/?';
  });
  re += '$';
  const regex = new RegExp(re);
  return {
    text,
    params,
    match(path) {
      const m = regex.exec(path);
      if (!m) return undefined;
      const out: Record<string, string> = {};
      params.forEach((p, i) => {
        const raw = m[i + 1]!;
        try {
          out[p] = decodeURIComponent(raw);
        } catch {
          out[p] = raw;
        }
      });
      return out;
    },
    test(path) {
      return regex.test(path);
    },
  };
}

/** The path part of a request target (`/a/b?x=1` → `/a/b`; absolute-form targets too). */
export function pathOf(target: string): string {
  let t = target;
  if (!t.startsWith('/')) {
    // absolute-form (a client talking to us as to a forward proxy): http://host/path?q
    const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/.exec(t);
    t = m ? m[1] || '/' : '/';
  }
  const q = t.search(/[?#]/);
  return q < 0 ? t : t.slice(0, q);
}
