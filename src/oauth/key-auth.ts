// private_key_jwt (RFC 7523 §2.2) at the token endpoint. oidc-provider does the
// JWT work: it decodes the assertion, checks the alg against the accepted list
// and the key, the signature, iss, aud (issuer or token endpoint URL) and exp,
// and asks ReplayDetection about the jti. Keyport adds its own rules here:
// sub = iss, a short lifetime, no iat in the future, the keypair's state (lock,
// enabled, owner, the key's grace period), lockout counting of failed
// assertions, and a replay store in the database shared by every process.
import { createHash } from 'node:crypto';
import { compactVerify, importJWK } from 'jose';
import Provider, { errors, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import type { KeypairDoc } from '../db/models/keypair.ts';
import type { Domain } from '../domain/index.ts';
import type { AuthenticationFailure, AuthenticationResult } from '../domain/keypairs.ts';
import { keyAlgs, livePublicKeys, verificationJwk } from '../domain/public-keys.ts';
import type { StoredPublicKey } from '../db/contract.ts';
import { requestAddress } from './address-throttle.ts';

/** The longest an assertion may live: exp at most this far ahead (plus the clock skew). */
export const ASSERTION_MAX_LIFETIME_SECONDS = 300;
/** Clock skew allowed between client and server, on exp, nbf and iat. */
export const ASSERTION_CLOCK_SKEW_SECONDS = 15;

/** The replay store's id of an assertion's jti (hashed with its issuer): the same at every endpoint that takes assertions. */
export function assertionReplayId(iss: string, jti: string): string {
  return `jti:${createHash('sha256').update(`${iss}\0${jti}`).digest('base64url')}`;
}

/** Requests whose assertion failed on a rule of the keypair that the domain counted (or must not count) already. */
const counted = new WeakSet<object>();

type Hooks = { onAuthenticationFailure?(reason: AuthenticationFailure, keyId: string): void } | undefined;
type RecordOf = (ctx: object) => KeypairDoc | null | undefined;

/** Whether this token request authenticates with a client assertion (read before the client is chosen). */
export function assertionPresented(): boolean {
  return Provider.ctx?.oidc?.params?.client_assertion !== undefined;
}

/** The client metadata of a keypair's key client: the same keypair, registered for private_key_jwt with its live keys. */
export function keyClientMetadata(doc: KeypairDoc, base: AdapterPayload): AdapterPayload {
  // No client_secret: this client authenticates by its keys only.
  const rest = { ...base };
  delete rest.client_secret;
  // Keys past their grace period may still be listed while this client is cached: keyAssertionRules refuses them.
  const keys = livePublicKeys(doc.publicKeys, new Date()).map(verificationJwk);
  return { ...rest, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: keys.length ? keys : (doc.publicKeys ?? []).map(verificationJwk) } };
}

/** Which stored key signed `assertion`: by its kid when the header names one, else the one whose signature verifies. */
async function signingKeyOf(doc: KeypairDoc, assertion: string, header: Record<string, unknown>): Promise<StoredPublicKey | undefined> {
  const alg = typeof header.alg === 'string' ? header.alg : '';
  const candidates = (doc.publicKeys ?? []).filter((key) => (typeof header.kid === 'string' ? key.kid === header.kid : true) && keyAlgs(key.jwk).includes(alg as never));
  if (candidates.length <= 1) return candidates[0];
  for (const key of candidates) {
    try {
      await compactVerify(assertion, await importJWK(key.jwk, alg), { algorithms: [alg] });
      return key;
    } catch { /* not this one */ }
  }
  return undefined;
}

/**
 * oidc-provider's assertJwtClientAuthClaimsAndHeader: runs after the signature
 * and the standard claims were verified, before the jti is recorded.
 */
export function keyAssertionRules(domain: Domain, recordOf: RecordOf, hooks: Hooks, rethrow: (err: unknown) => never) {
  return async (ctx: KoaContextWithOIDC, claims: Record<string, unknown>, header: Record<string, unknown>, client: { clientId: string }): Promise<void> => {
    const now = Math.floor(Date.now() / 1000);
    if (claims.sub !== client.clientId) throw new errors.InvalidClientAuth('sub (JWT subject) must be the client_id');
    if (typeof claims.exp !== 'number' || claims.exp > now + ASSERTION_MAX_LIFETIME_SECONDS + ASSERTION_CLOCK_SKEW_SECONDS) {
      throw new errors.InvalidClientAuth(`exp must be at most ${ASSERTION_MAX_LIFETIME_SECONDS} seconds ahead`);
    }
    if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat > now + ASSERTION_CLOCK_SKEW_SECONDS)) {
      throw new errors.InvalidClientAuth('iat must not be in the future');
    }
    const doc = recordOf(ctx);
    const key = doc ? await signingKeyOf(doc, String(ctx.oidc.params?.client_assertion), header) : undefined;
    if (!doc || !key) throw new errors.InvalidClientAuth('no key of this keypair signed the assertion');
    let result: AuthenticationResult;
    try {
      // The address is read only if the key is refused and the failure counted (a recent failure source).
      result = await domain.keypairAuth.authenticateWithKey(doc, key.thumbprint, { address: () => requestAddress(ctx.req, ctx.app.proxy) });
    } catch (err) {
      rethrow(err);
    }
    if (!result.ok) {
      counted.add(ctx);
      hooks?.onAuthenticationFailure?.(result.reason, doc._id);
      throw new errors.InvalidClientAuth(`keypair refused: ${result.reason}`);
    }
  };
}

/**
 * The jti check in the database (one atomic insert, shared by every process)
 * instead of oidc-provider's find-then-save through its adapter; and failed
 * assertions counted toward the keypair's lockout, as wrong secrets are.
 */
export function installKeyAuthentication(provider: Provider, domain: Domain, recordOf: RecordOf, hooks: Hooks, rethrow: (err: unknown) => never): void {
  provider.ReplayDetection.unique = async (iss: string, jti: string, exp: number) => {
    try {
      return await domain.replays.firstUse(assertionReplayId(iss, jti), new Date(exp * 1000));
    } catch (err) {
      return rethrow(err);
    }
  };
  provider.on('grant.error', (ctx: KoaContextWithOIDC, err: { statusCode?: number }) => {
    if (err.statusCode !== 401 || counted.has(ctx) || ctx.oidc?.client?.clientAuthMethod !== 'private_key_jwt') return;
    const doc = recordOf(ctx);
    if (!doc) return;
    domain.keypairAuth.assertionFailed(doc, () => requestAddress(ctx.req, ctx.app.proxy));
    hooks?.onAuthenticationFailure?.('bad_assertion', doc._id);
  });
}
