// The reads behind the hot path and the admin pages use indexes, not scans
// (issue #5: flat from 100 to 100 000 keypairs). On the embedded FerretDB this
// depends on Keyport's patched build (src/db/ferretdb-build.ts): these tests
// read the database's own query plans, and check that the patched narrowing
// keeps MongoDB's matching rules (an equality also matches an array holding the value).
import anyTest, { type TestFn } from 'ava';
import type { Db } from 'mongodb';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { seedKeypair } from './helpers/oauth.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

function db(t: { context: { kp: TestKeyport } }): Db {
  return t.context.kp.keyport.database.connection.db!;
}

/** The query plan of a find, as text: SQLite's plan lines (FerretDB) or MongoDB's winning plan. */
async function plan(database: Db, collection: string, filter: Record<string, unknown>): Promise<string> {
  const explained = await database.command({ explain: { find: collection, filter }, verbosity: 'queryPlanner' }) as { queryPlanner?: { Plan?: string[]; winningPlan?: unknown } };
  const planner = explained.queryPlanner ?? {};
  return planner.Plan ? planner.Plan.join('\n') : JSON.stringify(planner.winningPlan);
}

function usesIndex(text: string): boolean {
  // FerretDB (SQLite): "SEARCH … USING INDEX …"; MongoDB: an IXSCAN or the _id fast path, never a COLLSCAN.
  return /USING INDEX|IXSCAN|IDHACK|EXPRESS/.test(text) && !/\bSCAN [a-z_0-9]+$/m.test(text) && !text.includes('COLLSCAN');
}

test('a keypair is read by key id through the _id index, also with conditions (conditional updates)', async (t) => {
  const key = await seedKeypair(t.context.kp.keyport);
  const database = db(t);
  for (const filter of [{ _id: key.keyId }, { _id: key.keyId, enabled: true, lockedPermanently: false }]) {
    const text = await plan(database, 'keypairs', filter);
    t.true(usesIndex(text), `${JSON.stringify(filter)}: ${text}`);
  }
});

test('an owner\'s keypairs and audit events are found through their owner indexes', async (t) => {
  const key = await seedKeypair(t.context.kp.keyport);
  const database = db(t);
  const keypairs = await plan(database, 'keypairs', { accountId: key.accountId, environmentId: null });
  t.true(usesIndex(keypairs), keypairs);
  const audit = await plan(database, 'audit_events', { accountId: key.accountId });
  t.true(usesIndex(audit), audit);
});

test('the delivery worker finds the audit events still marked for webhooks through an index, not a scan of the trail', async (t) => {
  const text = await plan(db(t), 'audit_events', { webhook: 'pending' });
  t.true(usesIndex(text), text);
});

test('narrowed queries keep MongoDB\'s matching: an equality matches an array holding the value, and other conditions still apply', async (t) => {
  const scratch = db(t).collection<{ _id: string; owner: unknown; flag?: boolean }>('matching_rules');
  await scratch.createIndex({ owner: 1 });
  await scratch.insertMany([
    { _id: 'plain', owner: 'acc_one', flag: true },
    { _id: 'in-array', owner: ['acc_two', 'acc_one'], flag: true },
    { _id: 'other', owner: 'acc_two', flag: true },
    { _id: 'flag-off', owner: 'acc_one', flag: false },
    { _id: 'nested', owner: { id: 'acc_one' } },
  ]);
  const ids = async (filter: Record<string, unknown>) => (await scratch.find(filter).toArray()).map((d) => d._id).sort();
  t.deepEqual(await ids({ owner: 'acc_one' }), ['flag-off', 'in-array', 'plain']);
  t.deepEqual(await ids({ owner: 'acc_one', flag: true }), ['in-array', 'plain']);
  t.deepEqual(await ids({ _id: 'plain', owner: 'acc_two' }), []);
  t.deepEqual(await ids({ _id: 'in-array', owner: 'acc_two' }), ['in-array']);
  t.deepEqual(await ids({ owner: 'nobody' }), []);
  t.is(await scratch.countDocuments({ owner: 'acc_two' }), 2);
});
