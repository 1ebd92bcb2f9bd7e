// The keypair lifecycle (docs/architecture.md, Keypair lifecycle) through the admin API, signed in as an account admin.
import test from 'ava';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken, introspect, tokenRequest } from './helpers/oauth.ts';

let tk: TestKeyport;
let tenant: Awaited<ReturnType<typeof createTenant>>;
let admin: ApiClient;

test.before(async () => {
  tk = await startTestKeyport();
  tenant = await createTenant(tk.keyport);
  await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  admin = await ApiClient.signIn(tk.url, 'admin@acme.test');
});
test.after.always(async () => {
  await tk?.close();
});

// A secret is kps_ and base62; a hint (kps_…AbC9) is not one.
const SECRETISH = /kps_[0-9A-Za-z]|"hash"|secretHash/;

test('create returns the secret once, with no-store; reads never show it', async (t) => {
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'ci', comment: 'GitHub Actions', scopes: ['orders:read'] });
  t.is(created.status, 201, JSON.stringify(created.body));
  t.is(created.headers.get('cache-control'), 'no-store');
  const { keypair, secret } = created.body;
  t.regex(secret, /^kps_/);
  t.like(keypair, { name: 'ci', comment: 'GitHub Actions', scopes: ['orders:read'], ownerType: 'environment', environmentId: tenant.productionId, status: 'enabled', locked: false, lastUsedAt: null, lastRotatedAt: null });
  t.false(JSON.stringify(keypair).includes('hash'));

  const read = await admin.get(`/keypairs/${keypair.keyId}`);
  t.is(read.status, 200);
  t.notRegex(JSON.stringify(read.body), SECRETISH);
  const list = await admin.get(`/environments/${tenant.productionId}/keypairs`);
  t.is(list.status, 200);
  t.true(list.body.items.some((k: { keyId: string }) => k.keyId === keypair.keyId));
  t.notRegex(JSON.stringify(list.body), SECRETISH);

  // The secret works at the token endpoint.
  await t.notThrowsAsync(getToken(tk.url, { keyId: keypair.keyId, secret }));
});

test.serial('list: paginated, newest first, filtered by status', async (t) => {
  const other = await createTenant(tk.keyport, 'Listing');
  await tk.keyport.domain.users.grant((await tk.keyport.domain.users.findByEmail('admin@acme.test'))!.id, accountOwner(other.accountId), 'admin', 'system');
  const owner = `/accounts/${other.accountId}/keypairs`;
  const ids: string[] = [];
  for (const name of ['a', 'b', 'c']) {
    const res = await admin.post(owner, { name });
    ids.push(res.body.keypair.keyId);
    tk.clock.advance(1000);
  }
  await admin.post(`/keypairs/${ids[0]}/disable`);
  const page1 = await admin.get(`${owner}?limit=2`);
  t.is(page1.status, 200);
  t.is(page1.body.total, 3);
  t.deepEqual(page1.body.items.map((k: { name: string }) => k.name), ['c', 'b']);
  const page2 = await admin.get(`${owner}?limit=2&offset=2`);
  t.deepEqual(page2.body.items.map((k: { name: string }) => k.name), ['a']);
  const disabled = await admin.get(`${owner}?status=disabled`);
  t.deepEqual(disabled.body.items.map((k: { keyId: string }) => k.keyId), [ids[0]]);
  const enabled = await admin.get(`${owner}?status=enabled`);
  t.is(enabled.body.total, 2);

  // A key both disabled and locked: among the disabled ones and the locked ones, not the enabled ones.
  const both = (await admin.post(owner, { name: 'd' })).body.keypair.keyId as string;
  const wrong = (await tk.keyport.domain.keypairs.create({ environmentId: other.stagingId }, { name: 'donor' }, 'system')).secret;
  for (let i = 0; i < tk.config.lockout.maxFailures; i++) await tokenRequest(tk.url, { keyId: both, secret: wrong });
  await admin.post(`/keypairs/${both}/disable`);
  const ids2 = (res: { body: { items: { keyId: string }[] } }) => res.body.items.map((k) => k.keyId).sort();
  t.deepEqual(ids2(await admin.get(`${owner}?status=disabled`)), [ids[0]!, both].sort());
  t.deepEqual(ids2(await admin.get(`${owner}?status=locked`)), [both]);
  t.deepEqual(ids2(await admin.get(`${owner}?status=enabled`)), [ids[1]!, ids[2]!].sort());
});

