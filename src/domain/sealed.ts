// Secrets Keyport must be able to read back (token signing keys, webhook
// signing secrets), encrypted at rest: JWE, dir + A256GCM, under the key
// encryption key (KEYPORT_KEY_ENCRYPTION_KEY). `kid` names what is sealed, in
// the protected header.
import { compactDecrypt, CompactEncrypt } from 'jose';

export async function sealText(text: string, kid: string, kek: Uint8Array): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(text))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid })
    .encrypt(kek);
}

/** Throws `failure` when the key encryption key is not the one the text was sealed with. */
export async function openText(jwe: string, kek: Uint8Array, failure: string): Promise<string> {
  try {
    const { plaintext } = await compactDecrypt(jwe, kek);
    return new TextDecoder().decode(plaintext);
  } catch {
    throw new Error(failure);
  }
}
