// The permission matrix of the admin API (docs/architecture.md, Who may do what): every kind of
// caller × each kind of action. 403 for what the caller may see but not do,
// 404 — the very same 404 as for an owner that does not exist — for what it may not see.
import test from 'ava';
import { trusted } from 'mongoose';
import { ADMIN_API_RESOURCE } from '../../src/http/api/auth.ts';
import { accountOwner, ApiClient, createTenant, createUser, environmentOwner, type ApiResponse } from '../helpers/api.ts';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';
import { getToken } from '../helpers/oauth.ts';

const ACTORS = ['accountAdmin', 'envAdmin', 'otherEnvAdmin', 'member', 'envMember', 'stranger', 'readToken', 'manageToken', 'otherAccountToken'] as const;
type ActorName = typeof ACTORS[number];
type Expect = Record<ActorName, number>;

let tk: TestKeyport;
let tenant: Awaited<ReturnType<typeof createTenant>>;
let accountKeyId: string;
let prodKeyId: string;
let removedProdKeyId: string;
const clients = {} as Record<ActorName, ApiClient>;
const userIds = {} as Record<'envAdmin' | 'envMember', string>;

test.before(async () => {
  tk = await startTestKeyport();
  const { domain } = tk.keyport;
  tenant = await createTenant(tk.keyport);
  const elsewhere = await createTenant(tk.keyport, 'Elsewhere');
  const acc = accountOwner(tenant.accountId);
  const prod = environmentOwner(tenant.accountId, tenant.productionId);
  const staging = environmentOwner(tenant.accountId, tenant.stagingId);
  await Promise.all([
    createUser(tk.keyport, 'account-admin@x.test', [[acc, 'admin']]),
    createUser(tk.keyport, 'env-admin@x.test', [[prod, 'admin']]).then((id) => { userIds.envAdmin = id; }),
    createUser(tk.keyport, 'other-env-admin@x.test', [[staging, 'admin']]),
    createUser(tk.keyport, 'member@x.test', [[acc, 'member']]),
    createUser(tk.keyport, 'env-member@x.test', [[prod, 'member']]).then((id) => { userIds.envMember = id; }),
    createUser(tk.keyport, 'stranger@x.test', [[accountOwner(elsewhere.accountId), 'admin']]),
    createUser(tk.keyport, 'new-member@x.test'),
  ]);
  const users: [ActorName, string][] = [
    ['accountAdmin', 'account-admin@x.test'], ['envAdmin', 'env-admin@x.test'], ['otherEnvAdmin', 'other-env-admin@x.test'],
    ['member', 'member@x.test'], ['envMember', 'env-member@x.test'], ['stranger', 'stranger@x.test'],
  ];
  await Promise.all(users.map(async ([name, email]) => { clients[name] = await ApiClient.signIn(tk.url, email); }));
  const token = async (accountId: string, scopes: string[]) => {
    const kp = await domain.keypairs.create({ accountId }, { name: `token ${scopes.join(' ')}`, scopes }, 'system');
    return getToken(tk.url, { keyId: kp.keypair.keyId, secret: kp.secret, resource: ADMIN_API_RESOURCE });
  };
  clients.readToken = ApiClient.withToken(tk.url, await token(tenant.accountId, ['keyport:read']));
  clients.manageToken = ApiClient.withToken(tk.url, await token(tenant.accountId, ['keyport:manage']));
  clients.otherAccountToken = ApiClient.withToken(tk.url, await token(elsewhere.accountId, ['keyport:manage', 'keyport:read']));
  accountKeyId = (await domain.keypairs.create({ accountId: tenant.accountId }, { name: 'account key' }, 'system')).keypair.keyId;
  prodKeyId = (await domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'prod key' }, 'system')).keypair.keyId;
  removedProdKeyId = (await domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'removed prod key' }, 'system')).keypair.keyId;
  await domain.keypairs.remove(removedProdKeyId, 'system');
});
test.after.always(async () => {
  await tk?.close();
});

//                               A    E    O    M    EM   S    R    W    X
const e = (...s: number[]): Expect => Object.fromEntries(ACTORS.map((a, i) => [a, s[i]!])) as Expect;

interface Row {
  name: string;
  expect: Expect;
  run(client: ApiClient): Promise<ApiResponse>;
}

const freshProdKeypair = async () => (await tk.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'fresh' }, 'system')).keypair.keyId;

