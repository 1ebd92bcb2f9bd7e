// Client authentication (RFC 6749 §2.3.1) for the endpoints Keyport serves
// itself (introspection, revocation): HTTP Basic or client_id/client_secret in
// the form body, never both, never in the query string.
import type { Context } from 'koa';
import type { Domain } from '../domain/index.ts';
import type { KeypairDoc } from '../db/models/keypair.ts';
import { requestAddress, throttledResponse, type AddressThrottle } from './address-throttle.ts';
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

function decodeBasicPart(part: string): string {
  // RFC 6749 §2.3.1: client_id and secret are form-urlencoded before Base64.
  return decodeURIComponent(part.replace(/\+/g, '%20'));
}

export async function authenticateClient(ctx: Context, domain: Domain, body: FormBody, throttle: AddressThrottle): Promise<KeypairDoc> {
  const address = requestAddress(ctx.req, ctx.app.proxy);
  const wait = throttle.retryAfter(address);
  if (wait) {
    ctx.set('Retry-After', String(wait));
    const { status, body: answer } = throttledResponse(wait);
    throw new OAuthError(status, answer.error, answer.error_description);
  }
  if (ctx.querystring && /(^|&)client_secret=/.test(ctx.querystring)) throw invalidRequest('client_secret must not be sent in the query string');
  const header = ctx.get('Authorization');
  const postId = formParam(body, 'client_id');
  const postSecret = formParam(body, 'client_secret');
  let keyId: string;
  let secret: string;
  const basic = header !== '';
  if (basic) {
    if (postSecret !== undefined) throw invalidRequest('client authentication must only be provided using one mechanism');
    const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header);
    const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon < 1) throw invalidRequest('invalid authorization header value format');
    try {
      keyId = decodeBasicPart(decoded.slice(0, colon));
      secret = decodeBasicPart(decoded.slice(colon + 1));
    } catch {
      throw invalidRequest('client_id and client_secret in the authorization header are not properly encoded');
    }
    if (postId !== undefined && postId !== keyId) throw invalidRequest('client_id mismatch');
  } else {
    if (!postId || !postSecret) {
      await throttle.failed(address);
      throw new OAuthError(401, 'invalid_client', 'client authentication failed');
    }
    keyId = postId;
    secret = postSecret;
  }
  const result = await domain.keypairs.authenticate(keyId, secret);
  if (!result.ok) {
    await throttle.failed(address);
    throw new OAuthError(401, 'invalid_client', 'client authentication failed', { basicChallenge: basic });
  }
  return result.keypair;
}
