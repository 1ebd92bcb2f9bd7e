// Single-document writes are atomic, as lockout needs for counting and
// locking: on MongoDB by itself, on the embedded FerretDB by Keyport's build of
// it (src/db/ferretdb-build.ts, KEYPORT_ATOMIC_WRITES_GO). For any other
// FerretDB v1, Keyport serialises writes with leases (src/db/serial-writes.ts).
import anyTest, { type TestFn } from 'ava';
import { MongoClient, type Db } from 'mongodb';
import { needsWriteLeases, SerialWrites, updatesNeedLeases } from '../src/db/serial-writes.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';

const test = anyTest as TestFn<{ kp: TestKeyport; other: MongoClient }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
  // A second client (its own connections), as another process would have.
  t.context.other = await new MongoClient(t.context.kp.keyport.database.uri).connect();
});
test.after.always(async (t) => {
  await t.context.other?.close();
  await t.context.kp?.close();
});

function databases(t: { context: { kp: TestKeyport; other: MongoClient } }): [Db, Db] {
  const own = t.context.kp.keyport.database.connection.db!;
  return [own, t.context.other.db(own.databaseName)];
}

test('concurrent $inc updates of one document from two clients lose nothing', async (t) => {
  const [a, b] = databases(t);
  await a.collection('atomic_inc').insertOne({ _id: 'counter' as never, n: 0 });
  const writes = Array.from({ length: 120 }, (_, i) => (i % 2 ? a : b).collection('atomic_inc').updateOne({ _id: 'counter' as never }, { $inc: { n: 1 } }));
  const finds = Array.from({ length: 60 }, (_, i) => (i % 2 ? b : a).collection('atomic_inc').findOneAndUpdate({ _id: 'counter' as never }, { $inc: { n: 1 } }));
  await Promise.all([...writes, ...finds]);
  t.is((await a.collection('atomic_inc').findOne({ _id: 'counter' as never }))?.n, 180);
});

test('of concurrent conditional updates on the same state, exactly one applies; a write of one field keeps the others', async (t) => {
  const [a, b] = databases(t);
  const collection = (db: Db) => db.collection<{ _id: string; state: string; claimedBy?: number; note?: string }>('atomic_conditional');
  for (let round = 0; round < 5; round++) {
    const _id = `doc-${round}`;
    await collection(a).insertOne({ _id, state: 'open' });
    const attempts = Array.from({ length: 30 }, (_, i) => collection(i % 2 ? a : b).findOneAndUpdate({ _id, state: 'open' }, { $set: { state: 'claimed', claimedBy: i } }));
    // Writes of another field race the claims: they must not put `state: 'open'` back.
    const notes = Array.from({ length: 10 }, (_, i) => collection(i % 2 ? b : a).updateOne({ _id }, { $set: { note: `note ${i}` } }));
    const results = await Promise.all([...attempts, ...notes.map(async (p) => { await p; return null; })]);
    const winners = results.filter((r) => r !== null);
    t.is(winners.length, 1, `round ${round}: one claim applies`);
    const final = await collection(a).findOne({ _id });
    t.is(final?.state, 'claimed', `round ${round}`);
    t.is(final?.claimedBy, (winners[0] as { claimedBy?: number }).claimedBy ?? final?.claimedBy);
    t.regex(final?.note ?? '', /^note \d$/);
  }
});

test('a delete conditioned on a field removes the document only in the state it names', async (t) => {
  const [a, b] = databases(t);
  const collection = (db: Db) => db.collection<{ _id: string; holder: string }>('atomic_delete');
  for (let round = 0; round < 10; round++) {
    const _id = `lease-${round}`;
    await collection(a).insertOne({ _id, holder: 'first' });
    // One side hands the document to a new holder while the other deletes it only if 'first' still holds it.
    const [handed, deleted] = await Promise.all([
      collection(a).findOneAndUpdate({ _id, holder: 'first' }, { $set: { holder: 'second' } }),
      collection(b).deleteOne({ _id, holder: 'first' }),
    ]);
    const remaining = await collection(a).findOne({ _id });
    if (deleted.deletedCount === 1) {
      t.is(remaining, null, `round ${round}: deleted before the hand-over, which then found nothing`);
      t.is(handed, null);
    } else {
      t.is(remaining?.holder, 'second', `round ${round}: handed over first, so the conditioned delete left it`);
    }
  }
});

