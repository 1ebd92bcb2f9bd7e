// Lockout (docs/architecture.md, Lockout) against a real Keyport over HTTP on the embedded
// FerretDB: atomic failure counting under concurrency, one lock per run of
// failures, no extension while locked, doubling durations, the permanent lock,
// and failures that all look alike to the caller.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { newSecret } from '../../src/domain/credentials.ts';
import { startKeyport, type RunningKeyport } from '../../src/keyport.ts';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';
import { auditActions, eventually, freezeClock, rawKeypair } from '../helpers/keypair-state.ts';
import { getToken, seedKeypair, tokenRequest, type TokenRequest } from '../helpers/oauth.ts';

interface Servers {
  /** maxFailures 100: counts without locking. */
  counting: TestKeyport;
  /** The defaults: temporary locks, 10 failures, 900 s doubling, 5 temporary locks. */
  temporary: TestKeyport;
  /** mode permanent. */
  permanent: TestKeyport;
}

const test = anyTest as TestFn<Servers>;

/** These tests pin the per-key lockout: lift the per-address budget (test/address-throttle.test.ts covers it). */
const PER_KEY_ONLY = { maxFailuresPerAddress: 1_000_000 };

const MINUTE = 60_000;

test.before(async (t) => {
  const [counting, temporary, permanent] = await Promise.all([
    startTestKeyport({ overrides: { lockout: { maxFailures: 100, ...PER_KEY_ONLY } } }),
    startTestKeyport({ overrides: { lockout: PER_KEY_ONLY } }),
    startTestKeyport({ overrides: { lockout: { mode: 'permanent', ...PER_KEY_ONLY } } }),
  ]);
  t.context = { counting, temporary, permanent };
});

test.after.always(async (t) => {
  await Promise.all(Object.values(t.context).map((server: TestKeyport | undefined) => server?.close()));
});

interface Answer {
  status: number;
  body: string;
  wwwAuthenticate: string | null;
}

async function answer(server: TestKeyport, request: TokenRequest): Promise<Answer> {
  const response = await tokenRequest(server.url, request);
  return { status: response.status, body: await response.text(), wwwAuthenticate: response.headers.get('www-authenticate') };
}

function wrongSecret(): string {
  return newSecret(); // well formed (valid checksum), just not this key's
}

/** A secret with a broken checksum: rejected before any database work. */
function badChecksum(secret: string): string {
  const last = secret.at(-1) === 'A' ? 'B' : 'A';
  return secret.slice(0, -1) + last;
}

function assertInvalidClient(t: ExecutionContext<Servers>, a: Answer, message: string): void {
  t.is(a.status, 401, message);
  t.deepEqual(JSON.parse(a.body), { error: 'invalid_client', error_description: 'client authentication failed' }, message);
}

/** Sends `count` wrong secrets one after the other. */
async function failSequentially(server: TestKeyport, keyId: string, count: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < count; i++) answers.push(await answer(server, { keyId, secret: wrongSecret() }));
  return answers;
}

test.serial('50 concurrent wrong secrets are all refused and all counted (no lost update)', async (t) => {
  const server = t.context.counting;
  const key = await seedKeypair(server.keyport);
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    answer(server, { keyId: key.keyId, secret: wrongSecret(), method: i % 2 ? 'post' : 'basic' })));
  for (const a of answers) assertInvalidClient(t, a, 'every wrong secret gets invalid_client');
  const doc = await rawKeypair(server, key.keyId);
  t.is(doc.failedAttempts, 50);
  t.is(doc.temporaryLocks, 0);
  t.is(doc.lockedUntil, null);
  t.false(doc.lockedPermanently);
  t.is((await auditActions(server, key.keyId, 'keypair.locked')).length, 0);
  // Not locked: the right secret still works, and resets the count.
  await getToken(server.url, key);
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 0);
});

/** The status, with the body when it is not the expected 401 (so a failure shows what came instead). */
async function statusOf(response: Promise<Response>): Promise<number | string> {
  const r = await response;
  const body = await r.text();
  return r.status === 401 ? 401 : `${r.status} ${body}`;
}

