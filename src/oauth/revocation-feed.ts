// The signed revocation feed (docs/revocation.md): GET /oauth/revocations gives
// a JWT of type `revocations+jwt`, signed with the key that signs access tokens
// (so resource servers check it with the JWKS they already hold), listing what
// offline validators must refuse. Public like the JWKS: it carries identifiers
// of revoked credentials and tokens, never a secret.
//
// Served with a short max-age; its `iat` tells a validator how fresh it is, so
// a copy held by a cache on the way cannot pass for a newer one. Built on
// request, never on the token endpoint.
import { createHash } from 'node:crypto';
import Router from '@koa/router';
import { importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { RevocationFeed, RevocationFeedSnapshot } from '../domain/revocation-feed.ts';
import { renderOAuthErrors } from './oauth-error.ts';
import { OAUTH_ROUTES } from './provider.ts';
import { SIGNING_ALG } from './signing-keys.ts';

export const REVOCATION_FEED_TYPE = 'revocations+jwt';
/** Caches may keep the feed this long; validators go by its `iat` anyway (keyport/verify refreshes it when older than half its bound). */
export const REVOCATION_FEED_MAX_AGE_SECONDS = 2;
/** The feed JWT is not accepted after this, whatever a validator's own bound. */
const FEED_LIFETIME_SECONDS = 60;

export interface FeedSigningKey {
  kid: string;
  privateJwk: JWK;
}

export class RevocationFeedPublisher {
  readonly #feed: RevocationFeed;
  readonly #issuer: string;
  readonly #signingKey: () => FeedSigningKey;
  #imported: { kid: string; key: Promise<CryptoKey> } | null = null;
  /** The last signed feed, reused while it signs the same snapshot with the same key. */
  #signed: { snapshot: RevocationFeedSnapshot; kid: string; jwt: string; etag: string } | null = null;

  constructor(options: { feed: RevocationFeed; issuer: string; signingKey: () => FeedSigningKey }) {
    this.#feed = options.feed;
    this.#issuer = options.issuer;
    this.#signingKey = options.signingKey;
  }

  async current(): Promise<{ jwt: string; etag: string }> {
    const snapshot = await this.#feed.snapshot();
    const { kid, privateJwk } = this.#signingKey();
    const last = this.#signed;
    if (last && last.snapshot === snapshot && last.kid === kid) return last;
    if (this.#imported?.kid !== kid) this.#imported = { kid, key: importJWK(privateJwk, SIGNING_ALG) as Promise<CryptoKey> };
    // `iat` is when the database was read (rounded down): a validator's bound counts from there.
    const iat = Math.floor(snapshot.readAt / 1000);
    const jwt = await new SignJWT({ ...snapshot.contents })
      .setProtectedHeader({ alg: SIGNING_ALG, typ: REVOCATION_FEED_TYPE, kid })
      .setIssuer(this.#issuer)
      .setIssuedAt(iat)
      .setExpirationTime(iat + FEED_LIFETIME_SECONDS)
      .sign(await this.#imported.key);
    const signed = { snapshot, kid, jwt, etag: `"${createHash('sha256').update(jwt).digest('base64url').slice(0, 27)}"` };
    this.#signed = signed;
    return signed;
  }
}

export function revocationFeedRouter(publisher: RevocationFeedPublisher): Router {
  const router = new Router();
  router.get(OAUTH_ROUTES.revocation_feed, renderOAuthErrors, async (ctx) => {
    const { jwt, etag } = await publisher.current();
    ctx.set('Cache-Control', `public, max-age=${REVOCATION_FEED_MAX_AGE_SECONDS}`);
    ctx.etag = etag;
    ctx.type = `application/${REVOCATION_FEED_TYPE}`;
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.body = jwt;
  });
  return router;
}
