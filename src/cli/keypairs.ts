// The keypair commands: the keypair lifecycle (docs/architecture.md, Keypair lifecycle) from a terminal or a script.
import { Option, type Command } from 'commander';
import type { AccountWideKeypairView, IssuedKeypair, KeypairListFilter, KeypairView } from '../domain/keypairs.ts';
import { COMMENT_SEARCH_MAX, KEYPAIR_SORTS, type KeypairPageRequest, type KeypairSort } from '../domain/keypair-pages.ts';
import { EXPIRING_WINDOW_DAYS } from '../domain/expiry.ts';
import { COMMENT_MAX, DEFAULT_GRACE, GRACE_PERIOD_NAMES, NAME_MAX, RETIRE_WHEN_IDLE_NAMES, type GracePeriod, type RetireWhenIdle } from '../domain/limits.ts';
import { USAGE_CHART_DAYS, USAGE_RETENTION_DAYS } from '../domain/daily-usage.ts';
import { UsageError } from './errors.ts';
import { keyFields, readKeyFile, registerKeypairKeyCommands } from './keypair-keys.ts';
import { collectTrustRule, registerKeypairTrustCommands, trustFields } from './keypair-trust.ts';
import type { TrustRuleInput } from '../domain/trust-rules.ts';
import { fields, table, when } from './output.ts';
import { addOwnerOptions, findOwner, ownerRefOf, type OwnerRef } from './owners.ts';
import type { Runner, Session } from './session.ts';
import type { Owner } from '../domain/owners.ts';
import { isWellFormedKeyId } from '../domain/credentials.ts';

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

/** The expiry as a table cell or field: the date, and whether it is past or near. */
function expiryLabel(k: KeypairView): string {
  if (!k.expiresAt) return 'never';
  if (k.expired) return `${when(k.expiresAt)} (expired)`;
  return k.expiringSoon ? `${when(k.expiresAt)} (expiring soon)` : when(k.expiresAt);
}

/**
 * --expires-at: an ISO 8601 time with its offset (2027-01-31T12:00:00Z), a date
 * alone (midnight UTC), or "never". Checked here for its form; the server checks
 * that it is in the future and within the account's maximum lifetime.
 */
export function parseExpiresAt(value: string): Date | null {
  if (value === 'never') return null;
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const parsed = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text) ? new Date(text) : null;
  if (!parsed || Number.isNaN(parsed.getTime())) throw new UsageError(`--expires-at must be a date (2027-01-31), a time with its offset (2027-01-31T12:00:00Z) or "never", got "${value}"`);
  return parsed;
}

/** A secret's hint and use: "kps_…AbC9, used 3 times, last 2026-…" (hints are no secret: the checksum's last characters). */
function secretUse(s: { hint: string | null; useCount: number; lastUsedAt: string | null }): string {
  return `${s.hint ?? 'no hint'}, used ${s.useCount} time${s.useCount === 1 ? '' : 's'}${s.lastUsedAt ? `, last ${when(s.lastUsedAt)}` : ''}`;
}

/** During a grace period: is the previous secret still used, and what ending it early takes. */
function previousSecretState(k: KeypairView): [string, string][] {
  const p = k.previousSecret;
  if (!p) return [];
  const use = !p.usedSinceRotation
    ? 'not used since the rotation: safe to end (keypair end-previous)'
    : p.usedInLastHour
      ? `STILL USED, last ${when(p.lastUsedAt)}: a client has not switched yet (ending it now needs --force)`
      : `used since the rotation, last ${when(p.lastUsedAt)}`;
  return [
    ['previous in use', use],
    ...(p.retireWhenIdle ? [['retire when idle', `${p.retireWhenIdle} unused (ends ${when(p.endsAt)} unless used)`] as [string, string]] : []),
  ];
}

/** Ended secrets still recognised, and whether a client still sends one. */
function endedSecretLines(k: KeypairView): [string, string][] {
  return k.endedSecrets.map((e): [string, string] => ['ended secret', `${e.hint ?? 'no hint'} ended ${when(e.endedAt)}; ${e.stillInUse
    ? `STILL IN USE: presented ${e.stillInUse.count} time${e.stillInUse.count === 1 ? '' : 's'} since, last ${when(e.stillInUse.lastSeenAt)} from ${e.stillInUse.lastAddress ?? 'unknown address'}`
    : 'not presented since'}`]);
}

