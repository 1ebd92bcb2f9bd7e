// Keyset pages of the keypair list through the admin API (issue 16 §1): ?sort=,
// ?cursor= with "next" and "previous", totals counted up to a cap, and clear
// 400s for a cursor that is not one the list returned.
import test from 'ava';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { TOTAL_CAP } from '../src/domain/keypair-pages.ts';
import { listKeys } from '../src/db/keypair-list.ts';
import type { KeypairRecord } from '../src/db/contract.ts';

let tk: TestKeyport;
let tenant: Awaited<ReturnType<typeof createTenant>>;
let admin: ApiClient;

test.before(async () => {
  tk = await startTestKeyport();
  tenant = await createTenant(tk.keyport);
  await createUser(tk.keyport, 'admin@pages.test', [[accountOwner(tenant.accountId), 'admin']]);
  admin = await ApiClient.signIn(tk.url, 'admin@pages.test');
});
test.after.always(async () => {
  await tk?.close();
});

type Page = { items: { keyId: string; name: string }[]; next: string | null; previous: string | null; total: number; totalIsExact: boolean; sort: string };

/** Follows "next" from the first page; returns every page. */
async function walk(base: string, query: string): Promise<Page[]> {
  const pages: Page[] = [];
  let url = `${base}?${query}`;
  for (;;) {
    const res = await admin.get(url);
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(res.body)}`);
    pages.push(res.body as Page);
    if (!res.body.next) return pages;
    url = `${base}?${query}&cursor=${encodeURIComponent(res.body.next)}`;
  }
}

// The last two are as long as a name may be, in characters of 4 and (lowercased) 3 bytes: their cursors are the longest.
const NAMES = ['delta', 'Alpha', 'charlie', 'échelon', 'bravo', 'ALPHA two', 'Zulu', '"quoted"', 'alpha', '😀'.repeat(50), 'İ'.repeat(100)];

async function environmentWithKeypairs(name: string): Promise<{ base: string; created: { keyId: string; name: string }[] }> {
  const env = await tk.keyport.domain.owners.createEnvironment(tenant.accountId, { name }, 'system');
  const base = `/environments/${env.id}/keypairs`;
  const created: { keyId: string; name: string }[] = [];
  for (const keyName of NAMES) {
    const res = await admin.post(base, { name: keyName, scopes: ['orders:read'] });
    created.push({ keyId: res.body.keypair.keyId, name: keyName });
    tk.clock.advance(1000);
  }
  return { base, created };
}

const byName = (a: { name: string; keyId: string }, b: { name: string; keyId: string }) => {
  const [x, y] = [Buffer.from(a.name.toLowerCase()), Buffer.from(b.name.toLowerCase())];
  return Buffer.compare(x, y) || (a.keyId < b.keyId ? -1 : 1);
};

test('following "next" walks every keypair once, in each order, and "previous" goes back a page', async (t) => {
  const { base, created } = await environmentWithKeypairs('walk');
  const expected: Record<string, string[]> = {
    '-created': created.map((k) => k.keyId).reverse(),
    'created': created.map((k) => k.keyId),
    'name': [...created].sort(byName).map((k) => k.keyId),
    '-name': [...created].sort(byName).reverse().map((k) => k.keyId),
  };
  for (const [sort, ids] of Object.entries(expected)) {
    const pages = await walk(base, `limit=2&sort=${sort}`);
    t.deepEqual(pages.flatMap((p) => p.items.map((k) => k.keyId)), ids, sort);
    t.is(pages.length, Math.ceil(ids.length / 2));
    t.true(pages.every((p) => p.sort === sort && p.total === NAMES.length && p.totalIsExact));
    t.is(pages[0]!.previous, null, 'the first page has no previous');
    t.is(pages.at(-1)!.next, null, 'the last page has no next');
    // Back from the last page, one page at a time, to the first.
    let page = pages.at(-1)!;
    for (let i = pages.length - 2; i >= 0; i--) {
      page = (await admin.get(`${base}?limit=2&cursor=${encodeURIComponent(page.previous!)}`)).body as Page;
      t.deepEqual(page.items.map((k) => k.keyId), pages[i]!.items.map((k) => k.keyId), `${sort}: back to page ${i}`);
    }
    t.is(page.previous, null);
  }
  // Without ?sort=, a cursor keeps the order it was made in.
  const first = (await admin.get(`${base}?limit=3&sort=name`)).body as Page;
  const second = (await admin.get(`${base}?limit=3&cursor=${encodeURIComponent(first.next!)}`)).body as Page;
  t.is(second.sort, 'name');
  t.deepEqual(second.items.map((k) => k.keyId), expected.name!.slice(3, 6));
});

test('a cursor keeps the filters: status and name search page by cursor too; a search defaults to name order', async (t) => {
  const { base, created } = await environmentWithKeypairs('filtered');
  const alphas = created.filter((k) => k.name.toLowerCase().startsWith('alpha')).sort(byName).map((k) => k.keyId);
  const pages = await walk(base, 'limit=1&q=alpha');
  t.deepEqual(pages.flatMap((p) => p.items.map((k) => k.keyId)), alphas);
  t.is(pages[0]!.sort, 'name');
  t.is(pages[0]!.total, alphas.length);
  await admin.post(`/keypairs/${created[0]!.keyId}/disable`);
  await admin.post(`/keypairs/${created[4]!.keyId}/disable`);
  const disabled = await walk(base, 'limit=1&status=disabled');
  t.deepEqual(disabled.flatMap((p) => p.items.map((k) => k.keyId)), [created[4]!.keyId, created[0]!.keyId]);
  const enabled = await walk(base, 'limit=4&status=enabled&sort=created');
  t.deepEqual(enabled.flatMap((p) => p.items.map((k) => k.keyId)), created.filter((_, i) => i !== 0 && i !== 4).map((k) => k.keyId));
  // An exact key id finds that keypair (and a prefix of one finds nothing).
  const byId = (await admin.get(`${base}?q=${created[2]!.keyId}`)).body as Page;
  t.deepEqual(byId.items.map((k) => k.keyId), [created[2]!.keyId]);
  t.is((await admin.get(`${base}?q=${created[2]!.keyId.slice(0, 12)}`)).body.items.length, 0);
  // An offset page still works, and hands over to cursors.
  const offset = (await admin.get(`${base}?limit=2&offset=2&sort=created`)).body as Page;
  t.deepEqual(offset.items.map((k) => k.keyId), created.slice(2, 4).map((k) => k.keyId));
  const afterOffset = (await admin.get(`${base}?limit=2&cursor=${encodeURIComponent(offset.next!)}`)).body as Page;
  t.deepEqual(afterOffset.items.map((k) => k.keyId), created.slice(4, 6).map((k) => k.keyId));
  const beforeOffset = (await admin.get(`${base}?limit=2&cursor=${encodeURIComponent(offset.previous!)}`)).body as Page;
  t.deepEqual(beforeOffset.items.map((k) => k.keyId), created.slice(0, 2).map((k) => k.keyId));
});

test('a cursor that the list did not return is a 400 that says so, and changes nothing', async (t) => {
  const { base } = await environmentWithKeypairs('tampered');
  const first = (await admin.get(`${base}?limit=2&sort=name`)).body as Page;
  const decoded = JSON.parse(Buffer.from(first.next!, 'base64url').toString());
  const forged = (body: unknown) => Buffer.from(JSON.stringify(body)).toString('base64url');
  const bad = {
    'not base64url': '!!!',
    'not JSON': Buffer.from('{nope').toString('base64url'),
    'unknown version': forged({ ...decoded, v: 2 }),
    'unknown sort': forged({ ...decoded, s: 'comment' }),
    'key of another shape': forged({ ...decoded, a: 'x" OR 1=1' }),
    'both directions': forged({ ...decoded, b: decoded.a }),
    'a number': forged(42),
  };
  for (const [what, cursor] of Object.entries(bad)) {
    const res = await admin.get(`${base}?limit=2&cursor=${encodeURIComponent(cursor)}`);
    t.is(res.status, 400, what);
    t.is(res.body.error.code, 'validation_failed', what);
    t.regex(res.body.error.message, /cursor/, what);
  }
  const otherSort = await admin.get(`${base}?limit=2&sort=-created&cursor=${encodeURIComponent(first.next!)}`);
  t.is(otherSort.status, 400);
  t.regex(otherSort.body.error.message, /sort order "name"/);
  const withOffset = await admin.get(`${base}?limit=2&offset=2&cursor=${encodeURIComponent(first.next!)}`);
  t.is(withOffset.status, 400);
  const badSort = await admin.get(`${base}?sort=comment`);
  t.is(badSort.status, 400);
  t.is(badSort.body.error.code, 'validation_failed');
});

test(`totals are counted up to ${TOTAL_CAP}: past that, "totalIsExact" is false`, async (t) => {
  const env = await tk.keyport.domain.owners.createEnvironment(tenant.accountId, { name: 'large' }, 'system');
  const base = `/environments/${env.id}/keypairs`;
  const template = (await admin.post(base, { name: 'template', scopes: ['orders:read'] })).body.keypair.keyId as string;
  const model = tk.keyport.database.models.Keypair;
  const doc = await model.findById(template).lean<KeypairRecord>();
  // Written straight into the collection: a thousand creations through the API would only slow the test.
  const copies = Array.from({ length: TOTAL_CAP }, (_, i) => {
    const _id = `kp_copy${String(i).padStart(17, '0')}`;
    const copy = { ...doc!, _id, name: `copy ${i}` };
    return { ...copy, ...listKeys(copy) };
  });
  await model.collection.insertMany(copies as never[]);
  const page = (await admin.get(`${base}?limit=5`)).body as Page;
  t.is(page.total, TOTAL_CAP);
  t.false(page.totalIsExact);
  t.is(page.items.length, 5);
  const exact = (await admin.get(`${base}?limit=5&q=copy 99`)).body as Page;
  t.is(exact.total, 11); // copy 99, copy 990 … copy 999
  t.true(exact.totalIsExact);
});
