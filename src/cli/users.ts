// Administrators and members: people who sign in to the web UI.
import type { Command } from 'commander';
import type { Role } from '../db/models/user.ts';
import type { Domain } from '../domain/index.ts';
import type { Owner } from '../domain/owners.ts';
import { DomainError } from '../domain/errors.ts';
import type { UserView } from '../domain/users.ts';
import { UsageError } from './errors.ts';
import { readPassword } from './input.ts';
import { ownerRefOfId } from './owners.ts';
import type { Runner } from './session.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface RoleOptions { adminOf?: string[]; memberOf?: string[] }

interface Grant { role: Role; owner: Owner }

function addRoleOptions(command: Command): Command {
  return command
    .option('--admin-of <id>', 'make the user an administrator of this account (acc_…) or environment (env_…); repeatable', collect)
    .option('--member-of <id>', 'make the user a member (no API management) of this account or environment; repeatable', collect);
}

/**
 * Resolves every --admin-of / --member-of before anything is written, so that a
 * mistyped id fails the command instead of leaving a user without the role.
 */
async function resolveGrants(domain: Domain, options: RoleOptions): Promise<Grant[]> {
  const wanted: [Role, string][] = [
    ...(options.adminOf ?? []).map((id): [Role, string] => ['admin', id]),
    ...(options.memberOf ?? []).map((id): [Role, string] => ['member', id]),
  ];
  const grants: Grant[] = [];
  for (const [role, id] of wanted) grants.push({ role, owner: await domain.owners.resolveActiveOwner(ownerRefOfId(id)) });
  return grants;
}

async function applyGrants(domain: Domain, userId: string, grants: Grant[]) {
  for (const { role, owner } of grants) await domain.users.grant(userId, owner, role, 'cli');
  return grants.map(({ role, owner }) => ({ role, ownerType: owner.type, ownerId: owner.environmentId ?? owner.accountId }));
}

/** The user with this email, or "no user with email …" (exit 1). */
export async function findUser(domain: Domain, email: string): Promise<UserView> {
  const found = await domain.users.findByEmail(email);
  if (!found) throw new DomainError('not_found', `no user with email ${email}`);
  return found;
}

const describeGrants = (granted: { role: Role; ownerId: string }[]) =>
  granted.map((g) => `  ${g.role} of ${g.ownerId}\n`).join('');

export function registerUserCommands(program: Command, run: Runner, io: Parameters<typeof readPassword>[0]): void {
  const user = program.command('user')
    .summary('web UI administrators and members: create, grant, operator role')
    .description('Create the people who sign in to the web UI, and grant them roles on accounts and environments.\nAn administrator of an account administers all of its environments.\nOperators (an instance-wide role) may also create accounts in the web UI and the admin API.\nSee `keyport member` to list, change and remove the members of an account or environment.');

  addRoleOptions(user.command('create')
    .description('create a user, optionally granting roles (prompts for the password at a terminal)')
    .requiredOption('--email <address>', 'sign-in email address')
    .option('--password-stdin', 'read the password from stdin (e.g. from a secret manager)')
    .option('--password <password>', 'the password itself (visible to other local users through ps: prefer --password-stdin)')
    .option('--operator', 'make the user an operator of this Keyport: may create accounts (in the web UI and the admin API)'))
    .addHelpText('after', '\nExamples:\n  printf %s "$ADMIN_PASSWORD" | keyport user create --email ops@acme.example --password-stdin --admin-of acc_…\n  keyport user create --email platform@example.com --operator\n')
    .action(async (options: RoleOptions & { email: string; password?: string; passwordStdin?: boolean; operator?: boolean }, command: Command) => {
      const password = await readPassword(io, options);
      await run(command, async (s) => {
        const grants = await resolveGrants(s.domain, options);
        const created = await s.domain.users.createUser({ email: options.email, password, operator: options.operator === true }, 'cli');
        const granted = await applyGrants(s.domain, created.id, grants);
        s.print({ user: created, granted }, () => `Created user ${created.id} (${created.email})${created.operator ? ', an operator' : ''}\n${describeGrants(granted)}`);
      });
    });

  user.command('set-operator')
    .description('grant a user the instance-wide operator role (may create accounts), or revoke it with --no-operator')
    .requiredOption('--email <address>', 'the user')
    .option('--no-operator', 'revoke the role instead of granting it')
    .addHelpText('after', '\nExamples:\n  keyport user set-operator --email ops@acme.example\n  keyport user set-operator --email ops@acme.example --no-operator\n')
    .action((options: { email: string; operator: boolean }, command: Command) => run(command, async (s) => {
      const found = await findUser(s.domain, options.email);
      const { user: updated, changed } = await s.domain.users.setOperator(found.id, options.operator, 'cli');
      const text = updated.operator
        ? (changed ? 'is now an operator' : 'is an operator already')
        : (changed ? 'is no longer an operator' : 'is not an operator (nothing to revoke)');
      s.print({ user: updated, changed }, () => `${updated.email} ${text}.\n`);
    }));

  addRoleOptions(user.command('grant')
    .description("grant an existing user a role (replaces the user's role on that account or environment)")
    .requiredOption('--email <address>', 'the user'))
    .action((options: RoleOptions & { email: string }, command: Command) => {
      if (!options.adminOf?.length && !options.memberOf?.length) throw new UsageError('give --admin-of <id> or --member-of <id>');
      return run(command, async (s) => {
        const found = await findUser(s.domain, options.email);
        const granted = await applyGrants(s.domain, found.id, await resolveGrants(s.domain, options));
        s.print({ user: found, granted }, () => `Granted ${found.email}:\n${describeGrants(granted)}`);
      });
    });
}
