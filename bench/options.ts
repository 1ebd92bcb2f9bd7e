// Benchmark settings: environment variables, or the same names as flags
// (`npm run bench -- --quick --duration=5 --scales=100,10000`).
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

export type Figure = 'token' | 'cluster' | 'tracing' | 'wrong' | 'introspect' | 'attack' | 'jwt' | 'list' | 'queries' | 'db';
export const ALL_FIGURES: Figure[] = ['token', 'cluster', 'tracing', 'wrong', 'introspect', 'attack', 'jwt', 'list', 'queries', 'db'];

export interface BenchOptions {
  quick: boolean;
  /** Seconds measured per point. */
  duration: number;
  /** Seconds of unmeasured load before each point (JIT, connection pools, caches). */
  warmup: number;
  /** Each paired point is measured this many times (order K,B then B,K…); the median is reported. */
  rounds: number;
  /** Connection counts of the token figures. */
  connections: number[];
  /** Connection count of the wrong-secret and introspection figures. */
  extraConnections: number;
  /** Keypairs in the database for each scale step, ascending. */
  scales: number[];
  /** Distinct keypairs the requests are spread over. */
  hotKeys: number;
  /** KEYPORT_WORKERS of the cluster figure (token requests at the largest connection count, first scale). */
  clusterWorkers: number;
  /** Keypairs in each listed account (one account per size, smallest first): the listing figure reads pages of each. */
  listSizes: number[];
  figures: Set<Figure>;
  /** Keyport's log level during the run (the server default is info). */
  keyportLogLevel: string;
  /** Directory for V8 CPU profiles of the Keyport child, or null. */
  cpuProfDir: string | null;
  /** Keep the temporary data directory (or MongoDB database) at the end. */
  keepData: boolean;
  /** Where latest.json and latest.md go. */
  resultsDir: string;
  /** Attack figure: good token requests per second (all good addresses together). */
  goodRate: number;
  /** Attack figure: each attacker's rate per run; null = as fast as it goes. */
  attackRates: (number | null)[];
  /** Run the soak (bench/soak.ts) instead of the figures. */
  soak: boolean;
  /** How long the soak runs. */
  soakMinutes: number;
}

const HELP = `npm run bench [-- flags]   (every flag also works as an environment variable)

  --quick            BENCH_QUICK=1           short points for development (2 s, 0.5 s warm-up, scales 100,10000)
  --duration=S       BENCH_DURATION          seconds measured per point (default 6; quick 2)
  --warmup=S         BENCH_WARMUP            seconds of warm-up load before each point (default 2; quick 0.5)
  --rounds=N         BENCH_ROUNDS            measurements per paired point (default 3; quick 1): medians, and the median of the rounds' ratios
  --connections=L    BENCH_CONNECTIONS       token figure connection counts (default 1,8,32)
  --extra-connections=N BENCH_EXTRA_CONNECTIONS  connections for wrong-secret and introspection (default: the largest)
  --scales=L         BENCH_SCALES            keypairs in the database per step (default 100,10000,100000)
  --hot-keys=N       BENCH_HOT_KEYS          distinct keypairs the requests use (default 50)
  --cluster-workers=N BENCH_CLUSTER_WORKERS  KEYPORT_WORKERS of the cluster figure (default: the number of cores)
  --list-size=L      BENCH_LIST_SIZE         keypairs in each listed account, comma-separated (default 100,10000,100000; quick 100,10000)
  --good-rate=N      BENCH_GOOD_RATE         attack figure: good token requests per second, from 4 addresses (default 200)
  --attack-rates=L   BENCH_ATTACK_RATES      attack figure: each attacker's requests per second per run; "full" = as fast as it can
                                             (default full,1000)
  --only=L           BENCH_ONLY              subset of ${ALL_FIGURES.join(',')}
  --log-level=X      BENCH_KEYPORT_LOG_LEVEL Keyport's log level (default info, written to /dev/null)
  --cpu-prof=DIR     BENCH_CPU_PROF          write V8 CPU profiles of the Keyport and baseline children into DIR/keyport, DIR/baseline
  --keep-data        BENCH_KEEP_DATA=1       keep the temporary data directory / database
  --results-dir=DIR  BENCH_RESULTS_DIR       where latest.json and latest.md go (default bench/results)
  --soak             BENCH_SOAK=1            instead of the figures: steady mixed load (tokens, introspection, admin changes,
                                             wrong secrets) watched for leaks and errors; writes soak-latest.{md,json}
  --soak-minutes=M   BENCH_SOAK_MINUTES      how long the soak runs (default 10)
  MONGODB_URI        benchmark on MongoDB (a fresh database keyport_bench_<random>, dropped at the end)
`;

