// The reads behind the hot path and the admin pages use indexes, not scans
// (issue #5: flat from 100 to 100 000 keypairs). On the embedded FerretDB this
// depends on Keyport's patched build (src/db/ferretdb-build.ts): these tests
// read the database's own query plans, and check that the patched narrowing
// keeps MongoDB's matching rules (an equality also matches an array holding the value).
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import type { Db } from 'mongodb';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { seedKeypair } from './helpers/oauth.ts';
import { EXACT_QUERY, LIST_SORTS, countUpTo, fillInListKeys, findPage, listKeys, pageQuery } from '../src/db/keypair-list.ts';
import { keypairSchema } from '../src/db/models/keypair.ts';
import type { KeypairListSort, KeypairPageQuery, KeypairRecord } from '../src/db/contract.ts';

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

// Keypair lists (issue 16): a page, the next one, a name-prefix search and a
// capped count are served by an index, with the sort and the limit done by the
// database (on FerretDB: Keyport's "keyport:exact" pushdown), for every order.
const LIST_PLAN_QUERIES: { what: string; query: Omit<KeypairPageQuery, 'now'> }[] = [
  { what: 'first page, newest first', query: { sort: '-created', limit: 20 } },
  { what: 'next page, newest first', query: { sort: '-created', limit: 20, after: '2026-01-01T00:00:00.000Z.kp_000000000000000000000000' } },
  { what: 'previous page, newest first', query: { sort: '-created', limit: 20, before: '2026-01-01T00:00:00.000Z.kp_000000000000000000000000' } },
  { what: 'first page, A to Z', query: { sort: 'name', limit: 20 } },
  { what: 'next page, A to Z', query: { sort: 'name', limit: 20, after: '6369.kp_000000000000000000000000' } },
  { what: 'next page, Z to A', query: { sort: '-name', limit: 20, after: '6369.kp_000000000000000000000000' } },
  { what: 'name prefix search', query: { sort: 'name', limit: 20, namePrefix: 'Ci' } },
  { what: 'name prefix search, next page', query: { sort: 'name', limit: 20, namePrefix: 'Ci', after: '6369.kp_000000000000000000000000' } },
  { what: 'key id search', query: { sort: 'name', limit: 20, keyId: 'kp_000000000000000000000000' } },
  { what: 'disabled tab', query: { sort: '-created', limit: 20, status: 'disabled' } },
  { what: 'locked tab', query: { sort: '-created', limit: 20, status: 'locked' } },
];

async function explainFind(database: Db, command: Record<string, unknown>): Promise<{ text: string; sortPushdown?: boolean; limitPushdown?: boolean }> {
  const explained = await database.command({ explain: { find: 'keypairs', ...command }, verbosity: 'queryPlanner' }) as { queryPlanner?: { Plan?: string[]; winningPlan?: unknown }; sortPushdown?: boolean; limitPushdown?: boolean };
  const planner = explained.queryPlanner ?? {};
  return { text: planner.Plan ? planner.Plan.join('\n') : JSON.stringify(planner.winningPlan), sortPushdown: explained.sortPushdown, limitPushdown: explained.limitPushdown };
}

test('keypair list pages, later pages, searches and tab filters are read in order from an index, sorted and limited by the database', async (t) => {
  const key = await seedKeypair(t.context.kp.keyport);
  const ferretdb = t.context.kp.keyport.database.kind === 'ferretdb';
  await assertListPlansIndexed(t, { accountId: key.accountId, environmentId: key.environmentId }, ferretdb);
});

test('the account-wide list (the account and its environments in one) reads its pages, searches and tabs in order from the account\'s own indexes, sorted and limited by the database', async (t) => {
  const key = await seedKeypair(t.context.kp.keyport);
  const ferretdb = t.context.kp.keyport.database.kind === 'ferretdb';
  const owner = { accountId: key.accountId, acrossEnvironments: true as const };
  for (const { what, query } of LIST_PLAN_QUERIES) {
    const { filter } = pageQuery(owner, { ...query, now: new Date() });
    t.deepEqual(Object.keys(filter).filter((field) => field === 'accountId' || field === 'environmentId'), ['accountId'], what);
  }
  await assertListPlansIndexed(t, owner, ferretdb);
});

