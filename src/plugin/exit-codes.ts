/**
 * The exit codes of `kubectl cutover`, stable so a pipeline can branch on them:
 *   0 done (status: the object is healthy, progressing or waiting);
 *   1 an unexpected error (the API server refused, the network failed);
 *   2 wrong usage (unknown command or flag, a missing argument);
 *   3 the object (or its report) does not exist;
 *   4 the command does not apply to that object (promote on a Cutover, an unknown step);
 *   5 status: the object is degraded (rolled back, failed, aborted, stalled).
 */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  notFound: 3,
  notApplicable: 4,
  degraded: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that ends the command with a given exit code and a message for stderr. */
export class PluginError extends Error {
  constructor(
    readonly code: ExitCode,
    message: string,
  ) {
    super(message);
  }
}
