// oidc-provider, set up as a client-credentials-only authorization server whose
// clients are Keyport keypairs. Two library behaviours are replaced here
// (docs/architecture.md, A token request): the client secret comparison (keypairs store HMACs, not
// secrets) and the client credentials grant (an unknown or unallowed scope is
// invalid_scope, not silently dropped; no scope means all of the keypair's).
import { randomBytes } from 'node:crypto';
import Provider, { errors, type Adapter, type AdapterPayload, type Configuration, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { KeyportConfig } from '../config.ts';
import type { KeypairDoc } from '../db/models/keypair.ts';
import type { Domain } from '../domain/index.ts';
import { currentTokenGeneration, type AuthenticationFailure, type AuthenticationResult } from '../domain/keypairs.ts';
import { httpFailureOf } from '../http/error-statuses.ts';
import { requestAddress } from './address-throttle.ts';
import { presentedSecret, spendUnknownKey } from './client-auth.ts';
import { DPOP_FEATURE, DPOP_SIGNING_ALGS, dpopBinding } from './dpop.ts';
import { ASSERTION_CLOCK_SKEW_SECONDS, assertionPresented, installKeyAuthentication, keyAssertionRules, keyClientMetadata } from './key-auth.ts';
import { federatedAssertionOf, installFederatedDetection, type FederatedAssertion, type FederatedTokenChecker } from './federated-auth.ts';
import { ASSERTION_ALGS } from '../domain/public-keys.ts';
import { UNAVAILABLE_ERROR } from './oauth-error.ts';
import { SIGNING_ALG, type SigningMaterial } from './signing-keys.ts';

export const OAUTH_ROUTES = {
  token: '/oauth/token',
  jwks: '/oauth/jwks',
  introspection: '/oauth/introspect',
  revocation: '/oauth/revoke',
  /** The signed revocation feed for offline validators (src/oauth/revocation-feed.ts). */
  revocation_feed: '/oauth/revocations',
  authorization: '/oauth/authorize',
  userinfo: '/oauth/userinfo',
  end_session: '/oauth/session/end',
  pushed_authorization_request: '/oauth/par',
} as const;

/** Client metadata fields that carry a keypair's owner into token claims. */
const ACCOUNT_FIELD = 'keyport_account_id';
const ENVIRONMENT_FIELD = 'keyport_environment_id';
/** The keypair's token generation, copied into every token as `gen` (KeypairDoc.tokenGeneration). */
const GENERATION_FIELD = 'keyport_token_generation';
/** The keypair's expiry (epoch seconds; absent: none): its tokens expire no later (clientCredentialsGrant). */
const EXPIRES_AT_FIELD = 'keyport_expires_at';

/** Per-request memo: the keypair record read by Client.find, reused by the secret and key checks. */
const loadedKeypair = new WeakMap<object, KeypairDoc | null>();
const recordOfRequest = (ctx: object) => loadedKeypair.get(ctx);

/**
 * Token requests that presented an ended secret. Their 401 is not charged to the
 * address's failure budget (src/app.ts): it is no guess, costs no database
 * write, and must not lock out an updated client behind the same address.
 */
const endedSecretRequests = new WeakSet<object>();

/** True when this token request presented an ended secret (see endedSecretRequests). */
export function presentedEndedSecret(req: object): boolean {
  return endedSecretRequests.has(req);
}

export interface ProviderHooks {
  onAuthenticationFailure?(reason: AuthenticationFailure, keyId: string): void;
}

function keypairClientMetadata(doc: KeypairDoc): AdapterPayload {
  return {
    client_id: doc._id,
    // oidc-provider requires a secret for secret-based auth methods; the real check
    // is compareClientSecret below, against the stored HMACs. This value is never compared.
    client_secret: 'keyport-verifies-hashed-secrets',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    // oidc-provider rejects an empty scope string: a keypair without scopes has none.
    ...(doc.scopes.length ? { scope: doc.scopes.join(' ') } : {}),
    [ACCOUNT_FIELD]: doc.accountId,
    ...(doc.environmentId ? { [ENVIRONMENT_FIELD]: doc.environmentId } : {}),
    [GENERATION_FIELD]: currentTokenGeneration(doc),
    ...(doc.expiresAt ? { [EXPIRES_AT_FIELD]: Math.floor(doc.expiresAt.getTime() / 1000) } : {}),
    // RFC 9449 §5.2: a token request of this client without a DPoP proof is refused.
    ...(doc.dpopRequired ? { dpop_bound_access_tokens: true } : {}),
  };
}

/**
 * The keypair record a request's client id names, from the domain's cache. It is
 * remembered for the request, so that the secret check reads nothing again. An
 * unknown key id gets the same HMAC work as a wrong secret (docs/architecture.md, Security model), since
 * oidc-provider answers "client not found" without comparing any secret.
 */
async function loadKeypairForRequest(domain: Domain, id: string, hooks: ProviderHooks | undefined): Promise<KeypairDoc | null> {
  const doc = await domain.keypairAuth.findForAuthentication(id);
  const ctx = Provider.ctx;
  if (ctx) loadedKeypair.set(ctx, doc);
  if (!doc) {
    const presented = ctx ? presentedSecret(ctx) : undefined;
    if (presented !== undefined) await spendUnknownKey(domain, id, presented);
    // oidc-provider never asks for a secret check here: counted as the failure it is.
    hooks?.onAuthenticationFailure?.('unknown_key', id);
  }
  return doc;
}

/**
 * What oidc-provider answers for an unavailable database: its error handler
 * sends an error's own status and, for an exposed one, its OAuth JSON body
 * (anything else becomes a 500 server_error).
 */
class TemporarilyUnavailable extends errors.OIDCProviderError {
  constructor(status: number, description: string) {
    super(status, UNAVAILABLE_ERROR);
    this.error_description = description;
    this.expose = true;
  }
}

/**
 * Rethrows an error of Keyport's code inside oidc-provider (finding the client,
 * checking its secret): an unavailable database as 503 temporarily_unavailable
 * with Retry-After, anything else as it is. Only on the error path: a token
 * request that works pays nothing for it.
 */
function rethrowForProvider(err: unknown): never {
  const failure = httpFailureOf(err);
  if (failure?.kind !== 'database_unavailable') throw err;
  Provider.ctx?.set('Retry-After', String(failure.retryAfterSeconds));
  throw new TemporarilyUnavailable(failure.status, failure.message);
}

/**
 * Storage for oidc-provider: nothing. Clients are keypairs, found by the
 * Client.find below rather than through an adapter; client credentials tokens
 * are self-contained JWTs, never stored.
 */
function adapterFactory() {
  return (): Adapter => ({
    async find() { return undefined; },
    async upsert() { /* nothing else is persisted: client credentials tokens are self-contained JWTs */ },
    async findByUserCode() { return undefined; },
    async findByUid() { return undefined; },
    async consume() {},
    async destroy() {},
    async revokeByGrantId() {},
  });
}

/**
 * Clients are keypairs. oidc-provider would load them through the adapter, build
 * a Client (schema validation of its metadata) for each and keep only 100 of them: with more keypairs in use
 * than that, most token requests would build one again. Keyport keeps the built
 * Client with its keypair record instead: built once per record, and dropped
 * with it when the keypair changes (the domain replaces the record) or leaves
 * the domain's cache.
 */
function buildClientsOncePerRecord(provider: Provider, domain: Domain, hooks: ProviderHooks | undefined, federation: FederatedTokenChecker | undefined): void {
  type Client = InstanceType<Provider['Client']>;
  // The typings declare no constructor arguments; oidc-provider's own add_client.js passes the metadata.
  const ClientClass = provider.Client as unknown as new (metadata: AdapterPayload) => Client;
  const clientOfRecord = new WeakMap<KeypairDoc, Client>();
  // A keypair with public keys is a second client too, registered for private_key_jwt
  // (oidc-provider holds one method per client): used for the requests that carry an assertion.
  const keyClientOfRecord = new WeakMap<KeypairDoc, Client>();
  // A keypair authenticated by a federated token here, before oidc-provider's own check, is a
  // third: one oidc-provider asks nothing more of (its method reads 'none'; the metadata stays valid).
  const federatedClientOfRecord = new WeakMap<KeypairDoc, Client>();
  provider.Client.find = async (id: string) => {
    if (typeof id !== 'string' || !id.length) return undefined;
    let doc: KeypairDoc | null;
    try {
      doc = await loadKeypairForRequest(domain, id, hooks);
    } catch (err) {
      rethrowForProvider(err);
    }
    if (!doc) return undefined;
    const federated = federation && federatedAssertionOf(Provider.ctx);
    if (federated) {
      await authenticateFederated(domain, federation, doc, federated, hooks);
      let federatedClient = federatedClientOfRecord.get(doc);
      if (!federatedClient) {
        federatedClient = new ClientClass(keypairClientMetadata(doc));
        Object.defineProperty(federatedClient, 'clientAuthMethod', { value: 'none' });
        federatedClientOfRecord.set(doc, federatedClient);
      }
      return federatedClient;
    }
    if (doc.publicKeys?.length && assertionPresented()) {
      let keyClient = keyClientOfRecord.get(doc);
      if (!keyClient) {
        keyClient = new ClientClass(keyClientMetadata(doc, keypairClientMetadata(doc)));
        keyClientOfRecord.set(doc, keyClient);
      }
      return keyClient;
    }
    let client = clientOfRecord.get(doc);
    if (!client) {
      client = new ClientClass(keypairClientMetadata(doc));
      clientOfRecord.set(doc, client);
    }
    return client;
  };
}

/**
 * A federated token (federated-auth.ts) for `doc`: checked against its trust
 * rules, then the keypair's own state. A failure is invalid_client and counts
 * toward the keypair's lockout like a failed private_key_jwt assertion, except
 * when the issuer's keys could not be fetched: no guess, and the client can only
 * retry (its error_description says so).
 */
async function authenticateFederated(domain: Domain, federation: FederatedTokenChecker, doc: KeypairDoc, assertion: FederatedAssertion, hooks: ProviderHooks | undefined): Promise<void> {
  let result: AuthenticationResult;
  try {
    const outcome = await federation.check(doc, assertion);
    if (!outcome.ok) {
      if (outcome.reason !== 'issuer_unavailable') domain.keypairAuth.assertionFailed(doc);
      hooks?.onAuthenticationFailure?.(outcome.reason, doc._id);
      const refused = new errors.InvalidClientAuth(outcome.detail);
      if (outcome.reason === 'issuer_unavailable') refused.error_description = 'the issuer\'s signing keys could not be fetched; try again later';
      throw refused;
    }
    result = await domain.keypairAuth.authenticateWithTrustRule(doc, outcome.ruleId);
  } catch (err) {
    rethrowForProvider(err);
  }
  if (!result.ok) {
    hooks?.onAuthenticationFailure?.(result.reason, doc._id);
    throw new errors.InvalidClientAuth(`keypair refused: ${result.reason}`);
  }
}

/** `signingKid`: the key that signs; the keystore also holds the published keys that do not. */
export function resourceServerInfo(config: KeyportConfig, resource: string, signingKid: string): ResourceServer {
  return {
    scope: config.scopes.map((s) => s.name).join(' '),
    audience: resource,
    accessTokenTTL: config.tokens.ttlSeconds,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: SIGNING_ALG, kid: signingKid } },
  };
}

