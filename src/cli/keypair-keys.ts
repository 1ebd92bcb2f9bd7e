// The public keys of keypairs (private_key_jwt) from a terminal: add one from a
// file (JWK or PEM), retire one now or after a grace period, list them.
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { KeypairView } from '../domain/keypairs.ts';
import { GRACE_PERIOD_NAMES, type GracePeriod } from '../domain/limits.ts';
import { UsageError } from './errors.ts';
import { readStdin } from './input.ts';
import { fields, table, when } from './output.ts';
import type { Runner, Session } from './session.ts';

/** A public key from a file, or from stdin with "-". */
export async function readKeyFile(s: Session, path: string): Promise<string> {
  if (path === '-') return readStdin(s.io.stdin);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** The lines `keypair show` adds for a keypair's keys. */
export function keyFields(k: KeypairView): [string, string][] {
  return k.publicKeys.map((key) => ['public key', `${key.thumbprint} (${key.kty}${key.crv ? ` ${key.crv}` : ''}; ${key.algs.join(', ')}; added ${when(key.createdAt)}${key.state === 'retiring' ? `; stops working ${when(key.expiresAt)}` : ''}; last used ${when(key.lastUsedAt)})`]);
}

export function registerKeypairKeyCommands(keypair: Command, run: Runner): void {
  const key = keypair.command('key')
    .description('public keys for private_key_jwt: the client signs its token requests with the private key, which Keyport never sees');

  key.command('add <keyId> <file>')
    .description('add a public key from a file ("-" reads stdin): a JWK, or a PEM "PUBLIC KEY" (EC P-256/P-384, Ed25519, RSA >= 2048 bits)')
    .addHelpText('after', '\nExample:\n  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out client.key\n  openssl pkey -in client.key -pubout -out client.pub\n  keyport keypair key add kp_… client.pub\n')
    .action((keyId: string, file: string, _options: unknown, command: Command) => run(command, async (s) => {
      const { doc, key: added } = await s.domain.keypairKeys.add(keyId, await readKeyFile(s, file), 'cli');
      const view = s.domain.keypairs.view(doc);
      s.print({ key: added, keypair: view }, () => `Added public key ${added.thumbprint} to ${keyId}.\n\n${fields([['thumbprint', added.thumbprint], ['kid', added.kid], ['algorithms', added.algs.join(', ')]])}\n`);
    }));

  key.command('retire <keyId> <thumbprint>')
    .description('retire a public key: at once, or after a grace period during which it still works')
    .addOption(new Option('--grace <period>', 'how long the key keeps working (0 = stops now)').choices(GRACE_PERIOD_NAMES).default('0'))
    .action((keyId: string, thumbprint: string, options: { grace: GracePeriod }, command: Command) => run(command, async (s) => {
      const view = s.domain.keypairs.view(await s.domain.keypairKeys.retire(keyId, thumbprint, options.grace, 'cli'));
      const left = view.publicKeys.find((k) => k.thumbprint === thumbprint);
      s.print(view, () => `Retired public key ${thumbprint} of ${keyId}: ${left ? `it stops working ${when(left.expiresAt)}` : 'it has stopped working'}.\n`);
    }));

  key.command('list <keyId>')
    .description('list a keypair\'s public keys (current and retiring)')
    .action((keyId: string, _options: unknown, command: Command) => run(command, async (s) => {
      const view = await s.domain.keypairs.get(keyId);
      s.print(view.publicKeys, () => view.publicKeys.length
        ? table(['THUMBPRINT', 'KID', 'TYPE', 'ALGS', 'STATE', 'ADDED', 'STOPS', 'LAST USED'],
          view.publicKeys.map((k) => [k.thumbprint, k.kid === k.thumbprint ? '=' : k.kid, `${k.kty}${k.crv ? ` ${k.crv}` : ''}`, k.algs.join(','), k.state, when(k.createdAt), when(k.expiresAt), when(k.lastUsedAt)]))
        : 'No public keys.\n');
    }));
}
