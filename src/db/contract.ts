// The storage contract: the records the domain reads and writes, and the store
// interfaces through which it does. The domain depends on these interfaces
// only; src/db implements them (with mongoose, on MongoDB or the embedded
// FerretDB) and owns everything about how: queries, the FerretDB workarounds
// (serialized writes, leases), the keypair-record cache and the change feed
// that keeps every process's caches honest.
//
// Each method says what it receives, what it guarantees (atomicity, the
// conditions a write is held to) and what it returns. A method that "publishes"
// tells every process's caches of the change (this one at once, the others
// within a poll of the change feed) before it returns.
//
// One file, over 400 lines, on purpose: the contract is read as a whole (like
// node-oidc-provider's example adapter), and most of its lines are the
// guarantees written out.
/**
 * A write that could not take its turn on a record (another process held the
 * record's write lease for too long, on a FerretDB build without Keyport's
 * atomic updates). Nothing was written; the request may be repeated. Answered
 * like a domain conflict (409).
 */
export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
}

// The contract belongs to the storage layer, which offers it; the domain's rules
// (src/domain/lockout.ts, secrets.ts) work on these shapes.

/** A secret as stored (the secret itself never is). */
export interface StoredSecret {
  /** HMAC-SHA-256(pepper, secret), base64url. The secret itself is never stored. */
  hash: string;
  createdAt: Date;
  /** Set on the previous secret during a rotation's grace period; null for the current one. */
  expiresAt: Date | null;
  /** The secret's last 4 characters, to tell secrets apart (`kps_…AbC9`). Secrets issued before hints existed have none. */
  hint?: string | null;
  /** The last authentication with this secret (batched: written at most about once a minute). Absent on older records. */
  lastUsedAt?: Date | null;
  /** Authentications with this secret (batched like lastUsedAt). Absent on older records: 0. */
  useCount?: number;
  /** On a previous secret: it ends early once unused for this long (retireWhenIdle). */
  retireWhenIdleMs?: number | null;
  /** When retireWhenIdle was set: the idle time counts from then at the earliest. */
  retireWhenIdleSince?: Date | null;
  /** On a previous secret: when `keypair.previous_secret_still_used` was last audited (at most once a day). */
  stillUsedAuditedAt?: Date | null;
}

/**
 * A secret that no longer authenticates (regenerated, its grace period over,
 * ended early), kept for `secrets.endedRetentionDays` so that a client still
 * sending it is recognised: refused like a wrong secret, but not counted
 * toward the lockout, and reported as "ended secret still in use".
 */
export interface EndedSecret {
  /** HMAC-SHA-256(pepper, secret), base64url, as while it was live. */
  hash: string;
  hint: string | null;
  createdAt: Date;
  endedAt: Date;
  /** Its use while it was live. */
  lastUsedAt: Date | null;
  useCount: number;
  /** Presented after it ended: how often, when last, and from which address. */
  endedUseCount: number;
  endedLastSeenAt: Date | null;
  endedLastAddress: string | null;
  /** When `keypair.ended_secret_used` was last audited for it (at most once a day). */
  endedAuditedAt: Date | null;
}

/** One public key's successful client assertions counted in memory since the last write (KeypairStore.recordSecretUsage). */
export interface PublicKeyUsageBatch {
  thumbprint: string;
  uses: number;
  lastUsedAt: Date;
}

/** One trust rule's successful federated exchanges counted in memory since the last write (KeypairStore.recordSecretUsage). */
export interface TrustRuleUsageBatch {
  ruleId: string;
  uses: number;
  lastUsedAt: Date;
}

/** What one batch of usage writes to a keypair (KeypairStore.recordSecretUsage). */
export interface UsageWrite extends Pick<KeypairRecord, 'secrets' | 'endedSecrets'> {
  /** Raised to this (never lowered): the last successful authentication of the batch, by secret or key. */
  lastUsedAt: Date | null;
  /** Per thumbprint, raised likewise: the last assertion each key signed in the batch. */
  keysLastUsedAt: Record<string, Date>;
  /** Per trust rule id, raised likewise: the last exchange each rule admitted in the batch. */
  trustRulesLastUsedAt: Record<string, Date>;
}

/** One secret's authentications counted in memory since the last write (KeypairStore.recordSecretUsage). */
export interface SecretUsageBatch {
  hash: string;
  /** Successful authentications, and the last one's time. */
  uses: number;
  lastUsedAt: Date | null;
  /** Presentations after the secret ended, the last one's time and source address. */
  endedUses: number;
  endedLastSeenAt: Date | null;
  endedLastAddress: string | null;
}

/**
 * A public key of a key-based keypair (private_key_jwt): clients sign their
 * token requests with its private key, which Keyport never sees.
 */
export interface StoredPublicKey {
  /** RFC 7638 SHA-256 thumbprint (base64url): the key's id in the API, the CLI and the UI. */
  thumbprint: string;
  /** The `kid` assertions may name it by: the uploaded JWK's own kid, else the thumbprint. */
  kid: string;
  /** The public JWK members (kty, crv, x, y / n, e), and `alg` when the key is pinned to one. */
  jwk: Record<string, string>;
  createdAt: Date;
  /** Set when the key is retired with a grace period: it authenticates until then. Null while current. */
  expiresAt: Date | null;
}

