// The web UI in a real browser (playwright-core + Debian's chromium) against the
// real server and database: sign in, create a keypair and read its secret once,
// get a token with it, rotate with a 24 h grace period (both secrets work),
// disable, remove; bulk actions. Every page it visits is checked with axe-core
// (WCAG 2 A and AA rules), in the light and the dark color scheme. Also takes
// the README's screenshots: into docs/screenshots/ with KEYPORT_SCREENSHOTS=1
// (so that a test run leaves the checkout clean), otherwise into a temporary directory.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { calculateJwkThumbprint } from 'jose';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { accountOwner, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { newSecret } from '../src/domain/credentials.ts';
import { basic, tokenRequest } from './helpers/oauth.ts';

const CHROMIUM = process.env.KEYPORT_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.KEYPORT_SCREENSHOTS === '1'
  ? fileURLToPath(new URL('../docs/screenshots/', import.meta.url))
  : `${mkdtempSync(join(tmpdir(), 'keyport-screenshots-'))}/`;
const EMAIL = 'ada@acme.test';
const AXE = readFileSync(fileURLToPath(new URL('../node_modules/axe-core/axe.min.js', import.meta.url)), 'utf8');

interface AxeViolation { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }

/**
 * axe-core on the page as it is now, in the light and the dark color scheme:
 * no WCAG 2 A or AA violation. Injected through the DevTools protocol (evaluate),
 * which the page's Content-Security-Policy rightly forbids to a <script> tag.
 */
async function assertAccessible(t: ExecutionContext, p: Page, what: string): Promise<void> {
  if (!(await p.evaluate<boolean>('typeof window.axe === "object"'))) await p.evaluate(AXE);
  try {
    for (const colorScheme of ['light', 'dark'] as const) {
      await p.emulateMedia({ colorScheme });
      const violations = await p.evaluate<AxeViolation[]>(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] }, resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`);
      t.deepEqual(violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`), [], `${what}, ${colorScheme}: axe found violations`);
    }
  } finally {
    await p.emulateMedia({ colorScheme: 'light' });
  }
}

let tk: TestKeyport;
let tenant: Awaited<ReturnType<typeof createTenant>>;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const created = { keyId: '', secret: '', rotatedSecret: '' };
/** The keypair locked by wrong secrets from a few addresses (its page shows where they came from). */
let lockedKeyId = '';

