// Introspection (RFC 7662) and revocation (RFC 7009) of Keyport's JWT access
// tokens. oidc-provider refuses to introspect structured tokens, and JWTs are
// not stored, so Keyport answers both itself: signature and expiry first, then
// the revocation list and the keypair's and owner's current state.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Domain } from '../domain/index.ts';
import { tokenGenerationOf, type AccessTokenVerifier } from './access-tokens.ts';
import type { AddressThrottle } from './address-throttle.ts';
import { authenticateClient, formParam, type FormBody } from './client-auth.ts';
import { invalidRequest, noStore, OAuthError, renderOAuthErrors } from './oauth-error.ts';
import { OAUTH_ROUTES } from './provider.ts';

/** A keypair with this scope may introspect tokens of any keypair of its own account. */
export const INTROSPECT_SCOPE = 'keyport:introspect';

function formBody(ctx: Context): FormBody {
  if (!ctx.is('application/x-www-form-urlencoded')) throw invalidRequest('only application/x-www-form-urlencoded content is accepted');
  return (ctx.request as unknown as { body?: FormBody }).body ?? {};
}

function requiredToken(body: FormBody): string {
  const token = formParam(body, 'token');
  if (!token) throw invalidRequest('missing required parameter \'token\'');
  formParam(body, 'token_type_hint');
  return token;
}

/**
 * `issuer`: what a client assertion's aud may name, besides the endpoint
 * called: the issuer or the token endpoint, as at the token endpoint.
 */
export function tokenEndpointsRouter(domain: Domain, verifier: AccessTokenVerifier, throttle: AddressThrottle, issuer: string): Router {
  const router = new Router();
  const audiences = (endpoint: string) => [issuer, `${issuer}${OAUTH_ROUTES.token}`, `${issuer}${endpoint}`];
  const introspectionAudiences = audiences(OAUTH_ROUTES.introspection);
  const revocationAudiences = audiences(OAUTH_ROUTES.revocation);

  router.post(OAUTH_ROUTES.introspection, renderOAuthErrors, async (ctx) => {
    const body = formBody(ctx);
    const caller = await authenticateClient(ctx, domain, body, throttle, introspectionAudiences);
    const token = requiredToken(body);
    noStore(ctx);
    ctx.body = { active: false };

    const claims = await verifier.verify(token);
    if (!claims) return;
    const own = claims.client_id === caller._id;
    const sameAccountIntrospector = caller.scopes.includes(INTROSPECT_SCOPE) && claims.acc === caller.accountId;
    if (!own && !sameAccountIntrospector) return;
    if (await domain.revocations.isRevoked(claims.jti)) return;
    if (!(await domain.keypairAuth.isUsable(claims.client_id, tokenGenerationOf(claims)))) return;

    ctx.body = {
      active: true,
      iss: claims.iss,
      sub: claims.sub,
      client_id: claims.client_id,
      aud: claims.aud,
      scope: claims.scope,
      iat: claims.iat,
      exp: claims.exp,
      jti: claims.jti,
      // RFC 9449 §6.2: a bound token introspects as DPoP, with its key's thumbprint.
      token_type: claims.cnf?.jkt ? 'DPoP' : 'Bearer',
      ...(claims.cnf?.jkt ? { cnf: { jkt: claims.cnf.jkt } } : {}),
      acc: claims.acc,
      env: claims.env,
    };
  });

  router.post(OAUTH_ROUTES.revocation, renderOAuthErrors, async (ctx) => {
    const body = formBody(ctx);
    const caller = await authenticateClient(ctx, domain, body, throttle, revocationAudiences);
    const token = requiredToken(body);
    noStore(ctx);
    ctx.status = 200;
    ctx.body = '';
    // RFC 7009 §2.2: an invalid or expired token needs no revocation, and gets 200.
    const claims = await verifier.verify(token);
    if (!claims) return;
    if (claims.client_id !== caller._id) throw new OAuthError(400, 'unauthorized_client', 'the token was not issued to this client');
    await domain.revocations.revoke({
      jti: claims.jti,
      clientId: claims.client_id,
      expiresAt: new Date(claims.exp * 1000),
      accountId: claims.acc ?? null,
      environmentId: claims.env ?? null,
    }, `keypair:${caller._id}`);
  });

  return router;
}
