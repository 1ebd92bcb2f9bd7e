// The keypairs collection behind the KeypairStore contract (src/db/contract.ts):
// the queries, one writer at a time per key (serial-writes.ts), the in-process
// record cache that the token endpoint reads, and the change feed that drops
// it everywhere after a write.
import { LRUCache } from 'lru-cache';
import { trusted, type Model } from 'mongoose';
import { readThrough } from './read-through.ts';
import type { ChangeFeed } from './contract.ts';
import { beganRun, type FailureCounters, type FailureWrite } from './contract.ts';
import type { ExpiryNotice, FailureCountOutcome, KeypairChanges, KeypairListScope, KeypairPageQuery, KeypairRecord, KeypairStore, NewKeypair, UsageWrite } from './contract.ts';
import { SerialWrites } from './serial-writes.ts';
import { countUpTo, escapeRegExp, fillInListKeys, findPage, listKeys, nameKey } from './keypair-list.ts';

/** A fresh filter per query: mongoose casts (and so rewrites) the filter objects it is given. */
function unlockedAt(now: Date) {
  return { lockedPermanently: false, $or: [{ lockedUntil: null }, { lockedUntil: trusted({ $lte: now }) }] };
}

/** A fresh filter per query: which keypairs an expiry notice is due for (contract: expiryNoticesDue). */
function noticeDue(notice: ExpiryNotice, now: Date, horizon: Date) {
  return notice === 'expired'
    ? { expiresAt: trusted({ $ne: null, $lte: now }), expiredNoticeAt: null }
    : { expiresAt: trusted({ $gt: now, $lte: horizon }), expiringNoticeAt: null };
}

/** The later of two times (a last use is never moved back by a batch counted elsewhere earlier). */
const later = (a: Date | null | undefined, b: Date): Date => (a && a > b ? a : b);

/** A change of name also changes the keypair's place in name order (keypair-list.ts). */
function withNameKey(keyId: string, set: KeypairChanges): KeypairChanges & { nameKey?: string } {
  return set.name === undefined ? set : { ...set, nameKey: nameKey(set.name, keyId) };
}

const COUNTER_FIELDS = { failedAttempts: 1, failuresAtLastLock: 1, temporaryLocks: 1, lockedUntil: 1, lockedPermanently: 1, failureSources: 1 } as const;

export class MongooseKeypairStore implements KeypairStore {
  readonly failureWritesInFlight: number;
  readonly #model: Model<KeypairRecord>;
  readonly #changes: ChangeFeed;
  /** Every write of a keypair document goes through here (serial-writes.ts: FerretDB v1 updates are not atomic). */
  readonly #writes: SerialWrites;
  /**
   * Keypair records for authentication, read once and kept in process (oidc-provider
   * asks for the client on every token request). Every write goes through
   * #serialized(), which clears it here at once and, through the change feed,
   * in every other process within a poll. The TTL is only a safety net (a lost poll).
   */
  readonly #records = new LRUCache<string, { doc: KeypairRecord | null }>({
    max: 250_000,
    ttl: 60_000,
    // Past the TTL, answer from the old copy while a fresh one loads in the background:
    // a change deletes the entry outright (never merely stale), so this only affects the
    // safety-net refresh, which must not put a database read on the hot path.
    allowStale: true,
    fetchMethod: async (keyId) => ({ doc: await this.#model.findById(keyId).lean<KeypairRecord>() }),
  });

  /** Keys changed while warmUp() was reading: their (possibly older) copy is not cached. */
  #changedDuringWarmUp: Set<string> | null = null;

