// Federated workload identity at the token endpoint: a workload (a GitHub
// Actions job, a Kubernetes pod) sends the OIDC token its platform gave it as
// client_assertion (jwt-bearer), with client_id = the keypair's key id. What
// tells it from a private_key_jwt assertion is its `iss`: the external issuer,
// not the key id. oidc-provider would take the token's `sub` as the client id,
// so such a request is taken out of its client authentication as its
// parameters are assembled (one property set per request, installed only when
// federation.issuers lists an issuer), and checked here when the client is
// looked up: the issuer on the allow-list, a rule of the keypair for it, the
// signature with the issuer's keys (issuer-keys.ts), exp/nbf/iat, a matching
// trust rule (trust-rules.ts), and single use.
import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type Provider from 'oidc-provider';
import type { KeypairDoc } from '../db/models/keypair.ts';
import type { ReplayGuard } from '../domain/replays.ts';
import { ASSERTION_ALGS } from '../domain/public-keys.ts';
import { hasRuleFor, matchTrustRule } from '../domain/trust-rules.ts';
import { IssuerKeys, IssuerUnavailable, type IssuerKeyPolicy } from './issuer-keys.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** A token without `jti` cannot be held to single use: it must have been issued (iat) at most this long ago. */
export const FEDERATED_MAX_TOKEN_AGE_SECONDS = 600;
/** A token may be valid at most this long ahead (exp): a single-use record must not outlive its purpose by far. */
export const FEDERATED_MAX_LIFETIME_SECONDS = 86_400;
/** Clock skew allowed between the issuer and Keyport, on exp, nbf and iat. */
export const FEDERATED_CLOCK_SKEW_SECONDS = 15;

/** A federated token taken out of a request's client authentication. */
export interface FederatedAssertion {
  token: string;
  issuer: string;
}

export type FederatedOutcome =
  | { ok: true; ruleId: string }
  | { ok: false; reason: 'untrusted_issuer' | 'federation_mismatch' | 'bad_assertion' | 'issuer_unavailable'; detail: string };

/** Requests (their Koa context) that carry a federated token. */
const federatedRequests = new WeakMap<object, FederatedAssertion>();

/** The federated token of this request, if it carries one. */
export function federatedAssertionOf(ctx: object | undefined): FederatedAssertion | undefined {
  return ctx ? federatedRequests.get(ctx) : undefined;
}

/**
 * Token requests whose client_assertion names another issuer than client_id
 * are federated: the assertion leaves the parameters oidc-provider checks
 * (so that it looks the client up by client_id, with no client authentication
 * of its own) and is kept for the client lookup. Only when `enabled`: without
 * trusted issuers nothing is installed, and a request pays nothing.
 */
export function installFederatedDetection(provider: Provider, enabled: boolean): void {
  if (!enabled) return;
  Object.defineProperty(provider.OIDCContext.prototype, 'params', {
    configurable: true,
    set(this: { ctx: { headers: Record<string, unknown> }; route?: string }, value: Record<string, unknown> | undefined) {
      // From the first assignment on, the value is an own property: reads cost what they did.
      Object.defineProperty(this, 'params', { value, writable: true, enumerable: true, configurable: true });
      if (value?.client_assertion !== undefined && this.route === 'token') takeFederated(this.ctx, value);
    },
  });
}

function takeFederated(ctx: { headers: Record<string, unknown> }, params: Record<string, unknown>): void {
  const { client_assertion: token, client_assertion_type: type, client_id: clientId } = params;
  // Anything else (two mechanisms, a parameter given twice, no client_id) is left to oidc-provider to refuse.
  if (typeof token !== 'string' || type !== JWT_BEARER || typeof clientId !== 'string' || params.client_secret !== undefined || ctx.headers.authorization !== undefined) return;
  let issuer: unknown;
  try {
    issuer = decodeJwt(token).iss;
  } catch {
    return;
  }
  if (typeof issuer !== 'string' || issuer === clientId) return;
  federatedRequests.set(ctx, { token, issuer });
  params.client_assertion = undefined;
  params.client_assertion_type = undefined;
}

/** Checks federated tokens against a keypair's trust rules. */
export class FederatedTokenChecker {
  readonly #issuers: ReadonlySet<string>;
  readonly #keys: IssuerKeys;
  readonly #replays: ReplayGuard;

