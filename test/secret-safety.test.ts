// Stale clients and rotation safety (issue 13, §0 first item, §1, §2) over HTTP
// against a real Keyport on the embedded FerretDB: an ended secret never locks
// a key, per-secret hints and usage, and the actions during a grace period
// (end the previous secret now, extend the grace period, retireWhenIdle).
import anyTest, { type TestFn } from 'ava';
import { newSecret } from '../src/domain/credentials.ts';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { freezeClock, rawKeypair } from './helpers/keypair-state.ts';
import { tokenRequest } from './helpers/oauth.ts';

type Context = { tk: TestKeyport; admin: ApiClient; environmentId: string };
const test = anyTest as TestFn<Context>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Below the number of stale requests the first test sends: an ended secret must not spend it. */
const ADDRESS_BUDGET = 15;

test.before(async (t) => {
  const tk = await startTestKeyport({ overrides: { lockout: { maxFailuresPerAddress: ADDRESS_BUDGET } } });
  const tenant = await createTenant(tk.keyport);
  await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  t.context = { tk, admin: await ApiClient.signIn(tk.url, 'admin@acme.test'), environmentId: tenant.productionId };
});

test.after.always(async (t) => {
  await t.context.tk?.close();
});

async function token(tk: TestKeyport, keyId: string, secret: string): Promise<{ status: number; body: string }> {
  const response = await tokenRequest(tk.url, { keyId, secret });
  return { status: response.status, body: await response.text() };
}

async function createKeypair(t: { context: Context }, name: string): Promise<{ keyId: string; secret: string; keypair: Record<string, any> }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const created = await t.context.admin.post(`/environments/${t.context.environmentId}/keypairs`, { name, scopes: ['orders:read'] });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return { keyId: created.body.keypair.keyId, secret: created.body.secret, keypair: created.body.keypair };
}

async function auditOf(admin: ApiClient, keyId: string, action: string): Promise<{ actor: string; details: Record<string, unknown> }[]> {
  const page = await admin.get(`/keypairs/${keyId}/audit?limit=200`);
  return (page.body.items as { action: string; actor: string; details: Record<string, unknown> }[]).filter((e) => e.action === action);
}

const hintOf = (secret: string) => `kps_…${secret.slice(-4)}`;

/** Each test starts at the real time, frozen, signed in afresh (an earlier test may have moved the clock). */
async function begin(t: { context: Context }): Promise<{ tk: TestKeyport; admin: ApiClient; start: Date }> {
  const start = freezeClock(t.context.tk.clock, new Date());
  return { tk: t.context.tk, admin: await signedInAgain(t), start };
}

/** Signs the admin in again: moving the test clock by hours or days ends the session. */
async function signedInAgain(t: { context: Context }): Promise<ApiClient> {
  t.context.admin = await ApiClient.signIn(t.context.tk.url, 'admin@acme.test');
  return t.context.admin;
}

