// Verifies Keyport's own access tokens (for introspection, revocation and the
// admin API's bearer tokens): pinned algorithm, issuer and `typ: at+jwt`
// (RFC 9068 §4, RFC 8725).
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { SIGNING_ALG } from './signing-keys.ts';

export interface AccessTokenClaims extends JWTPayload {
  jti: string;
  sub: string;
  client_id: string;
  exp: number;
  iat: number;
  scope?: string;
  acc?: string;
  env?: string;
  /** The keypair's token generation when the token was issued (absent in tokens from before generations: 0). */
  gen?: number;
  /** Present on DPoP-bound tokens (RFC 9449 §6): the SHA-256 JWK thumbprint of the client's proof key. */
  cnf?: { jkt?: string };
}

/** The token generation a token carries (see KeypairDoc.tokenGeneration). */
export function tokenGenerationOf(claims: Pick<AccessTokenClaims, 'gen'>): number {
  return typeof claims.gen === 'number' && Number.isSafeInteger(claims.gen) ? claims.gen : 0;
}

/** Tokens whose signature was checked, kept by their exact text (a resource server introspects the same token on every call). */
const VERIFIED_TOKENS_MAX = 10_000;

export class AccessTokenVerifier {
  readonly #issuer: string;
  #keys: ReturnType<typeof createLocalJWKSet>;
  #kids: Set<string | undefined>;
  /**
   * Everything jwtVerify checks except the time and the audience depends only on
   * the token's text and the published keys: a token that passed once passes
   * those again while its key stays published. Expiry (and nbf) and the audience
   * are checked on every call, exactly as jwtVerify checks them; a key that
   * leaves the JWKS (revoked, or retired long enough) empties the cache.
   */
  readonly #verified = new LRUCache<string, AccessTokenClaims>({ max: VERIFIED_TOKENS_MAX });

  constructor(issuer: string, publicJwks: JSONWebKeySet) {
    this.#issuer = issuer;
    this.#keys = createLocalJWKSet(publicJwks);
    this.#kids = new Set(publicJwks.keys.map((key) => key.kid));
  }

  /** The published keys changed: tokens of a key that is no longer published fail from now on, also those verified before. */
  setKeys(publicJwks: JSONWebKeySet): void {
    const kids = new Set(publicJwks.keys.map((key) => key.kid));
    const removed = [...this.#kids].some((kid) => !kids.has(kid));
    this.#keys = createLocalJWKSet(publicJwks);
    this.#kids = kids;
    if (removed) this.#verified.clear();
  }

  /**
   * The token's claims when its signature, issuer, type and lifetime check out
   * (and, with `audience`, its aud names that resource); null otherwise.
   */
  async verify(token: string, options: { allowExpired?: boolean; audience?: string } = {}): Promise<AccessTokenClaims | null> {
    const known = this.#verified.get(token);
    if (known) return this.#timeAndAudienceHold(known, options) ? known : null;
    const keys = this.#keys;
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: this.#issuer,
        typ: 'at+jwt',
        algorithms: [SIGNING_ALG],
        requiredClaims: ['jti', 'sub', 'client_id', 'exp', 'iat', 'aud'],
        ...(options.allowExpired ? { currentDate: new Date(0) } : {}),
        ...(options.audience !== undefined ? { audience: options.audience } : {}),
      });
      const claims = payload as AccessTokenClaims;
      // Not when the keys changed meanwhile: its key may just have been revoked.
      if (keys === this.#keys) this.#verified.set(token, claims);
      return claims;
    } catch {
      return null;
    }
  }

  /** jwtVerify's own time and audience rules (no clock tolerance), for a token verified before. */
  #timeAndAudienceHold(claims: AccessTokenClaims, options: { allowExpired?: boolean; audience?: string }): boolean {
    if (!options.allowExpired) {
      const now = Math.floor(Date.now() / 1000);
      if (claims.exp <= now) return false;
      if (typeof claims.nbf === 'number' && claims.nbf > now) return false;
    }
    if (options.audience !== undefined) {
      const { aud } = claims;
      if (!(aud === options.audience || (Array.isArray(aud) && aud.includes(options.audience)))) return false;
    }
    return true;
  }
}