test.before(async () => {
  // Behind a (pretend) proxy: the wrong secrets below come from a few addresses, as X-Forwarded-For says.
  tk = await startTestKeyport({ overrides: { server: { trustProxy: true }, webhooks: { allowLoopback: true } } });
  tenant = await createTenant(tk.keyport);
  const { domain } = tk.keyport;
  await createUser(tk.keyport, EMAIL, [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(tk.keyport, 'env-admin@acme.test', [[environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  // A realistic table for the screenshots: a rotated key in its grace period, a disabled one, a locked one.
  const env = { environmentId: tenant.productionId };
  const billing = await domain.keypairs.create(env, { name: 'billing export', comment: 'Nightly export to the data warehouse', scopes: ['orders:read'] }, 'system');
  await domain.keypairs.rotate(billing.keypair.keyId, '48h', 'system');
  const legacy = await domain.keypairs.create(env, { name: 'legacy importer', comment: 'Replaced by orders sync; keep until June', scopes: ['orders:write'] }, 'system');
  await domain.keypairs.setEnabled(legacy.keypair.keyId, false, 'system');
  const partner = await domain.keypairs.create(env, { name: 'partner webhook', comment: 'Shipping partner callbacks', scopes: ['orders:read', 'orders:write'] }, 'system');
  lockedKeyId = partner.keypair.keyId;
  const sources = ['203.0.113.24', '203.0.113.24', '198.51.100.7', '203.0.113.24', '2001:db8::17'];
  for (let i = 0; i < tk.config.lockout.maxFailures; i++) {
    await fetch(`${tk.url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basic(lockedKeyId, newSecret()), 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': sources[i % sources.length]! },
      body: 'grant_type=client_credentials',
    });
  }
  const reader = await domain.keypairs.create(env, { name: 'inventory reader', comment: '', scopes: ['orders:read'] }, 'system');
  await tokenRequest(tk.url, { keyId: reader.keypair.keyId, secret: reader.secret });
  await domain.keypairs.create({ accountId: tenant.accountId }, { name: 'terraform', comment: 'Infrastructure automation', scopes: ['keyport:manage'] }, 'system');

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1440, height: 900 }, baseURL: tk.url });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: tk.url });
  page = await context.newPage();
  mkdirSync(SHOTS, { recursive: true });
});

test.after.always(async () => {
  await browser?.close();
  await tk?.close();
});

test.serial('sign in', async (t) => {
  await page.goto('/ui/');
  t.regex(page.url(), /\/ui\/sign-in/);
  await page.screenshot({ path: `${SHOTS}sign-in.png` });
  await assertAccessible(t, page, 'sign-in page');
  await page.fill('input[name=email]', EMAIL);
  await page.fill('input[name=password]', 'not the password');
  await page.click('button:has-text("Sign in")');
  t.regex(await page.textContent('.error') ?? '', /Wrong email or password/);
  await assertAccessible(t, page, 'sign-in page with its error');
  await page.fill('input[name=password]', 'correct horse battery staple');
  await page.click('button:has-text("Sign in")');
  await page.waitForURL(/\/ui\/accounts$/);
  t.regex(await page.textContent('main') ?? '', /Acme/);
  const cookie = (await context.cookies()).find((c) => c.name === 'keyport.ui');
  t.truthy(cookie);
  t.true(cookie!.httpOnly);
  t.is(cookie!.sameSite, 'Lax');
});

test.serial('navigate to API management and create a keypair in the dialog; the secret is shown once', async (t) => {
  await page.click('a.tile:has-text("Acme")');
  await page.screenshot({ path: `${SHOTS}account.png` });
  await assertAccessible(t, page, 'account page');
  await page.click('a:has-text("production")');
  await page.waitForURL(/\/environments\/[^/]+$/);
  await assertAccessible(t, page, 'environment page');
  await page.click('nav.tabs a:has-text("Access management")');
  await page.click('a.btn:has-text("API management")');
  await page.waitForURL(/\/keypairs$/);
  await page.click('a:has-text("New keypair")');
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  await assertAccessible(t, page, 'new keypair dialog');
  await dialog.locator('input[name=name]').fill('orders sync');
  await dialog.locator('textarea[name=comment]').fill('Syncs orders to the ERP every 5 minutes');
  await dialog.locator('input[name=scopes][value="orders:read"]').check();
  await dialog.locator('input[name=scopes][value="orders:write"]').check();
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/ui/environments/${tenant.productionId}/keypairs`)),
    dialog.locator('button:has-text("Create keypair")').click(),
  ]);
  t.is(response.status(), 200);
  t.is(response.headers()['cache-control'], 'no-store');
  created.keyId = (await page.textContent('#key-id'))!.trim();
  created.secret = (await page.textContent('#secret'))!.trim();
  t.regex(created.keyId, /^kp_/);
  t.regex(created.secret, /^kps_/);
  t.regex(await page.textContent('main') ?? '', /will not be shown again/);
  t.false(page.url().includes(created.secret));
  // The copy button puts the secret on the clipboard.
  await page.click('button[data-copy=secret]');
  // (string expressions: the project's type check has no DOM library)
  t.is(await page.evaluate('navigator.clipboard.readText()'), created.secret);
  await page.screenshot({ path: `${SHOTS}secret-once.png` });
  await assertAccessible(t, page, 'secret page');

  // Back to the table: the secret is nowhere, and cannot be read back.
  await page.click('a:has-text("back to API management")');
  await page.waitForURL(/\/keypairs$/);
  t.false((await page.content()).includes(created.secret));
  await page.goBack();
  t.false((await page.content()).includes(created.secret), 'going back does not show the secret again');
  await page.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  t.regex(await page.textContent(`tr[data-key-id="${created.keyId}"]`) ?? '', /Enabled/);
  await page.screenshot({ path: `${SHOTS}keypairs.png`, fullPage: true });
  await assertAccessible(t, page, 'keypair list');
});

test.serial('the keypair table is compact at 1280 px: one line per keypair, the actions in a row menu', async (t) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  t.teardown(() => page.setViewportSize({ width: 1440, height: 900 }));
  await page.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  const rows = page.locator('table.keypairs tbody tr');
  t.true(await rows.count() >= 5);
  for (const row of await rows.all()) {
    const box = (await row.boundingBox())!;
    t.true(box.height <= 44, `${await row.getAttribute('data-key-id')}: ${box.height}px tall`);
  }
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  t.true(overflow <= 0, `horizontal overflow: ${overflow}px`);
  // The actions sit in a menu per row, closed until asked for.
  const first = rows.first();
  const menu = first.locator('details.row-menu .menu');
  t.false(await menu.isVisible());
  await first.locator('summary').click();
  t.true(await menu.isVisible());
  t.deepEqual((await menu.locator('a, button').allTextContents()).map((s) => s.trim()).slice(0, 3), ['Manage', 'Rotate…', 'Regenerate…']);
  await page.screenshot({ path: `${SHOTS}keypairs-menu.png` });
  await assertAccessible(t, page, 'keypair list with a row menu open');
  await page.keyboard.press('Escape');
  t.false(await menu.isVisible());
});

test.serial('the new keypair gets a token over HTTP', async (t) => {
  const response = await tokenRequest(tk.url, { keyId: created.keyId, secret: created.secret, scope: 'orders:read' });
  t.is(response.status, 200);
  t.truthy(((await response.json()) as { access_token?: string }).access_token);
});

test.serial('rotate with the default 24 h grace period: both secrets work, the row shows both', async (t) => {
  await page.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  await page.locator(`tr[data-key-id="${created.keyId}"] summary`).click();
  await page.locator(`tr[data-key-id="${created.keyId}"] a:has-text("Rotate")`).click();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  t.true(await dialog.locator('input[name=grace][value="24h"]').isChecked(), '24 h is the default');
  t.is(await page.evaluate<string>('document.activeElement.name + "=" + document.activeElement.value'), 'grace=24h', 'the default choice has the focus');
  await dialog.locator('input[name=confirm]').check();
  await page.screenshot({ path: `${SHOTS}rotate-dialog.png` });
  await assertAccessible(t, page, 'rotate dialog');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/rotate')),
    dialog.locator('button:has-text("Rotate secret")').click(),
  ]);
  t.is(response.status(), 200);
  t.is(response.headers()['cache-control'], 'no-store');
  created.rotatedSecret = (await page.textContent('#secret'))!.trim();
  t.not(created.rotatedSecret, created.secret);
  t.regex(await page.textContent('main') ?? '', /previous secret keeps working until/);

  for (const secret of [created.secret, created.rotatedSecret]) {
    t.is((await tokenRequest(tk.url, { keyId: created.keyId, secret })).status, 200);
  }
  await page.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  const row = await page.textContent(`tr[data-key-id="${created.keyId}"]`) ?? '';
  t.regex(row, /previous secret/);
  t.regex(row, /ends in 24 hr\./);
  t.false(row.includes(created.rotatedSecret));

  await page.goto(`/ui/keypairs/${created.keyId}`);
  t.regex(await page.textContent('.facts') ?? '', /previous/);
  // Keyboard: the first Tab reaches a skip link to the content; no aria-label sits on a non-interactive span.
  await page.keyboard.press('Tab');
  t.is(await page.evaluate<string>('document.activeElement.textContent'), 'Skip to content');
  t.is(await page.locator('span[aria-label]').count(), 0);
  await page.screenshot({ path: `${SHOTS}keypair.png`, fullPage: true });
  await assertAccessible(t, page, 'keypair page');

  // A second rotation during the grace period warns that the older previous secret ends at once.
  await page.goto(`/ui/keypairs/${created.keyId}/rotate`);
  t.regex(await page.textContent('main') ?? '', /ends that older previous secret at once/);

  // Regenerate asks in the same kind of dialog, and warns that the grace secret ends too.
  await page.goto(`/ui/keypairs/${created.keyId}`);
  await page.click('a:has-text("Regenerate secret…")');
  const regenerate = page.locator('dialog[open]');
  await regenerate.waitFor();
  t.regex(await regenerate.textContent() ?? '', /Regenerating ends it now/);
  await assertAccessible(t, page, 'regenerate dialog');
  t.false(await regenerate.locator('input[name=keepTokens]').isChecked());
  await regenerate.locator('a:has-text("Cancel")').click();
  t.is(await page.locator('dialog[open]').count(), 0);
});