test.serial('a stale client sending a regenerated secret never locks the key: refused alike, recorded as an ended secret still in use', async (t) => {
  const { tk, admin, start } = await begin(t);
  const maxFailures = tk.config.lockout.maxFailures;
  const { keyId, secret: old } = await createKeypair(t, 'stale-client');
  t.is((await token(tk, keyId, old)).status, 200);

  const regenerated = await admin.post(`/keypairs/${keyId}/regenerate`, {});
  t.is(regenerated.status, 200);
  const fresh = regenerated.body.secret as string;

  const wrong = await token(tk, keyId, newSecret());
  t.is(wrong.status, 401);
  const stale = maxFailures + ADDRESS_BUDGET;
  for (let i = 0; i < stale; i++) {
    const answer = await token(tk, keyId, old);
    t.is(answer.status, 401, `stale request ${i + 1}: 401, not locked out and not throttled`);
    t.is(answer.body, wrong.body, 'the same invalid_client answer as a wrong secret');
  }

  t.is((await token(tk, keyId, fresh)).status, 200, 'the updated client is served');
  const read = await admin.get(`/keypairs/${keyId}`);
  t.like(read.body, { status: 'enabled', locked: false, failedAttempts: 0 });
  t.is(read.body.endedSecrets.length, 1);
  const [ended] = read.body.endedSecrets;
  t.like(ended, { hint: hintOf(old), endedAt: start.toISOString(), useCount: 1, lastUsedAt: start.toISOString() });
  t.is(ended.stillInUse.count, stale);
  t.is(ended.stillInUse.lastSeenAt, start.toISOString());
  t.regex(ended.stillInUse.lastAddress, /127\.0\.0\.1/);
  t.false(JSON.stringify(read.body).includes(old), 'never the secret itself');

  const events = await auditOf(admin, keyId, 'keypair.ended_secret_used');
  t.is(events.length, 1, 'audited once, not once per request');
  t.like(events[0], { actor: 'system', details: { hint: hintOf(old), count: stale } });

  // Within the day: no second event. A day later: one more.
  await token(tk, keyId, old);
  await admin.get(`/keypairs/${keyId}`);
  t.is((await auditOf(admin, keyId, 'keypair.ended_secret_used')).length, 1);
  freezeClock(tk.clock, new Date(start.getTime() + DAY + MINUTE));
  const again = await signedInAgain(t);
  await token(tk, keyId, old);
  t.is((await again.get(`/keypairs/${keyId}`)).body.endedSecrets[0].stillInUse.count, stale + 2);
  t.is((await auditOf(again, keyId, 'keypair.ended_secret_used')).length, 2);
});

test.serial('after secrets.endedRetentionDays an ended secret is a wrong secret again (counted toward the lockout)', async (t) => {
  const { tk, admin, start } = await begin(t);
  const { keyId, secret: old } = await createKeypair(t, 'retention');
  await admin.post(`/keypairs/${keyId}/regenerate`, {});
  await token(tk, keyId, old);
  t.is((await admin.get(`/keypairs/${keyId}`)).body.failedAttempts, 0);

  freezeClock(tk.clock, new Date(start.getTime() + tk.config.secrets.endedRetentionDays * DAY + 1));
  t.is((await token(tk, keyId, old)).status, 401);
  const read = await (await signedInAgain(t)).get(`/keypairs/${keyId}`);
  t.is(read.body.failedAttempts, 1);
  t.deepEqual(read.body.endedSecrets, []);
});

test.serial('an expired grace period: the previous secret is an ended secret, not counted', async (t) => {
  const { tk, admin, start } = await begin(t);
  const { keyId, secret: old } = await createKeypair(t, 'grace-over');
  t.is((await admin.post(`/keypairs/${keyId}/rotate`, { grace: '1h' })).status, 200);
  freezeClock(tk.clock, new Date(start.getTime() + HOUR));
  for (let i = 0; i < tk.config.lockout.maxFailures + 1; i++) t.is((await token(tk, keyId, old)).status, 401);
  const read = await admin.get(`/keypairs/${keyId}`);
  t.like(read.body, { locked: false, failedAttempts: 0, previousSecret: null });
  t.like(read.body.endedSecrets[0], { hint: hintOf(old), endedAt: new Date(start.getTime() + HOUR).toISOString() });
  t.is(read.body.endedSecrets[0].stillInUse.count, tk.config.lockout.maxFailures + 1);
});

