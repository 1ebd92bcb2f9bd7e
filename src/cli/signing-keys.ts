// The token signing keys: list them, rotate ahead of the schedule, revoke a
// compromised one. Running servers take a change up within a poll of the change feed.
import type { Command } from 'commander';
import type { SigningKeyView } from '../domain/signing-keys.ts';
import { UsageError } from './errors.ts';
import { table, when } from './output.ts';
import type { Runner } from './session.ts';

function keyTable(keys: SigningKeyView[]): string {
  if (!keys.length) return 'No signing keys yet: Keyport makes them when it first starts.\n';
  return table(['KID', 'STATE', 'CREATED', 'SIGNS FROM', 'RETIRED AT', 'REMOVED AFTER'], keys.map((key) => [
    key.kid, key.state, when(key.createdAt), when(key.signsFrom), when(key.retiredAt),
    // A revoked key left the JWKS when it was revoked.
    when(key.removeAfter ?? key.revokedAt),
  ]));
}

export function registerSigningKeyCommands(program: Command, run: Runner): void {
  const keys = program.command('signing-keys')
    .summary('token signing keys: list, rotate, revoke')
    .description([
      'List, rotate and revoke the keys that sign access tokens.',
      '',
      'Keys rotate on their own every signingKeys.rotationDays days (default 90). The next key is',
      'published in the JWKS long before it signs, so that resource servers caching the JWKS have',
      'it in time; a retired key stays published until the last token it signed has expired.',
    ].join('\n'));

  keys.command('list')
    .description('list the keys, newest first: which signs (current), which are published (next, retired), and when each takes over and leaves the JWKS')
    .action((_options: unknown, command: Command) => run(command, async (s) => {
      const list = await s.domain.signingKeys.list();
      s.print(list, () => keyTable(list));
    }));

  keys.command('rotate')
    .description('let the next key sign now, or as soon as it has been published for an hour (resource servers cache the JWKS)')
    .option('--immediately', 'sign with the next key at once, even if it was published less than an hour ago (emergencies: resource servers that cached the JWKS before refuse its tokens until they fetch it again)')
    .action((options: { immediately?: boolean }, command: Command) => run(command, async (s) => {
      const outcome = await s.domain.signingKeys.rotate({ immediately: Boolean(options.immediately) }, 'cli');
      const { signing } = outcome;
      s.print(outcome, () => {
        if (!outcome.changed) return `Key ${signing.kid} already takes over from ${outcome.previousKid} at ${when(signing.signsFrom)}: nothing changed.\n`;
        return signing.state === 'current'
          ? `Key ${signing.kid} signs tokens from now on; ${outcome.previousKid} is retired and stays published until its tokens have expired.\n`
          : `Key ${signing.kid} signs tokens from ${when(signing.signsFrom)}, once it has been published for an hour; until then ${outcome.previousKid} does.\n`;
      });
    }));

  keys.command('revoke <kid>')
    .description('revoke a compromised key: it leaves the JWKS and its tokens are refused at once; if it signs, the next key takes over')
    .option('--yes', 'confirm: revoking cannot be undone')
    .action((kid: string, options: { yes?: boolean }, command: Command) => {
      if (!options.yes) throw new UsageError(`revoking ${kid} refuses every token it signed, at once, and cannot be undone: add --yes to confirm`);
      return run(command, async (s) => {
        const outcome = await s.domain.signingKeys.revoke(kid, 'cli');
        s.print(outcome, () => `Revoked key ${outcome.revoked.kid}; tokens are signed with ${outcome.signingKid}.\n`);
        s.note('Resource servers that validate tokens offline drop the key when they next fetch the JWKS (it may be cached for up to 5 minutes); introspection refuses its tokens at once.');
      });
    });
}
