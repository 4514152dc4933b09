/**
 * Noise learning as Diffy does it: the proxy also asks a second legacy backend; whatever differs
 * between the two legacy answers (request ids, generation times, random order) is noise. A
 * difference against the new stack is noise when the same path (or a parent of it) differed
 * between the legacy answers of the same request, or when its field has been noisy in at least
 * `minRate` of a route's last answers once `minSamples` were seen.
 */
import type { Difference } from './compare.js';

const MAX_FIELDS = 256;

interface RouteNoise {
  samples: number;
  fields: Map<string, number>;
}

export interface NoiseReport {
  route: string;
  samples: number;
  fields: { field: string; count: number; rate: number; noisy: boolean }[];
}

export class NoiseLearner {
  private readonly routes = new Map<string, RouteNoise>();
  constructor(
    private readonly minSamples: number,
    private readonly minRate: number,
  ) {}

  /** Records the differences between the two legacy answers of one request. */
  observe(route: string, legacyVsSecondary: readonly Difference[]): void {
    let r = this.routes.get(route);
    if (!r) this.routes.set(route, (r = { samples: 0, fields: new Map() }));
    r.samples++;
    const seen = new Set<string>();
    for (const d of legacyVsSecondary) {
      if (seen.has(d.field)) continue;
      seen.add(d.field);
      const n = r.fields.get(d.field);
      if (n !== undefined) r.fields.set(d.field, n + 1);
      else if (r.fields.size < MAX_FIELDS) r.fields.set(d.field, 1);
    }
  }

  /** Learned: the field differed between legacy answers often enough on this route. */
  isNoisyField(route: string, field: string): boolean {
    const r = this.routes.get(route);
    if (!r || r.samples < this.minSamples) return false;
    return (r.fields.get(field) ?? 0) / r.samples >= this.minRate;
  }

  report(): NoiseReport[] {
    return [...this.routes.entries()].map(([route, r]) => ({
      route,
      samples: r.samples,
      fields: [...r.fields.entries()]
        .map(([field, count]) => ({
          field,
          count,
          rate: count / r.samples,
          noisy: r.samples >= this.minSamples && count / r.samples >= this.minRate,
        }))
        .sort((a, b) => b.count - a.count),
    }));
  }
}

/** Splits legacy-vs-new differences into real ones and noise. */
export function splitNoise(
  route: string,
  differences: readonly Difference[],
  legacyVsSecondary: readonly Difference[] | undefined,
  learner: NoiseLearner | undefined,
): { real: Difference[]; noise: Difference[] } {
  if (!legacyVsSecondary && !learner) return { real: [...differences], noise: [] };
  const paths = new Set((legacyVsSecondary ?? []).map((d) => d.path));
  const real: Difference[] = [];
  const noise: Difference[] = [];
  for (const d of differences) {
    if (isCoveredBy(d.path, paths) || (learner?.isNoisyField(route, d.field) ?? false)) noise.push(d);
    else real.push(d);
  }
  return { real, noise };
}

function isCoveredBy(path: string, paths: ReadonlySet<string>): boolean {
  if (paths.size === 0) return false;
  if (paths.has(path)) return true;
  if (!path.startsWith('/')) return false;
  // A parent differed between the legacy answers: everything below it is noise too.
  if (paths.has('')) return true;
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1))
    if (paths.has(path.slice(0, i))) return true;
  return false;
}
