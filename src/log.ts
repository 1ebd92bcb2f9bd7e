// Structured JSON logs. Secrets, tokens and credentials are redacted by path,
// and Keyport never passes request bodies or Authorization headers to a log call.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.client_secret',
  '*.secret',
  '*.access_token',
  '*.token',
  '*.password',
  '*.pepper',
  '*.keyEncryptionKey',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'keyport' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  }, destination ?? pino.destination({ sync: false }));
}
