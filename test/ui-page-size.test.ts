// The keypair list's page size (web UI): 20 rows by default, 50 or 100 on
// request, kept across pages, filters and searches; any other size is the default.
import anyTest, { type TestFn } from 'ava';
import { accountOwner, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { UiClient } from './helpers/ui.ts';

const test = anyTest as TestFn<{ kp: TestKeyport; ui: UiClient; accountId: string }>;

test.before(async (t) => {
  const kp = await startTestKeyport();
  const tenant = await createTenant(kp.keyport);
  await createUser(kp.keyport, 'admin@size.test', [[accountOwner(tenant.accountId), 'admin']]);
  for (let i = 0; i < 55; i++) await kp.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: `worker ${String(i).padStart(2, '0')}`, scopes: ['orders:read'] }, 'system');
  t.context = { kp, ui: await UiClient.signIn(kp.url, 'admin@size.test'), accountId: tenant.accountId };
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

const rows = (html: string) => (html.match(/<tr data-key-id="/g) ?? []).length;

test('20 rows by default; 50 and 100 on request, and the choice stays in the page links', async (t) => {
  const { ui, accountId } = t.context;
  const list = `/ui/accounts/${accountId}/keypairs`;
  const first = await ui.get(list);
  t.is(rows(first.html), 20);
  t.regex(first.html, /Page 1 of 3/);
  t.regex(first.html, /<option value="50">50<\/option>/);

  const fifty = await ui.get(`${list}?size=50`);
  t.is(rows(fifty.html), 50);
  t.regex(fifty.html, /Page 1 of 2/);
  t.regex(fifty.html, /<option value="50" selected>/);
  t.true(fifty.html.includes(`href="${list}?page=2&amp;size=50&amp;cursor=`), 'the next page keeps the size');
  t.is(rows((await ui.get(`${list}?page=2&size=50`)).html), 5);

  t.is(rows((await ui.get(`${list}?size=100`)).html), 55);
});

test('a size that is not offered is the default, and the search and filter survive a change of size', async (t) => {
  const { ui, accountId } = t.context;
  const list = `/ui/accounts/${accountId}/keypairs`;
  t.is(rows((await ui.get(`${list}?size=100000`)).html), 20);
  t.is(rows((await ui.get(`${list}?size=-5`)).html), 20);
  const searched = await ui.get(`${list}?q=worker%205&status=enabled&size=50`);
  t.is(rows(searched.html), 5, 'worker 50–54');
  t.regex(searched.html, /<input type="hidden" name="q" value="worker 5">/);
  t.regex(searched.html, /<input type="hidden" name="status" value="enabled">/);
});