/** A second Keyport process on the same database, like a cluster worker (its own queues, connections and caches). */
async function secondWorker(server: TestKeyport) {
  return startKeyport({ ...server.config, server: { ...server.config.server, port: 0 } }, { clock: server.clock });
}

test.serial('two workers on one database: concurrent failures through both are all counted, and lock once', async (t) => {
  const counting = t.context.counting;
  const other = await secondWorker(counting);
  t.teardown(() => other.close());
  const key = await seedKeypair(counting.keyport);
  const urls = [counting.url, other.url];
  const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => statusOf(tokenRequest(urls[i % 2]!, { keyId: key.keyId, secret: wrongSecret() }))));
  t.deepEqual(statuses, statuses.map(() => 401));
  await other.domain.keypairAuth.failuresCounted(); // each worker counts its own after answering
  t.is((await rawKeypair(counting, key.keyId)).failedAttempts, 50);

  const server = t.context.temporary;
  const worker = await secondWorker(server);
  t.teardown(() => worker.close());
  const locking = await seedKeypair(server.keyport);
  const start = freezeClock(server.clock, new Date());
  const sent = await Promise.all(Array.from({ length: 50 }, (_, i) => statusOf(tokenRequest(i % 2 ? worker.url : server.url, { keyId: locking.keyId, secret: wrongSecret() }))));
  t.deepEqual(sent, sent.map(() => 401));
  await worker.domain.keypairAuth.failuresCounted();
  const doc = await rawKeypair(server, locking.keyId);
  t.is(doc.temporaryLocks, 1);
  t.is(doc.failedAttempts, 10);
  t.deepEqual(doc.lockedUntil, new Date(start.getTime() + 900_000));
  t.is((await auditActions(server, locking.keyId, 'keypair.locked')).length, 1);
  // Neither worker hands out a token for the correct secret now. A worker learns of
  // a lock set by the other through the change feed within one poll (250 ms): poll
  // now rather than wait, so the assertion does not depend on timing.
  await Promise.all([server.keyport.domain.changes.poll(), worker.domain.changes.poll()]);
  for (const url of [server.url, worker.url]) {
    t.is(await statusOf(tokenRequest(url, locking)), 401);
  }
});

test.serial('two workers: failures through one, then a success through the other resets the count', async (t) => {
  const counting = t.context.counting;
  const other = await secondWorker(counting);
  t.teardown(() => other.close());
  const key = await seedKeypair(counting.keyport);
  // Both workers have the keypair cached with no failures.
  for (const url of [counting.url, other.url]) t.is((await tokenRequest(url, key)).status, 200);
  for (let i = 0; i < 3; i++) t.is(await statusOf(tokenRequest(counting.url, { keyId: key.keyId, secret: wrongSecret() })), 401);
  t.is((await rawKeypair(counting, key.keyId)).failedAttempts, 3);
  await other.domain.changes.poll(); // what its timer does every 250 ms
  t.is((await tokenRequest(other.url, key)).status, 200);
  t.is((await rawKeypair(counting, key.keyId)).failedAttempts, 0, 'the other worker knew of the failures, and its success reset them');
});

test.serial('other processes hear of a run of failures when it begins and when it locks, not of every failure (the change feed stays small)', async (t) => {
  const server = t.context.temporary;
  const key = await seedKeypair(server.keyport);
  freezeClock(server.clock, new Date());
  const changes = server.keyport.database.connection.db!.collection('changes');
  const published = () => changes.countDocuments({ kind: 'keypair', key: key.keyId });
  const before = await published();
  await failSequentially(server, key.keyId, 9);
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 9);
  t.is(await published(), before + 1, 'nine failures: one change, when the run began');
  await getToken(server.url, key); // the success resets the count: a change
  t.is(await published(), before + 2);
  await failSequentially(server, key.keyId, 10);
  t.is((await rawKeypair(server, key.keyId)).temporaryLocks, 1);
  t.is(await published(), before + 4, 'a new run: one change when it began, one when it locked');
});

