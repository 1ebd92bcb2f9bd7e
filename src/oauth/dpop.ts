// DPoP at the token endpoint (RFC 9449 §5): a token request with a DPoP proof
// gets a token bound to the proof's key (cnf.jkt, token_type DPoP). The proof
// is checked here with jose, by oidc-provider's rules for it (features.dPoP,
// which stays on for the metadata and the client's dpop_bound_access_tokens),
// since oidc-provider offers no public API to check a proof from a grant of
// one's own; the replay record is in the database, shared by every process.
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWTPayload } from 'jose';
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Domain } from '../domain/index.ts';

/** The proof algorithms accepted (and advertised as dpop_signing_alg_values_supported): oidc-provider's default set, asymmetric only. */
export const DPOP_SIGNING_ALGS = ['ES256', 'Ed25519', 'EdDSA'] as const;

/** How far a proof's iat may be from the server's clock, either way (oidc-provider's window). */
export const DPOP_IAT_WINDOW_SECONDS = 300;

/**
 * No server nonces: with them every client's first token request would be
 * answered use_dpop_nonce and sent again. A proof is instead accepted within
 * the iat window and only once.
 */
export const DPOP_FEATURE: NonNullable<NonNullable<Configuration['features']>['dPoP']> = {
  enabled: true,
  requireNonce: () => false,
  allowReplay: false,
};

/** A proof that passed its checks: the thumbprint of its key, its jti and iat. */
interface CheckedProof { thumbprint: string; jti: string; iat: number }

/**
 * Checks a DPoP proof (RFC 9449 §4.3): a JWT of type dpop+jwt signed with an
 * accepted asymmetric alg by the public key in its header (jose's EmbeddedJWK
 * refuses a private or symmetric one), a jti, an iat within the window, no
 * nonce (none is issued), and htm and htu naming this request (htu without
 * its query and fragment). Throws invalid_dpop_proof.
 */
export async function checkDpopProof(proof: string, request: { method: string; url: string }, now = Math.floor(Date.now() / 1000)): Promise<CheckedProof> {
  let payload: JWTPayload;
  let jwk: unknown;
  try {
    ({ payload, protectedHeader: { jwk } } = await jwtVerify(proof, EmbeddedJWK, { algorithms: [...DPOP_SIGNING_ALGS], typ: 'dpop+jwt' }));
  } catch (cause) {
    throw new errors.InvalidDpopProof('invalid DPoP key binding', { cause });
  }
  if (typeof payload.iat !== 'number' || !payload.iat) throw new errors.InvalidDpopProof('DPoP proof must have a iat number property');
  if (typeof payload.jti !== 'string' || !payload.jti) throw new errors.InvalidDpopProof('DPoP proof must have a jti string property');
  if (payload.nonce !== undefined) throw new errors.InvalidDpopProof('DPoP nonces are not supported');
  if (Math.abs(now - payload.iat) > DPOP_IAT_WINDOW_SECONDS) throw new errors.InvalidDpopProof('DPoP proof iat is not recent enough');
  if (payload.htm !== request.method) throw new errors.InvalidDpopProof('DPoP proof htm mismatch');
  const htu = typeof payload.htu === 'string' ? URL.parse(payload.htu) : null;
  if (htu) {
    htu.hash = '';
    htu.search = '';
  }
  if (!htu || htu.href !== new URL(request.url).href) throw new errors.InvalidDpopProof('DPoP proof htu mismatch');
  return { thumbprint: await calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0]), jti: payload.jti, iat: payload.iat };
}

/**
 * The JWK thumbprint a token of this request is bound to, or undefined for a
 * request without a DPoP header. A keypair that requires DPoP is refused
 * without one. A request without DPoP costs a header lookup, nothing more:
 * no await, no database. A proof is accepted once per keypair: its record is
 * kept until a proof dated up to a window ahead could no longer be accepted
 * (now + two windows), in the database, so that no process takes it again.
 * An error of the database goes to `rethrow` (503 while it is unreachable):
 * it must never be taken for a replay, nor become a 500.
 */
export function dpopBinding(domain: Domain, ctx: KoaContextWithOIDC, requiredByClient: boolean, rethrow: (err: unknown) => never): Promise<string> | undefined {
  const proof = ctx.get('DPoP');
  if (!proof) {
    if (requiredByClient) throw new errors.InvalidDpopProof('this keypair requires DPoP: send a DPoP proof (RFC 9449) with the token request');
    return undefined;
  }
  return (async () => {
    const now = Math.floor(Date.now() / 1000);
    const checked = await checkDpopProof(proof, { method: ctx.method, url: ctx.oidc.urlFor('token') }, now);
    let first: boolean;
    try {
      first = await domain.dpopProofs.firstUse(ctx.oidc.client!.clientId, checked.jti, new Date((now + 2 * DPOP_IAT_WINDOW_SECONDS) * 1000));
    } catch (err) {
      rethrow(err);
    }
    if (!first) throw new errors.InvalidDpopProof('DPoP proof JWT Replay detected');
    return checked.thumbprint;
  })();
}

