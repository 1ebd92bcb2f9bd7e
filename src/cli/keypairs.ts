// The keypair commands: the keypair lifecycle (docs/architecture.md, Keypair lifecycle) from a terminal or a script.
import { Option, type Command } from 'commander';
import type { IssuedKeypair, KeypairStatus, KeypairView } from '../domain/keypairs.ts';
import { COMMENT_MAX, DEFAULT_GRACE, GRACE_PERIOD_NAMES, NAME_MAX, type GracePeriod } from '../domain/limits.ts';
import { UsageError } from './errors.ts';
import { keyFields, readKeyFile, registerKeypairKeyCommands } from './keypair-keys.ts';
import { fields, table, when } from './output.ts';
import { addOwnerOptions, findOwner, ownerRefOf, type OwnerRef } from './owners.ts';
import type { Runner, Session } from './session.ts';

const PAGE = 200;

/** --scope a --scope b, or --scope "a b" / --scope a,b: the same thing. */
const collectScopes = (value: string, previous: string[] = []) => [...previous, ...value.split(/[\s,]+/).filter(Boolean)];

function ownerLabel(k: KeypairView): string {
  return k.environmentId ? `environment ${k.environmentId} (account ${k.accountId})` : `account ${k.accountId}`;
}

function statusLabel(k: KeypairView): string {
  if (k.lockedPermanently) return 'locked (until unlocked or regenerated)';
  if (k.locked) return `locked until ${when(k.lockedUntil)}`;
  return k.status;
}

function describe(k: KeypairView): string {
  const secrets = k.secrets.map((s): [string, string] => s.state === 'current'
    ? ['current secret', `issued ${when(s.createdAt)}`]
    : ['previous secret', `issued ${when(s.createdAt)}, stops working ${when(s.expiresAt)}`]);
  return fields([
    ['key id', k.keyId],
    ['name', k.name],
    ['comment', k.comment || '-'],
    ['owner', ownerLabel(k)],
    ['status', statusLabel(k)],
    ['scopes', k.scopes.join(' ') || '-'],
    ...secrets,
    ...keyFields(k),
    ['failed attempts', String(k.failedAttempts)],
    ['created', `${when(k.createdAt)} by ${k.createdBy}`],
    ['last used', when(k.lastUsedAt)],
    ['last rotated', when(k.lastRotatedAt)],
  ]);
}

/** The one time a secret is printed; the warning goes to stderr so that stdout can be captured. */
function printIssued(s: Session, issued: IssuedKeypair, headline: string): void {
  s.print({ keyId: issued.keypair.keyId, secret: issued.secret, keypair: issued.keypair }, () =>
    `${headline}\n\n${fields([['key id', issued.keypair.keyId], ['secret', issued.secret]])}\n`);
  s.note('Store the secret now: it is shown only this once and cannot be read back.');
}

async function listAll(s: Session, ref: OwnerRef, status: KeypairStatus | undefined): Promise<KeypairView[]> {
  const owner = await findOwner(s.domain, ref);
  const items: KeypairView[] = [];
  for (;;) {
    const page = await s.domain.keypairs.list(owner, { limit: PAGE, offset: items.length, ...(status ? { status } : {}) });
    items.push(...page.items);
    if (page.items.length < PAGE || items.length >= page.total) return items;
  }
}

/** `keyport keypair <verb> KEY_ID` for the changes that return the keypair. */
function simpleChange(keypair: Command, run: Runner, verb: string, description: string, change: (s: Session, keyId: string) => Promise<KeypairView>, done: string): void {
  keypair.command(`${verb} <keyId>`)
    .description(description)
    .action((keyId: string, _options: unknown, command: Command) => run(command, async (s) => {
      const changed = await change(s, keyId);
      s.print(changed, () => `Keypair ${changed.keyId} ${done}.\n`);
    }));
}

