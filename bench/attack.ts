// The attack figure: do good clients stay unhurt while others flood the token
// endpoint? Good clients ask for tokens at a steady rate from their own
// addresses; meanwhile one address floods wrong secrets for a real key and
// another floods unknown key ids, as fast as they can (or at a capped rate).
// The good clients' latency and errors are measured without the attack, then
// with it.
//
// autocannon cannot choose a source address, so this figure drives its own load
// with node:http agents bound to distinct loopback addresses (127.0.0.0/8 is
// all loopback on Linux): Keyport's per-address budget sees real, distinct
// client addresses, with no X-Forwarded-For and no trusted proxy.
import { Agent, request } from 'node:http';
import type { LoadRequest } from './load.ts';

export interface AttackSpec {
  /** http://127.0.0.1:port */
  url: string;
  /** Token requests of the good clients, one list per good address. */
  good: LoadRequest[][];
  /** Good requests per second, all good addresses together (open loop: sent on schedule, whatever the answers). */
  goodRate: number;
  /** Wrong secrets for a real keypair (one attacking address). */
  wrongSecrets: LoadRequest[];
  /** Unknown key ids (another attacking address). */
  unknownKeys: LoadRequest[];
  /** Connections of each attacker. */
  attackConnections: number;
  /** Requests per second of each attacker; null: as fast as its connections go. */
  attackRate: number | null;
  /** Seconds measured in each phase. */
  seconds: number;
  /** Seconds of load before each phase's measurement (the attack is under way before the good clients are measured). */
  warmup: number;
}

export interface GoodFigures {
  sent: number;
  ok: number;
  /** Answers other than 200 and network errors. */
  errors: number;
  statusCodes: Record<string, number>;
  /** From the scheduled send time to the answer, so that a stalled server cannot hide its delay (no coordinated omission). */
  latencyMs: { p50: number; p99: number; max: number };
}

export interface AttackerFigures {
  address: string;
  sent: number;
  perSecond: number;
  statusCodes: Record<string, number>;
}

export interface AttackResult {
  goodRate: number;
  attackRate: number | null;
  quiet: GoodFigures;
  underAttack: GoodFigures;
  attackers: AttackerFigures[];
  /** underAttack p99 ÷ quiet p99: the target is ≤ 1.5 with 0 errors. */
  p99Ratio: number;
}

const GOOD_ADDRESS = (i: number) => `127.0.0.${10 + i}`;
const WRONG_SECRET_ADDRESS = '127.0.0.2';
const UNKNOWN_KEY_ADDRESS = '127.0.0.3';

function send(url: URL, agent: Agent, r: LoadRequest): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers: r.headers, agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end(r.body);
  });
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}

/** Good clients: `rate` requests a second spread over the addresses, for `seconds`; measured only when `record`. */
async function goodClients(url: URL, lists: LoadRequest[][], agents: Agent[], rate: number, seconds: number, record: boolean): Promise<GoodFigures> {
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let sent = 0;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  const interval = 1000 / rate;
  for (let i = 0; ; i++) {
    const scheduled = start + i * interval;
    if (scheduled - start >= seconds * 1000) break;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const client = i % lists.length;
    const list = lists[client]!;
    sent++;
    inFlight.push(send(url, agents[client]!, list[Math.floor(i / lists.length) % list.length]!).then((status) => {
      latencies.push(performance.now() - scheduled);
      statusCodes[String(status)] = (statusCodes[String(status)] ?? 0) + 1;
    }));
  }
  await Promise.all(inFlight);
  latencies.sort((a, b) => a - b);
  const ok = statusCodes['200'] ?? 0;
  return record
    ? { sent, ok, errors: sent - ok, statusCodes, latencyMs: { p50: round(percentile(latencies, 50), 3), p99: round(percentile(latencies, 99), 3), max: round(percentile(latencies, 100), 3) } }
    : { sent, ok, errors: sent - ok, statusCodes, latencyMs: { p50: NaN, p99: NaN, max: NaN } };
}

/** One attacker: `connections` loops sending its requests until `until()` says stop; capped to `rate` a second when given. */
async function attacker(url: URL, address: string, requests: LoadRequest[], connections: number, rate: number | null, stop: { stopped: boolean }): Promise<AttackerFigures> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections, localAddress: address });
  const statusCodes: Record<string, number> = {};
  let sent = 0;
  const start = performance.now();
  const loop = async (lane: number) => {
    for (let i = lane; !stop.stopped; i += connections) {
      if (rate !== null) {
        const wait = start + (sent * 1000) / rate - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        if (stop.stopped) break;
      }
      sent++;
      const status = await send(url, agent, requests[i % requests.length]!);
      statusCodes[String(status)] = (statusCodes[String(status)] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, lane) => loop(lane)));
  agent.destroy();
  return { address, sent, perSecond: round(sent / ((performance.now() - start) / 1000), 1), statusCodes };
}

export async function runAttack(spec: AttackSpec, onPhase: (what: string) => void = () => {}): Promise<AttackResult> {
  const url = new URL(spec.url);
  const agents = spec.good.map((_, i) => new Agent({ keepAlive: true, localAddress: GOOD_ADDRESS(i) }));
  try {
    onPhase('good clients alone');
    await goodClients(url, spec.good, agents, spec.goodRate, spec.warmup, false);
    const quiet = await goodClients(url, spec.good, agents, spec.goodRate, spec.seconds, true);

    onPhase('good clients under attack');
    const stop = { stopped: false };
    const attacks = [
      attacker(url, WRONG_SECRET_ADDRESS, spec.wrongSecrets, spec.attackConnections, spec.attackRate, stop),
      attacker(url, UNKNOWN_KEY_ADDRESS, spec.unknownKeys, spec.attackConnections, spec.attackRate, stop),
    ];
    let underAttack: GoodFigures;
    try {
      await goodClients(url, spec.good, agents, spec.goodRate, spec.warmup, false);
      underAttack = await goodClients(url, spec.good, agents, spec.goodRate, spec.seconds, true);
    } finally {
      stop.stopped = true;
    }
    const attackers = await Promise.all(attacks);
    return { goodRate: spec.goodRate, attackRate: spec.attackRate, quiet, underAttack, attackers, p99Ratio: round(underAttack.latencyMs.p99 / quiet.latencyMs.p99) };
  } finally {
    for (const agent of agents) agent.destroy();
  }
}