/** Where the recent failures came from (the last 24 hours), one line per address. */
function failureSourceLines(k: KeypairView): [string, string][] {
  return k.recentFailures.map((f): [string, string] => ['failed from', `${f.address}: ${f.count} time${f.count === 1 ? '' : 's'}, last ${when(f.lastSeenAt)}`]);
}

function describe(k: KeypairView): string {
  const secrets = k.secrets.map((s): [string, string] => s.state === 'current'
    ? ['current secret', `issued ${when(s.createdAt)}, ${secretUse(s)}`]
    : ['previous secret', `issued ${when(s.createdAt)}, stops working ${when(s.endsAt ?? s.expiresAt)}, ${secretUse(s)}`]);
  return fields([
    ['key id', k.keyId],
    ['name', k.name],
    ['comment', k.comment || '-'],
    ['owner', ownerLabel(k)],
    ['status', statusLabel(k)],
    ['scopes', k.scopes.join(' ') || '-'],
    ['DPoP', k.dpopRequired ? 'required' : 'optional'],
    ...secrets,
    ...previousSecretState(k),
    ...endedSecretLines(k),
    ...keyFields(k),
    ...trustFields(k),
    ['failed attempts', String(k.failedAttempts)],
    ...failureSourceLines(k),
    ['created', `${when(k.createdAt)} by ${k.createdBy}`],
    ['last used', when(k.lastUsedAt)],
    ['last rotated', when(k.lastRotatedAt)],
    ['expires', expiryLabel(k)],
  ]);
}

/** The one time a secret is printed; the warning goes to stderr so that stdout can be captured. */
function printIssued(s: Session, issued: IssuedKeypair, headline: string): void {
  s.print({ keyId: issued.keypair.keyId, secret: issued.secret, keypair: issued.keypair }, () =>
    `${headline}\n\n${fields([['key id', issued.keypair.keyId], ['secret', issued.secret]])}\n`);
  s.note('Store the secret now: it is shown only this once and cannot be read back.');
}

type ListOptions = { status?: KeypairListFilter; sort?: KeypairSort; search?: string; allEnvironments?: boolean };
type ListedPage = Omit<Awaited<ReturnType<Session['domain']['keypairs']['listPage']>>, 'items'> & { items: (KeypairView & { environment?: AccountWideKeypairView['environment'] })[] };

/** One page of the owner's keypairs, or with --all-environments of every keypair of the account and its environments. */
function readPage(s: Session, owner: Owner, options: ListOptions, request: KeypairPageRequest): Promise<ListedPage> {
  return options.allEnvironments ? s.domain.keypairs.listAcrossEnvironments(owner.accountId, request) : s.domain.keypairs.listPage(owner, request);
}