/**
 * A trust rule of a keypair (federated workload identity): an OIDC token of an
 * external issuer whose claims match the rule authenticates the keypair.
 */
export interface StoredTrustRule {
  /** `tr_` + random: the rule's id in the API, the CLI and the UI. */
  id: string;
  /** The token's `iss`, exactly; on the instance's allow-list (federation.issuers) when the rule was added. */
  issuer: string;
  /** The token's `sub`: exact, or a prefix followed by one trailing `*`. */
  subject: string;
  /** A value the token's `aud` must hold. */
  audience: string;
  /**
   * Further claims the token must have, each equal to `value`. `name` is a
   * claim's name, or a path into nested claims with '/' (`kubernetes.io/namespace`).
   * A list rather than an object: claim names may hold '.' and '$'.
   */
  claims: { name: string; value: string }[];
  createdAt: Date;
}

/** The counters a keypair keeps for its lockout. */
export interface LockoutCounters {
  /** Consecutive wrong secrets since the last success (not counted while locked). */
  failedAttempts: number;
  /** failedAttempts when the last lock was set: the next lock comes maxFailures later. */
  failuresAtLastLock: number;
  /** Temporary locks since the last success; each lasts twice as long as the one before. */
  temporaryLocks: number;
  lockedUntil: Date | null;
  lockedPermanently: boolean;
}

/**
 * One source address of recent counted failures on a keypair (security context
 * for its admins): how many, and when the last one came. Kept in a short,
 * bounded list (src/domain/failure-sources.ts), written by the failure count itself.
 */
export interface FailureSource {
  address: string;
  count: number;
  lastSeenAt: Date;
}

/** What a failure count reads and decides on: the lockout counters and the recent failure sources. */
export type FailureCounters = LockoutCounters & { failureSources?: FailureSource[] };


/**
 * What counting a batch of wrong secrets writes, given the counters it saw.
 * Either way the write applies only while the key is unlocked at `now`, so that
 * a failure never extends a lock.
 *
 * - `increment`: add `by` to failedAttempts, on condition that failuresAtLastLock
 *   is still `failuresAtLastLock` and failedAttempts is below `failedAttemptsBelow`
 *   (so that the increment cannot reach the threshold, whatever others counted);
 * - `lock`: the batch reaches the threshold: on condition that the counters are
 *   exactly `expected`, set failedAttempts and failuresAtLastLock to
 *   `failedAttempts` and lock, permanently or until `lockedUntil` (then one more
 *   temporary lock). Exactly one such write can match, so a key locks once per run.
 */
export type FailureWrite = (
  | { kind: 'increment'; now: Date; by: number; failuresAtLastLock: number; failedAttemptsBelow: number }
  | {
    kind: 'lock';
    now: Date;
    expected: Pick<LockoutCounters, 'failedAttempts' | 'failuresAtLastLock' | 'temporaryLocks'>;
    failedAttempts: number;
    permanent: boolean;
    /** The end of a temporary lock; null for a permanent one. */
    lockedUntil: Date | null;
  }
) & {
  /** Either kind: the keypair's failure sources to set in the same update (absent: left as they are). */
  failureSources?: FailureSource[];
};

/**
 * True when an increment of `by` began a run of failures (the counters after it
 * show no earlier failure since the last lock): a cached copy elsewhere may still
 * say "no failures", and a success there must know to reset the count.
 */
export function beganRun(after: Pick<LockoutCounters, 'failedAttempts' | 'failuresAtLastLock'>, by: number): boolean {
  return after.failedAttempts - after.failuresAtLastLock <= by;
}


/**
 * An API keypair as stored. `_id` is the key id (kept under the storage name so
 * that a record read from the database is used as it is, on the token
 * endpoint's hot path, without being copied).
 */
export interface KeypairRecord extends LockoutCounters {
  _id: string;
  ownerType: 'account' | 'environment';
  accountId: string;
  environmentId: string | null;
  name: string;
  comment: string;
  scopes: string[];
  enabled: boolean;
  /** Current secret first; at most one previous secret (with expiresAt) after it. */
  secrets: StoredSecret[];
  createdAt: Date;
  createdBy: string;
  updatedAt: Date;
  lastUsedAt: Date | null;
  lastRotatedAt: Date | null;
  /** Incremented by every administrative change: the optimistic-concurrency guard of rotations. */
  revision: number;
  /**
   * The keypair's token generation, carried by every token issued to it (claim
   * `gen`). Regenerating (by default) and disabling advance it, and tokens of an
   * earlier generation are no longer honoured: exact, where a cut-off by `iat`
   * (whole seconds) could neither keep a token issued just after the change nor
   * refuse one issued just before it in the same second.
   */
  tokenGeneration: number;
  /** When tokens were last revoked this way (null: never). */
  tokensRevokedAt: Date | null;
  /** When the keypair stops authenticating (null or absent: never; records from before expiry have none). */
  expiresAt?: Date | null;
  /**
   * When the expiry sweep recorded keypair.expiring / keypair.expired for the
   * current expiresAt (absent or null: not yet). Each is set by one conditional
   * update, so that every process may sweep and each event is recorded once;
   * changing expiresAt clears both.
   */
  expiringNoticeAt?: Date | null;
  expiredNoticeAt?: Date | null;
  /** Token requests must carry a DPoP proof (RFC 9449); absent on records written before the option: false. */
  dpopRequired?: boolean;
  /** Secrets that ended within `secrets.endedRetentionDays`, newest first. Absent on older records: none. */
  endedSecrets?: EndedSecret[];
  /** Public keys for private_key_jwt, at most 5. Records from before keys existed have none: read as []. */
  publicKeys?: StoredPublicKey[];
  /** When each public key (by thumbprint) last authenticated, written at most once a minute per key. Absent: never. */
  keysLastUsedAt?: Record<string, Date>;
  /** Source addresses of recent counted failures, newest first, bounded; written with the failure count. Absent on older records: none. */
  failureSources?: FailureSource[];
  /** Trust rules for federated workload identity, at most 10. Absent on older records: none. */
  trustRules?: StoredTrustRule[];
  /** When each trust rule (by id) last authenticated, written at most once a minute per rule. Absent: never. */
  trustRulesLastUsedAt?: Record<string, Date>;
  /** Sort keys of the keypair lists (src/db/keypair-list.ts), written by the store; records of an older Keyport get them at the next start. */
  nameKey?: string;
  createdKey?: string;
}

