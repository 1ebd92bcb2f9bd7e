// Choosing an owner on the command line (--account ID | --environment ID), and
// the account and environment commands.
import type { Command } from 'commander';
import type { Domain } from '../domain/index.ts';
import type { Owner } from '../domain/owners.ts';
import { UsageError } from './errors.ts';
import { table, when } from './output.ts';
import type { Runner } from './session.ts';

export type OwnerRef = { accountId: string } | { environmentId: string };

export function addOwnerOptions(command: Command, what: string): Command {
  return command
    .option('--account <id>', `${what} of this account (acc_…)`)
    .option('--environment <id>', `${what} of this environment (env_…)`);
}

/** Exactly one of --account / --environment. */
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
  const account = program.command('account').description('create and list accounts (customer organisations)');
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
        ? table(['ID', 'NAME', 'STATUS', 'CREATED'], accounts.map((a) => [a.id, a.name, a.status, when(a.createdAt)]))
        : 'No accounts.\n');
    }));

  const environment = program.command('environment').alias('env').description('create and list the environments of an account');
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
}
