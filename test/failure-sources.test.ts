// Where a keypair's recent failures came from (src/domain/failure-sources.ts):
// the source addresses of counted wrong secrets, kept 24 hours, at most 10,
// written by the failure count's own update (no extra database write), and
// shown only to whoever may see the keypair: the admin API, the CLI and the
// keypair page. Over HTTP against the real server and database; addresses
// come from X-Forwarded-For behind a trusted proxy.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { exportJWK, SignJWT } from 'jose';
import anyTest, { type TestFn } from 'ava';
import { newSecret } from '../src/domain/credentials.ts';
import { startTracing } from '../src/tracing.ts';
import { accountOwner, ApiClient, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { cliEnv, runCli } from './helpers/cli.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { basic } from './helpers/oauth.ts';
import { UiClient } from './helpers/ui.ts';

const test = anyTest.serial as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  // Tracing only for the driver's command monitoring: the test counts the keypair writes.
  const tracing = startTracing({}, { spanProcessor: new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() }) })!;
  t.context.kp = await startTestKeyport({ tracing, overrides: { server: { trustProxy: true }, lockout: { maxFailures: 1000, maxFailuresPerAddress: 1_000_000 } } });
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

let n = 0;
const email = (who: string) => `${who}-${++n}@sources.test`;