/**
 * oidc-provider with the given signing keys: it signs with `signingKid` and
 * publishes all of them at /oauth/jwks. Its keys are fixed once built: the
 * SigningKeyRing (signing-keys.ts) builds another when they change.
 */
export function createProvider(options: { issuer: string; config: KeyportConfig; domain: Domain; signingKeys: SigningMaterial; hooks?: ProviderHooks; federation?: FederatedTokenChecker }): Provider {
  const { issuer, config, domain, signingKeys, hooks, federation } = options;
  const { tokens } = config;

  const configuration: Configuration = {
    adapter: adapterFactory(),
    clients: [],
    jwks: { keys: signingKeys.privateJwks },
    routes: {
      authorization: OAUTH_ROUTES.authorization,
      token: OAUTH_ROUTES.token,
      jwks: OAUTH_ROUTES.jwks,
      userinfo: OAUTH_ROUTES.userinfo,
      end_session: OAUTH_ROUTES.end_session,
      pushed_authorization_request: OAUTH_ROUTES.pushed_authorization_request,
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    // Client assertions (private_key_jwt): asymmetric algorithms only, never `none`, never HMAC.
    enabledJWA: { clientAuthSigningAlgValues: [...ASSERTION_ALGS], dPoPSigningAlgValues: [...DPOP_SIGNING_ALGS] },
    clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
    assertJwtClientAuthClaimsAndHeader: keyAssertionRules(domain, recordOfRequest, hooks, rethrowForProvider),
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: SIGNING_ALG,
    },
    extraClientMetadata: { properties: [ACCOUNT_FIELD, ENVIRONMENT_FIELD, GENERATION_FIELD, EXPIRES_AT_FIELD] },
    scopes: config.scopes.map((s) => s.name),
    claims: { openid: ['sub'] },
    responseTypes: ['none'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Keyport answers introspection and revocation itself (src/oauth/token-endpoints.ts):
      // oidc-provider refuses to introspect JWT access tokens.
      introspection: { enabled: false },
      revocation: { enabled: false },
      dPoP: DPOP_FEATURE,
      resourceIndicators: {
        enabled: true,
        defaultResource: () => tokens.defaultAudience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (!tokens.resources.includes(resource)) throw new errors.InvalidTarget();
          return resourceServerInfo(config, resource, signingKeys.signingKid);
        },
      },
    },
    ttl: { ClientCredentials: tokens.ttlSeconds },
    extraTokenClaims(ctx) {
      const client = ctx.oidc.client as unknown as Record<string, string | number | undefined> | undefined;
      const acc = client?.[ACCOUNT_FIELD];
      const env = client?.[ENVIRONMENT_FIELD];
      return { ...(acc ? { acc } : {}), ...(env ? { env } : {}), gen: client?.[GENERATION_FIELD] ?? 0 };
    },
    discovery: {
      introspection_endpoint: `${issuer}${OAUTH_ROUTES.introspection}`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
      revocation_endpoint: `${issuer}${OAUTH_ROUTES.revocation}`,
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
      // A Keyport extension (docs/revocation.md): where keyport/verify finds the signed revocation feed.
      keyport_revocation_feed_uri: `${issuer}${OAUTH_ROUTES.revocation_feed}`,
      service_documentation: `${issuer}/`,
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    renderError(ctx, out) {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  };

  const provider = new Provider(issuer, configuration);

  // Every URL oidc-provider publishes (the metadata's endpoints) is built from
  // the issuer, path included, never from the request: behind a proxy, or under
  // a path the dispatcher strips (src/app.ts), the request shows neither the
  // public host nor the path, and a forged Host header must not change the metadata.
  provider.OIDCContext.prototype.urlFor = (name: string, options?: Record<string, unknown>) => provider.urlFor(name, options);

  // Keypairs store HMAC-SHA-256 hashes: verify through the domain, which also
  // applies lockout, the enabled flag, the owner's state and the grace period.
  provider.Client.prototype.compareClientSecret = async function compareClientSecret(this: { clientId: string }, actual: string) {
    const ctx = Provider.ctx;
    const preloaded = ctx && loadedKeypair.has(ctx) ? loadedKeypair.get(ctx) : undefined;
    let result: AuthenticationResult;
    try {
      // The address is read only for an ended secret (who still sends it) or a counted wrong one (a recent failure source).
      result = await domain.keypairAuth.authenticate(this.clientId, actual, preloaded, ctx ? () => requestAddress(ctx.req, config.server.trustProxy) : undefined);
    } catch (err) {
      rethrowForProvider(err);
    }
    if (!result.ok) {
      if (result.reason === 'ended_secret' && ctx) endedSecretRequests.add(ctx.req);
      hooks?.onAuthenticationFailure?.(result.reason, this.clientId);
    }
    return result.ok;
  };

  // Without trusted issuers the federated path is not there at all: secrets pay nothing for it.
  buildClientsOncePerRecord(provider, domain, hooks, federation?.enabled ? federation : undefined);
  installFederatedDetection(provider, federation?.enabled === true);
  installKeyAuthentication(provider, domain, recordOfRequest, hooks, rethrowForProvider);
  provider.registerGrantType('client_credentials', clientCredentialsGrant(provider, domain, config, signingKeys.signingKid), ['scope', 'resource']);
  return provider;
}

/**
 * The client credentials grant (RFC 6749 §4.4) with Keyport's scope rules:
 * no `scope` ⇒ every scope of the keypair; any scope outside them ⇒ invalid_scope.
 * With a DPoP proof the token is bound to its key (RFC 9449, dpop.ts).
 */
function clientCredentialsGrant(provider: Provider, domain: Domain, config: KeyportConfig, signingKid: string) {
  return async function keyportClientCredentials(ctx: KoaContextWithOIDC) {
    const client = ctx.oidc.client!;
    // Checked first, as oidc-provider's own grant does; no await without a DPoP header.
    const binding = dpopBinding(domain, ctx, client.dpopBoundAccessTokens === true, rethrowForProvider);
    const jkt = binding && await binding;
    const allowed = new Set((client.scope ?? '').split(' ').filter(Boolean));
    const param = ctx.oidc.params?.scope;
    const requested = typeof param === 'string' && param.trim() !== '' ? [...new Set(param.split(' ').filter(Boolean))] : [...allowed];
    const refused = requested.filter((scope) => !allowed.has(scope));
    if (refused.length) throw new errors.InvalidScope('requested scope is not allowed for this keypair', refused.join(' '));

    const resourceParam = ctx.oidc.params?.resource;
    const resource = typeof resourceParam === 'string' ? resourceParam : config.tokens.defaultAudience;
    if (!config.tokens.resources.includes(resource)) throw new errors.InvalidTarget('resource is not a registered API');

    const token = new provider.ClientCredentials({ client, scope: requested.join(' ') || undefined });
    token.resourceServer = new provider.ResourceServer(resource, resourceServerInfo(config, resource, signingKid));
    capAtKeypairExpiry(token, (client as unknown as Record<string, unknown>)[EXPIRES_AT_FIELD], config.tokens.ttlSeconds);
    if (jkt) token.setThumbprint('jkt', jkt);
    ctx.oidc.entity('ClientCredentials', token);
    const value = await token.save();

    ctx.body = {
      access_token: value,
      expires_in: token.expiration,
      token_type: jkt ? 'DPoP' : 'Bearer',
      scope: token.scope || undefined,
    };
  };
}

/**
 * No token outlives its keypair: with an expiry sooner than the token lifetime,
 * the token's exp is the keypair's expiresAt, so that offline validators refuse
 * it from that moment without waiting for the expiry sweep and the revocation
 * feed. The expiry comes with the client (built once per keypair record): no
 * database read here. A keypair that expires within the current second is
 * refused as expired: a token for it would already be expired.
 */
function capAtKeypairExpiry(token: { iat?: number; exp?: number; expiresIn?: number }, expiresAt: unknown, ttlSeconds: number): void {
  if (typeof expiresAt !== 'number') return;
  const now = Math.floor(Date.now() / 1000);
  const left = expiresAt - now;
  if (left >= ttlSeconds) return;
  if (left < 1) throw new errors.InvalidClientAuth('keypair expired');
  token.iat = now;
  token.exp = expiresAt;
  token.expiresIn = left;
}
