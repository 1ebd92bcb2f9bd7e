// The members of an account or an environment: who may sign in to it, and with
// which role. The rules (an account keeps at least one admin) are the domain's,
// the same as for the admin API's /members routes.
import { Option, type Command } from 'commander';
import type { Role } from '../db/models/user.ts';
import type { Owner } from '../domain/owners.ts';
import { UsageError } from './errors.ts';
import { table, when } from './output.ts';
import { addOwnerOptions, findOwner, ownerRefOf } from './owners.ts';
import type { Runner } from './session.ts';
import { findUser } from './users.ts';

const ownerLabel = (owner: Owner) => (owner.environmentId ? `environment ${owner.environmentId}` : `account ${owner.accountId}`);

export function registerMemberCommands(program: Command, run: Runner): void {
  const member = program.command('member')
    .summary('the members of an account or environment: list, add, remove')
    .description([
      'List, add and remove the users who may sign in to an account or an environment, and their role there.',
      'An admin manages its API keypairs and members; a member only sees it.',
      "An account's admins and members reach every environment of the account as well; an account keeps at least one admin.",
      'Users are created with `keyport user create`.',
    ].join('\n'));

  addOwnerOptions(member.command('list').description('list the members of an account or an environment (not those it inherits from its account)'), 'the members')
    .action((options: { account?: string; environment?: string }, command: Command) => {
      const ref = ownerRefOf(options);
      return run(command, async (s) => {
        const members = await s.domain.users.listMembers(await findOwner(s.domain, ref));
        s.print(members, () => members.length
          ? table(['EMAIL', 'ROLE', 'USER ID', 'SINCE'], members.map((m) => [m.email, m.role, m.userId, when(m.createdAt)]))
          : 'No members.\n');
      });
    });

  addOwnerOptions(member.command('add').description("add an existing user with a role, or change the user's role"), 'a member')
    .requiredOption('--email <address>', 'the user (see `keyport user create`)')
    .addOption(new Option('--role <role>', 'admin: manages keypairs and members; member: only sees').choices(['admin', 'member']).makeOptionMandatory())
    .addHelpText('after', '\nExample:\n  keyport member add --account acc_… --email ops@acme.example --role admin\n')
    .action((options: { account?: string; environment?: string; email: string; role: Role }, command: Command) => {
      const ref = ownerRefOf(options);
      return run(command, async (s) => {
        const owner = await s.domain.owners.resolveActiveOwner(ref);
        const user = await findUser(s.domain, options.email);
        await s.domain.users.grant(user.id, owner, options.role, 'cli');
        const added = { userId: user.id, email: user.email, role: options.role, accountId: owner.accountId, environmentId: owner.environmentId };
        s.print(added, () => `${user.email} is now ${options.role} of ${ownerLabel(owner)}.\n`);
      });
    });

  addOwnerOptions(member.command('remove').alias('rm').description("remove a user's membership (the user stays, and keeps other memberships)"), 'a member')
    .requiredOption('--email <address>', 'the user')
    .option('--yes', 'confirm: the user loses access at once')
    .action((options: { account?: string; environment?: string; email: string; yes?: boolean }, command: Command) => {
      const ref = ownerRefOf(options);
      if (!options.yes) throw new UsageError(`${options.email} loses access to ${'accountId' in ref ? ref.accountId : ref.environmentId}: add --yes to confirm`);
      return run(command, async (s) => {
        const owner = await s.domain.owners.resolveActiveOwner(ref);
        const user = await findUser(s.domain, options.email);
        await s.domain.users.revoke(user.id, owner, 'cli');
        s.print({ userId: user.id, email: user.email, accountId: owner.accountId, environmentId: owner.environmentId, removed: true },
          () => `Removed ${user.email} from ${ownerLabel(owner)}.\n`);
      });
    });
}