/** What creating a keypair gives; the store starts the counters, revision and generation at zero. */
export type NewKeypair = Pick<KeypairRecord, '_id' | 'ownerType' | 'accountId' | 'environmentId' | 'name' | 'comment' | 'scopes' | 'enabled' | 'secrets' | 'createdAt' | 'createdBy' | 'updatedAt' | 'expiresAt' | 'dpopRequired'>
  & Partial<Pick<KeypairRecord, 'publicKeys' | 'trustRules'>>;

/** Fields an administrative change may set (never the id, the owner or the counters' history alone). */
export type KeypairChanges = Partial<Pick<KeypairRecord,
  'name' | 'comment' | 'scopes' | 'enabled' | 'secrets' | 'endedSecrets' | 'updatedAt' | 'lastRotatedAt' | 'tokensRevokedAt' | 'expiresAt' | 'expiringNoticeAt' | 'expiredNoticeAt' | 'dpopRequired' | 'publicKeys' | 'trustRules' | keyof LockoutCounters>>;

/**
 * A listing's filter: `locked` at `now`, or `enabled` / `disabled` and not locked at `now`;
 * `expiring`: expiresAt after `now` and at most `expiringBefore`; `expired`: expiresAt at or before `now`.
 */
export type KeypairListStatus = 'enabled' | 'disabled' | 'locked' | 'expiring' | 'expired';

/** The orders of a keypair list: name A–Z (any case; `-name`: Z–A), created oldest first (`-created`: newest first). */
export type KeypairListSort = 'name' | '-name' | 'created' | '-created';

/**
 * Whose keypairs a list reads: one owner's (`environmentId` null: the account's
 * own), or, with `acrossEnvironments`, every keypair of the account, its own and
 * all its environments' in one list.
 */
export type KeypairListScope = { accountId: string; environmentId: string | null } | { accountId: string; acrossEnvironments: true };

/**
 * A keyset page (KeypairStore.listPage): after the sort key `after` or before `before`
 * (a cursor), or `offset` rows in; `namePrefix` (any case) or `keyId` narrow it.
 * With `commentContains`, a keypair whose comment holds that text (any case)
 * matches as well as one whose name starts with `namePrefix`: not index-bound,
 * so asked only of small lists (src/domain/keypair-pages.ts).
 */
export interface KeypairPageQuery {
  sort: KeypairListSort;
  status?: KeypairListStatus;
  namePrefix?: string;
  keyId?: string;
  commentContains?: string;
  now: Date;
  expiringBefore?: Date;
  after?: string;
  before?: string;
  offset?: number;
  limit: number;
}

/** Which expiry notice the sweep records (KeypairStore.expiryNoticesDue, markExpiryNotice). */
export type ExpiryNotice = 'expiring' | 'expired';

/** What counting a batch of failures ended with (KeypairStore.countFailures). */
export type FailureCountOutcome =
  | { outcome: 'counted' }
  /** This count locked the key: `write` is the lock it wrote, `record` the keypair after it. */
  | { outcome: 'locked'; write: Extract<FailureWrite, { kind: 'lock' }>; record: KeypairRecord }
  /** Nothing was written: the key was locked or gone, or stayed contended. */
  | { outcome: 'not_counted' };

/**
 * The keypairs collection. Every write of one keypair (including the failure
 * counts and the batched usage) runs after the earlier writes of the same key, in this
 * process and, on a database whose single-document updates are not atomic,
 * across processes (a lease). Every write that authentication reads publishes, so no
 * cache keeps a copy older than a change.
 */
export interface KeypairStore {
  /** How many failure counts may be written at once (one on the embedded database, which writes one document at a time anyway). */
  readonly failureWritesInFlight: number;

