// The audit trail: every change is recorded by the domain call that makes it.
import type { Clock } from './clock.ts';
import { invalidInput } from './errors.ts';
import type { AuditEventRecord, AuditStore } from '../db/contract.ts';

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

/** An audit event as the surfaces show it: the stored record with its time as ISO 8601. */
export type AuditEventView = Omit<AuditEventRecord, 'at'> & { at: string };

export class AuditLog {
  readonly #store: AuditStore;
  readonly #clock: Clock;

  constructor(store: AuditStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  async record(entry: AuditEntry): Promise<void> {
    await this.#store.insert({
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
   * One page of events, newest first: of an account, an environment, a keypair,
   * or of the instance itself. The cursor is opaque to callers: the time and id
   * of the last event of the previous page, so that events recorded in the same
   * millisecond are neither skipped nor repeated.
   */
  async page(filter: { accountId?: string; environmentId?: string; keypairId?: string } | { instance: true }, page: { limit: number; cursor?: string }): Promise<{ items: AuditEventView[]; nextCursor: string | null }> {
    // Instance-wide events (users, the operator role, sign-ins, setup) belong to no account.
    const query = 'instance' in filter ? { accountId: null, environmentId: null, keypairId: null } : { ...filter };
    const after = page.cursor ? this.#decodeCursor(page.cursor) : undefined;
    const docs = await this.#store.page(query, { limit: page.limit + 1, after });
    const items = docs.slice(0, page.limit).map(eventView);
    const last = docs.length > page.limit ? docs[page.limit - 1] : undefined;
    return { items, nextCursor: last ? encodeCursor(last) : null };
  }

  /**
   * Where a keypair that no longer exists belonged, from its own events (every
   * keypair event carries its owner): null when the trail knows no such keypair.
   */
  async formerKeypair(keyId: string): Promise<{ accountId: string; environmentId: string | null; name: string } | null> {
    const doc = await this.#store.latestOfKeypair(String(keyId), ['keypair.removed', 'keypair.created']);
    if (!doc?.accountId) return null;
    const name = typeof doc.details?.name === 'string' ? doc.details.name : String(keyId);
    return { accountId: doc.accountId, environmentId: doc.environmentId, name };
  }

  #decodeCursor(value: string): { at: Date; id: string } {
    const cursor = decodeCursor(value);
    if (!this.#store.isEventId(cursor.id)) throw invalidInput('cursor is not valid');
    return cursor;
  }
}

function eventView(doc: AuditEventRecord): AuditEventView {
  return {
    id: doc.id,
    at: doc.at.toISOString(),
    actor: doc.actor,
    action: doc.action,
    accountId: doc.accountId,
    environmentId: doc.environmentId,
    keypairId: doc.keypairId,
    details: doc.details,
  };
}

function encodeCursor(doc: AuditEventRecord): string {
  return Buffer.from(`${doc.at.getTime()}.${doc.id}`, 'utf8').toString('base64url');
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

function decodeCursor(value: string): { at: Date; id: string } {
  // The event ids of the store (ObjectIds: 24 hex digits); AuditStore.isEventId checks them again.
  const match = /^(\d{1,15})\.([0-9a-f]{24})$/.exec(Buffer.from(value, 'base64url').toString('utf8'));
  if (!match) throw invalidInput('cursor is not valid');
  return { at: new Date(Number(match[1])), id: match[2]! };
}
