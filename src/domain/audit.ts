// The audit trail: every change is recorded by the domain call that makes it.
import type { Models } from '../db/models/index.ts';
import type { AuditEventDoc } from '../db/models/audit-event.ts';
import type { Clock } from './clock.ts';
import { trusted } from 'mongoose';

/** Who did it: a user, a keypair (automation with a Keyport token), the CLI, or Keyport itself. */
export type Actor = `user:${string}` | `keypair:${string}` | 'cli' | 'system';

export interface AuditEntry {
  actor: Actor;
  action: string;
  accountId?: string | null;
  environmentId?: string | null;
  keypairId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditEventView {
  id: string;
  at: string;
  actor: string;
  action: string;
  accountId: string | null;
  environmentId: string | null;
  keypairId: string | null;
  details: Record<string, unknown>;
}

export class AuditLog {
  readonly #models: Models;
  readonly #clock: Clock;

  constructor(models: Models, clock: Clock) {
    this.#models = models;
    this.#clock = clock;
  }

  async record(entry: AuditEntry): Promise<void> {
    await this.#models.AuditEvent.create({
      at: this.#clock.now(),
      actor: entry.actor,
      action: entry.action,
      accountId: entry.accountId ?? null,
      environmentId: entry.environmentId ?? null,
      keypairId: entry.keypairId ?? null,
      details: entry.details ?? {},
    });
  }

  async list(filter: { accountId?: string; environmentId?: string; keypairId?: string }, page: { limit: number; before?: Date }): Promise<AuditEventView[]> {
    const query: Record<string, unknown> = { ...filter };
    if (page.before) query.at = trusted({ $lt: page.before });
    const docs = await this.#models.AuditEvent.find(query).sort({ at: -1, _id: -1 }).limit(page.limit).lean<AuditEventDoc[]>();
    return docs.map((doc) => ({
      id: String(doc._id),
      at: doc.at.toISOString(),
      actor: doc.actor,
      action: doc.action,
      accountId: doc.accountId,
      environmentId: doc.environmentId,
      keypairId: doc.keypairId,
      details: doc.details,
    }));
  }
}
