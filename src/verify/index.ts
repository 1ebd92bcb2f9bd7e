// Resource-server kit: validates Keyport access tokens in an API that trusts
// Keyport (`import { createVerifier, koaMiddleware } from 'keyport/verify'`),
// and Keyport's webhook signatures (verifyWebhook, at the end).
//
// One file on purpose, over 400 lines: the kit ships as one self-contained module
// (tsconfig.verify.json compiles this file alone, for projects that install
// Keyport), so it has no relative imports that the build would have to rewrite.
//
// A token is accepted only when all of these hold (RFC 9068, RFC 8725 §3):
// - signed with ES256 (the only algorithm accepted: `alg: none`, HS256 with the
//   public key, RS256… are refused before any key is looked up) by a key from
//   the issuer's JWKS, fetched from its RFC 8414 metadata, cached, and
//   refetched at most once per cooldown (an unknown `kid` cannot make this
//   process hammer the issuer);
// - `typ: at+jwt`, the exact issuer, one of the configured audiences, not
//   expired (with a small clock tolerance), and the claims Keyport always sets;
// - the token belongs to a tenant this API serves: its `acc` (account) or `env`
//   (environment) is one the API was configured with, or a callback says yes
//   (otherwise 403 wrong_tenant). Keyport issues the tokens of every account for
//   the same audiences, so audience and scope alone would let any account in;
//   the binding is required, and an API that really serves every account says
//   so with `tenants: 'any'`;
// - every required scope is in `scope` (otherwise 403 insufficient_scope);
// - with `introspection` configured: the issuer still says `active` (RFC 7662),
//   so a disabled or removed keypair, a closed owner or a revoked token is
//   refused at once rather than at `exp`. Introspection failures fail closed.
//
// Failures are `TokenError`s carrying the HTTP status and the RFC 6750
// `WWW-Authenticate` challenge; the Koa and Express-style middlewares below
// answer with them. Nothing here depends on Koa or Express.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type FlattenedJWSInput, type JWSHeaderParameters, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';

/** The one signing algorithm Keyport uses and a resource server accepts. */
export const ACCEPTED_ALGORITHMS = ['ES256'] as const;
const ACCESS_TOKEN_TYPE = 'at+jwt';
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'];

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/**
 * Whose tokens an API accepts. `accounts`: tokens of any keypair of these
 * accounts (their own keypairs and their environments'); `environments`:
 * tokens of these environments' keypairs only. A callback decides per token
 * (true accepts, anything else refuses; a throw or rejection is a 503, failing
 * closed, with the error as the TokenError's cause). `'any'`: every
 * account of the issuer, for an API that serves them all and separates them
 * itself (by `claims.acc`).
 */
export type TenantBinding =
  | { accounts?: readonly string[]; environments?: readonly string[] }
  | ((claims: KeyportAccessTokenClaims) => boolean | Promise<boolean>)
  | 'any';

