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

/**
 * Log lines are buffered and written by libuv's thread pool in blocks of at
 * least LOG_BLOCK_BYTES, at least every LOG_FLUSH_MS, and when the process stops
 * (flushLog). One write per line (what pino does by default) put a thread-pool
 * job on every request, and WebCrypto signs tokens on the same pool: measured on
 * the token endpoint at 32 connections, Keyport answered 0.72 of bare
 * oidc-provider's rate with a write per line, 0.83 with no access log at all,
 * about 0.80 with blocks. A block is at most LOG_WRITE_MAX_BYTES, made of whole
 * lines: PIPE_BUF on Linux, the most one write to a pipe puts in at once, so
 * the lines of cluster workers that share stdout never interleave. A kill -9
 * loses at most the last LOG_FLUSH_MS of lines.
 */
const LOG_BLOCK_BYTES = 2048;
const LOG_WRITE_MAX_BYTES = 4096;
const LOG_FLUSH_MS = 250;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'keyport' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: isoTimeCachedPerSecond(),
  }, destination ?? pino.destination({ sync: false, minLength: LOG_BLOCK_BYTES, maxWrite: LOG_WRITE_MAX_BYTES, periodicFlush: LOG_FLUSH_MS }));
}

/** How long a stopping process waits for its log lines to be written (a log reader that never reads must not hold up a stop forever). */
const FLUSH_ON_STOP_MS = 5_000;

/**
 * Writes every buffered log line and waits until they are written: a process
 * about to exit calls it, since pino's own exit handler can only try once, and
 * a pipe that is full at that moment (a slow log collector) dropped the lines
 * still buffered (test: cluster mode with an unread stdout).
 */
export function flushLog(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, FLUSH_ON_STOP_MS);
    timer.unref();
    log.flush(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** One access log entry: fields Keyport picks itself, never a header, body or query string. */
export interface AccessEntry {
  requestId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
  clientId?: string | undefined;
}

/**
 * The access log: one line per request, the same JSON line that `log.info(entry,
 * 'request')` writes (test/log.test.ts compares them), put together directly.
 * pino's generic path (level methods, serialisers, the redaction pass, a
 * stringify per field) cost several microseconds on every token request, and
 * these fields need none of it: the strings that come from the request (method,
 * path) go through JSON.stringify, which also escapes CR and LF.
 */
export class AccessLog {
  readonly #destination: pino.DestinationStream | null;
  readonly #time = isoTimeCachedPerSecond();

  constructor(log: Logger) {
    this.#destination = log.isLevelEnabled('info') ? (log as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym]! : null;
  }

  write(entry: AccessEntry): void {
    if (!this.#destination) return;
    const client = entry.clientId === undefined ? '' : `,"clientId":${JSON.stringify(entry.clientId)}`;
    this.#destination.write(`{"level":30${this.#time()},"service":"keyport","requestId":${JSON.stringify(entry.requestId)},"method":${JSON.stringify(entry.method)},"path":${JSON.stringify(entry.path)},"status":${entry.status},"ms":${entry.ms}${client},"msg":"request"}\n`);
  }
}
