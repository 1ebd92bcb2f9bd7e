// `npm run bench`: Keyport's performance against a paired baseline.
//
//  1. Keyport (src/main.ts, which starts a fresh embedded FerretDB in a temporary
//     data directory, or uses a fresh database on MONGODB_URI) and the baseline
//     (bench/baseline-server.ts) in child processes; this process connects to
//     the same database to seed it;
//  2. per scale (keypairs in the database): the keypair read alone, token
//     requests at each connection count, wrong secrets, introspection — each
//     Keyport point paired with a baseline point (autocannon here, alternating);
//  3. JWT validation in-process, then the admin listing over HTTP;
//  4. a table on stdout, progress on stderr, bench/results/latest.{json,md}.
// Every child process and the database are stopped at the end, on error and on Ctrl-C.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ADMIN_API_RESOURCE, loadConfig } from '../src/config.ts';
import type { Database } from '../src/db/connection.ts';
import type { Domain } from '../src/domain/index.ts';
import { newKeyId, newSecret, SecretHasher } from '../src/domain/credentials.ts';
import { encodeCursor } from '../src/domain/keypair-pages.ts';
import { listKeys } from '../src/db/keypair-list.ts';
import { runAttack } from './attack.ts';
import { openKeyportDomain } from '../src/keyport.ts';
import { resolveServerSecrets } from '../src/server-secrets.ts';
import { explainKeypairLookup, measureJwtValidation, measureKeypairRead, measureKitValidation } from './inprocess.ts';
import { abortLoad, runLoad, settle, type LoadRequest, type LoadResult } from './load.ts';
import { readOptions, type BenchOptions } from './options.ts';
import { Progress } from './progress.ts';
import { consoleSummary, machineInfo, writeResults, type BenchResults, type MachineInfo, type PairedFigure, type PairedPoint } from './report.ts';
import { Seeder, type SeededKey } from './seed.ts';
import { cpuSeconds, ferretdbPid, killAllServers, startBaselineServer, startKeyportServer, stopAllServers, type BaselineServer, type ChildServer } from './servers.ts';

/** Wrong secrets are spread over up to this many keypairs (not the hot ones, where the database holds enough others). */
const WRONG_POOL = 500;
/**
 * The lockout threshold of the benchmarked Keyport: the highest the configuration
 * accepts, so that keys rarely lock during a wrong-secret point. At 100 keypairs
 * only 50 keys take the failures, and a fast run can still lock them all (a
 * 2026-11-29 run sent 56,000): the table's "keys locked" column shows it, and
 * failures on a locked key are refused without being counted.
 */
const BENCH_MAX_FAILURES = 1000;
/** Requests per kind for the database operation count. */
const QUERY_SAMPLE = 100;
/** The same scopes in every token request, to both servers. */
const TOKEN_BODY = new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read orders:write' }).toString();
const FORM = 'application/x-www-form-urlencoded';
const LISTING_LIMIT = 50;
/** Single requests outside the measured points (sanity checks, fetching tokens): generous, the database may be slow. */
const REQUEST_TIMEOUT_MS = 120_000;

let options: BenchOptions;
try {
  options = readOptions();
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}

if (options.soak) {
  const { runSoak } = await import('./soak.ts');
  await runSoak(options);
  process.exit();
}

// ---- Ctrl-C: stop the load, then clean up (in main's finally); a second one kills everything at once.
let interrupted = false;
function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) {
    killAllServers();
    process.exit(130);
  }
  interrupted = true;
  process.stderr.write(`\n${signal}: stopping the benchmark, its servers and its database… (press again to force)\n`);
  abortLoad();
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

// ---- small helpers
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

function tokenRequest(id: string, secret: string): LoadRequest {
  return { method: 'POST', path: '/oauth/token', headers: { authorization: basic(id, secret), 'content-type': FORM }, body: TOKEN_BODY };
}

function introspectionRequest(id: string, secret: string, token: string): LoadRequest {
  return { method: 'POST', path: '/oauth/introspect', headers: { authorization: basic(id, secret), 'content-type': FORM }, body: new URLSearchParams({ token }).toString() };
}

