// Seeds keypairs quickly: raw documents in bulk (insertMany through the mongoose
// models, lean: no hydration or per-document validation), with real credentials —
// key ids and secrets from the domain's generators and HMACs from the same
// SecretHasher and pepper the server uses, so the server authenticates them
// exactly like keypairs made through the API.
//
// Layout: owners of 100 keypairs each, alternating an account and one of its
// environments, so that token requests exercise both owner checks.
import type { Models } from '../src/db/models/index.ts';
import type { KeypairDoc } from '../src/db/models/keypair.ts';
import type { AccountDoc, EnvironmentDoc } from '../src/db/models/owner.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeFeed } from '../src/db/contract.ts';
import { newId, newKeyId, newSecret, type SecretHasher } from '../src/domain/credentials.ts';
import type { Owner } from '../src/domain/owners.ts';
import { listKeys } from '../src/db/keypair-list.ts';

export interface SeededKey {
  keyId: string;
  secret: string;
  ownerType: 'account' | 'environment';
}

const PER_OWNER = 100;
/** Two of the server's change-feed polls (250 ms each). */
const CHANGE_POLL_WAIT_MS = 600;
/** Between two reads of the failure counts that must agree (failureState). */
const SETTLE_READ_MS = 150;
const BATCH = 1000;
export const ACCOUNT_SCOPES = ['orders:read', 'orders:write', 'reports:read'];
export const ENVIRONMENT_SCOPES = ['orders:read', 'orders:write'];

