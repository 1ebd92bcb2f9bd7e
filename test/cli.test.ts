// The `keyport` CLI as a real process (bin/keyport.js on the project's Node),
// sharing a running server's embedded database, and on its own when no server runs.
import anyTest, { type TestFn } from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { ApiClient } from './helpers/api.ts';
import type { RevocationOutcome, RotationOutcome, SigningKeyView } from '../src/domain/signing-keys.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken, seedKeypair, tokenRequest } from './helpers/oauth.ts';
import { cliEnv, cliJson, runCli } from './helpers/cli.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

/**
 * The CLI is another process: the server learns of its changes through the
 * change feed within one poll (250 ms). Poll once now so that the assertions
 * that follow do not depend on timing (test/change-feed.test.ts covers the timer).
 */
async function serverCatchesUp(kp: TestKeyport): Promise<void> {
  await kp.keyport.domain.changes.poll();
}

async function seedWithCli(env: NodeJS.ProcessEnv) {
  const account = await cliJson<{ id: string }>(env, ['account', 'create', '--name', 'Acme']);
  const environment = await cliJson<{ id: string; accountId: string }>(env, ['environment', 'create', '--account', account.id, '--name', 'production']);
  const issued = await cliJson<{ keyId: string; secret: string; keypair: { keyId: string; scopes: string[]; status: string } }>(env, [
    'keypair', 'create', '--environment', environment.id, '--name', 'ci', '--scope', 'orders:read', '--scope', 'orders:write',
  ]);
  return { accountId: account.id, environmentId: environment.id, ...issued };
}

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

test('a keypair created with the CLI gets tokens; disable, enable and remove take effect on the running server', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const seed = await seedWithCli(env);
  t.is(seed.environmentId.slice(0, 4), 'env_');
  t.regex(seed.keyId, /^kp_[0-9A-Za-z]{24}$/);
  t.regex(seed.secret, /^kps_[0-9A-Za-z]+$/);
  t.is(seed.keypair.keyId, seed.keyId);
  t.deepEqual(seed.keypair.scopes, ['orders:read', 'orders:write']);
  t.is(seed.keypair.status, 'enabled');
  await getToken(kp.url, seed);

  const disabled = await runCli(env, ['keypair', 'disable', seed.keyId]);
  await serverCatchesUp(t.context.kp);
  t.is(disabled.code, 0, disabled.stderr);
  t.true(disabled.stdout.includes(`${seed.keyId} disabled`));
  const refused = await tokenRequest(kp.url, seed);
  t.is(refused.status, 401);
  t.is(((await refused.json()) as { error: string }).error, 'invalid_client');

  const enabled = await runCli(env, ['keypair', 'enable', seed.keyId]);
  await serverCatchesUp(t.context.kp);
  t.is(enabled.code, 0, enabled.stderr);
  await getToken(kp.url, seed);

  const unconfirmed = await runCli(env, ['keypair', 'remove', seed.keyId]);
  t.is(unconfirmed.code, 2);
  t.true(unconfirmed.stderr.includes('--yes'));
  await getToken(kp.url, seed);

  const removed = await runCli(env, ['keypair', 'remove', seed.keyId, '--yes']);
  await serverCatchesUp(t.context.kp);
  t.is(removed.code, 0, removed.stderr);
  t.is((await tokenRequest(kp.url, seed)).status, 401);

  const audit = await cliJson<{ action: string; actor: string; keypairId: string | null }[]>(env, ['audit', '--environment', seed.environmentId]);
  t.deepEqual(audit.filter((e) => e.keypairId === seed.keyId).map((e) => e.action),
    ['keypair.removed', 'keypair.enabled', 'keypair.disabled', 'keypair.created']);
  t.true(audit.every((e) => e.actor === 'cli'));
});

