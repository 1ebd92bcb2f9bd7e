// Figures measured inside the benchmark process, without HTTP: what a resource
// server pays to validate a token, and the admin listing through the domain.
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Database } from '../src/db/connection.ts';
import { createVerifier } from '../src/verify/index.ts';

export interface LoopResult {
  concurrency: number;
  operations: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number };
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Runs `operation` back to back from `concurrency` loops for `seconds` (after `warmup` seconds unmeasured). */
export async function timeLoop(operation: (i: number) => Promise<unknown>, options: { seconds: number; warmup: number; concurrency: number }): Promise<LoopResult> {
  const latencies: number[] = [];
  let i = 0;
  const loop = async (until: number, record: boolean) => {
    while (performance.now() < until) {
      const started = performance.now();
      await operation(i++);
      if (record) latencies.push(performance.now() - started);
      // An operation that completes in microtasks (a cache hit) would otherwise starve
      // the event loop for the whole phase: sockets left unserviced, timers late.
      if (i % 1024 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const phase = (seconds: number, record: boolean) => {
    const until = performance.now() + seconds * 1000;
    return Promise.all(Array.from({ length: options.concurrency }, () => loop(until, record)));
  };
  if (options.warmup > 0) await phase(options.warmup, false);
  const t0 = performance.now();
  await phase(options.seconds, true);
  const seconds = (performance.now() - t0) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
  return {
    concurrency: options.concurrency,
    operations: latencies.length,
    seconds: round(seconds),
    perSecond: round(latencies.length / seconds, 1),
    latencyMs: { p50: round(at(50), 3), p99: round(at(99), 3) },
  };
}

/**
 * jose jwtVerify against a local JWKS fetched once, with what a resource server
 * must pin (RFC 9068 / RFC 8725): algorithm, issuer, audience and `typ`.
 */
export async function measureJwtValidation(options: { jwksUrl: string; tokens: string[]; issuer: string; audience: string; seconds: number; warmup: number; concurrency: number }): Promise<LoopResult> {
  const jwks = await (await fetch(options.jwksUrl)).json() as JSONWebKeySet;
  const keys = createLocalJWKSet(jwks);
  const { tokens } = options;
  const verifyOptions = { issuer: options.issuer, audience: options.audience, typ: 'at+jwt', algorithms: ['ES256'] };
  // Fail loudly if the tokens do not verify: a benchmark of failures would be meaningless.
  await jwtVerify(tokens[0]!, keys, verifyOptions);
  return timeLoop((i) => jwtVerify(tokens[i % tokens.length]!, keys, verifyOptions), options);
}

/**
 * The same validation through Keyport's resource-server kit (keyport/verify):
 * `remember` on, the tokens repeat (clients reuse a token until it expires)
 * and the kit answers from its verified-token cache; off, every call checks the
 * signature, as for a stream of distinct tokens.
 */
export async function measureKitValidation(options: { tokens: string[]; issuer: string; audience: string; remember: boolean; seconds: number; warmup: number; concurrency: number }): Promise<LoopResult> {
  // Bound to the tokens' own accounts, as a resource server is: the tenant check is part of the measured work.
  const accounts = [...new Set(options.tokens.map((token) => String(decodeJwt(token).acc)))];
  const verifier = createVerifier({ issuer: options.issuer, audience: options.audience, tenants: { accounts }, verifiedTokens: options.remember ? {} : false });
  const { tokens } = options;
  await verifier.verify(tokens[0]!); // fetches the metadata and JWKS, and fails loudly if the tokens do not verify
  return timeLoop((i) => verifier.verify(tokens[i % tokens.length]!), options);
}

/**
 * One keypair read from the database by key id: what a token request costs when
 * the keypair is not in Keyport's in-process cache (its first request after a
 * start, or after a change). Warm token requests do not read the database.
 */
export function measureKeypairRead(options: { database: Database; keyIds: string[]; seconds: number; warmup: number; concurrency: number }): Promise<LoopResult> {
  const { keyIds } = options;
  return timeLoop(async (i) => {
    if (!(await options.database.models.Keypair.findById(keyIds[i % keyIds.length]!).lean())) throw new Error('a seeded keypair was not found');
  }, options);
}

/** The database's query plan for a keypair lookup by key id (does it use the _id index?). */
export async function explainKeypairLookup(database: Database, keyId: string): Promise<string> {
  try {
    const explained = await database.connection.db!.command({ explain: { find: 'keypairs', filter: { _id: keyId }, limit: 1 }, verbosity: 'queryPlanner' }) as {
      queryPlanner?: { Plan?: string[]; winningPlan?: unknown };
    };
    const planner = explained.queryPlanner ?? {};
    // FerretDB (SQLite): the SQLite plan lines; MongoDB: the winning plan's stages.
    if (Array.isArray(planner.Plan)) return planner.Plan.map((line) => line.replace(/^id=\d+ parent=\d+ notused=\d+ detail=/, '')).join('; ');
    const stages: string[] = [];
    for (let plan = planner.winningPlan as { stage?: string; inputStage?: unknown; queryPlan?: unknown } | undefined; plan; plan = (plan.inputStage ?? plan.queryPlan) as typeof plan) {
      if (plan.stage) stages.push(plan.stage);
    }
    return stages.join(' ← ') || JSON.stringify(planner).slice(0, 200);
  } catch (err) {
    return `explain failed: ${(err as Error).message}`;
  }
}
