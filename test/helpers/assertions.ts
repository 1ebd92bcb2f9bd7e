// Client assertions (private_key_jwt, RFC 7523 §2.2) for tests: an EC key pair
// and an assertion signed with it, as a client library would make them.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { exportJWK, SignJWT, type JWK } from 'jose';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export type Signer = { privateKey: KeyObject; publicJwk: JWK; alg: 'ES256' };

export async function newSigner(): Promise<Signer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicJwk: await exportJWK(publicKey), alg: 'ES256' };
}

/** An assertion for `audience` (the token endpoint URL, or the issuer) lasting a minute; `claims` override the defaults. */
export function clientAssertion(audience: string, keyId: string, signer: Signer, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: keyId, sub: keyId, aud: audience, jti: randomUUID(), iat: now, exp: now + 60, ...claims })
    .setProtectedHeader({ alg: signer.alg })
    .sign(signer.privateKey);
}

/** The form fields that authenticate a request with `assertion`. */
export function assertionFields(assertion: string): Record<string, string> {
  return { client_assertion_type: ASSERTION_TYPE, client_assertion: assertion };
}