test('list and show describe the keypair and never print its secret', async (t) => {
  const env = cliEnv(t.context.kp.config);
  const seed = await seedWithCli(env);

  const created = await runCli(env, ['keypair', 'create', '--environment', seed.environmentId, '--name', 'human', '--comment', 'made at a terminal']);
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /secret\s+kps_/, 'the human output shows the new secret once');
  t.true(created.stderr.includes('shown only this once'), 'with a warning');

  const list = await runCli(env, ['keypair', 'list', '--environment', seed.environmentId]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^KEY ID\s+NAME\s+STATUS\s+SCOPES/);
  t.regex(list.stdout, new RegExp(`${seed.keyId}\\s+ci\\s+enabled\\s+orders:read orders:write`));
  t.true(list.stdout.includes('human'));
  const show = await runCli(env, ['keypair', 'show', seed.keyId]);
  t.is(show.code, 0, show.stderr);
  t.regex(show.stdout, /status\s+enabled/);
  t.regex(show.stdout, /current secret\s+issued /);
  const listJson = await runCli(env, ['keypair', 'list', '--environment', seed.environmentId, '--json']);
  t.deepEqual((JSON.parse(listJson.stdout) as { keyId: string }[]).map((k) => k.keyId).sort(), [seed.keyId, created.stdout.match(/kp_\w+/)![0]].sort());
  const showJson = await runCli(env, ['--json', 'keypair', 'show', seed.keyId]);

  for (const output of [list, show, listJson, showJson]) {
    t.false(output.stdout.includes(seed.secret));
    t.false(/kps_[0-9A-Za-z]/.test(output.stdout + output.stderr), 'no secret of any keypair (a hint, kps_…AbC9, is none)');
  }

  const filtered = await cliJson<unknown[]>(env, ['keypair', 'list', '--environment', seed.environmentId, '--status', 'disabled']);
  t.deepEqual(filtered, []);
});

test('rotate keeps the old secret for the grace period; regenerate ends it at once', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const seed = await seedWithCli(env);

  const rotated = await cliJson<{ keyId: string; secret: string; keypair: { secrets: { state: string; expiresAt: string | null }[] } }>(env, ['keypair', 'rotate', seed.keyId, '--grace', '1h']);
  await serverCatchesUp(t.context.kp);
  t.is(rotated.keyId, seed.keyId);
  t.not(rotated.secret, seed.secret);
  const previous = rotated.keypair.secrets.find((s) => s.state === 'previous');
  t.truthy(previous?.expiresAt);
  t.true(Math.abs(Date.parse(previous!.expiresAt!) - Date.now() - 3_600_000) < 60_000);
  await getToken(kp.url, seed);
  await getToken(kp.url, { keyId: seed.keyId, secret: rotated.secret });

  const regenerated = await cliJson<{ secret: string }>(env, ['keypair', 'regenerate', seed.keyId]);
  await serverCatchesUp(t.context.kp);
  t.is((await tokenRequest(kp.url, seed)).status, 401);
  t.is((await tokenRequest(kp.url, { keyId: seed.keyId, secret: rotated.secret })).status, 401);
  await getToken(kp.url, { keyId: seed.keyId, secret: regenerated.secret });

  const badGrace = await runCli(env, ['keypair', 'rotate', seed.keyId, '--grace', '2h']);
  t.is(badGrace.code, 2);
  t.true(badGrace.stderr.includes('0, 1h, 3h, 24h, 48h, 72h'));
});

test('rotation safety from the CLI: hints, whether the previous secret is still used, end-previous (with --force), extend-grace, retire-when-idle, ended secrets still in use', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const seed = await seedKeypair(kp.keyport); // through the domain: each CLI run is a process start
  const hint = (secret: string) => `kps_…${secret.slice(-4)}`;
  const rotated = await cliJson<{ secret: string }>(env, ['keypair', 'rotate', seed.keyId, '--grace', '3h', '--retire-when-idle', '6h']);
  await serverCatchesUp(kp);
  await getToken(kp.url, seed); // a client still on the old secret
  await kp.keyport.domain.keypairAuth.usageRecorded(); // the server writes its counts (about once a minute otherwise)

  const show = await runCli(env, ['keypair', 'show', seed.keyId]);
  t.is(show.code, 0, show.stderr);
  t.regex(show.stdout, new RegExp(`current secret\\s+issued .*, ${hint(rotated.secret)}, used 0 times`));
  t.regex(show.stdout, new RegExp(`previous secret\\s+issued .*, ${hint(seed.secret)}, used 1 time, last `));
  t.regex(show.stdout, /previous in use\s+STILL USED, last .*needs --force/);
  t.regex(show.stdout, /retire when idle\s+6h unused/);
  const list = await runCli(env, ['keypair', 'list', '--environment', seed.environmentId]);
  t.regex(list.stdout, new RegExp(`${seed.keyId}.*${hint(rotated.secret)}.*previous still used`));

  const extended = await runCli(env, ['keypair', 'extend-grace', seed.keyId, '--until', new Date(Date.now() + 10 * 3_600_000).toISOString()]);
  t.is(extended.code, 0, extended.stderr);
  t.regex(extended.stdout, /now works until/);
  t.is((await runCli(env, ['keypair', 'retire-when-idle', seed.keyId, 'off'])).code, 0);

  const refused = await runCli(env, ['keypair', 'end-previous', seed.keyId]);
  t.not(refused.code, 0);
  t.regex(refused.stderr, /within the last hour.*force/);
  const ended = await runCli(env, ['keypair', 'end-previous', seed.keyId, '--force']);
  t.is(ended.code, 0, ended.stderr);
  await serverCatchesUp(kp);
  t.is((await tokenRequest(kp.url, seed)).status, 401);
  await kp.keyport.domain.keypairAuth.usageRecorded();
  const after = await runCli(env, ['keypair', 'show', seed.keyId]);
  t.regex(after.stdout, new RegExp(`ended secret\\s+${hint(seed.secret)} ended .*STILL IN USE: presented 1 time since, last .* from .*127\\.0\\.0\\.1`));
  t.notRegex(after.stdout, /previous in use/);
});

