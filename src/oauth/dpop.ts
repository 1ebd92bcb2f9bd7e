// DPoP at the token endpoint (RFC 9449 §5): a token request with a DPoP proof
// gets a token bound to the proof's key (cnf.jkt, token_type DPoP). The proof
// checks are oidc-provider's own (features.dPoP); Keyport adds the replay
// record shared by every process and the keypair option that requires DPoP.
import type Provider from 'oidc-provider';
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { CHALLENGE_OK_WINDOW } from 'oidc-provider/lib/helpers/challenge.js';
import validateDpop, { checkDpopReplay } from 'oidc-provider/lib/helpers/validate_dpop.js';
import type { Domain } from '../domain/index.ts';

/** The proof algorithms accepted (and advertised as dpop_signing_alg_values_supported): oidc-provider's default set, asymmetric only. */
export const DPOP_SIGNING_ALGS = ['ES256', 'Ed25519', 'EdDSA'] as const;

/**
 * No server nonces: with them every client's first token request would be
 * answered use_dpop_nonce and sent again. A proof is instead accepted within
 * oidc-provider's iat window (±300 s) and only once (shareReplayDetection).
 */
export const DPOP_FEATURE: NonNullable<NonNullable<Configuration['features']>['dPoP']> = {
  enabled: true,
  requireNonce: () => false,
  allowReplay: false,
};

/**
 * oidc-provider records proof ids through its adapter, which Keyport leaves
 * empty (tokens are JWTs, never stored): a replayed proof would pass, and
 * in-memory records would not reach the other workers. The record goes to the
 * database instead, in one atomic claim. It is kept one iat window longer than
 * oidc-provider asks (`exp` = now + window), because a proof dated up to a
 * window ahead stays acceptable until a window after its iat.
 */
export function shareReplayDetection(provider: Provider, domain: Domain): void {
  provider.ReplayDetection.unique = async (clientId: string, jti: string, exp: number) =>
    domain.dpopProofs.firstUse(clientId, jti, new Date((exp + CHALLENGE_OK_WINDOW) * 1000));
}

/**
 * The JWK thumbprint a token of this request is bound to, or undefined for a
 * request without a DPoP header. A keypair that requires DPoP is refused
 * without one. A request without DPoP costs a header lookup, nothing more:
 * no await, no database.
 */
export function dpopBinding(provider: Provider, ctx: KoaContextWithOIDC, requiredByClient: boolean): Promise<string> | undefined {
  if (!ctx.get('DPoP')) {
    if (requiredByClient) throw new errors.InvalidDpopProof('this keypair requires DPoP: send a DPoP proof (RFC 9449) with the token request');
    return undefined;
  }
  return (async () => {
    const proof = await validateDpop(provider, ctx);
    await checkDpopReplay(provider, ctx, proof, ctx.oidc.client!.clientId, errors.InvalidDpopProof);
    return proof!.thumbprint;
  })();
}
