// Replacing a whole keypair (a new key id and secret, the old one dead at once)
// and keypair expiry (expiresAt, the account's maximum lifetime, the token
// endpoint and introspection after expiry, the "expiring" filter and the sweep
// that audits keypair.expiring / keypair.expired once), over HTTP against a real
// Keyport on the embedded database, two processes where concurrency matters.
import anyTest, { type TestFn } from 'ava';
import { startKeyport, type RunningKeyport } from '../src/keyport.ts';
import { accountOwner, ApiClient, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { auditActions, eventually, rawKeypair } from './helpers/keypair-state.ts';
import { getToken, introspect, tokenRequest } from './helpers/oauth.ts';

type Tenant = Awaited<ReturnType<typeof createTenant>>;
const test = anyTest as TestFn<{ tk: TestKeyport; tenant: Tenant; admin: ApiClient; worker: RunningKeyport }>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const INVALID_CLIENT = { error: 'invalid_client', error_description: 'client authentication failed' };

test.before(async (t) => {
  // A sweep every second: the periodic sweep is seen to run by itself.
  const tk = await startTestKeyport({ overrides: { expiry: { sweepSeconds: 1 } } });
  const tenant = await createTenant(tk.keyport);
  await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(tk.keyport, 'envadmin@acme.test', [[environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  await createUser(tk.keyport, 'member@acme.test', [[accountOwner(tenant.accountId), 'member']]);
  // A second Keyport process on the same database (a cluster worker), with the same clock.
  const worker = await startKeyport({ ...tk.config, server: { ...tk.config.server, port: 0 } }, { clock: tk.clock });
  t.context = { tk, tenant, admin: await ApiClient.signIn(tk.url, 'admin@acme.test'), worker };
});

test.after.always(async (t) => {
  await t.context.worker?.close();
  await t.context.tk?.close();
});

async function tokenAnswer(url: string, keyId: string, secret: string) {
  const response = await tokenRequest(url, { keyId, secret });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

async function create(admin: ApiClient, path: string, body: Record<string, unknown>) {
  const res = await admin.post(path, body);
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { keypair: { keyId: string; expiresAt: string | null }; secret: string };
}

// ---- replace ------------------------------------------------------------------

test.serial('replace: a new key id and secret with the same name, comment, scopes and owner; the old key is dead at once, and the audit trail links them', async (t) => {
  const { tk, tenant, admin } = t.context;
  const old = await create(admin, `/environments/${tenant.productionId}/keypairs`, { name: 'billing', comment: 'the billing job', scopes: ['orders:read', 'keyport:introspect'] });
  const oldToken = await getToken(tk.url, { keyId: old.keypair.keyId, secret: old.secret });

  const member = await ApiClient.signIn(tk.url, 'member@acme.test');
  t.is((await member.post(`/keypairs/${old.keypair.keyId}/replace`)).status, 403, 'a member may not replace');
  t.is((await admin.post(`/keypairs/${old.keypair.keyId}/replace`, { grace: '1h' })).status, 400, 'no options: an unknown field is refused');
  t.is((await admin.get(`/keypairs/${old.keypair.keyId}`)).status, 200, 'and changes nothing');

  const res = await admin.post(`/keypairs/${old.keypair.keyId}/replace`);
  t.is(res.status, 200, JSON.stringify(res.body));
  t.is(res.headers.get('cache-control'), 'no-store');
  const { keypair, secret, replaces } = res.body;
  t.is(replaces, old.keypair.keyId);
  t.not(keypair.keyId, old.keypair.keyId);
  t.regex(secret, /^kps_/);
  t.not(secret, old.secret);
  t.like(keypair, { name: 'billing', comment: 'the billing job', scopes: ['orders:read', 'keyport:introspect'], ownerType: 'environment', accountId: tenant.accountId, environmentId: tenant.productionId, status: 'enabled' });

  t.deepEqual(await tokenAnswer(tk.url, old.keypair.keyId, old.secret), { status: 401, body: INVALID_CLIENT }, 'the old key gets no token');
  t.deepEqual(await tokenAnswer(t.context.worker.issuer, old.keypair.keyId, old.secret), { status: 401, body: INVALID_CLIENT }, 'nor in the other process');
  t.is((await admin.get(`/keypairs/${old.keypair.keyId}`)).status, 404, 'the old keypair is gone');
  const newToken = await getToken(tk.url, { keyId: keypair.keyId, secret });
  t.deepEqual(await introspect(tk.url, { keyId: keypair.keyId, secret }, oldToken), { active: false }, 'the old key\'s tokens stop, as after a removal');
  t.true((await introspect(tk.url, { keyId: keypair.keyId, secret }, newToken)).active);

  const replaced = await auditActions(tk, old.keypair.keyId, 'keypair.replaced');
  t.is(replaced.length, 1);
  t.like(replaced[0], { actor: `user:${(await tk.keyport.domain.users.findByEmail('admin@acme.test'))!.id}`, details: { replacedBy: keypair.keyId } });
  const created = await auditActions(tk, keypair.keyId, 'keypair.created');
  t.is(created.length, 1);
  t.like(created[0], { details: { replaces: old.keypair.keyId, name: 'billing' } });
  t.is((await admin.get(`/keypairs/${old.keypair.keyId}/audit`)).status, 200, 'the old key\'s trail stays readable');
});

test.serial('replace: two at once, in two processes: one wins, the other gets 404 or 409, and exactly one successor survives', async (t) => {
  const { tk, tenant, admin, worker } = t.context;
  const other = await ApiClient.signIn(worker.issuer, 'admin@acme.test');
  for (let round = 0; round < 3; round++) {
    const name = `race-${round}`;
    const old = await create(admin, `/accounts/${tenant.accountId}/keypairs`, { name });
    const answers = await Promise.all([admin.post(`/keypairs/${old.keypair.keyId}/replace`), other.post(`/keypairs/${old.keypair.keyId}/replace`)]);
    const statuses = answers.map((a) => a.status).sort();
    t.is(statuses[0], 200, JSON.stringify(answers.map((a) => a.body)));
    t.true([404, 409].includes(statuses[1]!), `the loser: ${statuses[1]}`);
    const winner = answers.find((a) => a.status === 200)!.body;
    const list = await admin.get(`/accounts/${tenant.accountId}/keypairs?q=${name}`);
    t.deepEqual(list.body.items.map((k: { keyId: string }) => k.keyId), [winner.keypair.keyId], 'one survivor: the winner\'s');
    t.is((await tokenAnswer(tk.url, winner.keypair.keyId, winner.secret)).status, 200);
  }
});

test.serial('replace in an environment that is closing at the same time leaves no keypair in it; after a close the keypair is simply gone (404)', async (t) => {
  const { tk, tenant, admin } = t.context;
  const env = await tk.keyport.domain.owners.createEnvironment(tenant.accountId, { name: 'doomed' }, 'system');
  const first = await create(admin, `/environments/${env.id}/keypairs`, { name: 'doomed-key' });
  const before = await admin.post(`/keypairs/${first.keypair.keyId}/replace`);
  t.is(before.status, 200, 'replacing works in the environment while it is open');
  const old = { keypair: before.body.keypair as { keyId: string } };
  const [replaced, closed] = await Promise.all([admin.post(`/keypairs/${old.keypair.keyId}/replace`), admin.post(`/environments/${env.id}/close`)]);
  t.is(closed.status, 200);
  t.true([200, 404, 409].includes(replaced.status), `${replaced.status} ${JSON.stringify(replaced.body)}`);
  t.deepEqual(await tk.keyport.database.models.Keypair.find({ environmentId: env.id }).lean(), [], 'nothing survives in the closed environment');
  if (replaced.status === 200) t.is((await tokenAnswer(tk.url, replaced.body.keypair.keyId, replaced.body.secret)).status, 401);

  const env2 = await tk.keyport.domain.owners.createEnvironment(tenant.accountId, { name: 'closed' }, 'system');
  const key2 = await create(admin, `/environments/${env2.id}/keypairs`, { name: 'k' });
  await tk.keyport.domain.closing.closeEnvironment(env2.id, 'system');
  t.is((await admin.post(`/keypairs/${key2.keypair.keyId}/replace`)).status, 404, 'its keypairs are gone with it');
});

test.serial('replace racing a rotation in another process: never two keypairs; a losing replacement leaves the old one as it is', async (t) => {
  const { tenant, admin, worker } = t.context;
  for (let round = 0; round < 3; round++) {
    const name = `rotating-${round}`;
    const old = await create(admin, `/accounts/${tenant.accountId}/keypairs`, { name });
    const [replaced] = await Promise.all([
      admin.post(`/keypairs/${old.keypair.keyId}/replace`),
      worker.domain.keypairs.rotate(old.keypair.keyId, '1h', 'system').catch(() => null),
    ]);
    const left = (await admin.get(`/accounts/${tenant.accountId}/keypairs?q=${name}`)).body.items.map((k: { keyId: string }) => k.keyId);
    if (replaced.status === 200) {
      t.deepEqual(left, [replaced.body.keypair.keyId], 'the successor alone');
    } else {
      t.is(replaced.status, 409, JSON.stringify(replaced.body));
      t.deepEqual(left, [old.keypair.keyId], 'the old keypair alone, no successor');
    }
  }
});

// ---- expiry ---------------------------------------------------------------------

test.serial('expiresAt: set at creation and by an edit, must be in the future, null clears it; bad input changes nothing', async (t) => {
  const { tk, tenant, admin } = t.context;
  const now = tk.clock.now().getTime();
  const at = new Date(now + 30 * DAY).toISOString();
  const created = await create(admin, `/accounts/${tenant.accountId}/keypairs`, { name: 'expiring-ci', expiresAt: at });
  t.is(created.keypair.expiresAt, at);
  const keyId = created.keypair.keyId;
  for (const expiresAt of [new Date(now - 1000).toISOString(), 'tomorrow', 12345, '2027-01-01']) {
    const res = await admin.patch(`/keypairs/${keyId}`, { expiresAt });
    t.is(res.status, 400, `${JSON.stringify(expiresAt)}: ${JSON.stringify(res.body)}`);
  }
  t.is((await admin.post(`/accounts/${tenant.accountId}/keypairs`, { name: 'x', expiresAt: new Date(now - DAY).toISOString() })).body.error.message, 'expiresAt must be in the future');
  t.is((await admin.get(`/keypairs/${keyId}`)).body.expiresAt, at, 'unchanged');
  const later = new Date(now + 60 * DAY).toISOString();
  t.is((await admin.patch(`/keypairs/${keyId}`, { expiresAt: later })).body.expiresAt, later);
  t.is((await admin.patch(`/keypairs/${keyId}`, { expiresAt: null })).body.expiresAt, null);
  const updates = await auditActions(tk, keyId, 'keypair.updated');
  t.deepEqual(updates.map((e) => e.details), [{ expiresAt: null }, { expiresAt: later }]);
});

test.serial('an expired keypair gets invalid_client exactly like a wrong secret, never counted toward lockout; its tokens introspect inactive after expiry', async (t) => {
  const { tk, tenant, admin } = t.context;
  const inspector = await create(admin, `/accounts/${tenant.accountId}/keypairs`, { name: 'inspector', scopes: ['keyport:introspect'] });
  const key = await create(admin, `/accounts/${tenant.accountId}/keypairs`, { name: 'short-lived', expiresAt: new Date(tk.clock.now().getTime() + HOUR).toISOString() });
  const token = await getToken(tk.url, { keyId: key.keypair.keyId, secret: key.secret });
  t.true((await introspect(tk.url, { keyId: inspector.keypair.keyId, secret: inspector.secret }, token)).active);

  // An hour: well within the admin session's lifetime.
  tk.clock.advance(HOUR + 1000);
  try {
    const wrong = await tokenAnswer(tk.url, key.keypair.keyId, 'kps_not-the-secret');
    const expired = await tokenAnswer(tk.url, key.keypair.keyId, key.secret);
    t.deepEqual(expired, { status: 401, body: INVALID_CLIENT });
    t.deepEqual(expired.body, wrong.body, 'the same answer as a wrong secret');
    t.deepEqual(await introspect(tk.url, { keyId: inspector.keypair.keyId, secret: inspector.secret }, token), { active: false }, 'its token introspects inactive');
    for (let i = 0; i < 12; i++) t.is((await tokenAnswer(tk.url, key.keypair.keyId, key.secret)).status, 401);
    const stored = await rawKeypair(tk, key.keypair.keyId);
    t.is(stored.failedAttempts, 0, 'not counted toward lockout');
    t.false((await admin.get(`/keypairs/${key.keypair.keyId}`)).body.locked);
    t.like((await admin.get(`/keypairs/${key.keypair.keyId}`)).body, { expired: true, expiringSoon: false });
    // Given a new expiry date, the key works again, unlocked.
    const res = await admin.patch(`/keypairs/${key.keypair.keyId}`, { expiresAt: new Date(tk.clock.now().getTime() + DAY).toISOString() });
    t.is(res.status, 200);
    t.is((await tokenAnswer(tk.url, key.keypair.keyId, key.secret)).status, 200);
  } finally {
    tk.clock.advance(-(HOUR + 1000));
  }
});

test.serial('the account\'s maximum keypair lifetime: set by account admins only; new keypairs get now + max, a later expiresAt or none is refused', async (t) => {
  const { tk, tenant, admin } = t.context;
  const path = `/accounts/${tenant.accountId}/keypair-lifetime`;
  const envAdmin = await ApiClient.signIn(tk.url, 'envadmin@acme.test');
  t.is((await envAdmin.request('PUT', path, { maxKeypairLifetimeDays: 30 })).status, 403, 'an environment admin may not');
  for (const bad of [0, -1, 1.5, '30', 3651]) t.is((await admin.request('PUT', path, { maxKeypairLifetimeDays: bad })).status, 400, JSON.stringify(bad));
  const set = await admin.request('PUT', path, { maxKeypairLifetimeDays: 30 });
  t.is(set.status, 200, JSON.stringify(set.body));
  t.is(set.body.maxKeypairLifetimeDays, 30);
  t.is((await admin.get(`/accounts/${tenant.accountId}`)).body.maxKeypairLifetimeDays, 30);
  try {
    const before = tk.clock.now().getTime();
    const created = await create(admin, `/environments/${tenant.stagingId}/keypairs`, { name: 'bounded' });
    const after = tk.clock.now().getTime();
    const expiresAt = Date.parse(created.keypair.expiresAt!);
    t.true(expiresAt >= before + 30 * DAY && expiresAt <= after + 30 * DAY, 'now + 30 days, also in an environment of the account');
    const beyond = await admin.post(`/accounts/${tenant.accountId}/keypairs`, { name: 'too-long', expiresAt: new Date(after + 31 * DAY).toISOString() });
    t.is(beyond.status, 400);
    t.regex(beyond.body.error.message, /at most 30 days/);
    t.is((await admin.post(`/accounts/${tenant.accountId}/keypairs`, { name: 'forever', expiresAt: null })).status, 400);
    t.is((await admin.patch(`/keypairs/${created.keypair.keyId}`, { expiresAt: null })).status, 400, 'nor cleared by an edit');
    t.is((await admin.post(`/accounts/${tenant.accountId}/keypairs`, { name: 'short', expiresAt: new Date(after + 7 * DAY).toISOString() })).status, 201);
    t.is((await admin.get(`/accounts/${tenant.accountId}/keypairs?q=too-long`)).body.total, 0, 'nothing was created by the refused requests');
  } finally {
    const cleared = await admin.request('PUT', path, { maxKeypairLifetimeDays: null });
    t.is(cleared.body.maxKeypairLifetimeDays, null);
  }
  t.is((await create(admin, `/accounts/${tenant.accountId}/keypairs`, { name: 'unbounded' })).keypair.expiresAt, null, 'no limit: no expiry by default');
});

test.serial('?status=expiring lists the keypairs expiring within 14 days (not those later, never, or already expired); ?status=expired the expired ones', async (t) => {
  const { tk, admin } = t.context;
  const tenant = await createTenant(tk.keyport, 'Expiring Inc');
  await tk.keyport.domain.users.grant((await tk.keyport.domain.users.findByEmail('admin@acme.test'))!.id, accountOwner(tenant.accountId), 'admin', 'system');
  const base = `/accounts/${tenant.accountId}/keypairs`;
  const now = tk.clock.now().getTime();
  const soon = await create(admin, base, { name: 'soon', expiresAt: new Date(now + 3 * DAY).toISOString() });
  await create(admin, base, { name: 'later', expiresAt: new Date(now + 30 * DAY).toISOString() });
  await create(admin, base, { name: 'never' });
  const gone = await create(admin, base, { name: 'gone', expiresAt: new Date(now + 60_000).toISOString() });
  tk.clock.advance(120_000);
  try {
    const expiring = await admin.get(`${base}?status=expiring`);
    t.is(expiring.status, 200);
    t.deepEqual(expiring.body.items.map((k: { name: string }) => k.name), ['soon']);
    t.like(expiring.body.items[0], { keyId: soon.keypair.keyId, expiringSoon: true, expired: false });
    const expired = await admin.get(`${base}?status=expired`);
    t.deepEqual(expired.body.items.map((k: { keyId: string }) => k.keyId), [gone.keypair.keyId]);
    t.is((await admin.get(`${base}?status=soonish`)).status, 400);
  } finally {
    tk.clock.advance(-120_000);
  }
});

test.serial('the sweep audits keypair.expiring and keypair.expired exactly once each, with two processes sweeping at once, and by itself on its interval', async (t) => {
  const { tk, tenant, worker } = t.context;
  const key = await tk.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'swept', expiresAt: new Date(tk.clock.now().getTime() + 20 * DAY) }, 'system');
  const keyId = key.keypair.keyId;
  await Promise.all([tk.keyport.domain.expiry.sweep(), worker.domain.expiry.sweep()]);
  t.is((await auditActions(tk, keyId, 'keypair.expiring')).length, 0, 'not yet within 14 days');

  tk.clock.advance(7 * DAY);
  try {
    await Promise.all([tk.keyport.domain.expiry.sweep(), worker.domain.expiry.sweep(), tk.keyport.domain.expiry.sweep(), worker.domain.expiry.sweep()]);
    await Promise.all([tk.keyport.domain.expiry.sweep(), worker.domain.expiry.sweep()]);
    const expiring = await auditActions(tk, keyId, 'keypair.expiring');
    t.is(expiring.length, 1, 'once');
    t.like(expiring[0], { actor: 'system', accountId: tenant.accountId, details: { expiresAt: key.keypair.expiresAt } });

    tk.clock.advance(13 * DAY + 1000);
    // Left to the periodic sweep (every second here), in both processes.
    await eventually(() => auditActions(tk, keyId, 'keypair.expired'), (events) => events.length > 0);
    await Promise.all([tk.keyport.domain.expiry.sweep(), worker.domain.expiry.sweep()]);
    t.is((await auditActions(tk, keyId, 'keypair.expired')).length, 1, 'once');
    t.is((await auditActions(tk, keyId, 'keypair.expiring')).length, 1, 'still once');
  } finally {
    tk.clock.advance(-(20 * DAY + 1000));
  }
});

test.serial('a new expiry date starts the notices over: the keypair is warned again when it re-enters the window', async (t) => {
  const { tk, tenant, admin } = t.context;
  const key = await create(admin, `/accounts/${tenant.accountId}/keypairs`, { name: 'extended', expiresAt: new Date(tk.clock.now().getTime() + 5 * DAY).toISOString() });
  await tk.keyport.domain.expiry.sweep();
  t.is((await auditActions(tk, key.keypair.keyId, 'keypair.expiring')).length, 1);
  await admin.patch(`/keypairs/${key.keypair.keyId}`, { expiresAt: new Date(tk.clock.now().getTime() + 100 * DAY).toISOString() });
  await tk.keyport.domain.expiry.sweep();
  t.is((await auditActions(tk, key.keypair.keyId, 'keypair.expiring')).length, 1, 'outside the window now');
  await admin.patch(`/keypairs/${key.keypair.keyId}`, { expiresAt: new Date(tk.clock.now().getTime() + 2 * DAY).toISOString() });
  await tk.keyport.domain.expiry.sweep();
  t.is((await auditActions(tk, key.keypair.keyId, 'keypair.expiring')).length, 2);
});

test.serial('replace keeps a future expiry date within the account\'s maximum', async (t) => {
  const { tk, tenant, admin } = t.context;
  const at = new Date(tk.clock.now().getTime() + 10 * DAY).toISOString();
  const old = await create(admin, `/accounts/${tenant.accountId}/keypairs`, { name: 'expiring-replaced', expiresAt: at });
  const res = await admin.post(`/keypairs/${old.keypair.keyId}/replace`);
  t.is(res.status, 200);
  t.is(res.body.keypair.expiresAt, at);
});