test('edit name, comment and scopes; scopes checked against the catalog and the owner level', async (t) => {
  const { body } = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'edit-me' });
  const keyId = body.keypair.keyId;
  const edited = await admin.patch(`/keypairs/${keyId}`, { name: 'edited', comment: 'new', scopes: ['orders:read', 'orders:write'] });
  t.is(edited.status, 200);
  t.like(edited.body, { name: 'edited', comment: 'new', scopes: ['orders:read', 'orders:write'] });

  const unknown = await admin.patch(`/keypairs/${keyId}`, { scopes: ['nope:nothing'] });
  t.is(unknown.status, 400);
  t.is(unknown.body.error.code, 'validation_failed');
  // keyport:manage is for account keypairs only.
  const wrongLevel = await admin.patch(`/keypairs/${keyId}`, { scopes: ['keyport:manage'] });
  t.is(wrongLevel.status, 400);
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'x', scopes: ['reports:read'] });
  t.is(created.status, 400);
  t.deepEqual((await admin.get(`/keypairs/${keyId}`)).body.scopes, ['orders:read', 'orders:write']);
});

test('disable / enable: a disabled keypair gets no tokens and its tokens introspect inactive', async (t) => {
  const { body } = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'toggle', scopes: ['orders:read'] });
  const { keyId } = body.keypair;
  const secret: string = body.secret;
  const token = await getToken(tk.url, { keyId, secret });
  const disabled = await admin.post(`/keypairs/${keyId}/disable`);
  t.is(disabled.status, 200);
  t.like(disabled.body, { enabled: false, status: 'disabled' });
  t.is((await tokenRequest(tk.url, { keyId, secret })).status, 401);
  // An introspector keypair of the same account.
  const introspector = await tk.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'rs', scopes: ['keyport:introspect'] }, 'system');
  t.deepEqual(await introspect(tk.url, { keyId: introspector.keypair.keyId, secret: introspector.secret }, token), { active: false });
  const enabled = await admin.post(`/keypairs/${keyId}/enable`);
  t.like(enabled.body, { enabled: true, status: 'enabled' });
  t.is((await tokenRequest(tk.url, { keyId, secret })).status, 200);
});

test.serial('rotate: default grace 24h keeps the old secret until then; grace choices validated', async (t) => {
  const { body } = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'rotate' });
  const { keyId } = body.keypair;
  const oldSecret: string = body.secret;
  const rotated = await admin.post(`/keypairs/${keyId}/rotate`, {});
  t.is(rotated.status, 200);
  t.is(rotated.headers.get('cache-control'), 'no-store');
  t.not(rotated.body.secret, oldSecret);
  t.is(rotated.body.keypair.secrets.length, 2);
  const previous = rotated.body.keypair.secrets.find((s: { state: string }) => s.state === 'previous');
  const hours = (Date.parse(previous.expiresAt) - tk.clock.now().getTime()) / 3_600_000;
  t.true(hours > 23.9 && hours <= 24, String(hours));
  t.truthy(rotated.body.keypair.lastRotatedAt);
  t.is((await tokenRequest(tk.url, { keyId, secret: oldSecret })).status, 200);
  t.is((await tokenRequest(tk.url, { keyId, secret: rotated.body.secret })).status, 200);

  const oneHour = await admin.post(`/keypairs/${keyId}/rotate`, { grace: '1h' });
  t.is(oneHour.status, 200);
  t.is((await tokenRequest(tk.url, { keyId, secret: oldSecret })).status, 401, 'a second rotation ends the older previous secret');
  const bad = await admin.post(`/keypairs/${keyId}/rotate`, { grace: '2h' });
  t.is(bad.status, 400);
  const zero = await admin.post(`/keypairs/${keyId}/rotate`, { grace: '0' });
  t.is(zero.body.keypair.secrets.length, 1);
  t.is((await tokenRequest(tk.url, { keyId, secret: oneHour.body.secret })).status, 401);
});