test.serial('hints and per-secret usage: counted in memory, written in batches, shown for the current and the previous secret', async (t) => {
  const { tk, admin, start } = await begin(t);
  const { keyId, secret: first, keypair } = await createKeypair(t, 'usage');
  t.like(keypair.secrets[0], { state: 'current', hint: hintOf(first), useCount: 0, lastUsedAt: null });

  for (let i = 0; i < 3; i++) t.is((await token(tk, keyId, first)).status, 200);
  const stored = await rawKeypair(tk, keyId);
  t.is(stored.secrets[0]!.useCount ?? 0, 0, 'no database write per request: the counts wait in memory');
  t.like((await admin.get(`/keypairs/${keyId}`)).body.secrets[0], { hint: hintOf(first), useCount: 3, lastUsedAt: start.toISOString() });
  t.is((await rawKeypair(tk, keyId)).secrets[0]!.useCount, 3, 'written once, for the three');

  const rotated = await admin.post(`/keypairs/${keyId}/rotate`, { grace: '24h' });
  const second = rotated.body.secret as string;
  t.like(rotated.body.keypair.secrets[0], { state: 'current', hint: hintOf(second), useCount: 0 });
  t.like(rotated.body.keypair.secrets[1], { state: 'previous', hint: hintOf(first), useCount: 3 });
  t.like(rotated.body.keypair.previousSecret, { hint: hintOf(first), usedSinceRotation: false, usedInLastHour: true });

  const later = freezeClock(tk.clock, new Date(start.getTime() + 2 * HOUR));
  t.is((await token(tk, keyId, second)).status, 200);
  const quiet = await admin.get(`/keypairs/${keyId}`);
  t.like(quiet.body.previousSecret, { usedSinceRotation: false, usedInLastHour: false, lastUsedAt: start.toISOString() });
  t.is((await auditOf(admin, keyId, 'keypair.previous_secret_still_used')).length, 0);

  t.is((await token(tk, keyId, first)).status, 200);
  t.is((await token(tk, keyId, first)).status, 200);
  const read = await admin.get(`/keypairs/${keyId}`);
  t.like(read.body.secrets[0], { useCount: 1, lastUsedAt: later.toISOString() });
  t.like(read.body.secrets[1], { useCount: 5, lastUsedAt: later.toISOString() });
  t.like(read.body.previousSecret, { usedSinceRotation: true, usedInLastHour: true, lastUsedAt: later.toISOString() });
  const stillUsed = await auditOf(admin, keyId, 'keypair.previous_secret_still_used');
  t.is(stillUsed.length, 1);
  t.like(stillUsed[0], { actor: 'system', details: { hint: hintOf(first) } });
});

test.serial('secrets stored before hints and usage existed: hint null, counts from zero', async (t) => {
  const { tk, admin } = await begin(t);
  const { keyId, secret } = await createKeypair(t, 'legacy');
  await tk.keyport.database.models.Keypair.collection.updateOne({ _id: keyId } as never, { $unset: { 'secrets.0.hint': '' } });
  await tk.keyport.domain.changes.publish('keypair', keyId);
  t.is((await token(tk, keyId, secret)).status, 200);
  const read = await admin.get(`/keypairs/${keyId}`);
  t.like(read.body.secrets[0], { hint: null, useCount: 1 });
  t.deepEqual(read.body.endedSecrets, []);
});

test.serial('end the previous secret now: refused (409) when used in the last hour unless forced; audited', async (t) => {
  const { tk, admin, start } = await begin(t);
  const { keyId, secret: old } = await createKeypair(t, 'end-now');
  const none = await admin.post(`/keypairs/${keyId}/previous-secret/end`, {});
  t.is(none.status, 409);
  t.is(none.body.error.details.reason, 'no_previous_secret');

  await admin.post(`/keypairs/${keyId}/rotate`, { grace: '24h' });
  freezeClock(tk.clock, new Date(start.getTime() + 10 * MINUTE));
  t.is((await token(tk, keyId, old)).status, 200);
  const refused = await admin.post(`/keypairs/${keyId}/previous-secret/end`, {});
  t.is(refused.status, 409);
  t.is(refused.body.error.code, 'previous_secret_in_use');
  t.regex(refused.body.error.message, /force/);
  t.is(refused.body.error.details.lastUsedAt, new Date(start.getTime() + 10 * MINUTE).toISOString());
  t.is((await token(tk, keyId, old)).status, 200, 'a refusal changes nothing');

  const forced = await admin.post(`/keypairs/${keyId}/previous-secret/end`, { force: true });
  t.is(forced.status, 200);
  t.is(forced.body.previousSecret, null);
  t.is(forced.body.secrets.length, 1);
  t.is((await token(tk, keyId, old)).status, 401);
  const read = await admin.get(`/keypairs/${keyId}`);
  t.like(read.body, { failedAttempts: 0 });
  t.like(read.body.endedSecrets[0], { hint: hintOf(old), endedAt: new Date(start.getTime() + 10 * MINUTE).toISOString() });
  t.is(read.body.endedSecrets[0].stillInUse.count, 1);
  const events = await auditOf(admin, keyId, 'keypair.previous_secret_ended');
  t.is(events.length, 1);
  t.like(events[0], { details: { force: true, hint: hintOf(old) } });
});