/** Every list query shape of `owner` reads an index in order: no sort of its own, and on FerretDB the sort and limit done by SQLite. */
async function assertListPlansIndexed(t: ExecutionContext<{ kp: TestKeyport }>, owner: Parameters<typeof pageQuery>[0], ferretdb: boolean): Promise<void> {
  for (const { what, query } of LIST_PLAN_QUERIES) {
    const { filter, sort, limit } = pageQuery(owner, { ...query, now: new Date() });
    const explained = await explainFind(db(t), { filter, sort, limit, comment: EXACT_QUERY });
    t.true(usesIndex(explained.text), `${what}: ${explained.text}`);
    // SQLite: no temporary B-tree for the ORDER BY; MongoDB: no in-memory SORT stage.
    t.false(/TEMP B-TREE|"stage":"SORT"/.test(explained.text), `${what}: ${explained.text}`);
    if (ferretdb) {
      t.true(explained.sortPushdown, `${what}: sort pushed down`);
      t.true(explained.limitPushdown, `${what}: limit pushed down`);
    }
  }
}

test('a search in comments (small lists only) still narrows by the owner through an index, though the database filters the comments itself', async (t) => {
  const key = await seedKeypair(t.context.kp.keyport);
  for (const owner of [{ accountId: key.accountId, environmentId: key.environmentId }, { accountId: key.accountId, acrossEnvironments: true as const }]) {
    const { filter, sort, limit } = pageQuery(owner, { sort: 'name', limit: 20, namePrefix: 'ledger', commentContains: 'ledger', now: new Date() });
    const explained = await explainFind(db(t), { filter, sort, limit, comment: EXACT_QUERY });
    t.true(usesIndex(explained.text), explained.text);
  }
});

test('without the exact marker, FerretDB keeps sorting and limiting in Go (the pushdown is opt-in)', async (t) => {
  if (t.context.kp.keyport.database.kind !== 'ferretdb') return t.pass('MongoDB: the comment changes nothing');
  const key = await seedKeypair(t.context.kp.keyport);
  const { filter, sort, limit } = pageQuery({ accountId: key.accountId, environmentId: key.environmentId }, { sort: 'name', limit: 20, now: new Date() });
  const explained = await explainFind(db(t), { filter, sort, limit });
  t.false(explained.sortPushdown);
  t.false(explained.limitPushdown);
});

test('every keypair list query has a matching index in the model: the owner\'s equalities, then the sort key and _id in order', (t) => {
  const indexes = keypairSchema.indexes().map(([keys]) => Object.entries(keys as Record<string, number>));
  const shapes = (Object.keys(LIST_SORTS) as KeypairListSort[]).flatMap((sort) => [
    pageQuery({ accountId: 'acc_x', environmentId: null }, { sort, limit: 20, now: new Date() }).sort,
    pageQuery({ accountId: 'acc_x', environmentId: null }, { sort, limit: 20, now: new Date(), before: 'x' }).sort,
  ]);
  for (const sort of shapes) {
    const sortFields = Object.entries(sort);
    const served = indexes.some((index) => {
      // The owner's equalities first (either direction serves an equality), then the sort fields in
      // order, all in the index's direction or all against it (the index read backwards).
      if (index.length !== 2 + sortFields.length || index[0]![0] !== 'accountId' || index[1]![0] !== 'environmentId') return false;
      const rest = index.slice(2);
      const same = rest.every(([field, dir], i) => field === sortFields[i]![0] && dir === sortFields[i]![1]);
      const reversed = rest.every(([field, dir], i) => field === sortFields[i]![0] && dir === -sortFields[i]![1]);
      return same || reversed;
    });
    t.true(served, `no index serves the owner's equalities then ${JSON.stringify(sort)}`);
  }
});

