// Types for the two oidc-provider 9 modules Keyport's own client credentials
// grant (provider.ts) calls to take DPoP proofs exactly as oidc-provider's
// built-in grants do. The package has no "exports" map, so they resolve; the
// package ships no types for them.
declare module 'oidc-provider/lib/helpers/validate_dpop.js' {
  import type Provider from 'oidc-provider';
  import type { KoaContextWithOIDC } from 'oidc-provider';

  export interface DpopProofResult { thumbprint: string; jti: string; iat: number }
  /** Checks the request's DPoP header (signature, typ, alg, htm, htu, iat window, nonce); undefined without one. Throws InvalidDpopProof. */
  export default function validateDpop(provider: Provider, ctx: KoaContextWithOIDC, accessToken?: string): Promise<DpopProofResult | undefined>;
}

declare module 'oidc-provider/lib/helpers/challenge.js' {
  /** How far (in seconds) a DPoP proof's iat may be from the server's clock, either way. */
  export const CHALLENGE_OK_WINDOW: number;
}
