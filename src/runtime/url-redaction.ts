/**
 * URLs without their credentials, whatever the URL looks like. A password with an unencoded `/`,
 * `#`, `?` or `@` makes a URL parser see a different host, path or fragment, so the credentials
 * are found without parsing: the userinfo is everything between `//` and the last `@` of the URL
 * (the same line, before another `scheme://`). Used by the logger, the status writer and Events
 * (through `redactText`) and by the database connections for their labels and errors.
 */

const SCHEME = '[a-z][a-z0-9+.-]*://';
/** scheme://, then the longest run on the same line, not crossing another scheme://, up to an @. */
const WITH_USERINFO = new RegExp(`(${SCHEME})((?:(?!${SCHEME})[^\\n\\r])*)@`, 'gi');
const PLAIN_USER = /^[A-Za-z0-9._~%+-]+:/;

/**
 * Replaces the userinfo of every URL in `text`: `scheme://user:***@` when the user name is plain,
 * else `scheme://***@`. Text between the `//` and the last `@` never survives.
 */
export function redactUrls(text: string): string {
  return text.replace(WITH_USERINFO, (_m, scheme: string, userinfo: string) => {
    const user = PLAIN_USER.exec(userinfo)?.[0];
    return `${scheme}${user ?? ''}***@`;
  });
}

export interface UrlParts {
  scheme: string;
  /** host[:port] as written, without userinfo. */
  host: string;
  /** The path (e.g. /dbname), without query or fragment. */
  path: string;
  /** True when the URL has userinfo (user and/or password). */
  hasUserinfo: boolean;
}

/**
 * The parts of a connection URL without parsing its userinfo, or a reason it cannot be used that
 * never quotes the URL. A userinfo character that a URL parser would read as the end of the
 * authority (`/ ? # @`, or a blank) must be percent-encoded, else the driver would connect to a
 * host made of the password.
 */
export function splitConnectionUrl(url: string): UrlParts | { problem: string } {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is.exec(url.trim());
  if (!m) return { problem: 'it does not start with scheme:// (e.g. postgres://user:password@host:5432/db)' };
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  const at = rest.lastIndexOf('@');
  const userinfo = at >= 0 ? rest.slice(0, at) : '';
  const afterUserinfo = at >= 0 ? rest.slice(at + 1) : rest;
  if (/[/?#@\s]/.test(userinfo))
    return {
      problem:
        'its user name or password contains a character that must be percent-encoded (/ as %2F, ? as %3F, # as %23, @ as %40, a blank as %20)',
    };
  const end = afterUserinfo.search(/[/?#]/);
  const host = end < 0 ? afterUserinfo : afterUserinfo.slice(0, end);
  if (host === '' || /\s/.test(host))
    return { problem: 'it has no host (e.g. postgres://user:password@host:5432/db)' };
  const tail = end < 0 ? '' : afterUserinfo.slice(end);
  const pathEnd = tail.search(/[?#]/);
  const path = pathEnd < 0 ? tail : tail.slice(0, pathEnd);
  return { scheme, host, path, hasUserinfo: at >= 0 };
}
