/**
 * Structured JSON logging (pino) with secret redaction.
 *
 * Every module logs through `createLogger(component)`. Values under keys that name credentials
 * (password, token, secret, authorization, url with userinfo…) are replaced before they are
 * written, so a spec, a connection config or an error object can be logged without leaking.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactUrls } from './url-redaction.js';

export type { Logger } from 'pino';

/** Paths pino censors wherever they appear (one and two levels deep). */
const REDACT_KEYS = [
  'password',
  'passwd',
  'token',
  'secret',
  'authorization',
  'apiKey',
  'webhookUrl',
  'connectionString',
  'bearerToken',
];

const redactPaths = REDACT_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/**
 * Removes the credentials of `scheme://user:password@host` URLs inside free text, however
 * malformed: everything between `//` and the last `@` (url-redaction.ts).
 */
export function redactText(text: string): string {
  return redactUrls(text);
}

/**
 * redactText plus `key=value` / `key: value` / `"key":"value"` pairs whose key names a credential
 * (password, token, secret…). For free text that leaves the process: Events, status messages.
 */
export function redactSecrets(text: string): string {
  const keys = 'password|passwd|pwd|token|secret|authorization|api[_-]?key|bearer';
  return redactText(text)
    .replace(/\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1***')
    .replace(new RegExp(`("(?:[a-z_-]*(?:${keys}))"\\s*:\\s*)"[^"]*"`, 'gi'), '$1"***"')
    .replace(new RegExp(`\\b((?:[a-z_-]*(?:${keys}))\\s*[=:]\\s*)(?!\\*\\*\\*)[^\\s,;&"']+`, 'gi'), '$1***');
}

let root: Logger | undefined;

function rootLogger(): Logger {
  if (!root) {
    const options: LoggerOptions = {
      level: process.env.LOG_LEVEL ?? 'info',
      base: { app: 'cutover-operator' },
      redact: { paths: redactPaths, censor: '***' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          const redacted = args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as typeof args;
          method.apply(this, redacted);
        },
      },
      serializers: {
        err: (e: unknown) => {
          const s = pino.stdSerializers.err(e as Error);
          // every string field, not only message and stack: Node's URL errors carry the URL in `input`
          return Object.fromEntries(
            Object.entries(s).map(([k, v]) => [k, typeof v === 'string' ? redactText(v) : v]),
          ) as typeof s;
        },
      },
    };
    root = pino(options, pino.destination({ fd: process.env.LOG_FD === '1' ? 1 : 2, sync: true }));
  }
  return root;
}

/** A child logger tagged with the component's name. */
export function createLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLogger().child({ component, ...bindings });
}