/** A small deterministic PRNG (mulberry32): the same picks on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function keypairDoc(keyId: string, hash: string, owner: Owner, createdAt: Date): KeypairDoc {
  const name = `bench ${keyId.slice(3, 11)}`;
  return {
    ...listKeys({ _id: keyId, name, createdAt }), // as the store writes them (src/db/keypair-list.ts)
    _id: keyId,
    ownerType: owner.type,
    accountId: owner.accountId,
    environmentId: owner.environmentId,
    name,
    comment: '',
    scopes: owner.type === 'account' ? ACCOUNT_SCOPES : ENVIRONMENT_SCOPES,
    enabled: true,
    secrets: [{ hash, createdAt, expiresAt: null }],
    failedAttempts: 0,
    failuresAtLastLock: 0,
    temporaryLocks: 0,
    lockedUntil: null,
    lockedPermanently: false,
    tokenGeneration: 0,
    tokensRevokedAt: null,
    createdAt,
    createdBy: 'system',
    updatedAt: createdAt,
    lastUsedAt: null,
    lastRotatedAt: null,
    revision: 0,
  };
}

function accountDoc(name: string, createdAt: Date): AccountDoc {
  return { _id: newId('acc'), name, status: 'active', createdAt, closingAt: null, closedAt: null };
}

export class Seeder {
  readonly #models: Models;
  readonly #hasher: SecretHasher;
  /** Every seeded keypair with its secret, in insertion order. */
  readonly keys: SeededKey[] = [];
  #owners: Owner[] = [];
  #clock = Date.parse('2025-01-01T00:00:00Z');

  /** Tells the running server's caches of the seeder's own writes behind its back (resetFailures). */
  readonly #changes: ChangeFeed;

  constructor(models: Models, hasher: SecretHasher, changes: ChangeFeed) {
    this.#models = models;
    this.#changes = changes;
    this.#hasher = hasher;
  }

  get total(): number {
    return this.keys.length;
  }

  #nextDate(): Date {
    this.#clock += 1000;
    return new Date(this.#clock);
  }

  /** Owner of the i-th keypair: pairs of (account, its environment), PER_OWNER keypairs each, alternating. */
  async #ownerFor(i: number): Promise<Owner> {
    const pair = Math.floor(i / (2 * PER_OWNER));
    while (this.#owners.length < 2 * (pair + 1)) {
      const account = accountDoc(`bench account ${this.#owners.length / 2}`, this.#nextDate());
      const environment: EnvironmentDoc = { ...accountDoc('production', this.#nextDate()), _id: newId('env'), accountId: account._id };
      await this.#models.Account.insertMany([account], { lean: true });
      await this.#models.Environment.insertMany([environment], { lean: true });
      this.#owners.push({ type: 'account', accountId: account._id, environmentId: null }, { type: 'environment', accountId: account._id, environmentId: environment._id });
    }
    return this.#owners[2 * pair + (i % 2)]!;
  }

  /** Adds keypairs until there are `target`. */
  async growTo(target: number, progress?: (done: number, target: number) => void): Promise<void> {
    while (this.keys.length < target) {
      const batch: KeypairDoc[] = [];
      const end = Math.min(target, this.keys.length + BATCH);
      for (let i = this.keys.length; i < end; i++) {
        const owner = await this.#ownerFor(i);
        const keyId = newKeyId();
        const secret = newSecret();
        batch.push(keypairDoc(keyId, this.#hasher.hash(secret), owner, this.#nextDate()));
        this.keys.push({ keyId, secret, ownerType: owner.type });
      }
      await this.#models.Keypair.insertMany(batch, { lean: true, ordered: true });
      progress?.(this.keys.length, target);
    }
  }

  /**
   * `count` keypairs picked at random from the whole seeded set (so that reads
   * touch the whole collection, not its first pages), after skipping `skip` picks.
   * The same arguments give the same keys until the set grows.
   */
  pick(count: number, skip = 0): SeededKey[] {
    const random = prng(0x70696b + this.keys.length);
    const order = this.keys.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order.slice(skip, skip + count).map((i) => this.keys[i]!);
  }

  /** One account with `size` account keypairs, for the listing figure (not part of `keys`). */
  async seedListAccount(size: number, progress?: (done: number, target: number) => void): Promise<{ owner: Owner; middle: KeypairDoc }> {
    const account = accountDoc('bench listing account', this.#nextDate());
    await this.#models.Account.insertMany([account], { lean: true });
    const owner: Owner = { type: 'account', accountId: account._id, environmentId: null };
    let middle: KeypairDoc | undefined;
    for (let done = 0; done < size;) {
      const batch: KeypairDoc[] = [];
      for (const end = Math.min(size, done + BATCH); done < end; done++) {
        batch.push(keypairDoc(newKeyId(), this.#hasher.hash(newSecret()), owner, this.#nextDate()));
        if (done === Math.floor(size / 2)) middle = batch.at(-1);
      }
      await this.#models.Keypair.insertMany(batch, { lean: true, ordered: true });
      progress?.(done, size);
    }
    return { owner, middle: middle! };
  }

  /** Clears the failure counters and locks of `keys` (between wrong-secret points). Bypasses the API on purpose. */
  async resetFailures(keys: SeededKey[]): Promise<void> {
    await this.failureState(keys); // the server's counts of earlier wrong secrets land first
    await this.#models.Keypair.collection.updateMany(
      { _id: { $in: keys.map((k) => k.keyId) } } as never,
      { $set: { failedAttempts: 0, failuresAtLastLock: 0, temporaryLocks: 0, lockedUntil: null, lockedPermanently: false } },
    );
    // The server caches keypair records: without a change it would keep answering
    // from a record that still says "locked" (a figure before this one locked the
    // key), refuse every wrong secret without counting it, and the next figure
    // would measure that instead. Publish the change and wait for the server's poll.
    await Promise.all(keys.map((k) => this.#changes.publish('keypair', k.keyId)));
    await sleep(CHANGE_POLL_WAIT_MS);
  }

  /** Failure counts of `keys` after a wrong-secret point: how many failures were counted, and how many keys locked. */
  /**
   * The failure counts and locks of `keys`, once the server has written them:
   * it counts a wrong secret after answering it, so the counts may still move
   * for a moment after the last answer. Read until two reads in a row agree.
   */
  async failureState(keys: SeededKey[]): Promise<{ counted: number; locked: number }> {
    let last = await this.#readFailureState(keys);
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      await sleep(SETTLE_READ_MS);
      const now = await this.#readFailureState(keys);
      if (now.counted === last.counted && now.locked === last.locked) return now;
      last = now;
    }
    return last;
  }

  async #readFailureState(keys: SeededKey[]): Promise<{ counted: number; locked: number }> {
    const docs = await this.#models.Keypair.collection.find(
      { _id: { $in: keys.map((k) => k.keyId) } } as never,
      { projection: { failedAttempts: 1, lockedUntil: 1, lockedPermanently: 1 } },
    ).toArray() as unknown as Pick<KeypairDoc, 'failedAttempts' | 'lockedUntil' | 'lockedPermanently'>[];
    const now = new Date();
    return {
      counted: docs.reduce((sum, d) => sum + (d.failedAttempts ?? 0), 0),
      locked: docs.filter((d) => d.lockedPermanently || (d.lockedUntil && d.lockedUntil > now)).length,
    };
  }
}
