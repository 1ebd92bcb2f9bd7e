// Log lines: the cached timestamp and the access log write exactly what pino writes.
import test from 'ava';
import { pino } from 'pino';
import { randomUUID } from 'node:crypto';
import { AccessLog, createLogger, isoTimeCachedPerSecond, type AccessEntry } from '../src/log.ts';

test('log timestamps formatted once per second are the same as pino\'s isoTime, across second, day and year boundaries', (t) => {
  let now = 0;
  const cached = isoTimeCachedPerSecond(() => now);
  const moments = [
    Date.UTC(2026, 10, 25, 17, 37, 33, 0), Date.UTC(2026, 10, 25, 17, 37, 33, 7), Date.UTC(2026, 10, 25, 17, 37, 33, 999),
    Date.UTC(2026, 10, 25, 17, 37, 34, 0), Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1, 0, 0, 0, 1),
    Date.UTC(2027, 0, 1, 0, 0, 0, 1) - 5000, // back in time (a clock step): formatted again
  ];
  for (let i = 0; i < 2000; i++) moments.push(Date.UTC(2026, 10, 25) + Math.floor(Math.random() * 86_400_000));
  for (const moment of moments) {
    now = moment;
    t.is(cached(), `,"time":"${new Date(moment).toISOString()}"`);
  }
  t.regex(pino.stdTimeFunctions.isoTime(), /^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/, 'pino\'s own format, which the cached one copies');
});

/** A pino destination that keeps what is written. */
function capture(): { write(line: string): void; lines: string[] } {
  const lines: string[] = [];
  return { lines, write(line: string) { lines.push(line); } };
}

test('an access log line is the line pino writes for the same entry (fields, order, escaping), with or without a key id', (t) => {
  const entries: AccessEntry[] = [
    { requestId: randomUUID(), method: 'POST', path: '/oauth/token', status: 200, ms: 1.3, clientId: 'kp_0123456789ABCDEFGHIJabcd' },
    { requestId: randomUUID(), method: 'GET', path: '/ui/"quoted"\\\r\nX-Injected: 1\u2028ü', status: 404, ms: 0, clientId: undefined },
  ];
  for (const entry of entries) {
    const direct = capture();
    const generic = capture();
    new AccessLog(createLogger('info', direct)).write(entry);
    createLogger('info', generic).info(entry, 'request');
    t.is(direct.lines.length, 1);
    const withoutTime = (line: string) => line.replace(/,"time":"[^"]+"/, '');
    t.is(withoutTime(direct.lines[0]!), withoutTime(generic.lines[0]!));
    t.regex(direct.lines[0]!, /^\{"level":30,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","service":"keyport",/);
    t.false(/[\r\n]/.test(direct.lines[0]!.slice(0, -1)), 'CR and LF from the request are escaped: one line per request');
    t.deepEqual(JSON.parse(direct.lines[0]!), JSON.parse(generic.lines[0]!.replace(/"time":"[^"]+"/, direct.lines[0]!.match(/"time":"[^"]+"/)![0])));
  }
});

test('no access log line below the info level', (t) => {
  const destination = capture();
  new AccessLog(createLogger('warn', destination)).write({ requestId: randomUUID(), method: 'POST', path: '/oauth/token', status: 200, ms: 1 });
  t.deepEqual(destination.lines, []);
});
