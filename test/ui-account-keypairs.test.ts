// The account-wide keypair list of the web UI (issue 15, "Finding keypairs"):
// "All environments" on an account's API management, with an Environment
// column, the same sorting, paging, search and filter tabs; for those with rights
// on the account itself. Also: the search looks into comments (small lists),
// and the close page counts an account's keypairs with the capped count.
import anyTest, { type TestFn } from 'ava';
import { accountOwner, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { UiClient } from './helpers/ui.ts';
import { listKeys } from '../src/db/keypair-list.ts';
import { COMMENT_SEARCH_MAX, TOTAL_CAP } from '../src/domain/keypair-pages.ts';
import type { KeypairRecord } from '../src/db/contract.ts';

const test = anyTest as TestFn<{ kp: TestKeyport; ui: UiClient; tenant: Awaited<ReturnType<typeof createTenant>>; other: Awaited<ReturnType<typeof createTenant>> }>;

test.before(async (t) => {
  const kp = await startTestKeyport();
  const tenant = await createTenant(kp.keyport);
  const other = await createTenant(kp.keyport, 'Other');
  await createUser(kp.keyport, 'admin@wide.test', [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(kp.keyport, 'envadmin@wide.test', [[environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  await createUser(kp.keyport, 'stranger@wide.test', [[accountOwner(other.accountId), 'admin']]);
  const { keypairs } = kp.keyport.domain;
  // 8 keypairs: 2 of the account's own, 3 in production, 3 in staging.
  const owners = [{ accountId: tenant.accountId }, { environmentId: tenant.productionId }, { environmentId: tenant.stagingId }];
  for (let i = 0; i < 8; i++) {
    const owner = i < 2 ? owners[0]! : i < 5 ? owners[1]! : owners[2]!;
    const created = await keypairs.create(owner, { name: `job ${i}`, comment: i === 6 ? 'Nightly LEDGER export' : '', scopes: [] }, 'system');
    if (i === 4) await keypairs.setEnabled(created.keypair.keyId, false, 'system');
    kp.clock.advance(1000);
  }
  await keypairs.create({ accountId: other.accountId }, { name: 'job elsewhere', scopes: [] }, 'system');
  t.context = { kp, ui: await UiClient.signIn(kp.url, 'admin@wide.test'), tenant, other };
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

const names = (html: string) => [...html.matchAll(/<td data-label="Name" class="name"[^>]*><a class="strong" href="[^"]*">([^<]*)<\/a>/g)].map((m) => m[1]!);
const environments = (html: string) => [...html.matchAll(/<td data-label="Environment">(.*?)<\/td>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ''));
const nextLink = (html: string) => html.match(/<a class="btn btn-small" href="([^"]*)" rel="next">/)?.[1]!.replaceAll('&amp;', '&') ?? null;

test.serial('"All environments" lists every keypair of the account with its environment, sorted and paged, without bulk actions', async (t) => {
  const { ui, tenant } = t.context;
  const own = await ui.get(`/ui/accounts/${tenant.accountId}/keypairs`);
  t.deepEqual(names(own.html), ['job 1', 'job 0']);
  t.regex(own.html, new RegExp(`href="/ui/accounts/${tenant.accountId}/keypairs\\?include=environments">All environments</a>`));
  t.false(own.html.includes('data-label="Environment"'));

  const first = await ui.get(`/ui/accounts/${tenant.accountId}/keypairs?include=environments&sort=name&size=20`);
  t.is(first.status, 200);
  t.deepEqual(names(first.html), ['job 0', 'job 1', 'job 2', 'job 3', 'job 4', 'job 5', 'job 6', 'job 7']);
  t.deepEqual(environments(first.html), ["the account's own", "the account's own", 'production', 'production', 'production', 'staging', 'staging', 'staging']);
  t.regex(first.html, new RegExp(`<a href="/ui/environments/${tenant.productionId}/keypairs">production</a>`));
  t.regex(first.html, /<th scope="col">Environment<\/th>/);
  t.regex(first.html, /8 keypairs/);
  t.regex(first.html, /aria-current="page">All environments</);
  // Filter tabs are counted across the account, and keep the view.
  t.regex(first.html, /href="\/ui\/accounts\/acc_\w+\/keypairs\?include=environments&amp;status=disabled&amp;sort=name">Disabled <span class="count">1<\/span>/);
  // No bulk form and no "New keypair" here: both belong to one owner's list.
  t.false(first.html.includes('id="bulk"'));
  t.false(first.html.includes('name="keyId"'));
  t.false(first.html.includes('/keypairs/new'));
  t.regex(first.html, /bulk actions belong to one owner/);

  // Paging by cursor keeps the view: 25 keypairs make two pages of 20.
  t.is(nextLink(first.html), null);
  for (let i = 8; i < 25; i++) await t.context.kp.keyport.domain.keypairs.create({ environmentId: tenant.stagingId }, { name: `job ${i}`, scopes: [] }, 'system');
  const long = await ui.get(`/ui/accounts/${tenant.accountId}/keypairs?include=environments&sort=name`);
  const next = nextLink(long.html);
  t.regex(next!, /^\/ui\/accounts\/acc_\w+\/keypairs\?include=environments&sort=name&page=2&cursor=/);
  const second = await ui.get(next!);
  t.is(names(long.html).length, 20);
  t.deepEqual([...names(long.html), ...names(second.html)].sort(), Array.from({ length: 25 }, (_, i) => `job ${i}`).sort());
  t.false(second.html.includes('job elsewhere') || long.html.includes('job elsewhere'));
});

test.serial('the search finds a word of a comment, in any case, in the account-wide list and in an environment\'s', async (t) => {
  const { ui, tenant } = t.context;
  const wide = await ui.get(`/ui/accounts/${tenant.accountId}/keypairs?include=environments&q=ledger`);
  t.deepEqual(names(wide.html), ['job 6']);
  t.regex(wide.html, /placeholder="Name, key id or comment"/);
  t.regex(wide.html, /<input type="hidden" name="include" value="environments">/);
  const env = await ui.get(`/ui/environments/${tenant.stagingId}/keypairs?q=Nightly`);
  t.deepEqual(names(env.html), ['job 6']);
  t.false(env.html.includes('Comments were not searched'));
});

test.serial('an environment admin gets a 403 page for the account-wide list, another account\'s admin a 404', async (t) => {
  const { kp, tenant } = t.context;
  const envAdmin = await UiClient.signIn(kp.url, 'envadmin@wide.test');
  t.is((await envAdmin.get(`/ui/environments/${tenant.productionId}/keypairs`)).status, 200);
  const refused = await envAdmin.get(`/ui/accounts/${tenant.accountId}/keypairs?include=environments`);
  t.is(refused.status, 403);
  t.false(refused.html.includes('job 0'));
  const stranger = await UiClient.signIn(kp.url, 'stranger@wide.test');
  const hidden = await stranger.get(`/ui/accounts/${tenant.accountId}/keypairs?include=environments`);
  t.is(hidden.status, 404);
  t.false(hidden.html.includes('job 0'));
});

test.serial(`past ${COMMENT_SEARCH_MAX} keypairs the search says comments were not searched, and the close page counts "more than ${TOTAL_CAP}"`, async (t) => {
  const { ui, kp, tenant } = t.context;
  const close = await ui.get(`/ui/accounts/${tenant.accountId}/close`);
  t.regex(close.html, /removes <strong>25 keypairs<\/strong> of this account and of its 2 environments/);
  const model = kp.keyport.database.models.Keypair;
  const template = await model.findOne({ environmentId: tenant.productionId }).lean<KeypairRecord>();
  // Written straight into the collection: a thousand creations would only slow the test.
  const copies = Array.from({ length: COMMENT_SEARCH_MAX }, (_, i) => {
    const copy = { ...template!, _id: `kp_wide${String(i).padStart(17, '0')}`, name: `copy ${i}`, comment: '' };
    return { ...copy, ...listKeys(copy) };
  });
  await model.collection.insertMany(copies as never[]);
  const wide = await ui.get(`/ui/accounts/${tenant.accountId}/keypairs?include=environments&q=ledger`);
  t.deepEqual(names(wide.html), []);
  t.regex(wide.html, /Comments were not searched: comment search is available for lists of up to 1000 keypairs/);
  // Staging alone is small: its comments are still searched.
  const env = await ui.get(`/ui/environments/${tenant.stagingId}/keypairs?q=ledger`);
  t.deepEqual(names(env.html), ['job 6']);
  const large = await ui.get(`/ui/accounts/${tenant.accountId}/close`);
  t.regex(large.html, new RegExp(`removes <strong>more than ${TOTAL_CAP} keypairs</strong> of this account and of its 2 environments`));
  t.regex(large.html, new RegExp(`remove more than ${TOTAL_CAP} keypairs</button>`));
});