test.serial('disable: the token request fails; enable again works', async (t) => {
  await page.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  await page.locator(`tr[data-key-id="${created.keyId}"] summary`).click();
  await page.locator(`tr[data-key-id="${created.keyId}"] a:has-text("Disable")`).click();
  // A confirmation dialog first, which says how to undo.
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  t.regex(await dialog.textContent() ?? '', /Enable it again to let it get new tokens; the tokens it has now are revoked for good/);
  t.true((await tk.keyport.domain.keypairs.get(created.keyId)).enabled, 'nothing changed before confirming');
  await assertAccessible(t, page, 'disable dialog');
  await dialog.locator('button:has-text("Disable keypair")').click();
  await page.waitForURL(/\/keypairs$/);
  t.regex(await page.textContent('.flash') ?? '', /disabled/);
  t.regex(await page.textContent(`tr[data-key-id="${created.keyId}"]`) ?? '', /Disabled/);
  const refused = await tokenRequest(tk.url, { keyId: created.keyId, secret: created.rotatedSecret });
  t.is(refused.status, 401);
  t.is(((await refused.json()) as { error: string }).error, 'invalid_client');

  // The status filter shows it among the disabled ones only.
  await page.click('nav.filters a:has-text("Disabled")');
  t.true((await page.content()).includes(created.keyId));
  await page.click('nav.filters a:has-text("Enabled")');
  t.false((await page.content()).includes(created.keyId));
});