test('edit changes name, comment and scopes; the next token carries the new scopes', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const seed = await seedWithCli(env);
  const edited = await cliJson<{ name: string; comment: string; scopes: string[] }>(env, ['keypair', 'edit', seed.keyId, '--name', 'deploy', '--comment', 'from CI', '--scope', 'orders:read']);
  await serverCatchesUp(t.context.kp);
  t.deepEqual([edited.name, edited.comment, edited.scopes], ['deploy', 'from CI', ['orders:read']]);
  const response = await tokenRequest(kp.url, seed);
  t.is(((await response.json()) as { scope: string }).scope, 'orders:read');

  const refused = await runCli(env, ['keypair', 'edit', seed.keyId, '--scope', 'reports:read']);
  t.is(refused.code, 1);
  t.is(refused.stderr.trim(), 'error: scopes not grantable to environment keypairs: reports:read');
});

test('replace asks for --yes, then prints the new key id and secret once; the old key stops on the running server', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const seed = await seedWithCli(env);
  const unconfirmed = await runCli(env, ['keypair', 'replace', seed.keyId]);
  t.is(unconfirmed.code, 2);
  t.true(unconfirmed.stderr.includes('--yes'));
  await getToken(kp.url, seed);

  const replaced = await cliJson<{ keyId: string; secret: string; replaces: string; keypair: { name: string; scopes: string[]; environmentId: string } }>(env, ['keypair', 'replace', seed.keyId, '--yes']);
  await serverCatchesUp(kp);
  t.is(replaced.replaces, seed.keyId);
  t.not(replaced.keyId, seed.keyId);
  t.like(replaced.keypair, { name: 'ci', scopes: ['orders:read', 'orders:write'], environmentId: seed.environmentId });
  t.is((await tokenRequest(kp.url, seed)).status, 401, 'the old key id is dead');
  await getToken(kp.url, { keyId: replaced.keyId, secret: replaced.secret });
  const audit = await cliJson<{ action: string; keypairId: string; details: Record<string, unknown> }[]>(env, ['audit', '--environment', seed.environmentId]);
  t.like(audit.find((e) => e.action === 'keypair.replaced'), { keypairId: seed.keyId, details: { replacedBy: replaced.keyId } });
});

