// Keypair lifecycle (docs/architecture.md, Rotation and regeneration) against a real Keyport over HTTP on the
// embedded FerretDB: rotation with grace periods and their exact boundary,
// regeneration, at most two stored secrets (hashes only), disable/enable/remove
// as seen by introspection, concurrent rotations, and lastUsedAt.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import type { KeypairDoc } from '../src/db/models/keypair.ts';
import { newSecret } from '../src/domain/credentials.ts';
import { DomainError } from '../src/domain/errors.ts';
import { DEFAULT_GRACE, type GracePeriod } from '../src/domain/limits.ts';
import { startKeyport, type RunningKeyport } from '../src/keyport.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { auditActions, freezeClock, rawKeypair, storedHashOf } from './helpers/keypair-state.ts';
import { getToken, introspect, seedKeypair, tokenRequest } from './helpers/oauth.ts';

type Context = { server: TestKeyport };
type T = ExecutionContext<Context>;
const test = anyTest as TestFn<Context>;

const HOUR = 3_600_000;

test.before(async (t) => {
  t.context = { server: await startTestKeyport() };
});

test.after.always(async (t) => {
  await t.context.server?.close();
});

/** The status and body of a token request (consumed). */
async function tokenStatus(url: string, keyId: string, secret: string): Promise<{ status: number; body: Record<string, unknown>; wwwAuthenticate: string | null }> {
  const response = await tokenRequest(url, { keyId, secret });
  return { status: response.status, body: await response.json() as Record<string, unknown>, wwwAuthenticate: response.headers.get('www-authenticate') };
}

async function assertWorks(t: T, url: string, keyId: string, secret: string, message: string): Promise<void> {
  const answer = await tokenStatus(url, keyId, secret);
  t.is(answer.status, 200, message);
}

async function assertRefused(t: T, url: string, keyId: string, secret: string, message: string): Promise<void> {
  const answer = await tokenStatus(url, keyId, secret);
  t.is(answer.status, 401, message);
  t.deepEqual(answer.body, { error: 'invalid_client', error_description: 'client authentication failed' }, message);
  t.truthy(answer.wwwAuthenticate?.startsWith('Basic '), message);
}

function assertNoPlainSecrets(t: T, stored: unknown, secrets: string[]): void {
  const json = JSON.stringify(stored);
  for (const secret of secrets) {
    t.false(json.includes(secret), 'the stored record never holds a secret');
    t.false(json.includes(secret.slice(4, 47)), 'not even its random part');
  }
}

/** A second Keyport process on the same database (a cluster worker). */
function secondWorker(server: TestKeyport): Promise<RunningKeyport> {
  return startKeyport({ ...server.config, server: { ...server.config.server, port: 0 } }, { clock: server.clock });
}

