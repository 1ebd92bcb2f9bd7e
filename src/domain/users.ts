// Administrators and members: accounts of people, with scrypt password hashes.
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Models } from '../db/models/index.ts';
import type { Role, UserDoc } from '../db/models/user.ts';
import type { Actor, AuditLog } from './audit.ts';
import type { Clock } from './clock.ts';
import { newId } from './credentials.ts';
import { DomainError, invalidInput, notFound } from './errors.ts';
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

export interface UserView { id: string; email: string; createdAt: string }

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class UserService {
  readonly #models: Models;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(models: Models, audit: AuditLog, clock: Clock) {
    this.#models = models;
    this.#audit = audit;
    this.#clock = clock;
  }

  async createUser(input: { email: string; password: string }, actor: Actor): Promise<UserView> {
    const email = typeof input.email === 'string' ? input.email.trim().toLowerCase() : '';
    if (!EMAIL.test(email) || email.length > 254) throw invalidInput('email must be a valid address');
    if (typeof input.password !== 'string' || input.password.length < 12 || input.password.length > 1024) {
      throw invalidInput('password must be 12 to 1024 characters');
    }
    try {
      const doc = await this.#models.User.create({ _id: newId('usr'), email, passwordHash: await hashPassword(input.password), createdAt: this.#clock.now() });
      await this.#audit.record({ actor, action: 'user.created', details: { userId: doc._id, email } });
      return { id: doc._id, email: doc.email, createdAt: doc.createdAt.toISOString() };
    } catch (err) {
      if ((err as { code?: number }).code === 11000) throw new DomainError('conflict', `a user with email ${email} already exists`);
      throw err;
    }
  }

  async findByEmail(email: string): Promise<UserView | null> {
    const doc = await this.#models.User.findOne({ email: String(email).trim().toLowerCase() }).lean<UserDoc>();
    return doc ? { id: doc._id, email: doc.email, createdAt: doc.createdAt.toISOString() } : null;
  }

  async countUsers(): Promise<number> {
    return this.#models.User.countDocuments({});
  }

  /** Adds or changes a user's role on an account or an environment. */
  async grant(userId: string, owner: Owner, role: Role, actor: Actor): Promise<void> {
    const user = await this.#models.User.exists({ _id: userId });
    if (!user) throw notFound('user');
    const ownerKey = owner.type === 'account' ? `account:${owner.accountId}` : `environment:${owner.environmentId}`;
    await this.#models.Membership.updateOne(
      { userId, ownerKey },
      { $set: { role }, $setOnInsert: { _id: newId('mem'), accountId: owner.accountId, environmentId: owner.environmentId, createdAt: this.#clock.now() } },
      { upsert: true },
    );
    await this.#audit.record({ actor, action: 'membership.granted', accountId: owner.accountId, environmentId: owner.environmentId, details: { userId, role } });
  }
}
