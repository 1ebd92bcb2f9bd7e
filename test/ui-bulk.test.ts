// Bulk actions on the keypair list (src/domain/keypair-bulk.ts, src/http/ui/routes/keypair-bulk.ts):
// checkboxes that post the selected ids (no JavaScript), one confirmation listing
// them by name and key id, a typed confirmation for removal, a result per
// keypair, each change checked and audited like the single action. Forged ids
// (another environment's keypair, one the caller cannot see) are skipped and
// left untouched. Over HTTP against the real server and database, as a browser
// without JavaScript would post.
import anyTest, { type TestFn } from 'ava';
import { accountOwner, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { auditActions } from './helpers/keypair-state.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { decodeEntities, UiClient } from './helpers/ui.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

let n = 0;
const email = (who: string) => `${who}-${++n}@bulk.test`;

/** A tenant with keypairs in production (some disabled), one in staging and one on the account, and an admin of production only. */
async function setup(kp: TestKeyport) {
  const tenant = await createTenant(kp.keyport);
  const { keypairs } = kp.keyport.domain;
  const make = async (owner: { environmentId: string } | { accountId: string }, name: string) => (await keypairs.create(owner, { name, scopes: [] }, 'system')).keypair.keyId;
  const prod = { environmentId: tenant.productionId };
  const ids = {
    alpha: await make(prod, 'alpha worker'),
    beta: await make(prod, 'beta worker'),
    gamma: await make(prod, 'gamma worker'),
    staging: await make({ environmentId: tenant.stagingId }, 'staging secret thing'),
    account: await make({ accountId: tenant.accountId }, 'account wide'),
  };
  await keypairs.setEnabled(ids.gamma, false, 'system');
  const admin = email('prod-admin');
  await createUser(kp.keyport, admin, [[environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  const ui = await UiClient.signIn(kp.url, admin);
  const list = `/ui/environments/${tenant.productionId}/keypairs`;
  const listPage = await ui.get(list);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(listPage.html)![1]!;
  return { tenant, ids, ui, list, listPage, csrf };
}

/** The hidden fields of the confirmation form, repeated keyId fields included. */
function confirmForm(html: string): { action: string; keyIds: string[]; csrf: string } {
  const start = html.indexOf('/keypairs/bulk/confirm"');
  if (start === -1) throw new Error('no confirmation form');
  const form = html.slice(start, html.indexOf('</form>', start));
  const values = (name: string) => [...form.matchAll(new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`, 'g'))].map((m) => decodeEntities(m[1]!));
  return { action: values('action')[0]!, keyIds: values('keyId'), csrf: values('_csrf')[0]! };
}

test('the list has a checkbox per row in the bulk form, and "select all on this page" works without JavaScript', async (t) => {
  const { kp } = t.context;
  const { ids, ui, list, listPage } = await setup(kp);
  t.regex(listPage.html, /<form method="post" action="[^"]*\/keypairs\/bulk" id="bulk"/);
  for (const id of [ids.alpha, ids.beta, ids.gamma]) t.true(listPage.html.includes(`name="keyId" value="${id}" form="bulk"`), id);
  t.false(listPage.html.includes(`value="${ids.alpha}" form="bulk" aria-label="Select alpha worker" checked`));
  const all = await ui.get(`${list}?select=all`);
  for (const id of [ids.alpha, ids.beta, ids.gamma]) t.regex(all.html, new RegExp(`value="${id}" form="bulk"[^>]*checked`), id);
});

test('disable selected: one confirmation by name and key id; forged ids of another environment are skipped, never touched; each disable is audited', async (t) => {
  const { kp } = t.context;
  const { tenant, ids, ui, csrf } = await setup(kp);
  const bulk = `/ui/environments/${tenant.productionId}/keypairs/bulk`;
  const selected = [ids.alpha, ids.beta, ids.gamma, ids.staging, ids.account, 'kp_forged'];
  const confirm = await ui.post(bulk, { _csrf: csrf, action: 'disable', keyId: selected });
  t.is(confirm.status, 200);
  t.regex(confirm.html, /Disable 2 keypairs/);
  for (const [name, id] of [['alpha worker', ids.alpha], ['beta worker', ids.beta]] as const) t.regex(confirm.html, new RegExp(`${name}</td><td data-label="Key id"><code>${id}</code>`));
  t.regex(confirm.html, new RegExp(`gamma worker <code>${ids.gamma}</code>: already disabled`));
  t.false(confirm.html.includes('staging secret thing'), 'a keypair the admin cannot see is not named');
  t.false(confirm.html.includes('account wide'));
  t.true((await kp.keyport.domain.keypairs.get(ids.alpha)).enabled, 'the confirmation changes nothing');

  const form = confirmForm(confirm.html);
  t.deepEqual(form.keyIds, [ids.alpha, ids.beta]);
  // Forged: the staging keypair's id added to the confirmed form.
  const result = await ui.post(`${bulk}/confirm`, { _csrf: form.csrf, action: form.action, keyId: [...form.keyIds, ids.staging, ids.account] });
  t.is(result.status, 200);
  t.regex(result.html, /2 keypairs disabled/);
  t.regex(result.html, new RegExp(`data-key-id="${ids.alpha}"><td data-label="Name">alpha worker</td>[\\s\\S]*?disabled</span>`));
  t.regex(result.html, new RegExp(`data-key-id="${ids.staging}">[\\s\\S]*?skipped</span> not found`));
  t.false(result.html.includes('staging secret thing'));
  const { keypairs } = kp.keyport.domain;
  t.false((await keypairs.get(ids.alpha)).enabled);
  t.false((await keypairs.get(ids.beta)).enabled);
  t.true((await keypairs.get(ids.staging)).enabled, 'another environment\'s keypair is untouched');
  t.true((await keypairs.get(ids.account)).enabled, 'the account\'s keypair is untouched');
  for (const id of [ids.alpha, ids.beta]) {
    const events = await auditActions(kp, id, 'keypair.disabled');
    t.is(events.length, 1, id);
    t.regex(events[0]!.actor, /^user:/);
  }
  t.is((await auditActions(kp, ids.staging, 'keypair.disabled')).length, 0);
});

test('remove selected needs "remove N keypairs" typed; a wrong or missing phrase removes nothing', async (t) => {
  const { kp } = t.context;
  const { tenant, ids, ui, csrf } = await setup(kp);
  const bulk = `/ui/environments/${tenant.productionId}/keypairs/bulk`;
  const confirm = await ui.post(bulk, { _csrf: csrf, action: 'remove', keyId: [ids.alpha, ids.gamma] });
  t.is(confirm.status, 200);
  t.regex(confirm.html, /Type <strong>remove 2 keypairs<\/strong> to confirm/);
  const form = confirmForm(confirm.html);
  for (const confirmText of ['', 'remove 3 keypairs', 'yes', 'alpha worker']) {
    const refused = await ui.post(`${bulk}/confirm`, { _csrf: form.csrf, action: 'remove', keyId: form.keyIds, confirmText });
    t.is(refused.status, 400, confirmText);
    t.regex(refused.html, /Type “remove 2 keypairs” exactly to confirm/);
  }
  t.truthy(await kp.keyport.domain.keypairs.get(ids.alpha));
  const removed = await ui.post(`${bulk}/confirm`, { _csrf: form.csrf, action: 'remove', keyId: form.keyIds, confirmText: 'remove 2 keypairs' });
  t.is(removed.status, 200);
  t.regex(removed.html, /2 keypairs removed/);
  for (const id of [ids.alpha, ids.gamma]) {
    await t.throwsAsync(kp.keyport.domain.keypairs.get(id), { message: /not found/ });
    t.is((await auditActions(kp, id, 'keypair.removed')).length, 1);
  }
  t.truthy(await kp.keyport.domain.keypairs.get(ids.beta));
  // A forged id counted into the phrase still removes only what the admin may manage.
  const forged = await ui.post(`${bulk}/confirm`, { _csrf: form.csrf, action: 'remove', keyId: [ids.beta, ids.staging], confirmText: 'remove 2 keypairs' });
  t.is(forged.status, 200);
  t.regex(forged.html, /1 keypair removed/);
  t.truthy(await kp.keyport.domain.keypairs.get(ids.staging));
});

test('bulk forms are refused without the CSRF token, cross-site, for a member, past 100 ids, or with nothing selected; nothing changes', async (t) => {
  const { kp } = t.context;
  const { tenant, ids, ui, csrf } = await setup(kp);
  const bulk = `/ui/environments/${tenant.productionId}/keypairs/bulk`;
  const body = { action: 'disable', keyId: [ids.alpha] };
  t.is((await ui.post(`${bulk}/confirm`, body)).status, 403, 'no CSRF token');
  t.is((await ui.post(`${bulk}/confirm`, { ...body, _csrf: 'wrong' })).status, 403, 'wrong CSRF token');
  const crossSite = await ui.post(`${bulk}/confirm`, { ...body, _csrf: csrf }, { 'sec-fetch-site': 'cross-site' });
  t.is(crossSite.status, 403);
  t.regex(crossSite.html, /Cross-site/);

  const memberEmail = email('member');
  await createUser(kp.keyport, memberEmail, [[environmentOwner(tenant.accountId, tenant.productionId), 'member']]);
  const member = await UiClient.signIn(kp.url, memberEmail);
  const memberCsrf = /name="_csrf" value="([^"]+)"/.exec((await member.get(`/ui/environments/${tenant.productionId}/keypairs`)).html)![1]!;
  t.is((await member.post(`${bulk}/confirm`, { ...body, _csrf: memberCsrf })).status, 403, 'a member may not');
  t.false((await member.get(`/ui/environments/${tenant.productionId}/keypairs`)).html.includes('id="bulk"'), 'a member sees no bulk form');

  // The staging list itself: this admin administers production only.
  t.is((await ui.post(`/ui/environments/${tenant.stagingId}/keypairs/bulk/confirm`, { action: 'disable', keyId: [ids.staging], _csrf: csrf })).status, 404);

  const tooMany = await ui.post(`${bulk}/confirm`, { _csrf: csrf, action: 'disable', keyId: [ids.alpha, ...Array.from({ length: 100 }, (_, i) => `kp_x${i}`)] });
  t.is(tooMany.status, 400);
  t.regex(tooMany.html, /at most 100 keypairs/);
  t.is((await ui.post(`${bulk}/confirm`, { _csrf: csrf, action: 'disable' })).status, 400, 'nothing selected');
  t.is((await ui.post(`${bulk}/confirm`, { _csrf: csrf, action: 'explode', keyId: [ids.alpha] })).status, 400, 'unknown action');
  t.true((await kp.keyport.domain.keypairs.get(ids.alpha)).enabled);
  t.true((await kp.keyport.domain.keypairs.get(ids.staging)).enabled);
});

test('an account admin acting on the account\'s list reaches only the account\'s own keypairs, not its environments\'', async (t) => {
  const { kp } = t.context;
  const { tenant, ids } = await setup(kp);
  const adminEmail = email('account-admin');
  await createUser(kp.keyport, adminEmail, [[accountOwner(tenant.accountId), 'admin']]);
  const ui = await UiClient.signIn(kp.url, adminEmail);
  const csrf = /name="_csrf" value="([^"]+)"/.exec((await ui.get(`/ui/accounts/${tenant.accountId}/keypairs`)).html)![1]!;
  const result = await ui.post(`/ui/accounts/${tenant.accountId}/keypairs/bulk/confirm`, { _csrf: csrf, action: 'disable', keyId: [ids.account, ids.alpha] });
  t.is(result.status, 200);
  t.regex(result.html, /1 keypair disabled/);
  t.regex(result.html, new RegExp(`data-key-id="${ids.alpha}">[\\s\\S]*?skipped</span> not a keypair of this account`));
  t.false((await kp.keyport.domain.keypairs.get(ids.account)).enabled);
  t.true((await kp.keyport.domain.keypairs.get(ids.alpha)).enabled);
});

test('a whole page of selected keypairs (more than 20 repeated fields) is confirmed and disabled in one go', async (t) => {
  const { kp } = t.context;
  const { tenant, ui, csrf } = await setup(kp);
  const many: string[] = [];
  for (let i = 0; i < 30; i++) many.push((await kp.keyport.domain.keypairs.create({ environmentId: tenant.productionId }, { name: `fleet ${i}`, scopes: [] }, 'system')).keypair.keyId);
  const bulk = `/ui/environments/${tenant.productionId}/keypairs/bulk`;
  const confirm = await ui.post(bulk, { _csrf: csrf, action: 'disable', keyId: many });
  t.is(confirm.status, 200);
  t.regex(confirm.html, /Disable 30 keypairs/);
  const form = confirmForm(confirm.html);
  t.is(form.keyIds.length, 30);
  const result = await ui.post(`${bulk}/confirm`, { _csrf: form.csrf, action: 'disable', keyId: form.keyIds });
  t.regex(result.html, /30 keypairs disabled/);
  for (const id of many) t.false((await kp.keyport.domain.keypairs.get(id)).enabled, id);
});