test('expiry from the CLI: --expires-at on create and edit, the account\'s keypair-lifetime, list --status expiring', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const seed = await seedWithCli(env);
  const soon = new Date(Date.now() + 3 * 86_400_000).toISOString();
  const edited = await cliJson<{ expiresAt: string | null; expiringSoon: boolean }>(env, ['keypair', 'edit', seed.keyId, '--expires-at', soon]);
  t.deepEqual([edited.expiresAt, edited.expiringSoon], [soon, true]);
  const shown = await runCli(env, ['keypair', 'show', seed.keyId]);
  t.regex(shown.stdout, /expires\s+\S+ \S+ \(expiring soon\)/);
  const expiring = await cliJson<{ keyId: string }[]>(env, ['keypair', 'list', '--environment', seed.environmentId, '--status', 'expiring']);
  t.deepEqual(expiring.map((k) => k.keyId), [seed.keyId]);
  t.is((await runCli(env, ['keypair', 'edit', seed.keyId, '--expires-at', 'soon'])).code, 2, 'a malformed time is a usage error');
  const past = await runCli(env, ['keypair', 'edit', seed.keyId, '--expires-at', '2020-01-01']);
  t.is(past.code, 1);
  t.is(past.stderr.trim(), 'error: expiresAt must be in the future');
  t.is((await cliJson<{ expiresAt: string | null }>(env, ['keypair', 'edit', seed.keyId, '--expires-at', 'never'])).expiresAt, null);

  t.is((await runCli(env, ['account', 'keypair-lifetime', seed.accountId])).code, 2, 'either --days or --none');
  const limited = await cliJson<{ maxKeypairLifetimeDays: number | null }>(env, ['account', 'keypair-lifetime', seed.accountId, '--days', '90']);
  t.is(limited.maxKeypairLifetimeDays, 90);
  const created = await cliJson<{ keypair: { expiresAt: string | null } }>(env, ['keypair', 'create', '--environment', seed.environmentId, '--name', 'bounded', '--scope', 'orders:read']);
  const left = Date.parse(created.keypair.expiresAt!) - Date.now();
  t.true(left > 89 * 86_400_000 && left <= 90 * 86_400_000, 'now + 90 days');
  const tooLong = await runCli(env, ['keypair', 'create', '--environment', seed.environmentId, '--name', 'long', '--expires-at', 'never']);
  t.is(tooLong.code, 1);
  t.regex(tooLong.stderr, /must expire within 90 days/);
  t.is((await cliJson<{ maxKeypairLifetimeDays: number | null }>(env, ['account', 'keypair-lifetime', seed.accountId, '--none'])).maxKeypairLifetimeDays, null);
});

test('closing an environment with the CLI removes its keypairs: their secrets stop working', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const seed = await seedWithCli(env);
  const unconfirmed = await runCli(env, ['environment', 'close', seed.environmentId]);
  t.is(unconfirmed.code, 2);
  await getToken(kp.url, seed);

  const closed = await cliJson<{ id: string; status: string }>(env, ['environment', 'close', seed.environmentId, '--yes']);
  await serverCatchesUp(t.context.kp);
  t.deepEqual(closed, { ...closed, id: seed.environmentId, status: 'closed' });
  t.is((await tokenRequest(kp.url, seed)).status, 401);
  t.deepEqual(await cliJson<unknown[]>(env, ['keypair', 'list', '--environment', seed.environmentId]), []);
});

test('user create reads the password from stdin and grants the roles', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const account = await cliJson<{ id: string }>(env, ['account', 'create', '--name', 'Globex']);
  const created = await cliJson<{ user: { id: string; email: string }; granted: { role: string; ownerId: string }[] }>(env,
    ['user', 'create', '--email', 'Admin@Globex.example', '--password-stdin', '--admin-of', account.id], 'a long enough password\n');
  t.is(created.user.email, 'admin@globex.example');
  t.deepEqual(created.granted, [{ role: 'admin', ownerType: 'account', ownerId: account.id }]);
  t.is((await kp.keyport.domain.users.findByEmail('admin@globex.example'))?.id, created.user.id);
  const memberships = await kp.keyport.domain.users.membershipsOf(created.user.id);
  t.deepEqual(memberships.map((m) => [m.accountId, m.environmentId ?? null, m.role]), [[account.id, null, 'admin']]);

  // A mistyped owner fails before the user is created.
  const typo = await runCli(env, ['user', 'create', '--email', 'other@globex.example', '--password', 'another long password', '--admin-of', 'acc_doesnotexist']);
  t.is(typo.code, 1);
  t.is(typo.stderr.trim(), 'error: account not found');
  t.is(await kp.keyport.domain.users.findByEmail('other@globex.example'), null);
});

