/**
 * Sticky percentage bucketing, identical to flagd's `fractional` operator.
 *
 * flagd hashes `bucketBy` (here `flagKey + bucketingValue`) with 32-bit MurmurHash3 (seed 0) and
 * maps the unsigned hash onto the total weight: `bucket = (hash * totalWeight) >> 32`; the first
 * variant whose cumulative weight exceeds `bucket` wins. The operator always renders a percentage
 * as the two weights `on = round(percentage * 1000)` and `off = 100000 - on`, so the bucket of a
 * key does not depend on the percentage: a key that is in at 10 % stays in at 50 %.
 *
 * The hash runs over the UTF-8 bytes of the string, as flagd (Go) does. For ASCII keys (session
 * ids, user ids, tenant ids) this is also what @openfeature/flagd-core computes.
 */

/** Total weight of a rendered fractional split: percentages have a resolution of 0.001. */
export const BUCKET_SCALE = 100_000;

/** 32-bit MurmurHash3 (x86_32) of the UTF-8 bytes of `text`, unsigned. */
export function murmur3(text: string, seed = 0): number {
  const data = Buffer.from(text, 'utf8');
  const len = data.length;
  const nblocks = len >>> 2;
  let h1 = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  for (let i = 0; i < nblocks; i++) {
    const o = i * 4;
    let k1 = (data[o]! | (data[o + 1]! << 8) | (data[o + 2]! << 16) | (data[o + 3]! << 24)) >>> 0;
    k1 = Math.imul(k1, c1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, c2);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  const tail = nblocks * 4;
  const rem = len & 3;
  if (rem > 0) {
    let k1 = 0;
    if (rem === 3) k1 ^= data[tail + 2]! << 16;
    if (rem >= 2) k1 ^= data[tail + 1]! << 8;
    k1 ^= data[tail]!;
    k1 = Math.imul(k1, c1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, c2);
    h1 ^= k1;
  }
  h1 ^= len;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

/** Integer bucket 0..BUCKET_SCALE-1 of a key, as flagd computes it for a split of total BUCKET_SCALE. */
export function bucketIndex(flagKey: string, bucketingValue: string): number {
  const hash = BigInt(murmur3(`${flagKey}${bucketingValue}`));
  return Number((hash * BigInt(BUCKET_SCALE)) >> 32n);
}

/** Bucket of a key in percent, 0 ≤ b < 100 (resolution 0.001). */
export function bucketOf(flagKey: string, bucketingValue: string): number {
  return bucketIndex(flagKey, bucketingValue) / 1000;
}

/** Weight of the `on` variant for a percentage (0..100, 3 decimals). */
export function onWeight(percentage: number): number {
  if (!Number.isFinite(percentage) || percentage < 0 || percentage > 100) {
    throw new RangeError(`percentage must be within 0..100, got ${percentage}`);
  }
  return Math.round(percentage * 1000);
}

/** Whether a key falls in the rolled-out share: the same answer flagd's fractional gives. */
export function inRollout(flagKey: string, bucketingValue: string, percentage: number): boolean {
  return bucketIndex(flagKey, bucketingValue) < onWeight(percentage);
}
