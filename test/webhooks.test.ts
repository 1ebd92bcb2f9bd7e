// Webhooks over HTTP: a local receiver gets the account's keypair events,
// signed (checked with keyport/verify's verifyWebhook), retried with
// exponential backoff (driven by the test clock), failed after the retry
// period, redelivered on request, kept across a restart; a dead endpoint holds
// up no other account; account admins only.
import test from 'ava';
import { verifyWebhook, WebhookSignatureError } from 'keyport/verify';
import { ADMIN_API_RESOURCE } from '../src/http/api/auth.ts';
import { accountOwner, ApiClient, createTenant, createUser, environmentOwner } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { newSecret } from '../src/domain/credentials.ts';
import { startKeyport } from '../src/keyport.ts';
import { getToken, tokenRequest } from './helpers/oauth.ts';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from './helpers/webhook-receiver.ts';

const RETRY_BASE_MS = 60_000;

let tk: TestKeyport;
const receivers: WebhookReceiver[] = [];

test.before(async () => {
  tk = await startTestKeyport({
    // Loopback receivers over http are what the tests can run; the first retry
    // waits a minute, so retries happen only when a test moves the clock.
    overrides: { webhooks: { allowLoopback: true, retryBaseMs: RETRY_BASE_MS, pollMs: 50, timeoutMs: 60_000 } },
  });
});
test.after.always(async () => {
  await tk?.close();
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver();
  receivers.push(r);
  return r;
}

/** A fresh account with its admin signed in. */
async function tenantWithAdmin(name: string) {
  const tenant = await createTenant(tk.keyport, name);
  const email = `admin@${name.toLowerCase()}.test`;
  await createUser(tk.keyport, email, [[accountOwner(tenant.accountId), 'admin']]);
  return { ...tenant, admin: await ApiClient.signIn(tk.url, email) };
}

async function addEndpoint(admin: ApiClient, accountId: string, url: string) {
  const res = await admin.post(`/accounts/${accountId}/webhooks`, { url, description: 'test receiver' });
  if (res.status !== 201) throw new Error(`cannot add endpoint: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { webhook: { id: string }; secret: string };
}

/** Polls until `check` holds for the endpoint's newest delivery (the worker writes in the background). */
async function deliveryWhen(admin: ApiClient, webhookId: string, check: (d: any) => boolean): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  for (let i = 0; i < 400; i++) {
    const log = await admin.get(`/webhooks/${webhookId}/deliveries`);
    const newest = log.body.items?.[0];
    if (newest && check(newest)) return newest;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the delivery never reached the expected state');
}

const verified = (r: ReceivedWebhook, secret: string) => verifyWebhook({ body: r.body, signature: r.headers['keyport-signature'], secret });

test.serial('each keypair event reaches the account\'s endpoint, signed; verifyWebhook refuses a changed body, another secret and an old timestamp', async (t) => {
  const { accountId, productionId, admin } = await tenantWithAdmin('Signed');
  const hook = await receiver();
  const created = await admin.post(`/accounts/${accountId}/webhooks`, { url: hook.url });
  t.is(created.status, 201, JSON.stringify(created.body));
  t.is(created.headers.get('cache-control'), 'no-store');
  const { webhook, secret } = created.body;
  t.regex(secret, /^whsec_[0-9A-Za-z]{40}$/);
  t.like(webhook, { accountId, url: hook.url, secretHint: `whsec_…${secret.slice(-4)}` });
  // Never shown again, and stored only encrypted.
  const read = await admin.get(`/webhooks/${webhook.id}`);
  t.is(read.status, 200);
  t.false(JSON.stringify(read.body).includes(secret));
  t.false(JSON.stringify((await admin.get(`/accounts/${accountId}/webhooks`)).body).includes(secret));
  const stored = await tk.keyport.database.models.WebhookEndpoint.findById(webhook.id).lean();
  t.truthy(stored);
  t.false(JSON.stringify(stored).includes(secret.slice(6)));

  // An environment's keypair: its events go to the account's endpoints.
  const keypair = await admin.post(`/environments/${productionId}/keypairs`, { name: 'ci', scopes: ['orders:read'] });
  const keyId = keypair.body.keypair.keyId;
  const first = await hook.request(1);
  const event = verified(first, secret);
  t.like(event, { type: 'keypair.created', accountId, environmentId: productionId, keypairId: keyId, data: { name: 'ci', scopes: ['orders:read'] } });
  t.is(first.headers['keyport-event-id'], event.id);
  t.is(first.headers['keyport-event-type'], 'keypair.created');
  t.is(first.headers['content-type'], 'application/json');
  t.false(first.body.includes('kps_'));

  t.throws(() => verifyWebhook({ body: first.body.replace('"ci"', '"cd"'), signature: first.headers['keyport-signature'], secret }), { instanceOf: WebhookSignatureError, code: 'signature_mismatch' } as never);
  t.throws(() => verifyWebhook({ body: first.body, signature: first.headers['keyport-signature'], secret: `${secret}x` }), { code: 'signature_mismatch' } as never);
  t.throws(() => verifyWebhook({ body: first.body, signature: first.headers['keyport-signature'], secret, now: new Date(Date.now() + 6 * 60_000) }), { code: 'timestamp_outside_tolerance' } as never);
  t.throws(() => verifyWebhook({ body: first.body, signature: undefined, secret }), { code: 'missing_signature' } as never);
  // Several secrets (the receiver changing its own): any one may match.
  t.is(verifyWebhook({ body: first.body, signature: first.headers['keyport-signature'], secret: ['whsec_old', secret] }).id, event.id);

  // An edit is not a webhook event: the next one to arrive is the rotation.
  await admin.patch(`/keypairs/${keyId}`, { comment: 'not an event' });
  await admin.post(`/keypairs/${keyId}/rotate`, { grace: '1h' });
  t.is(verified(await hook.request(2), secret).type, 'keypair.rotated');
  await admin.post(`/keypairs/${keyId}/disable`);
  t.is(verified(await hook.request(3), secret).type, 'keypair.disabled');
  await admin.delete(`/keypairs/${keyId}`);
  t.like(verified(await hook.request(4), secret), { type: 'keypair.removed', keypairId: keyId });

  const delivered = await deliveryWhen(admin, webhook.id, (d) => d.type === 'keypair.removed' && d.status === 'delivered');
  t.like(delivered, { attempts: 1, lastResponseStatus: 204, nextAttemptAt: null });
  const audit = await admin.get(`/accounts/${accountId}/audit?limit=50`);
  t.true(audit.body.items.some((e: { action: string; details: { webhookId?: string } }) => e.action === 'webhook.created' && e.details.webhookId === webhook.id));
});

test.serial('a key locked by wrong secrets at the token endpoint is sent as keypair.locked, by the system', async (t) => {
  const { accountId, admin } = await tenantWithAdmin('Locked');
  const hook = await receiver();
  const { secret } = await addEndpoint(admin, accountId, hook.url);
  const keyId = (await admin.post(`/accounts/${accountId}/keypairs`, { name: 'guessed' })).body.keypair.keyId;
  t.is(verified(await hook.request(1), secret).type, 'keypair.created');
  for (let i = 0; i < tk.config.lockout.maxFailures; i++) {
    t.is((await tokenRequest(tk.url, { keyId, secret: newSecret() })).status, 401);
  }
  t.like(verified(await hook.request(2), secret), { type: 'keypair.locked', keypairId: keyId, actor: 'system' });
});

test.serial('a failing endpoint is retried with exponential backoff, the same event each time, until it answers 2xx', async (t) => {
  const { accountId, admin } = await tenantWithAdmin('Retried');
  const hook = await receiver();
  hook.answer = 500;
  const { webhook, secret } = await addEndpoint(admin, accountId, hook.url);
  await admin.post(`/accounts/${accountId}/keypairs`, { name: 'flaky' });
  const first = verified(await hook.request(1), secret);

  const afterOne = await deliveryWhen(admin, webhook.id, (d) => d.attempts === 1);
  t.like(afterOne, { status: 'pending', lastResponseStatus: 500 });
  t.is(Date.parse(afterOne.nextAttemptAt) - Date.parse(afterOne.lastAttemptAt), RETRY_BASE_MS);

  tk.clock.advance(RETRY_BASE_MS);
  const second = verified(await hook.request(2), secret);
  const afterTwo = await deliveryWhen(admin, webhook.id, (d) => d.attempts === 2);
  t.is(Date.parse(afterTwo.nextAttemptAt) - Date.parse(afterTwo.lastAttemptAt), 2 * RETRY_BASE_MS);

  hook.answer = 204;
  tk.clock.advance(2 * RETRY_BASE_MS);
  const third = verified(await hook.request(3), secret);
  t.is(second.id, first.id);
  t.is(third.id, first.id);
  const done = await deliveryWhen(admin, webhook.id, (d) => d.status === 'delivered');
  t.like(done, { attempts: 3, lastResponseStatus: 204 });
  t.is(hook.received.length, 3);
});

test.serial('retries stop after the retry period: the delivery fails (audited); redeliver sends the event again (audited)', async (t) => {
  const { accountId, admin: firstSession } = await tenantWithAdmin('Failed');
  let admin = firstSession;
  const hook = await receiver();
  hook.answer = 503;
  const { webhook, secret } = await addEndpoint(admin, accountId, hook.url);
  await admin.post(`/accounts/${accountId}/keypairs`, { name: 'gone' });
  await hook.request(1);
  await deliveryWhen(admin, webhook.id, (d) => d.attempts === 1);

  tk.clock.advance(25 * 3_600_000);
  admin = await ApiClient.signIn(tk.url, 'admin@failed.test'); // the session ended meanwhile
  await hook.request(2);
  const failed = await deliveryWhen(admin, webhook.id, (d) => d.status === 'failed');
  t.like(failed, { attempts: 2, lastResponseStatus: 503, nextAttemptAt: null });
  let audit = await admin.get(`/accounts/${accountId}/audit?limit=50`);
  t.true(audit.body.items.some((e: { action: string; actor: string; details: { deliveryId?: string } }) => e.action === 'webhook.delivery_failed' && e.actor === 'system' && e.details.deliveryId === failed.id));

  hook.answer = 200;
  const again = await admin.post(`/webhooks/${webhook.id}/deliveries/${failed.id}/redeliver`);
  t.is(again.status, 201, JSON.stringify(again.body));
  t.like(again.body, { redeliveryOf: failed.id, eventId: failed.eventId, status: 'pending', attempts: 0 });
  const resent = verified(await hook.request(3), secret);
  t.is(resent.id, failed.eventId);
  const delivered = await deliveryWhen(admin, webhook.id, (d) => d.id === again.body.id && d.status === 'delivered');
  t.is(delivered.attempts, 1);
  // The failed one stays in the log as it was.
  t.is((await admin.get(`/webhooks/${webhook.id}/deliveries/${failed.id}`)).body.status, 'failed');
  audit = await admin.get(`/accounts/${accountId}/audit?limit=50`);
  t.true(audit.body.items.some((e: { action: string; details: { redeliveryOf?: string } }) => e.action === 'webhook.redelivered' && e.details.redeliveryOf === failed.id));
  // Redelivery events are not themselves sent as webhooks.
  t.is(hook.received.length, 3);
});

test.serial('a pending delivery survives a restart of Keyport', async (t) => {
  const { accountId, admin } = await tenantWithAdmin('Restarted');
  const hook = await receiver();
  hook.answer = 503;
  const { webhook, secret } = await addEndpoint(admin, accountId, hook.url);
  await admin.post(`/accounts/${accountId}/keypairs`, { name: 'durable' });
  const before = verified(await hook.request(1), secret);
  await deliveryWhen(admin, webhook.id, (d) => d.attempts === 1);

  await tk.restart();
  hook.answer = 204;
  tk.clock.advance(RETRY_BASE_MS);
  const after = verified(await hook.request(2), secret);
  t.is(after.id, before.id);
  t.like(await deliveryWhen(admin, webhook.id, (d) => d.status === 'delivered'), { attempts: 2 });
});

test.serial('the audit record is the outbox (one write): an event whose deliveries could not be written with it stands marked, and is delivered once from the mark, also after a restart', async (t) => {
  const { accountId, admin } = await tenantWithAdmin('Outbox');
  const hook = await receiver();
  const { webhook, secret } = await addEndpoint(admin, accountId, hook.url);
  const audit = () => tk.keyport.database.connection.db!.collection('audit_events');
  // The deliveries cannot be written (as if the process stopped right after the audit record): in the call, and in this process's worker.
  const model = tk.keyport.database.models.WebhookDelivery;
  const insertMany = model.insertMany;
  model.insertMany = (() => Promise.reject(new Error('injected: the deliveries are not written')));
  let keyId = '';
  try {
    const created = await admin.post(`/accounts/${accountId}/keypairs`, { name: 'outboxed' });
    t.is(created.status, 201, 'the change stands');
    keyId = created.body.keypair.keyId;
    t.like(await audit().findOne({ keypairId: keyId, action: 'keypair.created' }), { webhook: 'pending' }, 'its event is marked for delivery, in the same record');
    t.deepEqual((await admin.get(`/webhooks/${webhook.id}/deliveries`)).body.items, []);
  } finally {
    model.insertMany = insertMany;
  }
  await tk.restart();
  const received = verified(await hook.request(1), secret);
  t.like(received, { type: 'keypair.created', keypairId: keyId, accountId });
  t.like(await deliveryWhen(admin, webhook.id, (d) => d.status === 'delivered'), { eventId: received.id, attempts: 1 });
  t.is((await audit().findOne({ keypairId: keyId, action: 'keypair.created' }))?.webhook, undefined, 'the mark is cleared once its deliveries are written');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(hook.received.length, 1, 'delivered once');
});

test.serial('two server processes on one database: one of them delivers (the lease), so each event arrives once', async (t) => {
  const other = await startKeyport({ ...tk.config, server: { ...tk.config.server, port: 0 } }, { clock: tk.clock });
  try {
    const { accountId, admin } = await tenantWithAdmin('Pair');
    const hook = await receiver();
    const { webhook, secret } = await addEndpoint(admin, accountId, hook.url);
    // Events queued by both processes.
    for (let i = 0; i < 6; i++) await (i % 2 ? other.domain : tk.keyport.domain).keypairs.create({ accountId }, { name: `k${i}` }, 'system');
    await hook.request(6);
    for (let i = 0; i < 200; i++) {
      const log = await tk.keyport.domain.webhooks.deliveries(webhook.id, { limit: 10 });
      if (log.items.length === 6 && log.items.every((d) => d.status === 'delivered')) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const log = await tk.keyport.domain.webhooks.deliveries(webhook.id, { limit: 10 });
    t.deepEqual(log.items.map((d) => d.attempts), [1, 1, 1, 1, 1, 1]);
    t.is(hook.received.length, 6);
    t.is(new Set(hook.received.map((r) => verified(r, secret).id)).size, 6);
  } finally {
    await other.close();
  }
});

test.serial('a dead endpoint holds up no other account\'s deliveries', async (t) => {
  const dead = await tenantWithAdmin('Dead');
  const alive = await tenantWithAdmin('Alive');
  const hang = await receiver();
  hang.answer = 'hang'; // accepts the request and never answers
  const ok = await receiver();
  await addEndpoint(dead.admin, dead.accountId, hang.url);
  const { secret } = await addEndpoint(alive.admin, alive.accountId, ok.url);

  await dead.admin.post(`/accounts/${dead.accountId}/keypairs`, { name: 'one' });
  await dead.admin.post(`/accounts/${dead.accountId}/keypairs`, { name: 'two' });
  await hang.request(1);
  await alive.admin.post(`/accounts/${alive.accountId}/keypairs`, { name: 'served' });
  t.is(verified(await ok.request(1), secret).type, 'keypair.created');
  // The dead endpoint's first request is still unanswered, and its second event waits behind it.
  t.false(hang.received[0]!.answered);
  t.is(hang.received.length, 1);
});

test.serial('only account admins see and manage webhooks; others get 403, strangers 404', async (t) => {
  const { accountId, productionId, admin } = await tenantWithAdmin('Guarded');
  const hook = await receiver();
  const { webhook, secret } = await addEndpoint(admin, accountId, hook.url);

  await createUser(tk.keyport, 'env-admin@guarded.test', [[environmentOwner(accountId, productionId), 'admin']]);
  await createUser(tk.keyport, 'member@guarded.test', [[accountOwner(accountId), 'member']]);
  const envAdmin = await ApiClient.signIn(tk.url, 'env-admin@guarded.test');
  const member = await ApiClient.signIn(tk.url, 'member@guarded.test');
  const automation = await tk.keyport.domain.keypairs.create({ accountId }, { name: 'tf', scopes: ['keyport:manage'] }, 'system');
  const token = ApiClient.withToken(tk.url, await getToken(tk.url, { keyId: automation.keypair.keyId, secret: automation.secret, resource: ADMIN_API_RESOURCE }));
  const stranger = (await tenantWithAdmin('Stranger')).admin;

  for (const caller of [envAdmin, member, token]) {
    t.is((await caller.get(`/accounts/${accountId}/webhooks`)).status, 403);
    t.is((await caller.post(`/accounts/${accountId}/webhooks`, { url: hook.url })).status, 403);
    t.is((await caller.get(`/webhooks/${webhook.id}/deliveries`)).status, 403);
    t.is((await caller.delete(`/webhooks/${webhook.id}`)).status, 403);
  }
  for (const res of [await stranger.get(`/accounts/${accountId}/webhooks`), await stranger.get(`/webhooks/${webhook.id}`), await stranger.delete(`/webhooks/${webhook.id}`)]) {
    t.is(res.status, 404);
  }
  t.is((await stranger.get(`/webhooks/${webhook.id}`)).body.error.message, 'webhook not found');
  t.is((await admin.get('/webhooks/whk_0000000000000000')).status, 404);
  t.is((await admin.get('/webhooks/nonsense')).status, 404);

  // The automation keypair made above was an event of the account: it was sent.
  t.is(verifyWebhook({ body: (await hook.request(1)).body, signature: hook.received[0]!.headers['keyport-signature'], secret }).type, 'keypair.created');
  t.is((await admin.delete(`/webhooks/${webhook.id}`)).status, 204);
  t.is((await admin.get(`/webhooks/${webhook.id}`)).status, 404);
  const audit = await admin.get(`/accounts/${accountId}/audit?limit=50`);
  t.true(audit.body.items.some((e: { action: string; details: { webhookId?: string } }) => e.action === 'webhook.removed' && e.details.webhookId === webhook.id));
  // Removed: its account's events are no longer sent to it.
  await admin.post(`/accounts/${accountId}/keypairs`, { name: 'after-removal' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(hook.received.length, 1);
});

test.serial('URLs that are not https on a public address, or hold credentials, are refused with 400 and nothing is added', async (t) => {
  const { accountId, admin } = await tenantWithAdmin('Urls');
  const cases: [string, RegExp][] = [
    ['not a url', /not a valid URL/],
    ['ftp://example.com/hook', /https/],
    ['http://93.184.216.34/hook', /must use https/],
    ['https://user:pass@127.0.0.1/hook', /user name or password/],
    ['https://10.1.2.3/hook', /not a public address/],
    ['https://169.254.169.254/latest/meta-data', /not a public address/],
    ['https://[fd00::1]/hook', /not a public address/],
    ['https://[::ffff:10.0.0.1]/hook', /not a public address/],
    ['https://192.168.1.10:8443/hook', /not a public address/],
  ];
  for (const [url, message] of cases) {
    const res = await admin.post(`/accounts/${accountId}/webhooks`, { url });
    t.is(res.status, 400, url);
    t.is(res.body.error.code, 'validation_failed', url);
    t.regex(res.body.error.message, message, url);
  }
  t.is((await admin.post(`/accounts/${accountId}/webhooks`, { url: 'https://127.0.0.1/x', secret: 'mine' })).status, 400);
  t.deepEqual((await admin.get(`/accounts/${accountId}/webhooks`)).body.items, []);
});

test.serial('an account has at most 10 endpoints', async (t) => {
  const { accountId, admin } = await tenantWithAdmin('Many');
  for (let i = 0; i < 10; i++) t.is((await admin.post(`/accounts/${accountId}/webhooks`, { url: `http://127.0.0.1:9/hook${i}` })).status, 201);
  const eleventh = await admin.post(`/accounts/${accountId}/webhooks`, { url: 'http://127.0.0.1:9/hook10' });
  t.is(eleventh.status, 400);
  t.regex(eleventh.body.error.message, /at most 10/);
});