test('user create --operator and user set-operator grant and revoke the role that creates accounts; audited', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const created = await runCli(env, ['user', 'create', '--email', 'Platform@Example.com', '--password-stdin', '--operator'], 'a long enough password\n');
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /^Created user usr_\S+ \(platform@example\.com\), an operator\n$/);
  const user = (await kp.keyport.domain.users.findByEmail('platform@example.com'))!;
  t.true(user.operator);
  // The role is what the admin API asks for.
  const operator = await ApiClient.signIn(kp.url, 'platform@example.com', 'a long enough password');
  t.is((await operator.post('/accounts', { name: 'Made by an operator' })).status, 201);

  const plain = await cliJson<{ user: { id: string; operator: boolean } }>(env, ['user', 'create', '--email', 'dev@example.com', '--password-stdin'], 'another long password\n');
  t.false(plain.user.operator);
  const granted = await runCli(env, ['user', 'set-operator', '--email', 'dev@example.com']);
  t.is(granted.code, 0, granted.stderr);
  t.is(granted.stdout, 'dev@example.com is now an operator.\n');
  t.is((await runCli(env, ['user', 'set-operator', '--email', 'dev@example.com'])).stdout, 'dev@example.com is an operator already.\n');
  t.true((await kp.keyport.domain.users.findByEmail('dev@example.com'))!.operator);
  const revoked = await cliJson<{ user: { operator: boolean }; changed: boolean }>(env, ['user', 'set-operator', '--email', 'dev@example.com', '--no-operator']);
  t.like(revoked, { user: { operator: false }, changed: true });
  t.false((await kp.keyport.domain.users.findByEmail('dev@example.com'))!.operator);
  const unknown = await runCli(env, ['user', 'set-operator', '--email', 'nobody@example.com']);
  t.is(unknown.code, 1);
  t.is(unknown.stderr, 'error: no user with email nobody@example.com\n');

  // Instance-wide events: who got and lost the role, and through what.
  const events = await cliJson<{ action: string; actor: string; accountId: string | null; details: { userId: string } }[]>(env, ['audit', '--instance', '--limit', '1000']);
  const roleEvents = (id: string) => events.filter((e) => e.action.startsWith('user.operator_') && e.details.userId === id).map((e) => [e.action, e.actor]);
  t.deepEqual(roleEvents(user.id), [['user.operator_granted', 'cli']]);
  t.deepEqual(roleEvents(plain.user.id), [['user.operator_revoked', 'cli'], ['user.operator_granted', 'cli']]);
  t.true(events.every((e) => e.accountId === null), 'only events of no account');
  const both = await runCli(env, ['audit', '--instance', '--account', 'acc_x']);
  t.is(both.code, 2);
  t.regex(both.stderr, /exactly one of --account, --environment, --keypair or --instance/);
});

test('audit --keypair: a removed keypair keeps its trail; an unknown key id is "keypair not found"', async (t) => {
  const env = cliEnv(t.context.kp.config);
  const seed = await seedWithCli(env);
  const removed = await runCli(env, ['keypair', 'remove', seed.keyId, '--yes']);
  t.is(removed.code, 0, removed.stderr);
  const trail = await cliJson<{ action: string; keypairId: string }[]>(env, ['audit', '--keypair', seed.keyId]);
  t.deepEqual(trail.map((e) => [e.action, e.keypairId]), [['keypair.removed', seed.keyId], ['keypair.created', seed.keyId]]);
  const unknown = await runCli(env, ['audit', '--keypair', 'kp_AAAAAAAAAAAAAAAAAAAAAAAA']);
  t.is(unknown.code, 1);
  t.is(unknown.stderr, 'error: keypair not found\n');
  t.is(unknown.stdout, '');
});

test('account rename and environment rename show in the lists; a closed owner keeps its name', async (t) => {
  const env = cliEnv(t.context.kp.config);
  const seed = await seedWithCli(env);
  const renamed = await runCli(env, ['account', 'rename', seed.accountId, '--name', 'Acme Corp']);
  t.is(renamed.code, 0, renamed.stderr);
  t.is(renamed.stdout, `Renamed account ${seed.accountId} (Acme Corp)\n`);
  const accounts = await runCli(env, ['account', 'list']);
  t.regex(accounts.stdout, new RegExp(`${seed.accountId}\\s+Acme Corp\\s+active`));
  t.is((await cliJson<{ id: string; name: string }[]>(env, ['account', 'list'])).find((a) => a.id === seed.accountId)?.name, 'Acme Corp');

  const environment = await cliJson<{ id: string; name: string; accountId: string }>(env, ['env', 'rename', seed.environmentId, '--name', 'prod']);
  t.like(environment, { id: seed.environmentId, name: 'prod', accountId: seed.accountId });
  t.deepEqual((await cliJson<{ name: string }[]>(env, ['environment', 'list', '--account', seed.accountId])).map((e) => e.name), ['prod']);

  const noName = await runCli(env, ['account', 'rename', seed.accountId]);
  t.is(noName.code, 2);
  t.true(noName.stderr.includes("required option '--name <name>' not specified"));
  const missing = await runCli(env, ['account', 'rename', 'acc_doesnotexist', '--name', 'x']);
  t.is(missing.code, 1);
  t.is(missing.stderr, 'error: account not found\n');
  await cliJson(env, ['environment', 'close', seed.environmentId, '--yes']);
  const closed = await runCli(env, ['environment', 'rename', seed.environmentId, '--name', 'again']);
  t.is(closed.code, 1);
  t.is(closed.stderr, `error: environment ${seed.environmentId} is closed\n`);

  const audit = await cliJson<{ action: string; details: Record<string, unknown> }[]>(env, ['audit', '--account', seed.accountId]);
  t.like(audit.find((e) => e.action === 'account.renamed'), { details: { from: 'Acme', to: 'Acme Corp' } });
  t.like(audit.find((e) => e.action === 'environment.renamed'), { details: { from: 'production', to: 'prod' } });
});

