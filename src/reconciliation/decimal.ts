/**
 * Exact decimal arithmetic for money: values travel as strings ("-1234.50"), are added as BigInt
 * scaled integers and never pass through a float. Variance (a ratio, not money) is a number.
 */

export interface Scaled {
  value: bigint;
  scale: number;
}

const DECIMAL = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Bounds of what parseDecimal accepts. PostgreSQL NUMERIC and MySQL DECIMAL values of real money
 * are far inside them; beyond them a value would cost seconds of BigInt work or gigabytes of
 * padding (`1e100000000`), so it is refused with an error instead.
 */
export const MAX_DECIMAL_DIGITS = 1000;
export const MAX_DECIMAL_EXPONENT = 1000;

/** The start of a long value, for messages. */
function shown(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}… (${text.length} characters)` : text;
}

/**
 * The integer a plain run of digits (with a sign) stands for, or undefined for anything else: a
 * point, an exponent, white space after it, or a prefix BigInt() would take (`0x1F`, `0b1`).
 */
function plainInteger(text: string): bigint | undefined {
  const last = text.charCodeAt(text.length - 1);
  if (!(last >= 48 && last <= 57) || text.charCodeAt(1) >= 65 || text.length > MAX_DECIMAL_DIGITS)
    return undefined;
  try {
    return BigInt(text);
  } catch {
    return undefined;
  }
}

/**
 * A database's decimal text as a scaled integer. The usual form (`-123.45`, `7`) is read by
 * BigInt on its digits with the point taken out; anything else goes through the full pattern.
 */
export function parseDecimal(text: string): Scaled {
  const dot = text.indexOf('.');
  if (dot < 0) {
    const value = plainInteger(text);
    if (value !== undefined) return { value, scale: 0 };
  } else if (
    text.indexOf('.', dot + 1) < 0 &&
    !(text.charCodeAt(dot + 1) < 48 || text.charCodeAt(dot + 1) > 57)
  ) {
    const value = plainInteger(text.slice(0, dot) + text.slice(dot + 1));
    if (value !== undefined) return { value, scale: text.length - dot - 1 };
  }
  return parseDecimalText(text);
}

function parseDecimalText(text: string): Scaled {
  const t = text.trim();
  // a first bound on the length (digits, sign, point, exponent): the pattern never sees a huge input
  if (t.length > MAX_DECIMAL_DIGITS + 16)
    throw new Error(
      `decimal '${shown(t)}' has more than ${MAX_DECIMAL_DIGITS} digits: a compared value must be a number of at most ${MAX_DECIMAL_DIGITS} digits`,
    );
  const m = DECIMAL.exec(t);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`not a decimal number: '${shown(text)}'`);
  const sign = m[1] === '-' ? -1n : 1n;
  let int = m[2] ?? '';
  let frac = m[3] ?? '';
  const exp = m[4] ? Number(m[4]) : 0;
  if (!(Math.abs(exp) <= MAX_DECIMAL_EXPONENT))
    throw new Error(
      `decimal '${shown(t)}' has an exponent beyond ±${MAX_DECIMAL_EXPONENT}: a compared value must be a number of at most ${MAX_DECIMAL_DIGITS} digits`,
    );
  if (int.length + frac.length > MAX_DECIMAL_DIGITS)
    throw new Error(
      `decimal '${shown(t)}' has more than ${MAX_DECIMAL_DIGITS} digits: a compared value must be a number of at most ${MAX_DECIMAL_DIGITS} digits`,
    );
  if (exp > 0) {
    const move = frac.slice(0, exp).padEnd(exp, '0');
    int += move;
    frac = frac.slice(exp);
  } else if (exp < 0) {
    const n = -exp;
    const padded = int.padStart(n, '0');
    frac = padded.slice(padded.length - n) + frac;
    int = padded.slice(0, padded.length - n);
  }
  const digits = (int + frac).replace(/^0+(?=\d)/, '') || '0';
  return { value: sign * BigInt(digits), scale: frac.length };
}

function rescale(a: Scaled, scale: number): bigint {
  return a.value * 10n ** BigInt(scale - a.scale);
}

export function formatScaled(a: Scaled): string {
  const neg = a.value < 0n;
  const abs = (neg ? -a.value : a.value).toString().padStart(a.scale + 1, '0');
  const body =
    a.scale === 0 ? abs : `${abs.slice(0, abs.length - a.scale)}.${abs.slice(abs.length - a.scale)}`;
  return neg ? `-${body}` : body;
}

/** Removes trailing fractional zeros ("10.50" → "10.5", "3.00" → "3"). */
export function normalizeDecimal(text: string): string {
  const a = parseDecimal(text);
  let { value, scale } = a;
  while (scale > 0 && value % 10n === 0n) {
    value /= 10n;
    scale--;
  }
  return formatScaled({ value, scale });
}

/** The exact sum of two scaled integers, at the larger scale. */
export function addScaled(x: Scaled, y: Scaled): Scaled {
  if (x.scale === y.scale) return { value: x.value + y.value, scale: x.scale };
  const scale = Math.max(x.scale, y.scale);
  return { value: rescale(x, scale) + rescale(y, scale), scale };
}

export function addDecimals(a: string, b: string): string {
  return formatScaled(addScaled(parseDecimal(a), parseDecimal(b)));
}

/** Integer text (`123`, or `123.0` as a sum may come back) → BigInt; a fraction is an error. */
export function parseInteger(text: string): bigint {
  const { value, scale } = parseDecimal(text);
  if (scale === 0) return value;
  const unit = 10n ** BigInt(scale);
  if (value % unit !== 0n) throw new Error(`not an integer: '${shown(text)}'`);
  return value / unit;
}

export function sumDecimals(values: Iterable<string>): string {
  let acc = '0';
  for (const v of values) acc = addDecimals(acc, v);
  return acc;
}

export function compareDecimals(a: string, b: string): number {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const scale = Math.max(x.scale, y.scale);
  const d = rescale(x, scale) - rescale(y, scale);
  return d === 0n ? 0 : d < 0n ? -1 : 1;
}

/**
 * |legacy − target| / |legacy| × 100, computed exactly and rounded to 6 decimals.
 * When legacy is 0: 0 if target is 0 too, else 100.
 */
export function variancePercent(legacy: string, target: string): number {
  const x = parseDecimal(legacy);
  const y = parseDecimal(target);
  const scale = Math.max(x.scale, y.scale);
  const l = rescale(x, scale);
  const t = rescale(y, scale);
  const diff = l > t ? l - t : t - l;
  if (l === 0n) return diff === 0n ? 0 : 100;
  const absL = l < 0n ? -l : l;
  // percent with 6 decimals, rounded half up
  const micro = (diff * 100_000_000n * 2n + absL) / (2n * absL);
  return Number(micro) / 1_000_000;
}

/** differing / total × 100 (0 when both are 0, 100 when only total is 0). */
export function ratioPercent(differing: number, total: number): number {
  if (total === 0) return differing === 0 ? 0 : 100;
  return Math.round((differing / total) * 100 * 1_000_000) / 1_000_000;
}
