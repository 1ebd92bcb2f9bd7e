// Verifies Keyport's own access tokens (for introspection and revocation):
// pinned algorithm, issuer and `typ: at+jwt` (RFC 9068 §4, RFC 8725).
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
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
}

export class AccessTokenVerifier {
  readonly #issuer: string;
  readonly #keys: ReturnType<typeof createLocalJWKSet>;

  constructor(issuer: string, publicJwks: JSONWebKeySet) {
    this.#issuer = issuer;
    this.#keys = createLocalJWKSet(publicJwks);
  }

  /**
   * The token's claims when its signature, issuer, type and lifetime check out
   * (and, with `audience`, its aud names that resource); null otherwise.
   */
  async verify(token: string, options: { allowExpired?: boolean; audience?: string } = {}): Promise<AccessTokenClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.#keys, {
        issuer: this.#issuer,
        typ: 'at+jwt',
        algorithms: [SIGNING_ALG],
        requiredClaims: ['jti', 'sub', 'client_id', 'exp', 'iat', 'aud'],
        ...(options.allowExpired ? { currentDate: new Date(0) } : {}),
        ...(options.audience !== undefined ? { audience: options.audience } : {}),
      });
      return payload as AccessTokenClaims;
    } catch {
      return null;
    }
  }
}
