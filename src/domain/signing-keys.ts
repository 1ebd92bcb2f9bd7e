// The token signing keys: made, rotated on schedule, rotated and revoked by an
// operator. The rules (which key signs, which are published) are in
// signing-key-schedule.ts; this module stores the keys, with the private half
// encrypted (JWE, dir + A256GCM, under the key encryption key), and records
// every change in the audit trail and the change feed.
//
// Every change to the key set runs under one lease (SigningKeyStore.exclusive) across all
// processes: a server's scheduled step, another worker's, and an operator's
// command each read the keys and write on what they read, so two of them must
// never interleave (two next keys, or a revocation undone by a stale write).
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Actor, AuditLog } from './audit.ts';
import type { ChangeFeed, SigningKeyRecord as SigningKeyDoc, SigningKeyStore } from '../db/contract.ts';
import type { Clock } from './clock.ts';
import { DomainError, notFound } from './errors.ts';
import { openText, sealText } from './sealed.ts';
import { isPublished, keyStatuses, nextStep, schedulePolicy, type KeyState, type KeyStatus, type SchedulePolicy, type ScheduledKey, type ScheduleStep } from './signing-key-schedule.ts';

export const SIGNING_ALG = 'ES256' as const;

/** nextStep settles in at most a few steps (promote, record, create, reschedule); more means a bug, not work. */
const MAX_STEPS = 8;

type StoredKey = SigningKeyDoc & ScheduledKey;

export interface SigningKeyView {
  kid: string;
  generation: number;
  state: KeyState;
  /** Published in the JWKS from. */
  createdAt: string;
  /** Signs (or signed, or would have signed) from. */
  signsFrom: string;
  retiredAt: string | null;
  /** Leaves the JWKS at (retired keys). */
  removeAfter: string | null;
  revokedAt: string | null;
}

/** The keys as they stand now: which signs, which are published. */
export interface SigningKeySet {
  signingKid: string;
  /** Next, current and retired keys, in the order they were made. */
  published: readonly SigningKeyDoc[];
  /** Differs whenever the signing key or the published keys do. */
  version: string;
}

/** What oidc-provider and the access token verifier need. */
export interface SigningMaterial {
  signingKid: string;
  /** Private JWKs of the published keys, the signing key first. */
  privateJwks: JWK[];
  /** The public JWKS, as published. */
  publicJwks: { keys: JWK[] };
}

export interface RotationOutcome {
  /** The key that takes over (now, or at its signsFrom). */
  signing: SigningKeyView;
  /** The key it takes over from. */
  previousKid: string;
  /** False when that key was already due to take over by then (nothing changed). */
  changed: boolean;
}

export interface RevocationOutcome {
  revoked: SigningKeyView;
  /** The key that signs now. */
  signingKid: string;
}

function isSameFormat(doc: Partial<SigningKeyDoc>): boolean {
  return typeof doc.generation === 'number' && doc.signFrom instanceof Date;
}

