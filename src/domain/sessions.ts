// Admin sign-in sessions, stored in the database (koa-session's external store,
// wired in src/http/session/). The session key from the cookie is stored only as
// its SHA-256, so a copy of the collection signs nobody in.
import { createHash } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { SessionStore } from '../db/contract.ts';

const digest = (key: string) => createHash('sha256').update(String(key), 'utf8').digest('base64url');

export class AdminSessionStore {
  readonly #store: SessionStore;
  readonly #clock: Clock;

  constructor(store: SessionStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  async get(key: string): Promise<Record<string, unknown> | null> {
    const doc = await this.#store.find(digest(key));
    if (!doc || doc.expiresAt <= this.#clock.now()) return null;
    return doc.data;
  }

  async set(key: string, data: Record<string, unknown>, maxAgeMs: number): Promise<void> {
    const now = this.#clock.now();
    const userId = typeof data.userId === 'string' ? data.userId : null;
    await this.#store.save(digest(key), { data, userId, expiresAt: new Date(now.getTime() + maxAgeMs), updatedAt: now });
    // No TTL indexes on FerretDB v1: expired sessions are dropped as new ones are written.
    await this.#store.deleteExpired(now);
  }

  async destroy(key: string): Promise<void> {
    await this.#store.delete(digest(key));
  }

  /** Signs a user out everywhere (e.g. when the user is removed). */
  async destroyForUser(userId: string): Promise<void> {
    await this.#store.deleteForUser(String(userId));
  }
}
