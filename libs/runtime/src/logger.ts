// One pino logger per thread, bound to {app, thread}. Secrets never reach a log: known secret
// fields are redacted by path, and any string that carries an `access_token=` query parameter or a
// Bearer header is scrubbed before it is written.
import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

const SECRET_PATHS = [
  'apiKey',
  'password',
  'token',
  'newToken',
  'accessToken',
  'authorization',
  '*.apiKey',
  '*.password',
  '*.token',
  '*.newToken',
  '*.accessToken',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'broker.apiKey',
  'config.broker.apiKey',
];

const TOKEN_IN_URL = /(access_token=)[^&\s"']+/gi;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;

/** Replace tokens in URLs and Bearer headers inside a string. */
export function redactSecrets(text: string): string {
  return text.replace(TOKEN_IN_URL, '$1[REDACTED]').replace(BEARER, '$1[REDACTED]');
}

export interface LoggerSetup {
  app: string;
  /** `main`, `worker-<id>`, … */
  thread: string;
  level?: string;
  /** Where to write (tests pass a stream); default: stdout (fd 1). */
  destination?: pino.DestinationStream;
}

export function createLogger(setup: LoggerSetup): Logger {
  const options: LoggerOptions = {
    level: setup.level ?? 'info',
    base: { app: setup.app, thread: setup.thread },
    redact: { paths: SECRET_PATHS, censor: '[REDACTED]' },
    hooks: {
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++) {
          const a = args[i];
          if (typeof a === 'string') args[i] = redactSecrets(a);
          else if (a instanceof Error && a.message) a.message = redactSecrets(a.message);
        }
        return method.apply(this, args as Parameters<typeof method>);
      },
    },
    formatters: {
      log(obj) {
        for (const k of Object.keys(obj)) {
          const v = obj[k];
          if (typeof v === 'string' && (v.includes('access_token=') || v.includes('Bearer '))) obj[k] = redactSecrets(v);
        }
        return obj;
      },
    },
  };
  return pino(options, setup.destination ?? pino.destination({ fd: 1, sync: false }));
}
