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
// - not listed in the issuer's signed revocation feed (on by default when the
//   issuer publishes one, as Keyport does): a disabled, regenerated or removed
//   keypair, a closed owner or a token revoked at /oauth/revoke is refused
//   within a stated bound (10 s by default) without asking about each token.
//   The feed is verified with the same JWKS; when no feed fresher than the
//   bound can be had, tokens are refused (503) unless `whenStale: 'accept'`;
// - with `introspection` configured: the issuer still says `active` (RFC 7662),
//   so a disabled or removed keypair, a closed owner or a revoked token is
//   refused at once rather than at `exp`. Introspection failures fail closed;
// - a DPoP-bound token (`cnf.jkt`, RFC 9449) comes with the `DPoP` scheme and a
//   proof signed by the bound key, for this request's method and URL, recent,
//   used once, and carrying the token's hash (`ath`); the same token presented
//   as Bearer is refused (a stolen bound token is useless without the key).
//
// Failures are `TokenError`s carrying the HTTP status and the RFC 6750 (or
// RFC 9449 §7.1, for DPoP) `WWW-Authenticate` challenge; the Koa and Express-style middlewares below
// answer with them. Nothing here depends on Koa or Express.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { calculateJwkThumbprint, createRemoteJWKSet, customFetch, EmbeddedJWK, errors, jwtVerify, type FlattenedJWSInput, type JWSHeaderParameters, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';

/** The one signing algorithm Keyport uses and a resource server accepts. */
export const ACCEPTED_ALGORITHMS = ['ES256'] as const;
const ACCESS_TOKEN_TYPE = 'at+jwt';
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'];
/** The JWT type of Keyport's revocation feed. */
const REVOCATION_FEED_TYPE = 'revocations+jwt';
/** The default bound: a revocation is seen within this. */
const DEFAULT_REVOCATION_BOUND_MS = 10_000;
/** At most one attempt to fetch the feed per this, also while the issuer is down. */
const FEED_RETRY_MS = 1000;
/** The DPoP proof algorithms accepted (asymmetric only: a proof's key is public), announced in `algs` (RFC 9449 §7.1). */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519'] as const;
const DPOP_PROOF_TYPE = 'dpop+jwt';

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
   * The issuer's signed revocation feed (Keyport's `keyport_revocation_feed_uri`):
   * tokens of a keypair disabled, regenerated (with token revocation) or
   * removed, of a closed account or environment, or revoked at /oauth/revoke
   * are refused without a request to Keyport per token. On by default when the
   * issuer's metadata names a feed; `false` turns it off (tokens are then
   * honoured until they expire, unless `introspection` is set).
   */
  revocationFeed?: false | {
    /** Defaults to `keyport_revocation_feed_uri` from the issuer's metadata. */
    uri?: string;
    /**
     * The bound, in ms (default 10 000): a token is never accepted on a feed
     * older than this (by the feed's `iat`), so a revocation is refused at
     * most this long after it was made (plus any difference between the
     * issuer's clock and this host's). The feed is fetched again, in the
     * background, once it is half as old. At least 2000.
     */
    maxStalenessMs?: number;
    /**
     * When no feed within the bound can be fetched (the issuer is down, or
     * answers with a feed that fails its signature check): `'refuse'` (default)
     * answers 503 temporarily_unavailable, keeping the bound; `'accept'` goes on
     * with the last feed it verified, so revocations made since are missed
     * until the issuer is back.
     */
    whenStale?: 'refuse' | 'accept';
  };
  /**
   * Tokens that passed the signature and claim checks are remembered (by their
   * exact text) until they expire, so that a client presenting the same token
   * on request after request costs a lookup, not an ES256 verification (about
   * 100 µs of CPU). Expiry, scopes and introspection are still checked on every
   * call. `max` tokens (default 10 000); `false` checks the signature every time.
   */
  verifiedTokens?: { max?: number } | false;
  /**
   * DPoP (RFC 9449). DPoP-bound tokens are always checked (and refused as
   * Bearer); these settings tune the checks. `required`: refuse tokens that are
   * not DPoP-bound. `proofMaxAgeSeconds`: how old a proof's `iat` may be
   * (default 60; `clockTolerance` applies to proofs dated ahead). `isFirstUse`:
   * the replay record, by default in this process's memory; an API served by
   * several processes passes a shared one (e.g. Redis SET NX with the expiry),
   * answering true the first time it sees `id` before `expiresAtMs`.
   */
  dpop?: {
    required?: boolean;
    proofMaxAgeSeconds?: number;
    isFirstUse?: (id: string, expiresAtMs: number) => boolean | Promise<boolean>;
  };
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
  /** The keypair's token generation when the token was issued (absent: 0). */
  gen?: number;
  /** On DPoP-bound tokens: the SHA-256 thumbprint of the key the client proves possession of (RFC 9449 §6.1). */
  cnf?: { jkt?: string };
}

