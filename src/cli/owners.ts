// Choosing an owner on the command line (--account ID | --environment ID), and
// the account and environment commands.
import type { Command } from 'commander';
import type { Domain } from '../domain/index.ts';
import type { Owner } from '../domain/owners.ts';
import { UsageError } from './errors.ts';
import { table, when } from './output.ts';
import type { Runner, Session } from './session.ts';

export type OwnerRef = { accountId: string } | { environmentId: string };

export function addOwnerOptions(command: Command, what: string): Command {
  return command
    .option('--account <id>', `${what} of this account (acc_…)`)
    .option('--environment <id>', `${what} of this environment (env_…)`);
}

/** Exactly one of --account / --environment (checked before the database is opened). */
export function ownerRefOf(options: { account?: string; environment?: string }): OwnerRef {
  if (options.account && options.environment) throw new UsageError('give either --account or --environment, not both');
  if (options.account) return { accountId: options.account };
  if (options.environment) return { environmentId: options.environment };
  throw new UsageError('--account <id> or --environment <id> is required');
}

/** An existing owner, whatever its status (listing a closed owner's history is fine). */
export async function findOwner(domain: Domain, ref: OwnerRef): Promise<Owner> {
  if ('environmentId' in ref) {
    const env = await domain.owners.getEnvironment(ref.environmentId);
    return { type: 'environment', accountId: env.accountId, environmentId: env.id };
  }
  const account = await domain.owners.getAccount(ref.accountId);
  return { type: 'account', accountId: account.id, environmentId: null };
}

/** An id typed for --admin-of / --member-of: its prefix says what it is. */
export function ownerRefOfId(id: string): OwnerRef {
  if (id.startsWith('acc_')) return { accountId: id };
  if (id.startsWith('env_')) return { environmentId: id };
  throw new UsageError(`${id} is neither an account id (acc_…) nor an environment id (env_…)`);
}

export function registerOwnerCommands(program: Command, run: Runner): void {
  const account = program.command('account')
    .summary('accounts (customer organisations): create, list, rename, close, keypair-lifetime')
    .description('Create, list, rename and close accounts (customer organisations).');
  account.command('create')
    .description('create an account')
    .requiredOption('--name <name>', 'display name, e.g. "Acme"')
    .action((options: { name: string }, command: Command) => run(command, async (s) => {
      const created = await s.domain.owners.createAccount({ name: options.name }, 'cli');
      s.print(created, () => `Created account ${created.id} (${created.name})\n`);
    }));
  account.command('list')
    .description('list all accounts')
    .action((_options: unknown, command: Command) => run(command, async (s) => {
      const accounts = await s.domain.owners.listAccounts();
      s.print(accounts, () => accounts.length
        ? table(['ID', 'NAME', 'STATUS', 'CREATED', 'MAX KEYPAIR LIFETIME'], accounts.map((a) => [a.id, a.name, a.status, when(a.createdAt), a.maxKeypairLifetimeDays === null ? '-' : `${a.maxKeypairLifetimeDays} days`]))
        : 'No accounts.\n');
    }));

  renameCommand(account, run, 'account', async (s, id, name) => {
    const owner = await s.domain.owners.resolveActiveOwner({ accountId: id });
    return s.domain.owners.renameAccount(owner.accountId, name, 'cli');
  });
  closeCommand(account, run, 'account', (s, id) => s.domain.closing.closeAccount(id, 'cli'), 'with all of its environments and every keypair they hold');
  account.command('keypair-lifetime <id>')
    .description('set the longest lifetime of new keypairs of the account and its environments (they then expire within it, by default at its end); existing keypairs keep their expiry')
    .option('--days <days>', 'the maximum lifetime in days (1 to 3650)')
    .option('--none', 'no maximum: new keypairs never expire unless given a date')
    .action((id: string, options: { days?: string; none?: boolean }, command: Command) => {
      if ((options.days === undefined) === !options.none) throw new UsageError('give either --days <days> or --none');
      if (options.days !== undefined && !/^\d{1,4}$/.test(options.days)) throw new UsageError(`--days must be a whole number of days, got "${options.days}"`);
      const days = options.days === undefined ? null : Number(options.days);
      return run(command, async (s) => {
        const updated = await s.domain.owners.setMaxKeypairLifetime(id, days, 'cli');
        s.print(updated, () => updated.maxKeypairLifetimeDays === null
          ? `Account ${updated.id}: new keypairs have no maximum lifetime.\n`
          : `Account ${updated.id}: new keypairs expire within ${updated.maxKeypairLifetimeDays} days.\n`);
      });
    });

  const environment = program.command('environment').alias('env')
    .summary("an account's environments: create, list, rename, close")
    .description('Create, list, rename and close the environments (production, staging, ...) of an account.');
  environment.command('create')
    .description('create an environment in an account')
    .requiredOption('--account <id>', 'the account (acc_…)')
    .requiredOption('--name <name>', 'e.g. production, staging')
    .action((options: { account: string; name: string }, command: Command) => run(command, async (s) => {
      const created = await s.domain.owners.createEnvironment(options.account, { name: options.name }, 'cli');
      s.print(created, () => `Created environment ${created.id} (${created.name}) in account ${created.accountId}\n`);
    }));
  environment.command('list')
    .description("list an account's environments")
    .requiredOption('--account <id>', 'the account (acc_…)')
    .action((options: { account: string }, command: Command) => run(command, async (s) => {
      await s.domain.owners.getAccount(options.account); // "account not found" rather than an empty list
      const environments = await s.domain.owners.listEnvironments(options.account);
      s.print(environments, () => environments.length
        ? table(['ID', 'NAME', 'STATUS', 'CREATED'], environments.map((e) => [e.id, e.name, e.status, when(e.createdAt)]))
        : 'No environments.\n');
    }));
  renameCommand(environment, run, 'environment', async (s, id, name) => {
    const owner = await s.domain.owners.resolveActiveOwner({ environmentId: id });
    return s.domain.owners.renameEnvironment(owner.environmentId!, name, 'cli');
  });
  closeCommand(environment, run, 'environment', (s, id) => s.domain.closing.closeEnvironment(id, 'cli'), 'and every keypair it holds');
}

/** `rename <id> --name <name>`: only while the owner is active (as in the admin API). */
function renameCommand(parent: Command, run: Runner, what: string, rename: (s: Session, id: string, name: string) => Promise<{ id: string; name: string }>): void {
  parent.command('rename <id>')
    .description(`change the ${what}'s display name (its id stays)`)
    .requiredOption('--name <name>', 'the new name')
    .action((id: string, options: { name: string }, command: Command) => run(command, async (s) => {
      const renamed = await rename(s, id, options.name);
      s.print(renamed, () => `Renamed ${what} ${renamed.id} (${renamed.name})\n`);
    }));
}

/** `close <id> --yes`: irreversible (docs/architecture.md, Closing an owner), so it asks for the flag rather than trusting a stray Enter. */
function closeCommand(parent: Command, run: Runner, what: string, close: (s: Session, id: string) => Promise<{ id: string; status: string }>, scope: string): void {
  parent.command('close <id>')
    .description(`close the ${what} for good, ${scope} (their tokens stop working at once)`)
    .option('--yes', 'confirm: closing cannot be undone')
    .action((id: string, options: { yes?: boolean }, command: Command) => {
      if (!options.yes) throw new UsageError(`closing ${id} removes every keypair it holds and cannot be undone: add --yes to confirm`);
      return run(command, async (s) => {
        const closed = await close(s, id);
        s.print(closed, () => `Closed ${what} ${closed.id}; its keypairs have been removed.\n`);
      });
    });
}
