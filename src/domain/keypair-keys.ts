// The public keys of a keypair (private_key_jwt): adding one, retiring one now
// or after a grace period, and how a key shows in a keypair's view. The
// assertion check itself is KeypairAuthenticator.authenticateWithKey. No HTTP in here.
import type { KeypairRecord, KeypairStore, StoredPublicKey } from '../db/contract.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { isWellFormedKeyId } from './credentials.ts';
import { DomainError, invalidInput, notFound } from './errors.ts';
import { GRACE_PERIODS, type GracePeriod } from './limits.ts';
import { keyAlgs, livePublicKeys, parsePublicKey, PUBLIC_KEYS_MAX, type ParsedPublicKey } from './public-keys.ts';

export interface PublicKeyView {
  thumbprint: string;
  kid: string;
  kty: string;
  crv: string | null;
  /** The algorithms the key may sign client assertions with. */
  algs: string[];
  /** current: authenticates until retired; retiring: authenticates until expiresAt. */
  state: 'current' | 'retiring';
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

export function publicKeyViews(doc: Pick<KeypairRecord, 'publicKeys' | 'keysLastUsedAt'>, now: Date): PublicKeyView[] {
  return livePublicKeys(doc.publicKeys, now).map((key) => ({
    thumbprint: key.thumbprint,
    kid: key.kid,
    kty: key.jwk.kty!,
    crv: key.jwk.crv ?? null,
    algs: keyAlgs(key.jwk),
    state: key.expiresAt === null ? 'current' : 'retiring',
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt?.toISOString() ?? null,
    lastUsedAt: doc.keysLastUsedAt?.[key.thumbprint]?.toISOString() ?? null,
  }));
}

/** Reads every uploaded key, refusing duplicates among them; throws the first refusal (invalid_input). */
export async function parsePublicKeys(inputs: readonly unknown[]): Promise<ParsedPublicKey[]> {
  if (inputs.length > PUBLIC_KEYS_MAX) throw invalidInput(`a keypair holds at most ${PUBLIC_KEYS_MAX} public keys`);
  const parsed: ParsedPublicKey[] = [];
  for (const [i, input] of inputs.entries()) {
    let key: ParsedPublicKey;
    try {
      key = await parsePublicKey(input);
    } catch (err) {
      if (err instanceof DomainError && inputs.length > 1) throw invalidInput(`public key ${i + 1}: ${err.message}`);
      throw err;
    }
    if (parsed.some((k) => k.thumbprint === key.thumbprint || k.kid === key.kid)) throw invalidInput(`public key ${i + 1} is given twice`);
    parsed.push(key);
  }
  return parsed;
}

export function storedKey(key: ParsedPublicKey, now: Date): StoredPublicKey {
  return { thumbprint: key.thumbprint, kid: key.kid, jwk: key.jwk, createdAt: now, expiresAt: null };
}

export class KeypairKeyService {
  readonly #store: KeypairStore;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(deps: { store: KeypairStore; audit: AuditLog; clock: Clock }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
  }

  /** Adds a public key (JWK or PEM). Keys whose grace period ended are dropped on the way; at most 5 stay. */
  async add(keyId: string, input: unknown, actor: Actor): Promise<{ doc: KeypairRecord; key: PublicKeyView }> {
    const parsed = await parsePublicKey(input);
    const doc = await this.#rewrite(keyId, (current, now) => {
      const live = livePublicKeys(current.publicKeys, now);
      const same = live.find((k) => k.thumbprint === parsed.thumbprint);
      if (same) throw new DomainError('conflict', `this keypair holds that key already (thumbprint ${parsed.thumbprint})`);
      if (live.some((k) => k.kid === parsed.kid)) throw new DomainError('conflict', `this keypair holds a key with kid "${parsed.kid}" already`);
      if (live.length >= PUBLIC_KEYS_MAX) throw new DomainError('conflict', `a keypair holds at most ${PUBLIC_KEYS_MAX} public keys: retire one first`);
      return [...live, storedKey(parsed, now)];
    });
    await this.#audit.record({ actor, action: 'keypair.key_added', ...target(doc), details: { thumbprint: parsed.thumbprint, kid: parsed.kid, kty: parsed.jwk.kty, algs: parsed.algs } });
    return { doc, key: publicKeyViews(doc, this.#clock.now()).find((k) => k.thumbprint === parsed.thumbprint)! };
  }

  /**
   * Retires a key: at once (grace '0') or after the grace period, during which
   * it still authenticates (the rotation: add the new key, move the clients,
   * the old one ends by itself). A key already retiring keeps the earlier end.
   * A keypair without a secret keeps at least one current key.
   */
  async retire(keyId: string, thumbprint: string, grace: GracePeriod, actor: Actor): Promise<KeypairRecord> {
    if (!Object.hasOwn(GRACE_PERIODS, grace)) throw invalidInput(`grace must be one of ${Object.keys(GRACE_PERIODS).join(', ')}`);
    let endsAt: Date | null = null;
    const doc = await this.#rewrite(keyId, (current, now) => {
      const live = livePublicKeys(current.publicKeys, now);
      const key = live.find((k) => k.thumbprint === thumbprint);
      if (!key) throw notFound('public key');
      const end = new Date(now.getTime() + GRACE_PERIODS[grace]);
      endsAt = key.expiresAt && key.expiresAt < end ? key.expiresAt : end;
      const othersCurrent = live.some((k) => k !== key && k.expiresAt === null);
      // A trust rule is a way in too (federated workload identity).
      const hasSecret = current.secrets.some((s) => s.expiresAt === null) || !!current.trustRules?.length;
      if (key.expiresAt === null && !othersCurrent && !hasSecret) {
        throw new DomainError('conflict', 'this is the keypair\'s last current key and it has no secret: add the new key first, then retire this one');
      }
      return GRACE_PERIODS[grace] === 0 ? live.filter((k) => k !== key) : live.map((k) => (k === key ? { ...k, expiresAt: endsAt } : k));
    });
    await this.#audit.record({ actor, action: 'keypair.key_retired', ...target(doc), details: { thumbprint, grace, expiresAt: grace === '0' ? null : (endsAt as Date | null)?.toISOString() ?? null } });
    return doc;
  }

  async #rewrite(keyId: string, build: (current: KeypairRecord, now: Date) => StoredPublicKey[]): Promise<KeypairRecord> {
    if (!isWellFormedKeyId(keyId)) throw notFound('keypair');
    const result = await this.#store.rewrite(keyId, (current) => {
      const now = this.#clock.now();
      return { set: { publicKeys: build(current, now), updatedAt: now } };
    }, 5);
    if (result.outcome === 'not_found') throw notFound('keypair');
    if (result.outcome === 'conflict') throw new DomainError('conflict', 'the keypair changed meanwhile; try again');
    return result.after;
  }
}

function target(doc: Pick<KeypairRecord, '_id' | 'accountId' | 'environmentId'>) {
  return { accountId: doc.accountId, environmentId: doc.environmentId, keypairId: doc._id };
}