/** What a request carries once its token has been accepted (`ctx.state.auth` in Koa, `req.auth` in Express). */
export interface VerifiedToken {
  token: string;
  claims: KeyportAccessTokenClaims;
  clientId: string;
  scopes: string[];
  /** 'DPoP' when the token is DPoP-bound and came with a valid proof of its key. */
  scheme: 'Bearer' | 'DPoP';
}

/** What a request presents, for DPoP: its headers, method and full URL (the one the client called). */
export interface PresentedRequest {
  authorization: string | string[] | undefined;
  dpop?: string | string[] | undefined;
  method?: string;
  /** The URL the client called (scheme, host, path; the query is ignored), compared with the proof's `htu`. */
  url?: string;
}

/**
 * RFC 6750's codes, plus `wrong_tenant`: a valid token of an account or
 * environment this API does not serve (403). Not `insufficient_scope`, which
 * would tell the client to ask for more scopes: no scope makes it acceptable.
 */
export type TokenErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'wrong_tenant' | 'temporarily_unavailable' | 'invalid_dpop_proof';

/** A refused request: its status, RFC 6750 error code and challenge. */
export class TokenError extends Error {
  override name = 'TokenError';
  readonly status: 400 | 401 | 403 | 503;
  /** Absent when the request carried no token at all (RFC 6750 §3.1). */
  readonly error: TokenErrorCode | undefined;
  /** For insufficient_scope: the scopes the request needs. */
  readonly scopes: string[] | undefined;
  /** The authentication scheme the challenge names: DPoP for refusals about DPoP (RFC 9449 §7.1), with the accepted `algs`. */
  readonly scheme: 'Bearer' | 'DPoP';

  constructor(status: 400 | 401 | 403 | 503, error: TokenErrorCode | undefined, message: string, options: { cause?: unknown; scopes?: string[]; scheme?: 'Bearer' | 'DPoP' } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.error = error;
    this.scopes = options.scopes;
    this.scheme = options.scheme ?? 'Bearer';
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
    if (this.scheme === 'DPoP') params.push(`algs=${quote(DPOP_ALGORITHMS.join(' '))}`);
    return params.length ? `${this.scheme} ${params.join(', ')}` : this.scheme;
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
  /** Validates a token presented as Bearer; resolves with its claims or rejects with a TokenError (a DPoP-bound token is refused: it needs its proof). */
  verify(token: string, options?: { scopes?: string[] }): Promise<VerifiedToken>;
  /** Takes the `Authorization` header value(s) of a request, requires a Bearer token, and verifies it. */
  authenticate(authorization: string | string[] | undefined, options?: { scopes?: string[] }): Promise<VerifiedToken>;
  /** A whole request: a Bearer token, or a DPoP-bound token with the DPoP scheme and its proof (RFC 9449 §7). What the middlewares call. */
  authenticateRequest(request: PresentedRequest, options?: { scopes?: string[] }): Promise<VerifiedToken>;
  readonly realm: string | undefined;
}

interface Metadata {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
  keyport_revocation_feed_uri?: string;
}

/** A verified revocation feed, indexed for lookups. */
interface RevocationIndex {
  issuedAtMs: number;
  /** Key id → tokens below this generation are revoked, or every token. */
  keypairs: Map<string, number | 'all'>;
  accounts: Set<string>;
  environments: Set<string>;
  tokens: Set<string>;
}

function stringSet(value: unknown, name: string): Set<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw new Error(`the revocation feed's ${name} is not a list of strings`);
  return new Set(value as string[]);
}