test('member add, list and remove round trip; an account keeps at least one admin', async (t) => {
  const env = cliEnv(t.context.kp.config);
  const seed = await seedWithCli(env);
  const admin = await cliJson<{ user: { id: string } }>(env, ['user', 'create', '--email', 'boss@initech.example', '--password-stdin', '--admin-of', seed.accountId], 'a long enough password\n');
  const other = await cliJson<{ user: { id: string } }>(env, ['user', 'create', '--email', 'peter@initech.example', '--password-stdin'], 'another long password\n');

  const added = await runCli(env, ['member', 'add', '--account', seed.accountId, '--email', 'Peter@Initech.example', '--role', 'member']);
  t.is(added.code, 0, added.stderr);
  t.is(added.stdout, `peter@initech.example is now member of account ${seed.accountId}.\n`);
  const list = await runCli(env, ['member', 'list', '--account', seed.accountId]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^EMAIL\s+ROLE\s+USER ID\s+SINCE\n/);
  t.regex(list.stdout, new RegExp(`boss@initech\\.example\\s+admin\\s+${admin.user.id}`));
  t.regex(list.stdout, new RegExp(`peter@initech\\.example\\s+member\\s+${other.user.id}`));

  const envMember = await cliJson<Record<string, unknown>>(env, ['member', 'add', '--environment', seed.environmentId, '--email', 'peter@initech.example', '--role', 'admin']);
  t.deepEqual(envMember, { userId: other.user.id, email: 'peter@initech.example', role: 'admin', accountId: seed.accountId, environmentId: seed.environmentId });
  t.deepEqual((await cliJson<{ email: string; role: string }[]>(env, ['member', 'list', '--environment', seed.environmentId])).map((m) => [m.email, m.role]),
    [['peter@initech.example', 'admin']]);

  // The last admin of an account can be neither demoted nor removed.
  const demote = await runCli(env, ['member', 'add', '--account', seed.accountId, '--email', 'boss@initech.example', '--role', 'member']);
  t.is(demote.code, 1);
  t.is(demote.stderr, 'error: an account keeps at least one admin\n');
  const unconfirmed = await runCli(env, ['member', 'remove', '--account', seed.accountId, '--email', 'boss@initech.example']);
  t.is(unconfirmed.code, 2);
  t.true(unconfirmed.stderr.includes('--yes'));
  const lastAdmin = await runCli(env, ['member', 'remove', '--account', seed.accountId, '--email', 'boss@initech.example', '--yes']);
  t.is(lastAdmin.code, 1);
  t.is(lastAdmin.stderr, 'error: an account keeps at least one admin\n');
  t.is(lastAdmin.stdout, '');

  const removed = await runCli(env, ['member', 'remove', '--account', seed.accountId, '--email', 'peter@initech.example', '--yes']);
  t.is(removed.code, 0, removed.stderr);
  t.is(removed.stdout, `Removed peter@initech.example from account ${seed.accountId}.\n`);
  t.deepEqual((await cliJson<{ email: string; role: string }[]>(env, ['member', 'list', '--account', seed.accountId])).map((m) => [m.email, m.role]),
    [['boss@initech.example', 'admin']]);
  const again = await runCli(env, ['member', 'remove', '--account', seed.accountId, '--email', 'peter@initech.example', '--yes']);
  t.is(again.code, 1);
  t.is(again.stderr, 'error: membership not found\n');
  const unknown = await runCli(env, ['member', 'add', '--account', seed.accountId, '--email', 'nobody@initech.example', '--role', 'admin']);
  t.is(unknown.code, 1);
  t.is(unknown.stderr, 'error: no user with email nobody@initech.example\n');

  const audit = await cliJson<{ action: string; actor: string }[]>(env, ['audit', '--account', seed.accountId]);
  t.deepEqual(audit.filter((e) => e.action.startsWith('membership.')).map((e) => [e.action, e.actor]),
    [['membership.revoked', 'cli'], ['membership.granted', 'cli'], ['membership.granted', 'cli'], ['membership.granted', 'cli']]);
});

