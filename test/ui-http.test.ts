// The web UI without JavaScript: plain HTTP GETs and form POSTs against the real
// server, as a browser with JavaScript off would send them. Permissions, CSRF,
// the secret shown once, cookies and security headers.
import test from 'ava';
import { accountOwner, createTenant, createUser, environmentOwner, PASSWORD } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { tokenRequest } from './helpers/oauth.ts';
import { hiddenFields, textOf, UiClient } from './helpers/ui.ts';

let tk: TestKeyport;
let tenant: Awaited<ReturnType<typeof createTenant>>;
let elsewhere: Awaited<ReturnType<typeof createTenant>>;
let accountKey: { keyId: string; name: string };

test.before(async () => {
  tk = await startTestKeyport();
  tenant = await createTenant(tk.keyport);
  elsewhere = await createTenant(tk.keyport, 'Elsewhere');
  await createUser(tk.keyport, 'admin@acme.test', [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(tk.keyport, 'env-admin@acme.test', [[environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  await createUser(tk.keyport, 'member@acme.test', [[accountOwner(tenant.accountId), 'member']]);
  const issued = await tk.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'account-level billing key', scopes: ['reports:read'] }, 'system');
  accountKey = { keyId: issued.keypair.keyId, name: issued.keypair.name };
});
test.after.always(async () => {
  await tk?.close();
});

test('no-JS flow: sign in, create a keypair with a plain form POST, read its secret once, get a token', async (t) => {
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const newPage = `/ui/environments/${tenant.productionId}/keypairs/new`;
  const form = await ui.get(newPage);
  t.is(form.status, 200);
  const hidden = hiddenFields(form.html, `/ui/environments/${tenant.productionId}/keypairs`);
  t.truthy(hidden._csrf);
  t.truthy(hidden.once);
  const created = await ui.post(`/ui/environments/${tenant.productionId}/keypairs`, { ...hidden, name: 'orders sync', comment: 'nightly job', scopes: ['orders:read', 'orders:write'] });
  // The secret is in the POST response itself (no redirect), never cached.
  t.is(created.status, 200);
  t.is(created.headers.get('cache-control'), 'no-store');
  const keyId = textOf(created.html, 'key-id')!;
  const secret = textOf(created.html, 'secret')!;
  t.regex(keyId, /^kp_[0-9A-Za-z]{24}$/);
  t.regex(secret, /^kps_[0-9A-Za-z]{49}$/);
  t.regex(created.html, /will not be shown again/);

  const token = await tokenRequest(tk.url, { keyId, secret, scope: 'orders:read' });
  t.is(token.status, 200);

  // Resubmitting the same form (browser refresh) never issues a second secret.
  const again = await ui.post(`/ui/environments/${tenant.productionId}/keypairs`, { ...hidden, name: 'orders sync', scopes: ['orders:read'] });
  t.is(again.status, 409);
  const list = await tk.keyport.domain.keypairs.listPage(environmentOwner(tenant.accountId, tenant.productionId), { limit: 100 });
  t.is(list.items.filter((k) => k.name === 'orders sync').length, 1);

  // The table lists it, without the secret.
  const table = await ui.get(`/ui/environments/${tenant.productionId}/keypairs`);
  t.is(table.status, 200);
  t.true(table.html.includes(keyId));
  t.true(table.html.includes('nightly job'));
  t.false(table.html.includes(secret));

  // Disable asks first, on its own page, and says how to undo; a POST that skipped it changes nothing.
  const confirmPage = await ui.get(`/ui/keypairs/${keyId}/disable`);
  t.is(confirmPage.status, 200);
  t.regex(confirmPage.html, /Enable it again to let it get new tokens; the tokens it has now are revoked for good/);
  t.false((await ui.get(`/ui/keypairs/${keyId}`)).html.includes(`action="/ui/keypairs/${keyId}/disable"`), 'no one-click disable on the keypair page');
  const skipped = await ui.post(`/ui/keypairs/${keyId}/disable`, { _csrf: hiddenFields(confirmPage.html, `/ui/keypairs/${keyId}/disable`)._csrf! });
  t.is(skipped.status, 400);
  t.true((await tk.keyport.domain.keypairs.get(keyId)).enabled);
  // Confirmed through a plain form (POST-redirect-GET), then the token request fails.
  const disabled = await ui.submit(`/ui/keypairs/${keyId}/disable`, `/ui/keypairs/${keyId}/disable`);
  t.is(disabled.status, 303);
  t.is(disabled.location, `/ui/keypairs/${keyId}`);
  const after = await ui.get(disabled.location!);
  t.regex(after.html, /is disabled/);
  t.regex(after.html, /badge-disabled/);
  t.is((await tokenRequest(tk.url, { keyId, secret })).status, 401);

  // Edit comment and scopes.
  const edited = await ui.submit(`/ui/keypairs/${keyId}`, `/ui/keypairs/${keyId}/edit`, { name: 'orders sync', comment: 'moved to the new scheduler', scopes: ['orders:read'] });
  t.is(edited.status, 303);
  const kp = await tk.keyport.domain.keypairs.get(keyId);
  t.is(kp.comment, 'moved to the new scheduler');
  t.deepEqual(kp.scopes, ['orders:read']);

  // Rotate without ticking the confirmation: refused, nothing changes.
  const rotateForm = await ui.get(`/ui/keypairs/${keyId}/rotate`);
  const rotateHidden = hiddenFields(rotateForm.html, `/ui/keypairs/${keyId}/rotate`);
  const unconfirmed = await ui.post(`/ui/keypairs/${keyId}/rotate`, { ...rotateHidden, grace: '24h' });
  t.is(unconfirmed.status, 400);
  t.is((await tk.keyport.domain.keypairs.get(keyId)).lastRotatedAt, null);

  // Remove: the typed name must match.
  const wrongName = await ui.submit(`/ui/keypairs/${keyId}/remove`, `/ui/keypairs/${keyId}/remove`, { confirmName: 'orders' });
  t.is(wrongName.status, 400);
  const removed = await ui.submit(`/ui/keypairs/${keyId}/remove`, `/ui/keypairs/${keyId}/remove`, { confirmName: 'orders sync' });
  t.is(removed.status, 303);
  t.is(removed.location, `/ui/environments/${tenant.productionId}/keypairs`);
  t.is((await ui.get(`/ui/keypairs/${keyId}`)).status, 404);
});

test('a POST without the CSRF token, or with a wrong one, or cross-site, is rejected and changes nothing', async (t) => {
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const action = `/ui/environments/${tenant.stagingId}/keypairs`;
  const hidden = hiddenFields((await ui.get(`${action}/new`)).html, action);
  const before = (await tk.keyport.domain.keypairs.listPage(environmentOwner(tenant.accountId, tenant.stagingId), { limit: 1 })).total;

  const none = await ui.post(action, { once: hidden.once!, name: 'csrf-less' });
  t.is(none.status, 403);
  t.regex(none.html, /CSRF/);
  const wrong = await ui.post(action, { _csrf: 'x'.repeat(43), once: hidden.once!, name: 'csrf-wrong' });
  t.is(wrong.status, 403);
  const crossSite = await ui.post(action, { ...hidden, name: 'cross-site' }, { 'sec-fetch-site': 'cross-site' });
  t.is(crossSite.status, 403);
  // The same check as the REST API's: another site's Origin, or Origin: null, with the right token.
  for (const origin of ['https://evil.example', 'null']) {
    const refused = await ui.post(action, { ...hidden, name: 'cross-site' }, { origin });
    t.is(refused.status, 403, origin);
    t.regex(refused.html, /Cross-site/);
  }
  // Another session's token does not work either.
  const other = await UiClient.signIn(tk.url, 'admin@acme.test');
  const otherToken = hiddenFields((await other.get(`${action}/new`)).html, action)._csrf!;
  t.not(otherToken, hidden._csrf);
  t.is((await ui.post(action, { _csrf: otherToken, once: hidden.once!, name: 'foreign token' })).status, 403);

  const disable = await ui.post(`/ui/keypairs/${accountKey.keyId}/disable`, {});
  t.is(disable.status, 403);
  t.true((await tk.keyport.domain.keypairs.get(accountKey.keyId)).enabled);
  const signOut = await ui.post('/ui/sign-out', {});
  t.is(signOut.status, 403);

  const after = (await tk.keyport.domain.keypairs.listPage(environmentOwner(tenant.accountId, tenant.stagingId), { limit: 1 })).total;
  t.is(after, before);
  // With the token it works (the same session), from Keyport's own origin too (confirmed: no scope); and
  // with Origin: null from Keyport's own pages, as browsers send it under their no-referrer policy.
  t.is((await ui.post(action, { ...hidden, name: 'with token', anyway: 'yes' }, { origin: new URL(tk.url).origin, 'sec-fetch-site': 'same-origin' })).status, 200);
  const again = hiddenFields((await ui.get(`${action}/new`)).html, action);
  t.is((await ui.post(action, { ...again, name: 'from a no-referrer page', anyway: 'yes' }, { origin: 'null', 'sec-fetch-site': 'same-origin' })).status, 200);
});

test('sign-in: needs the form token, refuses a wrong password, and sets a Lax HttpOnly session cookie', async (t) => {
  const anonymous = new UiClient(tk.url);
  const noToken = await anonymous.post('/ui/sign-in', { email: 'admin@acme.test', password: PASSWORD });
  t.is(noToken.status, 403);
  t.is(anonymous.cookies.get('keyport.ui'), undefined);

  const wrong = await anonymous.submit('/ui/sign-in', '/ui/sign-in', { email: 'admin@acme.test', password: 'not the password' });
  t.is(wrong.status, 401);
  t.regex(wrong.html, /Wrong email or password/);
  t.false(wrong.html.includes('not the password'));

  const ok = await anonymous.submit('/ui/sign-in', '/ui/sign-in', { email: 'admin@acme.test', password: PASSWORD, next: `/ui/accounts/${tenant.accountId}` });
  t.is(ok.status, 303);
  t.is(ok.location, `/ui/accounts/${tenant.accountId}`);
  const cookie = ok.setCookies.find((c) => c.startsWith('keyport.ui='))!;
  t.truthy(cookie);
  t.regex(cookie, /httponly/i);
  t.regex(cookie, /samesite=lax/i);
  t.regex(cookie, /path=\/ui/i);
  // The database holds only a hash of the cookie's key.
  const key = cookie.split(';')[0]!.split('=')[1]!;
  t.is(await tk.keyport.database.models.AdminSession.countDocuments({ _id: key }), 0);

  // An open redirect is not possible through "next".
  const evil = await new UiClient(tk.url).submit('/ui/sign-in', '/ui/sign-in', { email: 'admin@acme.test', password: PASSWORD, next: '//evil.example/ui' });
  t.is(evil.location, '/ui/accounts');

  // Sign-out ends the session.
  const signedOut = await anonymous.submit(`/ui/accounts/${tenant.accountId}`, '/ui/sign-out');
  t.is(signedOut.status, 303);
  const again = await anonymous.get('/ui/accounts');
  t.is(again.status, 303);
  t.regex(again.location!, /^\/ui\/sign-in/);
});

test('pages carry a strict Content-Security-Policy, no-store, and load nothing from elsewhere', async (t) => {
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  for (const path of ['/ui/sign-in', '/ui/accounts', `/ui/accounts/${tenant.accountId}/keypairs`]) {
    const page = await (path === '/ui/sign-in' ? new UiClient(tk.url).get(path) : ui.get(path));
    t.is(page.status, 200, path);
    const csp = page.headers.get('content-security-policy')!;
    t.truthy(csp, path);
    t.false(csp.includes('unsafe-inline'), path);
    t.regex(csp, /script-src 'self'/);
    t.regex(csp, /style-src 'self'/);
    t.regex(csp, /frame-ancestors 'none'/);
    t.is(page.headers.get('cache-control'), 'no-store', path);
    t.is(page.headers.get('x-content-type-options'), 'nosniff');
    t.false(/<script(?![^>]*\bsrc=)[^>]*>/.test(page.html), `${path}: no inline script`);
    t.false(/\sstyle="/.test(page.html), `${path}: no inline style`);
    for (const match of page.html.matchAll(/(?:src|href)="([^"]+)"/g)) t.true(/^[/#]/.test(match[1]!), `${path}: ${match[1]} is local`);
  }
  const css = await fetch(`${tk.url}/ui/static/app.css`);
  t.is(css.status, 200);
  t.regex(css.headers.get('content-type')!, /text\/css/);
  // Browsers opening "/" land on the UI; API clients still get JSON.
  const root = await fetch(`${tk.url}/`, { redirect: 'manual', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  t.is(root.status, 302);
  t.is(root.headers.get('location'), '/ui/');
  t.is((await fetch(`${tk.url}/`)).headers.get('content-type')?.split(';')[0], 'application/json');
});

test('an environment admin sees their environment, never the account keypairs (403), and nothing of other accounts (404)', async (t) => {
  const ui = await UiClient.signIn(tk.url, 'env-admin@acme.test');
  const accounts = await ui.get('/ui/accounts');
  t.true(accounts.html.includes('Acme'));
  t.false(accounts.html.includes('Elsewhere'));

  const account = await ui.get(`/ui/accounts/${tenant.accountId}`);
  t.is(account.status, 200);
  t.false(account.html.includes(`/ui/accounts/${tenant.accountId}/access`), 'no Access management menu on the account');
  t.false(account.html.includes(`/ui/accounts/${tenant.accountId}/keypairs`));
  t.true(account.html.includes(`/ui/environments/${tenant.productionId}`));
  t.false(account.html.includes(`/ui/environments/${tenant.stagingId}`), 'another environment is not listed');

  for (const path of [`/ui/accounts/${tenant.accountId}/keypairs`, `/ui/accounts/${tenant.accountId}/access`, `/ui/accounts/${tenant.accountId}/keypairs/new`, `/ui/accounts/${tenant.accountId}/audit`, `/ui/keypairs/${accountKey.keyId}`, `/ui/keypairs/${accountKey.keyId}/rotate`]) {
    const page = await ui.get(path);
    t.is(page.status, 403, path);
    t.regex(page.html, /Not allowed/);
    t.false(page.html.includes(accountKey.name), path);
  }
  const hidden = hiddenFields((await ui.get(`/ui/environments/${tenant.productionId}/keypairs/new`)).html, `/ui/environments/${tenant.productionId}/keypairs`);
  t.is((await ui.post(`/ui/keypairs/${accountKey.keyId}/disable`, { _csrf: hidden._csrf! })).status, 403);
  t.true((await tk.keyport.domain.keypairs.get(accountKey.keyId)).enabled);

  // Their own environment: full API management.
  const own = await ui.get(`/ui/environments/${tenant.productionId}`);
  t.true(own.html.includes(`/ui/environments/${tenant.productionId}/access`));
  t.is((await ui.get(`/ui/environments/${tenant.productionId}/keypairs`)).status, 200);
  // No closing the environment (account admins only).
  t.false(own.html.includes(`/ui/environments/${tenant.productionId}/close`));
  t.is((await ui.get(`/ui/environments/${tenant.productionId}/close`)).status, 403);

  // Another environment, another account, a made-up id: the same 404.
  const notFound = await Promise.all([
    ui.get(`/ui/environments/${tenant.stagingId}/keypairs`),
    ui.get(`/ui/accounts/${elsewhere.accountId}`),
    ui.get('/ui/accounts/acc_0000000000000000'),
    ui.get('/ui/accounts/not-an-id'),
  ]);
  for (const page of notFound) t.is(page.status, 404);
  t.is(notFound[1].html, notFound[2].html);
});

test('a member sees the account but no API management', async (t) => {
  const ui = await UiClient.signIn(tk.url, 'member@acme.test');
  const account = await ui.get(`/ui/accounts/${tenant.accountId}`);
  t.is(account.status, 200);
  t.false(account.html.includes(`/ui/accounts/${tenant.accountId}/access`));
  t.regex(account.html, /Only administrators/);
  t.is((await ui.get(`/ui/accounts/${tenant.accountId}/keypairs`)).status, 403);
  t.is((await ui.get(`/ui/environments/${tenant.productionId}/keypairs`)).status, 403);
});

test('close an environment: says how many keypairs go, needs the typed name, removes them', async (t) => {
  const { domain } = tk.keyport;
  const env = await domain.owners.createEnvironment(tenant.accountId, { name: 'preview' }, 'system');
  const one = await domain.keypairs.create({ environmentId: env.id }, { name: 'a' }, 'system');
  await domain.keypairs.create({ environmentId: env.id }, { name: 'b' }, 'system');
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const page = await ui.get(`/ui/environments/${env.id}/close`);
  t.is(page.status, 200);
  t.regex(page.html, /removes <strong>2 keypairs<\/strong>/);
  t.regex(page.html, /irreversible/);
  t.is((await ui.submit(`/ui/environments/${env.id}/close`, `/ui/environments/${env.id}/close`, { confirmName: 'Preview' })).status, 400);
  const closed = await ui.submit(`/ui/environments/${env.id}/close`, `/ui/environments/${env.id}/close`, { confirmName: 'preview' });
  t.is(closed.status, 303);
  t.is((await domain.owners.getEnvironment(env.id)).status, 'closed');
  t.is((await tokenRequest(tk.url, { keyId: one.keypair.keyId, secret: one.secret })).status, 401);
  const audit = await ui.get(`/ui/environments/${env.id}/audit`);
  t.is(audit.status, 200);
  t.regex(audit.html, /admin@acme\.test closed the environment/);
  t.regex(audit.html, / removed <a href="\/ui\/keypairs\/kp_\w+\/audit"[^>]*>a<\/a>/, 'a removed keypair by its name');
});

test('the audit trail page lists changes with their actor and never a secret', async (t) => {
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const action = `/ui/accounts/${tenant.accountId}/keypairs`;
  const created = await ui.submit(`${action}/new`, action, { name: 'audited', scopes: ['reports:read'] });
  const secret = textOf(created.html, 'secret')!;
  const audit = await ui.get(`/ui/accounts/${tenant.accountId}/audit`);
  t.is(audit.status, 200);
  t.regex(audit.html, /admin@acme\.test created <a href="\/ui\/keypairs\/kp_\w+\/audit"[^>]*>audited<\/a>/);
  t.false(audit.html.includes(secret));
  const events = (await tk.keyport.domain.audit.page({ accountId: tenant.accountId }, { limit: 200 })).items;
  t.false(JSON.stringify(events).includes(secret));
});

test('the audit trail reads as sentences with emails and names, has an Environment column, filters by action, actor, keypair and dates, and exports CSV and JSON lines without secrets', async (t) => {
  const { domain } = tk.keyport;
  const other = await createTenant(tk.keyport, 'Audited');
  await createUser(tk.keyport, 'alice@audited.test', [[accountOwner(other.accountId), 'admin']]);
  const ui = await UiClient.signIn(tk.url, 'alice@audited.test');
  const action = `/ui/environments/${other.productionId}/keypairs`;
  const created = await ui.submit(`${action}/new`, action, { name: '=billing worker', scopes: ['orders:read'] });
  const keyId = textOf(created.html, 'key-id')!;
  const secrets = [textOf(created.html, 'secret')!];
  const rotated = await ui.submit(`/ui/keypairs/${keyId}/rotate`, `/ui/keypairs/${keyId}/rotate`, { grace: '24h', confirm: 'yes' });
  secrets.push(textOf(rotated.html, 'secret')!);
  const gone = await domain.keypairs.create({ environmentId: other.stagingId }, { name: 'old cron' }, 'system');
  await ui.submit(`/ui/keypairs/${gone.keypair.keyId}/remove`, `/ui/keypairs/${gone.keypair.keyId}/remove`, { confirmName: 'old cron' });
  const alice = (await domain.users.findByEmail('alice@audited.test'))!;

  const trail = await ui.get(`/ui/accounts/${other.accountId}/audit`);
  t.is(trail.status, 200);
  t.regex(trail.html, /<th scope="col">Environment<\/th>/);
  t.regex(trail.html, new RegExp(`alice@audited\\.test rotated <a href="/ui/keypairs/${keyId}/audit"[^>]*>=billing worker</a> <span class="muted">\\(<code>${keyId}</code>\\)</span>; the previous secret ends \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC`));
  t.regex(trail.html, /alice@audited\.test removed <a[^>]*>old cron<\/a>/, 'a removed keypair keeps its name');
  t.regex(trail.html, /<td data-label="Environment">staging<\/td>/);
  t.false(trail.html.includes(alice.id), 'emails, not user ids');
  t.false(/keypair\.rotated<\/code>|previousSecretExpiresAt/.test(trail.html), 'no raw event names or detail keys');

  // Filters, as query parameters.
  const rows = (html: string) => [...html.matchAll(/<tr data-action="([^"]+)"/g)].map((m) => m[1]);
  const onlyRotations = await ui.get(`/ui/accounts/${other.accountId}/audit?action=keypair.rotated`);
  t.deepEqual(rows(onlyRotations.html), ['keypair.rotated']);
  t.regex(onlyRotations.html, /<option value="keypair.rotated" selected>/);
  const byAlice = rows((await ui.get(`/ui/accounts/${other.accountId}/audit?actor=alice%40audited.test`)).html);
  t.deepEqual([...new Set(byAlice)].sort(), ['keypair.created', 'keypair.removed', 'keypair.rotated']);
  t.deepEqual(rows((await ui.get(`/ui/accounts/${other.accountId}/audit?actor=nobody%40audited.test`)).html), []);
  t.deepEqual(rows((await ui.get(`/ui/accounts/${other.accountId}/audit?keypair=${gone.keypair.keyId}`)).html), ['keypair.removed', 'keypair.created']);
  const today = tk.keyport.domain.clock.now().toISOString().slice(0, 10);
  t.true(rows((await ui.get(`/ui/accounts/${other.accountId}/audit?from=${today}&to=${today}`)).html).length >= 4);
  t.deepEqual(rows((await ui.get(`/ui/accounts/${other.accountId}/audit?from=2000-01-01&to=2000-01-02`)).html), []);
  const bad = await ui.get(`/ui/accounts/${other.accountId}/audit?action=%24ne&from=yesterday&keypair=x`);
  t.is(bad.status, 400);
  t.regex(bad.html, /Choose an action from the list/);
  t.regex(bad.html, /not a date/);

  // Exports: the same filters, attachments, never a secret.
  const csv = await ui.get(`/ui/accounts/${other.accountId}/audit.csv?keypair=${keyId}`);
  t.is(csv.status, 200);
  t.regex(csv.headers.get('content-type')!, /^text\/csv/);
  t.regex(csv.headers.get('content-disposition')!, /^attachment; filename="keyport-audit-acc_\w+-\d{4}-\d{2}-\d{2}\.csv"$/);
  const lines = csv.html.trim().split('\r\n');
  t.is(lines[0], 'at,action,actor,who,accountId,environmentId,environmentName,keypairId,keypairName,sentence,details');
  t.is(lines.length, 3, 'created and rotated');
  t.true(lines[1]!.includes(`"keypair.rotated","user:${alice.id}","alice@audited.test"`));
  t.true(lines[1]!.includes(`"'=billing worker"`), 'a formula-like name is defused');
  const jsonl = await ui.get(`/ui/accounts/${other.accountId}/audit.jsonl?action=keypair.removed`);
  t.is(jsonl.status, 200);
  t.regex(jsonl.headers.get('content-disposition')!, /^attachment; .*\.jsonl"$/);
  const records = jsonl.html.trim().split('\n').map((l) => JSON.parse(l) as { action: string; keypairName: string; who: string; environmentName: string });
  t.deepEqual(records.map((r) => [r.action, r.keypairName, r.who, r.environmentName]), [['keypair.removed', 'old cron', 'alice@audited.test', 'staging']]);
  const all = (await ui.get(`/ui/accounts/${other.accountId}/audit.jsonl`)).html + (await ui.get(`/ui/accounts/${other.accountId}/audit.csv`)).html;
  for (const secret of secrets) t.false(all.includes(secret));
  t.is((await ui.get(`/ui/accounts/${other.accountId}/audit.csv?from=nope`)).status, 400);
  // Only for those who may read the trail.
  t.is((await (await UiClient.signIn(tk.url, 'admin@acme.test')).get(`/ui/accounts/${other.accountId}/audit.csv`)).status, 404);
});

test('a keypair has its own audit trail page, linked from the keypair; an environment admin cannot open an account keypair\'s', async (t) => {
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  await tk.keyport.domain.keypairs.setEnabled(accountKey.keyId, false, 'system');
  await tk.keyport.domain.keypairs.setEnabled(accountKey.keyId, true, 'system');
  const keypairPage = await ui.get(`/ui/keypairs/${accountKey.keyId}`);
  t.true(keypairPage.html.includes(`href="/ui/keypairs/${accountKey.keyId}/audit"`));
  const audit = await ui.get(`/ui/keypairs/${accountKey.keyId}/audit`);
  t.is(audit.status, 200);
  for (const verb of ['created', 'disabled', 'enabled']) t.regex(audit.html, new RegExp(`Keyport ${verb} <a[^>]*>${accountKey.name}</a>`));
  t.regex(audit.html, new RegExp(`keypair ${accountKey.name}`));
  t.false(/was locked after/.test(audit.html), 'only this keypair\'s events');
  const other = await tk.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'someone else' }, 'system');
  t.false(audit.html.includes(other.keypair.keyId));

  const envAdmin = await UiClient.signIn(tk.url, 'env-admin@acme.test');
  t.is((await envAdmin.get(`/ui/keypairs/${accountKey.keyId}/audit`)).status, 403);
  t.is((await envAdmin.get(`/ui/keypairs/${other.keypair.keyId}/audit`)).status, 200);
});

test('a removed keypair\'s audit trail stays: linked from the owner\'s trail, readable by its admins, 404 for anyone else', async (t) => {
  const issued = await tk.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'retired job', scopes: ['orders:read'] }, 'system');
  const { keyId } = issued.keypair;
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const removed = await ui.submit(`/ui/keypairs/${keyId}/remove`, `/ui/keypairs/${keyId}/remove`, { confirmName: 'retired job' });
  t.is(removed.status, 303);
  t.is((await ui.get(`/ui/keypairs/${keyId}`)).status, 404, 'the keypair page is gone');

  const ownerTrail = await ui.get(`/ui/environments/${tenant.productionId}/audit`);
  t.true(ownerTrail.html.includes(`href="/ui/keypairs/${keyId}/audit"`), 'the owner\'s trail links to the keypair\'s');
  const trail = await ui.get(`/ui/keypairs/${keyId}/audit`);
  t.is(trail.status, 200);
  t.regex(trail.html, /admin@acme\.test removed <a[^>]*>retired job<\/a>/);
  t.regex(trail.html, /Keyport created <a[^>]*>retired job<\/a>/);
  t.regex(trail.html, /retired job \(removed\)/);
  t.true(trail.html.includes(`${keyId}), which was removed`));

  t.is((await (await UiClient.signIn(tk.url, 'env-admin@acme.test')).get(`/ui/keypairs/${keyId}/audit`)).status, 200);
  t.is((await (await UiClient.signIn(tk.url, 'member@acme.test')).get(`/ui/keypairs/${keyId}/audit`)).status, 403);
  await createUser(tk.keyport, 'elsewhere-admin@acme.test', [[accountOwner(elsewhere.accountId), 'admin']]);
  const outsider = await UiClient.signIn(tk.url, 'elsewhere-admin@acme.test');
  const hidden = await outsider.get(`/ui/keypairs/${keyId}/audit`);
  const unknown = await outsider.get('/ui/keypairs/kp_AAAAAAAAAAAAAAAAAAAAAAAA/audit');
  t.is(hidden.status, 404);
  t.is(unknown.status, 404);
  t.false(hidden.html.includes('retired job'));
});

test('accounts are created by operators: members and admins see no form and get 403; an operator creates one and administers it', async (t) => {
  await createUser(tk.keyport, 'nobody-yet@acme.test');
  for (const email of ['member@acme.test', 'env-admin@acme.test', 'admin@acme.test', 'nobody-yet@acme.test']) {
    const ui = await UiClient.signIn(tk.url, email);
    const page = await ui.get('/ui/accounts');
    t.is(page.status, 200);
    t.false(page.html.includes('action="/ui/accounts"'), `${email}: no creation form`);
    t.false(page.html.includes('New account'), email);
    t.false(page.html.includes('badge-operator'), `${email}: not shown as an operator`);
    // The form's fields as an operator's page would carry them: the server refuses anyway.
    const csrf = hiddenFields(page.html, '/ui/sign-out')._csrf!;
    const refused = await ui.post('/ui/accounts', { _csrf: csrf, name: 'Sneaky' });
    t.is(refused.status, 403, email);
    t.regex(refused.html, /Only operators/);
  }
  t.regex((await (await UiClient.signIn(tk.url, 'nobody-yet@acme.test')).get('/ui/accounts')).html, /Accounts are created by the operators/);
  t.is(await tk.keyport.database.models.Account.countDocuments({ name: 'Sneaky' }), 0, 'nothing was created');

  const operatorId = await createUser(tk.keyport, 'operator@acme.test');
  await tk.keyport.domain.users.setOperator(operatorId, true, 'system');
  const operator = await UiClient.signIn(tk.url, 'operator@acme.test');
  const page = await operator.get('/ui/accounts');
  t.regex(page.html, /badge-operator/);
  const created = await operator.submit('/ui/accounts', '/ui/accounts', { name: 'Operated' });
  t.is(created.status, 303);
  t.regex(created.location!, /^\/ui\/accounts\/acc_/);
  const account = await operator.get(created.location!);
  t.regex(account.html, /Operated/);
  t.true(account.html.includes('/access'), 'the operator administers the new account');
  t.true((await operator.get('/ui/accounts')).html.includes('action="/ui/accounts"'), 'an operator may create more');
});

test('first start: bootstrap admin from the environment, or a one-time setup link', async (t) => {
  const fresh = await startTestKeyport();
  t.teardown(() => fresh.close());
  const { domain, database } = fresh.keyport;
  const { runBootstrap } = await import('../src/keyport.ts');

  // The test server started on an empty database: it issued a setup link (query string: never in the access log).
  t.regex(fresh.keyport.setupUrl!, /\/ui\/setup\?token=[A-Za-z0-9_-]{43}$/);
  const stored = await database.models.SetupToken.find({}).lean();
  t.is(stored.length, 1);
  t.false(JSON.stringify(stored).includes(new URL(fresh.keyport.setupUrl!).searchParams.get('token')!), 'only a hash is stored');

  // A restart issues a new link; the older one stops working.
  const older = fresh.keyport.setupUrl!;
  const newer = (await runBootstrap(domain, fresh.keyport.log, { issuer: fresh.url, env: {}, console: false }))!;
  t.not(newer, older);
  const ui = new UiClient(fresh.url);
  t.is((await ui.get(older.slice(fresh.url.length))).status, 403);
  const setupPath = newer.slice(fresh.url.length);
  const form = await ui.get(setupPath);
  t.is(form.status, 200);
  t.is(form.headers.get('cache-control'), 'no-store');
  t.regex(form.html, /value="Default"/);

  const fields = { email: 'first@acme.test', password: 'a long enough password', passwordAgain: 'a long enough password', accountName: 'Acme Corp' };
  t.is((await ui.post('/ui/setup', { ...hiddenFields(form.html, '/ui/setup'), ...fields, passwordAgain: 'something else entirely' })).status, 400);
  t.is((await ui.post('/ui/setup', { ...hiddenFields(form.html, '/ui/setup'), ...fields, password: 'short', passwordAgain: 'short' })).status, 400);
  const done = await ui.post('/ui/setup', { ...hiddenFields(form.html, '/ui/setup'), ...fields });
  t.is(done.status, 303);
  t.regex(done.location!, /^\/ui\/accounts\/acc_/);
  const account = await ui.get(done.location!);
  t.is(account.status, 200, 'signed in after the setup');
  t.regex(account.html, /Acme Corp/);
  t.regex(account.html, /Welcome/);
  t.true(account.html.includes('/access'), 'administers the account');
  t.true((await ui.get('/ui/accounts')).html.includes('action="/ui/accounts"'), 'the first administrator is an operator: may create accounts');
  t.true((await domain.users.findByEmail('first@acme.test'))!.operator);
  // Used: the link is dead, and no further link is issued once a user exists.
  t.is((await new UiClient(fresh.url).get(setupPath)).status, 403);
  t.is(await runBootstrap(domain, fresh.keyport.log, { issuer: fresh.url, env: {}, console: false }), null);
  t.is(await database.models.SetupToken.countDocuments({}), 0);

  // An empty database again, this time with KEYPORT_BOOTSTRAP_ADMIN_EMAIL / _PASSWORD set.
  await database.models.Membership.deleteMany({});
  await database.models.User.deleteMany({});
  const env = { KEYPORT_BOOTSTRAP_ADMIN_EMAIL: 'ops@acme.test', KEYPORT_BOOTSTRAP_ADMIN_PASSWORD: 'another long password' };
  t.is(await runBootstrap(domain, fresh.keyport.log, { issuer: fresh.url, env, console: false }), null);
  const ops = await UiClient.signIn(fresh.url, 'ops@acme.test', 'another long password');
  const accounts = await ops.get('/ui/accounts');
  t.regex(accounts.html, /Default/);
  t.regex(accounts.html, /badge-operator/);
  t.true((await domain.users.findByEmail('ops@acme.test'))!.operator);
  await t.throwsAsync(runBootstrap(domain, fresh.keyport.log, { issuer: fresh.url, env: { KEYPORT_BOOTSTRAP_ADMIN_EMAIL: 'x@acme.test' }, console: false }), { message: /KEYPORT_BOOTSTRAP_ADMIN/ });
});

test('regenerate ends the old secret at once; unlock clears a lock without changing the secret', async (t) => {
  const { domain } = tk.keyport;
  const issued = await domain.keypairs.create({ environmentId: tenant.stagingId }, { name: 'regenerated', scopes: ['orders:read'] }, 'system');
  const keyId = issued.keypair.keyId;
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const unconfirmed = await ui.submit(`/ui/keypairs/${keyId}/regenerate`, `/ui/keypairs/${keyId}/regenerate`);
  t.is(unconfirmed.status, 400);
  const page = await ui.submit(`/ui/keypairs/${keyId}/regenerate`, `/ui/keypairs/${keyId}/regenerate`, { confirm: 'yes' });
  t.is(page.status, 200);
  t.is(page.headers.get('cache-control'), 'no-store');
  const secret = textOf(page.html, 'secret')!;
  t.regex(page.html, /previous secret has stopped working/);
  t.is((await tokenRequest(tk.url, { keyId, secret: issued.secret })).status, 401);
  t.is((await tokenRequest(tk.url, { keyId, secret })).status, 200);

  // Lock it with wrong (well-formed) secrets, then unlock in the UI.
  const { newSecret } = await import('../src/domain/credentials.ts');
  for (let i = 0; i < tk.config.lockout.maxFailures; i++) await tokenRequest(tk.url, { keyId, secret: newSecret() });
  t.is((await domain.keypairs.get(keyId)).status, 'locked');
  const locked = await ui.get(`/ui/environments/${tenant.stagingId}/keypairs?status=locked`);
  t.true(locked.html.includes(keyId));
  t.regex(locked.html, /badge-locked/);
  t.is((await ui.submit(`/ui/keypairs/${keyId}`, `/ui/keypairs/${keyId}/unlock`)).status, 303);
  t.is((await domain.keypairs.get(keyId)).status, 'enabled');
  t.is((await tokenRequest(tk.url, { keyId, secret })).status, 200);
});

test('regenerate is confirmed on its own page (a dialog with JavaScript): it warns that a secret in its grace period ends too, and keeping the tokens is an unchecked option', async (t) => {
  const { domain } = tk.keyport;
  const issued = await domain.keypairs.create({ environmentId: tenant.stagingId }, { name: 'leaky', scopes: ['orders:read'] }, 'system');
  const keyId = issued.keypair.keyId;
  const rotated = await domain.keypairs.rotate(keyId, '24h', 'system');
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const keypairPage = await ui.get(`/ui/keypairs/${keyId}`);
  t.true(keypairPage.html.includes(`href="/ui/keypairs/${keyId}/regenerate"`), 'the keypair page links to the confirmation');
  t.false(keypairPage.html.includes(`action="/ui/keypairs/${keyId}/regenerate"`), 'no inline regenerate form');
  const confirm = await ui.get(`/ui/keypairs/${keyId}/regenerate`);
  t.is(confirm.status, 200);
  t.regex(confirm.html, /data-dialog-content/);
  t.regex(confirm.html, /A grace period is running/);
  t.regex(confirm.html, /Regenerating ends it now/);
  t.regex(confirm.html, /<input type="checkbox" name="keepTokens" value="yes"> <span>Keep the tokens already issued \(a planned change, not a leak\)/, 'unchecked by default');
  // Unconfirmed: the page again, with the choice kept, and nothing changed.
  const refused = await ui.submit(`/ui/keypairs/${keyId}/regenerate`, `/ui/keypairs/${keyId}/regenerate`, { keepTokens: 'yes' });
  t.is(refused.status, 400);
  t.regex(refused.html, /name="keepTokens" value="yes" checked/);
  t.is((await tokenRequest(tk.url, { keyId, secret: issued.secret })).status, 200, 'the grace secret still works');
  // Confirmed: both older secrets end.
  const done = await ui.submit(`/ui/keypairs/${keyId}/regenerate`, `/ui/keypairs/${keyId}/regenerate`, { confirm: 'yes' });
  t.is(done.status, 200);
  for (const secret of [issued.secret, rotated.secret]) t.is((await tokenRequest(tk.url, { keyId, secret })).status, 401);
});

test('the keypair table pages and filters by status', async (t) => {
  const { domain } = tk.keyport;
  const env = await domain.owners.createEnvironment(tenant.accountId, { name: 'load' }, 'system');
  for (let i = 0; i < 23; i++) {
    const kp = await domain.keypairs.create({ environmentId: env.id }, { name: `worker ${String(i).padStart(2, '0')}` }, 'system');
    if (i % 5 === 0) await domain.keypairs.setEnabled(kp.keypair.keyId, false, 'system');
  }
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const first = await ui.get(`/ui/environments/${env.id}/keypairs`);
  t.regex(first.html, /Page 1 of 2/);
  t.is([...first.html.matchAll(/<tr data-key-id=/g)].length, 20);
  t.true(first.html.includes(`/ui/environments/${env.id}/keypairs?page=2`));
  const second = await ui.get(`/ui/environments/${env.id}/keypairs?page=2`);
  t.is([...second.html.matchAll(/<tr data-key-id=/g)].length, 3);
  const disabled = await ui.get(`/ui/environments/${env.id}/keypairs?status=disabled`);
  t.is([...disabled.html.matchAll(/<tr data-key-id=/g)].length, 5);
  t.false(disabled.html.includes('badge-enabled'));
  // Nonsense in the query is ignored, not an error.
  t.is((await ui.get(`/ui/environments/${env.id}/keypairs?status=%24ne&page=-4`)).status, 200);
});

test('a locked key still shows that it is disabled: its own Locked column, Unlock in the row, and the Disabled filter includes it', async (t) => {
  const { domain } = tk.keyport;
  const env = await domain.owners.createEnvironment(tenant.accountId, { name: 'locks' }, 'system');
  const both = (await domain.keypairs.create({ environmentId: env.id }, { name: 'locked and disabled' }, 'system')).keypair.keyId;
  const fine = (await domain.keypairs.create({ environmentId: env.id }, { name: 'fine' }, 'system')).keypair.keyId;
  const { newSecret } = await import('../src/domain/credentials.ts');
  for (let i = 0; i < tk.config.lockout.maxFailures; i++) await tokenRequest(tk.url, { keyId: both, secret: newSecret() });
  await domain.keypairs.setEnabled(both, false, 'system');
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const rowOf = (html: string, keyId: string) => {
    const start = html.indexOf(`<tr data-key-id="${keyId}"`);
    return start === -1 ? '' : html.slice(start, html.indexOf('</tr>', start));
  };
  const list = await ui.get(`/ui/environments/${env.id}/keypairs`);
  t.regex(list.html, /<th scope="col">Locked<\/th>/);
  const row = rowOf(list.html, both);
  t.regex(row, /data-label="Status"[^>]*><span class="badge badge-disabled">Disabled<\/span>/);
  t.regex(row, /data-label="Locked"[^>]*><span class="locked"><span class="badge badge-locked">Locked<\/span> <span class="small muted"><time [^>]*>in \d+ min\.</);
  t.true(row.includes(`action="/ui/keypairs/${both}/unlock"`), 'Unlock in the row');
  // The row's actions are in a <details> menu: plain links and forms, no script needed.
  t.regex(row, /<details class="row-menu">\s*<summary[^>]*>.*Actions for locked and disabled<\/span><\/summary>/);
  for (const path of ['rotate', 'regenerate', 'remove', 'audit']) t.true(row.includes(`href="/ui/keypairs/${both}/${path}"`), path);
  t.true(row.includes(`action="/ui/keypairs/${both}/enable"`));
  t.true(rowOf(list.html, fine).includes(`href="/ui/keypairs/${fine}/disable?back=list"`));
  t.regex(rowOf(list.html, fine), /data-label="Locked"[^>]*><span class="muted">No<\/span>/);
  t.false(rowOf(list.html, fine).includes('/unlock'));
  const disabled = await ui.get(`/ui/environments/${env.id}/keypairs?status=disabled`);
  t.true(disabled.html.includes(both), 'the Disabled filter includes a disabled key that is also locked');
  t.true((await ui.get(`/ui/environments/${env.id}/keypairs?status=locked`)).html.includes(both));
  t.false((await ui.get(`/ui/environments/${env.id}/keypairs?status=enabled`)).html.includes(both));
  // Unlock from the row: back to the list, unlocked and still disabled.
  const unlocked = await ui.submit(`/ui/environments/${env.id}/keypairs`, `/ui/keypairs/${both}/unlock`);
  t.is(unlocked.status, 303);
  t.is(unlocked.location, `/ui/environments/${env.id}/keypairs`);
  t.like(await domain.keypairs.get(both), { locked: false, enabled: false });
});

test('close an account: counts the keypairs of the account and its environments, then closes everything', async (t) => {
  const { domain } = tk.keyport;
  const other = await createTenant(tk.keyport, 'Shortlived');
  await createUser(tk.keyport, 'owner@shortlived.test', [[accountOwner(other.accountId), 'admin']]);
  await domain.keypairs.create({ accountId: other.accountId }, { name: 'a' }, 'system');
  const prodKey = await domain.keypairs.create({ environmentId: other.productionId }, { name: 'b' }, 'system');
  await domain.keypairs.create({ environmentId: other.stagingId }, { name: 'c' }, 'system');
  const ui = await UiClient.signIn(tk.url, 'owner@shortlived.test');
  const page = await ui.get(`/ui/accounts/${other.accountId}/close`);
  t.regex(page.html, /removes <strong>3 keypairs<\/strong>/);
  t.regex(page.html, /2 environments/);
  const closed = await ui.submit(`/ui/accounts/${other.accountId}/close`, `/ui/accounts/${other.accountId}/close`, { confirmName: 'Shortlived' });
  t.is(closed.status, 303);
  t.is(closed.location, '/ui/accounts');
  t.is((await domain.owners.getAccount(other.accountId)).status, 'closed');
  t.is((await domain.owners.getEnvironment(other.productionId)).status, 'closed');
  t.is((await tokenRequest(tk.url, { keyId: prodKey.keypair.keyId, secret: prodKey.secret })).status, 401);
  // A closed account can be read, not changed.
  const view = await ui.get(`/ui/accounts/${other.accountId}/keypairs`);
  t.is(view.status, 200);
  t.regex(view.html, /is closed/);
  t.is((await ui.get(`/ui/accounts/${other.accountId}/keypairs/new`)).status, 409);
});

test('a keypair named like another of its owner, or without scopes, and an environment named like another, are created only once confirmed', async (t) => {
  const { domain } = tk.keyport;
  const env = await domain.owners.createEnvironment(tenant.accountId, { name: 'Duplicates' }, 'system');
  const owner = environmentOwner(tenant.accountId, env.id);
  await domain.keypairs.create({ environmentId: env.id }, { name: 'CI deploy', scopes: ['orders:read'] }, 'system');
  // The same name in another owner is no duplicate.
  await domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'nightly (a+b)', scopes: ['orders:read'] }, 'system');
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const action = `/ui/environments/${env.id}/keypairs`;
  const count = async (name: string) => (await domain.keypairs.listPage(owner, { limit: 100 })).items.filter((k) => k.name === name).length;

  // Same name (any case, spaces around): the form again, with the question and the values kept; nothing created.
  const asked = await ui.submit(`${action}/new`, action, { name: ' ci DEPLOY ', scopes: ['orders:write'] });
  t.is(asked.status, 409);
  t.regex(asked.html, /has a keypair named ci DEPLOY already/);
  t.regex(asked.html, /name="anyway" value="yes"/);
  t.regex(asked.html, /value="orders:write" checked/);
  t.is(await count('ci DEPLOY'), 0);
  // The second submit, with the box ticked, creates it.
  const confirmed = await ui.post(action, { ...hiddenFields(asked.html, action), name: ' ci DEPLOY ', scopes: ['orders:write'], anyway: 'yes' });
  t.is(confirmed.status, 200);
  t.truthy(textOf(confirmed.html, 'secret'));
  t.is(await count('ci DEPLOY'), 1);

  // No scope: asked too. A name with regular-expression characters matches only itself.
  const noScope = await ui.submit(`${action}/new`, action, { name: 'nightly (a+b)' });
  t.is(noScope.status, 409);
  t.regex(noScope.html, /No scope is chosen/);
  t.notRegex(noScope.html, /has a keypair named/);
  t.is(await count('nightly (a+b)'), 0);
  t.is((await ui.post(action, { ...hiddenFields(noScope.html, action), name: 'nightly (a+b)', anyway: 'yes' })).status, 200);
  t.is(await count('nightly (a+b)'), 1);
  // A new name with scopes is not asked about.
  t.is((await ui.submit(`${action}/new`, action, { name: 'ci deploy 2', scopes: ['orders:read'] })).status, 200);

  // Environments: a second "staging" in the account is asked about, then created once confirmed.
  const accountPage = `/ui/accounts/${tenant.accountId}`;
  const envAction = `${accountPage}/environments`;
  const before = (await domain.owners.listEnvironments(tenant.accountId)).length;
  const envAsked = await ui.submit(accountPage, envAction, { name: 'duplicates' });
  t.is(envAsked.status, 409);
  t.regex(envAsked.html, /has an environment named Duplicates already/);
  t.regex(envAsked.html, /value="duplicates"/);
  t.is((await domain.owners.listEnvironments(tenant.accountId)).length, before);
  const envCreated = await ui.post(envAction, { ...hiddenFields(envAsked.html, envAction), name: 'duplicates', anyway: 'yes' });
  t.is(envCreated.status, 303);
  t.is((await domain.owners.listEnvironments(tenant.accountId)).length, before + 1);
});

test('the keypair table searches by name prefix or key id, without JavaScript, with the status filter and pages', async (t) => {
  const { domain } = tk.keyport;
  const env = await domain.owners.createEnvironment(tenant.accountId, { name: 'searching' }, 'system');
  let firstId = '';
  for (let i = 0; i < 23; i++) {
    const kp = await domain.keypairs.create({ environmentId: env.id }, { name: `Sync ${String(i).padStart(2, '0')}`, scopes: ['orders:read'] }, 'system');
    if (i === 0) firstId = kp.keypair.keyId;
    if (i % 5 === 0) await domain.keypairs.setEnabled(kp.keypair.keyId, false, 'system');
  }
  await domain.keypairs.create({ environmentId: env.id }, { name: 'async job', scopes: ['orders:read'] }, 'system');
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const list = `/ui/environments/${env.id}/keypairs`;
  const rows = (html: string) => [...html.matchAll(/<tr data-key-id=/g)].length;

  // A plain GET form: the box keeps the text, and keeps the status filter.
  const all = await ui.get(list);
  t.regex(all.html, new RegExp(`<form method="get" action="${list}" class="search"`));
  t.regex(all.html, /<input type="search" name="q" value=""/);
  const first = await ui.get(`${list}?q=sync`);
  t.regex(first.html, /<input type="search" name="q" value="sync"/);
  t.regex(first.html, /23 keypairs/);
  t.is(rows(first.html), 20);
  t.false(first.html.includes('async job'), 'a prefix, not a substring');
  // Pages and status links carry the search.
  t.true(first.html.includes(`${list}?q=sync&amp;page=2`));
  t.true(first.html.includes(`${list}?q=sync&amp;status=disabled`));
  t.is(rows((await ui.get(`${list}?q=sync&page=2`)).html), 3);
  const disabled = await ui.get(`${list}?q=SYNC%201&status=disabled`);
  t.is(rows(disabled.html), 2, 'Sync 10 and Sync 15');
  t.regex(disabled.html, /<input type="hidden" name="status" value="disabled">/);
  // An exact key id finds its keypair; nothing found says so; regular-expression characters are text.
  const byId = await ui.get(`${list}?q=${firstId}`);
  t.is(rows(byId.html), 1);
  t.true(byId.html.includes(`data-key-id="${firstId}"`));
  const none = await ui.get(`${list}?q=${encodeURIComponent('.*')}`);
  t.is(none.status, 200);
  t.is(rows(none.html), 0);
  t.regex(none.html, /No keypairs whose name starts with “\.\*”/);
  t.is((await ui.get(`${list}?q=${'x'.repeat(5000)}`)).status, 200);
});

test('the keypair details panel shows the comment, or says there is none', async (t) => {
  const { domain } = tk.keyport;
  const commented = await domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'commented key', comment: 'owned by the <billing> team' }, 'system');
  const bare = await domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'bare key' }, 'system');
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const details = (html: string) => /<h2>Details<\/h2>([\s\S]*?)<\/dl>/.exec(html)?.[1] ?? '';
  const withComment = details((await ui.get(`/ui/keypairs/${commented.keypair.keyId}`)).html);
  t.regex(withComment, /<dt>Comment<\/dt><dd[^>]*>owned by the &lt;billing&gt; team<\/dd>/);
  const without = details((await ui.get(`/ui/keypairs/${bare.keypair.keyId}`)).html);
  t.regex(without, /<dt>Comment<\/dt><dd[^>]*><span class="muted">no comment<\/span><\/dd>/);
});