  /**
   * The record for authentication, from this process's cache: the record itself
   * (or null, no such key) when the cache holds a fresh entry, without a promise;
   * otherwise the promise of one read by id. A cached entry past its safety-net
   * age still answers while a fresh copy loads in the background. Every write
   * through this store, here or in another process, drops the entry.
   */
  findCached(keyId: string): KeypairRecord | null | Promise<KeypairRecord | null>;
  /** The record as the database holds it now (not the cache): for admin reads and rotations. */
  findById(keyId: string): Promise<KeypairRecord | null>;
  /** Fills the cache with the `limit` most recently used keypairs (keys changed meanwhile are skipped); returns how many it cached. */
  warmUp(limit: number): Promise<number>;
  /**
   * Up to `limit + 1` of an owner's keypairs in `query.sort` order (one more than
   * a page: whether another follows), read through an index on both databases.
   */
  listPage(owner: KeypairListScope, query: KeypairPageQuery): Promise<KeypairRecord[]>;
  /** How many keypairs match, counted only up to `cap + 1` (through the same index: never a scan). */
  countUpTo(owner: KeypairListScope, query: Omit<KeypairPageQuery, 'sort' | 'limit' | 'offset' | 'after' | 'before'>, cap: number): Promise<number>;
  /** Writes the list sort keys into records that lack them (written before they existed); returns how many. */
  fillInListKeys(): Promise<number>;
  /** Whether the owner has a keypair of this name (compared case-insensitively): the web UI asks before adding a second one. */
  existsWithName(owner: { accountId: string; environmentId: string | null }, name: string): Promise<boolean>;
  /** Key ids of keypairs of an account (every environment's too) or of one environment, at most `limit` (for closing). */
  listIds(owner: { accountId: string } | { environmentId: string }, limit: number): Promise<string[]>;

  /** Inserts a new keypair (its key id must be new) and publishes; returns the stored record. */
  insert(keypair: NewKeypair): Promise<KeypairRecord>;
  /**
   * One atomic administrative change: sets `set`, increments `revision`, and
   * with `advanceTokenGeneration` increments `tokenGeneration`. With `ifRevision`
   * it applies only while the revision is still that one (rotation's guard).
   * Publishes. Returns the record after the change, or null when no keypair
   * matched (none with this id, or another revision).
   */
  change(keyId: string, set: KeypairChanges, options?: { advanceTokenGeneration?: boolean; ifRevision?: number }): Promise<KeypairRecord | null>;
  /**
   * A read-modify-write of one keypair, in the key's write turn: reads the record
   * from the database, asks `build` for the change, and applies it atomically
   * on condition that the revision is still the one read (incrementing it, and
   * the token generation with `advanceTokenGeneration`). When another process
   * changed the keypair meanwhile, reads and builds again, `attempts` times at
   * most. Publishes. Returns the record read and the record after the change;
   * `not_found` when there is no such keypair; `conflict` when every attempt lost.
   */
  rewrite(keyId: string, build: (current: KeypairRecord) => { set: KeypairChanges; advanceTokenGeneration?: boolean }, attempts: number): Promise<
    | { outcome: 'changed'; before: KeypairRecord; after: KeypairRecord }
    | { outcome: 'not_found' }
    | { outcome: 'conflict' }>;
  /** Deletes a keypair and publishes; returns the record it deleted, or null when there was none. */
  delete(keyId: string): Promise<KeypairRecord | null>;
  /**
   * Deletes a keypair only while its revision is still `revision` (one atomic
   * conditional delete, in the key's write turn) and publishes. Returns the
   * record it deleted, or null when none matched (gone, or changed meanwhile):
   * of two replacements of one keypair, exactly one deletes it.
   */
  deleteIfRevision(keyId: string, revision: number): Promise<KeypairRecord | null>;

  /**
   * Key ids (at most `limit`) whose notice is due and not yet recorded:
   * `expiring`: expiresAt after `now` and at most `horizon`; `expired`: expiresAt at or before `now`.
   */
  expiryNoticesDue(notice: ExpiryNotice, now: Date, horizon: Date, limit: number): Promise<string[]>;
  /**
   * Records the notice on one keypair at `now`, atomically and only while it is
   * still due and unrecorded (as in expiryNoticesDue): across every process,
   * exactly one call records it. An `expired` notice also records `expiring`
   * (a keypair that expired between two sweeps gets no late warning). Does not
   * publish (authentication does not read the notices). Returns the record after
   * the change, or null when this call recorded nothing.
   */
  markExpiryNotice(keyId: string, notice: ExpiryNotice, now: Date, horizon: Date): Promise<KeypairRecord | null>;