test('signing-keys list, rotate and revoke; the running server follows', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const seed = await seedWithCli(env);
  const before = await cliJson<SigningKeyView[]>(env, ['signing-keys', 'list']);
  t.deepEqual(before.map((key) => key.state), ['next', 'current'], 'newest first');
  const [next, current] = before as [SigningKeyView, SigningKeyView];
  const text = await runCli(env, ['signing-keys', 'list']);
  t.is(text.code, 0);
  t.regex(text.stdout, /^KID +STATE +CREATED +SIGNS FROM +RETIRED AT +REMOVED AFTER\n/);
  t.true(text.stdout.includes(`${current.kid}  current`), text.stdout);

  // Other tests share this server: only rotations (old tokens stay valid) and the next key's revocation here.
  const safe = await cliJson<RotationOutcome>(env, ['signing-keys', 'rotate']);
  t.true(safe.changed);
  t.is(safe.signing.kid, next.kid);
  t.is(safe.signing.state, 'next', 'published moments ago: it signs once it has been published for an hour');
  const urgent = await runCli(env, ['signing-keys', 'rotate', '--immediately']);
  t.is(urgent.code, 0, urgent.stderr);
  t.is(urgent.stdout, `Key ${next.kid} signs tokens from now on; ${current.kid} is retired and stays published until its tokens have expired.\n`);
  await serverCatchesUp(kp);
  await kp.keyport.signingKeys.refresh();
  t.is(decodeProtectedHeader(await getToken(kp.url, seed)).kid, next.kid);

  const following = (await cliJson<SigningKeyView[]>(env, ['signing-keys', 'list'])).find((key) => key.state === 'next')!;
  const unconfirmed = await runCli(env, ['signing-keys', 'revoke', following.kid]);
  t.is(unconfirmed.code, 2);
  t.true(unconfirmed.stderr.includes('add --yes to confirm'));
  const revoked = await cliJson<RevocationOutcome>(env, ['signing-keys', 'revoke', following.kid, '--yes']);
  t.is(revoked.revoked.state, 'revoked');
  t.is(revoked.signingKid, next.kid);
  await serverCatchesUp(kp);
  await kp.keyport.signingKeys.refresh();
  const jwks = await (await fetch(`${kp.url}/oauth/jwks`)).json() as JSONWebKeySet;
  t.false(jwks.keys.some((key) => key.kid === following.kid), 'the revoked key is gone from the running server\'s JWKS');
  t.true(jwks.keys.some((key) => key.kid === current.kid), 'the retired key is still published');

  const again = await runCli(env, ['signing-keys', 'revoke', following.kid, '--yes']);
  t.is(again.code, 1);
  t.regex(again.stderr, new RegExp(`^error: signing key ${following.kid} was already revoked at `));
  const unknown = await runCli(env, ['signing-keys', 'revoke', 'no-such-kid', '--yes']);
  t.is(unknown.code, 1);
  t.is(unknown.stderr, 'error: signing key not found\n');

  const audit = await cliJson<{ action: string; actor: string; details: { kid?: string } }[]>(env, ['audit', '--instance']);
  const byCli = audit.filter((e) => e.actor === 'cli').map((e) => [e.action, e.details.kid]);
  t.deepEqual(byCli.filter(([action]) => action!.startsWith('signing_key.') && action !== 'signing_key.created'), [
    ['signing_key.revoked', following.kid],
    ['signing_key.rotated', next.kid],
    ['signing_key.rotated', next.kid],
  ]);
});

test('a wrong command line exits 2 with a clear message; a failed operation exits 1 with one line', async (t) => {
  const env = cliEnv(t.context.kp.config);
  const unknown = await runCli(env, ['frobnicate']);
  t.is(unknown.code, 2);
  t.true(unknown.stderr.includes("unknown command 'frobnicate'"));

  const noOwner = await runCli(env, ['keypair', 'create', '--name', 'x']);
  t.is(noOwner.code, 2);
  t.true(noOwner.stderr.includes('--account <id> or --environment <id> is required'));

  const missing = await runCli(env, ['keypair', 'show', 'kp_000000000000000000000000']);
  t.is(missing.code, 1);
  t.is(missing.stderr, 'error: keypair not found\n');
  t.is(missing.stdout, '');

  const help = await runCli(env, ['--help']);
  t.is(help.code, 0);
  for (const command of ['account', 'environment', 'user', 'member', 'keypair', 'scopes', 'audit', 'signing-keys']) t.true(help.stdout.includes(command));
});