/** The feed's claims, checked for shape (a signed feed of another shape is refused like an unsigned one). */
function revocationIndex(payload: JWTPayload): RevocationIndex {
  const keypairs = new Map<string, number | 'all'>();
  const listed = payload.keypairs ?? {};
  if (typeof listed !== 'object' || listed === null || Array.isArray(listed)) throw new Error('the revocation feed\'s keypairs is not an object');
  for (const [keyId, entry] of Object.entries(listed as Record<string, unknown>)) {
    const { all, gen_below: below } = (typeof entry === 'object' && entry !== null ? entry : {}) as { all?: unknown; gen_below?: unknown };
    if (all === true) keypairs.set(keyId, 'all');
    else if (typeof below === 'number' && Number.isSafeInteger(below)) keypairs.set(keyId, below);
    else throw new Error(`the revocation feed's entry for keypair ${JSON.stringify(keyId)} is malformed`);
  }
  return {
    issuedAtMs: payload.iat! * 1000,
    keypairs,
    accounts: stringSet(payload.accounts, 'accounts'),
    environments: stringSet(payload.environments, 'environments'),
    tokens: stringSet(payload.tokens, 'tokens'),
  };
}

function listedAsRevoked(feed: RevocationIndex, claims: KeyportAccessTokenClaims): boolean {
  if (feed.tokens.has(claims.jti)) return true;
  const keypair = feed.keypairs.get(claims.client_id);
  const generation = typeof claims.gen === 'number' && Number.isSafeInteger(claims.gen) ? claims.gen : 0;
  if (keypair === 'all' || (keypair !== undefined && generation < keypair)) return true;
  return (typeof claims.acc === 'string' && feed.accounts.has(claims.acc)) || (typeof claims.env === 'string' && feed.environments.has(claims.env));
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
  const credential = presentedToken(authorization, false);
  return credential.token;
}

/**
 * The token and its scheme from an Authorization header: Bearer (RFC 6750 §2.1)
 * or, with `dpop`, DPoP (RFC 9449 §7.1). `dpopRequired` makes the challenge of a
 * request without a token name DPoP.
 */
