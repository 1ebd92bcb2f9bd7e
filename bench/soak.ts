// `npm run bench -- --soak`: Keyport under a steady, mixed load for a while
// (default 10 minutes), watched for leaks and errors. Loopback only, bounded in
// time: every loop stops at the deadline, then the server is stopped.
//
// The load, at fixed rates (requests are started on a timer, not as fast as
// answers come back, so the server sees the same traffic all along):
//  - token requests of good clients, from 127.0.0.1;
//  - introspection of those tokens by a resource server's keypair;
//  - admin changes through the REST API: keypairs created, rotated, disabled,
//    enabled, regenerated and removed, so the database and caches churn;
//  - wrong secrets for one key from another loopback address (127.0.0.2), with
//    the per-address budget Keyport ships with: they are answered 401, then
//    429 once that address is over its budget, while good clients are not.
// Every minute (and at the start and the end): the server's RSS, heap and
// event-loop delay p99 (its /metrics), the database's RSS, and per kind of
// traffic the requests, unexpected answers and client-side p99.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { newSecret } from '../src/domain/credentials.ts';
import type { BenchOptions } from './options.ts';
import { ferretdbPid, startKeyportServer, stopAllServers, type ChildServer } from './servers.ts';

/** Requests started per second, by kind. */
const RATES = { token: 400, introspect: 100, admin: 4, wrong: 20 } as const;
type Kind = keyof typeof RATES;
/** A request taking longer than this counts as an error. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Good clients' keypairs. */
const CLIENTS = 20;
const ADMIN_EMAIL = 'soak@example.com';
const ADMIN_PASSWORD = randomBytes(18).toString('base64url');
/** The verdict: memory at the end within this fraction of memory after the warm-up. */
const FLAT = 0.10;

interface HttpAnswer { status: number; body: string; headers: Record<string, string | string[] | undefined> }

/** One request over a keep-alive agent bound to a source address; never throws (status 0: no answer). */
function send(agent: Agent, url: URL, method: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method, agent, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', () => resolve({ status: 0, body: '', headers: {} }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, body: err.code ?? err.message, headers: {} }));
    req.end(body);
  });
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

/** Per kind and per interval: requests, unexpected answers (with a few examples) and latencies. */
class Tally {
  requests = 0;
  errors = 0;
  readonly examples: string[] = [];
  readonly latencies: number[] = [];
  record(ms: number, ok: boolean, what: string): void {
    this.requests++;
    this.latencies.push(ms);
    if (!ok) {
      this.errors++;
      if (this.examples.length < 5) this.examples.push(what);
    }
  }
  p99(): number {
    if (!this.latencies.length) return 0;
    const sorted = Float64Array.from(this.latencies).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
  }
}

interface Sample {
  minute: number;
  rssMb: number;
  heapUsedMb: number;
  eventLoopP99Ms: number;
  databaseRssMb: number | null;
  traffic: Record<Kind, { requests: number; errors: number; p99Ms: number }>;
}

export interface SoakResults {
  startedAt: string;
  finishedAt: string;
  minutes: number;
  warmupMinutes: number;
  rates: typeof RATES;
  machine: { cpu: string; cores: number; node: string };
  samples: Sample[];
  errors: Record<Kind, number>;
  errorExamples: string[];
  verdict: { rssChange: number; heapChange: number; flat: boolean; errorFree: boolean };
}

