// The signing keys of external OIDC issuers (federated workload identity):
// found through the issuer's discovery document (/.well-known/openid-configuration
// → jwks_uri), fetched over https only (http on loopback only where the
// operator allows it for tests), each fetch bounded in time and size, never
// following redirects, and only to addresses the policy allows (checked on the
// address actually connected to, as for webhooks). Keys are cached; a refetch
// happens when the cache is old, or when a token names a kid the cache does
// not hold (the issuer rotated), and at most once per cooldown per issuer, so
// that tokens cannot make Keyport hammer an issuer. Keys are checked as
// uploaded keys are (public-keys.ts): asymmetric only, RSA ≥ 2048 bits.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { parsePublicKey, type AssertionAlg } from '../domain/public-keys.ts';
import { hostOf, refusedAddress, type WebhookUrlPolicy } from '../domain/webhook-urls.ts';
import { guardedLookup } from '../webhooks/send.ts';

/** Keys are used this long before they are fetched again. */
export const ISSUER_KEYS_MAX_AGE_MS = 10 * 60_000;
/** At most one fetch per issuer in this time, whatever tokens arrive (an unknown kid, a failing issuer). */
export const ISSUER_REFETCH_COOLDOWN_MS = 30_000;
/** When a refetch fails, keys fetched less than this long ago are still used (an issuer's short outage). */
export const ISSUER_KEYS_STALE_MAX_MS = 24 * 3_600_000;
const DISCOVERY_MAX_BYTES = 64 * 1024;
const JWKS_MAX_BYTES = 256 * 1024;
const JWKS_MAX_KEYS = 50;
const USER_AGENT = 'Keyport-Federation/1';

export interface IssuerKey {
  kid: string | null;
  algs: AssertionAlg[];
  key: KeyObject;
}

export interface IssuerKeyPolicy extends WebhookUrlPolicy {
  fetchTimeoutMs: number;
}

/** The issuer's keys cannot be had now (its discovery or JWKS is down, refused, or not valid). */
export class IssuerUnavailable extends Error {
  override name = 'IssuerUnavailable';
}

interface Entry {
  keys: IssuerKey[] | null;
  fetchedAt: number;
  attemptedAt: number;
  inFlight: Promise<IssuerKey[]> | null;
}

export class IssuerKeys {
  readonly #policy: IssuerKeyPolicy;
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(policy: IssuerKeyPolicy, now: () => number = Date.now) {
    this.#policy = policy;
    this.#now = now;
  }

  /**
   * The issuer's usable keys. `kid`: the one a token names; a cache without it
   * is refetched (once per cooldown). Throws IssuerUnavailable when there are
   * no keys to use.
   */
  async keysFor(issuer: string, kid: string | undefined): Promise<IssuerKey[]> {
    const now = this.#now();
    let entry = this.#entries.get(issuer);
    if (!entry) {
      entry = { keys: null, fetchedAt: 0, attemptedAt: 0, inFlight: null };
      this.#entries.set(issuer, entry);
    }
    const fresh = entry.keys !== null && now - entry.fetchedAt < ISSUER_KEYS_MAX_AGE_MS;
    const knowsKid = kid === undefined || !!entry.keys?.some((key) => key.kid === kid);
    if (fresh && knowsKid) return entry.keys!;
    if (entry.inFlight) return entry.inFlight;
    if (now - entry.attemptedAt < ISSUER_REFETCH_COOLDOWN_MS) return this.#fallback(entry, now, 'fetched moments ago');
    entry.attemptedAt = now;
    const current = entry;
    current.inFlight = this.#fetchKeys(issuer).then((keys) => {
      current.keys = keys;
      current.fetchedAt = this.#now();
      return keys;
    }, (err: unknown) => this.#fallback(current, this.#now(), (err as Error).message)).finally(() => {
      current.inFlight = null;
    });
    return current.inFlight;
  }

  /** Keys fetched earlier (a short outage, a kid the issuer does not have), or IssuerUnavailable. */
  #fallback(entry: Entry, now: number, why: string): IssuerKey[] {
    if (entry.keys && now - entry.fetchedAt < ISSUER_KEYS_STALE_MAX_MS) return entry.keys;
    throw new IssuerUnavailable(`the issuer's keys could not be fetched: ${why}`);
  }

  async #fetchKeys(issuer: string): Promise<IssuerKey[]> {
    const discovery = await this.#getJson(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, DISCOVERY_MAX_BYTES);
    // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    if (discovery.issuer !== issuer) throw new IssuerUnavailable('the discovery document names another issuer');
    const jwksUri = discovery.jwks_uri;
    if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) throw new IssuerUnavailable('the discovery document has no valid jwks_uri');
    const jwks = await this.#getJson(jwksUri, JWKS_MAX_BYTES);
    if (!Array.isArray(jwks.keys)) throw new IssuerUnavailable('the JWKS has no "keys"');
    const keys: IssuerKey[] = [];
    for (const jwk of (jwks.keys as unknown[]).slice(0, JWKS_MAX_KEYS)) {
      const usable = await usableKey(jwk);
      if (usable) keys.push(usable);
    }
    return keys;
  }

  /** GET a JSON object: 200 only, no redirect, within the time limit and `maxBytes`, to an allowed address. */
  #getJson(raw: string, maxBytes: number): Promise<Record<string, unknown>> {
    const url = new URL(raw);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return Promise.reject(new IssuerUnavailable(`${url.protocol} URLs are not fetched`));
    const host = hostOf(url);
    if (isIP(host)) {
      const refused = refusedAddress(host, url.protocol, this.#policy);
      if (refused) return Promise.reject(new IssuerUnavailable(`refused: ${refused}`));
    }
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const fail = (message: string) => {
        clearTimeout(timer);
        req.destroy();
        reject(new IssuerUnavailable(message));
      };
      const req = request(url, {
        method: 'GET',
        headers: { Accept: 'application/json', 'User-Agent': USER_AGENT },
        lookup: guardedLookup(url.protocol, this.#policy),
        agent: false,
      }, (res: IncomingMessage) => {
        if (res.statusCode !== 200) return fail(`${url.origin}${url.pathname} answered ${res.statusCode}`);
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxBytes) return fail(`${url.origin}${url.pathname} sent more than ${maxBytes} bytes`);
          chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          try {
            const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
            resolve(parsed as Record<string, unknown>);
          } catch {
            reject(new IssuerUnavailable(`${url.origin}${url.pathname} did not answer a JSON object`));
          }
        });
        res.on('error', () => fail(`${url.origin}${url.pathname}: the answer broke off`));
      });
      const timer = setTimeout(() => fail(`${url.origin}${url.pathname} did not answer within ${this.#policy.fetchTimeoutMs} ms`), this.#policy.fetchTimeoutMs);
      req.on('error', (err) => fail(`${url.origin}${url.pathname}: ${err.message}`));
      req.end();
    });
  }
}

/** A JWKS entry Keyport verifies with, or null: private, symmetric, small RSA, other curves and algs are skipped. */
async function usableKey(jwk: unknown): Promise<IssuerKey | null> {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return null;
  try {
    const parsed = await parsePublicKey(jwk);
    // The public members only: node's JWK import takes no `alg`.
    const members: Record<string, string> = { ...parsed.jwk };
    delete members.alg;
    const kid = typeof (jwk as { kid?: unknown }).kid === 'string' ? (jwk as { kid: string }).kid : null;
    return { kid, algs: parsed.algs, key: createPublicKey({ key: members, format: 'jwk' }) };
  } catch {
    return null;
  }
}