test.serial('rotate with the default grace (24h): both secrets work until expiresAt, then only the new one', async (t) => {
  const { server } = t.context;
  const key = await seedKeypair(server.keyport);
  const start = freezeClock(server.clock, new Date());
  t.is(DEFAULT_GRACE, '24h');
  const rotated = await server.keyport.domain.keypairs.rotate(key.keyId, DEFAULT_GRACE, 'system');
  t.not(rotated.secret, key.secret);
  const expiresAt = new Date(start.getTime() + 24 * HOUR);
  t.deepEqual(rotated.keypair.secrets, [
    { state: 'current', hint: `kps_…${rotated.secret.slice(-4)}`, createdAt: start.toISOString(), expiresAt: null, endsAt: null, lastUsedAt: null, useCount: 0, retireWhenIdle: null },
    { state: 'previous', hint: `kps_…${key.secret.slice(-4)}`, createdAt: rotated.keypair.secrets[1]!.createdAt, expiresAt: expiresAt.toISOString(), endsAt: expiresAt.toISOString(), lastUsedAt: null, useCount: 0, retireWhenIdle: null },
  ]);
  t.is(rotated.keypair.lastRotatedAt, start.toISOString());

  await assertWorks(t, server.url, key.keyId, key.secret, 'the old secret works during the grace period');
  await assertWorks(t, server.url, key.keyId, rotated.secret, 'the new secret works at once');

  freezeClock(server.clock, new Date(expiresAt.getTime() - 1));
  await assertWorks(t, server.url, key.keyId, key.secret, 'the old secret works until the last millisecond');
  await assertWorks(t, server.url, key.keyId, rotated.secret, 'the new secret works');

  freezeClock(server.clock, expiresAt);
  await assertRefused(t, server.url, key.keyId, key.secret, 'the old secret fails from expiresAt on');
  await assertWorks(t, server.url, key.keyId, rotated.secret, 'the new secret keeps working');
  t.is((await server.keyport.domain.keypairs.get(key.keyId)).secrets.length, 1);

  freezeClock(server.clock, new Date(expiresAt.getTime() + 30 * 24 * HOUR));
  await assertRefused(t, server.url, key.keyId, key.secret, 'the old secret stays dead');
  // Once ended longer than secrets.endedRetentionDays (30) ago, the old secret is a wrong secret like any other: it counts towards the lockout.
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 1);
  await assertWorks(t, server.url, key.keyId, rotated.secret, 'the new secret has no expiry');
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 0);
});

test.serial('a second rotation during a grace period ends the older previous secret at once', async (t) => {
  const { server } = t.context;
  const key = await seedKeypair(server.keyport);
  const start = freezeClock(server.clock, new Date());
  const second = await server.keyport.domain.keypairs.rotate(key.keyId, '24h', 'system');
  freezeClock(server.clock, new Date(start.getTime() + HOUR));
  await assertWorks(t, server.url, key.keyId, key.secret, 'the first secret is in its grace period');

  const third = await server.keyport.domain.keypairs.rotate(key.keyId, '72h', 'system');
  await assertRefused(t, server.url, key.keyId, key.secret, 'the previous-but-one secret fails immediately');
  await assertWorks(t, server.url, key.keyId, second.secret, 'the previous secret is in its own grace period');
  await assertWorks(t, server.url, key.keyId, third.secret, 'the current secret works');

  const doc = await rawKeypair(server, key.keyId);
  t.is(doc.secrets.length, 2);
  t.deepEqual(doc.secrets.map((s) => s.hash), [storedHashOf(server, third.secret), storedHashOf(server, second.secret)]);
  t.deepEqual(doc.secrets[1]!.expiresAt, new Date(start.getTime() + HOUR + 72 * HOUR));
  const rotations = await auditActions(server, key.keyId, 'keypair.rotated');
  t.deepEqual(rotations.map((e) => e.details.endedEarlierPreviousSecret).reverse(), [false, true]);
});

