// The embedded database dies (kill -9 of FerretDB): Keyport starts it again by
// itself, every request that needs it meanwhile fails fast with 503 and
// Retry-After (an OAuth JSON error at the OAuth endpoints), tokens of keypairs
// already in the cache are still issued, and everything works again without a
// restart of Keyport, on the data written before.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { exportJWK, SignJWT } from 'jose';
import { openKeyportDomain } from '../../src/keyport.ts';
import { accountOwner, ApiClient, createUser } from '../helpers/api.ts';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';
import { dpopKey, dpopProof, dpopTokenRequest } from '../helpers/dpop.ts';
import { basic, getToken, seedKeypair, tokenRequest } from '../helpers/oauth.ts';
import { UiClient } from '../helpers/ui.ts';

// About the embedded database's supervision: this file runs on FerretDB even where the others run on MongoDB.
delete process.env.KEYPORT_TEST_MONGODB_URI;

const test = anyTest as TestFn<{ kp: TestKeyport }>;

/**
 * The issue asks for an answer within 1 s; Keyport gives up on the database
 * after serverSelectionTimeoutMs (750 ms by default). The bound leaves room for
 * a loaded test machine; before supervision these requests took 10 s and more.
 */
const FAST_MS = 2_000;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

/** FerretDB's process id, from the runtime file Keyport keeps in the data directory. */
function ferretdbPid(kp: TestKeyport): number {
  return (JSON.parse(readFileSync(join(kp.dataDir, 'ferretdb.json'), 'utf8')) as { pid: number }).pid;
}

function ferretdbPort(kp: TestKeyport): number {
  return Number(new URL(kp.keyport.database.uri).port);
}

async function until(probe: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return probe();
}

async function timed<T>(request: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await request();
  return { result, ms: performance.now() - started };
}

/**
 * Takes FerretDB's port as soon as the killed process has let it go, with a
 * server that closes every connection: Keyport cannot start FerretDB again
 * until it is released, so the outage lasts as long as the test needs.
 */
async function holdPort(port: number): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
      });
      return server;
    } catch (err) {
      if (attempt > 200) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function restartCount(url: string): Promise<number> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  return Number(/^keyport_database_restarts_total (\d+)/m.exec(metrics)?.[1] ?? Number.NaN);
}

test.serial('a killed embedded database is started again by Keyport, on the same port, and serves the same data', async (t) => {
  t.timeout(60_000);
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const port = ferretdbPort(kp);
  const killed = ferretdbPid(kp);

  process.kill(killed, 'SIGKILL');
  t.true(await until(async () => (await fetch(`${kp.url}/readyz`)).status === 200 && ferretdbPid(kp) !== killed, 20_000), 'ready again, on a new FerretDB process');
  t.is(ferretdbPort(kp), port, 'the connection string is unchanged');
  t.is(kp.keyport.database.embeddedPid(), ferretdbPid(kp));
  t.is((await tokenRequest(kp.url, seed)).status, 200, 'a keypair written before the kill, read after it');
  t.is(await restartCount(kp.url), 1);
});