test.serial('50 concurrent wrong secrets lock the key exactly once; then the right secret gets the same 401', async (t) => {
  const server = t.context.temporary;
  const key = await seedKeypair(server.keyport);
  const start = freezeClock(server.clock, new Date());
  const answers = await Promise.all(Array.from({ length: 50 }, () => answer(server, { keyId: key.keyId, secret: wrongSecret() })));
  for (const a of answers) assertInvalidClient(t, a, 'every wrong secret gets invalid_client');

  const doc = await rawKeypair(server, key.keyId);
  t.is(doc.temporaryLocks, 1);
  t.false(doc.lockedPermanently);
  t.deepEqual(doc.lockedUntil, new Date(start.getTime() + 900_000));
  // Failures that arrive once the key is locked are not counted.
  t.is(doc.failedAttempts, 10);
  const locks = await auditActions(server, key.keyId, 'keypair.locked');
  t.is(locks.length, 1);
  t.is(locks[0]!.actor, 'system');
  t.is(locks[0]!.details.permanent, false);

  // The correct secret is refused exactly like a wrong one, over Basic and in the body.
  const wrong = await answer(server, { keyId: key.keyId, secret: wrongSecret() });
  const right = await answer(server, { keyId: key.keyId, secret: key.secret });
  assertInvalidClient(t, right, 'a locked key refuses its correct secret');
  t.is(right.body, wrong.body);
  t.is(right.status, wrong.status);
  t.truthy(right.wwwAuthenticate);
  t.regex(right.wwwAuthenticate!, /^Basic /);
  t.is(right.wwwAuthenticate, wrong.wwwAuthenticate);
  const rightPost = await answer(server, { keyId: key.keyId, secret: key.secret, method: 'post' });
  const wrongPost = await answer(server, { keyId: key.keyId, secret: wrongSecret(), method: 'post' });
  assertInvalidClient(t, rightPost, 'a locked key refuses its correct secret in the body too');
  t.is(rightPost.body, wrongPost.body);

  // The next lock comes after exactly maxFailures more failures, however many raced in the burst.
  freezeClock(server.clock, new Date(start.getTime() + 900_000));
  await failSequentially(server, key.keyId, 9);
  const afterNine = await rawKeypair(server, key.keyId);
  t.is(afterNine.temporaryLocks, 1);
  t.true(afterNine.lockedUntil! <= server.clock.now(), 'nine failures after a lock do not lock again');
  await failSequentially(server, key.keyId, 1);
  const relocked = await rawKeypair(server, key.keyId);
  t.is(relocked.temporaryLocks, 2);
  t.deepEqual(relocked.lockedUntil, new Date(start.getTime() + 900_000 + 1_800_000));
  t.is((await auditActions(server, key.keyId, 'keypair.locked')).length, 2);
});

test.serial('failures while locked do not extend the lock; when it ends the right secret works and resets the counter', async (t) => {
  const server = t.context.temporary;
  const key = await seedKeypair(server.keyport);
  const start = freezeClock(server.clock, new Date());
  await failSequentially(server, key.keyId, 10);
  const locked = await rawKeypair(server, key.keyId);
  const lockedUntil = new Date(start.getTime() + 900_000);
  t.deepEqual(locked.lockedUntil, lockedUntil);
  t.is(locked.failedAttempts, 10);

  // Ten minutes later, more failures (including concurrent ones) change nothing.
  freezeClock(server.clock, new Date(start.getTime() + 10 * MINUTE));
  await Promise.all(Array.from({ length: 20 }, () => answer(server, { keyId: key.keyId, secret: wrongSecret() })));
  const still = await rawKeypair(server, key.keyId);
  t.deepEqual(still.lockedUntil, lockedUntil);
  t.is(still.failedAttempts, 10);
  t.is(still.temporaryLocks, 1);
  t.is((await auditActions(server, key.keyId, 'keypair.locked')).length, 1);

  // One millisecond before the end: still locked, even for the correct secret.
  freezeClock(server.clock, new Date(lockedUntil.getTime() - 1));
  assertInvalidClient(t, await answer(server, { keyId: key.keyId, secret: key.secret }), 'locked until the last millisecond');

  // From lockedUntil on: the correct secret works again and resets the counters.
  freezeClock(server.clock, lockedUntil);
  await getToken(server.url, key);
  const reset = await rawKeypair(server, key.keyId);
  t.is(reset.failedAttempts, 0);
  t.is(reset.temporaryLocks, 0);
  t.is(reset.failuresAtLastLock, 0);
  // With the counter reset, nine failures do not lock.
  await failSequentially(server, key.keyId, 9);
  const nine = await rawKeypair(server, key.keyId);
  t.is(nine.failedAttempts, 9);
  t.is(nine.temporaryLocks, 0);
  await getToken(server.url, key);
});