test('the CLI works with no server running: it starts and stops its own embedded database', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyport-cli-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = cliEnv({ database: { dataDir, uri: null }, secrets: { pepper: null, keyEncryptionKey: null, endedRetentionDays: 30 } });

  const account = await cliJson<{ id: string }>(env, ['account', 'create', '--name', 'Offline']);
  const accounts = await cliJson<{ id: string }[]>(env, ['account', 'list']);
  t.deepEqual(accounts.map((a) => a.id), [account.id], 'the data outlives the command');
  const scopes = await cliJson<{ name: string }[]>(env, ['scopes', '--level', 'account']);
  t.true(scopes.some((s) => s.name === 'keyport:manage'));

  t.false(existsSync(join(dataDir, 'ferretdb.json')), 'no embedded database is left registered');
  if (existsSync('/proc')) {
    const stillRunning = readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).some((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir);
      } catch {
        return false;
      }
    });
    t.false(stillRunning, 'the FerretDB the CLI started has stopped');
  }
});

test('private_key_jwt from the CLI: a key-only keypair from a PEM file, key add (stdin), list, retire; refusals exit non-zero', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const seed = await seedWithCli(env);
  const dir = mkdtempSync(join(tmpdir(), 'keyport-cli-keys-'));
  try {
    const { generateKeyPairSync } = await import('node:crypto');
    const first = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pubPath = join(dir, 'client.pub');
    writeFileSync(pubPath, first.publicKey.export({ type: 'spki', format: 'pem' }));
    const created = await cliJson<{ keyId: string; secret: null; keypair: { secrets: unknown[]; publicKeys: { thumbprint: string }[] } }>(env, [
      'keypair', 'create', '--environment', seed.environmentId, '--name', 'signer', '--scope', 'orders:read', '--public-key', pubPath, '--no-secret',
    ]);
    t.is(created.secret, null);
    t.deepEqual(created.keypair.secrets, []);
    t.is(created.keypair.publicKeys.length, 1);

    const second = generateKeyPairSync('ed25519');
    const added = await cliJson<{ key: { thumbprint: string; algs: string[] } }>(env, ['keypair', 'key', 'add', created.keyId, '-'], second.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    t.deepEqual(added.key.algs, ['EdDSA']);
    const listed = await runCli(env, ['keypair', 'key', 'list', created.keyId]);
    t.is(listed.code, 0, listed.stderr);
    t.true(listed.stdout.includes(added.key.thumbprint) && listed.stdout.includes(created.keypair.publicKeys[0]!.thumbprint));

    const retired = await runCli(env, ['keypair', 'key', 'retire', created.keyId, created.keypair.publicKeys[0]!.thumbprint, '--grace', '24h']);
    t.is(retired.code, 0, retired.stderr);
    t.regex(retired.stdout, /stops working 20\d\d-/);

    const privatePath = join(dir, 'client.key');
    writeFileSync(privatePath, first.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const refused = await runCli(env, ['keypair', 'key', 'add', created.keyId, privatePath]);
    t.not(refused.code, 0);
    t.regex(refused.stderr, /private key/);
    t.false(refused.stdout.includes('PRIVATE'), 'the private key is never echoed');
    const noKey = await runCli(env, ['keypair', 'create', '--environment', seed.environmentId, '--name', 'nothing', '--no-secret']);
    t.not(noKey.code, 0);
    t.regex(noKey.stderr, /--no-secret needs at least one --public-key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keypair usage prints the days the servers wrote: today\'s authentications, zero before; --days is checked', async (t) => {
  const { kp } = t.context;
  const env = cliEnv(kp.config);
  const seeded = await seedWithCli(env);
  for (let i = 0; i < 3; i++) t.is((await tokenRequest(kp.url, { keyId: seeded.keyId, secret: seeded.secret })).status, 200);
  await kp.keyport.domain.keypairAuth.usageRecorded(seeded.keyId); // the server's batch, written as its timer would
  const usage = await cliJson<{ keyId: string; days: { day: string; authenticated: number; failed: number }[] }>(env, ['keypair', 'usage', seeded.keyId, '--days', '3']);
  t.is(usage.days.length, 3);
  t.deepEqual(usage.days.map((d) => d.authenticated), [0, 0, 3]);
  const table = await runCli(env, ['keypair', 'usage', seeded.keyId]);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /DAY\s+AUTHENTICATED\s+FAILED/);
  const bad = await runCli(env, ['keypair', 'usage', seeded.keyId, '--days', '91']);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /--days must be a whole number from 1 to 90/);
});
