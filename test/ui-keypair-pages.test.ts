// The keypair list of the web UI over a long list (issues 15 and 16): Next and
// Previous carry a cursor (keeping the search, the filter, the order and the
// size), the Name and Created headers sort, and the filter tabs show counts.
import anyTest, { type TestFn } from 'ava';
import { accountOwner, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { UiClient } from './helpers/ui.ts';
import { listKeys } from '../src/db/keypair-list.ts';
import { TOTAL_CAP } from '../src/domain/keypair-pages.ts';
import type { KeypairRecord } from '../src/db/contract.ts';

const test = anyTest as TestFn<{ kp: TestKeyport; ui: UiClient; accountId: string; names: string[] }>;

const NAMES = Array.from({ length: 25 }, (_, i) => `${i % 2 ? 'Worker' : 'batch'} ${String(i).padStart(2, '0')}`);

test.before(async (t) => {
  const kp = await startTestKeyport();
  const tenant = await createTenant(kp.keyport);
  await createUser(kp.keyport, 'admin@pages.test', [[accountOwner(tenant.accountId), 'admin']]);
  for (const [i, name] of NAMES.entries()) {
    const created = await kp.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name, scopes: ['orders:read'] }, 'system');
    if (i % 5 === 0) await kp.keyport.domain.keypairs.setEnabled(created.keypair.keyId, false, 'system');
    kp.clock.advance(1000);
  }
  t.context = { kp, ui: await UiClient.signIn(kp.url, 'admin@pages.test'), accountId: tenant.accountId, names: NAMES };
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

const names = (html: string) => [...html.matchAll(/<td data-label="Name" class="name"[^>]*><a class="strong" href="[^"]*">([^<]*)<\/a>/g)].map((m) => m[1]!);
const link = (html: string, rel: 'next' | 'prev') => {
  const found = html.match(new RegExp(`<a class="btn btn-small" href="([^"]*)" rel="${rel}">`));
  return found ? found[1]!.replaceAll('&amp;', '&') : null;
};

test('Next and Previous carry a cursor and keep the order, the filter and the size', async (t) => {
  const { ui, accountId } = t.context;
  const list = `/ui/accounts/${accountId}/keypairs`;
  const first = await ui.get(`${list}?sort=name&size=20`);
  t.is(first.status, 200);
  const sorted = [...NAMES].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
  t.deepEqual(names(first.html), sorted.slice(0, 20));
  t.regex(first.html, /Page 1 of 2/);
  const next = link(first.html, 'next')!;
  t.regex(next, /^\/ui\/accounts\/acc_\w+\/keypairs\?sort=name&page=2&cursor=[A-Za-z0-9_-]+$/);
  const second = await ui.get(next);
  t.deepEqual(names(second.html), sorted.slice(20));
  t.regex(second.html, /Page 2 of 2/);
  t.is(link(second.html, 'next'), null);
  const back = await ui.get(link(second.html, 'prev')!);
  t.deepEqual(names(back.html), sorted.slice(0, 20));
  t.is(link(back.html, 'prev'), null, 'back on the first page');

  // With a filter and a size: both stay in the links.
  const enabled = await ui.get(`${list}?status=enabled&size=50&sort=-created`);
  t.is(names(enabled.html).length, 20);
  t.is(link(enabled.html, 'next'), null);
  const all = await ui.get(`${list}?sort=-created`);
  t.regex(link(all.html, 'next')!, /\?sort=-created&page=2&cursor=/);
});

test('the Name and Created headers sort the list, a second click turns the order round', async (t) => {
  const { ui, accountId } = t.context;
  const list = `/ui/accounts/${accountId}/keypairs`;
  const plain = await ui.get(list);
  // Newest first by default: Created is the sorted column.
  t.deepEqual(names(plain.html), [...NAMES].reverse().slice(0, 20));
  t.regex(plain.html, /<th scope="col" class="col-created" aria-sort="descending"><a class="sort" href="[^"]*\?sort=created">/);
  t.regex(plain.html, /<th scope="col" aria-sort="none"><a class="sort" href="[^"]*\?sort=name">Name/);
  const byName = await ui.get(`${list}?sort=name`);
  t.regex(byName.html, /aria-sort="ascending"><a class="sort" href="[^"]*\?sort=-name">Name/);
  const reversed = await ui.get(`${list}?sort=-name`);
  t.deepEqual(names(reversed.html), [...NAMES].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? 1 : -1)).slice(0, 20));
  const oldest = await ui.get(`${list}?sort=created`);
  t.deepEqual(names(oldest.html), NAMES.slice(0, 20));
  // The search form keeps the order.
  t.regex(byName.html, /<input type="hidden" name="sort" value="name">/);
});

