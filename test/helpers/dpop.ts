// DPoP proofs (RFC 9449 §4) for tests, made with jose the way a client makes them.
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface DpopKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
  thumbprint: string;
}

export async function dpopKey(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicJwk, thumbprint: await calculateJwkThumbprint(publicJwk) };
}

/** A proof for `htm` `htu`; `accessToken` adds ath; `claims`/`header` override anything. */
export async function dpopProof(key: DpopKey, htm: string, htu: string, options: { accessToken?: string; claims?: Record<string, unknown>; header?: Record<string, unknown>; alg?: string } = {}): Promise<string> {
  const payload: Record<string, unknown> = { htm, htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) };
  if (options.accessToken !== undefined) payload.ath = createHash('sha256').update(options.accessToken).digest('base64url');
  const alg = options.alg ?? (key.publicJwk.kty === 'OKP' ? 'EdDSA' : 'ES256');
  return new SignJWT({ ...payload, ...options.claims })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...options.header })
    .sign(key.privateKey);
}

/** A token request with a DPoP header (client_secret_basic). */
export function dpopTokenRequest(url: string, keypair: { keyId: string; secret: string }, proof: string | undefined, form: Record<string, string> = {}): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${Buffer.from(`${encodeURIComponent(keypair.keyId)}:${encodeURIComponent(keypair.secret)}`).toString('base64')}`,
  };
  if (proof !== undefined) headers.dpop = proof;
  return fetch(`${url}/oauth/token`, { method: 'POST', headers, body: new URLSearchParams({ grant_type: 'client_credentials', ...form }) });
}
