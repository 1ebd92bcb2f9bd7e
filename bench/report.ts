// The benchmark's results: their shape, the console table, and the files
// bench/results/latest.json (everything, with every sample) and latest.md (a summary).
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AttackResult } from './attack.ts';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import type { LoopResult } from './inprocess.ts';
import type { LoadResult } from './load.ts';

export type PairedFigure = 'token' | 'cluster' | 'tracing' | 'wrong' | 'introspect';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  database: { kind: 'ferretdb' | 'mongodb'; version: string };
  loadAverage: { start: number[]; end: number[] | null };
}

export interface PairedPoint {
  figure: PairedFigure;
  keypairs: number;
  connections: number;
  /** The median sample (by req/s) of each server. */
  keyport: LoadResult;
  baseline: LoadResult;
  samples: { keyport: LoadResult[]; baseline: LoadResult[] };
  /** Keyport ÷ baseline; cpuEfficiency is the baseline's CPU per request ÷ Keyport's (with its database), null without /proc. */
  ratio: { rps: number; p50: number; p99: number; cpuEfficiency?: number | null };
  /** Responses whose status was not the expected one (200, or 401 for wrong secrets). */
  unexpected: { keyport: number; baseline: number };
  /** Cluster points: Keyport's KEYPORT_WORKERS. */
  workers?: number;
  /** Wrong-secret points: failures Keyport counted on the keys (vs requests sent), and keys that locked. */
  failures?: { sent: number; counted: number; locked: number };
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  complete: boolean;
  settings: Record<string, unknown>;
  machine: MachineInfo;
  /** Decoded header and claim names of one token of each server: evidence that the formats match. */
  tokenFormat: Record<'keyport' | 'baseline', { header: Record<string, unknown>; claims: string[]; bytes: number }> | null;
  points: PairedPoint[];
  jwtValidation: (LoopResult & { label: string })[];
  listing: { limit: number; via: string; sizes: { listSize: number; keypairsInDatabase: number; results: { name: string; result: LoopResult }[] }[] } | null;
  /** Per scale: the keypair read behind each token request, alone (in-process), and its query plan. */
  keypairReads: { keypairs: number; plan: string; result: LoopResult }[];
  /**
   * Wrong secrets from one address against a Keyport with the production
   * per-address budget (lockout.maxFailuresPerAddress): past it, 429 before any
   * database work. What a brute force from one place costs the server.
   */
  /** Good clients without and with an attack, one entry per attack rate. */
  attack: AttackResult[];
  throttledWrong: { keypairs: number; connections: number; budgetPerMinute: number; result: LoadResult; databaseOperationsPerRequest: number } | null;
  /** Database operations per request by collection.method, counted in the Keyport process. */
  queriesPerRequest: Record<string, Record<string, number>>;
  /** Figures that failed (the run went on without them). */
  failures: string[];
  notes: string[];
}

