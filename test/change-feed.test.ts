// The in-process caches of keypairs and owner statuses (src/db/change-feed.ts):
// token requests read no database once warm, a change made in the server's own
// process takes effect on the very next request, and a change made by another
// process (the CLI, another worker) reaches the server through the change feed.
import anyTest, { type TestFn } from 'ava';
import { openKeyportDomain } from '../src/keyport.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken, introspect, seedKeypair, tokenRequest } from './helpers/oauth.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

/** Retries `probe` until it returns true, for at most `ms` (the feed's timer runs every 250 ms). */
async function eventually(probe: () => Promise<boolean>, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return probe();
}

test.serial('a warm token request reads neither the keypair nor its owners from the database', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  await getToken(kp.url, seed);
  const { Keypair, Account, Environment } = kp.keyport.database.models;
  const reads: string[] = [];
  type Spied = { modelName: string; findById: (...args: unknown[]) => unknown };
  const originals = ([Keypair, Account, Environment] as unknown as Spied[]).map((model) => {
    const findById = model.findById;
    model.findById = (...args: unknown[]) => { reads.push(model.modelName); return findById.apply(model, args); };
    return () => { model.findById = findById; };
  });
  try {
    for (let i = 0; i < 5; i++) await getToken(kp.url, seed);
  } finally {
    for (const restore of originals) restore();
  }
  t.deepEqual(reads, []);
});

test.serial('a change in the server\'s own process counts on the very next request', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  await getToken(kp.url, seed);
  await kp.keyport.domain.keypairs.setEnabled(seed.keyId, false, 'system');
  t.is((await tokenRequest(kp.url, seed)).status, 401);
  await kp.keyport.domain.keypairs.setEnabled(seed.keyId, true, 'system');
  t.is((await tokenRequest(kp.url, seed)).status, 200);
  const rotated = await kp.keyport.domain.keypairs.rotate(seed.keyId, '0', 'system');
  t.is((await tokenRequest(kp.url, seed)).status, 401, 'the regenerated-away secret fails at once');
  t.is((await tokenRequest(kp.url, { keyId: seed.keyId, secret: rotated.secret })).status, 200);
});

test.serial('changes made by another process reach the server by themselves (disable, new key, owner closing)', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  await getToken(kp.url, seed);
  // A second process's view of the same database, as the CLI or another worker has.
  const other = await openKeyportDomain(kp.config, undefined, 'tool');
  try {
    await other.domain.keypairs.setEnabled(seed.keyId, false, 'cli');
    t.true(await eventually(async () => (await tokenRequest(kp.url, seed)).status === 401), 'disabled elsewhere ⇒ refused here');

    const unknownYet = 'kp_0000000000000000000000zz';
    t.is((await tokenRequest(kp.url, { keyId: unknownYet, secret: seed.secret })).status, 401);
    const created = await other.domain.keypairs.create({ environmentId: seed.environmentId }, { name: 'late', scopes: ['orders:read'] }, 'cli');
    t.true(await eventually(async () => (await tokenRequest(kp.url, { keyId: created.keypair.keyId, secret: created.secret })).status === 200), 'a key created elsewhere works here');

    await other.domain.closing.closeEnvironment(seed.environmentId, 'cli');
    t.true(await eventually(async () => (await tokenRequest(kp.url, { keyId: created.keypair.keyId, secret: created.secret })).status === 401), 'closed elsewhere ⇒ refused here');
  } finally {
    await other.database.close();
  }
});

test.serial('poll() applies every change written before it is called, also while an earlier poll is still reading', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  await getToken(kp.url, seed);
  const feed = kp.keyport.domain.changes;
  // Hold the next read of the changes collection: a poll that began before the change below.
  type Query = { exec(): Promise<unknown> };
  const Change = kp.keyport.database.models.Change as unknown as { find: (this: unknown, ...args: unknown[]) => Query };
  const find = Change.find;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let held = false;
  Change.find = function heldFind(this: unknown, ...args: unknown[]) {
    const query = find.apply(this, args);
    if (held) return query;
    held = true;
    const exec = query.exec.bind(query);
    query.exec = async () => { await gate; return exec(); };
    return query;
  };
  t.teardown(() => { Change.find = find; release(); });
  const earlier = feed.poll();
  const other = await openKeyportDomain(kp.config, undefined, 'tool');
  try {
    await other.domain.keypairs.setEnabled(seed.keyId, false, 'cli');
    const caughtUp = feed.poll();
    release(); // the earlier poll reads what it reads; the caller's poll must still see the change
    await caughtUp;
    t.is((await tokenRequest(kp.url, seed)).status, 401, 'disabled elsewhere before poll() was called ⇒ refused once it returns');
    await earlier;
  } finally {
    await other.database.close();
  }
});

