// Bad input to the admin API: each case is a 400 (413/415 for size and media
// type), with the error shape, and changes nothing.
import test from 'ava';
import { accountOwner, ApiClient, createTenant, createUser, PASSWORD } from '../helpers/api.ts';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';

let tk: TestKeyport;
let tenant: Awaited<ReturnType<typeof createTenant>>;
let admin: ApiClient;
let keyId: string;

test.before(async () => {
  tk = await startTestKeyport();
  tenant = await createTenant(tk.keyport);
  await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  admin = await ApiClient.signIn(tk.url, 'admin@acme.test');
  keyId = (await admin.post(`/accounts/${tenant.accountId}/keypairs`, { name: 'target', scopes: ['orders:read'] })).body.keypair.keyId;
});
test.after.always(async () => {
  await tk?.close();
});

/** Everything a bad request could have changed. */
async function snapshot() {
  const { domain, database } = tk.keyport;
  const owner = accountOwner(tenant.accountId);
  return JSON.stringify({
    keypairs: await domain.keypairs.listPage(owner, { limit: 100 }),
    raw: await database.models.Keypair.find({}).sort({ _id: 1 }).lean(),
    account: await domain.owners.getAccount(tenant.accountId),
    environments: await domain.owners.listEnvironments(tenant.accountId),
    members: await domain.users.listMembers(owner),
    audit: await database.models.AuditEvent.countDocuments({}),
  });
}

type Case = [name: string, method: string, path: () => string, body: unknown, status?: number, code?: string, contentType?: string];

