// Administrators and members: accounts of people, with scrypt password hashes.
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Actor, AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { newId } from './credentials.ts';
import type { MembershipRecord, MembershipStore, Role, UserRecord, UserStore } from '../db/contract.ts';
import { DomainError, invalidInput, notFound } from './errors.ts';
import { EMAIL_MAX, PASSWORD_MAX, PASSWORD_MIN } from './limits.ts';
import type { Owner } from './owners.ts';

const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } satisfies ScryptOptions;
const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, KEY_LENGTH, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Format: scrypt$N$r$p$salt$hash (base64url), so that parameters can change later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await new Promise<Buffer>((resolve, reject) => {
    scryptCallback(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
  return timingSafeEqual(expected, actual);
}

export interface UserView {
  id: string;
  email: string;
  /** The instance-wide operator role (may create accounts). */
  operator: boolean;
  createdAt: string;
}

export interface MembershipView {
  userId: string;
  accountId: string;
  environmentId: string | null;
  role: Role;
  createdAt: string;
}

export interface MemberView extends MembershipView { email: string }

export type { Role } from '../db/contract.ts';

const membershipView = (doc: MembershipRecord): MembershipView => ({
  userId: doc.userId, accountId: doc.accountId, environmentId: doc.environmentId, role: doc.role, createdAt: doc.createdAt.toISOString(),
});
const userView = (doc: UserRecord): UserView => ({ id: doc._id, email: doc.email, operator: doc.operator === true, createdAt: doc.createdAt.toISOString() });

/** Compared against when the email is unknown, so that an unknown address costs the same scrypt work. */
let dummyHash: Promise<string> | null = null;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class UserService {
  readonly #users: UserStore;
  /** Membership changes of one owner take turns, in every process (the last-admin rule spans documents: MembershipStore.exclusive). */
  readonly #memberships: MembershipStore;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(stores: { users: UserStore; memberships: MembershipStore }, audit: AuditLog, clock: Clock) {
    this.#users = stores.users;
    this.#memberships = stores.memberships;
    this.#audit = audit;
    this.#clock = clock;
  }

  /** Creates a user; `operator: true` also grants the instance-wide operator role (CLI and bootstrap only). */
  async createUser(input: { email: string; password: string; operator?: boolean }, actor: Actor): Promise<UserView> {
    const email = typeof input.email === 'string' ? input.email.trim().toLowerCase() : '';
    if (!EMAIL.test(email) || email.length > EMAIL_MAX) throw invalidInput('email must be a valid address');
    if (typeof input.password !== 'string' || input.password.length < PASSWORD_MIN || input.password.length > PASSWORD_MAX) {
      throw invalidInput(`password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`);
    }
    const operator = input.operator === true;
    const doc = await this.#users.insert({ _id: newId('usr'), email, passwordHash: await hashPassword(input.password), operator, createdAt: this.#clock.now() });
    if (!doc) throw new DomainError('conflict', `a user with email ${email} already exists`);
    await this.#audit.record({ actor, action: 'user.created', details: { userId: doc._id, email } });
    if (operator) await this.#audit.record({ actor, action: 'user.operator_granted', details: { userId: doc._id, email } });
    return userView(doc);
  }

  async findByEmail(email: string): Promise<UserView | null> {
    const doc = await this.#users.findByEmail(String(email).trim().toLowerCase());
    return doc ? userView(doc) : null;
  }

  /**
   * Grants or revokes the instance-wide operator role (the CLI's `user set-operator`).
   * Audited when it changes anything; `changed` is false when the user already had that role.
   */
  async setOperator(userId: string, operator: boolean, actor: Actor): Promise<{ user: UserView; changed: boolean }> {
    const before = await this.#users.setOperator(String(userId), operator);
    if (!before) throw notFound('user');
    const changed = (before.operator === true) !== operator;
    if (changed) {
      await this.#audit.record({ actor, action: operator ? 'user.operator_granted' : 'user.operator_revoked', details: { userId: before._id, email: before.email } });
    }
    return { user: userView({ ...before, operator }), changed };
  }

  async get(userId: string): Promise<UserView> {
    const doc = await this.#users.findById(String(userId));
    if (!doc) throw notFound('user');
    return userView(doc);
  }

  async findById(userId: string): Promise<UserView | null> {
    const doc = await this.#users.findById(String(userId));
    return doc ? userView(doc) : null;
  }

  /**
   * Checks an administrator's email and password (the admin sign-in). An unknown
   * email costs the same scrypt work as a wrong password, and both are recorded
   * in the audit trail (never the password).
   */
  async authenticate(email: string, password: string): Promise<UserView | null> {
    const normalized = String(email).trim().toLowerCase();
    const doc = await this.#users.findByEmail(normalized);
    dummyHash ??= hashPassword('keyport-dummy-password-for-unknown-users');
    const ok = await verifyPassword(String(password), doc ? doc.passwordHash : await dummyHash);
    if (!doc || !ok) {
      await this.#audit.record({ actor: 'system', action: 'user.sign_in_failed', details: { email: normalized, userId: doc?._id ?? null } });
      return null;
    }
    await this.#audit.record({ actor: `user:${doc._id}`, action: 'user.signed_in', details: { userId: doc._id, email: doc.email } });
    return userView(doc);
  }

  async recordSignOut(userId: string): Promise<void> {
    await this.#audit.record({ actor: `user:${userId}`, action: 'user.signed_out', details: { userId } });
  }

  /** Every membership of a user: the input of the access policy (src/domain/access.ts). */
  async membershipsOf(userId: string): Promise<MembershipView[]> {
    const docs = await this.#memberships.ofUser(String(userId));
    return docs.map(membershipView);
  }

  /** The members of one account or environment (not those inherited from the account), with their emails. */
  async listMembers(owner: Owner): Promise<MemberView[]> {
    const docs = await this.#memberships.onOwner(owner);
    if (!docs.length) return [];
    const users = await this.#users.findByIds(docs.map((d) => d.userId));
    const emails = new Map(users.map((u) => [u._id, u.email]));
    return docs.map((doc) => ({ ...membershipView(doc), email: emails.get(doc.userId) ?? '' }));
  }

  async roleOn(userId: string, owner: Owner): Promise<Role | null> {
    const doc = await this.#memberships.find(String(userId), owner);
    return doc?.role ?? null;
  }

  async countAdmins(owner: Owner): Promise<number> {
    return this.#memberships.countAdmins(owner);
  }

  /** Removes a user's membership of an account or an environment; an account keeps at least one admin. */
  async revoke(userId: string, owner: Owner, actor: Actor): Promise<void> {
    const doc = await this.#memberships.exclusive(owner, async () => {
      await this.#keepAnAdmin(String(userId), owner);
      return this.#memberships.delete(String(userId), owner);
    });
    if (!doc) throw notFound('membership');
    await this.#audit.record({ actor, action: 'membership.revoked', accountId: owner.accountId, environmentId: owner.environmentId, details: { userId: doc.userId, role: doc.role } });
  }

  async countUsers(): Promise<number> {
    return this.#users.count();
  }

  /** Adds or changes a user's role on an account or an environment; an account keeps at least one admin. */
  async grant(userId: string, owner: Owner, role: Role, actor: Actor): Promise<void> {
    if (!(await this.#users.exists(userId))) throw notFound('user');
    await this.#memberships.exclusive(owner, async () => {
      if (role !== 'admin') await this.#keepAnAdmin(userId, owner);
      await this.#memberships.upsert(userId, owner, role, { id: newId('mem'), createdAt: this.#clock.now() });
    });
    await this.#audit.record({ actor, action: 'membership.granted', accountId: owner.accountId, environmentId: owner.environmentId, details: { userId, role } });
  }

  /**
   * Refuses to demote or remove the last admin of an account (every admin surface
   * goes through grant and revoke). Environments may have none: their account's admins administer them.
   * Runs inside #memberships.exclusive, so the count and the change are one step for every process.
   */
  async #keepAnAdmin(userId: string, owner: Owner): Promise<void> {
    if (owner.type === 'account' && (await this.roleOn(userId, owner)) === 'admin' && (await this.countAdmins(owner)) <= 1) {
      throw new DomainError('conflict', 'an account keeps at least one admin');
    }
  }
}