function presentedToken(authorization: string | string[] | undefined, dpop: boolean, dpopRequired = false): { scheme: 'Bearer' | 'DPoP'; token: string } {
  if (Array.isArray(authorization)) {
    if (authorization.length > 1) throw new TokenError(400, 'invalid_request', 'more than one Authorization header');
    authorization = authorization[0];
  }
  const challenge = dpopRequired ? 'DPoP' : 'Bearer';
  if (!authorization) throw new TokenError(401, undefined, 'an access token is required', { scheme: challenge });
  const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  const scheme = match?.[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
  if (match && (scheme === 'Bearer' || dpop)) return { scheme, token: match[2]! };
  if (/^Bearer(\s|$)/i.test(authorization)) throw new TokenError(400, 'invalid_request', 'the Authorization header is not a valid Bearer credential');
  if (dpop && /^DPoP(\s|$)/i.test(authorization)) throw new TokenError(400, 'invalid_request', 'the Authorization header is not a valid DPoP credential', { scheme: 'DPoP' });
  throw new TokenError(401, undefined, `an access token is required (Authorization: ${challenge})`, { scheme: challenge });
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time equality of two base64url strings (thumbprints, hashes). */
function sameDigest(a: string, b: string): boolean {
  const left = sha256(a);
  const right = sha256(b);
  return timingSafeEqual(left, right);
}

/** A URL as the proof's `htu` is compared (RFC 9449 §4.3): normalized, without query or fragment; null if it is none. */
function htuForm(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const url = URL.parse(value);
  if (!url) return null;
  url.search = '';
  url.hash = '';
  return url.href;
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
  const feedOption = options.revocationFeed ?? {};
  const boundMs = feedOption === false ? 0 : feedOption.maxStalenessMs ?? DEFAULT_REVOCATION_BOUND_MS;
  const whenStale = feedOption === false ? 'refuse' : feedOption.whenStale ?? 'refuse';
  if (feedOption !== false) {
    if (typeof boundMs !== 'number' || !Number.isFinite(boundMs) || boundMs < 2000) throw new TypeError('createVerifier: revocationFeed.maxStalenessMs must be a number of milliseconds, at least 2000');
    if (whenStale !== 'refuse' && whenStale !== 'accept') throw new TypeError("createVerifier: revocationFeed.whenStale must be 'refuse' or 'accept'");
    if (feedOption.uri !== undefined && !URL.canParse(feedOption.uri)) throw new TypeError('createVerifier: revocationFeed.uri must be an absolute URL');
  }
  const dpopRequired = options.dpop?.required === true;
  const proofMaxAge = options.dpop?.proofMaxAgeSeconds ?? 60;
  if (!(proofMaxAge > 0)) throw new TypeError('createVerifier: dpop.proofMaxAgeSeconds must be a positive number of seconds');
  const isFirstUse = options.dpop?.isFirstUse ?? memoryReplayRecord();

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

  // The revocation feed: fetched when first needed, again in the background once
  // half as old as the bound, and waited for only when older than the bound.
  // `absent`: the issuer publishes none (an older Keyport, another issuer).
  let feed: RevocationIndex | undefined;
  let feedAbsent = feedOption === false;
  let feedFetch: Promise<void> | undefined;
  let lastFeedAttempt = -Infinity;
  let feedError: unknown;
  async function fetchFeed(): Promise<void> {
    lastFeedAttempt = Date.now();
    try {
      const uri = (feedOption !== false && feedOption.uri) || (await getMetadata()).keyport_revocation_feed_uri;
      if (!uri) {
        feedAbsent = true;
        return;
      }
      const response = await fetchImpl(uri, { headers: { accept: `application/${REVOCATION_FEED_TYPE}` }, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      if (response.status !== 200) throw new Error(`revocation feed: HTTP ${response.status}`);
      const { payload } = await jwtVerify((await response.text()).trim(), key, {
        issuer,
        typ: REVOCATION_FEED_TYPE,
        algorithms: [...ACCEPTED_ALGORITHMS],
        clockTolerance,
        requiredClaims: ['iat', 'exp'],
      });
      const next = revocationIndex(payload);
      // Never back to an older feed (a cache on the way may answer with one).
      if (!feed || next.issuedAtMs >= feed.issuedAtMs) feed = next;
      const ageMs = Date.now() - next.issuedAtMs;
      feedError = ageMs > boundMs ? new Error(`the revocation feed was ${Math.round(ageMs / 1000)} s old on arrival (a cache on the way, or this host's clock is ahead of the issuer's)`) : undefined;
    } catch (err) {
      feedError = err;
    }
  }
  async function checkRevocations(claims: KeyportAccessTokenClaims): Promise<void> {
    if (feedAbsent) return;
    const age = () => (feed ? Date.now() - feed.issuedAtMs : Infinity);
    if (age() > boundMs / 2 && !feedFetch && Date.now() - lastFeedAttempt >= FEED_RETRY_MS) {
      feedFetch = fetchFeed().finally(() => { feedFetch = undefined; });
    }
    if (age() > boundMs && feedFetch) await feedFetch;
    if (feedAbsent) return;
    if (age() > boundMs && whenStale === 'refuse') {
      throw new TokenError(503, 'temporarily_unavailable', 'the revocation feed of the token issuer cannot be fetched to check the access token', { cause: feedError });
    }
    if (feed && listedAsRevoked(feed, claims)) throw new TokenError(401, 'invalid_token', 'the access token has been revoked');
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

  /**
   * The token's binding against how it was presented (RFC 9449 §7.1, §7.2):
   * a bound token needs the DPoP scheme and a valid proof; an unbound one the
   * Bearer scheme (and, with dpop.required, is refused).
   */
  async function checkBinding(token: string, claims: KeyportAccessTokenClaims, presented: Presentation): Promise<void> {
    const jkt = claims.cnf?.jkt;
    if (presented.scheme === 'Bearer') {
      if (jkt !== undefined) throw new TokenError(401, 'invalid_token', 'the access token is DPoP-bound: present it with the DPoP scheme and a DPoP proof', { scheme: 'DPoP' });
      if (dpopRequired) throw new TokenError(401, 'invalid_token', 'this API accepts DPoP-bound access tokens only', { scheme: 'DPoP' });
      return;
    }
    if (typeof jkt !== 'string') throw new TokenError(401, 'invalid_token', 'the access token is not DPoP-bound: present it as a Bearer token');
    await checkProof(token, jkt, presented);
  }

  /** The proof checks of RFC 9449 §4.3, the ath of §7.1 and the binding of §6.1; the replay record last, so that a bad proof records nothing. */
  async function checkProof(token: string, jkt: string, presented: Presentation): Promise<void> {
    const invalid = (message: string, cause?: unknown) => new TokenError(401, 'invalid_dpop_proof', message, { scheme: 'DPoP', ...(cause === undefined ? {} : { cause }) });
    let proof = presented.proof;
    if (Array.isArray(proof)) {
      if (proof.length > 1) throw invalid('more than one DPoP header');
      proof = proof[0];
    }
    if (!proof) throw invalid('a DPoP-bound access token needs a DPoP proof (the DPoP header)');
    let payload: JWTPayload;
    let jwk: JWSHeaderParameters['jwk'];
    try {
      const verified = await jwtVerify(proof, EmbeddedJWK, { typ: DPOP_PROOF_TYPE, algorithms: [...DPOP_ALGORITHMS] });
      payload = verified.payload;
      jwk = verified.protectedHeader.jwk;
    } catch (err) {
      throw invalid(`the DPoP proof is not valid: typ dpop+jwt, one of the algs ${DPOP_ALGORITHMS.join(', ')}, a public jwk, its signature`, err);
    }
    if (typeof payload.jti !== 'string' || !payload.jti || payload.jti.length > 512) throw invalid('the DPoP proof lacks a jti');
    if (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat)) throw invalid('the DPoP proof lacks an iat');
    const now = Date.now() / 1000;
    if (payload.iat > now + clockTolerance) throw invalid('the DPoP proof is dated in the future (iat)');
    if (payload.iat < now - proofMaxAge) throw invalid('the DPoP proof is too old (iat)');
    if (!presented.method || payload.htm !== presented.method) throw invalid('the DPoP proof is for another HTTP method (htm)');
    const expectedUrl = htuForm(presented.url);
    if (!expectedUrl || htuForm(payload.htu) !== expectedUrl) throw invalid('the DPoP proof is for another URL (htu)');
    if (typeof payload.ath !== 'string' || !sameDigest(payload.ath, sha256(token).toString('base64url'))) throw invalid('the DPoP proof does not carry the hash of this access token (ath)');
    const thumbprint = await calculateJwkThumbprint(jwk!);
    if (!sameDigest(thumbprint, jkt)) throw invalid('the DPoP proof is signed by another key than the one the access token is bound to');
    let first: boolean;
    try {
      // Kept while the iat window could still accept the proof.
      first = await isFirstUse(`${thumbprint}.${payload.jti}`, (payload.iat + proofMaxAge + 1) * 1000);
    } catch (err) {
      throw new TokenError(503, 'temporarily_unavailable', 'the DPoP proof could not be checked for replay', { cause: err });
    }
    if (first !== true) throw invalid('the DPoP proof was already used');
  }

  async function verify(token: string, call: { scopes?: string[] } = {}, presented: Presentation = { scheme: 'Bearer' }): Promise<VerifiedToken> {
    const claims = await checkedClaims(token);
    // Before the tenant and introspection: a stolen bound token costs this API no request to Keyport.
    await checkBinding(token, claims, presented);
    // Before introspection: another tenant's token costs this API no request to Keyport.
    const served = servesTenant(claims);
    if (!(served === true || (served !== false && (await served)))) {
      throw new TokenError(403, 'wrong_tenant', 'the access token belongs to an account or environment this API does not serve');
    }
    await checkRevocations(claims);
    if (!(await isActive(token, claims))) throw new TokenError(401, 'invalid_token', 'the access token is no longer active');

    const scopes = (claims.scope ?? '').split(' ').filter(Boolean);
    const needed = [...new Set([...requiredScopes, ...(call.scopes ?? [])])];
    const granted = new Set(scopes);
    if (needed.some((scope) => !granted.has(scope))) {
      throw new TokenError(403, 'insufficient_scope', 'the access token lacks a required scope', { scopes: needed });
    }
    return { token, claims, clientId: claims.client_id, scopes, scheme: presented.scheme };
  }

  return {
    realm,
    verify: (token, call) => verify(token, call),
    async authenticate(authorization, call) {
      return verify(bearerToken(authorization), call);
    },
    async authenticateRequest(request, call) {
      const { scheme, token } = presentedToken(request.authorization, true, dpopRequired);
      return verify(token, call, { scheme, proof: request.dpop, method: request.method, url: request.url });
    },
  };
}

interface Presentation {
  scheme: 'Bearer' | 'DPoP';
  proof?: string | string[] | undefined;
  method?: string | undefined;
  url?: string | undefined;
}

/**
 * The default replay record of DPoP proofs: this process's memory. An entry
 * lives until its proof would be too old anyway; the bound keeps memory flat,
 * and only proofs signed by bound keys (checked before) ever get here.
 */
function memoryReplayRecord(): (id: string, expiresAtMs: number) => boolean {
  const seen = new LRUCache<string, true>({ max: 100_000 });
  return (id, expiresAtMs) => {
    if (seen.has(id)) return false;
    seen.set(id, true, { ttl: Math.max(1, expiresAtMs - Date.now()) });
    return true;
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
  /** For DPoP proofs (htm, htu): Koa's own (protocol and host honour app.proxy). */
  method?: string;
  protocol?: string;
  host?: string;
  path?: string;
}

export interface MiddlewareOptions {
  /** Scopes this route needs, on top of the verifier's `requiredScopes`. */
  scopes?: string[];
  /**
   * The origin clients call this API at (`https://api.example.com`), against
   * which DPoP proofs' `htu` is checked; by default the request's own (Koa's
   * ctx.protocol and ctx.host, which honour app.proxy; Express: the protocol and Host header).
   * Set it behind a proxy that changes the host or the scheme.
   */
  publicOrigin?: string;
}

function requestUrl(origin: string | undefined, path: string | undefined): string | undefined {
  return origin && path !== undefined ? `${origin.replace(/\/$/, '')}${path}` : undefined;
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
      auth = await verifier.authenticateRequest({
        authorization: ctx.get('authorization') || undefined,
        dpop: ctx.get('dpop') || undefined,
        ...(ctx.method ? { method: ctx.method } : {}),
        url: requestUrl(options.publicOrigin ?? (ctx.protocol && ctx.host ? `${ctx.protocol}://${ctx.host}` : undefined), ctx.path),
      }, options);
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
  /** For DPoP proofs (htm, htu): node:http's and Express's own. */
  method?: string;
  url?: string;
  originalUrl?: string;
  protocol?: string;
  socket?: object;
}

/** The URL an Express or node:http request was made to, without its query. */
function expressRequestUrl(req: ExpressLikeRequest, publicOrigin: string | undefined): string | undefined {
  const path = (req.originalUrl ?? req.url)?.split('?')[0];
  const host = req.headers.host;
  const origin = publicOrigin ?? (typeof host === 'string' ? `${req.protocol ?? ((req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http')}://${host}` : undefined);
  return requestUrl(origin, path);
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
    verifier.authenticateRequest({
      authorization: req.headers.authorization,
      dpop: req.headers.dpop,
      ...(req.method ? { method: req.method } : {}),
      url: expressRequestUrl(req, options.publicOrigin),
    }, options).then((auth) => {
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