const ROWS: Row[] = [
  { name: 'read the account', expect: e(200, 200, 200, 200, 200, 404, 200, 200, 404), run: (c) => c.get(`/accounts/${tenant.accountId}`) },
  { name: 'rename the account', expect: e(200, 403, 403, 403, 403, 404, 403, 403, 404), run: (c) => c.patch(`/accounts/${tenant.accountId}`, { name: 'Acme' }) },
  { name: 'read an environment', expect: e(200, 200, 404, 200, 200, 404, 200, 200, 404), run: (c) => c.get(`/environments/${tenant.productionId}`) },
  { name: 'rename an environment', expect: e(200, 200, 404, 403, 403, 404, 403, 403, 404), run: (c) => c.patch(`/environments/${tenant.productionId}`, { name: 'production' }) },
  { name: 'list environments', expect: e(200, 200, 200, 200, 200, 404, 200, 200, 404), run: (c) => c.get(`/accounts/${tenant.accountId}/environments`) },
  { name: 'create an environment', expect: e(201, 403, 403, 403, 403, 404, 403, 403, 404), run: (c) => c.post(`/accounts/${tenant.accountId}/environments`, { name: 'preview' }) },
  { name: 'list account keypairs', expect: e(200, 403, 403, 403, 403, 404, 200, 200, 404), run: (c) => c.get(`/accounts/${tenant.accountId}/keypairs`) },
  { name: 'create an account keypair', expect: e(201, 403, 403, 403, 403, 404, 403, 201, 404), run: (c) => c.post(`/accounts/${tenant.accountId}/keypairs`, { name: 'm' }) },
  { name: 'read an account keypair', expect: e(200, 403, 403, 403, 403, 404, 200, 200, 404), run: (c) => c.get(`/keypairs/${accountKeyId}`) },
  { name: 'edit an account keypair', expect: e(200, 403, 403, 403, 403, 404, 403, 200, 404), run: (c) => c.patch(`/keypairs/${accountKeyId}`, { comment: 'c' }) },
  { name: 'list environment keypairs', expect: e(200, 200, 404, 403, 403, 404, 200, 200, 404), run: (c) => c.get(`/environments/${tenant.productionId}/keypairs`) },
  { name: 'create an environment keypair', expect: e(201, 201, 404, 403, 403, 404, 403, 201, 404), run: (c) => c.post(`/environments/${tenant.productionId}/keypairs`, { name: 'm' }) },
  { name: 'read an environment keypair', expect: e(200, 200, 404, 403, 403, 404, 200, 200, 404), run: (c) => c.get(`/keypairs/${prodKeyId}`) },
  { name: 'edit an environment keypair', expect: e(200, 200, 404, 403, 403, 404, 403, 200, 404), run: (c) => c.patch(`/keypairs/${prodKeyId}`, { comment: 'c' }) },
  { name: 'disable a keypair', expect: e(200, 200, 404, 403, 403, 404, 403, 200, 404), run: (c) => c.post(`/keypairs/${prodKeyId}/disable`) },
  { name: 'enable a keypair', expect: e(200, 200, 404, 403, 403, 404, 403, 200, 404), run: (c) => c.post(`/keypairs/${prodKeyId}/enable`) },
  { name: 'unlock a keypair', expect: e(200, 200, 404, 403, 403, 404, 403, 200, 404), run: (c) => c.post(`/keypairs/${prodKeyId}/unlock`) },
  { name: 'rotate a keypair', expect: e(200, 200, 404, 403, 403, 404, 403, 200, 404), run: async (c) => c.post(`/keypairs/${await freshProdKeypair()}/rotate`, { grace: '1h' }) },
  { name: 'regenerate a keypair', expect: e(200, 200, 404, 403, 403, 404, 403, 200, 404), run: async (c) => c.post(`/keypairs/${await freshProdKeypair()}/regenerate`) },
  { name: 'remove a keypair', expect: e(204, 204, 404, 403, 403, 404, 403, 204, 404), run: async (c) => c.delete(`/keypairs/${await freshProdKeypair()}`) },
  { name: 'list account members', expect: e(200, 403, 403, 403, 403, 404, 403, 403, 404), run: (c) => c.get(`/accounts/${tenant.accountId}/members`) },
  { name: 'add an account member', expect: e(200, 403, 403, 403, 403, 404, 403, 403, 404), run: (c) => c.post(`/accounts/${tenant.accountId}/members`, { email: 'new-member@x.test', role: 'member' }) },
  { name: 'list environment members', expect: e(200, 200, 404, 403, 403, 404, 403, 403, 404), run: (c) => c.get(`/environments/${tenant.productionId}/members`) },
  { name: 'add an environment member', expect: e(200, 200, 404, 403, 403, 404, 403, 403, 404), run: (c) => c.post(`/environments/${tenant.productionId}/members`, { email: 'new-member@x.test', role: 'member' }) },
  { name: 'read the account audit trail', expect: e(200, 403, 403, 403, 403, 404, 200, 200, 404), run: (c) => c.get(`/accounts/${tenant.accountId}/audit`) },
  { name: 'read an environment audit trail', expect: e(200, 200, 404, 403, 403, 404, 200, 200, 404), run: (c) => c.get(`/environments/${tenant.productionId}/audit`) },
  { name: 'read a keypair audit trail', expect: e(200, 200, 404, 403, 403, 404, 200, 200, 404), run: (c) => c.get(`/keypairs/${prodKeyId}/audit`) },
  { name: 'read a removed keypair\'s audit trail', expect: e(200, 200, 404, 403, 403, 404, 200, 200, 404), run: (c) => c.get(`/keypairs/${removedProdKeyId}/audit`) },
  // Accounts come from operators only: no admin, member or token of any account may create one.
  { name: 'create an account', expect: e(403, 403, 403, 403, 403, 403, 403, 403, 403), run: (c) => c.post('/accounts', { name: 'Mine' }) },
  {
    name: 'close an environment',
    expect: e(200, 403, 404, 403, 403, 404, 403, 403, 404),
    async run(c) {
      // A fresh environment each time, where envAdmin is an admin and envMember a member.
      const env = await tk.keyport.domain.owners.createEnvironment(tenant.accountId, { name: 'to-close' }, 'system');
      const owner = environmentOwner(tenant.accountId, env.id);
      await tk.keyport.domain.users.grant(userIds.envAdmin, owner, 'admin', 'system');
      await tk.keyport.domain.users.grant(userIds.envMember, owner, 'member', 'system');
      return c.post(`/environments/${env.id}/close`);
    },
  },
  {
    name: 'close the account',
    // Nobody but an account admin (-1: not run here; the account admin closes a throwaway account below).
    expect: e(-1, 403, 403, 403, 403, 404, 403, 403, 404),
    run: (c) => c.post(`/accounts/${tenant.accountId}/close`),
  },
];