  constructor(options: { model: Model<KeypairRecord>; changes: ChangeFeed; failureWritesInFlight: number }) {
    this.#model = options.model;
    this.#changes = options.changes;
    this.failureWritesInFlight = options.failureWritesInFlight;
    this.#writes = new SerialWrites(options.model.db, 'keypair_write_leases');
    this.#changes.onChange((kind, key) => {
      if (kind !== 'keypair') return;
      this.#records.delete(key);
      this.#changedDuringWarmUp?.add(key);
    });
  }

  findCached(keyId: string): KeypairRecord | null | Promise<KeypairRecord | null> {
    const entry = readThrough(this.#records, keyId);
    if ('then' in entry) return entry.then((loaded) => loaded?.doc ?? null);
    return entry.doc;
  }

  findById(keyId: string): Promise<KeypairRecord | null> {
    return this.#model.findById(keyId).lean<KeypairRecord>().exec();
  }

  /**
   * Reads the most recently used keypairs into the cache, so that the first
   * request of each client after a start does not wait for a database read.
   */
  async warmUp(limit: number): Promise<number> {
    this.#changedDuringWarmUp = new Set();
    try {
      const docs = await this.#model.find({}).sort({ lastUsedAt: -1 }).limit(limit).lean<KeypairRecord[]>();
      let cached = 0;
      for (const doc of docs) {
        if (this.#changedDuringWarmUp.has(doc._id) || this.#records.has(doc._id)) continue;
        this.#records.set(doc._id, { doc });
        cached++;
      }
      return cached;
    } finally {
      this.#changedDuringWarmUp = null;
    }
  }

  listPage(owner: KeypairListScope, query: KeypairPageQuery): Promise<KeypairRecord[]> {
    return findPage(this.#model, owner, query);
  }

  countUpTo(owner: KeypairListScope, query: Omit<KeypairPageQuery, 'sort' | 'limit' | 'offset' | 'after' | 'before'>, cap: number): Promise<number> {
    return countUpTo(this.#model, owner, query, cap);
  }

  fillInListKeys(): Promise<number> {
    return fillInListKeys(this.#model);
  }

  async existsWithName(owner: { accountId: string; environmentId: string | null }, name: string): Promise<boolean> {
    const found = await this.#model.findOne({ accountId: owner.accountId, environmentId: owner.environmentId, name: trusted({ $regex: `^${escapeRegExp(name)}$`, $options: 'i' }) }, { _id: 1 }).lean();
    return found !== null;
  }

  async listIds(owner: { accountId: string } | { environmentId: string }, limit: number): Promise<string[]> {
    const docs = await this.#model.find(owner, { _id: 1 }).limit(limit).lean<{ _id: string }[]>();
    return docs.map((doc) => doc._id);
  }

  async insert(keypair: NewKeypair): Promise<KeypairRecord> {
    const doc = await this.#model.create({ ...keypair, ...listKeys(keypair) });
    await this.#changed(doc._id); // clears "no such key" answers cached before it existed
    return doc.toObject();
  }

  change(keyId: string, set: KeypairChanges, options: { advanceTokenGeneration?: boolean; ifRevision?: number } = {}): Promise<KeypairRecord | null> {
    const filter = options.ifRevision === undefined ? { _id: keyId } : { _id: keyId, revision: options.ifRevision };
    const inc = options.advanceTokenGeneration ? { revision: 1, tokenGeneration: 1 } : { revision: 1 };
    return this.#serialized(keyId, () => this.#model.findOneAndUpdate(filter, { $set: withNameKey(keyId, set), $inc: inc }, { returnDocument: 'after' }).lean<KeypairRecord>());
  }

  rewrite(keyId: string, build: (current: KeypairRecord) => { set: KeypairChanges; advanceTokenGeneration?: boolean }, attempts: number): Promise<{ outcome: 'changed'; before: KeypairRecord; after: KeypairRecord } | { outcome: 'not_found' } | { outcome: 'conflict' }> {
    return this.#serialized(keyId, async () => {
      for (let attempt = 0; attempt < attempts; attempt++) {
        const before = await this.findById(keyId);
        if (!before) return { outcome: 'not_found' as const };
        const { set, advanceTokenGeneration } = build(before);
        const after = await this.#model.findOneAndUpdate(
          { _id: keyId, revision: before.revision },
          { $set: withNameKey(keyId, set), $inc: advanceTokenGeneration ? { revision: 1, tokenGeneration: 1 } : { revision: 1 } },
          { returnDocument: 'after' },
        ).lean<KeypairRecord>();
        if (after) return { outcome: 'changed' as const, before, after };
      }
      return { outcome: 'conflict' as const };
    });
  }

  delete(keyId: string): Promise<KeypairRecord | null> {
    return this.#serialized(keyId, () => this.#model.findOneAndDelete({ _id: keyId }).lean<KeypairRecord>());
  }

  deleteIfRevision(keyId: string, revision: number): Promise<KeypairRecord | null> {
    return this.#serialized(keyId, () => this.#model.findOneAndDelete({ _id: keyId, revision }).lean<KeypairRecord>());
  }

  async expiryNoticesDue(notice: ExpiryNotice, now: Date, horizon: Date, limit: number): Promise<string[]> {
    const docs = await this.#model.find(noticeDue(notice, now, horizon), { _id: 1 }).limit(limit).lean<{ _id: string }[]>();
    return docs.map((doc) => doc._id);
  }

  markExpiryNotice(keyId: string, notice: ExpiryNotice, now: Date, horizon: Date): Promise<KeypairRecord | null> {
    // An expired notice also marks the warning as given: none comes after the fact.
    const set = notice === 'expired' ? { expiredNoticeAt: now, expiringNoticeAt: now } : { expiringNoticeAt: now };
    return this.#serialized(keyId, () => this.#model.findOneAndUpdate(
      { _id: keyId, ...noticeDue(notice, now, horizon) },
      { $set: set },
      { returnDocument: 'after' },
    ).lean<KeypairRecord>(), { quiet: true });
  }

  countFailures(keyId: string, seen: FailureCounters, decide: (counters: FailureCounters) => FailureWrite | null): Promise<FailureCountOutcome> {
    return this.#serialized(keyId, () => this.#countFailures(keyId, seen, decide), {
      othersNeedIt: (result) => result.othersMustHear,
      keepHere: (result) => result.record,
    }).then((result) => result.outcome);
  }

  /**
   * The count and the lock as one conditional update each (lockout.ts says what
   * each condition is for). Returns, besides the outcome, whether every process's
   * cache must hear of it, and otherwise the record as written, which this
   * process's cache keeps: the next wrong secret of the key then reads nothing.
   */
  async #countFailures(keyId: string, first: FailureCounters, decide: (counters: FailureCounters) => FailureWrite | null): Promise<{ outcome: FailureCountOutcome; othersMustHear: boolean; record?: KeypairRecord }> {
    let seen: FailureCounters | null = first;
    for (let attempt = 0; attempt < 10 && seen; attempt++) {
      const write = decide(seen);
      if (!write) break;
      // The failure sources ride on the count's own update: no write of their own.
      const sources = write.failureSources ? { failureSources: write.failureSources } : {};
      if (write.kind === 'increment') {
        const counted = await this.#model.findOneAndUpdate(
          { _id: keyId, ...unlockedAt(write.now), failuresAtLastLock: write.failuresAtLastLock, failedAttempts: trusted({ $lt: write.failedAttemptsBelow }) },
          { $inc: { failedAttempts: write.by }, ...(write.failureSources ? { $set: sources } : {}) },
          // No projection: FerretDB v1 does not implement findAndModify's `fields`.
          { returnDocument: 'after' },
        ).lean<KeypairRecord>();
        if (counted) return beganRun(counted, write.by) ? { outcome: { outcome: 'counted' }, othersMustHear: true } : { outcome: { outcome: 'counted' }, othersMustHear: false, record: counted };
      } else {
        const { failedAttempts, lockedUntil } = write;
        const locked = await this.#model.findOneAndUpdate(
          { _id: keyId, ...unlockedAt(write.now), ...write.expected },
          write.permanent
            ? { $set: { failedAttempts, failuresAtLastLock: failedAttempts, lockedPermanently: true, ...sources } }
            : { $set: { failedAttempts, failuresAtLastLock: failedAttempts, lockedUntil, ...sources }, $inc: { temporaryLocks: 1 } },
          { returnDocument: 'after' },
        ).lean<KeypairRecord>();
        if (locked) return { outcome: { outcome: 'locked', write, record: locked }, othersMustHear: true };
      }
      seen = await this.#model.findById(keyId, COUNTER_FIELDS).lean<FailureCounters>();
    }
    return { outcome: { outcome: 'not_counted' }, othersMustHear: true }; // locked meanwhile, gone, or still contended: let every cache read it again
  }

  async resetFailures(keyId: string, now: Date): Promise<void> {
    await this.#serialized(keyId, () => this.#model.updateOne(
      { _id: keyId, ...unlockedAt(now) },
      { $set: { failedAttempts: 0, failuresAtLastLock: 0, temporaryLocks: 0 } },
    ));
  }

  recordSecretUsage(keyId: string, build: (current: KeypairRecord) => UsageWrite | null, options: { cached?: KeypairRecord | null } = {}): Promise<{ before: KeypairRecord; after: KeypairRecord } | null> {
    return this.#serialized(keyId, async () => {
      // The cached record first: when no other process wrote the key since, the batch is this one update and nothing else.
      let before: KeypairRecord | null = options.cached ?? null;
      for (let attempt = 0; attempt < 3; attempt++) {
        if (!before || attempt > 0) before = await this.findById(keyId);
        if (!before) return null;
        const next = build(before);
        if (!next) return null;
        const set: Record<string, unknown> = { secrets: next.secrets, endedSecrets: next.endedSecrets ?? [] };
        if (next.lastUsedAt) set.lastUsedAt = later(before.lastUsedAt, next.lastUsedAt);
        // Thumbprints are base64url: safe as a field name (no '.', no '$').
        for (const [thumbprint, at] of Object.entries(next.keysLastUsedAt)) set[`keysLastUsedAt.${thumbprint}`] = later(before.keysLastUsedAt?.[thumbprint], at);
        // Rule ids are `tr_` + base62: safe as a field name too.
        for (const [ruleId, at] of Object.entries(next.trustRulesLastUsedAt)) set[`trustRulesLastUsedAt.${ruleId}`] = later(before.trustRulesLastUsedAt?.[ruleId], at);
        const after = await this.#model.findOneAndUpdate(
          { _id: keyId, revision: before.revision },
          { $set: set, $inc: { revision: 1 } },
          { returnDocument: 'after' },
        ).lean<KeypairRecord>();
        if (after) return { before, after };
      }
      return null;
    }, { othersNeedIt: () => false, keepHere: (written) => written?.after });
  }

  /**
   * Runs one write of a keypair document after every earlier one (serial-writes.ts),
   * then tells every process's cache (the change feed). `quiet` is for writes
   * that authentication does not read (the expiry notices). `othersNeedIt` decides from
   * the write's result whether other processes must hear of it; this process's
   * cache then drops the record, or keeps the one `keepHere` returns, the record
   * as the write left it (a failed write publishes everywhere).
   */
  async #serialized<T>(keyId: string, write: () => PromiseLike<T>, options: { quiet?: boolean; othersNeedIt?: (written: T) => boolean; keepHere?: (written: T) => KeypairRecord | undefined } = {}): Promise<T> {
    let everywhere = true;
    let kept: KeypairRecord | undefined;
    try {
      const written = await this.#writes.run(keyId, write);
      if (options.othersNeedIt) everywhere = options.othersNeedIt(written);
      kept = options.keepHere?.(written);
      return written;
    } finally {
      if (!options.quiet) {
        if (everywhere) await this.#changed(keyId);
        else if (kept) this.#records.set(keyId, { doc: kept });
        else this.#changes.applyHere('keypair', keyId);
      }
    }
  }

  async #changed(keyId: string): Promise<void> {
    await this.#changes.publish('keypair', keyId);
  }
}
