// A keypair's usage per day (issue: traces and usage): successful authentications
// and counted failures, written from the batched writes (never one per request),
// shown by the admin API, the CLI's reading of the same store, and the keypair
// page's chart; kept 90 days.
import anyTest, { type TestFn } from 'ava';
import { accountOwner, ApiClient, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { seedKeypair, tokenRequest } from './helpers/oauth.ts';
import { UiClient } from './helpers/ui.ts';
import { DailyUsage, lastDays, startOfDay } from '../src/domain/daily-usage.ts';
import { MongooseKeypairUsageStore } from '../src/db/keypair-usage-store.ts';

const test = anyTest.serial as TestFn<{ kp: TestKeyport }>;
const DAY = 86_400_000;

test.before(async (t) => {
  t.context.kp = await startTestKeyport({ overrides: { lockout: { mode: 'temporary', maxFailures: 50, durationSeconds: 900, maxTemporaryLocks: 5, maxFailuresPerAddress: 10_000, throttleDelayMs: 0 } } });
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

test('days are UTC midnights, oldest first, ending today', (t) => {
  const now = new Date('2026-11-30T17:45:00Z');
  t.deepEqual(startOfDay(now), new Date('2026-11-30T00:00:00Z'));
  t.deepEqual(lastDays(now, 3).map((d) => d.toISOString().slice(0, 10)), ['2026-11-28', '2026-11-29', '2026-11-30']);
});

test('token requests and wrong secrets show as today\'s counts, over the API, with no database write per request', async (t) => {
  const { kp } = t.context;
  const tenant = await createTenant(kp.keyport);
  await createUser(kp.keyport, 'admin@usage.test', [[accountOwner(tenant.accountId), 'admin']]);
  const admin = await ApiClient.signIn(kp.url, 'admin@usage.test');
  const created = await kp.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'counted', scopes: ['orders:read'] }, 'system');
  const key = { keyId: created.keypair.keyId, secret: created.secret };
  const other = await seedKeypair(kp.keyport);

  const writes: string[] = [];
  const model = kp.keyport.database.models.KeypairUsageDay;
  const updateOne = model.updateOne.bind(model);
  model.updateOne = ((...args: Parameters<typeof model.updateOne>) => { writes.push('write'); return updateOne(...args); }) as typeof model.updateOne;
  t.teardown(() => { model.updateOne = updateOne; });

  for (let i = 0; i < 5; i++) t.is((await tokenRequest(kp.url, key)).status, 200);
  t.is(writes.length, 0, 'nothing written per token request: the count waits for the usage batch (about once a minute)');
  // Failures ride on the failure counts' own batched writes (written just after the answers).
  for (let i = 0; i < 3; i++) t.is((await tokenRequest(kp.url, { keyId: key.keyId, secret: other.secret })).status, 401);
  await kp.keyport.domain.keypairAuth.failuresCounted(key.keyId);
  t.true(writes.length <= 3, `at most one per failure-count batch (${writes.length})`);

  const usage = await admin.get(`/keypairs/${key.keyId}/usage?days=7`);
  t.is(usage.status, 200);
  const days = usage.body.days as { day: string; authenticated: number; failed: number }[];
  t.is(days.length, 7);
  t.is(days.at(-1)!.day, kp.clock.now().toISOString().slice(0, 10));
  t.deepEqual(days.at(-1), { day: days.at(-1)!.day, authenticated: 5, failed: 3 });
  t.true(days.slice(0, -1).every((d) => d.authenticated === 0 && d.failed === 0));
  t.true(writes.length <= 4, `plus one for the usage batch the read flushed (${writes.length})`);

  t.is((await admin.get(`/keypairs/${key.keyId}/usage?days=91`)).status, 400, 'at most 90 days');
  t.is((await admin.get(`/keypairs/${key.keyId}/usage?days=0`)).status, 400);
  t.is((await admin.get('/keypairs/kp_000000000000000000000000/usage')).status, 404);
});

test('the keypair page draws the last 30 days as inline SVG with a summary in words', async (t) => {
  const { kp } = t.context;
  const tenant = await createTenant(kp.keyport, 'Chart');
  await createUser(kp.keyport, 'viewer@usage.test', [[accountOwner(tenant.accountId), 'admin']]);
  const issued = await kp.keyport.domain.keypairs.create({ accountId: tenant.accountId }, { name: 'charted', scopes: ['orders:read'] }, 'system');
  for (let i = 0; i < 2; i++) t.is((await tokenRequest(kp.url, { keyId: issued.keypair.keyId, secret: issued.secret })).status, 200);
  const ui = await UiClient.signIn(kp.url, 'viewer@usage.test');
  const page = await ui.get(`/ui/keypairs/${issued.keypair.keyId}`);
  t.is(page.status, 200);
  t.regex(page.html, /<svg class="usage-chart"[^>]*role="img" aria-label="Last 30 days: 2 successful authentications, 0 failed"/);
  t.is((page.html.match(/<rect class="usage-hit"/g) ?? []).length, 30, 'one bar slot per day');
  t.is((page.html.match(/<rect class="usage-ok"/g) ?? []).length, 1, 'one day with successes');
  t.false(/<script|https?:\/\/(?!www\.w3\.org)/.test(page.html.slice(page.html.indexOf('<svg class="usage-chart"'), page.html.indexOf('</svg>', page.html.indexOf('<svg class="usage-chart"')))), 'nothing loaded from elsewhere');
});

test('days past the 90-day retention are dropped', async (t) => {
  const { kp } = t.context;
  const key = await seedKeypair(kp.keyport);
  const now = kp.clock.now();
  const old = new Date(now.getTime() - 120 * DAY);
  // A count from 120 days ago (its own process would have written it then), then today's, which sweeps.
  await kp.keyport.database.models.KeypairUsageDay.create({ _id: `${key.keyId}|${old.toISOString().slice(0, 10)}`, keyId: key.keyId, day: startOfDay(old), authenticated: 7, failed: 0 });
  const fresh = new DailyUsage({ store: new MongooseKeypairUsageStore(kp.keyport.database.models.KeypairUsageDay), clock: kp.clock }); // a new process: its first add sweeps
  await fresh.add(key.keyId, now, { authenticated: 1 });
  for (let i = 0; i < 50 && (await kp.keyport.database.models.KeypairUsageDay.countDocuments({ keyId: key.keyId })) > 1; i++) await new Promise((r) => setTimeout(r, 20));
  const left = await kp.keyport.database.models.KeypairUsageDay.find({ keyId: key.keyId }).lean();
  t.deepEqual(left.map((d) => d.authenticated), [1]);
});