test('the filter tabs show how many keypairs each holds, also for a search', async (t) => {
  const { ui, accountId } = t.context;
  const list = `/ui/accounts/${accountId}/keypairs`;
  const page = await ui.get(list);
  const count = (html: string, label: string) => html.match(new RegExp(`>${label} <span class="count">([^<]*)</span>`))?.[1];
  t.is(count(page.html, 'All'), '25');
  t.is(count(page.html, 'Disabled'), '5');
  t.is(count(page.html, 'Enabled'), '20');
  t.is(count(page.html, 'Locked'), '0');
  const searched = await ui.get(`${list}?q=worker`);
  t.is(count(searched.html, 'All'), '12');
  t.is(count(searched.html, 'Disabled'), String(NAMES.filter((n, i) => n.startsWith('Worker') && i % 5 === 0).length));
});

test('a page link with a cursor that the list did not make is a 400 page, not an error', async (t) => {
  const { ui, accountId } = t.context;
  const res = await ui.get(`/ui/accounts/${accountId}/keypairs?cursor=bm90LWEtY3Vyc29y`);
  t.is(res.status, 400);
  t.regex(res.html, /This page link is not valid/);
  t.regex(res.html, /Back to the first page/);
});

test(`past ${TOTAL_CAP} keypairs the list and the All tab say "more than", and the status tabs are not counted`, async (t) => {
  const { kp, ui } = t.context;
  const account = await kp.keyport.domain.owners.createAccount({ name: 'Large' }, 'system');
  await kp.keyport.domain.users.grant((await kp.keyport.domain.users.findByEmail('admin@pages.test'))!.id, accountOwner(account.id), 'admin', 'system');
  const template = await kp.keyport.domain.keypairs.create({ accountId: account.id }, { name: 'template', scopes: [] }, 'system');
  const model = kp.keyport.database.models.Keypair;
  const doc = await model.findById(template.keypair.keyId).lean<KeypairRecord>();
  // Written straight into the collection: a thousand creations would only slow the test.
  await model.collection.insertMany(Array.from({ length: TOTAL_CAP }, (_, i) => {
    const copy = { ...doc!, _id: `kp_copy${String(i).padStart(17, '0')}`, name: `copy ${i}` };
    return { ...copy, ...listKeys(copy) };
  }) as never[]);
  const page = await ui.get(`/ui/accounts/${account.id}/keypairs`);
  t.is(page.status, 200);
  t.regex(page.html, new RegExp(`more than ${TOTAL_CAP} keypairs`));
  t.regex(page.html, new RegExp(`>All <span class="count">${TOTAL_CAP}\\+</span>`));
  // A status of so large a list is not counted (a rare one would read every keypair of the account).
  t.true(page.html.includes('>Locked</a>'));
  t.regex(page.html, /Page 1<\/span>/, 'no "of N" when the total is not known');
  t.truthy(link(page.html, 'next'));
  const enabled = await ui.get(`/ui/accounts/${account.id}/keypairs?status=enabled&size=50`);
  const next = link(enabled.html, 'next')!;
  t.regex(next, /\?status=enabled&page=2&size=50&cursor=/);
  t.is(names((await ui.get(next)).html).length, 50);
  // The access page counts the same way.
  t.regex((await ui.get(`/ui/accounts/${account.id}/access`)).html, new RegExp(`<strong>${TOTAL_CAP}\\+</strong> keypairs`));
  t.regex((await ui.get(`/ui/accounts/${t.context.accountId}/access`)).html, /<strong>25<\/strong> keypairs/);
});
