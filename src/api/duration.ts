/**
 * The one duration grammar of the project: spec fields (`window.last: 90d`, `interval: 1h`,
 * `keepLegacyHotFor: 48h`), offsets (`+4h`), operator flags (`--lease-duration 15s`) and the
 * reconciliation engine all parse durations here, and the CRDs check them with the pattern built
 * from the same table, so what `kubectl apply` accepts is exactly what the operator can use.
 *
 * A duration is one or more `<whole number><unit>` parts, units from largest to smallest, each at
 * most once — the form Go's `time.Duration.String()` writes, plus days and weeks: `2w`, `90d`,
 * `1d12h`, `1h30m`, `500ms`. Every unit has a digit limit, so the longest duration (about 140
 * years) stays far inside what a JavaScript Date and both databases can hold: a window of
 * `999999w` would end before year 1 and is refused with the format message.
 *
 * This module is a leaf (it imports nothing), so the runtime and the engine can use it without
 * loading the schemas.
 */

/** Units from largest to smallest: milliseconds each, and the most digits a part may have. */
export const DURATION_UNITS: readonly { unit: string; ms: number; digits: number }[] = [
  { unit: 'w', ms: 604_800_000, digits: 3 },
  { unit: 'd', ms: 86_400_000, digits: 4 },
  { unit: 'h', ms: 3_600_000, digits: 5 },
  { unit: 'm', ms: 60_000, digits: 7 },
  { unit: 's', ms: 1_000, digits: 9 },
  { unit: 'ms', ms: 1, digits: 12 },
];

const BODY = DURATION_UNITS.map((u) => `([0-9]{1,${u.digits}}${u.unit})?`).join('');

/**
 * RE2- and ECMAScript-compatible pattern of an unsigned duration. It also matches the empty
 * string: schemas pair it with `minLength: 1` (a regular expression without look-ahead cannot
 * say "at least one part" without repeating the units).
 */
export const DURATION_PATTERN = `^${BODY}$`;
/** A signed offset from a reference time: `+4h`, `-30m`, `+1d12h`. */
export const OFFSET_PATTERN = `^[+-]${BODY}$`;

/** The fix, for messages: what a duration looks like. */
export const DURATION_FORMAT =
  'whole numbers with the units w, d, h, m, s or ms, largest unit first, each unit once (at most 999w, 9999d or 99999h)';

/** Thrown for text that is not a duration; the message says what one looks like. */
export class DurationError extends Error {
  constructor(
    readonly text: string,
    what: 'duration' | 'offset' = 'duration',
  ) {
    super(
      what === 'offset'
        ? `'${text}' is not an offset: an offset must look like +4h, +24h or -30m: a sign, then ${DURATION_FORMAT}`
        : `'${text}' is not a duration: a duration must look like 90d, 12h, 30m or 1h30m: ${DURATION_FORMAT}`,
    );
    this.name = 'DurationError';
  }
}

const UNSIGNED = new RegExp(DURATION_PATTERN);

function parseBody(body: string): number | undefined {
  if (body === '') return undefined;
  const m = UNSIGNED.exec(body);
  if (!m) return undefined;
  let total = 0;
  DURATION_UNITS.forEach((u, i) => {
    const part = m[i + 1];
    if (part !== undefined) total += Number(part.slice(0, part.length - u.unit.length)) * u.ms;
  });
  return total;
}

/** `90d` → milliseconds. Throws DurationError for anything else (signs included). */
export function parseDuration(text: string): number {
  const ms = parseBody(text);
  if (ms === undefined) throw new DurationError(text);
  return ms;
}

/** `+4h` → 14 400 000, `-30m` → -1 800 000. The sign is required. */
export function parseOffset(text: string): number {
  const sign = text[0];
  const ms = sign === '+' || sign === '-' ? parseBody(text.slice(1)) : undefined;
  if (ms === undefined) throw new DurationError(text, 'offset');
  return sign === '-' ? -ms : ms;
}

/** True when `text` is a duration (unsigned). */
export function isDuration(text: string): boolean {
  return parseBody(text) !== undefined;
}

/** True when `text` is a signed offset. */
export function isOffset(text: string): boolean {
  return (text[0] === '+' || text[0] === '-') && parseBody(text.slice(1)) !== undefined;
}

/**
 * Milliseconds → the canonical text (`5400000` → `1h30m`, `0` → `0s`), which parseDuration reads
 * back: a unit holds at most its digit limit, the rest goes to the smaller units.
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`cannot format ${ms} ms as a duration`);
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const u of DURATION_UNITS) {
    const n = Math.min(Math.floor(rest / u.ms), 10 ** u.digits - 1);
    if (n > 0) {
      out += `${n}${u.unit}`;
      rest -= n * u.ms;
    }
  }
  if (rest > 0) throw new RangeError(`${ms} ms is longer than the longest duration`);
  return out;
}