test('a 409 page links back to the page it came from (the route\'s own link, or a same-origin UI Referer, never another site) besides the accounts', async (t) => {
  const { domain } = tk.keyport;
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const backLinks = (html: string) => [...html.matchAll(/<p class="actions">([\s\S]*?)<\/p>/g)].flatMap((m) => [...m[1]!.matchAll(/href="([^"]*)"/g)].map((h) => h[1]));

  // A resubmitted rotation: back to the keypair.
  const kp = await domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'twice rotated' }, 'system');
  const rotatePage = await ui.get(`/ui/keypairs/${kp.keypair.keyId}/rotate`);
  const fields = { ...hiddenFields(rotatePage.html, `/ui/keypairs/${kp.keypair.keyId}/rotate`), grace: '0', confirm: 'yes' };
  t.is((await ui.post(`/ui/keypairs/${kp.keypair.keyId}/rotate`, fields)).status, 200);
  const again = await ui.post(`/ui/keypairs/${kp.keypair.keyId}/rotate`, fields);
  t.is(again.status, 409);
  t.deepEqual(backLinks(again.html), [`/ui/keypairs/${kp.keypair.keyId}`, '/ui/accounts']);
  t.regex(again.html, /Back to twice rotated/);

  // An environment closed already: back to the environment.
  const env = await domain.owners.createEnvironment(tenant.accountId, { name: 'gone soon' }, 'system');
  await domain.closing.closeEnvironment(env.id, 'system');
  const closed = await ui.get(`/ui/environments/${env.id}/close`);
  t.is(closed.status, 409);
  t.deepEqual(backLinks(closed.html), [`/ui/environments/${env.id}`, '/ui/accounts']);

  // A conflict the domain raises: back to the Referer only when it is a page of this UI.
  const csrf = hiddenFields(rotatePage.html, `/ui/keypairs/${kp.keypair.keyId}/rotate`)._csrf!;
  const create = (referer: string) => ui.post(`/ui/environments/${env.id}/keypairs`, { _csrf: csrf, name: 'x' }, { referer });
  const fromUi = await create(`${tk.url}/ui/environments/${env.id}/keypairs?status=disabled`);
  t.is(fromUi.status, 409);
  t.deepEqual(backLinks(fromUi.html), [`/ui/environments/${env.id}/keypairs?status=disabled`, '/ui/accounts']);
  for (const referer of ['https://evil.example/ui/accounts', `${tk.url}/oauth/token`, `${tk.url}/uievil`, 'not a url']) {
    const page = await create(referer);
    t.is(page.status, 409, referer);
    t.deepEqual(backLinks(page.html), ['/ui/accounts'], referer);
  }
});

