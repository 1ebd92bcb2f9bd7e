// `keyport webhook …` as a real process beside a running server: endpoints
// added, listed and removed from the terminal; events of CLI changes are
// queued in the database and delivered by the server; the log and redeliver.
import test from 'ava';
import { verifyWebhook } from 'keyport/verify';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';
import { cliEnv, runCli, type CliResult } from './helpers/cli.ts';


let tk: TestKeyport;
let hook: WebhookReceiver;

test.before(async () => {
  tk = await startTestKeyport({ overrides: { webhooks: { allowLoopback: true, pollMs: 50 } } });
  hook = await startWebhookReceiver();
});
test.after.always(async () => {
  await tk?.close();
  await hook?.close();
});

/** The CLI against this test's database, allowed to add loopback webhook endpoints like the server. */
function cli(args: string[]): Promise<CliResult> {
  return runCli(cliEnv(tk.config, { KEYPORT_WEBHOOKS_ALLOW_LOOPBACK: 'true' }), args);
}

test('webhook add, list, deliveries, redeliver and remove; the server delivers what CLI changes queue', async (t) => {
  const account = await tk.keyport.domain.owners.createAccount({ name: 'Cli' }, 'system');
  const added = await cli(['--json', 'webhook', 'add', '--account', account.id, '--url', hook.url, '--description', 'ops']);
  t.is(added.code, 0, added.stderr);
  const { webhook, secret } = JSON.parse(added.stdout);
  t.regex(secret, /^whsec_/);

  const list = await cli(['webhook', 'list', '--account', account.id]);
  t.is(list.code, 0, list.stderr);
  t.true(list.stdout.includes(webhook.id));
  t.false(list.stdout.includes(secret));

  const created = await cli(['--json', 'keypair', 'create', '--account', account.id, '--name', 'from-cli']);
  t.is(created.code, 0, created.stderr);
  const first = await hook.request(1);
  const event = verifyWebhook({ body: first.body, signature: first.headers['keyport-signature'], secret });
  t.like(event, { type: 'keypair.created', actor: 'cli', keypairId: JSON.parse(created.stdout).keyId });

  // The server records the answer just after the receiver sends it.
  for (let i = 0; i < 200 && (await tk.keyport.domain.webhooks.deliveries(webhook.id, { limit: 1 })).items[0]?.status !== 'delivered'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const deliveries: { id: string; status: string }[] = JSON.parse((await cli(['--json', 'webhook', 'deliveries', webhook.id])).stdout);
  t.is(deliveries[0]!.status, 'delivered');
  const text = await cli(['webhook', 'deliveries', webhook.id]);
  t.regex(text.stdout, /keypair\.created\s+delivered\s+1\s+HTTP 204/);

  const again = await cli(['webhook', 'redeliver', webhook.id, deliveries[0]!.id]);
  t.is(again.code, 0, again.stderr);
  t.is(verifyWebhook({ body: (await hook.request(2)).body, signature: hook.received[1]!.headers['keyport-signature'], secret }).id, event.id);

  const unconfirmed = await cli(['webhook', 'remove', webhook.id]);
  t.is(unconfirmed.code, 2);
  t.regex(unconfirmed.stderr, /--yes/);
  const removed = await cli(['webhook', 'remove', webhook.id, '--yes']);
  t.is(removed.code, 0, removed.stderr);
  const missing = await cli(['webhook', 'deliveries', webhook.id]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /webhook not found/);
});