for (const row of ROWS) {
  test.serial(`matrix: ${row.name}`, async (t) => {
    const got = {} as Record<ActorName, number>;
    for (const actor of ACTORS) {
      if (row.expect[actor] === -1) {
        got[actor] = -1;
        continue;
      }
      const res = await row.run(clients[actor]);
      got[actor] = res.status;
      if (res.status >= 400) t.truthy(res.body?.error?.code, `${actor}: error shape`);
    }
    t.deepEqual(got, row.expect);
  });
}

test.serial('an account admin closes their account; nobody else could', async (t) => {
  const owner = await tk.keyport.domain.owners.createAccount({ name: 'Throwaway' }, 'system');
  const adminId = (await tk.keyport.domain.users.findByEmail('account-admin@x.test'))!.id;
  await tk.keyport.domain.users.grant(adminId, accountOwner(owner.id), 'admin', 'system');
  const res = await clients.accountAdmin.post(`/accounts/${owner.id}/close`);
  t.is(res.status, 200);
  t.is(res.body.status, 'closed');
});

test.serial('a hidden owner looks exactly like a missing one', async (t) => {
  const missingAccount = await clients.stranger.get('/accounts/acc_AAAAAAAAAAAAAAAA');
  const hiddenAccount = await clients.stranger.get(`/accounts/${tenant.accountId}`);
  t.is(hiddenAccount.status, 404);
  t.deepEqual(hiddenAccount.body, missingAccount.body);
  const missingEnv = await clients.otherEnvAdmin.get('/environments/env_AAAAAAAAAAAAAAAA/keypairs');
  const hiddenEnv = await clients.otherEnvAdmin.get(`/environments/${tenant.productionId}/keypairs`);
  t.deepEqual(hiddenEnv.body, missingEnv.body);
  const missingKey = await clients.otherAccountToken.get('/keypairs/kp_AAAAAAAAAAAAAAAAAAAAAAAA');
  const hiddenKey = await clients.otherAccountToken.get(`/keypairs/${prodKeyId}`);
  t.deepEqual(hiddenKey.body, missingKey.body);
  t.is(hiddenKey.status, 404);
  // A removed keypair's trail, to someone without rights on its former owner: the same 404 as a key that never existed.
  const missingTrail = await clients.stranger.get('/keypairs/kp_AAAAAAAAAAAAAAAAAAAAAAAA/audit');
  const hiddenTrail = await clients.stranger.get(`/keypairs/${removedProdKeyId}/audit`);
  t.is(hiddenTrail.status, 404);
  t.deepEqual(hiddenTrail.body, missingTrail.body);
  t.deepEqual((await clients.otherAccountToken.get(`/keypairs/${removedProdKeyId}/audit`)).body, missingTrail.body);
  // Only the audit trail outlives the keypair: reading or changing it is 404, as before.
  for (const res of [await clients.accountAdmin.get(`/keypairs/${removedProdKeyId}`), await clients.accountAdmin.post(`/keypairs/${removedProdKeyId}/disable`)]) {
    t.is(res.status, 404);
    t.is(res.body.error.message, 'keypair not found');
  }
});

