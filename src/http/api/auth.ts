// Who is calling the admin API: an administrator with a session cookie (plus the
// CSRF token on every state-changing request), or automation with a Keyport
// access token (Authorization: Bearer) issued for the admin API's audience and
// carrying keyport:read, keyport:manage or keyport:admin. The token is checked like
// introspection checks it: signature, issuer, typ, expiry and audience, then the
// revocation list and the keypair's and owner's current state.
import type { Context, Next } from 'koa';
import { ADMIN_ACCOUNT_SCOPE, ADMIN_API_SCOPES, ADMIN_MANAGE_SCOPE, ADMIN_READ_SCOPE, type ActorAccess, type Principal } from '../../domain/access.ts';
import type { Domain } from '../../domain/index.ts';
import { tokenGenerationOf, type AccessTokenVerifier } from '../../oauth/access-tokens.ts';
import { crossSiteRequest, CSRF_HEADER, csrfMatches, isStateChanging, sessionOf } from '../session/index.ts';
import { ApiError, unauthenticated } from './errors.ts';

/** The audience (RFC 8707 resource) of tokens for Keyport's own admin API; listed in config tokens.resources. */
import { ADMIN_API_RESOURCE } from '../../config.ts';

export { ADMIN_API_RESOURCE };

export interface ApiState {
  access: ActorAccess;
  via: 'session' | 'bearer';
}

export function apiState(ctx: Context): ApiState {
  const state = ctx.state as { api?: ApiState };
  if (!state.api) throw unauthenticated();
  return state.api;
}

async function bearerPrincipal(domain: Domain, verifier: AccessTokenVerifier, header: string): Promise<Principal> {
  const match = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/.exec(header);
  if (!match) throw unauthenticated('the Authorization header must be "Bearer <Keyport access token>"');
  const claims = await verifier.verify(match[1]!, { audience: ADMIN_API_RESOURCE });
  if (!claims) throw unauthenticated('the access token is not valid for the Keyport admin API');
  // The admin API takes Bearer tokens only: a DPoP-bound token presented as Bearer is a downgrade (RFC 9449 §7.2).
  if (claims.cnf?.jkt !== undefined) throw unauthenticated('the access token is DPoP-bound; the Keyport admin API accepts Bearer tokens only');
  if (await domain.revocations.isRevoked(claims.jti)) throw unauthenticated('the access token is not valid for the Keyport admin API');
  if (!(await domain.keypairAuth.isUsable(claims.client_id, tokenGenerationOf(claims)))) throw unauthenticated('the access token is not valid for the Keyport admin API');
  const keypair = await domain.keypairs.get(claims.client_id).catch(() => null);
  if (!keypair || keypair.ownerType !== 'account' || keypair.accountId !== claims.acc) throw unauthenticated('the access token is not valid for the Keyport admin API');
  // What the token was granted, still held by the keypair now (scopes removed since then no longer count).
  const granted = new Set((claims.scope ?? '').split(' '));
  const scopes = ADMIN_API_SCOPES.filter((s) => granted.has(s) && keypair.scopes.includes(s));
  if (!scopes.length) throw new ApiError(403, 'forbidden', `the access token carries none of ${ADMIN_READ_SCOPE}, ${ADMIN_MANAGE_SCOPE}, ${ADMIN_ACCOUNT_SCOPE}`);
  return { kind: 'keypair', keyId: keypair.keyId, accountId: keypair.accountId, scopes };
}

/** Authenticates every /api/v1 request that needs a caller; sets ctx.state.api. */
export function requireCaller(domain: Domain, verifier: AccessTokenVerifier) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const header = ctx.get('Authorization');
    let principal: Principal;
    let via: ApiState['via'];
    if (header) {
      principal = await bearerPrincipal(domain, verifier, header);
      via = 'bearer';
    } else {
      const session = sessionOf(ctx);
      const userId = session?.userId;
      if (!userId) throw unauthenticated();
      const user = await domain.users.findById(userId);
      if (!user) throw unauthenticated('the session has ended; sign in again');
      if (isStateChanging(ctx.method)) {
        // Bearer tokens are not sent by browsers on their own: only the cookie path needs this.
        const crossSite = crossSiteRequest(ctx);
        if (crossSite) throw new ApiError(403, 'cross_site_request', `requests made with the session cookie must come from Keyport's own origin, not another site (${crossSite})`);
        if (!csrfMatches(session.csrf, ctx.get(CSRF_HEADER) || undefined)) {
          throw new ApiError(403, 'csrf_failed', `requests made with the session cookie must carry the ${CSRF_HEADER} header from the sign-in response`);
        }
      }
      principal = { kind: 'user', userId: user.id, operator: user.operator };
      via = 'session';
    }
    (ctx.state as { api?: ApiState }).api = { access: await domain.access.actorFor(principal), via };
    await next();
  };
}
