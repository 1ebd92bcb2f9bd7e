// Token signing keys: generated on first start, stored in the database with the
// private half encrypted (JWE, dir + A256GCM, under the key encryption key), so
// that every worker and every restart signs with the same keys.
import { calculateJwkThumbprint, compactDecrypt, CompactEncrypt, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Models } from '../db/models/index.ts';
import type { SigningKeyDoc } from '../db/models/signing-key.ts';

export const SIGNING_ALG = 'ES256' as const;

export interface SigningKeys {
  /** Private JWKs for oidc-provider; the first one signs. */
  privateJwks: JWK[];
  /** The public JWKS, as published. */
  publicJwks: { keys: JWK[] };
}

async function encryptJwk(jwk: JWK, kid: string, kek: Uint8Array): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(jwk)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid })
    .encrypt(kek);
}

async function decryptJwk(jwe: string, kek: Uint8Array): Promise<JWK> {
  try {
    const { plaintext } = await compactDecrypt(jwe, kek);
    return JSON.parse(new TextDecoder().decode(plaintext)) as JWK;
  } catch {
    throw new Error('cannot decrypt the token signing keys: KEYPORT_KEY_ENCRYPTION_KEY is not the key they were stored with');
  }
}

async function createSigningKey(models: Models, kek: Uint8Array): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG, use: 'sig' };
  await models.SigningKey.create({
    _id: kid,
    alg: SIGNING_ALG,
    publicJwk: { ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' },
    encryptedPrivateJwk: await encryptJwk(privateJwk, kid, kek),
    createdAt: new Date(),
    active: true,
  });
}

export async function loadSigningKeys(models: Models, kek: Uint8Array): Promise<SigningKeys> {
  let docs = await models.SigningKey.find({ active: true }).sort({ createdAt: 1, _id: 1 }).lean<SigningKeyDoc[]>();
  if (docs.length === 0) {
    await createSigningKey(models, kek);
    // Two processes may have created one each: all read back the same list and
    // sign with the oldest, so they agree; both are published.
    docs = await models.SigningKey.find({ active: true }).sort({ createdAt: 1, _id: 1 }).lean<SigningKeyDoc[]>();
  }
  const privateJwks = await Promise.all(docs.map((doc) => decryptJwk(doc.encryptedPrivateJwk, kek)));
  return { privateJwks, publicJwks: { keys: docs.map((doc) => doc.publicJwk as JWK) } };
}
