// `keyport keypair list --account <id> --all-environments` (issue 15): every
// keypair of the account and its environments, with an ENVIRONMENT column; and
// --search looking into comments.
import anyTest, { type TestFn } from 'ava';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { cliEnv, cliJson, runCli } from './helpers/cli.ts';

const test = anyTest as TestFn<{ kp: TestKeyport; accountId: string; environmentId: string; ids: Map<string, string | null> }>;

test.before(async (t) => {
  const kp = await startTestKeyport();
  const { owners, keypairs } = kp.keyport.domain;
  const account = await owners.createAccount({ name: 'Wide' }, 'system');
  const production = await owners.createEnvironment(account.id, { name: 'production' }, 'system');
  const ids = new Map<string, string | null>();
  for (const [i, owner] of [{ accountId: account.id }, { environmentId: production.id }, { accountId: account.id }, { environmentId: production.id }].entries()) {
    const issued = await keypairs.create(owner, { name: `job ${i}`, comment: i === 3 ? 'Feeds the LEDGER' : '', scopes: [] }, 'system');
    ids.set(issued.keypair.keyId, 'environmentId' in owner ? production.id : null);
    kp.clock.advance(1000);
  }
  // Another account's keypair never shows.
  const other = await owners.createAccount({ name: 'Other' }, 'system');
  await keypairs.create({ accountId: other.id }, { name: 'job elsewhere', scopes: [] }, 'system');
  t.context = { kp, accountId: account.id, environmentId: production.id, ids };
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

test('keypair list --all-environments lists the account\'s keypairs and its environments\', with the environment of each', async (t) => {
  const env = cliEnv(t.context.kp.config);
  const all = await cliJson<{ keyId: string; environment: { id: string; name: string } | null }[]>(env, ['keypair', 'list', '--account', t.context.accountId, '--all-environments', '--sort', 'name']);
  t.deepEqual(all.map((k) => k.keyId), [...t.context.ids.keys()]);
  for (const k of all) t.deepEqual(k.environment, t.context.ids.get(k.keyId) ? { id: t.context.environmentId, name: 'production' } : null);
  const human = await runCli(env, ['keypair', 'list', '--account', t.context.accountId, '--all-environments']);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /^KEY ID\s+NAME\s+ENVIRONMENT\s+STATUS/);
  t.true(human.stdout.includes(`production (${t.context.environmentId})`));
  t.false(human.stdout.includes('job elsewhere'));
  // One page at a time, too.
  const page = await cliJson<{ items: { keyId: string }[]; next: string; total: number }>(env, ['keypair', 'list', '--account', t.context.accountId, '--all-environments', '--limit', '3']);
  t.is(page.items.length, 3);
  t.is(page.total, 4);
  const rest = await cliJson<{ items: { keyId: string }[]; next: string | null }>(env, ['keypair', 'list', '--account', t.context.accountId, '--all-environments', '--limit', '3', '--cursor', page.next]);
  t.is(rest.items.length, 1);
  t.is(rest.next, null);
  // Without the flag: the account's own keypairs only, and no ENVIRONMENT column.
  const own = await runCli(env, ['keypair', 'list', '--account', t.context.accountId]);
  t.false(own.stdout.includes('ENVIRONMENT'));
  t.is(own.stdout.trim().split('\n').length, 3);
});

test('keypair list --all-environments needs --account', async (t) => {
  const result = await runCli(cliEnv(t.context.kp.config), ['keypair', 'list', '--environment', t.context.environmentId, '--all-environments']);
  t.not(result.code, 0);
  t.regex(result.stderr, /--all-environments lists an account with its environments: give --account/);
});

test('keypair list --search finds a word of a comment, in any case', async (t) => {
  const env = cliEnv(t.context.kp.config);
  const found = await cliJson<{ name: string }[]>(env, ['keypair', 'list', '--account', t.context.accountId, '--all-environments', '--search', 'ledger']);
  t.deepEqual(found.map((k) => k.name), ['job 3']);
  const human = await runCli(env, ['keypair', 'list', '--environment', t.context.environmentId, '--search', 'Ledger']);
  t.true(human.stdout.includes('job 3'));
  t.false(human.stderr.includes('Comments were not searched'));
});