test.serial('remove: type the name to confirm; the keypair is gone', async (t) => {
  await page.goto(`/ui/keypairs/${created.keyId}`);
  await page.click('a:has-text("Remove…")');
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  t.regex(await dialog.textContent() ?? '', /irreversible/);
  // The confirmation label reads as one sentence, not three stacked pieces.
  const sentence = dialog.locator('label:has(input[name=confirmName]) > span');
  t.regex(await sentence.textContent() ?? '', /^Type the keypair's name, orders sync, to confirm$/);
  t.true((await sentence.boundingBox())!.height < 30, 'one line');
  const submit = dialog.locator('button:has-text("Remove keypair")');
  t.true(await submit.isDisabled(), 'disabled until the name is typed');
  await assertAccessible(t, page, 'remove dialog');
  await dialog.locator('input[name=confirmName]').fill('orders syn');
  t.true(await submit.isDisabled());
  await dialog.locator('input[name=confirmName]').fill('orders sync');
  await submit.click();
  await page.waitForURL(/\/keypairs$/);
  t.regex(await page.textContent('.flash') ?? '', /is removed/);
  t.is(await page.locator(`tr[data-key-id="${created.keyId}"]`).count(), 0);
  t.is((await tokenRequest(tk.url, { keyId: created.keyId, secret: created.rotatedSecret })).status, 401);
});

test.serial('the account audit trail reads as sentences, filters by action, and offers the exports', async (t) => {
  await page.goto(`/ui/accounts/${tenant.accountId}/audit`);
  const trail = await page.textContent('table.events') ?? '';
  t.regex(trail, new RegExp(`${EMAIL.replace('.', '\\.')} rotated orders sync \\(${created.keyId}\\); the previous secret ends`));
  t.regex(trail, /ada@acme\.test removed orders sync/);
  t.is(await page.locator('table.events th:has-text("Environment")').count(), 1);
  await page.screenshot({ path: `${SHOTS}audit.png`, fullPage: true });
  await assertAccessible(t, page, 'audit trail');
  await page.selectOption('select[name=action]', 'keypair.removed');
  await page.click('form.filter-form button:has-text("Filter")');
  await page.waitForURL(/action=keypair\.removed/);
  const actions = await Promise.all((await page.locator('table.events tbody tr').all()).map((r) => r.getAttribute('data-action')));
  t.true(actions.length > 0 && actions.every((a) => a === 'keypair.removed'));
  t.regex(await page.getAttribute('a:has-text("CSV")', 'href') ?? '', /audit\.csv\?action=keypair\.removed$/);
});

test.serial('an environment admin cannot see the account keypairs', async (t) => {
  const other = await browser.newContext({ baseURL: tk.url });
  t.teardown(() => other.close());
  const p = await other.newPage();
  await p.goto('/ui/sign-in');
  await p.fill('input[name=email]', 'env-admin@acme.test');
  await p.fill('input[name=password]', 'correct horse battery staple');
  await p.click('button:has-text("Sign in")');
  await p.waitForURL(/\/ui\/accounts$/);
  await p.click('a.tile:has-text("Acme")');
  t.is(await p.locator('nav.tabs a:has-text("Access management")').count(), 0, 'no menu entry on the account');
  const response = await p.goto(`/ui/accounts/${tenant.accountId}/keypairs`);
  t.is(response!.status(), 403);
  const body = await p.textContent('main') ?? '';
  t.regex(body, /Not allowed/);
  t.false(body.includes('terraform'));
  await assertAccessible(t, p, '403 page');
  // Their own environment works.
  const own = await p.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  t.is(own!.status(), 200);
});

test.serial('error pages and breadcrumbs keep their distance from the top bar', async (t) => {
  const gapBelowHeader = (selector: string) => page.evaluate<number>(
    `document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect().top - document.querySelector('header.topbar').getBoundingClientRect().bottom`);
  const missing = await page.goto('/ui/keypairs/kp_000000000000000000000000');
  t.is(missing!.status(), 404);
  await assertAccessible(t, page, '404 page');
  const cardGap = await gapBelowHeader('main .card');
  t.true(cardGap >= 24, `the error card sits apart from the top bar (${cardGap} px)`);
  await page.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  t.true(await gapBelowHeader('nav.crumbs li') >= 12, 'the breadcrumb does not touch the top bar');
});

test.serial('times: relative, with the absolute time on hover in the browser\'s time zone (UTC without JavaScript)', async (t) => {
  const zone = 'Asia/Kolkata'; // UTC+05:30 all year: a rewrite that kept UTC would show
  const local = await browser.newContext({ baseURL: tk.url, timezoneId: zone, locale: 'en-US', storageState: await context.storageState() });
  t.teardown(() => local.close());
  const p = await local.newPage();
  await p.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  const created = p.locator('td[data-label="Created"] time').first();
  const iso = await created.getAttribute('datetime');
  t.regex(await created.textContent() ?? '', / ago$/);
  const expected = new Intl.DateTimeFormat('en-US', { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short', timeZone: zone }).format(new Date(iso!));
  t.is(await created.getAttribute('title'), expected);
  t.false(expected.includes('UTC'));

  const plain = await browser.newContext({ baseURL: tk.url, timezoneId: zone, javaScriptEnabled: false, storageState: await context.storageState() });
  t.teardown(() => plain.close());
  const q = await plain.newPage();
  await q.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  t.regex(await q.locator('td[data-label="Created"] time').first().getAttribute('title') ?? '', /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
});

test.serial('usable on a phone: the table becomes cards, without horizontal scrolling', async (t) => {
  const phone = await browser.newContext({ baseURL: tk.url, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  t.teardown(() => phone.close());
  await phone.addCookies((await context.cookies()).filter((c) => c.name === 'keyport.ui'));
  const p = await phone.newPage();
  await p.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  const overflow = await p.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  t.true(overflow <= 0, `horizontal overflow: ${overflow}px`);
  await p.screenshot({ path: `${SHOTS}keypairs-phone.png` });
  await assertAccessible(t, p, 'keypair list on a phone');

  // The secret page too: the long "back" button wraps instead of running off the card.
  const issued = await tk.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'phone check', scopes: [] }, 'system');
  await p.goto(`/ui/keypairs/${issued.keypair.keyId}/rotate`);
  await p.locator('input[name=grace][value="0"]').check();
  await p.locator('input[name=confirm]').check();
  await p.locator('button:has-text("Rotate secret")').click();
  await p.waitForSelector('#secret');
  const secretOverflow = await p.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  t.true(secretOverflow <= 0, `secret page: horizontal overflow ${secretOverflow}px`);
  await assertAccessible(t, p, 'secret page on a phone');
  await p.goto(`/ui/keypairs/${issued.keypair.keyId}`);
  await assertAccessible(t, p, 'keypair page on a phone');
});

test.serial('copy buttons: hidden without JavaScript; on plain http away from localhost they select the value and say how to copy', async (t) => {
  const cookies = (await context.cookies()).filter((c) => c.name === 'keyport.ui');
  const issued = await tk.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'copy check', scopes: [] }, 'system');
  const path = `/ui/keypairs/${issued.keypair.keyId}`;

  const noScript = await browser.newContext({ baseURL: tk.url, javaScriptEnabled: false });
  t.teardown(() => noScript.close());
  await noScript.addCookies(cookies);
  const plain = await noScript.newPage();
  await plain.goto(path);
  t.is(await plain.locator('#key-id').textContent(), issued.keypair.keyId);
  t.false(await plain.locator('button[data-copy]').isVisible(), 'a button that cannot work is not shown');

  // Another host name for the same server: plain http there is not a secure context, so no clipboard API.
  const port = new URL(tk.url).port;
  const remote = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--host-resolver-rules=MAP keyport.test 127.0.0.1'] });
  t.teardown(() => remote.close());
  const r = await (await remote.newContext({ baseURL: `http://keyport.test:${port}` })).newPage();
  await r.goto('/ui/sign-in');
  await r.fill('input[name=email]', EMAIL);
  await r.fill('input[name=password]', 'correct horse battery staple');
  await r.click('button:has-text("Sign in")');
  await r.waitForURL(/\/ui\/accounts$/);
  await r.goto(path);
  t.is(await r.evaluate('window.isSecureContext'), false);
  const button = r.locator('button[data-copy=key-id]');
  t.is((await button.textContent())?.trim(), 'Select');
  await button.click();
  t.is(await r.evaluate('String(window.getSelection())'), issued.keypair.keyId);
  t.regex(await r.locator('.copy-hint').textContent() ?? '', /press Ctrl\+C/);
});

test.serial('dark mode follows the system setting: a dark page with readable text (WCAG AA contrast)', async (t) => {
  const themed = await browser.newContext({ baseURL: tk.url, colorScheme: 'light' });
  t.teardown(() => themed.close());
  await themed.addCookies((await context.cookies()).filter((c) => c.name === 'keyport.ui'));
  const p = await themed.newPage();
  await p.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  // The colours as the browser computes them (the page: the body's background, or the root's behind a transparent body).
  const colours = () => p.evaluate<Record<string, string>>(`(() => {
    const style = (selector) => getComputedStyle(document.querySelector(selector));
    const body = getComputedStyle(document.body).backgroundColor;
    return {
      page: body === 'rgba(0, 0, 0, 0)' ? getComputedStyle(document.documentElement).backgroundColor : body,
      text: style('body').color, muted: style('.muted').color,
      surface: style('.table-wrap').backgroundColor, cell: style('table.keypairs td').color, link: style('table.keypairs td.name a').color,
      badge: style('.badge-enabled').color, badgeBg: style('.badge-enabled').backgroundColor,
      primary: style('.btn-primary').color, primaryBg: style('.btn-primary').backgroundColor,
      field: style('input[type=search]').color, fieldBg: style('input[type=search]').backgroundColor,
    };
  })()`);
  // WCAG relative luminance and contrast ratio.
  const luminance = (css: string) => {
    const [r, g, b] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => { const c = Number(v) / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const contrast = (a: string, b: string) => { const [x, y] = [luminance(a), luminance(b)].sort((m, n) => n - m); return (x! + 0.05) / (y! + 0.05); };
  const measure = async () => {
    const c = await colours();
    return {
      page: luminance(c.page!),
      text: contrast(c.text!, c.page!), muted: contrast(c.muted!, c.page!),
      cell: contrast(c.cell!, c.surface!), link: contrast(c.link!, c.surface!),
      badge: contrast(c.badge!, c.badgeBg!), primary: contrast(c.primary!, c.primaryBg!), field: contrast(c.field!, c.fieldBg!),
    };
  };
  t.true((await measure()).page > 0.8, 'light by default');
  await p.emulateMedia({ colorScheme: 'dark' });
  const m = await measure();
  t.true(m.page < 0.03, `dark background (luminance ${m.page})`);
  for (const [what, ratio] of Object.entries(m)) {
    if (what !== 'page') t.true(ratio >= 4.5, `${what}: contrast ${ratio.toFixed(2)} below 4.5`);
  }
  await p.screenshot({ path: `${SHOTS}keypairs-dark.png` });
});

test.serial('public keys: a key file picked in the browser fills the form; the added key shows by thumbprint', async (t) => {
  const own = await browser.newContext({ viewport: { width: 1280, height: 900 }, baseURL: tk.url });
  try {
    const p = await own.newPage();
    await p.goto('/ui/sign-in');
    await p.fill('input[name=email]', EMAIL);
    await p.fill('input[name=password]', 'correct horse battery staple');
    await p.click('button:has-text("Sign in")');
    await p.waitForURL(/\/ui\/accounts$/);
    const issued = await tk.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: 'browser keys', scopes: ['orders:read'] }, 'system');
    const keyId = issued.keypair.keyId;
    await p.goto(`/ui/keypairs/${keyId}`);
    const { publicKey } = generateKeyPairSync('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    // The file picker is shown only with JavaScript, which reads the file into the textarea.
    await p.setInputFiles('input[data-key-file-for]', { name: 'client.pub', mimeType: 'text/plain', buffer: Buffer.from(pem) });
    await p.waitForFunction('document.getElementById("public-key-text").value.includes("BEGIN PUBLIC KEY")');
    await p.click('button:has-text("Add key")');
    await p.waitForURL(new RegExp(`/ui/keypairs/${keyId}$`));
    const thumbprint = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }));
    t.regex(await p.textContent('#public-keys') ?? '', new RegExp(`${thumbprint}[\\s\\S]*OKP Ed25519[\\s\\S]*EdDSA`));
    t.is((await tk.keyport.domain.keypairs.get(keyId)).publicKeys[0]?.thumbprint, thumbprint);
  } finally {
    await own.close();
  }
});