test.serial('end the previous secret without force once it has been unused for an hour', async (t) => {
  const { tk, admin, start } = await begin(t);
  const { keyId, secret: old } = await createKeypair(t, 'end-idle');
  await token(tk, keyId, old);
  await admin.post(`/keypairs/${keyId}/rotate`, { grace: '24h' });
  freezeClock(tk.clock, new Date(start.getTime() + HOUR));
  const ended = await admin.post(`/keypairs/${keyId}/previous-secret/end`, {});
  t.is(ended.status, 200, JSON.stringify(ended.body));
  t.is((await token(tk, keyId, old)).status, 401);
  t.like((await auditOf(admin, keyId, 'keypair.previous_secret_ended'))[0], { details: { force: false } });
});

test.serial('extend the grace period: later than its end, at most 72 hours after the rotation; audited', async (t) => {
  const { tk, admin, start } = await begin(t);
  const { keyId, secret: old } = await createKeypair(t, 'extend');
  await admin.post(`/keypairs/${keyId}/rotate`, { grace: '1h' });
  const tooLate = await admin.post(`/keypairs/${keyId}/previous-secret/extend`, { until: new Date(start.getTime() + 72 * HOUR + 1000).toISOString() });
  t.is(tooLate.status, 400);
  t.regex(tooLate.body.error.message, /72 hours after the rotation/);
  const shorter = await admin.post(`/keypairs/${keyId}/previous-secret/extend`, { until: new Date(start.getTime() + 30 * MINUTE).toISOString() });
  t.is(shorter.status, 400);
  t.is((await admin.post(`/keypairs/${keyId}/previous-secret/extend`, { until: 'tomorrow' })).status, 400);

  const until = new Date(start.getTime() + 72 * HOUR);
  const extended = await admin.post(`/keypairs/${keyId}/previous-secret/extend`, { until: until.toISOString() });
  t.is(extended.status, 200, JSON.stringify(extended.body));
  t.like(extended.body.previousSecret, { expiresAt: until.toISOString(), endsAt: until.toISOString(), extendableUntil: until.toISOString() });
  freezeClock(tk.clock, new Date(start.getTime() + 71 * HOUR));
  t.is((await token(tk, keyId, old)).status, 200, 'the old secret works past its first end');
  freezeClock(tk.clock, until);
  t.is((await token(tk, keyId, old)).status, 401);
  const events = await auditOf(await signedInAgain(t), keyId, 'keypair.grace_extended');
  t.is(events.length, 1);
  t.like(events[0], { details: { from: new Date(start.getTime() + HOUR).toISOString(), until: until.toISOString() } });
});

