// The web UI without JavaScript for replacing a keypair (confirmed by typing its
// name, like removal; the new key id and secret shown once) and for expiry (the
// date field, the badge, the "Expiring soon" filter, the account's maximum lifetime).
import anyTest, { type TestFn } from 'ava';
import { accountOwner, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken, tokenRequest } from './helpers/oauth.ts';
import { textOf, UiClient } from './helpers/ui.ts';

type Tenant = Awaited<ReturnType<typeof createTenant>>;
const test = anyTest as TestFn<{ tk: TestKeyport; tenant: Tenant }>;
const DAY = 86_400_000;

test.before(async (t) => {
  const tk = await startTestKeyport();
  const tenant = await createTenant(tk.keyport);
  await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(tk.keyport, 'env-admin@acme.test', [[environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  t.context = { tk, tenant };
});
test.after.always(async (t) => {
  await t.context.tk?.close();
});

test.serial('replace: needs the typed name, then shows the new key id and secret once; the old key id stops', async (t) => {
  const { tk, tenant } = t.context;
  const old = await tk.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'orders sync', comment: 'nightly', scopes: ['orders:read'] }, 'system');
  const keyId = old.keypair.keyId;
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const keypairPage = await ui.get(`/ui/keypairs/${keyId}`);
  t.true(keypairPage.html.includes(`href="/ui/keypairs/${keyId}/replace"`), 'offered on the keypair page');
  t.true((await ui.get(`/ui/environments/${tenant.productionId}/keypairs`)).html.includes(`href="/ui/keypairs/${keyId}/replace"`), 'and in the list\'s row menu');

  const wrong = await ui.submit(`/ui/keypairs/${keyId}/replace`, `/ui/keypairs/${keyId}/replace`, { confirmName: 'orders' });
  t.is(wrong.status, 400);
  t.regex(wrong.html, /Type the keypair&#39;s name, orders sync, exactly to confirm/);
  await getToken(tk.url, { keyId, secret: old.secret });

  const form = await ui.get(`/ui/keypairs/${keyId}/replace`);
  const once = /name="once" value="([^"]+)"/.exec(form.html)![1]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.html)![1]!;
  const replaced = await ui.post(`/ui/keypairs/${keyId}/replace`, { _csrf: csrf, once, confirmName: 'orders sync' });
  t.is(replaced.status, 200);
  t.is(replaced.headers.get('cache-control'), 'no-store');
  t.regex(replaced.html, /Keypair replaced/);
  const newKeyId = textOf(replaced.html, 'key-id')!;
  const secret = textOf(replaced.html, 'secret')!;
  t.not(newKeyId, keyId);
  t.true(replaced.html.includes(`the old keypair <code>${keyId}</code> has been removed`));
  t.is((await tokenRequest(tk.url, { keyId, secret: old.secret })).status, 401, 'the old key id stops at once');
  await getToken(tk.url, { keyId: newKeyId, secret });
  t.like(await tk.keyport.domain.keypairs.get(newKeyId), { name: 'orders sync', comment: 'nightly', scopes: ['orders:read'] });

  const trail = await ui.get(`/ui/keypairs/${keyId}/audit`);
  t.is(trail.status, 200, 'the old keypair\'s trail stays readable');
  t.regex(trail.html, new RegExp(`admin@acme\\.test replaced <a[^>]*>orders sync</a> <span[^>]*>\\(<code>${keyId}</code>\\)</span> with <a href="/ui/keypairs/${newKeyId}/audit"[^>]*>${newKeyId}</a>[^;]*; the old key id stopped working`));

  const again = await ui.post(`/ui/keypairs/${keyId}/replace`, { _csrf: csrf, once, confirmName: 'orders sync' });
  t.is(again.status, 404, 'a resubmitted form: the old keypair is gone, no second secret');
});