export interface VerifierOptions {
  /** Keyport's issuer, exactly as in its tokens' `iss` (e.g. `https://auth.example.com`). */
  issuer: string;
  /** This API's identifier(s): the token's `aud` must contain one of them (Keyport's default is `https://api.example.com`). */
  audience: string | string[];
  /**
   * Required: the tenants (accounts or environments) whose tokens this API
   * accepts, e.g. `{ accounts: ['acc_…'] }`; a token of any other is refused
   * with 403 `wrong_tenant`. See TenantBinding.
   */
  tenants: TenantBinding;
  /** Scopes every request must carry; routes can require more (see `scopes` on the middlewares). */
  requiredScopes?: string[];
  /** Allowed clock skew for `exp`, `iat` and `nbf`, in seconds (default 5). */
  clockTolerance?: number;
  /** The JWKS URL; by default it is read from the issuer's metadata (`/.well-known/oauth-authorization-server`). */
  jwksUri?: string;
  /**
   * JWKS caching: keys are kept `cacheMaxAgeMs` (default 5 min, the lifetime
   * Keyport's JWKS response advertises) and refetched for an unknown `kid` at
   * most once per `cooldownMs` (default 30 s). Keyport publishes a new signing
   * key an hour before it signs, so a cached JWKS already holds it.
   */
  jwks?: { cooldownMs?: number; cacheMaxAgeMs?: number; timeoutMs?: number };
  /**
   * Ask Keyport's introspection endpoint about every token that passed the
   * offline checks, so that revocation takes effect immediately. The
   * credentials are a keypair of this API's own: Keyport answers for tokens of
   * the same account when that keypair has the `keyport:introspect` scope.
   */
  introspection?: {
    clientId: string;
    clientSecret: string;
    /** Defaults to `introspection_endpoint` from the issuer's metadata. */
    endpoint?: string;
    /** Remember an `active: true` answer this long (default 0: ask every time; revocation is then seen on the next request). */
    cacheMaxAgeMs?: number;
  };
  /**
   * Tokens that passed the signature and claim checks are remembered (by their
   * exact text) until they expire, so that a client presenting the same token
   * on request after request costs a lookup, not an ES256 verification (about
   * 100 µs of CPU). Expiry, scopes and introspection are still checked on every
   * call. `max` tokens (default 10 000); `false` checks the signature every time.
   */
  verifiedTokens?: { max?: number } | false;
  /** Sent as `realm` in `WWW-Authenticate` challenges. */
  realm?: string;
  /** Timeout for metadata and introspection requests in ms (default 5000). */
  timeoutMs?: number;
  /** A fetch implementation (proxies, tests); defaults to the global fetch. */
  fetch?: FetchLike;
}

/** The claims of a Keyport access token (RFC 9068 plus `acc` and `env`). */
export interface KeyportAccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
  /** The account that owns the keypair. */
  acc?: string;
  /** The environment that owns the keypair, for environment keypairs. */
  env?: string;
}

/** What a request carries once its token has been accepted (`ctx.state.auth` in Koa, `req.auth` in Express). */
export interface VerifiedToken {
  token: string;
  claims: KeyportAccessTokenClaims;
  clientId: string;
  scopes: string[];
}

/**
 * RFC 6750's codes, plus `wrong_tenant`: a valid token of an account or
 * environment this API does not serve (403). Not `insufficient_scope`, which
 * would tell the client to ask for more scopes: no scope makes it acceptable.
 */
export type TokenErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'wrong_tenant' | 'temporarily_unavailable';

/** A refused request: its status, RFC 6750 error code and challenge. */
export class TokenError extends Error {
  override name = 'TokenError';
  readonly status: 400 | 401 | 403 | 503;
  /** Absent when the request carried no token at all (RFC 6750 §3.1). */
  readonly error: TokenErrorCode | undefined;
  /** For insufficient_scope: the scopes the request needs. */
  readonly scopes: string[] | undefined;