async function send(server: ChildServer, request: LoadRequest): Promise<Response> {
  return fetch(`${server.url}${request.path}`, { method: request.method, headers: request.headers, body: request.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

async function expectStatus(server: ChildServer, request: LoadRequest, status: number, what: string): Promise<Record<string, unknown>> {
  const response = await send(server, request);
  const text = await response.text();
  if (response.status !== status) throw new Error(`${server.name}: ${what} answered ${response.status} (expected ${status}): ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) as Record<string, unknown> : {};
}

async function fetchToken(server: ChildServer, id: string, secret: string): Promise<string> {
  const body = await expectStatus(server, tokenRequest(id, secret), 200, 'a token request');
  return body.access_token as string;
}

function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [header, claims] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>);
  return { header: header!, claims: claims! };
}

/** Runs `fn` over `items` with at most `limit` at a time (not to flood a slow server with setup requests). */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

/**
 * Runs one figure; a failure is recorded (results.failures) and the benchmark
 * goes on with the next figure, so that one broken or hopelessly slow figure
 * does not lose the others. Returns false on failure.
 */
async function attempt(what: string, fn: () => Promise<void>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    if (interrupted) throw err;
    const message = `${what}: ${(err as Error).message}`;
    results.failures.push(message);
    progress.note(`FAILED ${message}`);
    return false;
  }
}

function median(samples: LoadResult[]): LoadResult {
  return [...samples].sort((a, b) => a.rps - b.rps)[Math.floor((samples.length - 1) / 2)]!;
}

const EXPECTED_STATUS: Record<PairedFigure, number> = { token: 200, cluster: 200, tracing: 200, wrong: 401, introspect: 200 };

function unexpected(result: LoadResult, figure: PairedFigure): number {
  return result.requests - (result.statusCodes[String(EXPECTED_STATUS[figure])] ?? 0) + result.errors + result.timeouts;
}

async function databaseVersion(database: Database): Promise<MachineInfo['database']> {
  try {
    const info = await database.connection.db!.admin().command({ buildInfo: 1 }) as { version?: string; ferretdbVersion?: string };
    return {
      kind: database.kind,
      version: database.kind === 'ferretdb' ? `${info.ferretdbVersion ?? '?'} (SQLite handler, synchronous=${(process.env.KEYPORT_EMBEDDED_DB_SYNC ?? 'normal').toUpperCase()}; speaks MongoDB ${info.version ?? '?'})` : info.version ?? '?',
    };
  } catch {
    return { kind: database.kind, version: 'unknown' };
  }
}

/** The environment both Keyport and this process load their configuration from. */
function benchEnvironment(): { env: NodeJS.ProcessEnv; dataDir: string | null; databaseName: string | null } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Traces stay off (the tracing figure turns them on for its own server).
  for (const name of Object.keys(env)) if (name.startsWith('KEYPORT_') || name.startsWith('OTEL_')) delete env[name];
  let dataDir: string | null = null;
  let databaseName: string | null = null;
  if (env.MONGODB_URI) {
    const url = new URL(env.MONGODB_URI);
    databaseName = `keyport_bench_${randomBytes(4).toString('hex')}`;
    url.pathname = `/${databaseName}`;
    env.MONGODB_URI = url.toString();
    env.KEYPORT_SECRET_PEPPER = randomBytes(32).toString('base64url');
    env.KEYPORT_KEY_ENCRYPTION_KEY = randomBytes(32).toString('base64url');
  } else {
    delete env.MONGODB_URI;
    dataDir = mkdtempSync(join(tmpdir(), 'keyport-bench-'));
    env.KEYPORT_DATA_DIR = dataDir; // the embedded mode keeps its pepper in <dataDir>/keyport-secrets.json
  }
  // Wrong-secret points measure the counted path (one atomic $inc per request), not the cheaper locked one,
  // and the per-address budget is lifted: all the load comes from one address, and a throttled
  // address would get 429s for a minute, right-secret points included.
  env.KEYPORT_LOCKOUT_MAX_FAILURES = String(BENCH_MAX_FAILURES);
  env.KEYPORT_LOCKOUT_MAX_FAILURES_PER_ADDRESS = '1000000000';
  env.KEYPORT_LOG_LEVEL = options.keyportLogLevel;
  return { env, dataDir, databaseName };
}

function countSteps(): number {
  const f = options.figures;
  const perScale = (f.has('token') ? options.connections.length : 0) + (f.has('wrong') ? 1 : 0) + (f.has('introspect') ? 1 : 0);
  return perScale * options.scales.length * 2 * options.rounds + (f.has('cluster') ? 2 * options.rounds : 0) + (f.has('tracing') ? 2 * options.rounds : 0) + (f.has('wrong') ? 1 : 0) + (f.has('attack') ? options.attackRates.length : 0) + (f.has('db') ? options.scales.length : 0) + (f.has('jwt') ? 6 : 0) + (f.has('list') ? options.listSizes.length * 4 : 0);
}

// ---- the run
const progress = new Progress(countSteps(), options.warmup + options.duration);
const results: BenchResults = {
  startedAt: new Date().toISOString(),
  finishedAt: '',
  complete: false,
  settings: { ...options, figures: [...options.figures], wrongSecretPool: WRONG_POOL, keyportLockoutMaxFailures: BENCH_MAX_FAILURES },
  machine: machineInfo({ kind: 'ferretdb', version: 'unknown' }),
  tokenFormat: null,
  points: [],
  jwtValidation: [],
  listing: null,
  attack: [],
  throttledWrong: null,
  keypairReads: [],
  failures: [],
  queriesPerRequest: {},
  notes: [],
};

interface Servers { keyport: ChildServer; baseline: BaselineServer; databasePid: number | null }
let pointIndex = 0;

/**
 * One paired point: Keyport and the baseline measured back to back (the order
 * alternates from point to point and round to round), the median of each kept.
 */
async function paired(servers: Servers, figure: PairedFigure, keypairs: number, connections: number, requests: { keyport: LoadRequest[]; baseline: LoadRequest[] }, hooks: { beforeKeyport?: () => Promise<void>; afterKeyport?: (result: LoadResult) => Promise<void> } = {}): Promise<PairedPoint> {
  const samples: { keyport: LoadResult[]; baseline: LoadResult[] } = { keyport: [], baseline: [] };
  for (let round = 0; round < options.rounds; round++) {
    const order = (pointIndex + round) % 2 === 0 ? (['keyport', 'baseline'] as const) : (['baseline', 'keyport'] as const);
    for (const side of order) {
      checkInterrupted();
      const server = servers[side];
      if (side === 'keyport') await hooks.beforeKeyport?.();
      progress.step(`${figure} · ${int(keypairs)} keypairs · ${connections} conn · ${side}${options.rounds > 1 ? ` · round ${round + 1}` : ''}`);
      const result = await runLoad(
        { url: server.url, connections, duration: options.duration, warmup: options.warmup, requests: requests[side] },
        { server: server.pid, database: side === 'keyport' ? servers.databasePid : null },
        progress.tick,
      );
      const bad = unexpected(result, figure);
      progress.stepDone(`${int(result.rps)} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms${bad ? `, ${bad} unexpected responses ${JSON.stringify(result.statusCodes)}` : ''}`);
      samples[side].push(result);
      if (!(await settle([servers.keyport.pid, servers.baseline.pid, servers.databasePid]))) {
        const note = `after ${figure} at ${int(keypairs)} keypairs, ${connections} connections (${side}), the servers were still busy 60 s later (requests queued before the point ended); the next point started anyway`;
        results.notes.push(note);
        progress.note(note);
      }
      if (side === 'keyport') await hooks.afterKeyport?.(result);
    }
  }
  pointIndex++;
  const keyport = median(samples.keyport);
  const baseline = median(samples.baseline);
  return {
    figure,
    keypairs,
    connections,
    keyport,
    baseline,
    samples,
    // Each round's two measurements were taken back to back, under the same
    // conditions: the median of the rounds' ratios is steadier than the ratio of
    // the medians when the machine's speed drifts (shared hosts do).
    ratio: {
      rps: pairedRatio(samples, (r) => r.rps),
      p50: pairedRatio(samples, (r) => r.latencyMs.p50),
      p99: pairedRatio(samples, (r) => r.latencyMs.p99),
      // The cost figure: CPU per request moves much less than throughput when
      // a shared host's speed drifts, since both sides saturate the same cores.
      // Inverted (baseline ÷ Keyport) so that, like req/s, below 1 means Keyport does worse.
      cpuEfficiency: cpuPerRequest(samples.keyport[0]) === null ? null : 1 / pairedRatio(samples, (r) => cpuPerRequest(r)!),
    },
    unexpected: { keyport: unexpected(keyport, figure), baseline: unexpected(baseline, figure) },
  };
}

/** CPU seconds per answered request of the server and, for Keyport, its database; null without /proc. */
function cpuPerRequest(r: LoadResult | undefined): number | null {
  if (!r || r.cpu.server === null || r.requests === 0) return null;
  return ((r.cpu.server + (r.cpu.database ?? 0)) * r.seconds) / r.requests;
}

/** The median over rounds of Keyport's figure ÷ the baseline's in the same round. */
function pairedRatio(samples: { keyport: LoadResult[]; baseline: LoadResult[] }, figure: (r: LoadResult) => number): number {
  const ratios = samples.keyport.map((k, i) => figure(k) / figure(samples.baseline[i]!)).sort((a, b) => a - b);
  const middle = ratios.length / 2;
  const median = ratios.length % 2 ? ratios[Math.floor(middle)]! : (ratios[middle - 1]! + ratios[middle]!) / 2;
  return Math.round(median * 1000) / 1000;
}

/** Sends QUERY_SAMPLE requests one by one and returns Keyport's database operations per request. */
async function countQueries(keyport: ChildServer, request: (i: number) => LoadRequest, status: number, what: string): Promise<Record<string, number>> {
  await keyport.ask({ type: 'count-start' }, 'count-started');
  let failure: unknown = null;
  try {
    for (let i = 0; i < QUERY_SAMPLE; i++) await expectStatus(keyport, request(i), status, what);
  } catch (err) {
    failure = err;
  }
  const { counts } = await keyport.ask<{ counts: Record<string, number> }>({ type: 'count-stop' }, 'counts');
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the requests threw, after the count stops
  if (failure) throw failure;
  return Object.fromEntries(Object.entries(counts).sort().map(([op, n]) => [op, Math.round((n / QUERY_SAMPLE) * 100) / 100]));
}

interface Context { servers: Servers; seeder: Seeder; database: Database; domain: Domain; audience: string; env: NodeJS.ProcessEnv }

async function measureScale(context: Context, keypairs: number, first: boolean): Promise<void> {
  const { servers, seeder, audience } = context;
  const { keyport, baseline } = servers;
  const seedStarted = performance.now();
  await seeder.growTo(keypairs, (done, target) => {
    checkInterrupted();
    progress.status(`seeding keypairs: ${int(done)} / ${int(target)}`);
  });
  progress.note(`${int(seeder.total)} keypairs in the database (seeding took ${((performance.now() - seedStarted) / 1000).toFixed(1)} s)`);

  const hot = seeder.pick(options.hotKeys);
  // Wrong secrets go to up to WRONG_POOL keys other than the hot ones. Where there are
  // fewer (100 keypairs: 50 others), a round of ~10,000 wrong secrets/s gave each of them
  // more failures than the bench's lockout threshold (1,000, the most the configuration
  // takes), and a locked key's failures are refused without being counted: there the
  // pool is every keypair (their counters are reset after the figure, hot keys' too).
  const others = seeder.total - options.hotKeys;
  const wrongPool = others >= WRONG_POOL ? seeder.pick(WRONG_POOL, options.hotKeys) : seeder.pick(Math.min(WRONG_POOL, seeder.total));

  const at = `at ${int(seeder.total)} keypairs`;

  if (options.figures.has('db')) {
    await attempt(`keypair read ${at}`, async () => {
      const plan = await explainKeypairLookup(context.database, hot[0]!.keyId);
      progress.step(`db · keypair read by key id · ${int(seeder.total)} keypairs (${plan})`);
      const result = await measureKeypairRead({ database: context.database, keyIds: hot.map((k) => k.keyId), seconds: options.duration, warmup: options.warmup, concurrency: 1 });
      progress.stepDone(`${int(result.perSecond)} reads/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`);
      results.keypairReads.push({ keypairs: seeder.total, plan, result });
    });
    checkInterrupted();
  }

  const keyportTokens = hot.map((k) => tokenRequest(k.keyId, k.secret));
  const baselineTokens = [tokenRequest(baseline.clientId, baseline.clientSecret)];
  const wrongSecret = (k: SeededKey) => tokenRequest(k.keyId, newSecret()); // well-formed (valid checksum), but not the key's

  // Sanity: both servers answer as expected before anything is measured; if not, this scale's HTTP figures are skipped.
  const sane = await attempt(`sanity checks ${at} (HTTP figures skipped)`, async () => {
  const keyportToken = await fetchToken(keyport, hot[0]!.keyId, hot[0]!.secret);
  const baselineToken = await fetchToken(baseline, baseline.clientId, baseline.clientSecret);
  await expectStatus(keyport, wrongSecret(wrongPool[0]!), 401, 'a wrong secret');
  await expectStatus(baseline, tokenRequest(baseline.clientId, newSecret()), 401, 'a wrong secret');
  await seeder.resetFailures(wrongPool.slice(0, 1));
  if (!first) return;
    const format = (token: string) => {
      const { header, claims } = decodeJwt(token);
      return { header, claims: Object.keys(claims).sort(), bytes: token.length };
    };
    results.tokenFormat = { keyport: format(keyportToken), baseline: format(baselineToken) };
    for (const [name, token] of [['keyport', keyportToken], ['baseline', baselineToken]] as const) {
      const { header, claims } = decodeJwt(token);
      if (header.typ !== 'at+jwt' || header.alg !== 'ES256' || claims.aud !== audience) throw new Error(`${name} token is not an ES256 at+jwt for ${audience}: ${JSON.stringify({ header, claims })}`);
    }
  });
  if (!sane) return;

  // The bench seeds behind the server's back, so its keypair cache is cold: one request per hot
  // key first, as clients would have made before (a restarted server warms its cache by itself).
  await attempt(`warming the ${hot.length} hot keys ${at}`, async () => {
    await mapLimit(hot, 4, (k) => fetchToken(keyport, k.keyId, k.secret));
  });

  if (first && options.figures.has('queries')) {
    await attempt('counting database operations', async () => {
      results.queriesPerRequest['token (right secret)'] = await countQueries(keyport, (i) => keyportTokens[i % keyportTokens.length]!, 200, 'a token request');
      results.queriesPerRequest['token (wrong secret)'] = await countQueries(keyport, (i) => wrongSecret(wrongPool[i % wrongPool.length]!), 401, 'a wrong secret');
      await seeder.resetFailures(wrongPool);
      // The same key failing again and again (a client deployed with an old secret): the run begins once.
      results.queriesPerRequest['token (wrong secret, same key each time)'] = await countQueries(keyport, () => wrongSecret(wrongPool[0]!), 401, 'a wrong secret');
      await seeder.resetFailures(wrongPool);
      const tokens = await mapLimit(hot, 4, (k) => fetchToken(keyport, k.keyId, k.secret));
      results.queriesPerRequest['introspection (own token)'] = await countQueries(keyport, (i) => introspectionRequest(hot[i % hot.length]!.keyId, hot[i % hot.length]!.secret, tokens[i % tokens.length]!), 200, 'an introspection');
      progress.note(`database operations per request: ${JSON.stringify(results.queriesPerRequest)}`);
    });
  }

  if (options.figures.has('token')) {
    for (const connections of options.connections) {
      await attempt(`token point ${at}, ${connections} connections`, async () => {
        results.points.push(await paired(servers, 'token', seeder.total, connections, { keyport: keyportTokens, baseline: baselineTokens }));
      });
    }
  }

  if (first && options.figures.has('cluster')) await attempt(`cluster point ${at}`, async () => {
    // A second Keyport on the same database, in cluster mode; the first one idles meanwhile.
    progress.note(`starting Keyport with KEYPORT_WORKERS=${options.clusterWorkers}…`);
    const cluster = await startKeyportServer({ env: { ...context.env, KEYPORT_WORKERS: String(options.clusterWorkers) } });
    try {
      // Warm every worker's keypair cache (connections are spread over the workers).
      await mapLimit([...hot, ...hot, ...hot, ...hot], 8, (k) => fetchToken(cluster, k.keyId, k.secret));
      const point = await paired({ ...servers, keyport: cluster }, 'cluster', seeder.total, Math.max(...options.connections), { keyport: keyportTokens, baseline: baselineTokens });
      point.workers = options.clusterWorkers;
      results.points.push(point);
    } finally {
      await cluster.stop();
    }
  });

  if (first && options.figures.has('tracing')) await attempt(`tracing point ${at}`, async () => {
    // A second Keyport on the same database with traces on, exporting over OTLP/HTTP
    // to a sink in this process that reads and drops every batch; the first idles meanwhile.
    const sink = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    progress.note('starting Keyport with OpenTelemetry traces on…');
    const traced = await startKeyportServer({ env: { ...context.env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'keyport-bench' } });
    try {
      await mapLimit(hot, 8, (k) => fetchToken(traced, k.keyId, k.secret));
      results.points.push(await paired({ ...servers, keyport: traced }, 'tracing', seeder.total, Math.max(...options.connections), { keyport: keyportTokens, baseline: baselineTokens }));
    } finally {
      await traced.stop();
      sink.close();
    }
  });

  if (options.figures.has('wrong')) await attempt(`wrong-secret point ${at}`, async () => {
    let failures: PairedPoint['failures'];
    const point = await paired(servers, 'wrong', seeder.total, options.extraConnections, {
      keyport: wrongPool.map(wrongSecret),
      baseline: [tokenRequest(baseline.clientId, newSecret())],
    }, {
      beforeKeyport: () => seeder.resetFailures(wrongPool),
      afterKeyport: async (result) => {
        const state = await seeder.failureState(wrongPool);
        // Sent: responses of the warm-up and of the point; requests in flight when either stopped are counted without a response.
        failures = { sent: result.requests + result.warmupRequests, ...state };
      },
    });
    point.failures = failures;
    results.points.push(point);
    await seeder.resetFailures(wrongPool);
  });

  if (first && options.figures.has('wrong')) await attempt(`throttled wrong secrets ${at}`, async () => {
    // A second Keyport on the same database with the per-address budget it ships
    // with (the first one lifts it, to measure the counted path); the first idles meanwhile.
    const env = { ...context.env };
    delete env.KEYPORT_LOCKOUT_MAX_FAILURES_PER_ADDRESS;
    progress.note('starting Keyport with the default per-address budget of failed authentications…');
    const guarded = await startKeyportServer({ env });
    try {
      const connections = options.extraConnections;
      const requests = wrongPool.map(wrongSecret);
      await guarded.ask({ type: 'count-start' }, 'count-started');
      progress.step(`wrong secrets from one address, default budget · ${int(seeder.total)} keypairs · ${connections} conn · keyport`);
      const result = await runLoad({ url: guarded.url, connections, duration: options.duration, warmup: options.warmup, requests }, { server: guarded.pid, database: servers.databasePid }, progress.tick);
      const { counts } = await guarded.ask<{ counts: Record<string, number> }>({ type: 'count-stop' }, 'counts');
      const operations = Object.values(counts).reduce((a, b) => a + b, 0);
      progress.stepDone(`${int(result.rps)} req/s, p99 ${result.latencyMs.p99} ms, ${JSON.stringify(result.statusCodes)}, ${operations} database operations`);
      results.throttledWrong = {
        keypairs: seeder.total,
        connections,
        budgetPerMinute: loadConfig(env, { log: { level: 'silent' } }).lockout.maxFailuresPerAddress,
        result,
        // Over every request sent, the warm-up's included (the budget is spent there).
        databaseOperationsPerRequest: operations / Math.max(1, result.requests + result.warmupRequests),
      };
    } finally {
      await guarded.stop();
      await seeder.resetFailures(wrongPool);
    }
  });

  if (first && options.figures.has('attack')) await attempt(`attack figure ${at}`, async () => {
    // A second Keyport on the same database with the lockout settings it ships
    // with (the first one lifts them); the first idles meanwhile. The attacked
    // key is not one the good clients use: a key under a wrong-secret flood is
    // locked by design, and its own clients with it, until the lock ends.
    const env = { ...context.env };
    delete env.KEYPORT_LOCKOUT_MAX_FAILURES;
    delete env.KEYPORT_LOCKOUT_MAX_FAILURES_PER_ADDRESS;
    progress.note('starting Keyport with its default lockout settings for the attack figure…');
    const guarded = await startKeyportServer({ env });
    try {
      const good = [0, 1, 2, 3].map((i) => hot.filter((_, j) => j % 4 === i).map((k) => tokenRequest(k.keyId, k.secret)));
      const victim = wrongPool.find((k) => !hot.some((h) => h.keyId === k.keyId))!;
      for (const attackRate of options.attackRates) {
        checkInterrupted();
        progress.step(`good clients under attack (${attackRate === null ? 'full speed' : `${attackRate}/s each`}) · keyport`);
        const result = await runAttack({
          url: guarded.url,
          good,
          goodRate: options.goodRate,
          wrongSecrets: Array.from({ length: 100 }, () => wrongSecret(victim)),
          unknownKeys: Array.from({ length: 100 }, () => tokenRequest(newKeyId(), newSecret())),
          attackConnections: options.extraConnections,
          attackRate,
          seconds: options.duration,
          warmup: options.warmup,
        }, (what) => progress.note(what));
        progress.stepDone(`good p99 ${result.quiet.latencyMs.p99} → ${result.underAttack.latencyMs.p99} ms (×${result.p99Ratio}), good errors ${result.underAttack.errors}, attackers ${result.attackers.map((a) => `${a.perSecond}/s`).join(' + ')}`);
        results.attack.push(result);
        await settle([guarded.pid, servers.databasePid]);
      }
    } finally {
      await guarded.stop();
      await seeder.resetFailures(wrongPool);
    }
  });

  if (options.figures.has('introspect')) await attempt(`introspection point ${at}`, async () => {
    // Fresh tokens (10 minutes of life), one per hot keypair; each introspected by its own keypair.
    const tokens = await mapLimit(hot, 4, (k) => fetchToken(keyport, k.keyId, k.secret));
    const keyportRequests = hot.map((k, i) => introspectionRequest(k.keyId, k.secret, tokens[i]!));
    const baselineTokenValues = await mapLimit(Array.from({ length: 10 }), 4, () => fetchToken(baseline, baseline.clientId, baseline.clientSecret));
    const baselineRequests = baselineTokenValues.map((t) => introspectionRequest(baseline.clientId, baseline.clientSecret, t));
    for (const [server, request] of [[keyport, keyportRequests[0]!], [baseline, baselineRequests[0]!]] as const) {
      const body = await expectStatus(server, request, 200, 'an introspection');
      if (body.active !== true) throw new Error(`${server.name}: introspection of a fresh token answered ${JSON.stringify(body)}`);
    }
    results.points.push(await paired(servers, 'introspect', seeder.total, options.extraConnections, { keyport: keyportRequests, baseline: baselineRequests }));
  });
}

async function main(): Promise<void> {
  const { env, dataDir, databaseName } = benchEnvironment();
  let database: Database | null = null;
  let failure: unknown = null;
  try {
    // Keyport starts first and so owns the embedded FerretDB (this process connects to it):
    // if the benchmark is killed outright, Keyport notices (child-preload.ts) and stops it.
    progress.note(dataDir ? `starting Keyport on a fresh embedded FerretDB in ${dataDir}…` : `starting Keyport on the MongoDB database ${databaseName}…`);
    const config = loadConfig(env, { log: { level: 'silent' } });
    const keyport = await startKeyportServer({ env, cpuProfDir: options.cpuProfDir });
    const baseline = await startBaselineServer({ audience: config.tokens.defaultAudience, cpuProfDir: options.cpuProfDir });
    checkInterrupted();
    const opened = await openKeyportDomain(config);
    database = opened.database;
    // The same hasher and pepper as the server (embedded mode: <dataDir>/keyport-secrets.json; MongoDB: the env).
    const hasher = new SecretHasher(resolveServerSecrets(config).pepper);
    results.machine.database = await databaseVersion(database);
    const servers: Servers = { keyport, baseline, databasePid: ferretdbPid(dataDir) };
    progress.note(`Keyport pid ${keyport.pid} at ${keyport.url}, baseline pid ${baseline.pid} at ${baseline.url}${servers.databasePid ? `, FerretDB pid ${servers.databasePid}` : ''}`);
    if (cpuSeconds(process.pid) === null) results.notes.push('CPU shares are not available on this OS (no /proc).');

    const seeder = new Seeder(database.models, hasher, opened.domain.changes);
    const context: Context = { servers, seeder, database, domain: opened.domain, audience: config.tokens.defaultAudience, env };
    for (const [i, keypairs] of options.scales.entries()) {
      await measureScale(context, keypairs, i === 0);
    }

    if (options.figures.has('jwt')) await attempt('JWT validation', async () => {
      // The cost does not depend on the token: a few, from different keypairs, are enough.
      const tokens = await mapLimit(seeder.pick(5), 2, (k) => fetchToken(keyport, k.keyId, k.secret));
      const kinds = [
        { label: 'jose jwtVerify ES256, local JWKS', run: (concurrency: number) => measureJwtValidation({ jwksUrl: `${keyport.url}/oauth/jwks`, tokens, issuer: keyport.issuer, audience: config.tokens.defaultAudience, seconds: options.duration, warmup: options.warmup, concurrency }) },
        { label: 'keyport/verify, every token new (signature checked)', run: (concurrency: number) => measureKitValidation({ tokens, issuer: keyport.issuer, audience: config.tokens.defaultAudience, remember: false, seconds: options.duration, warmup: options.warmup, concurrency }) },
        { label: 'keyport/verify, tokens reused (verified-token cache)', run: (concurrency: number) => measureKitValidation({ tokens, issuer: keyport.issuer, audience: config.tokens.defaultAudience, remember: true, seconds: options.duration, warmup: options.warmup, concurrency }) },
      ];
      for (const kind of kinds) {
        for (const concurrency of [1, 16]) {
          progress.step(`jwt validation · ${kind.label} · ${concurrency} in flight`);
          const result = await kind.run(concurrency);
          progress.stepDone(`${int(result.perSecond)} validations/s, p50 ${result.latencyMs.p50} ms`);
          results.jwtValidation.push({ ...result, label: kind.label });
          checkInterrupted();
        }
      }
    });

    if (options.figures.has('list')) await attempt('admin listing', async () => {
      // One account per size, smallest first; each is read as an admin client reads it: the first
      // page, a page from the middle by cursor, a name-prefix search and a key-id search.
      let seededForListing = 0;
      for (const listSize of options.listSizes) {
        const seedStarted = performance.now();
        const { owner, middle } = await seeder.seedListAccount(listSize, (done, target) => {
          checkInterrupted();
          progress.status(`seeding the listed account: ${int(done)} / ${int(target)}`);
        });
        seededForListing += listSize + 1;
        progress.note(`seeded an account with ${int(listSize)} keypairs in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
        // An automation keypair of that account with keyport:read, and a token for the admin API.
        const reader = await opened.domain.keypairs.create({ accountId: owner.accountId }, { name: 'bench admin reader', scopes: ['keyport:read'] }, 'cli');
        const tokenBody = new URLSearchParams({ grant_type: 'client_credentials', resource: ADMIN_API_RESOURCE }).toString();
        const minted = await expectStatus(keyport, { method: 'POST', path: '/oauth/token', headers: { authorization: basic(reader.keypair.keyId, reader.secret), 'content-type': FORM }, body: tokenBody }, 200, 'an admin API token');
        const headers = { authorization: `Bearer ${minted.access_token as string}` };
        const path = `/api/v1/accounts/${owner.accountId}/keypairs?limit=${LISTING_LIMIT}`;
        const middleCursor = encodeCursor({ sort: '-created', after: listKeys(middle).createdKey });
        // "bench " and two characters of a key id, in any case: about one keypair in 1,296 (36²) matches.
        const prefix = middle.name.slice(0, 8);
        const kinds: { name: string; path: string; expect: (items: { keyId: string; name: string }[]) => boolean }[] = [
          { name: 'first page', path, expect: (items) => items.length === Math.min(LISTING_LIMIT, listSize + 1) },
          { name: 'a page from the middle (cursor)', path: `${path}&cursor=${middleCursor}`, expect: (items) => items.length === Math.min(LISTING_LIMIT, Math.floor(listSize / 2)) },
          { name: 'name-prefix search', path: `${path}&q=${encodeURIComponent(prefix)}`, expect: (items) => items.length > 0 && items.every((k) => k.name.toLowerCase().startsWith(prefix.toLowerCase())) },
          { name: 'key-id search', path: `${path}&q=${middle._id}`, expect: (items) => items.length === 1 && items[0]!.keyId === middle._id },
        ];
        for (const kind of kinds) {
          const request: LoadRequest = { method: 'GET', path: kind.path, headers };
          const page = await expectStatus(keyport, request, 200, `the admin listing (${kind.name})`);
          if (!kind.expect(page.items as { keyId: string; name: string }[])) throw new Error(`the admin listing (${kind.name}) returned ${(page.items as unknown[]).length} keypairs, not what was expected`);
          for (const connections of dataDir ? [1] : [1, 8]) {
            progress.step(`admin listing · ${int(listSize)} keypairs · ${kind.name} · ${connections} conn`);
            const result = await runLoad(
              { url: keyport.url, connections, duration: options.duration, warmup: options.warmup, requests: [request] },
              { server: keyport.pid, database: servers.databasePid },
              progress.tick,
            );
            const bad = result.requests - (result.statusCodes['200'] ?? 0);
            if (bad > 0) throw new Error(`the admin listing answered ${JSON.stringify(result.statusCodes)}`);
            progress.stepDone(`${int(result.rps)} pages/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`);
            results.listing ??= { limit: LISTING_LIMIT, via: 'GET /api/v1/accounts/:id/keypairs (bearer token)', sizes: [] };
            let entry = results.listing.sizes.find((x) => x.listSize === listSize + 1);
            if (!entry) results.listing.sizes.push(entry = { listSize: listSize + 1, keypairsInDatabase: seeder.total + seededForListing, results: [] });
            entry.results.push({ name: kind.name, result: { concurrency: connections, operations: result.requests, seconds: result.seconds, perSecond: result.rps, latencyMs: { p50: result.latencyMs.p50, p99: result.latencyMs.p99 } } });
            checkInterrupted();
          }
        }
      }
    });
    results.complete = true;
  } catch (err) {
    failure = err;
  } finally {
    results.finishedAt = new Date().toISOString();
    results.machine.loadAverage.end = loadavg().map((n) => Math.round(n * 100) / 100);
    progress.note('stopping the servers and the database…');
    try {
      if (database && databaseName && !options.keepData) await database.connection.dropDatabase();
      await database?.close();
    } catch (err) {
      console.error(`could not close the database cleanly: ${(err as Error).message}`);
    }
    await stopAllServers(); // Keyport stops the embedded FerretDB it started
    if (dataDir && !options.keepData) rmSync(dataDir, { recursive: true, force: true });
    else if (dataDir) progress.note(`data kept in ${dataDir}`);
  }

  addNotes(results);
  if (results.points.length || results.jwtValidation.length || results.listing || results.attack.length) {
    console.log(consoleSummary(results));
    const dir = results.complete ? options.resultsDir : join(options.resultsDir, 'incomplete');
    const files = writeResults(dir, results);
    progress.note(`results written to ${files.json} and ${files.markdown}`);
  }
  progress.finish();
  if (failure) {
    console.error(interrupted ? 'interrupted' : `benchmark failed: ${inspect(failure)}`);
    process.exitCode = interrupted ? 130 : 1;
  }
}

