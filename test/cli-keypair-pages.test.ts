// `keyport keypair list` over a large list (issue 16 §1): every keypair by
// following the cursors, or one page at a time with --limit and --cursor.
import anyTest, { type TestFn } from 'ava';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { cliEnv, cliJson, runCli } from './helpers/cli.ts';
import { listKeys } from '../src/db/keypair-list.ts';
import type { KeypairRecord } from '../src/db/contract.ts';

const test = anyTest as TestFn<{ kp: TestKeyport; environmentId: string; ids: string[] }>;

const COPIES = 230; // more than one of the CLI's pages (200)

test.before(async (t) => {
  const kp = await startTestKeyport();
  const { owners, keypairs } = kp.keyport.domain;
  const account = await owners.createAccount({ name: 'Large' }, 'system');
  const environment = await owners.createEnvironment(account.id, { name: 'production' }, 'system');
  const template = await keypairs.create({ environmentId: environment.id }, { name: 'template', scopes: [] }, 'system');
  const model = kp.keyport.database.models.Keypair;
  const doc = await model.findById(template.keypair.keyId).lean<KeypairRecord>();
  // Written straight into the collection: hundreds of creations would only slow the test.
  const copies = Array.from({ length: COPIES }, (_, i) => {
    const copy = { ...doc!, _id: `kp_copy${String(i).padStart(17, '0')}`, name: `copy ${String(i).padStart(3, '0')}`, createdAt: new Date(doc!.createdAt.getTime() - (i + 1) * 1000) };
    return { ...copy, ...listKeys(copy) };
  });
  await model.collection.insertMany(copies as never[]);
  t.context = { kp, environmentId: environment.id, ids: [template.keypair.keyId, ...copies.map((c) => c._id)] };
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

test('keypair list prints every keypair once, following the cursors past the first page', async (t) => {
  const env = cliEnv(t.context.kp.config);
  const all = await cliJson<{ keyId: string }[]>(env, ['keypair', 'list', '--environment', t.context.environmentId]);
  t.deepEqual(all.map((k) => k.keyId), t.context.ids, 'newest first: the template, then the copies, each once');
  const byName = await cliJson<{ name: string }[]>(env, ['keypair', 'list', '--environment', t.context.environmentId, '--sort', '-name', '--search', 'COPY 1']);
  t.deepEqual(byName.map((k) => k.name), Array.from({ length: 100 }, (_, i) => `copy ${199 - i}`));
});

test('keypair list --limit prints one page and the cursor of the next; --cursor reads it', async (t) => {
  const env = cliEnv(t.context.kp.config);
  const args = ['keypair', 'list', '--environment', t.context.environmentId, '--sort', 'name', '--limit', '2'];
  const first = await cliJson<{ items: { name: string }[]; next: string; total: number; totalIsExact: boolean }>(env, args);
  t.deepEqual(first.items.map((k) => k.name), ['copy 000', 'copy 001']);
  t.like(first, { total: COPIES + 1, totalIsExact: true });
  const second = await cliJson<{ items: { name: string }[] }>(env, [...args, '--cursor', first.next]);
  t.deepEqual(second.items.map((k) => k.name), ['copy 002', 'copy 003']);
  const human = await runCli(env, args);
  t.is(human.code, 0, human.stderr);
  t.true(human.stdout.includes(`${COPIES + 1} in all. Next page: --cursor ${first.next}`));

  const tampered = await runCli(env, [...args, '--cursor', 'bm90IGEgY3Vyc29y']);
  t.not(tampered.code, 0);
  t.regex(tampered.stderr, /cursor is not one this list returned/);
  const noLimit = await runCli(env, ['keypair', 'list', '--environment', t.context.environmentId, '--cursor', first.next]);
  t.not(noLimit.code, 0);
  t.regex(noLimit.stderr, /--cursor reads one page: give --limit too/);
});
