// Scaling out (docs/scaling.md): two independent Keyport processes (not cluster
// workers) on one database. The first runs the embedded FerretDB; the second is
// started with MONGODB_URI pointing at it, as a second host would be pointed at a
// MongoDB replica set. A change made through one process is honoured by the other
// within the change feed's bound (one poll, 250 ms, plus the poll's read):
// disable, regenerate, lock, revoke, close.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { loadConfig } from '../src/config.ts';
import { openKeyportDomain } from '../src/keyport.ts';
import { freePort } from '../src/net-ports.ts';
import { ApiClient, PASSWORD } from './helpers/api.ts';
import { basic, getToken, introspect, tokenRequest } from './helpers/oauth.ts';
import { cleanEnv, startProcess, waitFor, type KeyportProcess } from './helpers/process.ts';

/**
 * The bound this test holds the other process to: docs/scaling.md states one
 * poll (250 ms) plus the poll's own read; the margin is for a loaded CI machine
 * (both processes, the database and the test share two cores).
 */
const BOUND_MS = 2_000;

interface Keypair { keyId: string; secret: string }
interface Context {
  dataDirs: string[];
  processes: KeyportProcess[];
  /** The process that makes the changes, and the one that must honour them. */
  a: string;
  b: string;
  accountId: string;
  environmentId: string;
  /** A bearer token for the admin API of the first process. */
  manage: Keypair;
  introspector: Keypair;
  seed: (owner: { accountId: string } | { environmentId: string }) => Promise<Keypair>;
  closeDomain: () => Promise<void>;
}
const test = anyTest as TestFn<Context>;

async function ready(proc: KeyportProcess): Promise<string> {
  const [, url] = await waitFor(() => proc.output().match(/Keyport is ready at (http:\/\/\S+)/), 'the ready line', 60_000);
  return url!;
}

test.before(async (t) => {
  const dirA = mkdtempSync(join(tmpdir(), 'keyport-scale-a-'));
  const dirB = mkdtempSync(join(tmpdir(), 'keyport-scale-b-'));
  t.context.dataDirs = [dirA, dirB];
  t.context.processes = [];
  // One issuer for both, as behind a load balancer: a token issued by either is honoured by both.
  const portA = await freePort();
  const issuer = `http://127.0.0.1:${portA}`;
  const first = startProcess(cleanEnv({ KEYPORT_DATA_DIR: dirA, KEYPORT_PORT: String(portA), KEYPORT_ISSUER: issuer }));
  t.context.processes.push(first);
  t.context.a = await ready(first);

  // The second host: its own data directory (unused), the first one's database and server secrets.
  const { port } = JSON.parse(readFileSync(join(dirA, 'ferretdb.json'), 'utf8')) as { port: number };
  const secrets = JSON.parse(readFileSync(join(dirA, 'keyport-secrets.json'), 'utf8')) as { pepper: string; keyEncryptionKey: string };
  const second = startProcess(cleanEnv({
    MONGODB_URI: `mongodb://127.0.0.1:${port}/keyport`,
    KEYPORT_SECRET_PEPPER: secrets.pepper,
    KEYPORT_KEY_ENCRYPTION_KEY: secrets.keyEncryptionKey,
    KEYPORT_DATA_DIR: dirB,
    KEYPORT_PORT: '0',
    KEYPORT_ISSUER: issuer,
  }));
  t.context.processes.push(second);
  t.context.b = (await ready(second)).replace(/\/$/, '');
  t.regex(second.output(), /database: MongoDB at mongodb:\/\/127\.0\.0\.1/);

  // Fixtures written straight to the database, as an operator's CLI would.
  const { database, domain } = await openKeyportDomain(loadConfig(cleanEnv({ KEYPORT_DATA_DIR: dirA })));
  t.context.closeDomain = () => database.close();
  const account = await domain.owners.createAccount({ name: 'Scale' }, 'system');
  const environment = await domain.owners.createEnvironment(account.id, { name: 'production' }, 'system');
  t.context.accountId = account.id;
  t.context.environmentId = environment.id;
  const create = async (owner: { accountId: string } | { environmentId: string }, scopes: string[]) => {
    const issued = await domain.keypairs.create(owner, { name: 'k', scopes }, 'system');
    return { keyId: issued.keypair.keyId, secret: issued.secret };
  };
  t.context.manage = await create({ accountId: account.id }, ['keyport:manage']);
  t.context.introspector = await create({ accountId: account.id }, ['keyport:introspect']);
  t.context.seed = (owner) => create(owner, ['orders:read']);
  const admin = await domain.users.createUser({ email: 'admin@scale.test', password: PASSWORD }, 'system');
  await domain.users.grant(admin.id, { type: 'account', accountId: account.id, environmentId: null }, 'admin', 'system');
});

test.after.always(async (t) => {
  await t.context.closeDomain?.();
  // The second first: it uses the first one's database.
  for (const proc of [...(t.context.processes ?? [])].reverse()) {
    proc.child.kill('SIGTERM');
    await proc.exited;
  }
  for (const dir of t.context.dataDirs ?? []) rmSync(dir, { recursive: true, force: true });
});

