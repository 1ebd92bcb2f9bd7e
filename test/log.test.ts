// Log lines: the cached timestamp writes exactly what pino's isoTime writes.
import test from 'ava';
import { pino } from 'pino';
import { isoTimeCachedPerSecond } from '../src/log.ts';

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