test.serial('lists show only what the caller reaches', async (t) => {
  const ids = (res: ApiResponse) => res.body.items.map((i: { id: string }) => i.id);
  t.deepEqual(ids(await clients.envAdmin.get('/accounts')), [tenant.accountId]);
  t.notDeepEqual(ids(await clients.stranger.get('/accounts')), [tenant.accountId]);
  const envs = ids(await clients.envAdmin.get(`/accounts/${tenant.accountId}/environments`));
  t.true(envs.includes(tenant.productionId));
  t.false(envs.includes(tenant.stagingId));
  const all = ids(await clients.accountAdmin.get(`/accounts/${tenant.accountId}/environments`));
  t.true(all.includes(tenant.productionId) && all.includes(tenant.stagingId));
});

test.serial('account creation: operators only; a signed-in user without the role gets 403 and creates nothing', async (t) => {
  // A user of no account at all could once found one of their own: the way a stranger got tokens for every API's audience.
  await createUser(tk.keyport, 'founder@x.test');
  const founder = await ApiClient.signIn(tk.url, 'founder@x.test');
  const refused = await founder.post('/accounts', { name: 'Founded' });
  t.is(refused.status, 403);
  t.is(refused.body.error.code, 'forbidden');
  t.regex(refused.body.error.message, /operator/);
  t.is((await founder.get('/session')).body.user.operator, false);
  t.is(await tk.keyport.database.models.Account.countDocuments({ name: trusted({ $in: ['Founded', 'Mine'] }) }), 0, 'the refused requests created nothing');

  // An operator creates accounts (as many as needed) and administers each one.
  const operatorId = await createUser(tk.keyport, 'operator@x.test');
  await tk.keyport.domain.users.setOperator(operatorId, true, 'system');
  const operator = await ApiClient.signIn(tk.url, 'operator@x.test');
  t.is((await operator.get('/session')).body.user.operator, true);
  for (const name of ['Initech', 'Globex']) {
    const created = await operator.post('/accounts', { name });
    t.is(created.status, 201);
    t.like(created.body, { name, status: 'active' });
    t.is((await operator.get(`/accounts/${created.body.id}/keypairs`)).status, 200);
    t.deepEqual((await operator.get(`/accounts/${created.body.id}/members`)).body.items.map((m: { email: string; role: string }) => [m.email, m.role]), [['operator@x.test', 'admin']]);
  }
  // The role is the user's, not the session's: revoked, the next request is refused.
  await tk.keyport.domain.users.setOperator(operatorId, false, 'system');
  t.is((await operator.post('/accounts', { name: 'Third' })).status, 403);
});

test.serial('an account keeps at least one admin', async (t) => {
  const owner = await tk.keyport.domain.owners.createAccount({ name: 'Solo' }, 'system');
  const soloId = await createUser(tk.keyport, 'solo@x.test', [[accountOwner(owner.id), 'admin']]);
  const solo = await ApiClient.signIn(tk.url, 'solo@x.test');
  const removed = await solo.delete(`/accounts/${owner.id}/members/${soloId}`);
  t.is(removed.status, 409);
  t.is((await solo.post(`/accounts/${owner.id}/members`, { email: 'solo@x.test', role: 'member' })).status, 409);
  t.is((await solo.post(`/accounts/${owner.id}/members`, { email: 'new-member@x.test', role: 'admin' })).status, 200);
  t.is((await solo.delete(`/accounts/${owner.id}/members/${soloId}`)).status, 204);
  t.is((await solo.get(`/accounts/${owner.id}`)).status, 404, 'no membership left: the account is out of sight');
});
