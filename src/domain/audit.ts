// The audit trail: every change is recorded by the domain call that makes it.
import type { Models } from '../db/models/index.ts';
import type { AuditEventDoc } from '../db/models/audit-event.ts';
import type { Clock } from './clock.ts';
import { invalidInput } from './errors.ts';
import { trusted, Types } from 'mongoose';

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

  /**
   * One page of events, newest first. The cursor is opaque to callers: the time
   * and id of the last event of the previous page, so that events recorded in
   * the same millisecond are neither skipped nor repeated.
   */
  /** `null` for a field: events tied to none (e.g. all three null: Keyport's own, such as its signing keys). */
  async page(filter: { accountId?: string | null; environmentId?: string | null; keypairId?: string | null }, page: { limit: number; cursor?: string }): Promise<{ items: AuditEventView[]; nextCursor: string | null }> {
    const query: Record<string, unknown> = { ...filter };
    if (page.cursor) {
      const after = decodeCursor(page.cursor);
      query.$or = [{ at: trusted({ $lt: after.at }) }, { at: after.at, _id: trusted({ $lt: after.id }) }];
    }
    const docs = await this.#models.AuditEvent.find(query).sort({ at: -1, _id: -1 }).limit(page.limit + 1).lean<AuditEventDoc[]>();
    const items = docs.slice(0, page.limit).map(eventView);
    const last = docs.length > page.limit ? docs[page.limit - 1] : undefined;
    return { items, nextCursor: last ? encodeCursor(last) : null };
  }
}

function eventView(doc: AuditEventDoc): AuditEventView {
  return {
    id: String(doc._id),
    at: doc.at.toISOString(),
    actor: doc.actor,
    action: doc.action,
    accountId: doc.accountId,
    environmentId: doc.environmentId,
    keypairId: doc.keypairId,
    details: doc.details,
  };
}

function encodeCursor(doc: AuditEventDoc): string {
  return Buffer.from(`${doc.at.getTime()}.${String(doc._id)}`, 'utf8').toString('base64url');
}

/** True when the string is a cursor this module produced (checked before any query). */
export function isAuditCursor(value: string): boolean {
  try {
    decodeCursor(value);
    return true;
  } catch {
    return false;
  }
}

function decodeCursor(value: string): { at: Date; id: Types.ObjectId } {
  const match = /^(\d{1,15})\.([0-9a-f]{24})$/.exec(Buffer.from(value, 'base64url').toString('utf8'));
  if (!match) throw invalidInput('cursor is not valid');
  return { at: new Date(Number(match[1])), id: new Types.ObjectId(match[2]) };
}