test.serial('a locked keypair\'s page shows where its failed attempts came from', async (t) => {
  await page.goto(`/ui/keypairs/${lockedKeyId}`);
  const section = page.locator('#failure-sources');
  const text = await section.textContent() ?? '';
  t.regex(text, /203\.0\.113\.24\s*6/);
  t.regex(text, /198\.51\.100\.7\s*2/);
  t.regex(text, /2001:db8::17\s*2/);
  await assertAccessible(t, page, 'locked keypair page with its failure sources');
  await section.screenshot({ path: `${SHOTS}failure-sources.png` });
});

test.serial('bulk actions: tick keypairs (or every row of the page), one confirmation listing them, a result per keypair', async (t) => {
  const names = ['batch job 1', 'batch job 2', 'batch job 3'];
  const ids: string[] = [];
  for (const name of names) ids.push((await tk.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name, comment: 'Retired with the old scheduler', scopes: ['orders:read'] }, 'system')).keypair.keyId);
  await page.goto(`/ui/environments/${tenant.productionId}/keypairs`);
  const all = page.locator('input[data-select-all]');
  const boxes = page.locator('input[name=keyId]');
  t.true(await all.isVisible(), 'the select-all box shows with JavaScript');
  await all.check();
  t.is(await page.locator('input[name=keyId]:checked').count(), await boxes.count());
  await all.uncheck();
  t.is(await page.locator('input[name=keyId]:checked').count(), 0);
  for (const id of ids) await page.locator(`input[name=keyId][value="${id}"]`).check();
  t.true(await all.evaluate((box) => (box as unknown as { indeterminate: boolean }).indeterminate), 'some rows ticked: the header box says so');
  await assertAccessible(t, page, 'keypair list with a selection');
  await page.click('button:has-text("Remove selected")');
  await page.waitForURL(/\/keypairs\/bulk$/);
  const listed = await page.textContent('#bulk-selection') ?? '';
  for (const [i, id] of ids.entries()) t.regex(listed, new RegExp(`${names[i]}\\s*${id}`));
  const submit = page.locator('button:has-text("Remove 3 keypairs")');
  t.true(await submit.isDisabled(), 'disabled until the phrase is typed');
  await page.fill('input[name=confirmText]', 'remove 3 keypairs');
  t.false(await submit.isDisabled());
  await assertAccessible(t, page, 'bulk confirmation');
  await page.screenshot({ path: `${SHOTS}bulk-confirm.png` });
  await submit.click();
  await page.waitForURL(/\/keypairs\/bulk\/confirm$/);
  t.regex(await page.textContent('h1') ?? '', /3 keypairs removed/);
  await assertAccessible(t, page, 'bulk result');
  for (const id of ids) await t.throwsAsync(tk.keyport.domain.keypairs.get(id), { message: /not found/ });
});

