/**
 * Errors with a meaning for the runtime.
 *
 * - `TerminalError` (controller-runtime's `reconcile.TerminalError`): retrying cannot help (a spec
 *   the operator cannot act on). The runtime sets Stalled=True / Ready=False with the error's
 *   reason and message and does not retry; the next change of the object syncs it again.
 * - `ObjectDeletedError`: the reason `ctx.signal` aborts with when the object being synced is
 *   deleted mid-sync (its run is cancelled; the key is synced again and sees it gone).
 */

export class TerminalError extends Error {
  constructor(
    /** CamelCase condition reason, e.g. `InvalidSpec`. */
    readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export function isTerminalError(e: unknown): e is TerminalError {
  return e instanceof TerminalError;
}

export class ObjectDeletedError extends Error {
  constructor(readonly key: string) {
    super(`${key} was deleted`);
    this.name = 'ObjectDeletedError';
  }
}

/** The message of anything thrown, for status and logs. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e));
}