  /**
   * Counts a batch of wrong secrets with the write `decide` returns for the
   * counters it is given (lockout.ts, failureWrite), starting from `seen`: one
   * atomic conditional update. When it matches nothing (another process
   * counted, locked, reset or unlocked meanwhile) the store reads the counters
   * again and asks `decide` again, a few times at most. `decide` returning null
   * (locked) ends it. Publishes when the count began a run of failures or
   * locked the key (or failed); a count in between only updates this
   * process's cached record, so that a burst of wrong secrets does not flood
   * the change feed. The write also sets the `failureSources` it carries, if
   * any (no write of its own); a re-read gives `decide` the sources as stored.
   */
  countFailures(keyId: string, seen: FailureCounters, decide: (counters: FailureCounters) => FailureWrite | null): Promise<FailureCountOutcome>;
  /** After a success: failedAttempts, failuresAtLastLock and temporaryLocks to 0, atomically, only while the key is unlocked at `now` (a lock in force stays). Publishes. */
  resetFailures(keyId: string, now: Date): Promise<void>;
  /**
   * Writes a batch of counted usage as ONE update of the keypair: in the key's
   * write turn, asks `build` for the record's new `secrets` and `endedSecrets`
   * and the last uses to raise (`lastUsedAt`, `keysLastUsedAt` per thumbprint,
   * `trustRulesLastUsedAt` per rule;
   * null: nothing to write), and sets them on condition that the revision is
   * still the one built from (incrementing it, so that a rotation racing in
   * another process reads again rather than overwrite the counts). `build`
   * first gets `cached` (this process's cached record) when given, so that a
   * batch costs no read; only a lost race reads the record (a few attempts).
   * Does not publish (authentication reads only the hashes, which this never
   * changes) but keeps the written record in this process's cache. Returns the
   * record before and after, or null when nothing was written (no such key,
   * nothing to write, or it changed meanwhile).
   */
  recordSecretUsage(keyId: string, build: (current: KeypairRecord) => UsageWrite | null, options?: { cached?: KeypairRecord | null }): Promise<{ before: KeypairRecord; after: KeypairRecord } | null>;
}

/** What a change is about: its key is a key id, an account or environment id, a jti, or a signing key's kid. */
export type ChangeKind = 'keypair' | 'owner' | 'revocation' | 'signing-key';
export type ChangeListener = (kind: ChangeKind, key: string) => void;
/** Told when polls start failing (healthy false, with the error) and when they succeed again. */
export type HealthListener = (healthy: boolean, err?: unknown) => void;

/**
 * Keeps every process's in-process caches honest (docs/architecture.md, The change
 * feed). A change published here reaches this process's listeners before
 * publish() returns, and every other process's within one poll.
 */
export interface ChangeFeed {
  /** Listens to every change, this process's own included. */
  onChange(listener: ChangeListener): void;
  /** Tells this process's listeners at once, then records the change for the others; rejects when the database refuses the record. */
  publish(kind: ChangeKind, key: string): Promise<void>;
  /** A change only this process's caches need to hear of: nothing is recorded. */
  applyHere(kind: ChangeKind, key: string): void;
  /** Reports once when polls start failing and once when they work again. */
  onHealthChange(listener: HealthListener): void;
  /** Starts watching other processes' changes every `pollMs` (servers do; a one-shot CLI command need not). */
  start(pollMs?: number): void;
  stop(): void;
  /** Applies the changes other processes made up to now (resolves after a poll that began after the call). Never rejects. */
  poll(): Promise<void>;
}

export type OwnerStatus = 'active' | 'closing' | 'closed';
export type OwnerType = 'account' | 'environment';

export interface AccountRecord {
  _id: string;
  name: string;
  status: OwnerStatus;
  createdAt: Date;
  closingAt: Date | null;
  closedAt: Date | null;
  /** Accounts only: the longest lifetime, in days, of a new keypair of the account or its environments (absent or null: no limit). */
  maxKeypairLifetimeDays?: number | null;
}

export interface EnvironmentRecord extends AccountRecord {
  accountId: string;
}

/**
 * Accounts and environments. Ids are unique across both kinds (acc_…, env_…).
 * Every update of one owner (rename, status) runs after the earlier ones of the
 * same owner, in this process and, where the database needs it, across
 * processes. Listings are oldest first.
 */
export interface OwnerStore {
  /** Inserts a new account (status `active`); returns the stored record. */
  insertAccount(account: Pick<AccountRecord, '_id' | 'name' | 'createdAt'>): Promise<AccountRecord>;
  /** Inserts a new environment of `accountId` (status `active`); returns the stored record. */
  insertEnvironment(environment: Pick<EnvironmentRecord, '_id' | 'accountId' | 'name' | 'createdAt'>): Promise<EnvironmentRecord>;
  /** Deletes an environment (withdrawing one whose account began closing while it was created). */
  deleteEnvironment(environmentId: string): Promise<void>;
  findAccount(accountId: string): Promise<AccountRecord | null>;
  findEnvironment(environmentId: string): Promise<EnvironmentRecord | null>;
  /** The status of an account or environment (by the id's prefix); null when there is none. */
  findStatus(ownerId: string): Promise<OwnerStatus | null>;
  listAccounts(): Promise<AccountRecord[]>;
  /** The accounts with these ids, oldest first (ties by id). */
  accountsByIds(ids: string[]): Promise<AccountRecord[]>;
  /** The environments with these ids (any account, any status), in no particular order. */
  environmentsByIds(ids: string[]): Promise<EnvironmentRecord[]>;
  /** An account's environments; with `notClosed`, only those not closed. */
  listEnvironments(accountId: string, options?: { notClosed?: boolean }): Promise<EnvironmentRecord[]>;
  /** Ids of the owners of one kind in one status (the cascades to resume). */
  idsWithStatus(type: OwnerType, status: OwnerStatus): Promise<string[]>;
  /** Renames an owner atomically; returns the record after, or null when there is none. */
  rename<T extends OwnerType>(type: T, id: string, name: string): Promise<(T extends 'account' ? AccountRecord : EnvironmentRecord) | null>;
  /** Sets an account's maximum keypair lifetime (null: none), atomically; returns the record after, or null when there is no such account. */
  setMaxKeypairLifetime(accountId: string, days: number | null): Promise<AccountRecord | null>;
  /**
   * Moves an owner from `from` to `to`, atomically and only if it is still in
   * `from`, stamping closingAt / closedAt with `at` when it moves to closing /
   * closed. Publishes an `owner` change whether or not it moved. Returns whether it moved.
   */
  transition(type: OwnerType, id: string, from: OwnerStatus, to: OwnerStatus, at: Date): Promise<boolean>;
}