test.serial('regenerate (grace 0): the old secret fails at once; only HMACs are stored, never more than two', async (t) => {
  const { server } = t.context;
  const key = await seedKeypair(server.keyport);
  const start = freezeClock(server.clock, new Date());
  const issued = [key.secret];
  const created = await rawKeypair(server, key.keyId);
  t.is(created.lastRotatedAt, null);
  t.deepEqual(created.secrets.map((s) => s.hash), [storedHashOf(server, key.secret)]);

  // A few rotations first: at no point are more than two secrets stored.
  for (const grace of ['1h', '3h', '24h', '48h'] as const) {
    issued.push((await server.keyport.domain.keypairs.rotate(key.keyId, grace, 'system')).secret);
    const doc = await rawKeypair(server, key.keyId);
    t.true(doc.secrets.length <= 2);
    assertNoPlainSecrets(t, doc, issued);
  }

  freezeClock(server.clock, new Date(start.getTime() + 5 * 60_000));
  const regenerated = await server.keyport.domain.keypairs.rotate(key.keyId, '0', 'system');
  issued.push(regenerated.secret);
  for (const old of issued.slice(0, -1)) await assertRefused(t, server.url, key.keyId, old, 'every earlier secret is dead at once');
  await assertWorks(t, server.url, key.keyId, regenerated.secret, 'the regenerated secret works');

  const doc = await rawKeypair(server, key.keyId);
  t.deepEqual(doc.lastRotatedAt, new Date(start.getTime() + 5 * 60_000));
  t.is(doc.secrets.length, 1);
  t.deepEqual(doc.secrets[0], { hash: storedHashOf(server, regenerated.secret), createdAt: new Date(start.getTime() + 5 * 60_000), expiresAt: null, hint: regenerated.secret.slice(-4) });
  t.regex(doc.secrets[0]!.hash, /^[A-Za-z0-9_-]{43}$/, 'an HMAC-SHA-256, base64url');
  assertNoPlainSecrets(t, doc, issued);
  // Nor does the audit trail, nor the view the admin surfaces get.
  assertNoPlainSecrets(t, (await server.keyport.domain.audit.page({ keypairId: key.keyId }, { limit: 100 })).items, issued);
  assertNoPlainSecrets(t, await server.keyport.domain.keypairs.get(key.keyId), issued);
  t.is((await auditActions(server, key.keyId, 'keypair.regenerated')).length, 1);
});

test.serial('a grace period outside the offered ones is refused before anything changes', async (t) => {
  const { server } = t.context;
  const key = await seedKeypair(server.keyport);
  const before = await rawKeypair(server, key.keyId);
  for (const grace of ['2h', '', 'constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    const err = await t.throwsAsync(server.keyport.domain.keypairs.rotate(key.keyId, grace as GracePeriod, 'system'), { instanceOf: DomainError }, grace);
    t.is(err.code, 'invalid_input', grace);
  }
  t.deepEqual(await rawKeypair(server, key.keyId), before);
  await assertWorks(t, server.url, key.keyId, key.secret, 'the secret is unchanged');
});

test.serial('disable stops new tokens and revokes live ones; enable gives new tokens only; remove ends them', async (t) => {
  const { server } = t.context;
  const { keypairs } = server.keyport.domain;
  const key = await seedKeypair(server.keyport);
  const introspector = await keypairs.create({ accountId: key.accountId }, { name: 'resource server', scopes: ['keyport:introspect'] }, 'system');
  const rs = { keyId: introspector.keypair.keyId, secret: introspector.secret };
  const token = await getToken(server.url, key);
  t.is((await introspect(server.url, rs, token)).active, true);

  const wrong = await tokenStatus(server.url, key.keyId, newSecret());
  t.is((await keypairs.setEnabled(key.keyId, false, 'system')).status, 'disabled');
  const disabled = await tokenStatus(server.url, key.keyId, key.secret);
  t.is(disabled.status, 401);
  t.deepEqual(disabled.body, wrong.body, 'a disabled key looks like a wrong secret');
  t.deepEqual(await introspect(server.url, rs, token), { active: false });

  t.is((await keypairs.setEnabled(key.keyId, true, 'system')).status, 'enabled');
  t.deepEqual(await introspect(server.url, rs, token), { active: false }, 'enabling again does not revive a token revoked by the disable');
  const fresh = await getToken(server.url, key);
  t.is((await introspect(server.url, rs, fresh)).active, true);

  await keypairs.remove(key.keyId, 'system');
  t.deepEqual(await introspect(server.url, rs, token), { active: false });
  t.deepEqual(await introspect(server.url, rs, fresh), { active: false });
  await assertRefused(t, server.url, key.keyId, key.secret, 'a removed key gets no token');
  t.is(await server.keyport.database.models.Keypair.findById(key.keyId).lean(), null);
  t.is((await auditActions(server, key.keyId, 'keypair.removed')).length, 1, 'the audit trail stays');
});

/**
 * After rotations with a grace period from `original`: the document holds the
 * current and the previous secret, both issued by those rotations, and a
 * secret gets a token exactly when the document says it is live.
 */
async function assertLiveSecretsWork(t: T, server: TestKeyport, keyId: string, original: string, issued: string[]): Promise<KeypairDoc> {
  const candidates = [original, ...issued];
  const doc = await rawKeypair(server, keyId);
  t.true(doc.secrets.length <= 2, 'at most two secrets are stored');
  const now = server.clock.now();
  const live = new Set(doc.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => s.hash));
  t.is(live.size, 2, 'after rotations with a grace period: the current and the previous secret');
  for (const hash of live) t.true(issued.some((secret) => storedHashOf(server, secret) === hash), 'both live secrets come from the rotations (none was lost)');
  for (const secret of candidates) {
    const works = (await tokenStatus(server.url, keyId, secret)).status === 200;
    t.is(works, live.has(storedHashOf(server, secret)), 'a secret works exactly when the document says it is live');
  }
  return doc;
}

