/**
 * The window a run compares, as a spec: what the run reads from outside its own spec is written
 * into the spec it runs with, so an inline run and the shard Jobs (which get the spec frozen in
 * their environment) compare the same rows.
 * - `window.until: frozenAt` becomes the referenced Cutover's status.frozenAt when it has one (left
 *   as is otherwise: the engine then ends the run as Error, naming the fix).
 * - The annotation `cutover.nokta.io/window: FROM/TO` (set by the Cutover to verify a replay over
 *   freeze .. rollback) replaces the window's ends while it is present.
 * Pure: no I/O.
 */
import { ANNOTATIONS, type Reconciliation, type ReconciliationSpec } from '../../api/index.js';

export class RunWindowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunWindowError';
  }
}

function instant(text: string, what: string): string {
  const d = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(d.getTime()))
    throw new RunWindowError(
      `annotation ${ANNOTATIONS.window}: ${what} '${text}' is not an RFC 3339 time (e.g. 2026-12-02T02:00:00Z)`,
    );
  return d.toISOString();
}

/** The spec this run compares; `frozenAt` is the referenced Cutover's status.frozenAt, if any. */
export function runSpec(
  recon: Pick<Reconciliation, 'spec' | 'metadata'>,
  frozenAt?: string,
): ReconciliationSpec {
  const spec = recon.spec;
  const annotation = recon.metadata.annotations?.[ANNOTATIONS.window];
  if (annotation !== undefined) {
    const parts = annotation.split('/');
    if (parts.length !== 2)
      throw new RunWindowError(
        `annotation ${ANNOTATIONS.window} must be FROM/TO (two RFC 3339 times), got '${annotation}'`,
      );
    if (!spec.window)
      throw new RunWindowError(
        `annotation ${ANNOTATIONS.window} needs spec.window.column: the timestamp column the window bounds`,
      );
    const from = instant(parts[0]!, 'FROM');
    const until = instant(parts[1]!, 'TO');
    if (Date.parse(from) >= Date.parse(until))
      throw new RunWindowError(
        `annotation ${ANNOTATIONS.window}: the window is empty (${from} is not before ${until})`,
      );
    const { last: _last, cutoverRef: _ref, ...rest } = spec.window;
    return { ...spec, window: { ...rest, from, until } };
  }
  if (spec.window?.until === 'frozenAt' && frozenAt && !Number.isNaN(Date.parse(frozenAt)))
    return { ...spec, window: { ...spec.window, until: new Date(frozenAt).toISOString() } };
  return spec;
}
