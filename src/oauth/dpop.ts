// DPoP at the token endpoint (RFC 9449 §5): a token request with a DPoP proof
// gets a token bound to the proof's key (cnf.jkt, token_type DPoP). The proof
// checks are oidc-provider's own (features.dPoP); Keyport adds the replay
// record shared by every process and the keypair option that requires DPoP.
import type Provider from 'oidc-provider';
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { CHALLENGE_OK_WINDOW } from 'oidc-provider/lib/helpers/challenge.js';
import validateDpop from 'oidc-provider/lib/helpers/validate_dpop.js';
import type { Domain } from '../domain/index.ts';

/** The proof algorithms accepted (and advertised as dpop_signing_alg_values_supported): oidc-provider's default set, asymmetric only. */
export const DPOP_SIGNING_ALGS = ['ES256', 'Ed25519', 'EdDSA'] as const;

/**
 * No server nonces: with them every client's first token request would be
 * answered use_dpop_nonce and sent again. A proof is instead accepted within
 * oidc-provider's iat window (±300 s) and only once (dpopReplayCheck).
 */
export const DPOP_FEATURE: NonNullable<NonNullable<Configuration['features']>['dPoP']> = {
  enabled: true,
  requireNonce: () => false,
  allowReplay: false,
};

/** Whether a keypair presents a DPoP proof's jti for the first time (false: a replay). */
export type DpopReplayCheck = (clientId: string, jti: string) => Promise<boolean>;

/**
 * oidc-provider records proof ids through its adapter, which Keyport leaves
 * empty (tokens are JWTs, never stored): a replayed proof would pass, and
 * in-memory records would not reach the other workers. The record goes to the
 * database instead, in one atomic claim. Not through provider.ReplayDetection,
 * which client assertions use (key-auth.ts): a proof keeps its own ids (`dpop:`)
 * and its own lifetime, kept two iat windows ahead, because a proof dated up to a
 * window ahead stays acceptable until a window after its iat. An unavailable
 * database is `rethrow`n (503), never taken for a replay.
 */
export function dpopReplayCheck(domain: Domain, rethrow: (err: unknown) => never): DpopReplayCheck {
  return async (clientId, jti) => {
    try {
      return await domain.dpopProofs.firstUse(clientId, jti, new Date(Date.now() + 2 * CHALLENGE_OK_WINDOW * 1000));
    } catch (err) {
      return rethrow(err);
    }
  };
}

/**
 * The JWK thumbprint a token of this request is bound to, or undefined for a
 * request without a DPoP header. A keypair that requires DPoP is refused
 * without one. A request without DPoP costs a header lookup, nothing more:
 * no await, no database.
 */
export function dpopBinding(provider: Provider, ctx: KoaContextWithOIDC, requiredByClient: boolean, firstUse: DpopReplayCheck): Promise<string> | undefined {
  if (!ctx.get('DPoP')) {
    if (requiredByClient) throw new errors.InvalidDpopProof('this keypair requires DPoP: send a DPoP proof (RFC 9449) with the token request');
    return undefined;
  }
  return (async () => {
    const proof = (await validateDpop(provider, ctx))!;
    if (!(await firstUse(ctx.oidc.client!.clientId, proof.jti))) throw new errors.InvalidDpopProof('DPoP proof JWT Replay detected');
    return proof.thumbprint;
  })();
}