/** Every keypair of the list, page by page, each page after the cursor of the one before. */
async function listAll(s: Session, ref: OwnerRef, options: ListOptions): Promise<{ items: ListedPage['items']; searchedComments: boolean }> {
  const owner = await findOwner(s.domain, ref);
  const items: ListedPage['items'] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await readPage(s, owner, options, { limit: PAGE, ...listRequest(options), ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    if (!page.next) return { items, searchedComments: page.searchedComments };
    cursor = page.next;
  }
}

function listRequest(options: ListOptions): Omit<KeypairPageRequest, 'limit'> {
  return { ...(options.status ? { status: options.status } : {}), ...(options.sort ? { sort: options.sort } : {}), ...(options.search ? { search: options.search } : {}) };
}

const KEYPAIR_COLUMNS = ['KEY ID', 'NAME', 'STATUS', 'SCOPES', 'SECRET', 'CREATED', 'LAST USED', 'LAST ROTATED', 'EXPIRES', 'SECRET USE'];
const keypairRow = (k: KeypairView) => [k.keyId, k.name, k.status, k.scopes.join(' ') || '-', k.secrets.find((x) => x.state === 'current')?.hint ?? '-', when(k.createdAt), when(k.lastUsedAt), when(k.lastRotatedAt), k.expiresAt ? expiryLabel(k) : '-', secretWarnings(k)];
/** The list as a table; across environments with an ENVIRONMENT column after the name ("-": the account's own). */
const keypairTable = (items: ListedPage['items'], acrossEnvironments = false) => acrossEnvironments
  ? table([...KEYPAIR_COLUMNS.slice(0, 2), 'ENVIRONMENT', ...KEYPAIR_COLUMNS.slice(2)], items.map((k) => { const row = keypairRow(k); return [...row.slice(0, 2), k.environment ? `${k.environment.name} (${k.environment.id})` : '-', ...row.slice(2)]; }))
  : table(KEYPAIR_COLUMNS, items.map(keypairRow));

/** Said on stderr when a search could not look into comments (a list of more than COMMENT_SEARCH_MAX keypairs). */
function commentSearchNote(s: Session, options: ListOptions, searchedComments: boolean): void {
  if (options.search?.trim() && !searchedComments && !isWellFormedKeyId(options.search.trim())) s.note(`Comments were not searched: that is done in lists of at most ${COMMENT_SEARCH_MAX} keypairs; this search matched names starting with the text and key ids only.`);
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
    .summary('API keypairs: create, list, show, usage, edit, disable, enable, unlock, rotate, regenerate, replace, end-previous, extend-grace, retire-when-idle, remove')
    .description('Manage API keypairs: the credentials (OAuth client id + secret) machines exchange for access tokens.\nA secret is printed once, when it is created, rotated or regenerated, and can never be read back.');

  addOwnerOptions(keypair.command('create').description('create a keypair and print its secret (once)'), 'a keypair')
    .requiredOption('--name <name>', `what uses it, e.g. "ci-deploy" (at most ${NAME_MAX} characters)`)
    .option('--comment <text>', `free text for administrators (at most ${COMMENT_MAX} characters)`)
    .option('--scope <scope>', 'a scope it may request (repeatable; see `keyport scopes`)', collectScopes)
    .option('--expires-at <time>', 'when it stops working: 2027-01-31, 2027-01-31T12:00:00Z, or "never" (default: the account\'s maximum keypair lifetime from now, if it has one, else never)')
    .option('--dpop-required', 'its token requests must carry a DPoP proof (RFC 9449): it only gets DPoP-bound tokens')
    .option('--public-key <file>', 'a public key for private_key_jwt, JWK or PEM ("-": stdin; repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--trust-rule <json>', 'a trust rule for federated workload identity, as JSON: {"issuer", "subject", "audience", "claims": [{"name", "value"}]} (repeatable; see `keypair trust add`)', collectTrustRule)
    .option('--no-secret', 'no secret at all (needs --public-key or --trust-rule)')
    .addHelpText('after', '\nExamples:\n  keyport keypair create --environment env_… --name ci --scope orders:read --scope orders:write\n  keyport keypair create --environment env_… --name ci --scope orders:read --public-key client.pub --no-secret\n  keyport keypair create --environment env_… --name ci --scope orders:read --no-secret \\\n    --trust-rule \'{"issuer":"https://token.actions.githubusercontent.com","subject":"repo:acme/api:ref:refs/heads/main","audience":"https://keyport.example.com"}\'\n')
    .action((options: { account?: string; environment?: string; name: string; comment?: string; scope?: string[]; expiresAt?: string; dpopRequired?: boolean; publicKey?: string[]; trustRule?: TrustRuleInput[]; secret: boolean }, command: Command) => {
      const owner = ownerRefOf(options);
      const expiresAt = options.expiresAt === undefined ? undefined : parseExpiresAt(options.expiresAt);
      if (!options.secret && !options.publicKey?.length && !options.trustRule?.length) throw new UsageError('--no-secret needs at least one --public-key or --trust-rule');
      return run(command, async (s) => {
        const publicKeys = await Promise.all((options.publicKey ?? []).map((file) => readKeyFile(s, file)));
        const issued = await s.domain.keypairs.create(owner, {
          name: options.name,
          scopes: options.scope ?? [],
          ...(options.comment !== undefined ? { comment: options.comment } : {}),
          ...(expiresAt !== undefined ? { expiresAt } : {}),
          ...(options.dpopRequired ? { dpopRequired: true } : {}),
          ...(publicKeys.length ? { publicKeys } : {}),
          ...(options.trustRule?.length ? { trustRules: options.trustRule } : {}),
          secret: options.secret,
        }, 'cli');
        const headline = `Created keypair ${issued.keypair.keyId} (${issued.keypair.name}) for ${ownerLabel(issued.keypair)}`;
        if (issued.secret === null) s.print({ keyId: issued.keypair.keyId, secret: null, keypair: issued.keypair }, () => `${headline}, without a secret.\n\n${describe(issued.keypair)}`);
        else printIssued(s, { keypair: issued.keypair, secret: issued.secret }, headline);
      });
    });

  addOwnerOptions(keypair.command('list').description("list an account's or an environment's keypairs (never their secrets)"), 'keypairs')
    .addOption(new Option('--status <status>', `only keypairs in this state (expiring: within ${EXPIRING_WINDOW_DAYS} days, not yet expired)`).choices(['enabled', 'disabled', 'locked', 'expiring', 'expired']))
    .addOption(new Option('--sort <order>', 'newest first (-created, the default), oldest first (created), name A to Z (name) or Z to A (-name); a search defaults to name').choices([...KEYPAIR_SORTS]))
    .option('--search <text>', `only keypairs whose name starts with it (any case), or the one with that key id; in lists of at most ${COMMENT_SEARCH_MAX} keypairs also those whose comment holds it (any case)`)
    .option('--all-environments', 'with --account: every keypair of the account, its own and all its environments\', in one list with an ENVIRONMENT column')
    .option('--limit <n>', `one page of at most n keypairs (1 to ${PAGE}) and the cursor of the next, instead of every keypair`)
    .option('--cursor <cursor>', 'the page after (or before) the one that printed it (with --limit)')
    .action((options: { account?: string; environment?: string; limit?: string; cursor?: string } & ListOptions, command: Command) => {
      const owner = ownerRefOf(options);
      if (options.allEnvironments && options.environment) throw new UsageError('--all-environments lists an account with its environments: give --account, not --environment');
      const limit = options.limit === undefined ? undefined : Number(options.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > PAGE)) throw new UsageError(`--limit must be a whole number from 1 to ${PAGE}, got "${options.limit}"`);
      if (options.cursor !== undefined && limit === undefined) throw new UsageError('--cursor reads one page: give --limit too');
      return run(command, async (s) => {
        if (limit === undefined) {
          const { items, searchedComments } = await listAll(s, owner, options);
          s.print(items, () => items.length ? keypairTable(items, options.allEnvironments) : 'No keypairs.\n');
          commentSearchNote(s, options, searchedComments);
          return;
        }
        const page = await readPage(s, await findOwner(s.domain, owner), options, { limit, ...listRequest(options), ...(options.cursor !== undefined ? { cursor: options.cursor } : {}) });
        const total = page.totalIsExact ? String(page.total) : `more than ${page.total}`;
        commentSearchNote(s, options, page.searchedComments);
        s.print(page, () => (page.items.length ? keypairTable(page.items, options.allEnvironments) : 'No keypairs.\n') + `\n${total} in all.` + (page.next ? ` Next page: --cursor ${page.next}` : '') + '\n');
      });
    });

  keypair.command('show <keyId>')
    .description('show one keypair: status, scopes, secret ages and expiry (never the secrets)')
    .action((keyId: string, _options: unknown, command: Command) => run(command, async (s) => {
      const found = await s.domain.keypairs.get(keyId);
      s.print(found, () => describe(found));
    }));

  keypair.command('usage <keyId>')
    .description(`authentications and counted failures per UTC day (the servers write them about once a minute), the last ${USAGE_CHART_DAYS} days by default`)
    .option('--days <n>', `how many days, up to today (1 to ${USAGE_RETENTION_DAYS})`, String(USAGE_CHART_DAYS))
    .action((keyId: string, options: { days: string }, command: Command) => {
      const days = Number(options.days);
      if (!Number.isInteger(days) || days < 1 || days > USAGE_RETENTION_DAYS) throw new UsageError(`--days must be a whole number from 1 to ${USAGE_RETENTION_DAYS}, got "${options.days}"`);
      return run(command, async (s) => {
        await s.domain.keypairs.get(keyId); // 404 for an unknown key id, as every keypair command
        const series = await s.domain.usage.series(keyId, days);
        s.print({ keyId, days: series }, () => table(['DAY', 'AUTHENTICATED', 'FAILED'], series.map((d) => [d.day, String(d.authenticated), String(d.failed)])));
      });
    });

  keypair.command('edit <keyId>')
    .description('change the name, comment, scopes, DPoP requirement (these apply to new tokens only) or expiry date')
    .option('--name <name>', 'new name')
    .option('--comment <text>', 'new comment ("" clears it)')
    .option('--scope <scope>', 'the complete new scope set (repeatable; replaces the current scopes)', collectScopes)
    .option('--clear-scopes', 'remove every scope')
    .option('--expires-at <time>', 'a new expiry: 2027-01-31, 2027-01-31T12:00:00Z, or "never" (in the future, within the account\'s maximum keypair lifetime from now)')
    .option('--dpop-required', 'require a DPoP proof (RFC 9449) on its token requests')
    .option('--no-dpop-required', 'no longer require DPoP (a proof still binds the token)')
    .action((keyId: string, options: { name?: string; comment?: string; scope?: string[]; clearScopes?: boolean; expiresAt?: string; dpopRequired?: boolean }, command: Command) => {
      if (options.scope && options.clearScopes) throw new UsageError('give either --scope or --clear-scopes, not both');
      const scopes = options.clearScopes ? [] : options.scope;
      const expiresAt = options.expiresAt === undefined ? undefined : parseExpiresAt(options.expiresAt);
      if (options.name === undefined && options.comment === undefined && scopes === undefined && expiresAt === undefined && options.dpopRequired === undefined) {
        throw new UsageError('nothing to change: give --name, --comment, --scope, --clear-scopes, --expires-at or --[no-]dpop-required');
      }
      return run(command, async (s) => {
        const updated = await s.domain.keypairs.update(keyId, {
          ...(options.name !== undefined ? { name: options.name } : {}),
          ...(options.comment !== undefined ? { comment: options.comment } : {}),
          ...(scopes !== undefined ? { scopes } : {}),
          ...(expiresAt !== undefined ? { expiresAt } : {}),
          ...(options.dpopRequired !== undefined ? { dpopRequired: options.dpopRequired } : {}),
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
    .addOption(new Option('--retire-when-idle <duration>', 'end the old secret early once no client has used it for this long').choices(RETIRE_WHEN_IDLE_NAMES))
    .action((keyId: string, options: { grace: GracePeriod; revokeTokens?: boolean; retireWhenIdle?: RetireWhenIdle }, command: Command) => run(command, (s) => rotate(s, keyId, options.grace, options.revokeTokens ?? false, options.retireWhenIdle)));

  keypair.command('end-previous <keyId>')
    .description('end the previous secret now, before its grace period is over (refused when it was used within the last hour, unless --force)')
    .option('--force', 'end it even though a client used it within the last hour')
    .action((keyId: string, options: { force?: boolean }, command: Command) => run(command, async (s) => {
      const changed = await s.domain.keypairs.endPreviousSecret(keyId, 'cli', { force: options.force ?? false });
      s.print(changed, () => `The previous secret of ${keyId} has stopped working.\n`);
    }));

  keypair.command('extend-grace <keyId>')
    .description('keep the previous secret working longer: until a later time, at most 72 hours after the rotation')
    .requiredOption('--until <time>', 'the new end, an ISO 8601 date-time, e.g. 2026-05-01T12:00:00Z')
    .action((keyId: string, options: { until: string }, command: Command) => {
      const until = new Date(options.until);
      if (!/^\d{4}-\d{2}-\d{2}T/.test(options.until) || Number.isNaN(until.getTime())) throw new UsageError('--until must be an ISO 8601 date-time, e.g. 2026-05-01T12:00:00Z');
      return run(command, async (s) => {
        const changed = await s.domain.keypairs.extendGrace(keyId, until, 'cli');
        s.print(changed, () => `The previous secret of ${keyId} now works until ${when(changed.previousSecret?.endsAt)}.\n`);
      });
    });

  keypair.command('retire-when-idle <keyId> <duration>')
    .description(`end the previous secret early once unused for <duration> (${RETIRE_WHEN_IDLE_NAMES.join(', ')}; counted from now at the earliest), or "off"`)
    .action((keyId: string, duration: string, _options: unknown, command: Command) => {
      if (duration !== 'off' && !(RETIRE_WHEN_IDLE_NAMES as string[]).includes(duration)) throw new UsageError(`<duration> must be one of ${RETIRE_WHEN_IDLE_NAMES.join(', ')}, or off`);
      return run(command, async (s) => {
        const changed = await s.domain.keypairs.setRetireWhenIdle(keyId, duration === 'off' ? null : duration as RetireWhenIdle, 'cli');
        s.print(changed, () => `The previous secret of ${keyId} ${duration === 'off' ? 'works until the end of its grace period' : `ends once unused for ${duration}`}: ${when(changed.previousSecret?.endsAt)} at the latest.\n`);
      });
    });

  keypair.command('regenerate <keyId>')
    .description('after a leak: issue a new secret; the old one stops working at once, the tokens already issued are revoked (also clears a lockout)')
    .option('--keep-tokens', 'keep the tokens already issued (a planned change, not a leak)')
    .action((keyId: string, options: { keepTokens?: boolean }, command: Command) => run(command, (s) => rotate(s, keyId, '0', !options.keepTokens)));

  keypair.command('replace <keyId>')
    .description('replace the whole keypair: a new key id and secret (printed once) with the same name, comment, scopes and owner; the old keypair is removed at once, and its tokens stop')
    .option('--yes', 'confirm: the old key id stops working at once, for good')
    .action((keyId: string, options: { yes?: boolean }, command: Command) => {
      if (!options.yes) throw new UsageError(`replacing ${keyId} removes it for good (its clients and tokens stop at once): add --yes to confirm`);
      return run(command, async (s) => {
        const issued = await s.domain.keypairs.replace(keyId, 'cli');
        s.print({ keyId: issued.keypair.keyId, secret: issued.secret, replaces: issued.replaces, keypair: issued.keypair }, () =>
          `Replaced keypair ${keyId} with ${issued.keypair.keyId} (${issued.keypair.name})\n\n${fields([['key id', issued.keypair.keyId], ['secret', issued.secret]])}\n`);
        s.note('Store the secret now: it is shown only this once and cannot be read back.');
        s.note(`The old key id ${keyId} has stopped working, and its tokens with it.`);
      });
    });
  registerKeypairKeyCommands(keypair, run);
  registerKeypairTrustCommands(keypair, run);

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

/** The list's last column: what needs attention about the secrets ("-": nothing). */
function secretWarnings(k: KeypairView): string {
  const notes = [
    ...(k.previousSecret?.usedSinceRotation ? ['previous still used'] : []),
    ...(k.endedSecrets.some((e) => e.stillInUse) ? ['ended secret still in use'] : []),
  ];
  return notes.join(', ') || '-';
}

async function rotate(s: Session, keyId: string, grace: GracePeriod, revokeTokens: boolean, retireWhenIdle?: RetireWhenIdle): Promise<void> {
  // Read first to tell the administrator when a rotation cuts short an earlier grace period (docs/architecture.md, Rotation and regeneration).
  const before = await s.domain.keypairs.get(keyId);
  const cutShort = before.secrets.find((secret) => secret.state === 'previous');
  const issued = await s.domain.keypairs.rotate(keyId, grace, 'cli', { revokeTokens, ...(retireWhenIdle ? { retireWhenIdle } : {}) });
  const previous = issued.keypair.secrets.find((secret) => secret.state === 'previous');
  printIssued(s, issued, grace === '0' ? `Regenerated the secret of ${keyId}` : `Rotated the secret of ${keyId}`);
  s.note(previous
    ? `The old secret keeps working until ${when(previous.expiresAt)}${retireWhenIdle ? `, or until no client has used it for ${retireWhenIdle}` : ''}.`
    : 'The old secret has stopped working.');
  if (cutShort && grace !== '0') s.note(`The earlier previous secret (grace until ${when(cutShort.expiresAt)}) has stopped working.`);
  s.note(revokeTokens ? 'The tokens issued before now are revoked.' : 'The tokens issued before now stay valid until they expire.');
}