function metric(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

function rssOf(pid: number | null): number | null {
  if (!pid) return null;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export async function runSoak(options: BenchOptions): Promise<void> {
  const minutes = options.soakMinutes;
  // V8 grows its heap to the load's working set over the first minutes (RSS
  // climbed for 3 minutes, then held, in the first runs): memory is judged after that.
  const warmupMinutes = Math.min(3, minutes * 0.3);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('KEYPORT_') || name === 'MONGODB_URI') delete env[name];
  const dataDir = mkdtempSync(join(tmpdir(), 'keyport-soak-'));
  Object.assign(env, {
    KEYPORT_DATA_DIR: dataDir,
    KEYPORT_LOG_LEVEL: options.keyportLogLevel,
    KEYPORT_BOOTSTRAP_ADMIN_EMAIL: ADMIN_EMAIL,
    KEYPORT_BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
  });
  const good = new Agent({ keepAlive: true, maxSockets: 64, localAddress: '127.0.0.1' });
  const attacker = new Agent({ keepAlive: true, maxSockets: 8, localAddress: '127.0.0.2' });
  let server: ChildServer | null = null;
  try {
    log(`soak: starting Keyport on a fresh embedded FerretDB in ${dataDir}…`);
    server = await startKeyportServer({ env });
    const base = new URL(server.url);
    const at = (path: string) => new URL(path, base);
    const databasePid = ferretdbPid(dataDir);

    // ---- set-up through the admin API, as an administrator would
    const signIn = await send(good, at('/api/v1/session'), 'POST', { 'content-type': 'application/json' }, JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }));
    if (signIn.status !== 200) throw new Error(`soak: sign-in failed: ${signIn.status} ${signIn.body}`);
    const cookie = String(([] as string[]).concat(signIn.headers['set-cookie'] ?? []).find((c) => c.startsWith('keyport.sid='))).split(';')[0]!;
    const csrf = (JSON.parse(signIn.body) as { csrfToken: string }).csrfToken;
    const admin = (method: string, path: string, body?: unknown) => send(good, at(`/api/v1${path}`), method, { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json', accept: 'application/json' }, body === undefined ? undefined : JSON.stringify(body));
    const accounts = JSON.parse((await admin('GET', '/accounts')).body) as { items: { id: string }[] };
    const accountId = accounts.items[0]!.id;
    const environment = JSON.parse((await admin('POST', `/accounts/${accountId}/environments`, { name: 'soak' })).body) as { id: string };
    const create = async (name: string, scopes: string[], owner = `/environments/${environment.id}`) => {
      const res = await admin('POST', `${owner}/keypairs`, { name, scopes });
      if (res.status !== 201) throw new Error(`soak: creating a keypair failed: ${res.status} ${res.body}`);
      const issued = JSON.parse(res.body) as { keypair: { keyId: string }; secret: string };
      return { keyId: issued.keypair.keyId, secret: issued.secret };
    };
    const clients: { keyId: string; secret: string }[] = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await create(`client ${i}`, ['orders:read']));
    const introspector = await create('resource server', ['keyport:introspect'], `/accounts/${accountId}`);
    const victim = await create('attacked', ['orders:read']);
    const tokens: string[] = [];

    // ---- the traffic
    const totals = Object.fromEntries(Object.keys(RATES).map((k) => [k, new Tally()])) as Record<Kind, Tally>;
    let interval = Object.fromEntries(Object.keys(RATES).map((k) => [k, new Tally()])) as Record<Kind, Tally>;
    const record = (kind: Kind, started: number, ok: boolean, what: string) => {
      const ms = performance.now() - started;
      totals[kind].record(ms, ok, what);
      interval[kind].record(ms, ok, what);
    };

    const tokenRequest = async () => {
      const client = clients[Math.floor(Math.random() * clients.length)]!;
      const started = performance.now();
      const res = await send(good, at('/oauth/token'), 'POST', { authorization: basic(client.keyId, client.secret), 'content-type': FORM }, 'grant_type=client_credentials');
      const ok = res.status === 200;
      record('token', started, ok, `token ${res.status} ${res.body.slice(0, 100)}`);
      if (ok) tokens[Math.floor(Math.random() * 100)] = (JSON.parse(res.body) as { access_token: string }).access_token;
    };
    const introspection = async () => {
      const token = tokens[Math.floor(Math.random() * tokens.length)];
      if (!token) return;
      const started = performance.now();
      const res = await send(good, at('/oauth/introspect'), 'POST', { authorization: basic(introspector.keyId, introspector.secret), 'content-type': FORM }, new URLSearchParams({ token }).toString());
      record('introspect', started, res.status === 200 && res.body.includes('"active":true'), `introspect ${res.status} ${res.body.slice(0, 100)}`);
    };
    // Admin changes: a small rotating set of keypairs, each taken through its whole lifecycle.
    const lifecycle = ['create', 'rotate', 'disable', 'enable', 'regenerate', 'remove'] as const;
    let step = 0;
    let churned: string | null = null;
    // One change at a time, in order (a keypair is removed only after its earlier changes are answered).
    let adminQueue: Promise<void> = Promise.resolve();
    const adminChange = () => (adminQueue = adminQueue.then(adminStep, adminStep));
    const adminStep = async () => {
      const action = lifecycle[step++ % lifecycle.length]!;
      const started = performance.now();
      let res: HttpAnswer;
      if (action === 'create') {
        res = await admin('POST', `/environments/${environment.id}/keypairs`, { name: `churn ${step}`, scopes: ['orders:read'] });
        if (res.status === 201) churned = (JSON.parse(res.body) as { keypair: { keyId: string } }).keypair.keyId;
      } else if (!churned) {
        return;
      } else if (action === 'remove') {
        res = await admin('DELETE', `/keypairs/${churned}`);
        churned = null;
      } else {
        res = await admin('POST', `/keypairs/${churned}/${action}`, action === 'rotate' ? { grace: '1h' } : {});
      }
      record('admin', started, res.status >= 200 && res.status < 300, `admin ${action} ${res.status} ${res.body.slice(0, 100)}`);
    };
    const wrongSecret = async () => {
      const started = performance.now();
      const res = await send(attacker, at('/oauth/token'), 'POST', { authorization: basic(victim.keyId, newSecret()), 'content-type': FORM }, 'grant_type=client_credentials');
      record('wrong', started, res.status === 401 || res.status === 429, `wrong secret ${res.status} ${res.body.slice(0, 100)}`);
    };
    const senders: Record<Kind, () => Promise<void>> = { token: tokenRequest, introspect: introspection, admin: adminChange, wrong: wrongSecret };

    const samples: Sample[] = [];
    /** The server's metrics; heap used as the lowest of a few reads a second apart (closest to the live set after a collection). */
    const readMetrics = async () => {
      const reads: string[] = [];
      for (let i = 0; i < 5; i++) {
        reads.push((await send(good, at('/metrics'), 'GET', {})).body);
        if (i < 4) await new Promise((r) => setTimeout(r, 1000));
      }
      const heap = Math.min(...reads.map((text) => metric(text, 'nodejs_heap_size_used_bytes')));
      return { last: reads.at(-1)!, heap };
    };
    const sample = async (minute: number) => {
      const { last: metrics, heap } = await readMetrics();
      const traffic = Object.fromEntries(Object.entries(interval).map(([k, t]) => [k, { requests: t.requests, errors: t.errors, p99Ms: round1(t.p99()) }])) as Sample['traffic'];
      interval = Object.fromEntries(Object.keys(RATES).map((k) => [k, new Tally()])) as Record<Kind, Tally>;
      const s: Sample = {
        minute: round1(minute),
        rssMb: round1(metric(metrics, 'process_resident_memory_bytes') / 2 ** 20),
        heapUsedMb: round1(heap / 2 ** 20),
        eventLoopP99Ms: round1(metric(metrics, 'nodejs_eventloop_lag_p99_seconds') * 1000),
        databaseRssMb: rssOf(databasePid) === null ? null : round1(rssOf(databasePid)!),
        traffic,
      };
      samples.push(s);
      log(`soak: minute ${s.minute}: RSS ${s.rssMb} MB, heap ${s.heapUsedMb} MB, event-loop p99 ${s.eventLoopP99Ms} ms, database RSS ${s.databaseRssMb ?? '-'} MB; ${Object.entries(traffic).map(([k, t]) => `${k} ${t.requests} (${t.errors} errors, p99 ${t.p99Ms} ms)`).join(', ')}`);
    };

    const startedAt = new Date();
    const t0 = performance.now();
    const deadline = t0 + minutes * 60_000;
    log(`soak: ${minutes} min at ${Object.entries(RATES).map(([k, r]) => `${r}/s ${k}`).join(', ')}; warm-up ${round1(warmupMinutes)} min`);
    await sample(0);
    const inFlight = new Set<Promise<void>>();
    const due = Object.fromEntries(Object.keys(RATES).map((k) => [k, 0])) as Record<Kind, number>;
    let nextSample = 1;
    await new Promise<void>((resolve) => {
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        if (now >= deadline) {
          clearInterval(timer);
          resolve();
          return;
        }
        const elapsed = (now - last) / 1000;
        last = now;
        for (const kind of Object.keys(RATES) as Kind[]) {
          due[kind] += RATES[kind] * elapsed;
          while (due[kind] >= 1) {
            due[kind]--;
            const p = senders[kind]().catch((err: unknown) => record(kind, performance.now(), false, `${kind} threw ${String(err)}`));
            inFlight.add(p);
            void p.finally(() => inFlight.delete(p));
          }
        }
        const minute = (now - t0) / 60_000;
        if (minute >= nextSample) {
          nextSample = Math.floor(minute) + 1;
          void sample(minute);
        }
      }, 10);
    });
    await Promise.all(inFlight);
    await sample((performance.now() - t0) / 60_000);

    // ---- verdict: memory after the warm-up against memory at the end; no unexpected answer
    const afterWarmup = samples.find((s) => s.minute >= warmupMinutes) ?? samples[0]!;
    const end = samples.at(-1)!;
    const rssChange = end.rssMb / afterWarmup.rssMb - 1;
    const heapChange = end.heapUsedMb / afterWarmup.heapUsedMb - 1;
    const errors = Object.fromEntries(Object.entries(totals).map(([k, t]) => [k, t.errors])) as Record<Kind, number>;
    const results: SoakResults = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      minutes,
      warmupMinutes: round1(warmupMinutes),
      rates: RATES,
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
      samples,
      errors,
      errorExamples: Object.values(totals).flatMap((t) => t.examples).slice(0, 10),
      verdict: { rssChange: round1(rssChange * 100) / 100, heapChange: round1(heapChange * 100) / 100, flat: Math.abs(rssChange) <= FLAT && Math.abs(heapChange) <= FLAT, errorFree: Object.values(errors).every((n) => n === 0) },
    };
    const report = soakReport(results, afterWarmup);
    process.stdout.write(report);
    mkdirSync(options.resultsDir, { recursive: true });
    writeFileSync(join(options.resultsDir, 'soak-latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(options.resultsDir, 'soak-latest.md'), report);
    log(`soak: wrote ${join(options.resultsDir, 'soak-latest.md')}`);
    if (!results.verdict.flat || !results.verdict.errorFree) process.exitCode = 1;
  } finally {
    good.destroy();
    attacker.destroy();
    await stopAllServers();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function soakReport(r: SoakResults, afterWarmup: Sample): string {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${Math.round(x * 1000) / 10} %`;
  const lines = [
    `# Keyport soak (${r.startedAt.slice(0, 16).replace('T', ' ')} UTC)`,
    '',
    `${r.minutes} minutes of steady mixed load against one Keyport process on the embedded FerretDB (\`npm run bench -- --soak\`): ${Object.entries(r.rates).map(([k, v]) => `${v}/s ${k === 'admin' ? 'admin changes' : k === 'wrong' ? 'wrong secrets (from another address)' : k === 'token' ? 'token requests' : 'introspections'}`).join(', ')}. ${r.machine.cores} cores (${r.machine.cpu}), load generator on the same machine, ${r.machine.node} for the generator.`,
    '',
    '| minute | server RSS MB | heap used MB | event-loop p99 ms | database RSS MB | tokens (errors, p99 ms) | introspections | admin changes | wrong secrets |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...r.samples.map((s) => `| ${s.minute} | ${s.rssMb} | ${s.heapUsedMb} | ${s.eventLoopP99Ms} | ${s.databaseRssMb ?? '-'} | ${s.traffic.token.requests} (${s.traffic.token.errors}, ${s.traffic.token.p99Ms}) | ${s.traffic.introspect.requests} (${s.traffic.introspect.errors}, ${s.traffic.introspect.p99Ms}) | ${s.traffic.admin.requests} (${s.traffic.admin.errors}, ${s.traffic.admin.p99Ms}) | ${s.traffic.wrong.requests} (${s.traffic.wrong.errors}, ${s.traffic.wrong.p99Ms}) |`),
    '',
    `- **Memory after the warm-up** (minute ${afterWarmup.minute}) **to the end**: RSS ${pct(r.verdict.rssChange)}, heap used ${pct(r.verdict.heapChange)} (target: both within ±${FLAT * 100} %): **${r.verdict.flat ? 'flat' : 'NOT flat'}**.`,
    `- **Unexpected answers**: ${Object.entries(r.errors).map(([k, n]) => `${k} ${n}`).join(', ')}: **${r.verdict.errorFree ? 'none' : 'some'}**${r.errorExamples.length ? ` (e.g. ${r.errorExamples.slice(0, 3).map((e) => `\`${e}\``).join('; ')})` : ''}.`,
    '- Expected answers: tokens 200; introspections 200 with `"active": true`; admin changes 2xx; wrong secrets 401, or 429 once their address is over its per-address budget (the good clients, from another address, are not throttled).',
    '- The event-loop p99 is the server\'s own (prom-client, over the minute since the last sample); p99 per traffic kind is measured at the client.',
    '',
  ];
  return lines.join('\n');
}