  constructor(options: { issuers: readonly string[]; policy: IssuerKeyPolicy; replays: ReplayGuard; keys?: IssuerKeys }) {
    this.#issuers = new Set(options.issuers);
    this.#keys = options.keys ?? new IssuerKeys(options.policy);
    this.#replays = options.replays;
  }

  get enabled(): boolean {
    return this.#issuers.size > 0;
  }

  /**
   * Whether `assertion` authenticates `doc`, and by which rule. The keypair's
   * own state (lock, enabled, expiry, owner) is the domain's to check after.
   * Database errors (the replay store) are thrown.
   */
  async check(doc: KeypairDoc, assertion: FederatedAssertion): Promise<FederatedOutcome> {
    const { token, issuer } = assertion;
    if (!this.#issuers.has(issuer)) return { ok: false, reason: 'untrusted_issuer', detail: 'the token\'s issuer is not trusted on this instance' };
    // No rule for the issuer: refused before any of its keys is fetched.
    if (!hasRuleFor(doc.trustRules, issuer)) return { ok: false, reason: 'federation_mismatch', detail: 'the keypair trusts no token of this issuer' };
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return { ok: false, reason: 'bad_assertion', detail: 'the token is not a signed JWT' };
    }
    const alg = header.alg;
    // Never `none`, never HMAC: only the asymmetric algorithms of private_key_jwt.
    if (typeof alg !== 'string' || !(ASSERTION_ALGS as readonly string[]).includes(alg)) return { ok: false, reason: 'bad_assertion', detail: `alg must be one of ${ASSERTION_ALGS.join(', ')}` };
    let keys;
    try {
      keys = await this.#keys.keysFor(issuer, typeof header.kid === 'string' ? header.kid : undefined);
    } catch (err) {
      if (err instanceof IssuerUnavailable) return { ok: false, reason: 'issuer_unavailable', detail: err.message };
      throw err;
    }
    const candidates = keys.filter((key) => (typeof header.kid === 'string' ? key.kid === header.kid : true) && key.algs.includes(alg as never));
    let payload: JWTPayload | null = null;
    let failure = 'no key of the issuer signed the token';
    for (const candidate of candidates) {
      try {
        ({ payload } = await jwtVerify(token, candidate.key, { algorithms: [alg], issuer, clockTolerance: FEDERATED_CLOCK_SKEW_SECONDS, requiredClaims: ['exp', 'sub', 'aud'] }));
        break;
      } catch (err) {
        if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) {
          failure = err instanceof Error ? err.message : 'the token is not valid';
          break;
        }
      }
    }
    if (!payload) return { ok: false, reason: 'bad_assertion', detail: failure };
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp! > now + FEDERATED_MAX_LIFETIME_SECONDS + FEDERATED_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'bad_assertion', detail: `exp must be at most ${FEDERATED_MAX_LIFETIME_SECONDS} seconds ahead` };
    if (payload.iat !== undefined && payload.iat > now + FEDERATED_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'bad_assertion', detail: 'iat must not be in the future' };
    const match = matchTrustRule(doc.trustRules, payload);
    if ('mismatch' in match) return { ok: false, reason: 'federation_mismatch', detail: match.mismatch };
    // Single use: by jti where the issuer sets one (checked last, so that a token refused above spends nothing);
    // otherwise a bounded age.
    if (typeof payload.jti === 'string' && payload.jti !== '') {
      const id = `fed:${createHash('sha256').update(`${issuer}\0${payload.jti}`).digest('base64url')}`;
      const first = await this.#replays.firstUse(id, new Date((payload.exp! + FEDERATED_CLOCK_SKEW_SECONDS) * 1000), new Date());
      if (!first) return { ok: false, reason: 'bad_assertion', detail: 'the token was used already (jti)' };
    } else if (typeof payload.iat !== 'number' || now - payload.iat > FEDERATED_MAX_TOKEN_AGE_SECONDS + FEDERATED_CLOCK_SKEW_SECONDS) {
      return { ok: false, reason: 'bad_assertion', detail: `a token without jti must have an iat at most ${FEDERATED_MAX_TOKEN_AGE_SECONDS} seconds ago` };
    }
    return { ok: true, ruleId: match.rule.id };
  }
}
