/**
 * How one leaf value is read under a rule: numbers within a tolerance or rounded to a scale (exact
 * decimal arithmetic on the shortest text of each double, so 10.05 − 10.04 is 0.01, not
 * 0.010000000000000009), timestamps as instants in microseconds, strings normalized.
 */
import { parseDecimal, formatScaled, type Scaled } from '../reconciliation/decimal.js';

// ------------------------------------------------------------------------------------ numbers

/** A JSON number, or with acceptStrings a string holding one; undefined otherwise. */
export function readNumber(v: unknown, acceptStrings: boolean): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (acceptStrings && typeof v === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(v))
    return v.trim();
  return undefined;
}

function align(a: Scaled, scale: number): bigint {
  return a.value * 10n ** BigInt(scale - a.scale);
}

/** Rounds half away from zero to `scale` decimals, exactly. */
export function roundDecimal(text: string, scale: number): string {
  const a = parseDecimal(text);
  if (a.scale <= scale) return formatScaled({ value: align(a, scale), scale });
  const div = 10n ** BigInt(a.scale - scale);
  const neg = a.value < 0n;
  const abs = neg ? -a.value : a.value;
  let q = abs / div;
  if ((abs % div) * 2n >= div) q += 1n;
  return formatScaled({ value: neg ? -q : q, scale });
}

/** |a − b| <= tolerance, exactly. */
export function withinTolerance(a: string, b: string, tolerance: number): boolean {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const t = parseDecimal(String(tolerance));
  const scale = Math.max(x.scale, y.scale, t.scale);
  let d = align(x, scale) - align(y, scale);
  if (d < 0n) d = -d;
  return d <= align(t, scale);
}

export function decimalsEqual(a: string, b: string): boolean {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const scale = Math.max(x.scale, y.scale);
  return align(x, scale) === align(y, scale);
}

// --------------------------------------------------------------------------------- timestamps

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

const zoneFormatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of an IANA zone (or ±hh:mm, UTC) at an instant, in minutes east of UTC. */
export function zoneOffsetMinutes(zone: string, epochMs: number): number {
  if (zone === 'UTC' || zone === 'Z') return 0;
  const fixed = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (fixed) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3]));
  let f = zoneFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    zoneFormatters.set(zone, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(epochMs)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day, parts.hour, parts.minute, parts.second);
  return Math.round((wall - Math.floor(epochMs / 1000) * 1000) / 60_000);
}

/**
 * Microseconds since the epoch of an ISO 8601 / RFC 3339 / SQL timestamp (`2026-12-01T02:00:00Z`,
 * `2026-12-01 05:00:00.123456+03:00`, `2026-12-01 05:00:00` in `assumeZone`), or of an epoch
 * number (`epoch` unit). Undefined when the value is no timestamp.
 */
export function readInstantMicros(
  v: unknown,
  o: { assumeZone?: string; epoch?: 'Seconds' | 'Milliseconds' } = {},
): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v))
    return Math.round(o.epoch === 'Seconds' ? v * 1e6 : v * 1e3);
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  if (/^\d{9,13}$/.test(t)) return readInstantMicros(Number(t), o);
  const m = ISO.exec(t);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60)
    return undefined;
  const wallMs = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s));
  if (Number.isNaN(wallMs)) return undefined;
  const micros = Number(frac.padEnd(6, '0').slice(0, 6));
  let offset: number;
  if (zone) {
    offset = zoneOffsetMinutes(
      zone.toUpperCase() === 'Z' ? 'UTC' : zone.length === 3 ? `${zone}:00` : zone,
      0,
    );
  } else {
    const z = o.assumeZone ?? 'UTC';
    // The offset at the wall time read as UTC, corrected once: exact except inside a DST gap.
    const first = zoneOffsetMinutes(z, wallMs);
    offset = zoneOffsetMinutes(z, wallMs - first * 60_000);
  }
  return (wallMs - offset * 60_000) * 1000 + micros;
}

// ------------------------------------------------------------------------------------ strings

export function normalizeString(
  s: string,
  r: { trim?: boolean; ignoreCase?: boolean; collapseWhitespace?: boolean },
): string {
  let out = s;
  if (r.collapseWhitespace) out = out.replace(/\s+/g, ' ');
  if (r.trim) out = out.trim();
  if (r.ignoreCase) out = out.toLowerCase();
  return out;
}