test.serial('retireWhenIdle on the rotation: the previous secret ends once unused for the chosen time', async (t) => {
  const { tk, admin, start } = await begin(t);
  const { keyId, secret: old } = await createKeypair(t, 'retire');
  t.is((await admin.post(`/keypairs/${keyId}/rotate`, { grace: '72h', retireWhenIdle: 'tomorrow' })).status, 400);
  const rotated = await admin.post(`/keypairs/${keyId}/rotate`, { grace: '72h', retireWhenIdle: '1h' });
  t.is(rotated.status, 200);
  t.like(rotated.body.keypair.previousSecret, { retireWhenIdle: '1h', endsAt: new Date(start.getTime() + HOUR).toISOString() });

  const used = freezeClock(tk.clock, new Date(start.getTime() + 50 * MINUTE));
  t.is((await token(tk, keyId, old)).status, 200);
  t.like((await admin.get(`/keypairs/${keyId}`)).body.previousSecret, { endsAt: new Date(used.getTime() + HOUR).toISOString() });
  freezeClock(tk.clock, new Date(used.getTime() + HOUR - 1));
  t.is((await token(tk, keyId, old)).status, 200, 'used 50 minutes in: it lives an hour past that use');
  await admin.get(`/keypairs/${keyId}`);
  const lastUse = new Date(used.getTime() + HOUR - 1);
  freezeClock(tk.clock, new Date(lastUse.getTime() + HOUR));
  t.is((await token(tk, keyId, old)).status, 401, 'an hour unused: ended');
  const read = await admin.get(`/keypairs/${keyId}`);
  t.is(read.body.previousSecret, null);
  t.like(read.body, { failedAttempts: 0 });
  t.like(read.body.endedSecrets[0], { hint: hintOf(old), endedAt: new Date(lastUse.getTime() + HOUR).toISOString() });
});

test.serial('retireWhenIdle set later counts from when it is set; null clears it; audited', async (t) => {
  const { tk, admin, start } = await begin(t);
  const { keyId, secret: old } = await createKeypair(t, 'retire-later');
  await admin.post(`/keypairs/${keyId}/rotate`, { grace: '72h' });
  const set = freezeClock(tk.clock, new Date(start.getTime() + 5 * HOUR));
  const answer = await admin.post(`/keypairs/${keyId}/previous-secret/retire-when-idle`, { retireWhenIdle: '1h' });
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.like(answer.body.previousSecret, { retireWhenIdle: '1h', endsAt: new Date(set.getTime() + HOUR).toISOString() });
  t.is((await token(tk, keyId, old)).status, 200, 'unused for 5 hours, yet not ended at once');
  const cleared = await admin.post(`/keypairs/${keyId}/previous-secret/retire-when-idle`, { retireWhenIdle: null });
  t.like(cleared.body.previousSecret, { retireWhenIdle: null, endsAt: new Date(start.getTime() + 72 * HOUR).toISOString() });
  t.is((await admin.post(`/keypairs/${keyId}/previous-secret/retire-when-idle`, { retireWhenIdle: '2m' })).status, 400);
  const events = (await auditOf(admin, keyId, 'keypair.updated')).filter((e) => 'retireWhenIdle' in e.details);
  t.deepEqual(events.map((e) => e.details.retireWhenIdle), [null, '1h']);
});

test.serial('introspection treats an ended secret the same way: refused, not counted, not locked', async (t) => {
  const { tk, admin } = await begin(t);
  const { keyId, secret: old } = await createKeypair(t, 'stale-introspector');
  const regenerated = await admin.post(`/keypairs/${keyId}/regenerate`, {});
  const fresh = regenerated.body.secret as string;
  const introspect = (secret: string) => fetch(`${tk.url}/oauth/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: 'x', client_id: keyId, client_secret: secret }),
  });
  for (let i = 0; i < tk.config.lockout.maxFailures + 1; i++) {
    const answer = await introspect(old);
    t.is(answer.status, 401);
    t.is(((await answer.json()) as { error: string }).error, 'invalid_client');
  }
  t.is((await introspect(fresh)).status, 200, 'the updated client is served');
  const read = await admin.get(`/keypairs/${keyId}`);
  t.like(read.body, { locked: false, failedAttempts: 0 });
  t.is(read.body.endedSecrets[0].stillInUse.count, tk.config.lockout.maxFailures + 1);
});
