// The account-wide keypair list (issue 15, "Finding keypairs"): every keypair of
// an account, its own and its environments', in one list with an environment on
// each item (GET /accounts/{id}/keypairs?include=environments), for those with
// rights on the account itself; and a search that also looks into comments, in
// lists small enough for that (COMMENT_SEARCH_MAX).
import test from 'ava';
import { accountOwner, ApiClient, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { COMMENT_SEARCH_MAX } from '../src/domain/keypair-pages.ts';
import { listKeys } from '../src/db/keypair-list.ts';
import type { KeypairRecord } from '../src/db/contract.ts';

let tk: TestKeyport;
let tenant: Awaited<ReturnType<typeof createTenant>>;
let other: Awaited<ReturnType<typeof createTenant>>;
let admin: ApiClient;
/** key id → [name, environment id or null] of every keypair made in before(). */
const made = new Map<string, { name: string; environmentId: string | null }>();

type Item = { keyId: string; name: string; environment: { id: string; name: string } | null };
type Page = { items: Item[]; next: string | null; previous: string | null; total: number; totalIsExact: boolean; sort: string; searchedComments: boolean };

test.before(async () => {
  tk = await startTestKeyport();
  tenant = await createTenant(tk.keyport);
  other = await createTenant(tk.keyport, 'Other');
  await createUser(tk.keyport, 'admin@wide.test', [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(tk.keyport, 'member@wide.test', [[accountOwner(tenant.accountId), 'member']]);
  await createUser(tk.keyport, 'envadmin@wide.test', [[environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  await createUser(tk.keyport, 'stranger@wide.test', [[accountOwner(other.accountId), 'admin']]);
  admin = await ApiClient.signIn(tk.url, 'admin@wide.test');
  const owners: [string, string | null][] = [[`/accounts/${tenant.accountId}/keypairs`, null], [`/environments/${tenant.productionId}/keypairs`, tenant.productionId], [`/environments/${tenant.stagingId}/keypairs`, tenant.stagingId]];
  const names = ['billing worker', 'Alpha', 'ci deploy', 'zeta', 'échelon'];
  for (const [i, name] of names.entries()) {
    for (const [path, environmentId] of owners) {
      const res = await admin.post(path, { name: `${name} ${i}`, comment: environmentId ? `runs in ${environmentId === tenant.productionId ? 'PRODUCTION' : 'staging'} for the Ledger team` : 'account-level job', scopes: [] });
      made.set(res.body.keypair.keyId, { name: `${name} ${i}`, environmentId });
      tk.clock.advance(1000);
    }
  }
  // Another account's keypair never shows.
  await ApiClient.signIn(tk.url, 'stranger@wide.test').then((c) => c.post(`/environments/${other.productionId}/keypairs`, { name: 'Alpha elsewhere', comment: 'Ledger', scopes: [] }));
});
test.after.always(async () => {
  await tk?.close();
});

async function walk(client: ApiClient, base: string, query: string): Promise<Page[]> {
  const pages: Page[] = [];
  let url = `${base}?${query}`;
  for (;;) {
    const res = await client.get(url);
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(res.body)}`);
    pages.push(res.body as Page);
    if (!res.body.next) return pages;
    url = `${base}?${query}&cursor=${encodeURIComponent(res.body.next)}`;
  }
}

test.serial('include=environments lists every keypair of the account and its environments once, in each order, each with its environment', async (t) => {
  const base = `/accounts/${tenant.accountId}/keypairs`;
  const names = new Map([[tenant.productionId, 'production'], [tenant.stagingId, 'staging']]);
  for (const sort of ['-created', 'created', 'name', '-name']) {
    const pages = await walk(admin, base, `include=environments&sort=${sort}&limit=4`);
    const items = pages.flatMap((p) => p.items);
    t.is(items.length, made.size, sort);
    t.deepEqual(items.map((i) => i.keyId).sort(), [...made.keys()].sort(), sort);
    for (const item of items) {
      const expected = made.get(item.keyId)!;
      t.deepEqual(item.environment, expected.environmentId ? { id: expected.environmentId, name: names.get(expected.environmentId)! } : null, item.name);
    }
    t.true(pages.every((p) => p.total === made.size && p.totalIsExact));
    if (sort === 'name') t.deepEqual(items.map((i) => i.name), [...made.values()].map((m) => m.name).sort((a, b) => Buffer.compare(Buffer.from(a.toLowerCase()), Buffer.from(b.toLowerCase()))));
    // "previous" from the second page is the first page again.
    const second = await admin.get(`${base}?include=environments&sort=${sort}&limit=4&cursor=${encodeURIComponent(pages[0]!.next!)}`);
    const back = await admin.get(`${base}?include=environments&sort=${sort}&limit=4&cursor=${encodeURIComponent(second.body.previous)}`);
    t.deepEqual(back.body.items.map((i: Item) => i.keyId), pages[0]!.items.map((i) => i.keyId), sort);
  }
  // Without include, the account's own keypairs only, as before.
  const own = (await admin.get(`${base}?limit=100`)).body as Page;
  t.is(own.items.length, 5);
  t.true(own.items.every((i) => made.get(i.keyId)!.environmentId === null && !('environment' in i)));
});

test.serial('the account-wide list filters by status and searches by name prefix and key id, with the same cursor pages', async (t) => {
  const base = `/accounts/${tenant.accountId}/keypairs?include=environments`;
  const [someId] = [...made.entries()].find(([, m]) => m.environmentId === tenant.stagingId)!;
  t.is((await admin.post(`/keypairs/${someId}/disable`)).status, 200);
  const disabled = (await admin.get(`${base}&status=disabled`)).body as Page;
  t.deepEqual(disabled.items.map((i) => i.keyId), [someId]);
  t.is(disabled.items[0]!.environment!.name, 'staging');
  const alpha = (await walk(admin, `/accounts/${tenant.accountId}/keypairs`, 'include=environments&q=ALPHA&limit=2')).flatMap((p) => p.items);
  t.deepEqual(alpha.map((i) => i.name), ['Alpha 1', 'Alpha 1', 'Alpha 1']);
  const byId = (await admin.get(`${base}&q=${someId}`)).body as Page;
  t.deepEqual(byId.items.map((i) => i.keyId), [someId]);
  t.is((await admin.post(`/keypairs/${someId}/enable`)).status, 200);
});

test.serial('only callers with rights on the account itself get the account-wide list: an environment admin and a member 403, another account 404', async (t) => {
  const path = `/accounts/${tenant.accountId}/keypairs?include=environments`;
  const envAdmin = await ApiClient.signIn(tk.url, 'envadmin@wide.test');
  // The environment admin sees its own environment's keypairs...
  t.is((await envAdmin.get(`/environments/${tenant.productionId}/keypairs`)).status, 200);
  // ...but not the account-wide list, nor the account's own.
  const refused = await envAdmin.get(path);
  t.is(refused.status, 403);
  t.is(refused.body.error.code, 'forbidden');
  t.is((await envAdmin.get(`/accounts/${tenant.accountId}/keypairs`)).status, 403);
  const member = await ApiClient.signIn(tk.url, 'member@wide.test');
  t.is((await member.get(path)).status, 403);
  const stranger = await ApiClient.signIn(tk.url, 'stranger@wide.test');
  const hidden = await stranger.get(path);
  t.is(hidden.status, 404);
  t.is(hidden.body.error.code, 'not_found');
  // And the stranger's own account-wide list holds only its own keypair.
  const theirs = (await stranger.get(`/accounts/${other.accountId}/keypairs?include=environments`)).body as Page;
  t.deepEqual(theirs.items.map((i) => i.name), ['Alpha elsewhere']);
});

test.serial('include is for an account\'s list: an environment\'s list or another value is a 400', async (t) => {
  const env = await admin.get(`/environments/${tenant.productionId}/keypairs?include=environments`);
  t.is(env.status, 400);
  t.is(env.body.error.code, 'validation_failed');
  const other = await admin.get(`/accounts/${tenant.accountId}/keypairs?include=everything`);
  t.is(other.status, 400);
});

test.serial('a search also finds keypairs by a word of their comment, in any case, in an owner\'s list and the account-wide one', async (t) => {
  const prod = (await admin.get(`/environments/${tenant.productionId}/keypairs?q=production&limit=100`)).body as Page;
  t.is(prod.items.length, 5);
  t.true(prod.searchedComments);
  const ledger = (await walk(admin, `/accounts/${tenant.accountId}/keypairs`, 'include=environments&q=ledger TEAM&limit=3')).flatMap((p) => p.items);
  t.is(ledger.length, 10); // production and staging, not the account's own nor the other account's
  t.true(ledger.every((i) => i.environment !== null));
  // Taken literally: a pattern character matches only itself.
  const dot = (await admin.get(`/environments/${tenant.productionId}/keypairs?q=${encodeURIComponent('l.dger')}`)).body as Page;
  t.is(dot.items.length, 0);
  // Name prefixes still match.
  const byName = (await admin.get(`/environments/${tenant.productionId}/keypairs?q=zeta`)).body as Page;
  t.deepEqual(byName.items.map((i) => i.name), ['zeta 3']);
});

test.serial(`past ${COMMENT_SEARCH_MAX} keypairs a search looks at names and key ids only, and says so`, async (t) => {
  const env = await tk.keyport.domain.owners.createEnvironment(tenant.accountId, { name: 'large' }, 'system');
  const base = `/environments/${env.id}/keypairs`;
  const template = (await admin.post(base, { name: 'template', comment: 'needle in the comment', scopes: [] })).body.keypair.keyId as string;
  const small = (await admin.get(`${base}?q=needle`)).body as Page;
  t.deepEqual(small.items.map((i) => i.keyId), [template]);
  t.true(small.searchedComments);
  const model = tk.keyport.database.models.Keypair;
  const doc = await model.findById(template).lean<KeypairRecord>();
  // Written straight into the collection: a thousand creations through the API would only slow the test.
  const copies = Array.from({ length: COMMENT_SEARCH_MAX }, (_, i) => {
    const copy = { ...doc!, _id: `kp_wide${String(i).padStart(17, '0')}`, name: `copy ${i}`, comment: 'plain' };
    return { ...copy, ...listKeys(copy) };
  });
  await model.collection.insertMany(copies as never[]);
  const large = (await admin.get(`${base}?q=needle`)).body as Page;
  t.deepEqual(large.items, []);
  t.false(large.searchedComments);
  const named = (await admin.get(`${base}?q=template`)).body as Page;
  t.deepEqual(named.items.map((i) => i.keyId), [template]);
  t.false(named.searchedComments);
  await model.collection.deleteMany({ _id: { $in: copies.map((c) => c._id) as never[] } });
});
