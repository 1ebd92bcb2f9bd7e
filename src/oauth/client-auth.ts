// Client authentication (RFC 6749 §2.3.1), one module for every endpoint that
// authenticates keypairs: the HTTP Basic parser and the credentials a request
// presents, used by oidc-provider's hooks at the token endpoint (provider.ts),
// and the whole check for the endpoints Keyport serves itself (introspection,
// revocation): HTTP Basic, client_id/client_secret in the form body, or a
// client assertion (assertion-auth.ts); one of them only, never a secret in
// the query string.
import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Domain } from '../domain/index.ts';
import type { KeypairDoc } from '../db/models/keypair.ts';
import { requestAddress, throttledResponse, type AddressThrottle } from './address-throttle.ts';
import { ASSERTION_TYPE, authenticateAssertion } from './assertion-auth.ts';
import { invalidRequest, OAuthError } from './oauth-error.ts';

/** A parsed form body: the parser turns `a[b]=c` into nested objects and repeats into arrays. */
export type FormBody = Record<string, unknown>;

/**
 * Reads a single-valued form parameter. A parameter given twice, or given as
 * a nested field (`token[a]=…`, which the parser turns into an object), is
 * invalid_request: only a plain string ever reaches the checks after it.
 */
export function formParam(body: FormBody, name: string): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw invalidRequest(`parameter ${name} must not be provided more than once`);
  if (typeof value !== 'string') throw invalidRequest(`parameter ${name} must be a plain value`);
  return value;
}

const BASIC = /^Basic ([A-Za-z0-9+/]+={0,2})$/i;

/** One part of a Basic credential, form-decoded; only a part that holds '%' or '+' is decoded at all (base62 ids and secrets never do). Throws URIError for a bad escape. */
function formDecode(part: string): string {
  return part.includes('%') || part.includes('+') ? decodeURIComponent(part.replace(/\+/g, '%20')) : part;
}

export type BasicCredentials = { clientId: string; clientSecret: string };

/**
 * An `Authorization: Basic` header's client id and secret, both form-decoded
 * (RFC 6749 §2.3.1: they are form-urlencoded before Base64, and oidc-provider
 * decodes them so at the token endpoint). 'malformed': not Basic, not Base64,
 * no colon or an empty client id; 'bad_encoding': a part is not valid form encoding.
 */
export function parseBasic(header: string): BasicCredentials | 'malformed' | 'bad_encoding' {
  const match = BASIC.exec(header);
  if (!match) return 'malformed';
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return 'malformed';
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return 'bad_encoding';
  }
}

/**
 * The client secret a token request presents (client_secret_post, or HTTP
 * Basic decoded exactly as oidc-provider decodes it before compareClientSecret),
 * for the unknown-key path, which oidc-provider reaches without any secret.
 */
export function presentedSecret(ctx: KoaContextWithOIDC): string | undefined {
  const posted = ctx.oidc?.params?.client_secret;
  if (typeof posted === 'string') return posted;
  const basic = parseBasic(ctx.get('authorization'));
  return typeof basic === 'object' ? basic.clientSecret : undefined;
}

/**
 * An unknown key id costs the same as a wrong secret (docs/architecture.md,
 * Security model): the domain's check spends one HMAC on the secret against a
 * dummy. Introspection and revocation get this from their one authenticate
 * call; the token endpoint calls it when oidc-provider finds no client.
 */
export async function spendUnknownKey(domain: Domain, keyId: string, secret: string): Promise<void> {
  await domain.keypairAuth.authenticate(keyId, secret, null);
}

/**
 * The keypair that authenticates the request: with a secret (HTTP Basic or
 * client_secret_post) or with a client assertion (private_key_jwt, whose `aud`
 * must be one of `assertionAudiences`). Any failure is 401 invalid_client and
 * spends the address's budget (an ended secret excepted).
 */
export async function authenticateClient(ctx: Context, domain: Domain, body: FormBody, throttle: AddressThrottle, assertionAudiences: string[]): Promise<KeypairDoc> {
  const address = requestAddress(ctx.req, ctx.app.proxy);
  const wait = throttle.retryAfter(address);
  if (wait) {
    if (await throttle.hold()) ctx.set('Connection', 'close');
    ctx.set('Retry-After', String(wait));
    const { status, body: answer } = throttledResponse(wait);
    throw new OAuthError(status, answer.error, answer.error_description);
  }
  if (ctx.querystring && /(^|&)client_secret=/.test(ctx.querystring)) throw invalidRequest('client_secret must not be sent in the query string');
  const header = ctx.get('Authorization');
  const postId = formParam(body, 'client_id');
  const postSecret = formParam(body, 'client_secret');
  const assertionType = formParam(body, 'client_assertion_type');
  const assertion = formParam(body, 'client_assertion');
  if (assertionType !== undefined || assertion !== undefined) {
    if (header !== '' || postSecret !== undefined) throw invalidRequest('client authentication must only be provided using one mechanism');
    if (assertionType !== ASSERTION_TYPE) throw invalidRequest(`client_assertion_type must be ${ASSERTION_TYPE}`);
    if (!assertion) throw invalidRequest('client_assertion must be provided with client_assertion_type');
    const keypair = await authenticateAssertion(domain, assertion, { clientId: postId, audiences: assertionAudiences });
    if (!keypair) {
      await throttle.failed(address);
      throw new OAuthError(401, 'invalid_client', 'client authentication failed');
    }
    return keypair;
  }
  let keyId: string;
  let secret: string;
  const basic = header !== '';
  if (basic) {
    if (postSecret !== undefined) throw invalidRequest('client authentication must only be provided using one mechanism');
    const credentials = parseBasic(header);
    if (credentials === 'malformed') throw invalidRequest('invalid authorization header value format');
    if (credentials === 'bad_encoding') throw invalidRequest('client_id and client_secret in the authorization header are not properly encoded');
    keyId = credentials.clientId;
    secret = credentials.clientSecret;
    if (postId !== undefined && postId !== keyId) throw invalidRequest('client_id mismatch');
  } else {
    if (!postId || !postSecret) {
      await throttle.failed(address);
      throw new OAuthError(401, 'invalid_client', 'client authentication failed');
    }
    keyId = postId;
    secret = postSecret;
  }
  const result = await domain.keypairAuth.authenticate(keyId, secret, undefined, () => address);
  if (!result.ok) {
    // An ended secret is no guess: it does not spend the address's budget (provider.ts, endedSecretRequests).
    if (result.reason !== 'ended_secret') await throttle.failed(address);
    throw new OAuthError(401, 'invalid_client', 'client authentication failed', { basicChallenge: basic });
  }
  return result.keypair;
}