/** One audit event as stored. `id` is the store's own, opaque and increasing within a millisecond's events. */
export interface AuditEventRecord {
  id: string;
  at: Date;
  /** 'user:<id>', 'keypair:<id>', 'cli' or 'system'. */
  actor: string;
  action: string;
  accountId: string | null;
  environmentId: string | null;
  keypairId: string | null;
  details: Record<string, unknown>;
}

/** The audit trail: append-only (only the webhook mark of an event is ever cleared). */
export interface AuditStore {
  /**
   * Appends one event; returns its id. `webhookPending`: the event is also the
   * webhook outbox's entry (one write, so that no change is recorded without
   * its deliveries, nor the other way round): it is listed by
   * pendingWebhookEvents until webhookQueued.
   */
  insert(event: Omit<AuditEventRecord, 'id'>, options?: { webhookPending?: boolean }): Promise<string>;
  /** Up to `limit` events still marked for webhook deliveries, oldest first. */
  pendingWebhookEvents(limit: number): Promise<AuditEventRecord[]>;
  /** Clears an event's webhook mark: its deliveries are written. Idempotent. */
  webhookQueued(id: string): Promise<void>;
  /**
   * Up to `limit` events matching `filter` (every given field equal; null matches
   * "none"), newest first by (at, id), strictly after `after` in that order.
   */
  page(filter: AuditQuery, query: { limit: number; after?: { at: Date; id: string } }): Promise<AuditEventRecord[]>;
  /** True when `id` has the shape of this store's event ids (a cursor is checked before any query). */
  isEventId(id: string): boolean;
  /** The newest event of `keyId` among `actions`, or null. */
  latestOfKeypair(keyId: string, actions: string[]): Promise<AuditEventRecord | null>;
  /** The events of these keypairs among `actions`, newest first (one query, for the names an audit page shows). */
  latestOfKeypairs(keyIds: string[], actions: string[]): Promise<AuditEventRecord[]>;
}

/**
 * Which audit events a page holds: the given owner fields equal (null matches
 * "none"), `action` and `actor` equal, and `at` within [from, to).
 */
export interface AuditQuery {
  accountId?: string | null;
  environmentId?: string | null;
  keypairId?: string | null;
  action?: string;
  actor?: string;
  from?: Date;
  to?: Date;
}

/** Revoked access tokens (by jti), kept until the token would have expired anyway. */
export interface RevocationStore {
  /** Records a revocation unless the jti is already recorded (one atomic upsert); returns whether this call recorded it. */
  add(revocation: { jti: string; clientId: string; expiresAt: Date }): Promise<boolean>;
  /** Every revocation whose token expires after `now`. */
  unexpired(now: Date): Promise<{ jti: string; expiresAt: Date }[]>;
  /** Deletes the revocations whose token expired before `now` (no TTL indexes on FerretDB v1). */
  deleteExpired(now: Date): Promise<void>;
}

/**
 * A revocation of every token of a credential, for the revocation feed: a
 * keypair's tokens below a generation, all of a removed keypair's tokens
 * (generationBelow absent), or all tokens of a closed account or environment.
 */
export interface RevocationEventRecord {
  kind: 'keypair' | 'account' | 'environment';
  subject: string;
  generationBelow?: number;
  at: Date;
  /** After this no token it can affect is valid any more. */
  expiresAt: Date;
}

/** The revocation events behind the revocation feed, kept until they expire. */
export interface RevocationEventStore {
  /** Records one event (an insert: the feed merges events of the same subject). */
  add(event: RevocationEventRecord): Promise<void>;
  /** Every event that expires after `now`. */
  unexpired(now: Date): Promise<RevocationEventRecord[]>;
  /** Deletes the events that expired before `now` (no TTL indexes on FerretDB v1). */
  deleteExpired(now: Date): Promise<void>;
}

/** A keypair's counts on one UTC day. */
export interface KeypairUsageDay {
  /** Midnight UTC of the day. */
  day: Date;
  /** Successful client authentications (token requests, and introspection or revocation calls by the keypair). */
  authenticated: number;
  /** Failed ones that were counted toward the lockout (wrong secrets, failed assertions). */
  failed: number;
}

/** Daily usage per keypair (its 30-day chart), added to by batched writes only. */
export interface KeypairUsageStore {
  /** Adds to the day's counts (created at zero), atomically: counts from several processes add up. */
  add(keyId: string, day: Date, counts: { authenticated?: number; failed?: number }): Promise<void>;
  /** The counts of each of `days` (midnights UTC), zero for a day without any. */
  days(keyId: string, days: Date[]): Promise<KeypairUsageDay[]>;
  /** Deletes the days before `day` (the retention; no TTL indexes on FerretDB v1). */
  deleteBefore(day: Date): Promise<void>;
}