export function registerKeypairCommands(program: Command, run: Runner): void {
  const keypair = program.command('keypair').alias('kp')
    .summary('API keypairs: create, list, show, edit, disable, enable, unlock, rotate, regenerate, remove')
    .description('Manage API keypairs: the credentials (OAuth client id + secret) machines exchange for access tokens.\nA secret is printed once, when it is created, rotated or regenerated, and can never be read back.');

  addOwnerOptions(keypair.command('create').description('create a keypair and print its secret (once)'), 'a keypair')
    .requiredOption('--name <name>', `what uses it, e.g. "ci-deploy" (at most ${NAME_MAX} characters)`)
    .option('--comment <text>', `free text for administrators (at most ${COMMENT_MAX} characters)`)
    .option('--scope <scope>', 'a scope it may request (repeatable; see `keyport scopes`)', collectScopes)
    .option('--public-key <file>', 'a public key for private_key_jwt, JWK or PEM ("-": stdin; repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--no-secret', 'a key-only keypair: no secret at all (needs --public-key)')
    .addHelpText('after', '\nExamples:\n  keyport keypair create --environment env_… --name ci --scope orders:read --scope orders:write\n  keyport keypair create --environment env_… --name ci --scope orders:read --public-key client.pub --no-secret\n')
    .action((options: { account?: string; environment?: string; name: string; comment?: string; scope?: string[]; publicKey?: string[]; secret: boolean }, command: Command) => {
      const owner = ownerRefOf(options);
      if (!options.secret && !options.publicKey?.length) throw new UsageError('--no-secret needs at least one --public-key');
      return run(command, async (s) => {
        const publicKeys = await Promise.all((options.publicKey ?? []).map((file) => readKeyFile(s, file)));
        const issued = await s.domain.keypairs.create(owner, {
          name: options.name,
          scopes: options.scope ?? [],
          ...(options.comment !== undefined ? { comment: options.comment } : {}),
          ...(publicKeys.length ? { publicKeys } : {}),
          secret: options.secret,
        }, 'cli');
        const headline = `Created keypair ${issued.keypair.keyId} (${issued.keypair.name}) for ${ownerLabel(issued.keypair)}`;
        if (issued.secret === null) s.print({ keyId: issued.keypair.keyId, secret: null, keypair: issued.keypair }, () => `${headline}, without a secret.\n\n${describe(issued.keypair)}`);
        else printIssued(s, { keypair: issued.keypair, secret: issued.secret }, headline);
      });
    });

  addOwnerOptions(keypair.command('list').description("list an account's or an environment's keypairs (never their secrets)"), 'keypairs')
    .addOption(new Option('--status <status>', 'only keypairs in this state').choices(['enabled', 'disabled', 'locked']))
    .action((options: { account?: string; environment?: string; status?: KeypairStatus }, command: Command) => {
      const owner = ownerRefOf(options);
      return run(command, async (s) => {
        const items = await listAll(s, owner, options.status);
        s.print(items, () => items.length
          ? table(['KEY ID', 'NAME', 'STATUS', 'SCOPES', 'CREATED', 'LAST USED', 'LAST ROTATED'],
            items.map((k) => [k.keyId, k.name, k.status, k.scopes.join(' ') || '-', when(k.createdAt), when(k.lastUsedAt), when(k.lastRotatedAt)]))
          : 'No keypairs.\n');
      });
    });

  keypair.command('show <keyId>')
    .description('show one keypair: status, scopes, secret ages and expiry (never the secrets)')
    .action((keyId: string, _options: unknown, command: Command) => run(command, async (s) => {
      const found = await s.domain.keypairs.get(keyId);
      s.print(found, () => describe(found));
    }));

  keypair.command('edit <keyId>')
    .description('change the name, comment or scopes (new scopes apply to new tokens only)')
    .option('--name <name>', 'new name')
    .option('--comment <text>', 'new comment ("" clears it)')
    .option('--scope <scope>', 'the complete new scope set (repeatable; replaces the current scopes)', collectScopes)
    .option('--clear-scopes', 'remove every scope')
    .action((keyId: string, options: { name?: string; comment?: string; scope?: string[]; clearScopes?: boolean }, command: Command) => {
      if (options.scope && options.clearScopes) throw new UsageError('give either --scope or --clear-scopes, not both');
      const scopes = options.clearScopes ? [] : options.scope;
      if (options.name === undefined && options.comment === undefined && scopes === undefined) {
        throw new UsageError('nothing to change: give --name, --comment, --scope or --clear-scopes');
      }
      return run(command, async (s) => {
        const updated = await s.domain.keypairs.update(keyId, {
          ...(options.name !== undefined ? { name: options.name } : {}),
          ...(options.comment !== undefined ? { comment: options.comment } : {}),
          ...(scopes !== undefined ? { scopes } : {}),
        }, 'cli');
        s.print(updated, () => `Updated keypair ${updated.keyId}.\n\n${describe(updated)}`);
      });
    });

  simpleChange(keypair, run, 'disable', 'stop issuing tokens to it; the tokens issued so far are revoked for good', (s, id) => s.domain.keypairs.setEnabled(id, false, 'cli'), 'disabled');
  simpleChange(keypair, run, 'enable', 'allow it to get tokens again', (s, id) => s.domain.keypairs.setEnabled(id, true, 'cli'), 'enabled');
  simpleChange(keypair, run, 'unlock', 'clear a lockout without changing the secret', (s, id) => s.domain.keypairs.unlock(id, 'cli'), 'unlocked');

  keypair.command('rotate <keyId>')
    .description('issue a new secret; the current one keeps working for the grace period')
    .addOption(new Option('--grace <period>', 'how long the current secret keeps working (0 = stops now)')
      .choices(GRACE_PERIOD_NAMES).default(DEFAULT_GRACE))
    .option('--revoke-tokens', 'also revoke the tokens already issued (a planned rotation keeps them)')
    .action((keyId: string, options: { grace: GracePeriod; revokeTokens?: boolean }, command: Command) => run(command, (s) => rotate(s, keyId, options.grace, options.revokeTokens ?? false)));

  keypair.command('regenerate <keyId>')
    .description('after a leak: issue a new secret; the old one stops working at once, the tokens already issued are revoked (also clears a lockout)')
    .option('--keep-tokens', 'keep the tokens already issued (a planned change, not a leak)')
    .action((keyId: string, options: { keepTokens?: boolean }, command: Command) => run(command, (s) => rotate(s, keyId, '0', !options.keepTokens)));

  registerKeypairKeyCommands(keypair, run);

  keypair.command('remove <keyId>')
    .alias('rm')
    .description('delete the keypair for good: its tokens introspect inactive; the audit trail stays')
    .option('--yes', 'confirm: removal cannot be undone')
    .action((keyId: string, options: { yes?: boolean }, command: Command) => {
      if (!options.yes) throw new UsageError(`removing ${keyId} cannot be undone: add --yes to confirm`);
      return run(command, async (s) => {
        await s.domain.keypairs.remove(keyId, 'cli');
        s.print({ keyId, removed: true }, () => `Keypair ${keyId} removed.\n`);
      });
    });
}

async function rotate(s: Session, keyId: string, grace: GracePeriod, revokeTokens: boolean): Promise<void> {
  // Read first to tell the administrator when a rotation cuts short an earlier grace period (docs/architecture.md, Rotation and regeneration).
  const before = await s.domain.keypairs.get(keyId);
  const cutShort = before.secrets.find((secret) => secret.state === 'previous');
  const issued = await s.domain.keypairs.rotate(keyId, grace, 'cli', { revokeTokens });
  const previous = issued.keypair.secrets.find((secret) => secret.state === 'previous');
  printIssued(s, issued, grace === '0' ? `Regenerated the secret of ${keyId}` : `Rotated the secret of ${keyId}`);
  s.note(previous
    ? `The old secret keeps working until ${when(previous.expiresAt)}.`
    : 'The old secret has stopped working.');
  if (cutShort && grace !== '0') s.note(`The earlier previous secret (grace until ${when(cutShort.expiresAt)}) has stopped working.`);
  s.note(revokeTokens ? 'The tokens issued before now are revoked.' : 'The tokens issued before now stay valid until they expire.');
}
