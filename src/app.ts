// Composes the HTTP surface: Keyport's own routes in a Koa app, and oidc-provider
// (itself a Koa app) for the token endpoint, JWKS and discovery. A small
// dispatcher picks one per request, so that token requests do not pay for the
// admin app's middleware.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import type Provider from 'oidc-provider';
import { issuerPath, metadataUrl } from './config.ts';
import type { Domain } from './domain/index.ts';
import { AccessLog, type Logger } from './log.ts';
import { adminApi, apiBoundary } from './http/api/index.ts';
import type { Metrics } from './http/metrics.ts';
import { opsRouter } from './http/ops.ts';
import { setPublicBase } from './http/public-base.ts';
import { adminUi } from './http/ui/index.ts';
import { SignInFlow, type SignInThrottle } from './http/session/sign-in.ts';
import type { AccessTokenVerifier } from './oauth/access-tokens.ts';
import { requestAddress, throttledResponse, type AddressThrottle } from './oauth/address-throttle.ts';
import { renderOAuthErrors } from './oauth/oauth-error.ts';
import { OAUTH_ROUTES, presentedEndedSecret } from './oauth/provider.ts';
import type { ProviderHolder } from './oauth/provider-holder.ts';
import { JWKS_MAX_AGE_SECONDS } from './oauth/signing-keys.ts';
import { revocationFeedRouter, type RevocationFeedPublisher } from './oauth/revocation-feed.ts';
import { tokenEndpointsRouter } from './oauth/token-endpoints.ts';
import { traceRequests, type Tracing } from './tracing.ts';

export interface AppParts {
  domain: Domain;
  /** oidc-provider, rebuilt when the signing keys change. */
  providers: ProviderHolder;
  verifier: AccessTokenVerifier;
  /** The signed revocation feed served at /oauth/revocations. */
  revocationFeed: RevocationFeedPublisher;
  metrics: Metrics;
  log: Logger;
  ping: () => Promise<boolean>;
  issuer: string;
  /** The admin sign-in throttle (src/db/sign-in-throttle.ts, on the database): the HTTP part never gets a connection. */
  signInThrottle: SignInThrottle;
  /** Failed client authentications per address (token, introspection, revocation). */
  addressThrottle: AddressThrottle;
  /** Behind a reverse proxy: client addresses from X-Forwarded-For. */
  trustProxy: boolean;
  /** OpenTelemetry traces, or null when they are off (then nothing of them runs). */
  tracing?: Tracing | null;
}

const OWN_OAUTH_PATHS = new Set<string>([OAUTH_ROUTES.introspection, OAUTH_ROUTES.revocation, OAUTH_ROUTES.revocation_feed]);
const METADATA_PATH = '/.well-known/oauth-authorization-server';
/**
 * Behind an issuer path these are answered at the host's root too: container
 * probes and metrics scrapers reach the process directly, not through the proxy.
 */
const ROOT_OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The JWKS may be cached this long: a new signing key is published well ahead
 * of it (src/domain/signing-key-schedule.ts), a revoked one is gone from caches
 * within it.
 */
const JWKS_CACHE_CONTROL = `public, max-age=${JWKS_MAX_AGE_SECONDS}`;

/**
 * A Koa app as Keyport runs them: proxy setting, no default error printing;
 * server errors are logged as errors, a client's bad request (a body too large
 * or malformed, which Koa answers with its status) only at debug level.
 */
function newKoaApp(parts: AppParts): Koa {
  const app = new Koa();
  app.proxy = parts.trustProxy;
  app.silent = true;
  app.on('error', (err: Error & { status?: number }) => {
    const clientError = typeof err.status === 'number' && err.status >= 400 && err.status < 500;
    if (clientError) parts.log.debug({ status: err.status, message: err.message }, 'bad request');
    else parts.log.error({ err: { message: err.message, stack: err.stack } }, 'unhandled error');
  });
  return app;
}

/**
 * Introspection and revocation in a small app of their own: they pay for no
 * other middleware, and every error, body parsing's included, is an OAuth JSON
 * error (it was plain text, logged as a server error).
 */
