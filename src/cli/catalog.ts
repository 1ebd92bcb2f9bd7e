// Read-only views: the scope catalog and the audit trail.
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ScopeLevel } from '../config.ts';
import { DomainError } from '../domain/errors.ts';
import { UsageError } from './errors.ts';
import { table, when } from './output.ts';
import { findOwner, ownerRefOf } from './owners.ts';
import type { Runner, Session } from './session.ts';

const auditLimit = (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) throw new InvalidArgumentError('a whole number from 1 to 1000');
  return Number(value);
};

export function registerCatalogCommands(program: Command, run: Runner): void {
  program.command('scopes')
    .description('list the configured scopes and where each may be granted')
    .addOption(new Option('--level <level>', 'only scopes grantable at this level').choices(['account', 'environment']))
    .action((options: { level?: ScopeLevel }, command: Command) => run(command, async (s) => {
      const scopes = options.level ? s.domain.scopes.forLevel(options.level) : s.domain.scopes.all;
      s.print(scopes, () => table(['SCOPE', 'GRANTABLE TO', 'DESCRIPTION'], scopes.map((scope) => [scope.name, scope.levels.join(', '), scope.description])));
    }));

  program.command('audit')
    .description('list audit events, newest first (an account includes its environments)')
    .option('--account <id>', 'events of this account and its environments')
    .option('--environment <id>', 'events of this environment')
    .option('--keypair <keyId>', 'events of this keypair (also after it was removed)')
    .option('--instance', 'instance-wide events, tied to no account: users created, the operator role granted or revoked, sign-ins, first-start setup, token signing keys')
    .option('--limit <n>', 'how many events (1 to 1000)', auditLimit, 50)
    .action((options: AuditOptions, command: Command) => {
      const given = [options.account, options.environment, options.keypair, options.instance].filter(Boolean).length;
      if (given !== 1) throw new UsageError('give exactly one of --account, --environment, --keypair or --instance');
      return run(command, (s) => listAudit(s, options));
    });
}

interface AuditOptions { account?: string; environment?: string; keypair?: string; instance?: boolean; limit: number }

async function listAudit(s: Session, options: AuditOptions): Promise<void> {
  let filter: Parameters<Session['domain']['audit']['page']>[0];
  if (options.instance) {
    filter = { instance: true };
  } else if (options.keypair) {
    // A keypair that exists, or existed (removed ones keep their trail); a typo says "not found".
    const keyId = options.keypair;
    const exists = await s.domain.keypairs.get(keyId).then(() => true, (err: unknown) => {
      if (err instanceof DomainError && err.code === 'not_found') return false;
      throw err;
    });
    const known = exists || (await s.domain.audit.formerKeypair(keyId)) !== null;
    if (!known) throw new DomainError('not_found', 'keypair not found');
    filter = { keypairId: keyId };
  } else {
    // Check the owner exists, so that a typo says "not found" instead of printing nothing.
    const owner = await findOwner(s.domain, ownerRefOf(options));
    filter = owner.environmentId ? { environmentId: owner.environmentId } : { accountId: owner.accountId };
  }
  const { items: events } = await s.domain.audit.page(filter, { limit: options.limit });
  s.print(events, () => events.length
    ? table(['AT', 'ACTOR', 'ACTION', 'TARGET', 'DETAILS'], events.map((e) => [
      when(e.at), e.actor, e.action, e.keypairId ?? e.environmentId ?? e.accountId ?? '-',
      Object.keys(e.details).length ? JSON.stringify(e.details) : '',
    ]))
    : 'No audit events.\n');
}