/** A wrong (well-formed) secret for `keyId`, as sent through a proxy for `address`. */
async function wrongSecret(kp: TestKeyport, keyId: string, address: string): Promise<void> {
  const response = await fetch(`${kp.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(keyId, newSecret()), 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': `${address}, 10.0.0.1` },
    body: 'grant_type=client_credentials',
  });
  if (response.status !== 401) throw new Error(`expected 401, got ${response.status}`);
  await response.arrayBuffer();
}

async function tenantWithKeypair(kp: TestKeyport) {
  const tenant = await createTenant(kp.keyport);
  const issued = await kp.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'billing worker', scopes: [] }, 'system');
  return { ...tenant, keyId: issued.keypair.keyId };
}

test('wrong secrets record their source addresses with count and last seen, newest first, in the failure count\'s own write', async (t) => {
  const { kp } = t.context;
  const { keyId, accountId } = await tenantWithKeypair(kp);
  const client = kp.keyport.database.connection.getClient();
  const keypairWrites: string[] = [];
  const listener = (event: { commandName: string; command: Record<string, unknown> }) => {
    if (event.command[event.commandName] === 'keypairs' && ['update', 'findAndModify', 'insert', 'delete'].includes(event.commandName)) keypairWrites.push(event.commandName);
  };
  client.on('commandStarted', listener);
  try {
    await wrongSecret(kp, keyId, '203.0.113.7');
    await kp.keyport.domain.keypairAuth.failuresCounted(keyId);
  } finally {
    client.off('commandStarted', listener);
  }
  t.is(keypairWrites.length, 1, 'one wrong secret: one keypair write, the count, which carries the address');

  await wrongSecret(kp, keyId, '203.0.113.7');
  await wrongSecret(kp, keyId, '198.51.100.2');
  await wrongSecret(kp, keyId, '2001:db8::5');

  const admin = email('admin');
  await createUser(kp.keyport, admin, [[accountOwner(accountId), 'admin']]);
  const api = await ApiClient.signIn(kp.url, admin);
  const view = await api.get(`/keypairs/${keyId}`);
  t.is(view.status, 200);
  t.is(view.body.failedAttempts, 4);
  t.deepEqual(view.body.recentFailures.map((f: { address: string; count: number }) => [f.address, f.count]), [['2001:db8::5', 1], ['198.51.100.2', 1], ['203.0.113.7', 2]]);
  for (const f of view.body.recentFailures) t.false(Number.isNaN(Date.parse(f.lastSeenAt)));
});

test('at most 10 addresses are kept (the latest), and each is dropped 24 hours after its last failure', async (t) => {
  const { kp } = t.context;
  const { keyId } = await tenantWithKeypair(kp);
  for (let i = 1; i <= 12; i++) await wrongSecret(kp, keyId, `192.0.2.${i}`);
  let shown = await kp.keyport.domain.keypairs.get(keyId);
  t.is(shown.failedAttempts, 12, 'every failure is counted');
  t.deepEqual(shown.recentFailures.map((f) => f.address), Array.from({ length: 10 }, (_, i) => `192.0.2.${12 - i}`));

  kp.clock.advance(23 * 3_600_000);
  await wrongSecret(kp, keyId, '192.0.2.3');
  kp.clock.advance(2 * 3_600_000);
  shown = await kp.keyport.domain.keypairs.get(keyId);
  t.deepEqual(shown.recentFailures.map((f) => [f.address, f.count]), [['192.0.2.3', 2]], 'only the address seen within 24 hours stays');
  const stored = await kp.keyport.domain.keypairAuth.findForAuthentication(keyId);
  t.true((stored?.failureSources?.length ?? 0) <= 10, 'the stored list stays bounded');
  kp.clock.advance(-25 * 3_600_000);
});

test('the addresses show on the keypair page and in `keyport keypair show`, and never to someone who cannot see the keypair', async (t) => {
  const { kp } = t.context;
  const { keyId, accountId, productionId, stagingId } = await tenantWithKeypair(kp);
  await wrongSecret(kp, keyId, '203.0.113.99');

  const envAdmin = email('prod-admin');
  await createUser(kp.keyport, envAdmin, [[environmentOwner(accountId, productionId), 'admin']]);
  const ui = await UiClient.signIn(kp.url, envAdmin);
  const page = await ui.get(`/ui/keypairs/${keyId}`);
  t.is(page.status, 200);
  t.regex(page.html, /id="failure-sources"[\s\S]*<code>203\.0\.113\.99<\/code>/);

  const stagingAdmin = email('staging-admin');
  await createUser(kp.keyport, stagingAdmin, [[environmentOwner(accountId, stagingId), 'admin']]);
  const other = await UiClient.signIn(kp.url, stagingAdmin);
  const refused = await other.get(`/ui/keypairs/${keyId}`);
  t.not(refused.status, 200);
  t.false(refused.html.includes('203.0.113.99'));
  const otherApi = await ApiClient.signIn(kp.url, stagingAdmin);
  const apiRefused = await otherApi.get(`/keypairs/${keyId}`);
  t.true(apiRefused.status === 403 || apiRefused.status === 404, `got ${apiRefused.status}`);
  t.false(JSON.stringify(apiRefused.body).includes('203.0.113.99'));

  const shown = await runCli(cliEnv(kp.config), ['keypair', 'show', keyId]);
  t.is(shown.code, 0, shown.stderr);
  t.regex(shown.stdout, /failed from\s+203\.0\.113\.99: 1 time, last /);
});

test('a refused client assertion (private_key_jwt) records its source address too', async (t) => {
  const { kp } = t.context;
  const tenant = await createTenant(kp.keyport);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const created = await kp.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'signer', scopes: [], publicKeys: [await exportJWK(publicKey)], secret: false }, 'system');
  const keyId = created.keypair.keyId;
  const now = Math.floor(Date.now() / 1000);
  // Signed by the keypair's key, but for another audience: refused, and counted toward the lockout.
  const assertion = await new SignJWT({ iss: keyId, sub: keyId, aud: 'https://elsewhere.example/token', jti: randomUUID(), iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
  const response = await fetch(`${kp.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '192.0.2.77' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
  });
  t.is(response.status, 401);
  const shown = await kp.keyport.domain.keypairs.get(keyId);
  t.is(shown.failedAttempts, 1);
  t.deepEqual(shown.recentFailures.map((f) => [f.address, f.count]), [['192.0.2.77', 1]]);
});