function createOAuthEndpointsApp(parts: AppParts): Koa {
  const app = newKoaApp(parts);
  app.use(renderOAuthErrors);
  app.use(bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8' }));
  const oauth = tokenEndpointsRouter(parts.domain, parts.verifier, parts.addressThrottle, parts.issuer);
  app.use(oauth.routes()).use(oauth.allowedMethods());
  const feed = revocationFeedRouter(parts.revocationFeed);
  app.use(feed.routes()).use(feed.allowedMethods());
  return app;
}

function createKeyportApp(parts: AppParts): Koa {
  const app = newKoaApp(parts);
  setPublicBase(app, parts.issuer); // before the admin surfaces, which read it for cookie paths

  app.use(apiBoundary()); // the admin API's JSON errors cover body parsing too
  app.use(bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '64kb', formLimit: '16kb', encoding: 'utf-8' }));

  const ops = opsRouter({ ping: parts.ping, metrics: parts.metrics });
  app.use(ops.routes()).use(ops.allowedMethods());
  // One sign-in flow and throttle for both admin surfaces: failures on one count on the other.
  const signIn = new SignInFlow(parts.domain.users, parts.signInThrottle);
  app.use(adminApi(app, {
    domain: parts.domain,
    verifier: parts.verifier,
    signIn,
    secureCookies: parts.issuer.startsWith('https:'),
  }));
  app.use(adminUi(app, { domain: parts.domain, issuer: parts.issuer, secureCookies: parts.issuer.startsWith('https:'), signIn }));
  app.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/' && ctx.method === 'GET' && ctx.status === 404) {
      ctx.body = {
        service: 'keyport',
        issuer: parts.issuer,
        discovery: metadataUrl(parts.issuer),
        token_endpoint: `${parts.issuer}${OAUTH_ROUTES.token}`,
        jwks_uri: `${parts.issuer}${OAUTH_ROUTES.jwks}`,
      };
    }
  });
  return app;
}

/** What the token endpoint decided for a response (from oidc-provider's events): for the access log and the metrics. */
interface TokenResult {
  outcome: string;
  clientId: string | undefined;
}

/**
 * Follows the token endpoint through oidc-provider's events rather than a
 * middleware in its app: an extra async layer around every token request cost
 * ~3 % of the throughput (paired runs, 32 connections). The per-address budget
 * is spent here, before the 401 goes out, so that the address's next request
 * sees it. The listeners go on each provider built for new signing keys too.
 */
function watchTokenEndpoint(providers: ProviderHolder, throttle: AddressThrottle, trustProxy: boolean, log: Logger): WeakMap<ServerResponse, TokenResult> {
  const results = new WeakMap<ServerResponse, TokenResult>();
  providers.each((provider) => {
    provider.proxy = trustProxy;
    followTokenEvents(provider, results, throttle, trustProxy, log);
  });
  return results;
}

function followTokenEvents(provider: Provider, results: WeakMap<ServerResponse, TokenResult>, throttle: AddressThrottle, trustProxy: boolean, log: Logger): void {
  type EventContext = { res: ServerResponse; req: IncomingMessage; path: string; oidc?: { client?: { clientId: string } } };
  provider.on('grant.success', (ctx: EventContext) => {
    results.set(ctx.res, { outcome: 'issued', clientId: ctx.oidc?.client?.clientId });
  });
  provider.on('grant.error', (ctx: EventContext, err: { error?: string; statusCode?: number }) => {
    results.set(ctx.res, { outcome: err.error ?? String(err.statusCode), clientId: ctx.oidc?.client?.clientId });
    if (err.statusCode === 401 && !presentedEndedSecret(ctx.req)) {
      throttle.failed(requestAddress(ctx.req, trustProxy)).catch((e: unknown) => log.error({ err: { message: String(e) } }, 'address throttle'));
    }
  });
  provider.on('server_error', (ctx: EventContext) => {
    if (ctx.path === OAUTH_ROUTES.token) results.set(ctx.res, { outcome: 'server_error', clientId: ctx.oidc?.client?.clientId });
  });
}

/** 429 slow_down for an address over its budget, before oidc-provider (and any database work), held back by the throttle's tarpit. */
async function answerThrottled(res: ServerResponse, retryAfterSeconds: number, throttle: AddressThrottle): Promise<void> {
  const close = await throttle.hold();
  if (res.destroyed) return;
  const { status, body } = throttledResponse(retryAfterSeconds);
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Retry-After': String(retryAfterSeconds),
    'Cache-Control': 'no-store',
    ...(close ? { Connection: 'close' } : {}),
  });
  res.end(json);
}