function toStored(doc: SigningKeyDoc): StoredKey {
  return { ...doc, kid: doc._id };
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

function view(status: KeyStatus<StoredKey>): SigningKeyView {
  const { key } = status;
  return {
    kid: key.kid,
    generation: key.generation,
    state: status.state,
    createdAt: key.createdAt.toISOString(),
    signsFrom: key.signFrom.toISOString(),
    retiredAt: iso(status.retiredAt),
    removeAfter: iso(status.removeAfter),
    revokedAt: iso(key.revokedAt),
  };
}

function encryptJwk(jwk: JWK, kid: string, kek: Uint8Array): Promise<string> {
  return sealText(JSON.stringify(jwk), kid, kek);
}

async function decryptJwk(jwe: string, kek: Uint8Array): Promise<JWK> {
  return JSON.parse(await openText(jwe, kek, 'cannot decrypt the token signing keys: KEYPORT_KEY_ENCRYPTION_KEY is not the key they were stored with')) as JWK;
}

export class SigningKeyService {
  readonly #store: SigningKeyStore;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #changes: ChangeFeed;
  readonly #kek: Uint8Array;
  readonly policy: SchedulePolicy;

  constructor(deps: { store: SigningKeyStore; audit: AuditLog; clock: Clock; changes: ChangeFeed; keyEncryptionKey: Uint8Array; rotationDays: number; tokenTtlSeconds: number }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#changes = deps.changes;
    this.#kek = deps.keyEncryptionKey;
    this.policy = schedulePolicy({ rotationDays: deps.rotationDays, tokenTtlSeconds: deps.tokenTtlSeconds });
  }

  /** Every key ever made, newest first, with its state now. */
  async list(): Promise<SigningKeyView[]> {
    const keys = await this.#read();
    return keyStatuses(keys, this.#clock.now(), this.policy).map(view).reverse();
  }

  /**
   * Writes what the schedule asks for now (the first keys, the next key, a
   * rotation to record) and returns the keys as they then stand. Servers run it
   * at start and every minute; it writes nothing when all is in order.
   */
  async ensure(actor: Actor = 'system'): Promise<SigningKeySet> {
    const keys = await this.#read();
    if (!nextStep(keys, this.#clock.now(), this.policy)) return this.#set(keys);
    return this.#set(await this.#locked((locked) => this.#settle(locked, actor)));
  }

  /** The keys as they stand now, without writing. */
  async current(): Promise<SigningKeySet> {
    return this.#set(await this.#read());
  }

  /** The published keys of `set`, decrypted. */
  async material(set: SigningKeySet): Promise<SigningMaterial> {
    const ordered = [...set.published].sort((a, b) => Number(b._id === set.signingKid) - Number(a._id === set.signingKid));
    return {
      signingKid: set.signingKid,
      privateJwks: await Promise.all(ordered.map((doc) => decryptJwk(doc.encryptedPrivateJwk, this.#kek))),
      publicJwks: { keys: ordered.map((doc) => doc.publicJwk as JWK) },
    };
  }

  /**
   * An operator's rotation: the next key (published ahead of time) takes over
   * as soon as it has been published for the lead time, at once if it has; with
   * `immediately`, at once in any case (for emergencies: resource servers that
   * cached the JWKS before the key was published refuse its tokens until they
   * fetch it again).
   */
  async rotate(options: { immediately?: boolean }, actor: Actor): Promise<RotationOutcome> {
    return this.#locked(async (locked) => {
      let keys = await this.#settle(locked, actor);
      const now = this.#clock.now();
      const statuses = keyStatuses(keys, now, this.policy);
      const current = statuses.find((s) => s.state === 'current')!.key;
      const next = statuses.find((s) => s.state === 'next')!.key;
      const start = options.immediately ? now : new Date(Math.max(now.getTime(), next.createdAt.getTime() + this.policy.publishLeadMs));
      const changed = next.signFrom > start;
      if (changed) {
        await this.#store.update(next.kid, { signFrom: start, rotationRecorded: true });
        await this.#audit.record({ actor, action: 'signing_key.rotated', details: { kid: next.kid, previousKid: current.kid, signsFrom: start.toISOString(), immediately: Boolean(options.immediately) } });
        keys = await this.#settle(await this.#find(), actor);
        await this.#changes.publish('signing-key', next.kid);
      }
      const signing = keyStatuses(keys, this.#clock.now(), this.policy).find((s) => s.key.kid === next.kid)!;
      return { signing: view(signing), previousKid: current.kid, changed };
    });
  }

  /**
   * Revokes a key (compromised): it leaves the JWKS and its tokens are refused
   * at once. When it is the signing key, the next key signs from now.
   */
  async revoke(kid: string, actor: Actor): Promise<RevocationOutcome> {
    return this.#locked(async (locked) => {
      const keys = await this.#settle(locked, actor);
      const now = this.#clock.now();
      const statuses = keyStatuses(keys, now, this.policy);
      const target = statuses.find((s) => s.key.kid === kid);
      if (!target) throw notFound('signing key');
      if (target.state === 'revoked') throw new DomainError('conflict', `signing key ${kid} was already revoked at ${target.key.revokedAt!.toISOString()}`);
      let replacedBy: string | null = null;
      if (target.state === 'current') {
        // The successor signs before the key is revoked: no moment without a signing key.
        const next = statuses.find((s) => s.state === 'next')!.key;
        await this.#store.update(next.kid, { signFrom: now, rotationRecorded: true });
        replacedBy = next.kid;
      }
      await this.#store.update(kid, { revokedAt: now });
      await this.#audit.record({ actor, action: 'signing_key.revoked', details: { kid, state: target.state, ...(replacedBy ? { replacedBy } : {}) } });
      const after = keyStatuses(await this.#settle(await this.#find(), actor), this.#clock.now(), this.policy);
      await this.#changes.publish('signing-key', kid);
      return { revoked: view(after.find((s) => s.key.kid === kid)!), signingKid: after.find((s) => s.state === 'current')!.key.kid };
    });
  }

  #set(keys: StoredKey[]): SigningKeySet {
    const statuses = keyStatuses(keys, this.#clock.now(), this.policy);
    const signing = statuses.find((s) => s.state === 'current');
    if (!signing) throw new Error('no token signing key: the signing keys have not been set up (SigningKeyService.ensure)');
    const published = statuses.filter(isPublished).map((s) => s.key);
    return { signingKid: signing.key.kid, published, version: `${signing.key.kid}|${published.map((k) => k.kid).join(',')}` };
  }

  async #find(): Promise<StoredKey[]> {
    const docs = await this.#store.all();
    return docs.map(toStored).sort((a, b) => a.generation - b.generation);
  }

  /** The stored keys, brought to the current format first if an older Keyport wrote them. */
  async #read(): Promise<StoredKey[]> {
    const keys = await this.#find();
    return keys.every(isSameFormat) ? keys : this.#locked(async (locked) => locked);
  }

  /** Runs `work` under the lease, on the keys read under it. */
  #locked<T>(work: (keys: StoredKey[]) => Promise<T>): Promise<T> {
    return this.#store.exclusive(async () => {
      let keys = await this.#find();
      if (!keys.every(isSameFormat)) {
        await this.#upgrade(keys);
        keys = await this.#find();
      }
      return work(keys);
    });
  }

  /**
   * Keys from before scheduled rotation (one `active` flag): numbered in the
   * order they were made, each signing from its creation, so the newest signs.
   */
  async #upgrade(keys: StoredKey[]): Promise<void> {
    const old = keys.filter((key) => !isSameFormat(key)).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a._id.localeCompare(b._id));
    let generation = Math.max(0, ...keys.filter(isSameFormat).map((key) => key.generation));
    for (const key of old) {
      const { active } = key as { active?: boolean };
      await this.#store.upgrade(key._id, { generation: ++generation, signFrom: key.createdAt, revokedAt: active === false ? key.createdAt : null, rotationRecorded: true });
    }
  }

  /** Applies the schedule's steps until it asks for nothing more; returns the keys then. */
  async #settle(keys: StoredKey[], actor: Actor): Promise<StoredKey[]> {
    for (let i = 0; i < MAX_STEPS; i++) {
      const step = nextStep(keys, this.#clock.now(), this.policy);
      if (!step) return keys;
      await this.#apply(step, keys, actor);
      keys = await this.#find();
    }
    throw new Error('the signing key schedule did not settle');
  }

  async #apply(step: ScheduleStep, keys: StoredKey[], actor: Actor): Promise<void> {
    switch (step.kind) {
      case 'create': {
        const kid = await this.#create(step.generation, step.signFrom, keys.length === 0);
        await this.#audit.record({ actor, action: 'signing_key.created', details: { kid, generation: step.generation, signsFrom: step.signFrom.toISOString() } });
        await this.#changes.publish('signing-key', kid);
        return;
      }
      case 'promote':
      case 'reschedule':
        await this.#store.update(step.kid, { signFrom: step.signFrom });
        if (step.kind === 'reschedule') {
          await this.#audit.record({ actor, action: 'signing_key.rescheduled', details: { kid: step.kid, signsFrom: step.signFrom.toISOString(), rotationDays: this.policy.rotationMs / 86_400_000 } });
        }
        await this.#changes.publish('signing-key', step.kid);
        return;
      case 'record-rotation':
        await this.#store.update(step.kid, { rotationRecorded: true });
        await this.#audit.record({ actor, action: 'signing_key.rotated', details: { kid: step.kid, previousKid: step.previousKid, signsFrom: keys.find((k) => k.kid === step.kid)!.signFrom.toISOString(), scheduled: true } });
        // The other processes switch keys at their next check; this makes it within a poll.
        await this.#changes.publish('signing-key', step.kid);
        return;
    }
  }

  async #create(generation: number, signFrom: Date, first: boolean): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG, use: 'sig' };
    await this.#store.insert({
      _id: kid,
      alg: SIGNING_ALG,
      publicJwk: { ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' },
      encryptedPrivateJwk: await encryptJwk(privateJwk, kid, this.#kek),
      createdAt: this.#clock.now(),
      generation,
      signFrom,
      revokedAt: null,
      // The very first key takes over from no one.
      rotationRecorded: first,
    });
    return kid;
  }
}