export function machineInfo(database: MachineInfo['database']): MachineInfo {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${osType()} ${release()}`,
    node: process.version,
    database,
    loadAverage: { start: loadavg().map((n) => Math.round(n * 100) / 100), end: null },
  };
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
/** Rates: whole numbers, with one decimal below 10 (a slow figure must not show as 0). */
const rate = (n: number) => (Number.isFinite(n) && n > 0 && n < 10 ? n.toFixed(1) : int(n));
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : '–');
const ratio = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const cpu = (n: number | null) => (n === null ? '–' : `${Math.round(n * 100)}%`);

function table(header: string[], rows: string[][], markdown: boolean): string {
  if (markdown) {
    return [
      `| ${header.join(' | ')} |`,
      `|${header.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`,
      ...rows.map((row) => `| ${row.join(' | ')} |`),
    ].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function flag(point: PairedPoint, side: 'keyport' | 'baseline'): string {
  return point.unexpected[side] > 0 ? ' !' : '';
}

function pairedTable(points: PairedPoint[], markdown: boolean): string {
  const header = ['keypairs', 'conns', 'Keyport req/s', 'p50 ms', 'p99 ms', 'baseline req/s', 'p50 ms', 'p99 ms', 'ratio req/s', 'ratio p99', 'ratio CPU/req', 'CPU Keyport/DB/load'];
  const rows = points.map((p) => [
    int(p.keypairs),
    String(p.connections),
    rate(p.keyport.rps) + flag(p, 'keyport'),
    ms(p.keyport.latencyMs.p50),
    ms(p.keyport.latencyMs.p99),
    rate(p.baseline.rps) + flag(p, 'baseline'),
    ms(p.baseline.latencyMs.p50),
    ms(p.baseline.latencyMs.p99),
    ratio(p.ratio.rps),
    ratio(p.ratio.p99),
    p.ratio.cpuEfficiency == null ? '–' : ratio(p.ratio.cpuEfficiency),
    `${cpu(p.keyport.cpu.server)}/${cpu(p.keyport.cpu.database)}/${cpu(p.keyport.cpu.loadGenerator)}`,
  ]);
  return table(header, rows, markdown);
}

function clusterTable(results: BenchResults, markdown: boolean): string {
  const header = ['keypairs', 'conns', 'workers', 'Keyport req/s', 'p50 ms', 'p99 ms', 'one process req/s', 'scaling', 'baseline req/s', 'ratio req/s', 'ratio p99', 'CPU Keyport/DB/load'];
  const rows = results.points.filter((p) => p.figure === 'cluster').map((p) => {
    const single = results.points.find((q) => q.figure === 'token' && q.keypairs === p.keypairs && q.connections === p.connections);
    return [
      int(p.keypairs),
      String(p.connections),
      String(p.workers ?? '–'),
      rate(p.keyport.rps) + flag(p, 'keyport'),
      ms(p.keyport.latencyMs.p50),
      ms(p.keyport.latencyMs.p99),
      single ? rate(single.keyport.rps) : '–',
      single ? `${ratio(p.keyport.rps / single.keyport.rps)}×` : '–',
      rate(p.baseline.rps) + flag(p, 'baseline'),
      ratio(p.ratio.rps),
      ratio(p.ratio.p99),
      `${cpu(p.keyport.cpu.server)}/${cpu(p.keyport.cpu.database)}/${cpu(p.keyport.cpu.loadGenerator)}`,
    ];
  });
  return table(header, rows, markdown);
}

function wrongTable(results: BenchResults, markdown: boolean): string {
  const header = ['keypairs', 'conns', 'wrong req/s', 'p99 ms', 'right req/s', 'wrong ÷ right', 'baseline wrong req/s', 'failures counted / sent', 'keys locked'];
  const rows = results.points.filter((p) => p.figure === 'wrong').map((p) => {
    const right = results.points.find((q) => q.figure === 'token' && q.keypairs === p.keypairs && q.connections === p.connections);
    return [
      int(p.keypairs),
      String(p.connections),
      rate(p.keyport.rps) + flag(p, 'keyport'),
      ms(p.keyport.latencyMs.p99),
      right ? rate(right.keyport.rps) : '–',
      right ? ratio(p.keyport.rps / right.keyport.rps) : '–',
      rate(p.baseline.rps) + flag(p, 'baseline'),
      p.failures ? `${int(p.failures.counted)} / ${int(p.failures.sent)}` : '–',
      p.failures ? String(p.failures.locked) : '–',
    ];
  });
  return table(header, rows, markdown);
}

function loopTable(label: string, rows: { name: string; result: LoopResult }[], markdown: boolean): string {
  return table([label, 'in flight', 'per second', 'p50 ms', 'p99 ms'], rows.map(({ name, result }) => [
    name, String(result.concurrency), rate(result.perSecond), ms(result.latencyMs.p50), ms(result.latencyMs.p99),
  ]), markdown);
}

function queriesTable(queries: BenchResults['queriesPerRequest'], markdown: boolean): string {
  const rows: string[][] = [];
  for (const [request, counts] of Object.entries(queries)) {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    rows.push([request, Object.entries(counts).map(([op, n]) => `${op} ${n.toFixed(2)}`).join(', ') || '–', total.toFixed(2)]);
  }
  return table(['request', 'database operations per request', 'total'], rows, markdown);
}

/** Every section, as console text or markdown. */
export function renderResults(results: BenchResults, markdown: boolean): string {
  const out: string[] = [];
  const h = (title: string) => out.push(markdown ? `\n## ${title}\n` : `\n${title}\n`);
  const byFigure = (figure: PairedFigure) => results.points.filter((p) => p.figure === figure);
  if (results.failures.length) {
    h('FAILED figures (the run went on without them)');
    out.push(results.failures.map((f) => `- ${f}`).join('\n'));
  }
  if (byFigure('token').length) {
    h('Token endpoint — POST /oauth/token, client_credentials, ES256 JWT (Keyport vs baseline, paired)');
    out.push(pairedTable(byFigure('token'), markdown));
  }
  if (byFigure('cluster').length) {
    h('Cluster mode — the same token requests with KEYPORT_WORKERS (one process per core, sharing only the database)');
    out.push(clusterTable(results, markdown));
  }
  if (byFigure('tracing').length) {
    h('OpenTelemetry traces on — the same token requests with every span exported over OTLP/HTTP to a local sink (traces are off by default; the token figure above is with them off)');
    out.push(pairedTable(byFigure('tracing'), markdown));
  }
  if (byFigure('wrong').length) {
    h('Wrong secrets — must not be slower than right ones');
    out.push(wrongTable(results, markdown));
  }
  if (results.throttledWrong) {
    const w = results.throttledWrong;
    const right = results.points.find((q) => q.figure === 'token' && q.keypairs === w.keypairs && q.connections === w.connections);
    h(`Wrong secrets from one address, production setting — ${w.budgetPerMinute} failures a minute, then 429 slow_down before any database work`);
    out.push(table(['keypairs', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'answers', 'database operations per request', 'right req/s', 'wrong ÷ right'], [[
      int(w.keypairs), String(w.connections), rate(w.result.rps), ms(w.result.latencyMs.p50), ms(w.result.latencyMs.p99),
      Object.entries(w.result.statusCodes).map(([status, n]) => `${status}: ${int(n)}`).join(', '),
      w.databaseOperationsPerRequest.toFixed(3),
      right ? rate(right.keyport.rps) : '–', right ? ratio(w.result.rps / right.keyport.rps) : '–',
    ]], markdown));
  }
  if (results.attack.length) {
    h('Good clients under attack — steady token requests from 4 addresses while one address floods wrong secrets for a real key and another floods unknown key ids (production lockout settings)');
    const codes = (c: Record<string, number>) => Object.entries(c).map(([status, n]) => `${status}: ${int(n)}`).join(', ');
    out.push(table(['attack rate (each)', 'good req/s', 'good p99 alone ms', 'good p99 under attack ms', 'p99 ratio (target ≤ 1.5)', 'good errors', 'attackers req/s', 'attackers\' answers'], results.attack.map((a) => [
      a.attackRate === null ? 'full speed' : `${int(a.attackRate)}/s`,
      String(a.goodRate),
      ms(a.quiet.latencyMs.p99),
      ms(a.underAttack.latencyMs.p99),
      ratio(a.p99Ratio),
      `${a.quiet.errors} / ${a.underAttack.errors}`,
      a.attackers.map((x) => rate(x.perSecond)).join(' + '),
      a.attackers.map((x) => codes(x.statusCodes)).join(' · '),
    ]), markdown));
  }
  if (byFigure('introspect').length) {
    h('Introspection — POST /oauth/introspect of the caller\'s own token');
    out.push(pairedTable(byFigure('introspect'), markdown));
  }
  if (results.keypairReads.length) {
    h('Database — one keypair read by key id (what a token request costs on a cache miss; warm requests read nothing)');
    out.push(table(['keypairs', 'query plan', 'reads/s', 'p50 ms', 'p99 ms'], results.keypairReads.map(({ keypairs, plan, result }) => [
      int(keypairs), plan, rate(result.perSecond), ms(result.latencyMs.p50), ms(result.latencyMs.p99),
    ]), markdown));
  }
  if (results.jwtValidation.length) {
    h('JWT validation by a resource server — in-process (WebCrypto checks signatures on libuv\'s thread pool: with 16 in flight, both cores)');
    out.push(loopTable('validation', results.jwtValidation.map((r) => ({ name: r.label, result: r })), markdown));
  }
  if (results.listing) {
    const l = results.listing;
    h(`Admin listing — pages of ${l.limit} over ${l.via} (targets: p50 ≤ 50 ms, p99 ≤ 150 ms at every size)`);
    out.push(table(['keypairs in the account', 'in the database', 'request', 'in flight', 'per second', 'p50 ms', 'p99 ms'], l.sizes.flatMap((size) => size.results.map(({ name, result }) => [
      int(size.listSize), int(size.keypairsInDatabase), name, String(result.concurrency), rate(result.perSecond), ms(result.latencyMs.p50), ms(result.latencyMs.p99),
    ])), markdown));
  }
  if (Object.keys(results.queriesPerRequest).length) {
    h('Database operations per request (counted in the Keyport process)');
    out.push(queriesTable(results.queriesPerRequest, markdown));
  }
  if (results.notes.length) {
    h('Notes');
    out.push(results.notes.map((n) => `- ${n}`).join('\n'));
  }
  return out.join('\n');
}

function machineLines(results: BenchResults): string[] {
  const m = results.machine;
  return [
    `- CPU: ${m.cpuModel}, ${m.cores} cores; ${m.memoryGiB} GiB; ${m.os}`,
    `- Node ${m.node}; database: ${m.database.kind === 'ferretdb' ? 'embedded FerretDB' : 'MongoDB'} ${m.database.version}`,
    `- load average (1/5/15 min) at start ${m.loadAverage.start.join(' / ')}, at end ${m.loadAverage.end?.join(' / ') ?? '–'}`,
  ];
}

function settingsLine(results: BenchResults): string {
  const s = results.settings;
  return `- ${s.duration} s measured per point after ${s.warmup} s of warm-up, ${s.rounds} round(s) per paired point (medians; ratios are the median of the rounds' ratios), requests spread over ${s.hotKeys} keypairs${s.quick ? ' — QUICK RUN, indicative only' : ''}`;
}

export function consoleSummary(results: BenchResults): string {
  return [`Keyport benchmark${results.complete ? '' : ' (INCOMPLETE)'}`, ...machineLines(results), settingsLine(results), renderResults(results, false)].join('\n');
}

export function writeResults(dir: string, results: BenchResults): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  const markdown = join(dir, 'latest.md');
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(markdown, [
    `# Keyport benchmark${results.complete ? '' : ' (incomplete)'}`,
    '',
    `Run ${results.startedAt} → ${results.finishedAt} with \`npm run bench\`.`,
    '',
    '## Machine and settings',
    '',
    ...machineLines(results),
    settingsLine(results),
    '- Servers in child processes, load from autocannon in the benchmark process; each Keyport point is paired with a baseline point measured right before or after it (the order alternates). The baseline is oidc-provider 9 with one static client, the same ES256 JWT format and no database: the practical ceiling of this stack.',
    '- "!" marks a point where some responses had an unexpected status (see latest.json). CPU is the share of one core used by the Keyport process, the database and the load generator during the Keyport point. "ratio CPU/req" is the baseline\'s CPU time per request ÷ Keyport\'s (its process and its database), median over the rounds: the cost of a request, which a shared host\'s changing speed moves much less than throughput (both sides saturate the same cores); like "ratio req/s", below 1 means Keyport does worse.',
    renderResults(results, true),
    '',
  ].join('\n'));
  return { json, markdown };
}
