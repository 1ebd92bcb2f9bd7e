// The two server-side secrets: the pepper of keypair secret hashes and the key
// that encrypts signing keys at rest. Production sets both (KEYPORT_SECRET_PEPPER,
// KEYPORT_KEY_ENCRYPTION_KEY). The embedded database mode generates them once
// into the data directory, so that `npm start` works on a fresh machine.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, type KeyportConfig } from './config.ts';

export interface ServerSecrets {
  pepper: string;
  keyEncryptionKey: Uint8Array;
}

export function resolveServerSecrets(config: KeyportConfig): ServerSecrets {
  const { pepper, keyEncryptionKey } = config.secrets;
  if (pepper && keyEncryptionKey) return { pepper, keyEncryptionKey: Buffer.from(keyEncryptionKey, 'base64url') };
  if (config.database.uri) {
    throw new ConfigError([
      'invalid configuration:',
      ...(!pepper ? ['  secrets.pepper (KEYPORT_SECRET_PEPPER): required with MONGODB_URI; generate one with `openssl rand -base64 32`'] : []),
      ...(!keyEncryptionKey ? ['  secrets.keyEncryptionKey (KEYPORT_KEY_ENCRYPTION_KEY): required with MONGODB_URI; generate one with `node -e "console.log(crypto.randomBytes(32).toString(\'base64url\'))"`'] : []),
    ].join('\n'));
  }
  const dir = resolve(config.database.dataDir);
  const file = join(dir, 'keyport-secrets.json');
  let stored: { pepper: string; keyEncryptionKey: string };
  try {
    stored = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    stored = { pepper: randomBytes(32).toString('base64url'), keyEncryptionKey: randomBytes(32).toString('base64url') };
    try {
      writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600, flag: 'wx' });
    } catch {
      stored = JSON.parse(readFileSync(file, 'utf8')); // another process created it first
    }
  }
  return {
    pepper: pepper ?? stored.pepper,
    keyEncryptionKey: Buffer.from(keyEncryptionKey ?? stored.keyEncryptionKey, 'base64url'),
  };
}