test('closed environments: listed apart in a Closed section after the active ones; their pages say read-only and offer no actions', async (t) => {
  const { domain } = tk.keyport;
  const acct = await createTenant(tk.keyport, 'Closing Co');
  await createUser(tk.keyport, 'closer@acme.test', [[accountOwner(acct.accountId), 'admin']]);
  const old = await domain.owners.createEnvironment(acct.accountId, { name: 'old sandbox' }, 'system');
  await domain.closing.closeEnvironment(old.id, 'system');
  const ui = await UiClient.signIn(tk.url, 'closer@acme.test');

  const account = (await ui.get(`/ui/accounts/${acct.accountId}`)).html;
  const active = /<ul class="list" id="environments-active">([\s\S]*?)<\/ul>/.exec(account)?.[1] ?? '';
  const closed = /<ul class="list" id="environments-closed">([\s\S]*?)<\/ul>/.exec(account)?.[1] ?? '';
  t.true(active.includes(`/ui/environments/${acct.productionId}`), 'the active environment is among the active ones');
  t.false(active.includes(old.id), 'the closed environment is not');
  t.true(closed.includes(`/ui/environments/${old.id}`), 'it is in the Closed section');
  t.true(account.indexOf('id="environments-active"') < account.indexOf('id="environments-closed"'), 'after the active ones');
  t.regex(account, /<h2 id="closed-environments">Closed/);

  for (const path of [`/ui/environments/${old.id}`, `/ui/environments/${old.id}/access`, `/ui/environments/${old.id}/keypairs`]) {
    const page = await ui.get(path);
    t.is(page.status, 200, path);
    t.regex(page.html, /This environment is closed: read-only/, path);
    t.false(page.html.includes('create, rotate, disable and remove'), path);
    t.false(/New keypair|Create the first keypair|Close environment/.test(page.html), `${path}: no action buttons`);
    t.false(/<form method="post"(?! action="\/ui\/sign-out")/.test(page.html), `${path}: no forms but sign-out`);
  }
  // The active environment still offers everything.
  const open = (await ui.get(`/ui/environments/${acct.productionId}`)).html;
  t.true(open.includes('create, rotate, disable and remove'));
  t.false(open.includes('read-only'));
});