test('which databases need write leases: FerretDB v1 builds other than Keyport\'s atomic ones', (t) => {
  t.false(updatesNeedLeases(null), 'MongoDB');
  t.true(updatesNeedLeases('v1.24.2'), 'the upstream release');
  t.true(updatesNeedLeases('v1.24.2-keyport.3'), 'Keyport\'s build before atomic writes');
  t.false(updatesNeedLeases('v1.24.2-keyport.4'));
  t.false(updatesNeedLeases('v1.24.2-keyport.12'));
  t.false(updatesNeedLeases('v2.1.0'), 'FerretDB v2 (DocumentDB underneath)');
});

test('the embedded database is Keyport\'s atomic build, so no write takes a lease', async (t) => {
  const { database } = t.context.kp.keyport;
  if (database.kind === 'mongodb') {
    t.false(await needsWriteLeases(database.connection), 'MongoDB: never');
    return;
  }
  const info = await database.connection.db!.admin().command({ buildInfo: 1 });
  t.regex(String(info.ferretdbVersion), /^v1\.24\.2-keyport\.\d+$/);
  t.false(await needsWriteLeases(database.connection));
});

test('write leases make read-modify-writes of two processes take turns (the path for other FerretDB v1 builds)', async (t) => {
  const [a] = databases(t);
  const { connection } = t.context.kp.keyport.database;
  // Two SerialWrites, as two processes have: only the lease orders them.
  const processes = [new SerialWrites(connection, 'test_write_leases', { leases: 'always' }), new SerialWrites(connection, 'test_write_leases', { leases: 'always' })];
  const collection = a.collection<{ _id: string; n: number }>('lease_counter');
  await collection.insertOne({ _id: 'counter', n: 0 });
  // A read, a pause, a write of what was read: without turns, most increments would be lost.
  const readModifyWrite = async () => {
    const current = await collection.findOne({ _id: 'counter' });
    await new Promise((r) => setTimeout(r, 2));
    await collection.updateOne({ _id: 'counter' }, { $set: { n: current!.n + 1 } });
  };
  await Promise.all(Array.from({ length: 30 }, (_, i) => processes[i % 2]!.run('counter', readModifyWrite)));
  t.is((await collection.findOne({ _id: 'counter' }))?.n, 30);
  t.is(await a.collection('test_write_leases').countDocuments({}), 0, 'every lease released');
});

test('the embedded database\'s write-ahead log stays bounded under a stream of updates (each closes its read before it writes)', async (t) => {
  const [a] = databases(t);
  const collection = a.collection<{ _id: string; n: number; padding: string }>('wal_bound');
  await collection.insertOne({ _id: 'counter', n: 0, padding: 'x'.repeat(500) });
  for (let i = 0; i < 3000; i++) {
    if (i % 2) await collection.findOneAndUpdate({ _id: 'counter' }, { $inc: { n: 1 } });
    else await collection.updateOne({ _id: 'counter' }, { $inc: { n: 1 } });
  }
  t.is((await collection.findOne({ _id: 'counter' }))?.n, 3000);
  const { keyport: { database }, dataDir } = t.context.kp;
  if (database.kind === 'mongodb') return; // MongoDB's journal is its own business
  const { readdirSync, statSync } = await import('node:fs');
  const { join } = await import('node:path');
  const storage = join(dataDir, 'ferretdb');
  const walBytes = readdirSync(storage).filter((name) => name.endsWith('-wal')).reduce((sum, name) => sum + statSync(join(storage, name)).size, 0);
  // SQLite checkpoints at 1,000 pages (4 MB) and then starts the log over; 3,000
  // commits that never let it start over leave 12 MB or more.
  t.true(walBytes < 8 * 1024 * 1024, `write-ahead log: ${(walBytes / 1024 / 1024).toFixed(1)} MB`);
});
