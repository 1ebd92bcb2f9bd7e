// Accounts and environments under concurrency (docs/architecture.md, Closing an owner), against the
// embedded FerretDB, whose updates are not atomic: a rename racing a close never
// undoes the close, and nothing created while an owner closes survives in it.
// Two Keyport processes on one database, like cluster workers.
import anyTest, { type TestFn } from 'ava';
import { trusted } from 'mongoose';
import { startKeyport, type RunningKeyport } from '../src/keyport.ts';
import { accountOwner, createTenant, createUser } from './helpers/api.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';

const test = anyTest as TestFn<{ kp: TestKeyport; other: RunningKeyport }>;

test.before(async (t) => {
  const kp = await startTestKeyport();
  const other = await startKeyport({ ...kp.config, server: { ...kp.config.server, port: 0 } }, { clock: kp.clock });
  t.context = { kp, other };
});
test.after.always(async (t) => {
  await t.context.other?.close();
  await t.context.kp?.close();
});

/** Settles every promise; returns the reasons of the ones that failed. */
async function failures(promises: Promise<unknown>[]): Promise<unknown[]> {
  return (await Promise.allSettled(promises)).flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
}

test.serial('renames racing a close, from two processes, never reopen the owner', async (t) => {
  const { kp, other } = t.context;
  for (let round = 0; round < 5; round++) {
    const tenant = await createTenant(kp.keyport, `Race ${round}`);
    const renames = Array.from({ length: 10 }, (_, i) => (i % 2 ? other : kp.keyport).domain.owners.renameAccount(tenant.accountId, `Renamed ${round}.${i}`, 'system'));
    const envRenames = Array.from({ length: 10 }, (_, i) => (i % 2 ? kp.keyport : other).domain.owners.renameEnvironment(tenant.productionId, `prod ${round}.${i}`, 'system'));
    const close = kp.keyport.domain.closing.closeAccount(tenant.accountId, 'system');
    t.deepEqual(await failures([...renames, ...envRenames, close]), []);
    const account = await kp.keyport.domain.owners.getAccount(tenant.accountId);
    t.is(account.status, 'closed', `round ${round}`);
    t.regex(account.name, /^Renamed /);
    for (const id of [tenant.productionId, tenant.stagingId]) t.is((await other.domain.owners.getEnvironment(id)).status, 'closed');
  }
});

test.serial('keypairs and environments created while an account closes do not survive in it', async (t) => {
  const { kp, other } = t.context;
  const db = kp.keyport.database.models;
  for (let round = 0; round < 5; round++) {
    const tenant = await createTenant(kp.keyport, `Closing ${round}`);
    const creators = [kp.keyport, other];
    const creations = Array.from({ length: 24 }, (_, i) => {
      const domain = creators[i % 2]!.domain;
      if (i % 3 === 0) return domain.owners.createEnvironment(tenant.accountId, { name: `late ${i}` }, 'system');
      return domain.keypairs.create(i % 3 === 1 ? { accountId: tenant.accountId } : { environmentId: tenant.stagingId }, { name: `late ${i}` }, 'system');
    });
    const refusals = failures(creations); // handled from now on, while the close runs
    const closed = await kp.keyport.domain.closing.closeAccount(tenant.accountId, 'system');
    const refused = await refusals;
    t.is(closed.status, 'closed');
    for (const reason of refused) t.regex((reason as Error).message, /is (closing|closed)/, 'a creation too late is refused as such');
    t.is(await db.Keypair.countDocuments({ accountId: tenant.accountId }), 0, `round ${round}: no keypair left in the closed account`);
    t.is(await db.Environment.countDocuments({ accountId: tenant.accountId, status: trusted({ $ne: 'closed' }) }), 0, `round ${round}: no open environment left`);
  }
});

test.serial('two admins removed at once from two processes: one removal is refused, the account keeps an admin', async (t) => {
  const { kp, other } = t.context;
  for (let round = 0; round < 5; round++) {
    const tenant = await createTenant(kp.keyport, `Admins ${round}`);
    const owner = accountOwner(tenant.accountId);
    const ada = await createUser(kp.keyport, `ada${round}@acme.test`, [[owner, 'admin']]);
    const bob = await createUser(kp.keyport, `bob${round}@acme.test`, [[owner, 'admin']]);
    const refused = await failures([
      kp.keyport.domain.users.revoke(ada, owner, 'system'),
      other.domain.users.revoke(bob, owner, 'system'),
    ]);
    t.is(refused.length, 1, `round ${round}: exactly one removal refused`);
    t.regex((refused[0] as Error).message, /keeps at least one admin/);
    t.is(await kp.keyport.domain.users.countAdmins(owner), 1);
  }
});