test.serial('the access (members) and webhooks pages pass axe too', async (t) => {
  await page.goto(`/ui/accounts/${tenant.accountId}/access`);
  await assertAccessible(t, page, 'account access page (members)');
  await page.goto(`/ui/environments/${tenant.productionId}/access`);
  await assertAccessible(t, page, 'environment access page (members)');
  await page.goto(`/ui/accounts/${tenant.accountId}/webhooks`);
  await assertAccessible(t, page, 'webhooks page, none yet');
  // An endpoint that refuses connections: its page has a delivery log to show.
  const { endpoint } = await tk.keyport.domain.webhooks.create(tenant.accountId, { url: 'http://127.0.0.1:9/keyport', description: 'Alerting' }, 'system');
  await page.goto(`/ui/accounts/${tenant.accountId}/webhooks`);
  await assertAccessible(t, page, 'webhooks page');
  await page.goto(`/ui/webhooks/${endpoint.id}`);
  await assertAccessible(t, page, 'webhook page');
});

test.serial('the account\'s "All environments" list shows each keypair\'s environment, searches comments, and passes axe', async (t) => {
  await page.goto(`/ui/accounts/${tenant.accountId}/keypairs`);
  await page.click('a:has-text("All environments")');
  await page.waitForURL(/\/keypairs\?include=environments$/);
  const rows = page.locator('table.keypairs tbody tr');
  const terraform = rows.filter({ hasText: 'terraform' });
  t.regex(await terraform.locator('td[data-label=Environment]').textContent() ?? '', /the account's own/);
  const billing = rows.filter({ hasText: 'billing export' });
  t.is((await billing.locator('td[data-label=Environment]').textContent())?.trim(), 'production');
  t.is(await page.locator('#bulk').count(), 0, 'no bulk actions across environments');
  await assertAccessible(t, page, 'account-wide keypair list');
  await page.fill('input[name=q]', 'warehouse');
  await page.click('button:has-text("Search")');
  await page.waitForURL(/include=environments&q=warehouse/);
  t.deepEqual(await page.locator('table.keypairs tbody td[data-label=Name] a').allTextContents(), ['billing export']);
});