test.serial('while the database is down, requests that need it get 503 with Retry-After at once; cached keypairs still get tokens', async (t) => {
  t.timeout(60_000);
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport, { owner: 'account' });
  await createUser(kp.keyport, 'admin@outage.test', [[accountOwner(seed.accountId), 'admin']]);
  const api = await ApiClient.signIn(kp.url, 'admin@outage.test');
  const ui = await UiClient.signIn(kp.url, 'admin@outage.test');
  const written = await api.patch(`/accounts/${seed.accountId}`, { name: 'Renamed before the outage' });
  t.is(written.status, 200);
  await getToken(kp.url, seed); // now in the cache
  const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyOnly = (await kp.keyport.domain.keypairs.create({ accountId: seed.accountId }, { name: 'signer', scopes: ['orders:read'], secret: false, publicKeys: [await exportJWK(signer.publicKey)] }, 'system')).keypair.keyId;
  const withAssertion = async () => fetch(`${kp.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await new SignJWT({ iss: keyOnly, sub: keyOnly, aud: `${kp.url}/oauth/token`, jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 60 }).setProtectedHeader({ alg: 'ES256' }).sign(signer.privateKey),
    }),
  });
  t.is((await withAssertion()).status, 200); // now in the cache
  const uncached = await seedKeypair(kp.keyport);
  const restartsBefore = await restartCount(kp.url);
  let cli: ReturnType<typeof openKeyportDomain> | undefined;
  const feedHealth: boolean[] = [];
  kp.keyport.domain.changes.onHealthChange((healthy) => feedHealth.push(healthy));

  process.kill(ferretdbPid(kp), 'SIGKILL');
  const holder = await holdPort(ferretdbPort(kp));
  try {
    const admin = await timed(() => api.get(`/accounts/${seed.accountId}`));
    t.is(admin.result.status, 503);
    t.is(admin.result.body.error.code, 'database_unavailable');
    t.regex(admin.result.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    t.true(admin.ms < FAST_MS, `admin API answered in ${Math.round(admin.ms)} ms`);

    const token = await timed(() => tokenRequest(kp.url, uncached));
    t.is(token.result.status, 503);
    t.regex(token.result.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    t.regex(token.result.headers.get('content-type') ?? '', /^application\/json/);
    t.like(await token.result.json(), { error: 'temporarily_unavailable' });
    t.true(token.ms < FAST_MS, `token endpoint answered in ${Math.round(token.ms)} ms`);

    t.is((await tokenRequest(kp.url, seed)).status, 200, 'a keypair in the cache needs no database');
    // A client assertion's jti must be recorded as used: without the database that cannot be done, and it is no replay either.
    const assertionDuringOutage = await withAssertion();
    t.is(assertionDuringOutage.status, 503);
    t.like(await assertionDuringOutage.json(), { error: 'temporarily_unavailable' });
    // A DPoP proof must be recorded as used: without the database that cannot be done, and it is no replay either.
    const proofDuringOutage = await dpopTokenRequest(kp.url, seed, await dpopProof(await dpopKey(), 'POST', `${kp.url}/oauth/token`));
    t.is(proofDuringOutage.status, 503);
    t.regex(proofDuringOutage.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    t.like(await proofDuringOutage.json(), { error: 'temporarily_unavailable' });

    const introspection = await timed(() => fetch(`${kp.url}/oauth/introspect`, {
      method: 'POST',
      headers: { authorization: basic(uncached.keyId, uncached.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'x' }),
    }));
    t.is(introspection.result.status, 503);
    t.regex(introspection.result.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    t.like(await introspection.result.json(), { error: 'temporarily_unavailable' });
    t.true(introspection.ms < FAST_MS, `introspection answered in ${Math.round(introspection.ms)} ms`);

    const revocation = await fetch(`${kp.url}/oauth/revoke`, {
      method: 'POST',
      headers: { authorization: basic(uncached.keyId, uncached.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'x' }),
    });
    t.is(revocation.status, 503);
    t.like(await revocation.json(), { error: 'temporarily_unavailable' });

    const page = await timed(() => ui.get('/ui/accounts'));
    t.is(page.result.status, 503);
    t.regex(page.result.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    t.regex(page.result.html, /Temporarily unavailable/);
    t.true(page.ms < FAST_MS, `web UI answered in ${Math.round(page.ms)} ms`);

    const ready = await timed(() => fetch(`${kp.url}/readyz`));
    t.is(ready.result.status, 503);
    t.true(ready.ms < FAST_MS, `/readyz answered in ${Math.round(ready.ms)} ms`);

    // A CLI command started now waits for the server to bring its FerretDB back, rather than start a second one on the same data.
    cli = openKeyportDomain(kp.config, undefined, 'tool');
  } finally {
    await new Promise((resolve) => holder.close(resolve));
  }

  t.true(await until(async () => (await fetch(`${kp.url}/readyz`)).status === 200, 40_000), '/readyz turns green by itself');
  t.is((await tokenRequest(kp.url, uncached)).status, 200);
  const after = await api.get(`/accounts/${seed.accountId}`);
  t.is(after.status, 200);
  t.is(after.body.name, 'Renamed before the outage');
  t.is((await ui.get('/ui/accounts')).status, 200);
  t.true(await restartCount(kp.url) > restartsBefore, 'the restart is counted');
  const tool = await cli;
  try {
    t.is(tool.database.uri, kp.keyport.database.uri, 'the CLI attached to the server\'s FerretDB');
    t.is((await tool.domain.owners.getAccount(seed.accountId)).name, 'Renamed before the outage');
  } finally {
    await tool.database.close();
  }
  t.is((await fetch(`${kp.url}/readyz`)).status, 200, 'the CLI leaves the server\'s FerretDB running');
  // The change feed polls four times a second: it reports (and the server logs) the outage once, and the recovery once.
  t.true(await until(async () => feedHealth.length >= 2, 5_000));
  t.deepEqual(feedHealth, [false, true]);
});