test('every account-wide list query has a matching index in the model: the account, then the sort key and _id in order', (t) => {
  const indexes = keypairSchema.indexes().map(([keys]) => Object.entries(keys as Record<string, number>));
  const owner = { accountId: 'acc_x', acrossEnvironments: true as const };
  for (const sort of (Object.keys(LIST_SORTS) as KeypairListSort[]).flatMap((order) => [
    pageQuery(owner, { sort: order, limit: 20, now: new Date() }).sort,
    pageQuery(owner, { sort: order, limit: 20, now: new Date(), before: 'x' }).sort,
  ])) {
    const sortFields = Object.entries(sort);
    const served = indexes.some((index) => {
      if (index.length !== 1 + sortFields.length || index[0]![0] !== 'accountId') return false;
      const rest = index.slice(1);
      return rest.every(([field, dir], i) => field === sortFields[i]![0] && dir === sortFields[i]![1]) || rest.every(([field, dir], i) => field === sortFields[i]![0] && dir === -sortFields[i]![1]);
    });
    t.true(served, `no index serves the account then ${JSON.stringify(sort)}`);
  }
});

/** Names that JSON escapes or that sort differently by case, accents or bytes. */
const AWKWARD_NAMES = [
  'alpha', 'Alpha', 'ALPHA', 'alpha beta', 'alphabet', 'al"pha', 'al\\pha', 'al<pha>', 'a&b', 'tab\there', 'new\nline',
  'émile', 'Émile', 'emile', 'zoë', 'Zürich', 'ß straße', '日本', '😀 smile', '😀', 'a', 'b', 'B', 'z', 'Z', '0', '9 lives',
  '"quoted"', '\\', '/slash', '.dot', '-dash', '_under', '~tilde', ' padded', 'kp_lookalike', 'ǅ digraph', 'İstanbul',
];

test('pages read with the pushdown are exactly the rows FerretDB\'s own filtering and sorting returns, for awkward names, every order, status, prefix and page size', async (t) => {
  const { keyport, clock } = t.context.kp;
  const account = await keyport.domain.owners.createAccount({ name: 'Lists' }, 'system');
  const model = keyport.database.models.Keypair;
  const ids: string[] = [];
  for (const [i, name] of AWKWARD_NAMES.entries()) {
    const issued = await keyport.domain.keypairs.create({ accountId: account.id }, { name, scopes: [] }, 'system');
    ids.push(issued.keypair.keyId);
    if (i % 3 === 0) clock.advance(1000); // some share a creation time: ties go by key id
  }
  const now = clock.now();
  // A few of each status.
  await model.collection.updateMany({ _id: { $in: ids.slice(0, 5) as never[] } }, { $set: { enabled: false } });
  await model.collection.updateMany({ _id: { $in: ids.slice(4, 8) as never[] } }, { $set: { lockedUntil: new Date(now.getTime() + 60_000) } });
  await model.collection.updateMany({ _id: { $in: ids.slice(8, 10) as never[] } }, { $set: { lockedUntil: new Date(now.getTime() - 60_000) } });
  await model.collection.updateMany({ _id: { $in: ids.slice(10, 12) as never[] } }, { $set: { lockedPermanently: true } });
  await model.collection.updateMany({ _id: { $in: ids.slice(12, 15) as never[] } }, { $set: { expiresAt: new Date(now.getTime() + 86_400_000) } });
  await model.collection.updateMany({ _id: { $in: ids.slice(15, 17) as never[] } }, { $set: { expiresAt: new Date(now.getTime() - 86_400_000) } });
  const owner = { accountId: account.id, environmentId: null };
  const expiringBefore = new Date(now.getTime() + 7 * 86_400_000);

  let compared = 0;
  for (const sort of Object.keys(LIST_SORTS) as KeypairListSort[]) {
    for (const status of [undefined, 'enabled', 'disabled', 'locked', 'expiring', 'expired'] as const) {
      for (const namePrefix of [undefined, 'a', 'AL', 'al"', 'é', 'É', '😀', 'z', '\\', 'nothing']) {
        const base = { sort, now, expiringBefore, ...(status ? { status } : {}), ...(namePrefix !== undefined ? { namePrefix } : {}) };
        // FerretDB's own answer: the same filter and sort with no limit and no marker (filtered and sorted in Go).
        const all = pageQuery(owner, { ...base, limit: 1 });
        const expected = (await model.find(all.filter).sort(all.sort).lean<KeypairRecord[]>()).map((d) => d._id);
        for (const limit of [1, 4, 7]) {
          // Walk forwards with the cursor, then back from the end.
          const forwards: string[] = [];
          let after: string | undefined;
          for (;;) {
            const rows = await findPage(model, owner, { ...base, limit, ...(after ? { after } : {}) });
            forwards.push(...rows.slice(0, limit).map((d) => d._id));
            if (rows.length <= limit) break;
            after = rows[limit - 1]![LIST_SORTS[sort].field];
          }
          t.deepEqual(forwards, expected, `${sort} ${status} ${JSON.stringify(namePrefix)} limit ${limit}`);
          if (expected.length > limit) {
            const last = await model.findById(expected.at(-1)).lean<KeypairRecord>();
            const before = await findPage(model, owner, { ...base, limit, before: last![LIST_SORTS[sort].field]! });
            t.deepEqual(before.slice(-limit).map((d) => d._id), expected.slice(-limit - 1, -1), `${sort} ${status} ${JSON.stringify(namePrefix)} limit ${limit} backwards`);
          }
          compared++;
        }
        const counted = await countUpTo(model, owner, base, 5);
        t.is(counted, Math.min(expected.length, 6), `count ${sort} ${status} ${JSON.stringify(namePrefix)}`);
      }
    }
  }
  t.true(compared > 600);
});

