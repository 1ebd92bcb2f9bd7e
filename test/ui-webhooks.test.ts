// The web UI's webhook pages without JavaScript: an account admin adds an
// endpoint (secret shown once, in the POST answer), sees the delivery log and
// redelivers; others see no tab and get 403 or 404.
import test from 'ava';
import { verifyWebhook } from 'keyport/verify';
import { accountOwner, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { hiddenFields, textOf, UiClient } from './helpers/ui.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

let tk: TestKeyport;
let hook: WebhookReceiver;
let tenant: Awaited<ReturnType<typeof createTenant>>;

test.before(async () => {
  tk = await startTestKeyport({ overrides: { webhooks: { allowLoopback: true, pollMs: 50 } } });
  hook = await startWebhookReceiver();
  tenant = await createTenant(tk.keyport, 'Ui');
  await createUser(tk.keyport, 'admin@ui.test', [[accountOwner(tenant.accountId), 'admin']]);
  await createUser(tk.keyport, 'env-admin@ui.test', [[environmentOwner(tenant.accountId, tenant.productionId), 'admin']]);
  await createUser(tk.keyport, 'member@ui.test', [[accountOwner(tenant.accountId), 'member']]);
  const other = await createTenant(tk.keyport, 'Other');
  await createUser(tk.keyport, 'stranger@ui.test', [[accountOwner(other.accountId), 'admin']]);
});
test.after.always(async () => {
  await tk?.close();
  await hook?.close();
});

test.serial('an account admin adds an endpoint, copies its secret once, sees deliveries and redelivers', async (t) => {
  const ui = await UiClient.signIn(tk.url, 'admin@ui.test');
  const listPath = `/ui/accounts/${tenant.accountId}/webhooks`;
  const account = await ui.get(`/ui/accounts/${tenant.accountId}`);
  t.true(account.html.includes(`href="${listPath}"`));

  const bad = await ui.submit(listPath, listPath, { url: 'https://10.0.0.1/hook' });
  t.is(bad.status, 400);
  t.regex(bad.html, /not a public address/);

  const form = await ui.get(listPath);
  const hidden = hiddenFields(form.html, listPath);
  const added = await ui.post(listPath, { ...hidden, url: hook.url, description: 'ops receiver' });
  t.is(added.status, 200);
  t.is(added.headers.get('cache-control'), 'no-store');
  const secret = textOf(added.html, 'secret')!;
  t.regex(secret, /^whsec_/);
  // The same form again adds nothing and shows no secret.
  const again = await ui.post(listPath, { ...hidden, url: hook.url });
  t.is(again.status, 303);
  const listed = await ui.get(listPath);
  t.false(listed.html.includes(secret));
  const webhookId = /\/ui\/webhooks\/(whk_[0-9A-Za-z]{16})/.exec(listed.html)![1]!;
  t.is((await tk.keyport.domain.webhooks.list(tenant.accountId)).length, 1);

  await tk.keyport.domain.keypairs.create({ environmentId: tenant.stagingId }, { name: 'seen' }, 'system');
  const received = await hook.request(1);
  t.is(verifyWebhook({ body: received.body, signature: received.headers['keyport-signature'], secret }).type, 'keypair.created');
  let page = await ui.get(`/ui/webhooks/${webhookId}`);
  for (let i = 0; i < 100 && !page.html.includes('>delivered<'); i++) page = await ui.get(`/ui/webhooks/${webhookId}`);
  t.is(page.status, 200);
  t.regex(page.html, /keypair\.created/);
  t.regex(page.html, />delivered</);
  t.regex(page.html, /HTTP 204/);
  t.false(page.html.includes(secret));

  const deliveryId = /deliveries\/(whd_[0-9A-Za-z]{20})\/redeliver/.exec(page.html)![1]!;
  const redeliver = `/ui/webhooks/${webhookId}/deliveries/${deliveryId}/redeliver`;
  const queued = await ui.post(redeliver, hiddenFields(page.html, redeliver));
  t.is(queued.status, 303);
  t.is((await hook.request(2)).headers['keyport-event-id'], received.headers['keyport-event-id']);

  const remove = `/ui/webhooks/${webhookId}/remove`;
  const removed = await ui.post(remove, hiddenFields((await ui.get(`/ui/webhooks/${webhookId}`)).html, remove));
  t.is(removed.status, 303);
  t.is((await ui.get(`/ui/webhooks/${webhookId}`)).status, 404);
});

test.serial('members and environment admins see no webhooks tab and get 403; strangers 404', async (t) => {
  const { endpoint } = await tk.keyport.domain.webhooks.create(tenant.accountId, { url: hook.url }, 'system');
  for (const email of ['member@ui.test', 'env-admin@ui.test']) {
    const ui = await UiClient.signIn(tk.url, email);
    const account = await ui.get(`/ui/accounts/${tenant.accountId}`);
    t.false(account.html.includes('/webhooks"'), email);
    t.is((await ui.get(`/ui/accounts/${tenant.accountId}/webhooks`)).status, 403, email);
    t.is((await ui.get(`/ui/webhooks/${endpoint.id}`)).status, 403, email);
  }
  const stranger = await UiClient.signIn(tk.url, 'stranger@ui.test');
  t.is((await stranger.get(`/ui/accounts/${tenant.accountId}/webhooks`)).status, 404);
  t.is((await stranger.get(`/ui/webhooks/${endpoint.id}`)).status, 404);
  t.is((await stranger.get('/ui/webhooks/nonsense')).status, 404);
});
