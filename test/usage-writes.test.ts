// What successful authentications cost the database: nothing per request, and
// per key and batch ONE update of the keypair that carries everything (the
// per-secret use counts, the per-public-key last use, the keypair's lastUsedAt),
// whether the client authenticates with a secret or with a key
// (private_key_jwt), and the day's count for the usage chart. Counted from the
// driver's own command events (every write the server sends), over HTTP
// against a real Keyport on the embedded database.
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import anyTest, { type TestFn } from 'ava';
import { calculateJwkThumbprint } from 'jose';
import type { CommandStartedEvent } from 'mongodb';
import { startTracing } from '../src/tracing.ts';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { assertionFields, clientAssertion, newSigner } from './helpers/assertions.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { rawKeypair } from './helpers/keypair-state.ts';
import { tokenRequest } from './helpers/oauth.ts';

type Tenant = Awaited<ReturnType<typeof createTenant>>;
const test = anyTest.serial as TestFn<{ kp: TestKeyport; tenant: Tenant; admin: ApiClient }>;

test.before(async (t) => {
  // Traces on: the database connection then emits its command events (src/tracing.ts), which this test counts.
  const tracing = startTracing({}, { spanProcessor: new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() }) })!;
  const kp = await startTestKeyport({ tracing });
  const tenant = await createTenant(kp.keyport);
  await createUser(kp.keyport, 'admin@writes.test', [[accountOwner(tenant.accountId), 'admin']]);
  t.context = { kp, tenant, admin: await ApiClient.signIn(kp.url, 'admin@writes.test') };
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

/** The writes of the keypairs collection that name `keyId`, as the server sends them from now on. */
function keypairWrites(kp: TestKeyport, keyId: string): { readonly count: number; stop(): void } {
  const client = kp.keyport.database.connection.getClient();
  let count = 0;
  const listener = (event: CommandStartedEvent) => {
    const command = event.command as Record<string, unknown>;
    if (command[event.commandName] !== 'keypairs') return;
    const filters = event.commandName === 'update' ? (command.updates as { q: { _id?: unknown } }[]).map((u) => u.q)
      : event.commandName === 'findAndModify' ? [command.query as { _id?: unknown }]
        : event.commandName === 'delete' ? (command.deletes as { q: { _id?: unknown } }[]).map((d) => d.q)
          : event.commandName === 'insert' ? (command.documents as { _id?: unknown }[]) : [];
    count += filters.filter((filter) => filter?._id === keyId).length;
  };
  client.on('commandStarted', listener);
  return { get count() { return count; }, stop: () => client.off('commandStarted', listener) };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

async function todayAuthenticated(admin: ApiClient, keyId: string): Promise<number> {
  const usage = await admin.get(`/keypairs/${keyId}/usage?days=1`);
  if (usage.status !== 200) throw new Error(`usage: ${usage.status}`);
  return (usage.body.days as { authenticated: number }[])[0]!.authenticated;
}

test('secret authentications: no write per request; each batch is one update of the keypair with the use counts and lastUsedAt', async (t) => {
  const { kp, tenant, admin } = t.context;
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'by-secret', scopes: ['orders:read'] });
  t.is(created.status, 201);
  const key = { keyId: created.body.keypair.keyId as string, secret: created.body.secret as string };
  const writes = keypairWrites(kp, key.keyId);
  t.teardown(writes.stop);

  for (let i = 0; i < 5; i++) t.is((await tokenRequest(kp.url, key)).status, 200);
  await settle();
  t.is(writes.count, 0, 'nothing written per request, not even lastUsedAt');

  // An admin read writes the batch first (as the timer would, about once a minute).
  const read = await admin.get(`/keypairs/${key.keyId}`);
  t.is(writes.count, 1, 'one update for the whole batch');
  t.like(read.body.secrets[0], { useCount: 5 });
  const doc = await rawKeypair(kp, key.keyId);
  t.truthy(doc.lastUsedAt, 'lastUsedAt rode on the same update');
  t.deepEqual(doc.lastUsedAt, doc.secrets[0]!.lastUsedAt);

  for (let i = 0; i < 3; i++) t.is((await tokenRequest(kp.url, key)).status, 200);
  await settle();
  t.is(writes.count, 1, 'still nothing per request');
  await kp.keyport.domain.keypairAuth.usageRecorded(key.keyId);
  t.is(writes.count, 2, 'the next batch: one more update');
  const after = await rawKeypair(kp, key.keyId);
  t.is(after.secrets[0]!.useCount, 8);
  t.true(after.lastUsedAt! >= doc.lastUsedAt!);
  t.is(await todayAuthenticated(admin, key.keyId), 8);
});

test('key authentications (private_key_jwt): no write per request; the batch is one update with the key\'s last use and lastUsedAt, and the day counts them', async (t) => {
  const { kp, tenant, admin } = t.context;
  const signer = await newSigner();
  const created = await admin.post(`/environments/${tenant.productionId}/keypairs`, { name: 'by-key', scopes: ['orders:read'], secret: false, publicKeys: [signer.publicJwk] });
  t.is(created.status, 201, JSON.stringify(created.body));
  const keyId = created.body.keypair.keyId as string;
  const thumbprint = await calculateJwkThumbprint(signer.publicJwk);
  const writes = keypairWrites(kp, keyId);
  t.teardown(writes.stop);

  for (let i = 0; i < 3; i++) {
    const response = await fetch(`${kp.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...assertionFields(await clientAssertion(`${kp.url}/oauth/token`, keyId, signer)) }),
    });
    t.is(response.status, 200, await response.text());
  }
  await settle();
  t.is(writes.count, 0, 'nothing written per request');

  t.is(await todayAuthenticated(admin, keyId), 3, 'the day counts key authentications too');
  t.is(writes.count, 1, 'one update for the whole batch');
  const doc = await rawKeypair(kp, keyId);
  t.truthy(doc.keysLastUsedAt?.[thumbprint]);
  t.deepEqual(doc.lastUsedAt, doc.keysLastUsedAt![thumbprint]);
  const read = await admin.get(`/keypairs/${keyId}`);
  t.is(read.body.publicKeys[0].lastUsedAt, doc.lastUsedAt!.toISOString());
  t.is(read.body.lastUsedAt, doc.lastUsedAt!.toISOString());
});