test('keypairs written before the list keys existed get them when the database opens, and then appear in every order', async (t) => {
  const { keyport } = t.context.kp;
  const key = await seedKeypair(t.context.kp.keyport, { name: 'Older' });
  const model = keyport.database.models.Keypair;
  await model.collection.updateOne({ _id: key.keyId as never }, { $unset: { nameKey: '', createdKey: '' } });
  const owner = { accountId: key.accountId, environmentId: key.environmentId };
  // Before: the key is missing from a name-prefix search.
  t.deepEqual((await findPage(model, owner, { sort: 'name', namePrefix: 'old', limit: 5, now: new Date() })).map((d) => d._id), []);
  t.true(await fillInListKeys(model) >= 1);
  const doc = await model.findById(key.keyId).lean<KeypairRecord>();
  t.deepEqual({ nameKey: doc!.nameKey, createdKey: doc!.createdKey }, listKeys(doc!));
  t.deepEqual((await findPage(model, owner, { sort: 'name', namePrefix: 'old', limit: 5, now: new Date() })).map((d) => d._id), [key.keyId]);
});

test('a server that starts on keypairs of an older Keyport writes their list keys, in the background', async (t) => {
  const own = await startTestKeyport();
  try {
    const key = await seedKeypair(own.keyport, { name: 'Upgraded' });
    await own.keyport.database.models.Keypair.collection.updateOne({ _id: key.keyId as never }, { $unset: { nameKey: '', createdKey: '' } });
    await own.restart();
    const model = own.keyport.database.models.Keypair;
    let doc = await model.findById(key.keyId).lean<KeypairRecord>();
    for (let i = 0; i < 100 && !doc?.nameKey; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      doc = await model.findById(key.keyId).lean<KeypairRecord>();
    }
    t.deepEqual({ nameKey: doc!.nameKey, createdKey: doc!.createdKey }, listKeys(doc!));
  } finally {
    await own.close();
  }
});

test('a renamed keypair moves to its new place in name order', async (t) => {
  const { keyport } = t.context.kp;
  const key = await seedKeypair(keyport, { name: 'aaa first' });
  await keyport.domain.keypairs.update(key.keyId, { name: 'zzz last' }, 'system');
  const model = keyport.database.models.Keypair;
  const owner = { accountId: key.accountId, environmentId: key.environmentId };
  t.deepEqual((await findPage(model, owner, { sort: 'name', namePrefix: 'zzz', limit: 5, now: new Date() })).map((d) => d._id), [key.keyId]);
  t.deepEqual((await findPage(model, owner, { sort: 'name', namePrefix: 'aaa', limit: 5, now: new Date() })).map((d) => d._id), []);
});