test.serial('successive locks double in duration; after maxTemporaryLocks the lock is permanent', async (t) => {
  const server = t.context.temporary;
  const key = await seedKeypair(server.keyport);
  let now = freezeClock(server.clock, new Date()).getTime();
  for (let lock = 0; lock < 5; lock++) {
    await failSequentially(server, key.keyId, 9);
    t.is((await rawKeypair(server, key.keyId)).temporaryLocks, lock, `nine failures do not make lock ${lock + 1}`);
    await failSequentially(server, key.keyId, 1);
    const doc = await rawKeypair(server, key.keyId);
    const duration = 900_000 * 2 ** lock;
    t.is(doc.temporaryLocks, lock + 1);
    t.false(doc.lockedPermanently);
    t.deepEqual(doc.lockedUntil, new Date(now + duration), `lock ${lock + 1} lasts ${duration / MINUTE} minutes`);
    assertInvalidClient(t, await answer(server, { keyId: key.keyId, secret: key.secret }), `locked by lock ${lock + 1}`);
    now = freezeClock(server.clock, new Date(now + duration)).getTime();
  }
  // The sixth run of failures locks for good.
  await failSequentially(server, key.keyId, 10);
  const doc = await rawKeypair(server, key.keyId);
  t.true(doc.lockedPermanently);
  t.is(doc.temporaryLocks, 5);
  const locks = await auditActions(server, key.keyId, 'keypair.locked');
  t.is(locks.length, 6);
  t.deepEqual(locks.map((e) => e.details.permanent).reverse(), [false, false, false, false, false, true]);

  // A year later it is still locked.
  freezeClock(server.clock, new Date(now + 365 * 24 * 60 * MINUTE));
  assertInvalidClient(t, await answer(server, { keyId: key.keyId, secret: key.secret }), 'a permanent lock does not expire');

  // Until an administrator unlocks it.
  const view = await server.keyport.domain.keypairs.unlock(key.keyId, 'system');
  t.false(view.locked);
  await getToken(server.url, key);
});

test.serial('mode permanent locks at once at the threshold, exactly once under concurrency', async (t) => {
  const server = t.context.permanent;
  const key = await seedKeypair(server.keyport);
  const start = freezeClock(server.clock, new Date());
  await failSequentially(server, key.keyId, 9);
  t.false((await rawKeypair(server, key.keyId)).lockedPermanently);
  await getToken(server.url, key); // a success resets the count
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 0);

  const answers = await Promise.all(Array.from({ length: 30 }, () => answer(server, { keyId: key.keyId, secret: wrongSecret() })));
  for (const a of answers) assertInvalidClient(t, a, 'every wrong secret gets invalid_client');
  const doc = await rawKeypair(server, key.keyId);
  t.true(doc.lockedPermanently);
  t.is(doc.lockedUntil, null);
  t.is(doc.temporaryLocks, 0);
  t.is(doc.failedAttempts, 10);
  const locks = await auditActions(server, key.keyId, 'keypair.locked');
  t.is(locks.length, 1);
  t.is(locks[0]!.details.permanent, true);

  freezeClock(server.clock, new Date(start.getTime() + 10 * 365 * 24 * 60 * MINUTE));
  assertInvalidClient(t, await answer(server, { keyId: key.keyId, secret: key.secret }), 'locked for good');
  t.is((await server.keyport.domain.keypairs.get(key.keyId)).status, 'locked');

  // Regenerate clears the lock: the new secret works, the old one is dead.
  const regenerated = await server.keyport.domain.keypairs.rotate(key.keyId, '0', 'system');
  t.false(regenerated.keypair.locked);
  await getToken(server.url, { keyId: key.keyId, secret: regenerated.secret });
  assertInvalidClient(t, await answer(server, { keyId: key.keyId, secret: key.secret }), 'the old secret died with the regeneration');
});