/**
 * Single-use ids (client assertions' jti, DPoP proofs), shared by every process:
 * an id is accepted once until its expiry.
 */
export interface ReplayStore {
  /**
   * Records `id` until `expiresAt`, atomically (a unique index insert); returns
   * false when it is recorded already and in force at `now` (a replay).
   */
  claim(id: string, expiresAt: Date, now: Date): Promise<boolean>;
  /** Deletes the ids that expired by `now` (no TTL indexes on FerretDB v1). */
  deleteExpired(now: Date): Promise<void>;
}

/** Admin sign-in sessions, by the SHA-256 of the cookie's key (computed by the domain). */
export interface SessionStore {
  find(id: string): Promise<{ data: Record<string, unknown>; expiresAt: Date } | null>;
  /** Creates or replaces a session, atomically. */
  save(id: string, session: { data: Record<string, unknown>; userId: string | null; expiresAt: Date; updatedAt: Date }): Promise<void>;
  delete(id: string): Promise<void>;
  deleteForUser(userId: string): Promise<void>;
  /** Deletes the sessions that expired before `now` (no TTL indexes on FerretDB v1). */
  deleteExpired(now: Date): Promise<void>;
}

/** The one setup link of a fresh installation (only the digest of its token). */
export interface SetupTokenRecord {
  hash: string;
  createdAt: Date;
  expiresAt: Date;
  /** Set while a setup is being completed with this token (claimed), so that it cannot be used twice. */
  claimedAt: Date | null;
}

/** Holds at most one setup token: the newest one issued. */
export interface SetupTokenStore {
  find(): Promise<SetupTokenRecord | null>;
  /** Replaces the token (and any claim on the previous one), atomically. */
  replace(token: SetupTokenRecord): Promise<void>;
  /**
   * Claims the token with digest `hash` at `now`, atomically: only while it is
   * unexpired and unclaimed, or its claim is older than `staleClaimBefore`
   * (an abandoned setup). Returns whether this call claimed it.
   */
  claim(hash: string, now: Date, staleClaimBefore: Date): Promise<boolean>;
  /** Releases a claim on the token with digest `hash` (a setup that failed). */
  release(hash: string): Promise<void>;
  /** Deletes the token; with `hash`, only if it is still that one. */
  delete(hash?: string): Promise<void>;
}

export type Role = 'admin' | 'member';

export interface UserRecord {
  _id: string;
  /** Lowercased. */
  email: string;
  /** scrypt, in the format of users.ts hashPassword. */
  passwordHash: string;
  /** The instance-wide operator role. Users stored before the role existed have none: read as false. */
  operator?: boolean;
  createdAt: Date;
}

/** A user's role on one owner: an account (environmentId null) or one environment. */
export interface MembershipRecord {
  userId: string;
  accountId: string;
  environmentId: string | null;
  role: Role;
  createdAt: Date;
}

/** The owner a membership is on. */
export type MembershipOwner = { accountId: string; environmentId: string | null };

/** People who sign in. Emails are unique. */
export interface UserStore {
  /** Inserts a user; returns the stored record, or null when the email is taken (atomic: a unique index). */
  insert(user: Required<UserRecord>): Promise<UserRecord | null>;
  findById(userId: string): Promise<UserRecord | null>;
  findByEmail(email: string): Promise<UserRecord | null>;
  /** Users with these ids, in no particular order. */
  findByIds(userIds: string[]): Promise<UserRecord[]>;
  exists(userId: string): Promise<boolean>;
  count(): Promise<number>;
  /** Sets the operator role atomically; returns the record as it was before, or null when there is no such user. */
  setOperator(userId: string, operator: boolean): Promise<UserRecord | null>;
}

/** Memberships: at most one per user and owner. */
export interface MembershipStore {
  ofUser(userId: string): Promise<MembershipRecord[]>;
  /** The memberships on exactly this owner (not inherited), oldest first. */
  onOwner(owner: MembershipOwner): Promise<MembershipRecord[]>;
  find(userId: string, owner: MembershipOwner): Promise<MembershipRecord | null>;
  countAdmins(owner: MembershipOwner): Promise<number>;
  /** Sets the user's role on the owner, creating the membership (with `created`'s id and time) if there is none: one atomic upsert. */
  upsert(userId: string, owner: MembershipOwner, role: Role, created: { id: string; createdAt: Date }): Promise<void>;
  /** Deletes the membership; returns it, or null when there was none. */
  delete(userId: string, owner: MembershipOwner): Promise<MembershipRecord | null>;
  /**
   * Runs `work` while no other call of exclusive() for the same owner runs, in
   * this process or any other (a lease, on every database): for the rules that
   * span several memberships (an account keeps an admin).
   */
  exclusive<T>(owner: MembershipOwner, work: () => Promise<T>): Promise<T>;
}

/** A token signing key as stored; which key signs and which are published follows from the times (signing-key-schedule.ts). */
export interface SigningKeyRecord {
  /** The kid (the public JWK's thumbprint). */
  _id: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  /** The private JWK, encrypted (JWE, dir + A256GCM) under the key encryption key. */
  encryptedPrivateJwk: string;
  /** Published in the JWKS from this time. */
  createdAt: Date;
  /** 1, 2, 3…: the order in which the keys were made. */
  generation: number;
  /** Signs from this time, until a later key signs. */
  signFrom: Date;
  /** Revoked (compromised): out of the JWKS, its tokens refused. */
  revokedAt: Date | null;
  /** The audit trail already tells when this key took over. */
  rotationRecorded: boolean;
}