test.serial('expiry: set on the new-keypair form, shown with a badge, listed under "Expiring soon"; an expired keypair is marked and can still be renamed', async (t) => {
  const { tk, tenant } = t.context;
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const forever = await tk.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'forever' }, 'system');
  const day = new Date(tk.clock.now().getTime() + 5 * DAY).toISOString().slice(0, 10);
  const created = await ui.submit(`/ui/accounts/${tenant.accountId}/keypairs/new`, `/ui/accounts/${tenant.accountId}/keypairs`, { name: 'short job', scopes: ['reports:read'], expiresOn: day });
  t.is(created.status, 200, created.html.slice(0, 400));
  const keyId = textOf(created.html, 'key-id')!;
  t.is((await tk.keyport.domain.keypairs.get(keyId)).expiresAt, `${day}T00:00:00.000Z`);
  const bad = await ui.submit(`/ui/accounts/${tenant.accountId}/keypairs/new`, `/ui/accounts/${tenant.accountId}/keypairs`, { name: 'past job', scopes: ['reports:read'], expiresOn: '2020-01-01' });
  t.is(bad.status, 400);
  t.regex(bad.html, /ExpiresAt must be in the future/);

  const page = await ui.get(`/ui/keypairs/${keyId}`);
  t.regex(page.html, /class="badge badge-expiring">Expires <time/);
  t.regex(page.html, new RegExp(`name="expiresOn" value="${day}"`));
  const list = await ui.get(`/ui/accounts/${tenant.accountId}/keypairs`);
  t.regex(list.html, />Expiring soon <span class="count">\d+<\/span><\/a>/, 'the filter, with its count');
  const expiring = await ui.get(`/ui/accounts/${tenant.accountId}/keypairs?status=expiring`);
  t.true(expiring.html.includes(`data-key-id="${keyId}"`));
  t.false(expiring.html.includes(`data-key-id="${forever.keypair.keyId}"`), 'not a keypair without expiry');

  const soon = await tk.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'gone soon', expiresAt: new Date(tk.clock.now().getTime() + 60_000) }, 'system');
  tk.clock.advance(120_000);
  try {
    const expiredPage = await ui.get(`/ui/keypairs/${soon.keypair.keyId}`);
    t.regex(expiredPage.html, /class="badge badge-expired"[^>]*>Expired</);
    t.regex(expiredPage.html, /expired: it gets no tokens/);
    const renamed = await ui.submit(`/ui/keypairs/${soon.keypair.keyId}`, `/ui/keypairs/${soon.keypair.keyId}/edit`, { name: 'gone', comment: '', scopes: [], expiresOn: new Date(Date.parse(soon.keypair.expiresAt!)).toISOString().slice(0, 10) });
    t.is(renamed.status, 303, 'the expiry date is left as it is when its day is unchanged');
    t.is((await tk.keyport.domain.keypairs.get(soon.keypair.keyId)).name, 'gone');
    t.true((await ui.get(`/ui/accounts/${tenant.accountId}/keypairs?status=expired`)).html.includes(`data-key-id="${soon.keypair.keyId}"`));
  } finally {
    tk.clock.advance(-120_000);
  }
});

test.serial('the account\'s maximum keypair lifetime: a form for account admins only; the new-keypair form says what it means', async (t) => {
  const { tk, tenant } = t.context;
  const envAdmin = await UiClient.signIn(tk.url, 'env-admin@acme.test');
  const envAccountPage = await envAdmin.get(`/ui/accounts/${tenant.accountId}`);
  t.false(envAccountPage.html.includes('keypair-lifetime'), 'no form for an environment admin');
  const csrf = /name="_csrf" value="([^"]+)"/.exec((await envAdmin.get(`/ui/environments/${tenant.productionId}`)).html)![1]!;
  const refused = await envAdmin.post(`/ui/accounts/${tenant.accountId}/keypair-lifetime`, { _csrf: csrf, days: '30' });
  t.true([403, 404].includes(refused.status), String(refused.status));
  t.is((await tk.keyport.domain.owners.getAccount(tenant.accountId)).maxKeypairLifetimeDays, null);

  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const bad = await ui.submit(`/ui/accounts/${tenant.accountId}`, `/ui/accounts/${tenant.accountId}/keypair-lifetime`, { days: '0' });
  t.is(bad.status, 400);
  const saved = await ui.submit(`/ui/accounts/${tenant.accountId}`, `/ui/accounts/${tenant.accountId}/keypair-lifetime`, { days: '30' });
  t.is(saved.status, 303);
  t.is((await tk.keyport.domain.owners.getAccount(tenant.accountId)).maxKeypairLifetimeDays, 30);
  t.regex((await ui.get(`/ui/accounts/${tenant.accountId}`)).html, /name="days"[^>]*value="30"/);
  t.regex((await ui.get(`/ui/environments/${tenant.productionId}/keypairs/new`)).html, /empty: in 30 days, this account&#39;s maximum/);
  const cleared = await ui.submit(`/ui/accounts/${tenant.accountId}`, `/ui/accounts/${tenant.accountId}/keypair-lifetime`, { days: '' });
  t.is(cleared.status, 303);
  t.is((await tk.keyport.domain.owners.getAccount(tenant.accountId)).maxKeypairLifetimeDays, null);
});