test.serial('unlock clears a lock without changing the secret', async (t) => {
  const server = t.context.temporary;
  const key = await seedKeypair(server.keyport);
  freezeClock(server.clock, new Date());
  await failSequentially(server, key.keyId, 10);
  t.is((await server.keyport.domain.keypairs.get(key.keyId)).status, 'locked');
  assertInvalidClient(t, await answer(server, { keyId: key.keyId, secret: key.secret }), 'locked');

  const view = await server.keyport.domain.keypairs.unlock(key.keyId, 'system');
  t.is(view.status, 'enabled');
  const doc = await rawKeypair(server, key.keyId);
  t.is(doc.failedAttempts, 0);
  t.is(doc.temporaryLocks, 0);
  t.is(doc.lockedUntil, null);
  t.false(doc.lockedPermanently);
  await getToken(server.url, key);
  t.is((await auditActions(server, key.keyId, 'keypair.unlocked')).length, 1);
  // The counter starts over: nine failures do not lock.
  await failSequentially(server, key.keyId, 9);
  t.is((await rawKeypair(server, key.keyId)).temporaryLocks, 0);
  await getToken(server.url, key);
});

test.serial('regenerate (rotate with grace 0) clears a temporary lock', async (t) => {
  const server = t.context.temporary;
  const key = await seedKeypair(server.keyport);
  freezeClock(server.clock, new Date());
  await failSequentially(server, key.keyId, 10);
  t.true((await rawKeypair(server, key.keyId)).lockedUntil! > server.clock.now());

  const regenerated = await server.keyport.domain.keypairs.rotate(key.keyId, '0', 'system');
  t.is(regenerated.keypair.status, 'enabled');
  const doc = await rawKeypair(server, key.keyId);
  t.is(doc.failedAttempts, 0);
  t.is(doc.temporaryLocks, 0);
  t.is(doc.lockedUntil, null);
  await getToken(server.url, { keyId: key.keyId, secret: regenerated.secret });
  assertInvalidClient(t, await answer(server, { keyId: key.keyId, secret: key.secret }), 'the old secret is dead');
  const [event] = await auditActions(server, key.keyId, 'keypair.regenerated');
  t.is(event?.details.unlocked, true);
});

test.serial('a success resets the failure count', async (t) => {
  const server = t.context.temporary;
  const key = await seedKeypair(server.keyport);
  freezeClock(server.clock, new Date());
  await failSequentially(server, key.keyId, 7);
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 7);
  await getToken(server.url, { ...key, method: 'post' });
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 0);
  // Seven + seven failures with a success between them never reach ten in a row.
  await failSequentially(server, key.keyId, 7);
  const doc = await rawKeypair(server, key.keyId);
  t.is(doc.failedAttempts, 7);
  t.is(doc.temporaryLocks, 0);
  await getToken(server.url, key);
});

test.serial('an unknown key id and a wrong secret get identical answers', async (t) => {
  const server = t.context.temporary;
  const key = await seedKeypair(server.keyport);
  const unknownKeyId = `kp_${'x'.repeat(24)}`;
  for (const method of ['basic', 'post'] as const) {
    const wrong = await answer(server, { keyId: key.keyId, secret: wrongSecret(), method });
    const unknown = await answer(server, { keyId: unknownKeyId, secret: wrongSecret(), method });
    const unknownWithRealSecret = await answer(server, { keyId: unknownKeyId, secret: key.secret, method });
    const garbageId = await answer(server, { keyId: 'not-a-key-id', secret: wrongSecret(), method });
    assertInvalidClient(t, wrong, `${method}: wrong secret`);
    for (const other of [unknown, unknownWithRealSecret, garbageId]) {
      t.is(other.status, wrong.status, method);
      t.is(other.body, wrong.body, method);
      t.is(other.wwwAuthenticate, wrong.wwwAuthenticate, method);
    }
    if (method === 'basic') t.regex(wrong.wwwAuthenticate ?? '', /^Basic /);
    else t.is(wrong.wwwAuthenticate, null);
  }
});