async function admin(t: { context: Context }, method: 'GET' | 'POST', path: string): Promise<void> {
  const { a, manage } = t.context;
  const token = await getToken(a, { ...manage, scope: 'keyport:manage', resource: 'urn:keyport:admin-api' });
  const response = await fetch(`${a}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) }, ...(method === 'POST' ? { body: '{}' } : {}) });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
}

/** Polls until `honoured` holds at the other process; returns how long that took after the change. */
async function honouredWithin(changedAt: number, honoured: () => Promise<boolean>): Promise<number> {
  while (!(await honoured())) {
    if (performance.now() - changedAt > 10_000) throw new Error('the other process did not honour the change within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - changedAt;
}

const refused = async (url: string, key: Keypair) => (await tokenRequest(url, key)).status === 401;
const inactive = async (t: { context: Context }, token: string) => (await introspect(t.context.b, t.context.introspector, token)).active === false;

test('a disable through one process is honoured by the other: no new token, earlier tokens inactive', async (t) => {
  const key = await t.context.seed({ accountId: t.context.accountId });
  const token = await getToken(t.context.b, key);
  t.true((await introspect(t.context.b, t.context.introspector, token)).active);
  await admin(t, 'POST', `/keypairs/${key.keyId}/disable`);
  const changedAt = performance.now();
  const ms = await honouredWithin(changedAt, async () => (await refused(t.context.b, key)) && (await inactive(t, token)));
  t.log(`honoured after ${Math.round(ms)} ms`);
  t.true(ms <= BOUND_MS, `${Math.round(ms)} ms`);
});

test('a regeneration through one process is honoured by the other: the old secret refused, the new one served', async (t) => {
  const key = await t.context.seed({ accountId: t.context.accountId });
  t.is((await tokenRequest(t.context.b, key)).status, 200); // cached at the other process
  const { a, manage } = t.context;
  const token = await getToken(a, { ...manage, scope: 'keyport:manage', resource: 'urn:keyport:admin-api' });
  const response = await fetch(`${a}/api/v1/keypairs/${key.keyId}/regenerate`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
  t.is(response.status, 200);
  const changedAt = performance.now();
  const { secret } = await response.json() as { secret: string };
  const ms = await honouredWithin(changedAt, () => refused(t.context.b, key));
  t.log(`honoured after ${Math.round(ms)} ms`);
  t.true(ms <= BOUND_MS, `${Math.round(ms)} ms`);
  t.is((await tokenRequest(t.context.b, { keyId: key.keyId, secret })).status, 200);
});

test('a lock from wrong secrets at one process is honoured by the other: the right secret refused there', async (t) => {
  const key = await t.context.seed({ accountId: t.context.accountId });
  t.is((await tokenRequest(t.context.b, key)).status, 200);
  const wrong = (await t.context.seed({ accountId: t.context.accountId })).secret;
  for (let i = 0; i < 10; i++) t.is((await tokenRequest(t.context.a, { keyId: key.keyId, secret: wrong })).status, 401);
  // Failures are answered at once and counted just after (docs/architecture.md, Lockout); an admin read
  // at the first process waits for its counts, so the lock is written when it answers.
  await admin(t, 'GET', `/keypairs/${key.keyId}`);
  const changedAt = performance.now();
  const ms = await honouredWithin(changedAt, () => refused(t.context.b, key));
  t.log(`honoured after ${Math.round(ms)} ms`);
  t.true(ms <= BOUND_MS, `${Math.round(ms)} ms`);
});

test('a token revoked at one process introspects inactive at the other', async (t) => {
  const key = await t.context.seed({ accountId: t.context.accountId });
  const token = await getToken(t.context.a, key);
  t.true((await introspect(t.context.b, t.context.introspector, token)).active);
  const response = await fetch(`${t.context.a}/oauth/revoke`, { method: 'POST', headers: { authorization: basic(key.keyId, key.secret), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
  t.is(response.status, 200);
  const changedAt = performance.now();
  const ms = await honouredWithin(changedAt, () => inactive(t, token));
  t.log(`honoured after ${Math.round(ms)} ms`);
  t.true(ms <= BOUND_MS, `${Math.round(ms)} ms`);
});

test('closing an environment through one process is honoured by the other: its keypairs refused, their tokens inactive', async (t) => {
  const key = await t.context.seed({ environmentId: t.context.environmentId });
  const token = await getToken(t.context.b, key);
  // Closing takes an account admin (a person, not a keypair): signed in at the first process.
  const person = await ApiClient.signIn(t.context.a, 'admin@scale.test');
  t.is((await person.post(`/environments/${t.context.environmentId}/close`)).status, 200);
  const changedAt = performance.now();
  const ms = await honouredWithin(changedAt, async () => (await refused(t.context.b, key)) && (await inactive(t, token)));
  t.log(`honoured after ${Math.round(ms)} ms`);
  t.true(ms <= BOUND_MS, `${Math.round(ms)} ms`);
});