  constructor(status: 400 | 401 | 403 | 503, error: TokenErrorCode | undefined, message: string, options: { cause?: unknown; scopes?: string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.error = error;
    this.scopes = options.scopes;
  }

  /** The `WWW-Authenticate` value, or undefined where none is due (503). */
  challenge(realm?: string): string | undefined {
    if (this.status === 503) return undefined;
    const params: string[] = [];
    if (realm) params.push(`realm=${quote(realm)}`);
    if (this.error) {
      params.push(`error=${quote(this.error)}`, `error_description=${quote(this.message)}`);
      if (this.scopes?.length) params.push(`scope=${quote(this.scopes.join(' '))}`);
    }
    return params.length ? `Bearer ${params.join(', ')}` : 'Bearer';
  }

  /** The JSON body of the refusal. */
  body(): { error: string; error_description: string } | { error: string; error_description: string; scope: string } {
    const error = this.error ?? 'unauthorized';
    return this.scopes?.length ? { error, error_description: this.message, scope: this.scopes.join(' ') } : { error, error_description: this.message };
  }
}

function quote(value: string): string {
  // RFC 6750 §3: error_description and scope exclude '"' and '\'; keep the header one line.
  return `"${value.replace(/["\\\r\n]/g, ' ')}"`;
}

export interface Verifier {
  /** Validates a token; resolves with its claims or rejects with a TokenError. */
  verify(token: string, options?: { scopes?: string[] }): Promise<VerifiedToken>;
  /** Takes the `Authorization` header value(s) of a request, requires a Bearer token, and verifies it. */
  authenticate(authorization: string | string[] | undefined, options?: { scopes?: string[] }): Promise<VerifiedToken>;
  readonly realm: string | undefined;
}

interface Metadata {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
}

/** RFC 8414 §3: the well-known path goes between the host and the issuer's path. */
function metadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

/** A jose failure that means "the issuer could not be asked", not "the token is bad". */
function isUnavailable(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true; // network errors (TypeError from fetch) and the like
  return err.code === 'ERR_JWKS_TIMEOUT' || err.code === 'ERR_JOSE_GENERIC' || err.code === 'ERR_JWKS_INVALID';
}

function describe(err: unknown): TokenError {
  if (err instanceof TokenError) return err;
  if (err instanceof errors.JWTExpired) return new TokenError(401, 'invalid_token', 'the access token has expired', { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    const what: Record<string, string> = {
      typ: 'the token is not an access token (typ must be at+jwt)',
      iss: 'the access token was issued by another issuer',
      aud: 'the access token is not meant for this API',
      nbf: 'the access token is not valid yet',
      iat: 'the access token has an invalid issue time',
    };
    return new TokenError(401, 'invalid_token', what[err.claim] ?? `the access token lacks a valid "${err.claim}" claim`, { cause: err });
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenError(401, 'invalid_token', 'the access token is not signed with an accepted algorithm', { cause: err });
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new TokenError(401, 'invalid_token', 'the access token signature is not valid', { cause: err });
  }
  if (err instanceof errors.JOSEError && !isUnavailable(err)) return new TokenError(401, 'invalid_token', 'the access token is malformed', { cause: err });
  return new TokenError(503, 'temporarily_unavailable', 'the token issuer cannot be reached to validate the access token', { cause: err });
}

function basicAuthorization(clientId: string, clientSecret: string): string {
  // RFC 6749 §2.3.1: form-encode each part before base64.
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** Bearer token from an Authorization header (RFC 6750 §2.1). */
export function bearerToken(authorization: string | string[] | undefined): string {
  if (Array.isArray(authorization)) {
    if (authorization.length > 1) throw new TokenError(400, 'invalid_request', 'more than one Authorization header');
    authorization = authorization[0];
  }
  if (!authorization) throw new TokenError(401, undefined, 'an access token is required');
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  if (match) return match[1]!;
  if (/^Bearer(\s|$)/i.test(authorization)) throw new TokenError(400, 'invalid_request', 'the Authorization header is not a valid Bearer credential');
  throw new TokenError(401, undefined, 'an access token is required (Authorization: Bearer)');
}

const TENANT_ID = { accounts: /^acc_[A-Za-z0-9]+$/, environments: /^env_[A-Za-z0-9]+$/ } as const;

/** Checks the binding once, at construction, and returns the per-token test. */
function tenantCheck(binding: TenantBinding | undefined): (claims: KeyportAccessTokenClaims) => boolean | Promise<boolean> {
  const usage = "createVerifier: tenants is required: the accounts or environments whose tokens this API accepts ({ accounts: ['acc_…'] } or { environments: ['env_…'] }), a function of the token's claims, or 'any' for an API that serves every account of the issuer";
  if (binding === 'any') return () => true;
  if (typeof binding === 'function') {
    return async (claims) => {
      try {
        return (await binding(claims)) === true;
      } catch (err) {
        // Fail closed, like an unreachable introspection endpoint: the cause says what went wrong.
        throw new TokenError(503, 'temporarily_unavailable', 'the tenant of the access token could not be checked', { cause: err });
      }
    };
  }
  if (typeof binding !== 'object' || binding === null || Array.isArray(binding)) throw new TypeError(usage);
  const unknown = Object.keys(binding).filter((key) => key !== 'accounts' && key !== 'environments');
  if (unknown.length) throw new TypeError(`createVerifier: tenants takes accounts and environments, not ${unknown.join(', ')}`);
  const sets = { accounts: new Set<string>(), environments: new Set<string>() };
  for (const kind of ['accounts', 'environments'] as const) {
    const ids = binding[kind] ?? [];
    if (!Array.isArray(ids)) throw new TypeError(`createVerifier: tenants.${kind} must be an array of ids`);
    for (const id of ids) {
      if (typeof id !== 'string' || !TENANT_ID[kind].test(id)) {
        throw new TypeError(`createVerifier: tenants.${kind} holds ${JSON.stringify(id)}, not ${kind === 'accounts' ? 'an account id (acc_…)' : 'an environment id (env_…)'}`);
      }
      sets[kind].add(id);
    }
  }
  if (!sets.accounts.size && !sets.environments.size) throw new TypeError(usage);
  const { accounts, environments } = sets;
  return (claims) => (typeof claims.acc === 'string' && accounts.has(claims.acc)) || (typeof claims.env === 'string' && environments.has(claims.env));
}

export function createVerifier(options: VerifierOptions): Verifier {
  const { issuer, audience, realm } = options;
  if (!issuer) throw new TypeError('createVerifier: issuer is required');
  if (!audience || (Array.isArray(audience) && audience.length === 0)) throw new TypeError('createVerifier: audience is required');
  if (!URL.canParse(issuer)) throw new TypeError(`createVerifier: issuer must be an absolute URL, got ${JSON.stringify(issuer)}`);
  const servesTenant = tenantCheck(options.tenants);
  const requiredScopes = options.requiredScopes ?? [];
  const clockTolerance = options.clockTolerance ?? 5;
  const timeoutMs = options.timeoutMs ?? 5000;
  const cooldownMs = options.jwks?.cooldownMs ?? 30_000;
  const fetchImpl: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const introspection = options.introspection;

  // Issuer metadata, fetched once when first needed; a failure is remembered
  // for the cooldown so that a down issuer is not asked on every request.
  let metadata: Promise<Metadata> | undefined;
  let metadataFailure: { at: number; error: unknown } | undefined;
  async function loadMetadata(): Promise<Metadata> {
    const response = await fetchImpl(metadataUrl(issuer), { headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    if (response.status !== 200) throw new Error(`issuer metadata: HTTP ${response.status}`);
    const document = await response.json() as Metadata;
    if (document.issuer !== issuer) throw new Error(`issuer metadata names issuer ${JSON.stringify(document.issuer)}, expected ${JSON.stringify(issuer)}`);
    return document;
  }
  function getMetadata(): Promise<Metadata> {
    if (metadataFailure && Date.now() - metadataFailure.at < cooldownMs) return Promise.reject(metadataFailure.error);
    metadata ??= loadMetadata().then((document) => {
      metadataFailure = undefined;
      return document;
    }, (error: unknown) => {
      metadata = undefined;
      metadataFailure = { at: Date.now(), error };
      throw error;
    });
    return metadata;
  }

  // The remote JWKS: jose caches the keys and refetches for an unknown kid at
  // most once per cooldown. A failed fetch is also remembered for the
  // cooldown (jose would otherwise retry on every request while the issuer is down).
  let remote: ReturnType<typeof createRemoteJWKSet> | undefined;
  let jwksFailure: { at: number; error: unknown } | undefined;
  /** The kids of the JWKS as last fetched (undefined before the first fetch). */
  let publishedKids: Set<string | undefined> | undefined;
  async function fetchJwks(url: string, init: RequestInit): Promise<Response> {
    const response = await fetchImpl(url, init);
    if (response.ok) {
      try {
        const body = await response.clone().json() as { keys?: { kid?: string }[] };
        if (Array.isArray(body.keys)) publishedKids = new Set(body.keys.map((jwk) => jwk?.kid));
      } catch {
        // jose reads the same body and reports what is wrong with it.
      }
    }
    return response;
  }
  /**
   * Whether a key is still in the issuer's JWKS: fetched again first when the
   * cached copy is older than its max age (as jose does for a key lookup). An
   * unreachable issuer leaves the last answer standing.
   */
  function stillPublished(kid: string | undefined): boolean | Promise<boolean> {
    const stale = remote !== undefined && !remote.fresh && !(jwksFailure && Date.now() - jwksFailure.at < cooldownMs);
    if (!stale) return publishedKids === undefined || publishedKids.has(kid);
    return remote!.reload().then(() => { jwksFailure = undefined; }, (err: unknown) => {
      if (isUnavailable(err)) jwksFailure = { at: Date.now(), error: err };
    }).then(() => publishedKids === undefined || publishedKids.has(kid));
  }
  async function key(header: JWSHeaderParameters, token: FlattenedJWSInput) {
    if (!remote) {
      const uri = options.jwksUri ?? (await getMetadata()).jwks_uri;
      if (!uri) throw new Error('the issuer metadata has no jwks_uri');
      remote ??= createRemoteJWKSet(new URL(uri), {
        cooldownDuration: cooldownMs,
        cacheMaxAge: options.jwks?.cacheMaxAgeMs ?? 300_000,
        timeoutDuration: options.jwks?.timeoutMs ?? timeoutMs,
        [customFetch]: fetchJwks,
      });
    }
    if (jwksFailure && Date.now() - jwksFailure.at < cooldownMs) throw jwksFailure.error;
    try {
      const found = await remote(header, token);
      jwksFailure = undefined;
      return found;
    } catch (err) {
      if (isUnavailable(err)) jwksFailure = { at: Date.now(), error: err };
      throw err;
    }
  }

  const activeCache = introspection?.cacheMaxAgeMs ? new LRUCache<string, true>({ max: 10_000, ttl: introspection.cacheMaxAgeMs }) : undefined;
  async function isActive(token: string, claims: KeyportAccessTokenClaims): Promise<boolean> {
    if (!introspection) return true;
    if (activeCache?.get(claims.jti)) return true;
    let response: Response;
    try {
      const endpoint = introspection.endpoint ?? (await getMetadata()).introspection_endpoint;
      if (!endpoint) throw new Error('the issuer metadata has no introspection_endpoint');
      response = await fetchImpl(endpoint, {
        method: 'POST',
        headers: {
          authorization: basicAuthorization(introspection.clientId, introspection.clientSecret),
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new TokenError(503, 'temporarily_unavailable', 'the token issuer cannot be reached to check the access token', { cause: err });
    }
    // Fail closed: wrong introspection credentials are this API's problem, never a reason to accept.
    if (response.status !== 200) {
      throw new TokenError(503, 'temporarily_unavailable', 'the token issuer refused to check the access token', { cause: new Error(`introspection: HTTP ${response.status} ${await response.text().catch(() => '')}`) });
    }
    const answer = await response.json() as { active?: unknown; jti?: unknown };
    const active = answer.active === true && (answer.jti === undefined || answer.jti === claims.jti);
    if (active && activeCache) {
      const remainingMs = claims.exp * 1000 - Date.now();
      if (remainingMs > 0) activeCache.set(claims.jti, true, { ttl: Math.min(introspection.cacheMaxAgeMs!, remainingMs) });
    }
    return active;
  }

  // Everything jwtVerify checks but expiry depends only on the token's text,
  // this verifier's settings and the signing key, so a token that passed once
  // passes again until it expires, as long as its key is published: a revoked
  // key takes its tokens with it (also one that whoever stole the key made to
  // last for years).
  const verified = options.verifiedTokens === false ? undefined : new LRUCache<string, { claims: KeyportAccessTokenClaims; kid: string | undefined }>({ max: options.verifiedTokens?.max ?? 10_000 });

  async function checkedClaims(token: string): Promise<KeyportAccessTokenClaims> {
    const known = verified?.get(token);
    if (known) {
      if (known.claims.exp * 1000 <= Date.now() - clockTolerance * 1000) {
        verified!.delete(token);
        throw new TokenError(401, 'invalid_token', 'the access token has expired');
      }
      // No await unless the JWKS is due to be fetched again: the common case stays a plain lookup.
      const published = stillPublished(known.kid);
      if (published === true || (published !== false && await published)) return known.claims;
      verified!.delete(token); // and checked in full below, which refuses it
    }
    let claims: KeyportAccessTokenClaims;
    let kid: string | undefined;
    try {
      const { payload, protectedHeader } = await jwtVerify(token, key, {
        issuer,
        audience,
        typ: ACCESS_TOKEN_TYPE,
        algorithms: [...ACCEPTED_ALGORITHMS],
        clockTolerance,
        requiredClaims: REQUIRED_CLAIMS,
      });
      claims = payload as KeyportAccessTokenClaims;
      kid = protectedHeader.kid;
    } catch (err) {
      throw describe(err);
    }
    if (typeof claims.client_id !== 'string' || typeof claims.jti !== 'string' || (claims.scope !== undefined && typeof claims.scope !== 'string')) {
      throw new TokenError(401, 'invalid_token', 'the access token is malformed');
    }
    verified?.set(token, { claims, kid });
    return claims;
  }

  async function verify(token: string, call: { scopes?: string[] } = {}): Promise<VerifiedToken> {
    const claims = await checkedClaims(token);
    // Before introspection: another tenant's token costs this API no request to Keyport.
    const served = servesTenant(claims);
    if (!(served === true || (served !== false && (await served)))) {
      throw new TokenError(403, 'wrong_tenant', 'the access token belongs to an account or environment this API does not serve');
    }
    if (!(await isActive(token, claims))) throw new TokenError(401, 'invalid_token', 'the access token is no longer active');

    const scopes = (claims.scope ?? '').split(' ').filter(Boolean);
    const needed = [...new Set([...requiredScopes, ...(call.scopes ?? [])])];
    const granted = new Set(scopes);
    if (needed.some((scope) => !granted.has(scope))) {
      throw new TokenError(403, 'insufficient_scope', 'the access token lacks a required scope', { scopes: needed });
    }
    return { token, claims, clientId: claims.client_id, scopes };
  }

  return {
    realm,
    verify,
    async authenticate(authorization, call) {
      return verify(bearerToken(authorization), call);
    },
  };
}

// ---- Koa ----------------------------------------------------------------

/** The parts of a Koa context used here (Koa's Context satisfies it). */
export interface KoaLikeContext {
  get(field: string): string;
  set(field: string, value: string): void;
  status: number;
  body: unknown;
  state: Record<string, unknown>;
}

export interface MiddlewareOptions {
  /** Scopes this route needs, on top of the verifier's `requiredScopes`. */
  scopes?: string[];
}

function refusal(err: TokenError, realm: string | undefined): { status: number; headers: Record<string, string>; body: object } {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  const challenge = err.challenge(realm);
  if (challenge) headers['www-authenticate'] = challenge;
  return { status: err.status, headers, body: err.body() };
}

/** Koa middleware: puts the accepted token in `ctx.state.auth` or answers 400/401/403/503. */
export function koaMiddleware(verifier: Verifier, options: MiddlewareOptions = {}) {
  return async function keyportAuth(ctx: KoaLikeContext, next: () => Promise<unknown>): Promise<void> {
    let auth: VerifiedToken;
    try {
      auth = await verifier.authenticate(ctx.get('authorization') || undefined, options);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      const { status, headers, body } = refusal(err, verifier.realm);
      for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
      ctx.status = status;
      ctx.body = body;
      return;
    }
    ctx.state.auth = auth;
    await next();
  };
}

// ---- Express (and plain node:http) --------------------------------------

/** The parts of an Express (or node:http) request used here. */
export interface ExpressLikeRequest {
  headers: Record<string, string | string[] | undefined>;
  auth?: VerifiedToken;
}

/** The parts of an Express (or node:http) response used here. */
export interface ExpressLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

export type NextFunction = (err?: unknown) => void;

/** Express-style middleware: puts the accepted token in `req.auth` and calls `next()`, or answers 400/401/403/503. */
export function expressMiddleware(verifier: Verifier, options: MiddlewareOptions = {}) {
  return function keyportAuth(req: ExpressLikeRequest, res: ExpressLikeResponse, next: NextFunction): void {
    verifier.authenticate(req.headers.authorization, options).then((auth) => {
      req.auth = auth;
      next();
    }, (err: unknown) => {
      if (!(err instanceof TokenError)) return next(err);
      const { status, headers, body } = refusal(err, verifier.realm);
      res.statusCode = status;
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(body));
    });
  };
}

// ---- webhooks -----------------------------------------------------------------
//
// Keyport signs every webhook request the way Stripe does:
//   Keyport-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256(secret, "<t>.<raw body>")>
// verifyWebhook() checks it against the raw body (before any JSON parsing: a
// re-serialised body no longer matches), in constant time, and refuses a
// timestamp further than the tolerance (5 minutes by default) from this
// machine's clock, so that a captured request cannot be replayed later.
// Deliveries are at least once: deduplicate on the event's `id`.

/** How far a webhook's signed timestamp may be from the receiver's clock, by default (seconds). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export type WebhookErrorCode = 'missing_signature' | 'malformed_signature' | 'timestamp_outside_tolerance' | 'signature_mismatch' | 'invalid_payload';

export class WebhookSignatureError extends Error {
  override name = 'WebhookSignatureError';
  readonly code: WebhookErrorCode;

  constructor(code: WebhookErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A Keyport webhook event, as its JSON body holds it. */
export interface KeyportWebhookEvent {
  /** The event's id: the same in every delivery of the event (retries, redeliveries). */
  id: string;
  /** keypair.created, keypair.rotated, … */
  type: string;
  createdAt: string;
  accountId: string;
  environmentId: string | null;
  keypairId: string | null;
  actor: string;
  data: Record<string, unknown>;
}

export interface VerifyWebhookOptions {
  /** The raw request body, exactly as received. */
  body: string | Uint8Array;
  /** The Keyport-Signature header. */
  signature: string | string[] | null | undefined;
  /** The endpoint's signing secret; several while you change secrets (any one may match). */
  secret: string | string[];
  /** Default WEBHOOK_TOLERANCE_SECONDS. */
  toleranceSeconds?: number;
  /** The receiver's time (default now). */
  now?: Date;
}

/** Checks a webhook's signature and timestamp; returns the parsed event, or throws a WebhookSignatureError. */
export function verifyWebhook(options: VerifyWebhookOptions): KeyportWebhookEvent {
  const header = Array.isArray(options.signature) ? options.signature.join(',') : options.signature;
  if (!header) throw new WebhookSignatureError('missing_signature', 'the Keyport-Signature header is missing');
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2) as [string, string | undefined];
    if (key === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && value && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === null || !signatures.length) throw new WebhookSignatureError('malformed_signature', 'the Keyport-Signature header holds no timestamp (t=) or no v1 signature');
  const tolerance = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookSignatureError('timestamp_outside_tolerance', `the signature's timestamp is more than ${tolerance} s from this machine's clock (a replay, or a clock out of sync)`);
  }
  const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : Buffer.from(options.body);
  const secrets = Array.isArray(options.secret) ? options.secret : [options.secret];
  let matched = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${timestamp}.`, 'utf8').update(body).digest();
    // Every candidate is compared (no early exit), each in constant time.
    for (const signature of signatures) matched = timingSafeEqual(expected, Buffer.from(signature, 'hex')) || matched;
  }
  if (!matched) throw new WebhookSignatureError('signature_mismatch', 'the signature does not match the body and the endpoint\'s secret');
  try {
    return JSON.parse(body.toString('utf8')) as KeyportWebhookEvent;
  } catch {
    throw new WebhookSignatureError('invalid_payload', 'the body is not JSON');
  }
}
