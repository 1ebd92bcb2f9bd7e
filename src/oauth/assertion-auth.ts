// private_key_jwt (RFC 7523 §2.2) at the endpoints Keyport answers itself
// (introspection, revocation). oidc-provider authenticates assertions only
// inside its own endpoints, so the same rules as at the token endpoint
// (key-auth.ts) are checked here with jose: the alg belongs to one of the
// keypair's keys and is never `none` or HMAC, the signature, iss = sub = key
// id, aud (the issuer, the token endpoint or the endpoint called), exp at most
// 5 minutes ahead, nbf, iat not in the future, and the jti used once in the
// replay store the token endpoint uses too. Then the keypair's own rules
// (KeypairAuthenticator.authenticateWithKey), and a failed assertion counts
// toward its lockout, as at the token endpoint.
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWTPayload } from 'jose';
import type { KeypairDoc } from '../db/models/keypair.ts';
import type { StoredPublicKey } from '../db/contract.ts';
import type { Domain } from '../domain/index.ts';
import { ASSERTION_ALGS, keyAlgs } from '../domain/public-keys.ts';
import { ASSERTION_CLOCK_SKEW_SECONDS, ASSERTION_MAX_LIFETIME_SECONDS, assertionReplayId } from './key-auth.ts';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const ACCEPTED = new Set<string>(ASSERTION_ALGS);

/** The assertion's claims when `key` signed it and they satisfy the rules above (the jti not yet claimed); null otherwise. */
async function verifiedClaims(assertion: string, key: StoredPublicKey, alg: string, keyId: string, audiences: string[]): Promise<JWTPayload | null> {
  try {
    const { payload } = await jwtVerify(assertion, await importJWK(key.jwk, alg), {
      algorithms: [alg],
      issuer: keyId,
      subject: keyId,
      audience: audiences,
      clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'jti'],
    });
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp! > now + ASSERTION_MAX_LIFETIME_SECONDS + ASSERTION_CLOCK_SKEW_SECONDS) return null;
    if (payload.iat !== undefined && payload.iat > now + ASSERTION_CLOCK_SKEW_SECONDS) return null;
    if (typeof payload.jti !== 'string' || !payload.jti) return null;
    return payload;
  } catch {
    return null;
  }
}

/**
 * The keypair a client assertion authenticates, or null (the caller answers
 * 401 invalid_client, the same whatever failed). `clientId`: the request's
 * client_id, which must then name the keypair the assertion is about.
 */
export async function authenticateAssertion(domain: Domain, assertion: string, options: { clientId: string | undefined; audiences: string[] }): Promise<KeypairDoc | null> {
  let header: { alg?: unknown; kid?: unknown };
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    return null;
  }
  const keyId = options.clientId ?? unverified.iss;
  if (typeof keyId !== 'string' || unverified.iss !== keyId) return null;
  const doc = await domain.keypairAuth.findForAuthentication(keyId);
  if (!doc?.publicKeys?.length) return null;
  const failed = () => {
    domain.keypairAuth.assertionFailed(doc);
    return null;
  };
  const alg = typeof header.alg === 'string' && ACCEPTED.has(header.alg) ? header.alg : null;
  if (!alg) return failed();
  const candidates = doc.publicKeys.filter((key) => (typeof header.kid === 'string' ? key.kid === header.kid : true) && keyAlgs(key.jwk).includes(alg as never));
  let signedBy: StoredPublicKey | undefined;
  let claims: JWTPayload | null = null;
  for (const key of candidates) {
    claims = await verifiedClaims(assertion, key, alg, keyId, options.audiences);
    if (claims) {
      signedBy = key;
      break;
    }
  }
  if (!signedBy || !claims) return failed();
  // Single use, in the store the token endpoint's assertions share: an assertion used there cannot be used here again, nor the other way.
  if (!(await domain.replays.firstUse(assertionReplayId(keyId, claims.jti!), new Date(claims.exp! * 1000)))) return failed();
  // The keypair's rules: lock, enabled, owner, expiry, the key still live (a retired key is counted there).
  const result = await domain.keypairAuth.authenticateWithKey(doc, signedBy.thumbprint);
  return result.ok ? result.keypair : null;
}