/** The signing keys: a handful of documents, read whole. */
export interface SigningKeyStore {
  /**
   * Every stored key, in no particular order. Keys written by a Keyport from
   * before scheduled rotation lack `generation` and `signFrom` and carry an
   * `active` flag instead (see upgrade()).
   */
  all(): Promise<SigningKeyRecord[]>;
  insert(key: SigningKeyRecord): Promise<void>;
  /** Sets these fields of one key, atomically. */
  update(kid: string, set: Partial<Pick<SigningKeyRecord, 'signFrom' | 'revokedAt' | 'rotationRecorded'>>): Promise<void>;
  /** Brings a key of the older format to this one: sets these fields and drops its `active` flag. */
  upgrade(kid: string, set: Pick<SigningKeyRecord, 'generation' | 'signFrom' | 'revokedAt' | 'rotationRecorded'>): Promise<void>;
  /**
   * Runs `work` while no other call of exclusive() runs, in this process or any
   * other (a lease, on every database): every change reads the whole key set and
   * writes on what it read, which no single atomic update can hold.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
}

/** A webhook endpoint of an account. */
export interface WebhookEndpointRecord {
  /** whk_… */
  _id: string;
  accountId: string;
  url: string;
  description: string;
  /** The signing secret, encrypted (JWE, dir + A256GCM) under the key encryption key: Keyport signs with it, so it must be recoverable. */
  encryptedSecret: string;
  /** The secret's last 4 characters, to tell secrets apart. */
  secretHint: string;
  createdAt: Date;
  createdBy: string;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event to send to one endpoint: the outbox row, and then its log entry. */
export interface WebhookDeliveryRecord {
  /** whd_… */
  _id: string;
  endpointId: string;
  accountId: string;
  /** The event's id (the audit event's id): the same for every delivery of the event, redeliveries included. */
  eventId: string;
  /** keypair.created, keypair.rotated, … */
  type: string;
  /** The JSON body exactly as it is sent and signed. */
  body: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** When the next attempt is due (pending deliveries). */
  nextAttemptAt: Date;
  /** Retries stop after this time: the delivery becomes `failed`. */
  retryUntil: Date;
  createdAt: Date;
  lastAttemptAt: Date | null;
  /** The HTTP status of the last attempt's answer (null: none, see lastError). */
  lastResponseStatus: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  /** Set on a redelivery: the delivery it repeats. */
  redeliveryOf: string | null;
}

/** Webhook endpoints and their deliveries. */
export interface WebhookStore {
  insertEndpoint(endpoint: WebhookEndpointRecord): Promise<void>;
  findEndpoint(endpointId: string): Promise<WebhookEndpointRecord | null>;
  /** An account's endpoints, oldest first. */
  endpointsOf(accountId: string): Promise<WebhookEndpointRecord[]>;
  /** Deletes an endpoint and its deliveries; returns the endpoint, or null when there was none. */
  deleteEndpoint(endpointId: string): Promise<WebhookEndpointRecord | null>;
  /** Inserts deliveries; one whose _id exists already is left as it is (queuing an event again adds nothing). */
  insertDeliveries(deliveries: WebhookDeliveryRecord[]): Promise<void>;
  findDelivery(deliveryId: string): Promise<WebhookDeliveryRecord | null>;
  /** One page of an endpoint's deliveries, newest first (ties by id), strictly older than `before`. */
  deliveriesOf(endpointId: string, query: { limit: number; before?: { createdAt: Date; id: string } }): Promise<WebhookDeliveryRecord[]>;
  /**
   * The pending delivery due first (nextAttemptAt ≤ now, then oldest) of an
   * endpoint not in `busyEndpoints`: one per call, so that one endpoint's
   * backlog never hides another's.
   */
  nextDue(now: Date, busyEndpoints: string[]): Promise<WebhookDeliveryRecord | null>;
  /** Records an attempt's outcome on a delivery. */
  settle(deliveryId: string, set: Partial<Pick<WebhookDeliveryRecord, 'status' | 'attempts' | 'nextAttemptAt' | 'lastAttemptAt' | 'lastResponseStatus' | 'lastError' | 'deliveredAt'>>): Promise<void>;
  /**
   * Takes or renews the one delivery lease for `holder` until `until` (wall
   * clock): true when `holder` holds it now. A lease past its time is taken over.
   */
  acquireWorkerLease(holder: string, until: Date): Promise<boolean>;
  releaseWorkerLease(holder: string): Promise<void>;
}

/** Every store, as createDomain() receives them (built by src/db/stores.ts). */
export interface Stores {
  changes: ChangeFeed;
  keypairs: KeypairStore;
  owners: OwnerStore;
  users: UserStore;
  memberships: MembershipStore;
  audit: AuditStore;
  revocations: RevocationStore;
  revocationEvents: RevocationEventStore;
  replays: ReplayStore;
  keypairUsage: KeypairUsageStore;
  sessions: SessionStore;
  setupTokens: SetupTokenStore;
  signingKeys: SigningKeyStore;
  webhooks: WebhookStore;
}
