// API keypairs: creation and the keypair lifecycle that the admin surfaces
// drive (docs/architecture.md, Keypair lifecycle). No HTTP in here.
// Authentication, with the failure counts and usage it writes after each
// answer, is keypair-auth.ts; what the surfaces see of a keypair is built in
// keypair-views.ts; the rules are plain functions in secrets.ts, lockout.ts,
// expiry.ts and public-keys.ts.
import type { Actor, AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { isWellFormedKeyId, newKeyId, newSecret, type SecretHasher } from './credentials.ts';
import { DomainError, invalidInput, notFound } from './errors.ts';
import { COMMENT_MAX, GRACE_PERIODS, RETIRE_WHEN_IDLE, type GracePeriod, type RetireWhenIdle } from './limits.ts';
import { validName, type Owner, type OwnerService } from './owners.ts';
import { isLocked, unlockedCounters } from './lockout.ts';
import type { RevocationFeed } from './revocation-feed.ts';
import type { ScopeCatalog } from './scope-catalog.ts';
import { previousSecret, rotatedAt, rotatedSecrets, secretHint, shownHint, withGraceExtended, withPreviousEnded, withRetireWhenIdle } from './secrets.ts';
import { EXPIRING_WINDOW_MS, isExpired, resolveExpiry } from './expiry.ts';
import type { KeypairChanges, KeypairListScope, KeypairStore, StoredSecret } from '../db/contract.ts';
import { parsePublicKeys, storedKey } from './keypair-keys.ts';
import { initialTrustRules } from './keypair-trust.ts';
import type { TrustRuleInput } from './trust-rules.ts';
import type { KeypairAuthenticator } from './keypair-auth.ts';
import { countKeypairTabs, readKeypairPage, type KeypairPage, type KeypairPageRequest } from './keypair-pages.ts';
import { currentTokenGeneration, keypairTarget, keypairView, type CreatedKeypair, type IssuedKeypair, type KeypairDoc, type KeypairListFilter, type KeypairView } from './keypair-views.ts';

export { liveSecrets } from './secrets.ts';
export { currentTokenGeneration, keypairView } from './keypair-views.ts';
export type { AuthenticationFailure, AuthenticationResult, CreatedKeypair, EndedSecretView, IssuedKeypair, KeypairDoc, KeypairListFilter, KeypairStatus, KeypairView, PreviousSecretView, SecretView } from './keypair-views.ts';

/** A keypair in the account-wide list: with its environment (null: one of the account's own). */
export type AccountWideKeypairView = KeypairView & { environment: { id: string; name: string } | null };

function validDpopRequired(value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidInput('dpopRequired must be true or false');
  return value;
}

export class KeypairService {
  readonly #store: KeypairStore;
  readonly #owners: OwnerService;
  readonly #scopes: ScopeCatalog;
  readonly #hasher: SecretHasher;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  /** Told of every revocation of a keypair's tokens, for resource servers that validate offline. */
  readonly #revocationFeed: RevocationFeed | undefined;
  /** How long ended secrets are recognised. */
  readonly #endedRetentionMs: number;
  /** The issuers a trust rule may name (federation.issuers). */
  readonly #trustIssuers: readonly string[];
  /** The authentication side: its failure counts and usage batches come first where an admin read or change needs them. */
  readonly #auth: KeypairAuthenticator;

  constructor(deps: { store: KeypairStore; owners: OwnerService; scopes: ScopeCatalog; hasher: SecretHasher; audit: AuditLog; clock: Clock; auth: KeypairAuthenticator; revocationFeed?: RevocationFeed; endedRetentionDays?: number; trustIssuers?: readonly string[] }) {
    this.#trustIssuers = deps.trustIssuers ?? [];
    this.#store = deps.store;
    this.#owners = deps.owners;
    this.#scopes = deps.scopes;
    this.#hasher = deps.hasher;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#auth = deps.auth;
    this.#revocationFeed = deps.revocationFeed;
    this.#endedRetentionMs = (deps.endedRetentionDays ?? 30) * 86_400_000;
  }

  /** How many days ended secrets are recognised (secrets.endedRetentionDays), for the surfaces to say. */
  get endedRetentionDays(): number {
    return this.#endedRetentionMs / 86_400_000;
  }

  view(doc: KeypairDoc): KeypairView {
    return keypairView(doc, this.#clock.now(), this.#endedRetentionMs);
  }

  /**
   * `expiresAt`: when the keypair stops working (null: never; left out: the
   * account's maximum lifetime from now, or never). Must be in the future and
   * within the account's maximum lifetime (expiry.ts, resolveExpiry).
   * `publicKeys` (JWK or PEM each) make it a key-based keypair too; with
   * `secret: false` it has no secret at all (then at least one key or trust rule is needed).
   * `trustRules` (keypair-trust.ts) let workloads of trusted issuers authenticate it.
   */
  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[]; expiresAt?: Date | null; dpopRequired?: boolean }, actor: Actor): Promise<IssuedKeypair>;
  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[]; expiresAt?: Date | null; dpopRequired?: boolean; publicKeys?: unknown[]; secret?: boolean; trustRules?: TrustRuleInput[] }, actor: Actor): Promise<CreatedKeypair>;
  async create(ownerRef: { accountId?: string; environmentId?: string }, input: { name: string; comment?: string; scopes?: string[]; expiresAt?: Date | null; dpopRequired?: boolean; publicKeys?: unknown[]; secret?: boolean; trustRules?: TrustRuleInput[] }, actor: Actor): Promise<CreatedKeypair> {
    const owner = await this.#owners.resolveActiveOwner(ownerRef);
    const name = validName(input.name);
    const comment = this.#validComment(input.comment ?? '');
    const scopes = this.#scopes.assertGrantable(input.scopes ?? [], owner.type);
    const dpopRequired = validDpopRequired(input.dpopRequired ?? false);
    const keys = await parsePublicKeys(input.publicKeys ?? []);
    const withSecret = input.secret ?? true;
    const now = this.#clock.now();
    const trustRules = initialTrustRules(input.trustRules ?? [], this.#trustIssuers, now);
    if (!withSecret && !keys.length && !trustRules.length) throw invalidInput('a keypair without a secret needs at least one public key or trust rule');
    const expiresAt = resolveExpiry(input.expiresAt, await this.#owners.maxKeypairLifetimeDays(owner.accountId), now);
    const secret = withSecret ? newSecret() : null;
    const doc = await this.#store.insert({
      _id: newKeyId(),
      ownerType: owner.type,
      accountId: owner.accountId,
      environmentId: owner.environmentId,
      name,
      comment,
      scopes,
      enabled: true,
      secrets: secret === null ? [] : [{ hash: this.#hasher.hash(secret), createdAt: now, expiresAt: null, hint: secretHint(secret) }],
      ...(keys.length ? { publicKeys: keys.map((key) => storedKey(key, now)) } : {}),
      ...(trustRules.length ? { trustRules } : {}),
      createdAt: now,
      createdBy: actor,
      updatedAt: now,
      expiresAt,
      ...(dpopRequired ? { dpopRequired } : {}),
    });
    // Written first, checked after (OwnerService.afterCreating): never a keypair left in a closed owner.
    await this.#owners.afterCreating(() => this.#owners.resolveActiveOwner(ownerRef), () => this.#store.delete(doc._id));
    await this.#audit.record({
      actor, action: 'keypair.created', ...keypairTarget(doc),
      details: { name, scopes, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}), ...(dpopRequired ? { dpopRequired } : {}), ...(keys.length ? { publicKeys: keys.map((k) => k.thumbprint), secret: withSecret } : {}), ...(trustRules.length ? { trustRules: trustRules.map((r) => r.id), secret: withSecret } : {}) },
    });
    return { keypair: this.view(doc), secret };
  }

  /**
   * Replaces the whole keypair: a new key id and a new secret, with the old
   * one's name, comment, scopes, owner and enabled state; the old keypair is
   * deleted (its tokens stop as after a removal). Its expiry date carries over
   * while it is in the future and within the account's maximum lifetime;
   * otherwise the new keypair gets the expiry a new one gets. Public keys do not
   * carry over: a replacement is a fresh credential (a key suspected leaked must
   * not come along); the new keypair gets a secret, and keys are added again.
   *
   * Without a transaction: the new keypair is written first, then the old one is
   * deleted on condition that it is still the revision read. Of two replacements
   * (or a replacement and a rotation, an edit, a removal) only one deletes it;
   * the other withdraws its new keypair (404 when the old one is gone, 409 when
   * it changed), so there is never more than one successor.
   */
  async replace(keyId: string, actor: Actor): Promise<IssuedKeypair & { replaces: string }> {
    const old = await this.#load(keyId);
    const ownerRef = old.environmentId ? { environmentId: old.environmentId } : { accountId: old.accountId };
    // The keypair exists, so an owner that is not active is closing: a conflict, not bad input.
    const ownerActive = () => this.#owners.resolveActiveOwner(ownerRef).catch((err: unknown) => {
      throw err instanceof DomainError && err.code === 'invalid_input' ? new DomainError('conflict', err.message) : err;
    });
    await ownerActive();
    const now = this.#clock.now();
    const maxDays = await this.#owners.maxKeypairLifetimeDays(old.accountId);
    const keep = old.expiresAt && !isExpired(old, now) && (maxDays === null || old.expiresAt.getTime() <= now.getTime() + maxDays * 86_400_000);
    const expiresAt = keep ? old.expiresAt! : resolveExpiry(undefined, maxDays, now);
    const secret = newSecret();
    const doc = await this.#store.insert({
      _id: newKeyId(),
      ownerType: old.ownerType,
      accountId: old.accountId,
      environmentId: old.environmentId,
      name: old.name,
      comment: old.comment,
      scopes: old.scopes,
      enabled: old.enabled,
      secrets: [{ hash: this.#hasher.hash(secret), createdAt: now, expiresAt: null, hint: secretHint(secret) }],
      createdAt: now,
      createdBy: actor,
      updatedAt: now,
      expiresAt,
      // A sender-constrained keypair stays one: the requirement is the owner's policy, not the credential's.
      ...(old.dpopRequired ? { dpopRequired: true } : {}),
    });
    await this.#owners.afterCreating(ownerActive, () => this.#store.delete(doc._id));
    const gone = await this.#store.deleteIfRevision(old._id, old.revision);
    if (!gone) {
      await this.#store.delete(doc._id);
      if (await this.#store.findById(old._id)) throw new DomainError('conflict', 'the keypair changed during the replacement; nothing was replaced, try again');
      throw notFound('keypair');
    }
    // The old key id is dead at once: offline validators hear of it like a removal.
    await this.#revocationFeed?.keypairRemoved(gone._id);
    await this.#audit.record({ actor, action: 'keypair.replaced', ...keypairTarget(gone), details: { name: gone.name, replacedBy: doc._id } });
    await this.#audit.record({ actor, action: 'keypair.created', ...keypairTarget(doc), details: { name: doc.name, scopes: doc.scopes, replaces: old._id, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) } });
    return { keypair: this.view(doc), secret, replaces: old._id };
  }

  async get(keyId: string): Promise<KeypairView> {
    await this.#auth.failuresCounted(keyId);
    await this.#auth.usageRecorded(keyId);
    return this.view(await this.#load(keyId));
  }


  /**
   * A page of the owner's keypairs in one of KEYPAIR_SORTS, by cursor (or offset),
   * read through an index however many keypairs the owner has (keypair-pages.ts).
   */
  async listPage(owner: Owner, request: KeypairPageRequest): Promise<Omit<KeypairPage, 'records'> & { items: KeypairView[] }> {
    await this.#auth.failuresCounted();
    await this.#auth.usageRecorded();
    const { records, ...page } = await readKeypairPage(this.#store, owner, request, this.#listTimes());
    return { items: records.map((doc) => this.view(doc)), ...page };
  }

  /**
   * A page of every keypair of the account, its own and all its environments'
   * (the account-wide view): one list through the account's own indexes, each
   * keypair with its environment (null: the account's own).
   */
  async listAcrossEnvironments(accountId: string, request: KeypairPageRequest): Promise<Omit<KeypairPage, 'records'> & { items: AccountWideKeypairView[] }> {
    await this.#auth.failuresCounted();
    await this.#auth.usageRecorded();
    const { records, ...page } = await readKeypairPage(this.#store, { accountId, acrossEnvironments: true }, request, this.#listTimes());
    // The account's environments in one read (closed ones have no keypairs left) for their names.
    const names = records.some((doc) => doc.environmentId) ? new Map((await this.#owners.listEnvironments(accountId)).map((env) => [env.id, env.name])) : new Map<string, string>();
    const items = records.map((doc) => ({ ...this.view(doc), environment: doc.environmentId ? { id: doc.environmentId, name: names.get(doc.environmentId) ?? doc.environmentId } : null }));
    return { items, ...page };
  }

  /** How many keypairs each filter tab holds (and all), each counted up to a cap; across the account's environments with `acrossEnvironments`. */
  countTabs(owner: KeypairListScope, statuses: readonly KeypairListFilter[], search?: string): ReturnType<typeof countKeypairTabs> {
    return countKeypairTabs(this.#store, owner, statuses, search, this.#listTimes());
  }

  /** Writes the list sort keys into keypairs an older Keyport wrote (they are missing from later pages and searches until then); returns how many. */
  fillInListKeys(): Promise<number> {
    return this.#store.fillInListKeys();
  }

  #listTimes(): { now: Date; expiringBefore: Date } {
    const now = this.#clock.now();
    return { now, expiringBefore: new Date(now.getTime() + EXPIRING_WINDOW_MS) };
  }

  /** Whether the owner has a keypair of this name already, ignoring case and the spaces around it (the web UI asks before a second one). */
  async nameInUse(owner: Owner, name: string): Promise<boolean> {
    const trimmed = name.trim();
    return trimmed !== '' && this.#store.existsWithName(owner, trimmed);
  }

  /** `expiresAt`: a new expiry date (in the future, within the account's maximum lifetime from now), or null for none. */
  async update(keyId: string, input: { name?: string; comment?: string; scopes?: string[]; expiresAt?: Date | null; dpopRequired?: boolean }, actor: Actor): Promise<KeypairView> {
    const current = await this.#load(keyId);
    const now = this.#clock.now();
    const set: KeypairChanges = { updatedAt: now };
    if (input.name !== undefined) set.name = validName(input.name);
    if (input.comment !== undefined) set.comment = this.#validComment(input.comment);
    if (input.scopes !== undefined) set.scopes = this.#scopes.assertGrantable(input.scopes, current.ownerType);
    if (input.expiresAt !== undefined) {
      set.expiresAt = resolveExpiry(input.expiresAt, await this.#owners.maxKeypairLifetimeDays(current.accountId), now);
      // A new expiry date gets its own warning and expiry notices (expiry.ts, ExpirySweep).
      set.expiringNoticeAt = null;
      set.expiredNoticeAt = null;
    }
    if (input.dpopRequired !== undefined) set.dpopRequired = validDpopRequired(input.dpopRequired);
    const doc = await this.#store.change(keyId, set);
    if (!doc) throw notFound('keypair');
    const changed = Object.fromEntries(Object.entries(set)
      .filter(([k]) => k !== 'updatedAt' && k !== 'expiringNoticeAt' && k !== 'expiredNoticeAt')
      .map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
    await this.#audit.record({ actor, action: 'keypair.updated', ...keypairTarget(doc), details: changed });
    return this.view(doc);
  }

  /**
   * Disabling also revokes every token issued so far, for good: enabling again
   * gives the keypair new tokens, never its earlier ones back.
   */
  async setEnabled(keyId: string, enabled: boolean, actor: Actor): Promise<KeypairView> {
    const now = this.#clock.now();
    const doc = enabled
      ? await this.#store.change(keyId, { enabled, updatedAt: now })
      : await this.#store.change(keyId, { enabled, updatedAt: now, tokensRevokedAt: now }, { advanceTokenGeneration: true });
    if (!doc) throw notFound('keypair');
    if (!enabled) await this.#revocationFeed?.keypairTokensBelow(doc._id, currentTokenGeneration(doc));
    await this.#audit.record({ actor, action: enabled ? 'keypair.enabled' : 'keypair.disabled', ...keypairTarget(doc), ...(enabled ? {} : { details: { revokedTokens: true } }) });
    return this.view(doc);
  }

  /**
   * Issues a new secret. With a grace period the current secret stays valid
   * until now + grace; a previous secret still in its grace period ends at once
   * (at most two secrets). Grace '0' (regenerate) also clears a lock.
   * `revokeTokens` also ends every token issued so far (the answer to a leaked
   * secret: the leaker's tokens die with it); a planned rotation keeps them.
   */
  async rotate(keyId: string, grace: GracePeriod, actor: Actor, options: { revokeTokens?: boolean; retireWhenIdle?: RetireWhenIdle } = {}): Promise<IssuedKeypair> {
    const revokeTokens = options.revokeTokens ?? false;
    if (!Object.hasOwn(GRACE_PERIODS, grace)) throw invalidInput(`grace must be one of ${Object.keys(GRACE_PERIODS).join(', ')}`);
    if (options.retireWhenIdle !== undefined && !Object.hasOwn(RETIRE_WHEN_IDLE, options.retireWhenIdle)) throw invalidInput(`retireWhenIdle must be one of ${Object.keys(RETIRE_WHEN_IDLE).join(', ')}`);
    if (options.retireWhenIdle !== undefined && grace === '0') throw invalidInput('retireWhenIdle needs a grace period: a regeneration ends the old secret at once');
    const secret = newSecret();
    const hash = this.#hasher.hash(secret);
    if (!isWellFormedKeyId(keyId)) throw notFound('keypair');
    // Usage counted here lands on the right secrets whatever the rotation does; written first, it ends with them.
    await this.#auth.usageRecorded(keyId);
    const rotationOptions = { hint: secretHint(secret), retentionMs: this.#endedRetentionMs, ...(options.retireWhenIdle ? { retireWhenIdleMs: RETIRE_WHEN_IDLE[options.retireWhenIdle] } : {}) };
    let now = this.#clock.now();
    let rotation = rotatedSecrets([], hash, now, GRACE_PERIODS[grace], rotationOptions);
    // Another process may rotate at the same time: the store conditions the write on the
    // revision it read, so two rotations never both keep "their" previous secret.
    const result = await this.#store.rewrite(keyId, (current) => {
      now = this.#clock.now();
      rotation = rotatedSecrets(current.secrets, hash, now, GRACE_PERIODS[grace], { ...rotationOptions, endedSecrets: current.endedSecrets ?? [] });
      const set: KeypairChanges = { secrets: rotation.secrets, endedSecrets: rotation.endedSecrets, lastRotatedAt: now, updatedAt: now };
      if (grace === '0') Object.assign(set, unlockedCounters());
      if (revokeTokens) set.tokensRevokedAt = now;
      return { set, advanceTokenGeneration: revokeTokens };
      // Each lost attempt means another rotation landed: enough attempts for a burst of them from several processes.
    }, 10);
    if (result.outcome === 'not_found') throw notFound('keypair');
    if (result.outcome === 'conflict') throw new DomainError('conflict', 'the keypair changed during the rotation; try again');
    const { before: current, after: doc } = result;
    const { secrets, endedEarlierPrevious: endedPrevious } = rotation;
    if (revokeTokens) await this.#revocationFeed?.keypairTokensBelow(doc._id, currentTokenGeneration(doc));
    await this.#audit.record({
      actor,
      action: grace === '0' ? 'keypair.regenerated' : 'keypair.rotated',
      ...keypairTarget(doc),
      details: { grace, previousSecretExpiresAt: secrets[1]?.expiresAt?.toISOString() ?? null, endedEarlierPreviousSecret: endedPrevious, unlocked: grace === '0' && isLocked(current, now), revokedTokens: revokeTokens, hint: shownHint(secretHint(secret)), ...(options.retireWhenIdle ? { retireWhenIdle: options.retireWhenIdle } : {}) },
    });
    return { keypair: this.view(doc), secret };
  }

  /**
   * Ends the previous secret now, before its grace period is over. Refused
   * (previous_secret_in_use) when it was used within the last hour, unless
   * `force`: a client may still depend on it.
   */
  async endPreviousSecret(keyId: string, actor: Actor, options: { force?: boolean } = {}): Promise<KeypairView> {
    const force = options.force ?? false;
    await this.#auth.usageRecorded(keyId);
    let ended: StoredSecret | null = null;
    const doc = await this.#rewriteSecrets(keyId, (current, now) => {
      const next = withPreviousEnded(current, now, this.#endedRetentionMs, { force, lastUsedAt: previousSecret(current, now)?.lastUsedAt ?? null });
      ended = next.previous;
      return { secrets: next.secrets, endedSecrets: next.endedSecrets };
    });
    const previous = ended as StoredSecret | null;
    await this.#audit.record({ actor, action: 'keypair.previous_secret_ended', ...keypairTarget(doc), details: { hint: shownHint(previous?.hint), lastUsedAt: previous?.lastUsedAt?.toISOString() ?? null, expiresAt: previous?.expiresAt?.toISOString() ?? null, force } });
    return this.view(doc);
  }

  /** Moves the end of the grace period to `until` (later than now set, at most 72 hours after the rotation). */
  async extendGrace(keyId: string, until: Date, actor: Actor): Promise<KeypairView> {
    if (Number.isNaN(until.getTime())) throw invalidInput('until must be a date and time');
    let before: Date | null = null;
    const doc = await this.#rewriteSecrets(keyId, (current, now) => {
      before = previousSecret(current, now)?.expiresAt ?? null;
      return { secrets: withGraceExtended(current, now, until) };
    });
    await this.#audit.record({ actor, action: 'keypair.grace_extended', ...keypairTarget(doc), details: { from: (before as Date | null)?.toISOString() ?? null, until: until.toISOString(), rotatedAt: rotatedAt(doc)?.toISOString() ?? null } });
    return this.view(doc);
  }

  /** Sets (or clears: null) retireWhenIdle on the previous secret: it ends early once unused this long, counted from now at the earliest. */
  async setRetireWhenIdle(keyId: string, idle: RetireWhenIdle | null, actor: Actor): Promise<KeypairView> {
    if (idle !== null && !Object.hasOwn(RETIRE_WHEN_IDLE, idle)) throw invalidInput(`retireWhenIdle must be one of ${Object.keys(RETIRE_WHEN_IDLE).join(', ')}, or null`);
    await this.#auth.usageRecorded(keyId);
    const doc = await this.#rewriteSecrets(keyId, (current, now) => ({ secrets: withRetireWhenIdle(current, now, idle === null ? null : RETIRE_WHEN_IDLE[idle]) }));
    await this.#audit.record({ actor, action: 'keypair.updated', ...keypairTarget(doc), details: { retireWhenIdle: idle } });
    return this.view(doc);
  }

  /** A rotation-safety change of the secret lists, conditioned on the revision read (as rotate()). */
  async #rewriteSecrets(keyId: string, build: (current: KeypairDoc, now: Date) => Pick<KeypairChanges, 'secrets' | 'endedSecrets'>): Promise<KeypairDoc> {
    if (!isWellFormedKeyId(keyId)) throw notFound('keypair');
    const result = await this.#store.rewrite(keyId, (current) => {
      const now = this.#clock.now();
      return { set: { ...build(current, now), updatedAt: now } };
    }, 5);
    if (result.outcome === 'not_found') throw notFound('keypair');
    if (result.outcome === 'conflict') throw new DomainError('conflict', 'the keypair changed meanwhile; try again');
    return result.after;
  }

  async unlock(keyId: string, actor: Actor): Promise<KeypairView> {
    const doc = await this.#store.change(keyId, { ...unlockedCounters(), updatedAt: this.#clock.now() });
    if (!doc) throw notFound('keypair');
    await this.#audit.record({ actor, action: 'keypair.unlocked', ...keypairTarget(doc) });
    return this.view(doc);
  }

  async remove(keyId: string, actor: Actor): Promise<void> {
    const doc = await this.#store.delete(keyId);
    if (!doc) throw notFound('keypair');
    await this.#revocationFeed?.keypairRemoved(doc._id);
    await this.#audit.record({ actor, action: 'keypair.removed', ...keypairTarget(doc), details: { name: doc.name } });
  }


  #validComment(comment: unknown): string {
    if (typeof comment !== 'string' || comment.length > COMMENT_MAX) throw invalidInput(`comment must be a string of at most ${COMMENT_MAX} characters`);
    return comment;
  }

  /** Reads the database itself (not the cache): admin views and rotations need the latest state. */
  async #load(keyId: string): Promise<KeypairDoc> {
    const doc = isWellFormedKeyId(keyId) ? await this.#store.findById(keyId) : null;
    if (!doc) throw notFound('keypair');
    return doc;
  }
}