function addNotes(r: BenchResults): void {
  const notes = r.notes;
  if (options.quick) notes.push('Quick run (BENCH_QUICK): short points and fewer scales; indicative only.');
  notes.push(`Token requests: client_secret_basic, \`scope=orders:read orders:write\`, no resource (the default audience), spread over ${options.hotKeys} keypairs picked at random from the whole seeded set (half account, half environment keypairs); the baseline has one static client.`);
  notes.push('Before the points at each scale, each of the hot keypairs makes one token request: the bench seeds the database behind the running server, so its in-process keypair cache starts cold (a server started on an existing database warms it by itself).');
  notes.push(`Keyport runs src/main.ts with KEYPORT_LOG_LEVEL=${options.keyportLogLevel} (logs to /dev/null), KEYPORT_LOCKOUT_MAX_FAILURES=${BENCH_MAX_FAILURES} so that keys do not lock, and KEYPORT_LOCKOUT_MAX_FAILURES_PER_ADDRESS=1000000000, since all the load comes from one address (in production an address gets 100 failures a minute, then 429 slow_down before any database work): the wrong-secret figure measures the counted path: each wrong secret is answered at once and counted just after, one atomic database update per batch of a key's failures, one such write at a time (other processes hear of a key's failures when a run begins or the key locks); wrong secrets are well-formed (valid checksum) and spread over up to ${WRONG_POOL} keypairs other than the hot ones (every keypair where there are fewer others), whose counters are reset before each point. "failures counted / sent" should match: sent counts the responses of the warm-up and of the point, counted is read from the database once it stops moving after the point, so requests still in flight when the warm-up and the point ended add up to twice the connection count. "keys locked" above 0 means some keys reached the threshold, after which their failures were refused without being counted: that row overstates the counted path.`);
  notes.push('Baseline introspection: oidc-provider 9 refuses to introspect JWT access tokens, so the baseline answers POST /oauth/introspect with a middleware doing the static client check plus jose jwtVerify: Keyport\'s work minus its database reads.');
  if (r.listing) notes.push(`Admin listing: GET /api/v1/accounts/:id/keypairs?limit=${LISTING_LIMIT} over HTTP (autocannon), with a bearer token of a keyport:read keypair of the listed account; newest first; "a page from the middle" follows a cursor at the account's middle keypair; the name-prefix search ("bench " and two characters, any case) matches about one keypair in 1,296 and is read in name order; each response also counts the matches up to 1,000 ("total"); "in flight" is the connection count.`);
  if (options.cpuProfDir) notes.push(`V8 CPU profiles of the Keyport and baseline processes were written to ${options.cpuProfDir}/keyport and /baseline (node bench/profile-summary.ts, or Chrome DevTools).`);
  const loaded = r.machine.loadAverage.start[0]! > 0.5 || (r.machine.loadAverage.end?.[0] ?? 0) > r.machine.cores;
  if (loaded) notes.push(`The machine was not idle (load average ${r.machine.loadAverage.start[0]} at start, ${r.machine.loadAverage.end?.[0]} at end): other work competes for the ${r.machine.cores} cores; compare ratios rather than absolute figures.`);
}

await main();