const CASES: Case[] = [
  ['bad JSON', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, '{"name": "x",', 400, 'invalid_json'],
  ['a JSON array', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, '[{"name": "x"}]', 400, 'validation_failed'],
  ['a JSON string', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, '"x"', 400, 'invalid_json'],
  ['missing name', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { comment: 'x' }, 400, 'validation_failed'],
  ['blank name', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { name: '   ' }, 400, 'validation_failed'],
  ['name too long', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { name: 'x'.repeat(101) }, 400, 'validation_failed'],
  ['name of the wrong type', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { name: 123 }, 400, 'validation_failed'],
  ['scopes as a string', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { name: 'x', scopes: 'orders:read' }, 400, 'validation_failed'],
  ['comment null', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { name: 'x', comment: null }, 400, 'validation_failed'],
  ['unknown field', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { name: 'x', color: 'red' }, 400, 'validation_failed'],
  ['mass assignment: failedAttempts', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { name: 'x', failedAttempts: 0 }, 400, 'validation_failed'],
  ['mass assignment: secretHash', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { name: 'x', secretHash: 'AAAA' }, 400, 'validation_failed'],
  ['mass assignment: owner ids', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { name: 'x', environmentId: 'env_AAAAAAAAAAAAAAAA' }, 400, 'validation_failed'],
  ['edit: locked', 'PATCH', () => `/keypairs/${keyId}`, { locked: false }, 400, 'validation_failed'],
  ['edit: failedAttempts', 'PATCH', () => `/keypairs/${keyId}`, { name: 'y', failedAttempts: 0 }, 400, 'validation_failed'],
  ['edit: secrets', 'PATCH', () => `/keypairs/${keyId}`, { secrets: [] }, 400, 'validation_failed'],
  ['edit: accountId', 'PATCH', () => `/keypairs/${keyId}`, { accountId: 'acc_AAAAAAAAAAAAAAAA' }, 400, 'validation_failed'],
  ['edit: enabled', 'PATCH', () => `/keypairs/${keyId}`, { enabled: false }, 400, 'validation_failed'],
  ['edit: nothing', 'PATCH', () => `/keypairs/${keyId}`, {}, 400, 'validation_failed'],
  ['edit: unknown scope', 'PATCH', () => `/keypairs/${keyId}`, { scopes: ['orders:read', 'admin:*'] }, 400, 'validation_failed'],
  ['operator in a value', 'PATCH', () => `/keypairs/${keyId}`, { name: { $gt: '' } }, 400, 'invalid_request'],
  ['operator in an array', 'PATCH', () => `/keypairs/${keyId}`, { scopes: [{ $ne: null }] }, 400, 'invalid_request'],
  ['operator at the top', 'PATCH', () => `/keypairs/${keyId}`, { $set: { enabled: false } }, 400, 'invalid_request'],
  ['operator in the sign-in email', 'POST', () => '/session', { email: { $gt: '' }, password: PASSWORD }, 400, 'invalid_request'],
  ['operator in the sign-in password', 'POST', () => '/session', { email: 'admin@acme.test', password: { $ne: null } }, 400, 'invalid_request'],
  ['__proto__ key', 'PATCH', () => `/keypairs/${keyId}`, '{"name": "p", "__proto__": {"enabled": false}}', 400, 'invalid_request'],
  ['nested __proto__ key', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, '{"name": "p", "scopes": [{"__proto__": {}}]}', 400, 'invalid_request'],
  ['constructor key', 'PATCH', () => `/keypairs/${keyId}`, '{"constructor": {"prototype": {"x": 1}}}', 400, 'invalid_request'],
  ['dotted key', 'PATCH', () => `/accounts/${tenant.accountId}`, { 'name.first': 'x' }, 400, 'invalid_request'],
  ['rotate: unknown grace', 'POST', () => `/keypairs/${keyId}/rotate`, { grace: '5h' }, 400, 'validation_failed'],
  ['rotate: grace as a number', 'POST', () => `/keypairs/${keyId}/rotate`, { grace: 24 }, 400, 'validation_failed'],
  ['disable with a body field', 'POST', () => `/keypairs/${keyId}/disable`, { enabled: false }, 400, 'validation_failed'],
  ['member: bad role', 'POST', () => `/accounts/${tenant.accountId}/members`, { email: 'admin@acme.test', role: 'owner' }, 400, 'validation_failed'],
  ['member: bad email', 'POST', () => `/accounts/${tenant.accountId}/members`, { email: 'not-an-email', role: 'member' }, 400, 'validation_failed'],
  ['member: unknown user', 'POST', () => `/accounts/${tenant.accountId}/members`, { email: 'ghost@acme.test', role: 'member' }, 400, 'validation_failed'],
  ['rename account: empty', 'PATCH', () => `/accounts/${tenant.accountId}`, { name: '' }, 400, 'validation_failed'],
  ['create environment: extra field', 'POST', () => `/accounts/${tenant.accountId}/environments`, { name: 'qa', status: 'closed' }, 400, 'validation_failed'],
  ['query: limit not a number', 'GET', () => `/accounts/${tenant.accountId}/keypairs?limit=abc`, undefined, 400, 'validation_failed'],
  ['query: limit too large', 'GET', () => `/accounts/${tenant.accountId}/keypairs?limit=1000`, undefined, 400, 'validation_failed'],
  ['query: unknown status', 'GET', () => `/accounts/${tenant.accountId}/keypairs?status=deleted`, undefined, 400, 'validation_failed'],
  ['query: repeated', 'GET', () => `/accounts/${tenant.accountId}/keypairs?limit=1&limit=2`, undefined, 400, 'validation_failed'],
  ['query: operator', 'GET', () => `/accounts/${tenant.accountId}/keypairs?status[$ne]=x`, undefined, 400, 'invalid_request'],
  ['query: unknown parameter', 'GET', () => `/accounts/${tenant.accountId}/keypairs?sort=secret`, undefined, 400, 'validation_failed'],
  ['query: bad audit cursor', 'GET', () => `/accounts/${tenant.accountId}/audit?cursor=AAAA`, undefined, 400, 'validation_failed'],
  ['deeply nested object', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, `{"name": "x", "comment": ${'{"a":'.repeat(50)}"y"${'}'.repeat(50)}}`, 400, 'invalid_request'],
  ['20,000 nested arrays', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, `{"name": "x", "scopes": ${'['.repeat(20_000)}${']'.repeat(20_000)}}`, 400, 'invalid_request'],
  ['oversized body', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, JSON.stringify({ name: 'x', comment: 'y'.repeat(70_000) }), 413, 'payload_too_large'],
  ['comment too long', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, { name: 'x', comment: 'y'.repeat(1001) }, 400, 'validation_failed'],
  ['form-encoded body', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, 'name=x', 415, 'unsupported_media_type', 'application/x-www-form-urlencoded'],
  ['text body', 'POST', () => `/accounts/${tenant.accountId}/keypairs`, '{"name":"x"}', 415, 'unsupported_media_type', 'text/plain'],
];

for (const [name, method, path, body, status = 400, code, contentType] of CASES) {
  test.serial(`bad input: ${name}`, async (t) => {
    const before = await snapshot();
    const res = await admin.request(method, path(), body, contentType ? { contentType } : {});
    t.is(res.status, status, JSON.stringify(res.body));
    t.is(res.body?.error?.code, code);
    t.is(typeof res.body?.error?.message, 'string');
    t.true('details' in res.body.error);
    t.is(await snapshot(), before, 'nothing changed');
  });
}

test.serial('malformed ids in the path are simply not found', async (t) => {
  for (const path of ['/accounts/nope', '/accounts/acc_short/keypairs', '/environments/%24gt', '/keypairs/kp_x', "/keypairs/kp_AAAAAAAAAAAAAAAAAAAAAAA'"]) {
    const res = await admin.get(path);
    t.is(res.status, 404, path);
    t.is(res.body.error.code, 'not_found');
  }
});

test.serial('unknown routes and methods get the JSON error shape', async (t) => {
  const unknown = await admin.get('/nothing-here');
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'not_found');
  const method = await admin.request('PUT', `/keypairs/${keyId}`, { name: 'x' });
  t.is(method.status, 405);
  t.is(method.body.error.code, 'method_not_allowed');
});

test.serial('the valid request after all that still works', async (t) => {
  const res = await admin.patch(`/keypairs/${keyId}`, { name: 'renamed' });
  t.is(res.status, 200);
  t.is(res.body.name, 'renamed');
});
