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

/**
 * pino's isoTime, with the date and time to the second formatted once per second
 * rather than once per line: the same output, about 1 µs less per log line
 * (one access log line per request).
 */
export function isoTimeCachedPerSecond(clock: () => number = Date.now): () => string {
  let second = Number.NaN;
  let prefix = '';
  return () => {
    const now = clock();
    const nowSecond = Math.floor(now / 1000);
    if (nowSecond !== second) {
      second = nowSecond;
      prefix = new Date(nowSecond * 1000).toISOString().slice(0, 20); // "2026-11-25T17:37:33."
    }
    return `,"time":"${prefix}${String(now - nowSecond * 1000).padStart(3, '0')}Z"`;
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'keyport' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: isoTimeCachedPerSecond(),
  }, destination ?? pino.destination({ sync: false }));
}

/**
 * The access log: one line per request, of fields Keyport picks itself (method,
 * path without query, status, duration, key id: never a header, body or query
 * string). It skips the redaction pass, which copies every line it checks
 * (about a tenth of a token request's CPU), and writes to the same destination.
 */
export function createAccessLogger(log: Logger): Logger {
  const destination = (log as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym];
  return pino({ level: log.level, base: { service: 'keyport' }, timestamp: isoTimeCachedPerSecond() }, destination);
}