test('times are the same everywhere: a relative time in a <time datetime> with the absolute UTC time on hover', async (t) => {
  const { domain } = tk.keyport;
  const kp = await domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'timed key' }, 'system');
  await tokenRequest(tk.url, { keyId: kp.keypair.keyId, secret: kp.secret });
  await domain.keypairs.rotate(kp.keypair.keyId, '48h', 'system');
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const pages = {
    keypair: (await ui.get(`/ui/keypairs/${kp.keypair.keyId}`)).html,
    list: (await ui.get(`/ui/environments/${tenant.productionId}/keypairs`)).html,
    audit: (await ui.get(`/ui/keypairs/${kp.keypair.keyId}/audit`)).html,
    rotate: (await ui.get(`/ui/keypairs/${kp.keypair.keyId}/rotate`)).html,
  };
  const relative = /^(in \d+ (second|minute|hour|day|month|year)s?|\d+ (second|minute|hour|day|month|year)s? ago|in \d+ (sec|min|hr|days?|mo|yr)\.?|\d+ (sec|min|hr|days?|mo|yr)\.? ago)$/;
  for (const [name, html] of Object.entries(pages)) {
    const times = [...html.matchAll(/<time ([^>]*)>([^<]*)<\/time>/g)].map((m) => ({ attrs: m[1]!, text: m[2]! }));
    t.true(times.length > 0, name);
    for (const { attrs, text } of times) {
      const iso = /datetime="([^"]+)"/.exec(attrs)?.[1] ?? '';
      t.regex(iso, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, `${name}: ISO datetime`);
      const title = /title="([^"]+)"/.exec(attrs)?.[1] ?? '';
      const utc = `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
      if (attrs.includes('data-time="absolute"')) {
        // An absolute time in running text: UTC without JavaScript, the relative time on hover.
        t.is(text, utc, `${name}: ${attrs}`);
        t.regex(title, relative, `${name}: ${attrs}`);
      } else {
        t.regex(text, relative, `${name}: ${attrs}`);
        t.is(title, utc, `${name}: ${attrs}`);
      }
    }
  }
  // The details panel and the audit trail, relative like the list (they used to show the absolute time).
  t.regex(pages.keypair, /<dt>Created<\/dt><dd><time datetime="[^"]+" title="[^"]+ UTC">\d+ seconds? ago<\/time><\/dd>/);
  t.regex(pages.keypair, /ends <time datetime="[^"]+" title="[^"]+ UTC">in 4[78] hours<\/time>/);
  t.regex(pages.audit, /data-label="When"[^>]*><time datetime="[^"]+" title="[^"]+ UTC">\d+ seconds? ago<\/time>/);
  t.regex(pages.rotate, /works until <time datetime="[^"]+" data-time="absolute" title="in 4[78] hours">[^<]+ UTC<\/time>/);
});

test('the keypair page shows hints, whether the previous secret is still used, and ended secrets still in use; end now needs the box ticked when recently used', async (t) => {
  const ui = await UiClient.signIn(tk.url, 'admin@acme.test');
  const issued = await tk.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'grace worker', scopes: ['orders:read'] }, 'system');
  const { keyId } = issued.keypair;
  const hint = (secret: string) => `kps_…${secret.slice(-4)}`;
  const rotated = await ui.submit(`/ui/keypairs/${keyId}/rotate`, `/ui/keypairs/${keyId}/rotate`, { grace: '24h', retireWhenIdle: '6h', confirm: 'yes' });
  t.is(rotated.status, 200);
  const fresh = textOf(rotated.html, 'secret')!;
  t.is((await tokenRequest(tk.url, { keyId, secret: issued.secret })).status, 200, 'a client still on the old secret');

  const page = await ui.get(`/ui/keypairs/${keyId}`);
  t.true(page.html.includes(hint(fresh)) && page.html.includes(hint(issued.secret)), 'both hints, never the secrets');
  t.false(page.html.includes(fresh) || page.html.includes(issued.secret));
  t.regex(page.html, /<strong>Still in use:<\/strong> a client used the previous secret/);
  t.regex(page.html, /Ends early once unused for 6h/);

  const unticked = await ui.submit(`/ui/keypairs/${keyId}`, `/ui/keypairs/${keyId}/previous-secret/end`);
  t.is(unticked.status, 409);
  t.regex(unticked.html, /within the last hour: a client may still depend on it; tick the box/);
  t.is((await tokenRequest(tk.url, { keyId, secret: issued.secret })).status, 200, 'nothing changed');

  const until = /name="until">\s*<option value="([^"]+)"/.exec(page.html)?.[1];
  t.truthy(until, 'the extension offers ends up to 72 hours after the rotation');
  const extended = await ui.submit(`/ui/keypairs/${keyId}`, `/ui/keypairs/${keyId}/previous-secret/extend`, { until: until! });
  t.is(extended.status, 303);
  t.is((await tk.keyport.domain.keypairs.get(keyId)).previousSecret?.expiresAt, until);
  const ended = await ui.submit(`/ui/keypairs/${keyId}`, `/ui/keypairs/${keyId}/previous-secret/end`, { force: 'yes' });
  t.is(ended.status, 303);
  t.is((await tokenRequest(tk.url, { keyId, secret: issued.secret })).status, 401);
  const after = await ui.get(`/ui/keypairs/${keyId}`);
  t.false(after.html.includes('id="rotation-safety"'));
  t.regex(after.html, new RegExp(`${hint(issued.secret)}</span>\\s*<span class="muted">ended .*?<strong>Ended secret still in use:</strong> presented 1 time`, 's'));
  const list = await ui.get(`/ui/environments/${tenant.productionId}/keypairs`);
  t.regex(list.html, new RegExp(`data-key-id="${keyId}"[\\s\\S]*?· ended secret still in use`));
  const trail = await ui.get(`/ui/keypairs/${keyId}/audit`);
  t.regex(trail.html, /extended the grace period of/);
  t.regex(trail.html, /ended the previous secret of .* early, although it was used within the last hour/);
});
