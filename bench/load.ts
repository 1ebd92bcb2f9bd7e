// Drives HTTP load with autocannon, in the benchmark's own process (the servers
// are child processes). One call = an unmeasured warm-up, then the measured run.
// Latencies are recorded from autocannon's per-response events at full
// precision (its own histogram rounds to whole milliseconds, too coarse at one
// connection). CPU use of the server, the database and the load generator is
// sampled around the measured run.
import { createRequire } from 'node:module';
import { cpuSeconds, isChildOf } from './servers.ts';

export interface LoadRequest {
  method: 'POST' | 'GET';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface LoadSpec {
  /** http://127.0.0.1:port */
  url: string;
  connections: number;
  /** Seconds measured. */
  duration: number;
  /** Seconds of load before the measurement, discarded. */
  warmup: number;
  /** Each connection cycles through these. */
  requests: LoadRequest[];
}

export interface LoadResult {
  connections: number;
  /** Responses in the measured run. */
  requests: number;
  /** Responses during the warm-up (not measured). */
  warmupRequests: number;
  seconds: number;
  rps: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Share of one core used during the measured run; null where /proc is not available. */
  cpu: { server: number | null; database: number | null; loadGenerator: number };
}

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}
interface AutocannonInstance extends PromiseLike<AutocannonResult> {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): this;
  on(event: 'tick', listener: () => void): this;
  stop(): void;
}
type Autocannon = (options: Record<string, unknown>) => AutocannonInstance;

// autocannon is CommonJS without type definitions.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

let current: AutocannonInstance | null = null;
let aborted = false;

/** Stops the load in progress (Ctrl-C) and makes later runs fail fast. */
export function abortLoad(): void {
  aborted = true;
  current?.stop();
}

function start(spec: LoadSpec, seconds: number): AutocannonInstance {
  if (aborted) throw new Error('aborted');
  current = autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: seconds,
    pipelining: 1,
    timeout: 10,
    requests: spec.requests.map((r) => ({ ...r, headers: { ...r.headers } })),
  });
  return current;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function runLoad(spec: LoadSpec, pids: { server: number; database: number | null }, onTick?: () => void): Promise<LoadResult> {
  let warmupRequests = 0;
  if (spec.warmup > 0) {
    const warm = start(spec, spec.warmup);
    warm.on('response', () => { warmupRequests++; });
    if (onTick) warm.on('tick', onTick);
    await warm;
  }
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const server0 = cpuSeconds(pids.server, pids.database);
  const db0 = cpuSeconds(pids.database);
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const run = start(spec, spec.duration);
  run.on('response', (_client, _status, _bytes, ms) => {
    if (count === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[count++] = ms;
  });
  if (onTick) run.on('tick', onTick);
  const result = await run;
  current = null;
  const wall = (performance.now() - t0) / 1000;
  const server1 = cpuSeconds(pids.server, pids.database);
  const db1 = cpuSeconds(pids.database);
  const self = process.cpuUsage(self0);
  if (aborted) throw new Error('aborted');

  const sorted = latencies.subarray(0, count).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const share = (a: number | null, b: number | null) => (a === null || b === null ? null : round((b - a) / wall));
  return {
    connections: spec.connections,
    requests: count,
    warmupRequests,
    seconds: round(result.duration),
    rps: round(count / result.duration, 1),
    latencyMs: {
      mean: round(sum / count, 3),
      p50: round(percentile(sorted, 50), 3),
      p90: round(percentile(sorted, 90), 3),
      p99: round(percentile(sorted, 99), 3),
      max: round(percentile(sorted, 100), 3),
    },
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count: n }]) => [code, n])),
    errors: result.errors,
    timeouts: result.timeouts,
    cpu: {
      server: share(server0, server1),
      database: share(db0, db1),
      loadGenerator: round((self.user + self.system) / 1e6 / wall),
    },
  };
}

/**
 * Waits until the servers and the database are idle again: requests still
 * queued when autocannon stopped must not spill into the next point.
 * Idle = together under 15% of one core over 200 ms. Returns false if they
 * were still busy after `maxSeconds`.
 */
export async function settle(pids: (number | null)[], maxSeconds = 60): Promise<boolean> {
  // Each process once: cpuSeconds counts descendants, and the embedded FerretDB is a child of Keyport.
  const listed = pids.filter((pid): pid is number => pid !== null);
  const sum = () => pids.reduce<number | null>((total, pid) => {
    if (pid === null || total === null) return total;
    const seconds = cpuSeconds(pid, listed.find((other) => other !== pid && isChildOf(other, pid)) ?? null);
    return seconds === null ? null : total + seconds;
  }, 0);
  const deadline = Date.now() + maxSeconds * 1000;
  while (Date.now() < deadline) {
    const before = sum();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = sum();
    if (before === null || after === null) {
      await new Promise((resolve) => setTimeout(resolve, 1000)); // no /proc: a fixed pause
      return true;
    }
    if ((after - before) / 0.2 < 0.15) return true;
  }
  return false;
}