test.serial('a token revoked by another process is inactive here after one poll, and introspection reads no database', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport, { owner: 'account', scopes: ['orders:read', 'keyport:introspect'] });
  const token = await getToken(kp.url, seed);
  const { jti, exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string; exp: number };
  t.true((await introspect(kp.url, seed, token)).active);

  const reads: string[] = [];
  const { RevokedToken } = kp.keyport.database.models;
  type Spied = { find: (...args: unknown[]) => unknown; exists: (...args: unknown[]) => unknown; findOne: (...args: unknown[]) => unknown };
  const spied = RevokedToken as unknown as Spied;
  const originals = { find: spied.find, exists: spied.exists, findOne: spied.findOne };
  for (const name of ['find', 'exists', 'findOne'] as const) spied[name] = (...args: unknown[]) => { reads.push(name); return originals[name].apply(RevokedToken, args); };
  try {
    for (let i = 0; i < 3; i++) t.true((await introspect(kp.url, seed, token)).active);
  } finally {
    Object.assign(spied, originals);
  }
  t.deepEqual(reads, [], 'introspection answers from the in-memory revocation list');

  const other = await openKeyportDomain(kp.config, undefined, 'tool');
  try {
    await other.domain.revocations.revoke({ jti, clientId: seed.keyId, expiresAt: new Date(exp * 1000), accountId: seed.accountId, environmentId: null }, 'cli');
  } finally {
    await other.database.close();
  }
  await kp.keyport.domain.changes.poll(); // what the server's timer does every 250 ms
  t.deepEqual(await introspect(kp.url, seed, token), { active: false });
});

test('an invalidation racing a cache load gives the fresh value, not an error', async (t) => {
  const { LRUCache } = await import('lru-cache');
  const { fetchThrough } = await import('../src/db/read-through.ts');
  let version = 1;
  const cache = new LRUCache<string, { version: number }>({
    max: 10,
    fetchMethod: async () => {
      const seen = version;
      await new Promise((r) => setTimeout(r, 30));
      return { version: seen };
    },
  });
  const pending = fetchThrough(cache, 'kp');
  await new Promise((r) => setTimeout(r, 5));
  const joined = fetchThrough(cache, 'kp'); // a second request joins the load in flight
  version = 2; // the data changes while the first load is in flight…
  cache.delete('kp'); // …and the change feed deletes the entry
  t.deepEqual(await pending, { version: 2 });
  t.deepEqual(await joined, { version: 2 }, 'a caller that joined the aborted load loads again too');
  t.deepEqual(cache.get('kp'), { version: 2 });
});

test('invalidations landing during every load (a burst of writes to one key) still give the fresh value, not an error', async (t) => {
  const { LRUCache } = await import('lru-cache');
  const { fetchThrough } = await import('../src/db/read-through.ts');
  let version = 0;
  const cache = new LRUCache<string, { version: number }>({
    max: 10,
    fetchMethod: async () => {
      const seen = ++version;
      // Another write to the key lands while this load runs: the change feed deletes the entry.
      setTimeout(() => cache.delete('kp'), 1);
      await new Promise((r) => setTimeout(r, 10));
      return { version: seen };
    },
  });
  const loaded = await fetchThrough(cache, 'kp');
  t.truthy(loaded);
  t.is(loaded!.version, version, 'the value of the last load, which began after every earlier change');
});

test('a cached read: fresh entries at once, stale ones from the old copy while one reload runs, deleted ones loaded again', async (t) => {
  const { LRUCache } = await import('lru-cache');
  const { readThrough } = await import('../src/db/read-through.ts');
  let version = 1;
  let loads = 0;
  const cache = new LRUCache<string, { version: number }>({
    max: 10,
    ttl: 200,
    allowStale: true,
    fetchMethod: async () => {
      loads++;
      const seen = version;
      await new Promise((r) => setTimeout(r, 20));
      return { version: seen };
    },
  });
  t.deepEqual(await readThrough(cache, 'kp'), { version: 1 });
  t.is(loads, 1);
  const fresh = readThrough(cache, 'kp');
  t.false(fresh instanceof Promise, 'a fresh entry is returned without a promise');
  t.deepEqual(fresh, { version: 1 });
  version = 2;
  await new Promise((r) => setTimeout(r, 250)); // past the TTL
  t.deepEqual(await readThrough(cache, 'kp'), { version: 1 }, 'stale: the old copy, not a wait for the database');
  t.deepEqual(await readThrough(cache, 'kp'), { version: 1 }, 'still the old copy while the reload runs');
  await new Promise((r) => setTimeout(r, 100));
  t.is(loads, 2, 'one background reload for both stale reads');
  t.deepEqual(await readThrough(cache, 'kp'), { version: 2 });
  version = 3;
  cache.delete('kp'); // a change: the next read waits for the new value
  t.deepEqual(await readThrough(cache, 'kp'), { version: 3 });
  t.is(loads, 3);
});