/** 404 for a path outside the issuer's: Keyport answers nothing there. */
function answerOutsideIssuerPath(res: ServerResponse, base: string): void {
  const json = JSON.stringify({ error: 'not_found', error_description: `Keyport is served under ${base}/ (the issuer's path)` });
  res.writeHead(404, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}

export function createRequestHandler(parts: AppParts): (req: IncomingMessage, res: ServerResponse) => void {
  const tokenResults = watchTokenEndpoint(parts.providers, parts.addressThrottle, parts.trustProxy, parts.log);
  const appHandler = createKeyportApp(parts).callback();
  const oauthEndpointsHandler = createOAuthEndpointsApp(parts).callback();
  const accessLog = new AccessLog(parts.log);
  const { providers } = parts;
  // An issuer with a path (https://example.com/auth): everything is served under
  // it. The path is stripped here, once, so that every app below routes as if
  // mounted at "/" (they put it back in what they send: src/http/public-base.ts).
  const base = issuerPath(parts.issuer);
  // RFC 8414 §3: the metadata of an issuer with a path lives at the host's root,
  // the well-known segment before that path; OpenID clients that follow the same
  // rule for openid-configuration (Spring Security does) get the same document.
  const insertedMetadata = new Set(base ? [`${METADATA_PATH}${base}`, `/.well-known/openid-configuration${base}`] : []);
  // Every handler below is a Koa callback: it answers its own errors and its
  // promise never rejects, so the dispatcher does not wait for it (`void`).
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const publicPath = q === -1 ? url : url.slice(0, q);
    let path = publicPath;
    let outside = false;
    if (base) {
      if (path === base || path.startsWith(`${base}/`)) {
        path = path.slice(base.length) || '/';
        req.url = q === -1 ? path : `${path}${url.slice(q)}`;
      } else if (insertedMetadata.has(path)) {
        path = METADATA_PATH;
      } else {
        outside = !ROOT_OPS_PATHS.has(path);
      }
    }
    const requestId = randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const tokenRequest = !outside && path === OAUTH_ROUTES.token;
    // One access log line per request, whichever app serves it: no query string,
    // no headers, no body (they may hold credentials).
    res.once('finish', () => {
      const ms = performance.now() - started;
      const token = tokenRequest ? tokenResults.get(res) : undefined;
      accessLog.write({ requestId, method: req.method ?? '', path: publicPath, status: res.statusCode, ms: Math.round(ms * 10) / 10, clientId: token?.clientId });
      if (tokenRequest) parts.metrics.tokenRequest(token?.outcome ?? (res.statusCode === 200 ? 'issued' : String(res.statusCode)), ms / 1000);
    });
    if (outside) {
      answerOutsideIssuerPath(res, base);
    } else if (tokenRequest) {
      res.setHeader('Pragma', 'no-cache'); // RFC 6749 §5.1; oidc-provider sets only Cache-Control
      const wait = parts.addressThrottle.retryAfter(requestAddress(req, parts.trustProxy));
      if (wait) {
        tokenResults.set(res, { outcome: 'slow_down', clientId: undefined });
        void answerThrottled(res, wait, parts.addressThrottle);
      } else {
        void providers.handler(req, res);
      }
    } else if (path === METADATA_PATH) {
      // RFC 8414 metadata: the same document as OpenID discovery.
      req.url = `/.well-known/openid-configuration${q === -1 ? '' : url.slice(q)}`;
      void providers.handler(req, res);
    } else if (OWN_OAUTH_PATHS.has(path)) {
      void oauthEndpointsHandler(req, res);
    } else if (path.startsWith('/oauth/') || path.startsWith('/.well-known/')) {
      // oidc-provider sets no Cache-Control on the JWKS; an error response drops this one.
      if (path === OAUTH_ROUTES.jwks && (req.method === 'GET' || req.method === 'HEAD')) res.setHeader('Cache-Control', JWKS_CACHE_CONTROL);
      void providers.handler(req, res);
    } else {
      void appHandler(req, res);
    }
  };
  // With traces off the server runs `handle` itself: nothing of tracing on the token path.
  return parts.tracing ? traceRequests(parts.tracing, handle) : handle;
}