test.serial('a malformed secret (bad checksum) is refused like any other but never counts as a failure', async (t) => {
  const server = t.context.temporary;
  const key = await seedKeypair(server.keyport);
  const wrong = await answer(server, { keyId: key.keyId, secret: wrongSecret() });
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 1);
  await getToken(server.url, key);
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 0);

  const malformed = [badChecksum(key.secret), badChecksum(wrongSecret()), 'kps_short', 'not-a-secret', key.secret.slice(0, -1)];
  for (const secret of malformed) {
    const a = await answer(server, { keyId: key.keyId, secret });
    assertInvalidClient(t, a, `malformed secret ${secret.slice(0, 8)}…`);
    t.is(a.body, wrong.body);
    t.is(a.wwwAuthenticate, wrong.wwwAuthenticate);
  }
  // Many of them at once, too: still nothing counted, nothing locked.
  await Promise.all(Array.from({ length: 30 }, () => answer(server, { keyId: key.keyId, secret: badChecksum(wrongSecret()) })));
  const doc = await rawKeypair(server, key.keyId);
  t.is(doc.failedAttempts, 0);
  t.is(doc.temporaryLocks, 0);
  t.is(doc.lockedUntil, null);
  await getToken(server.url, key);
});

/**
 * Holds back every findOneAndUpdate of keypairs that this Keyport sends (the
 * failure counts) until release(): how a slow database looks to the server.
 */
function holdKeypairUpdates(keyport: RunningKeyport): { held(): number; release(): void; restore(): void } {
  type Query = { exec(): Promise<unknown> };
  const model = keyport.database.models.Keypair as unknown as { findOneAndUpdate: (this: unknown, ...args: unknown[]) => Query };
  const original = model.findOneAndUpdate;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let held = 0;
  model.findOneAndUpdate = function findOneAndUpdate(this: unknown, ...args: unknown[]) {
    const query = original.apply(this, args);
    const exec = query.exec.bind(query);
    query.exec = async () => {
      held++;
      await gate;
      return exec();
    };
    return query;
  };
  return { held: () => held, release, restore: () => { model.findOneAndUpdate = original; release(); } };
}

test.serial('a wrong secret is answered without waiting for its count; the right secret waits for it, and is refused when that count locked the key', async (t) => {
  const server = t.context.temporary;
  const key = await seedKeypair(server.keyport);
  freezeClock(server.clock, new Date());
  await failSequentially(server, key.keyId, 9);
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 9);

  const hold = holdKeypairUpdates(server.keyport);
  t.teardown(hold.restore);
  // The tenth failure is answered while the database has not counted it
  // (waiting for the write told an existing key id from an unknown one).
  assertInvalidClient(t, await answer(server, { keyId: key.keyId, secret: wrongSecret() }), 'answered while its count is held');
  await eventually(async () => hold.held(), (held) => held === 1);
  // The right secret now: the count still held would lock the key, so it must not get a token.
  let settled = false;
  const right = answer(server, key).finally(() => { settled = true; });
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.false(settled, 'the right secret waits for the count before it');
  hold.release();
  assertInvalidClient(t, await right, 'the count locked the key: the right secret is refused');
  const doc = await rawKeypair(server, key.keyId);
  t.is(doc.failedAttempts, 10);
  t.is(doc.temporaryLocks, 1);
  t.is((await auditActions(server, key.keyId, 'keypair.locked')).length, 1);
});

test.serial('wrong secrets answered just before a shutdown are still counted', async (t) => {
  const server = t.context.counting;
  const key = await seedKeypair(server.keyport);
  const hold = holdKeypairUpdates(server.keyport);
  t.teardown(hold.restore);
  const statuses = await Promise.all(Array.from({ length: 20 }, () => statusOf(tokenRequest(server.url, { keyId: key.keyId, secret: wrongSecret() }))));
  t.deepEqual(statuses, statuses.map(() => 401));
  await eventually(async () => hold.held(), (held) => held >= 1);
  // The server stops while the database is slow to count them: close() waits for the counts.
  const restarting = server.restart();
  setTimeout(hold.release, 300);
  await restarting;
  t.is((await rawKeypair(server, key.keyId)).failedAttempts, 20);
});