test.serial('concurrent rotations: at most two secrets stay, and exactly the live ones work', async (t) => {
  const { server } = t.context;
  const key = await seedKeypair(server.keyport);
  freezeClock(server.clock, new Date());
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => server.keyport.domain.keypairs.rotate(key.keyId, '24h', 'system')));
  const issued = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.secret] : []));
  t.is(issued.length, 5, 'every rotation succeeds (they queue)');
  const doc = await assertLiveSecretsWork(t, server, key.keyId, key.secret, issued);
  t.is(doc.revision, 5);
  t.is((await auditActions(server, key.keyId, 'keypair.rotated')).length, 5);
});

test.serial('concurrent rotations from two workers on one database keep at most two secrets', async (t) => {
  const { server } = t.context;
  const other = await secondWorker(server);
  t.teardown(() => other.close());
  const key = await seedKeypair(server.keyport);
  freezeClock(server.clock, new Date());
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) =>
    (i % 2 ? other : server.keyport).domain.keypairs.rotate(key.keyId, '24h', 'system')));
  const issued = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.secret] : []));
  t.is(issued.length, 10, 'every rotation succeeds (they wait for each other across processes)');
  const doc = await assertLiveSecretsWork(t, server, key.keyId, key.secret, issued);
  t.is(doc.revision, 10, 'no rotation overwrote another');
});

test.serial('lastUsedAt is written with the usage batch (never per request): a refused request is not a use, the batch records its last use, and an older use counted by another process never moves it back', async (t) => {
  const { server } = t.context;
  const { keypairAuth } = server.keyport.domain;
  const key = await seedKeypair(server.keyport);
  t.is((await rawKeypair(server, key.keyId)).lastUsedAt, null);
  const start = freezeClock(server.clock, new Date());

  await assertRefused(t, server.url, key.keyId, newSecret(), 'wrong secret');
  await keypairAuth.failuresCounted(key.keyId);
  await keypairAuth.usageRecorded(key.keyId);
  t.is((await rawKeypair(server, key.keyId)).lastUsedAt, null, 'a refused request is not a use');

  await getToken(server.url, key);
  t.is((await rawKeypair(server, key.keyId)).lastUsedAt, null, 'nothing written per request');
  const later = freezeClock(server.clock, new Date(start.getTime() + 30_000));
  await getToken(server.url, key);
  await keypairAuth.usageRecorded(key.keyId); // the batch, as the timer writes it
  t.deepEqual((await rawKeypair(server, key.keyId)).lastUsedAt, later, 'the last use of the batch');

  // Another process counted a use from before that one: its batch adds the count and leaves lastUsedAt.
  const other = await secondWorker(server);
  t.teardown(() => other.close());
  freezeClock(server.clock, new Date(start.getTime() + 10_000));
  await getToken(other.url, key);
  await other.domain.keypairAuth.usageRecorded(key.keyId);
  const doc = await rawKeypair(server, key.keyId);
  t.deepEqual(doc.lastUsedAt, later);
  t.is(doc.secrets[0]!.useCount, 3);
});
