// Admin sign-in sessions, stored in the database (koa-session's external store,
// wired in src/http/session/). The session key from the cookie is stored only as
// its SHA-256, so a copy of the collection signs nobody in.
import { createHash } from 'node:crypto';
import { trusted } from 'mongoose';
import type { Models } from '../db/models/index.ts';
import type { AdminSessionDoc } from '../db/models/admin-session.ts';
import type { Clock } from './clock.ts';

const digest = (key: string) => createHash('sha256').update(String(key), 'utf8').digest('base64url');

export class AdminSessionStore {
  readonly #models: Models;
  readonly #clock: Clock;

  constructor(models: Models, clock: Clock) {
    this.#models = models;
    this.#clock = clock;
  }

  async get(key: string): Promise<Record<string, unknown> | null> {
    const doc = await this.#models.AdminSession.findById(digest(key)).lean<AdminSessionDoc>();
    if (!doc || doc.expiresAt <= this.#clock.now()) return null;
    return doc.data;
  }

  async set(key: string, data: Record<string, unknown>, maxAgeMs: number): Promise<void> {
    const now = this.#clock.now();
    const userId = typeof data.userId === 'string' ? data.userId : null;
    await this.#models.AdminSession.updateOne(
      { _id: digest(key) },
      { $set: { data, userId, expiresAt: new Date(now.getTime() + maxAgeMs), updatedAt: now } },
      { upsert: true },
    );
    // No TTL indexes on FerretDB v1: expired sessions are dropped as new ones are written.
    await this.#models.AdminSession.deleteMany({ expiresAt: trusted({ $lt: now }) });
  }

  async destroy(key: string): Promise<void> {
    await this.#models.AdminSession.deleteOne({ _id: digest(key) });
  }

  /** Signs a user out everywhere (e.g. when the user is removed). */
  async destroyForUser(userId: string): Promise<void> {
    await this.#models.AdminSession.deleteMany({ userId: String(userId) });
  }
}