function list(value: string, name: string): number[] {
  const out = value.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (!out.length || out.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error(`${name} must be a comma-separated list of positive numbers, got "${value}"`);
  return out;
}

function positive(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${value}"`);
  return n;
}

export function readOptions(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      'extra-connections': { type: 'string' },
      scales: { type: 'string' },
      'hot-keys': { type: 'string' },
      'cluster-workers': { type: 'string' },
      'list-size': { type: 'string' },
      only: { type: 'string' },
      'good-rate': { type: 'string' },
      'attack-rates': { type: 'string' },
      'log-level': { type: 'string' },
      'cpu-prof': { type: 'string' },
      'keep-data': { type: 'boolean' },
      'results-dir': { type: 'string' },
      soak: { type: 'boolean' },
      'soak-minutes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const pick = (flag: string | undefined, name: string): string | undefined => flag ?? (env[name] === '' ? undefined : env[name]);
  const truthy = (v: string | undefined) => v !== undefined && !['0', 'false', 'no', ''].includes(v.toLowerCase());

  const quick = values.quick ?? truthy(env.BENCH_QUICK);
  const duration = positive(pick(values.duration, 'BENCH_DURATION') ?? (quick ? '2' : '6'), 'BENCH_DURATION');
  const warmupRaw = pick(values.warmup, 'BENCH_WARMUP') ?? (quick ? '0.5' : '2');
  const warmup = warmupRaw === '0' ? 0 : positive(warmupRaw, 'BENCH_WARMUP');
  const rounds = Math.round(positive(pick(values.rounds, 'BENCH_ROUNDS') ?? (quick ? '1' : '3'), 'BENCH_ROUNDS'));
  const connections = list(pick(values.connections, 'BENCH_CONNECTIONS') ?? '1,8,32', 'BENCH_CONNECTIONS').map(Math.round);
  const extraRaw = pick(values['extra-connections'], 'BENCH_EXTRA_CONNECTIONS');
  const extraConnections = extraRaw ? Math.round(positive(extraRaw, 'BENCH_EXTRA_CONNECTIONS')) : Math.max(...connections);
  const scales = list(pick(values.scales, 'BENCH_SCALES') ?? (quick ? '100,10000' : '100,10000,100000'), 'BENCH_SCALES').map(Math.round).sort((a, b) => a - b);
  const hotKeys = Math.round(positive(pick(values['hot-keys'], 'BENCH_HOT_KEYS') ?? '50', 'BENCH_HOT_KEYS'));
  const clusterWorkers = Math.round(positive(pick(values['cluster-workers'], 'BENCH_CLUSTER_WORKERS') ?? String(availableParallelism()), 'BENCH_CLUSTER_WORKERS'));
  const listSizes = list(pick(values['list-size'], 'BENCH_LIST_SIZE') ?? (quick ? '100,10000' : '100,10000,100000'), 'BENCH_LIST_SIZE').map(Math.round).sort((a, b) => a - b);
  const onlyRaw = pick(values.only, 'BENCH_ONLY');
  const figures = new Set<Figure>(onlyRaw ? onlyRaw.split(',').map((s) => s.trim()) as Figure[] : ALL_FIGURES);
  for (const f of figures) if (!ALL_FIGURES.includes(f)) throw new Error(`BENCH_ONLY: unknown figure "${f}" (known: ${ALL_FIGURES.join(', ')})`);
  if (scales[0]! < hotKeys * 2) throw new Error(`the smallest scale (${scales[0]}) must hold at least twice BENCH_HOT_KEYS (${hotKeys}): the hot keys and a separate pool for wrong secrets`);

  return {
    quick,
    duration,
    warmup,
    rounds,
    connections,
    extraConnections,
    scales,
    hotKeys,
    clusterWorkers,
    listSizes,
    figures,
    keyportLogLevel: pick(values['log-level'], 'BENCH_KEYPORT_LOG_LEVEL') ?? 'info',
    cpuProfDir: pick(values['cpu-prof'], 'BENCH_CPU_PROF') ?? null,
    keepData: values['keep-data'] ?? truthy(env.BENCH_KEEP_DATA),
    resultsDir: pick(values['results-dir'], 'BENCH_RESULTS_DIR') ?? new URL('./results/', import.meta.url).pathname,
    goodRate: positive(pick(values['good-rate'], 'BENCH_GOOD_RATE') ?? '200', 'BENCH_GOOD_RATE'),
    attackRates: (pick(values['attack-rates'], 'BENCH_ATTACK_RATES') ?? 'full,1000').split(',').map((s) => s.trim()).filter(Boolean)
      .map((s) => (s === 'full' ? null : positive(s, 'BENCH_ATTACK_RATES'))),
    soak: values.soak ?? truthy(env.BENCH_SOAK),
    soakMinutes: positive(pick(values['soak-minutes'], 'BENCH_SOAK_MINUTES') ?? '10', 'BENCH_SOAK_MINUTES'),
  };
}
