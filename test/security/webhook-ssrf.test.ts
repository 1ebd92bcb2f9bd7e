// Webhook endpoints cannot turn Keyport into a way into its own network
// (SSRF): with the default settings, loopback, private and other non-public
// addresses are refused when an endpoint is added, however the address is
// spelled, and again at delivery, on the address actually connected to (a
// name that resolves elsewhere since, an endpoint stored before).
import test from 'ava';
import { sealText } from '../../src/domain/sealed.ts';
import { resolveServerSecrets } from '../../src/server-secrets.ts';
import { accountOwner, ApiClient, createTenant, createUser } from '../helpers/api.ts';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

let tk: TestKeyport;
let receiver: WebhookReceiver;
let accountId: string;
let admin: ApiClient;

test.before(async () => {
  tk = await startTestKeyport({ overrides: { webhooks: { pollMs: 50 } } });
  receiver = await startWebhookReceiver();
  ({ accountId } = await createTenant(tk.keyport, 'Ssrf'));
  await createUser(tk.keyport, 'admin@ssrf.test', [[accountOwner(accountId), 'admin']]);
  admin = await ApiClient.signIn(tk.url, 'admin@ssrf.test');
});
test.after.always(async () => {
  await tk?.close();
  await receiver?.close();
});

test.serial('loopback and private addresses are refused when an endpoint is added, in every spelling', async (t) => {
  const port = new URL(receiver.url).port;
  const refused = [
    `http://127.0.0.1:${port}/hooks/keyport`,
    'https://127.0.0.1/hook',
    'https://127.1.2.3/hook',
    'https://localhost/hook',
    'https://[::1]/hook',
    'https://[::ffff:127.0.0.1]/hook',
    'https://2130706433/hook', // 127.0.0.1 as one number
    'https://0x7f000001/hook',
    'https://0.0.0.0/hook',
    'https://[::]/hook',
    'https://100.64.0.1/hook',
    'https://[fe80::1]/hook',
  ];
  for (const url of refused) {
    const res = await admin.post(`/accounts/${accountId}/webhooks`, { url });
    t.is(res.status, 400, url);
    t.regex(res.body.error.message, /loopback|not a public address/, url);
  }
  t.deepEqual((await admin.get(`/accounts/${accountId}/webhooks`)).body.items, []);
});

test.serial('an endpoint stored with a loopback URL (or a name now resolving to one) is not called at delivery', async (t) => {
  const port = new URL(receiver.url).port;
  const { keyEncryptionKey } = resolveServerSecrets(tk.config);
  const ids = ['whk_SsrfLiteral00000', 'whk_SsrfLocalhost000'];
  const urls = [`http://127.0.0.1:${port}/hooks/keyport`, `http://localhost:${port}/hooks/keyport`];
  for (const [i, id] of ids.entries()) {
    await tk.keyport.database.models.WebhookEndpoint.create({
      _id: id, accountId, url: urls[i], description: '', encryptedSecret: await sealText('whsec_test', id, keyEncryptionKey), secretHint: 'test', createdAt: new Date(), createdBy: 'system',
    });
  }
  await admin.post(`/accounts/${accountId}/keypairs`, { name: 'probe' });
  for (const id of ids) {
    let newest;
    for (let i = 0; i < 200 && !(newest?.attempts >= 1); i++) {
      newest = (await admin.get(`/webhooks/${id}/deliveries`)).body.items[0];
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    t.like(newest, { status: 'pending', attempts: 1, lastResponseStatus: null }, id);
    t.regex(newest.lastError, /^refused: .*loopback/, id);
  }
  t.is(receiver.received.length, 0);
});