test('regenerate and unlock clear a lock; lock state is shown', async (t) => {
  const { body } = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'locked' });
  const { keyId } = body.keypair;
  // A well-formed (checksum-valid) but wrong secret: another keypair's.
  const wrong = (await tk.keyport.domain.keypairs.create({ environmentId: tenant.stagingId }, { name: 'donor' }, 'system')).secret;
  for (let i = 0; i < tk.config.lockout.maxFailures; i++) await tokenRequest(tk.url, { keyId, secret: wrong });
  const locked = await admin.get(`/keypairs/${keyId}`);
  t.like(locked.body, { status: 'locked', locked: true });
  t.truthy(locked.body.lockedUntil);
  const lockedList = await admin.get(`/environments/${tenant.productionId}/keypairs?status=locked`);
  t.true(lockedList.body.items.some((k: { keyId: string }) => k.keyId === keyId));

  const unlocked = await admin.post(`/keypairs/${keyId}/unlock`);
  t.like(unlocked.body, { status: 'enabled', locked: false, failedAttempts: 0 });
  t.is((await tokenRequest(tk.url, { keyId, secret: body.secret })).status, 200);

  for (let i = 0; i < tk.config.lockout.maxFailures; i++) await tokenRequest(tk.url, { keyId, secret: wrong });
  t.is((await admin.get(`/keypairs/${keyId}`)).body.status, 'locked');
  const regenerated = await admin.post(`/keypairs/${keyId}/regenerate`);
  t.is(regenerated.status, 200);
  t.is(regenerated.headers.get('cache-control'), 'no-store');
  t.like(regenerated.body.keypair, { status: 'enabled', locked: false });
  t.is((await tokenRequest(tk.url, { keyId, secret: body.secret })).status, 401);
  t.is((await tokenRequest(tk.url, { keyId, secret: regenerated.body.secret })).status, 200);
});

test('remove: gone (404), its tokens introspect inactive, the audit trail stays', async (t) => {
  const { body } = await admin.post(`/accounts/${tenant.accountId}/keypairs`, { name: 'doomed', scopes: ['keyport:introspect'] });
  const { keyId } = body.keypair;
  const token = await getToken(tk.url, { keyId, secret: body.secret });
  const introspector = await tk.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'rs2', scopes: ['keyport:introspect'] }, 'system');
  t.true((await introspect(tk.url, { keyId: introspector.keypair.keyId, secret: introspector.secret }, token)).active);
  const removed = await admin.delete(`/keypairs/${keyId}`);
  t.is(removed.status, 204);
  t.is((await admin.get(`/keypairs/${keyId}`)).status, 404);
  t.is((await admin.delete(`/keypairs/${keyId}`)).status, 404);
  t.deepEqual(await introspect(tk.url, { keyId: introspector.keypair.keyId, secret: introspector.secret }, token), { active: false });
  const audit = await admin.get(`/keypairs/${keyId}/audit`);
  t.is(audit.status, 200, 'the keypair is gone, its own audit trail stays readable');
  t.is(audit.body.items[0].action, 'keypair.removed');
  const accountAudit = await admin.get(`/accounts/${tenant.accountId}/audit?limit=200`);
  t.true(accountAudit.body.items.some((e: { action: string; keypairId: string }) => e.action === 'keypair.removed' && e.keypairId === keyId));
});

test('list ?q=: names that start with it, in any case and taken literally, or the one key id; with status and paging', async (t) => {
  const env = await tk.keyport.domain.owners.createEnvironment(tenant.accountId, { name: 'search' }, 'system');
  const ids: Record<string, string> = {};
  for (const name of ['Billing export', 'billing import', 'rebilling', 'b.lling', 'billing (old)']) {
    const created = await admin.post(`/environments/${env.id}/keypairs`, { name, scopes: ['orders:read'] });
    ids[name] = created.body.keypair.keyId;
  }
  await admin.post(`/keypairs/${ids['billing import']}/disable`, {});
  const names = async (query: string) => {
    const res = await admin.get(`/environments/${env.id}/keypairs?${query}`);
    t.is(res.status, 200, query);
    return { names: (res.body.items as { name: string }[]).map((k) => k.name).sort(), total: res.body.total as number };
  };
  t.deepEqual((await names('q=BILLING')).names, ['Billing export', 'billing (old)', 'billing import']);
  t.deepEqual((await names('q=b.')).names, ['b.lling'], 'a dot is a dot');
  t.deepEqual((await names(`q=${encodeURIComponent('billing (')}`)).names, ['billing (old)']);
  t.deepEqual((await names('q=.*')).names, []);
  t.deepEqual((await names('q=lling')).names, [], 'a prefix, not a substring');
  t.deepEqual((await names(`q=${ids.rebilling}`)).names, ['rebilling'], 'an exact key id');
  t.deepEqual((await names(`q=${ids.rebilling!.slice(0, 10)}`)).names, [], 'not a key id prefix');
  t.deepEqual((await names('q=billing&status=disabled')).names, ['billing import']);
  const paged = await names('q=billing&limit=2&offset=2');
  t.is(paged.names.length, 1);
  t.is(paged.total, 3);
  // Too long is a clear 400.
  const tooLong = await admin.get(`/environments/${env.id}/keypairs?q=${'x'.repeat(1000)}`);
  t.is(tooLong.status, 400);
  t.is(tooLong.body.error.code, 'validation_failed');
});
