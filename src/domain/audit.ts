// The audit trail: every change is recorded by the domain call that makes it.
import type { Clock } from './clock.ts';
import { invalidInput } from './errors.ts';
import type { AuditEventRecord, AuditQuery, AuditStore, OwnerStore, UserStore } from '../db/contract.ts';

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

/**
 * The webhook outbox, fed by the audit trail: an event it wants is recorded
 * with a pending mark (one write), and its deliveries are derived from it.
 */
export interface AuditOutbox {
  /** Whether this event is to be delivered (a webhook event of an account with endpoints). */
  wants(event: Omit<AuditEventRecord, 'id'>): Promise<boolean>;
  /** Writes the deliveries of an event recorded with the mark, then clears the mark. */
  queue(event: AuditEventRecord): Promise<void>;
}

export class AuditLog {
  readonly #store: AuditStore;
  #outbox: AuditOutbox | null = null;
  readonly #clock: Clock;
  /** Where the names an audit page shows instead of ids come from. */
  readonly #names: { users: Pick<UserStore, 'findByIds'>; owners: Pick<OwnerStore, 'environmentsByIds'> };

  constructor(store: AuditStore, clock: Clock, names: { users: Pick<UserStore, 'findByIds'>; owners: Pick<OwnerStore, 'environmentsByIds'> }) {
    this.#store = store;
    this.#clock = clock;
    this.#names = names;
  }

  /** Where recorded events go next (webhook deliveries): set once, when the domain is built. */
  useOutbox(outbox: AuditOutbox): void {
    this.#outbox = outbox;
  }

  async record(entry: AuditEntry): Promise<void> {
    const event = {
      at: this.#clock.now(),
      actor: entry.actor,
      action: entry.action,
      accountId: entry.accountId ?? null,
      environmentId: entry.environmentId ?? null,
      keypairId: entry.keypairId ?? null,
      details: entry.details ?? {},
    };
    const outbox = this.#outbox;
    const pending = outbox ? await outbox.wants(event) : false;
    // The record is the outbox entry too (a mark on it): one write, so that no
    // crash or error can keep an event without its deliveries, or the other way round.
    const id = await this.#store.insert(event, { webhookPending: pending });
    // Its deliveries at once, so that they are in the log when the change's
    // caller has its answer; if that fails, the delivery worker writes them from the mark.
    if (pending) await outbox!.queue({ id, ...event }).catch(() => { /* the mark stays: the worker queues it */ });
  }

  /** Events recorded with the webhook mark whose deliveries are still to be written, oldest first. */
  pendingWebhookEvents(limit: number): Promise<AuditEventRecord[]> {
    return this.#store.pendingWebhookEvents(limit);
  }

  /** The event's deliveries are written: its mark is cleared. */
  webhookQueued(id: string): Promise<void> {
    return this.#store.webhookQueued(id);
  }

  /**
   * One page of events, newest first: of an account, an environment, a keypair,
   * or of the instance itself. The cursor is opaque to callers: the time and id
   * of the last event of the previous page, so that events recorded in the same
   * millisecond are neither skipped nor repeated.
   */
  async page(filter: ({ accountId?: string; environmentId?: string; keypairId?: string } & AuditNarrowing) | { instance: true }, page: { limit: number; cursor?: string }): Promise<{ items: AuditEventView[]; nextCursor: string | null }> {
    // Instance-wide events (users, the operator role, sign-ins, setup) belong to no account.
    const query = 'instance' in filter ? { accountId: null, environmentId: null, keypairId: null } : narrowed(filter);
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

  /**
   * The names an audit page shows instead of ids, one query per kind: users'
   * emails, environments' names, and keypairs' names from their own events (the
   * latest name recorded at creation, an edit or removal, so also for removed keypairs).
   */
  async names(events: AuditEventView[]): Promise<{ users: Map<string, string>; environments: Map<string, string>; keypairs: Map<string, string> }> {
    const userIds = new Set<string>();
    for (const e of events) {
      if (e.actor.startsWith('user:')) userIds.add(e.actor.slice(5));
      if (typeof e.details.userId === 'string') userIds.add(e.details.userId);
    }
    const environmentIds = [...new Set(events.map((e) => e.environmentId).filter((id): id is string => !!id))];
    const keypairIds = [...new Set(events.flatMap((e) => [e.keypairId, e.actor.startsWith('keypair:') ? e.actor.slice(8) : null]).filter((id): id is string => !!id))];
    const [users, environments, named] = await Promise.all([
      userIds.size ? this.#names.users.findByIds([...userIds]) : [],
      environmentIds.length ? this.#names.owners.environmentsByIds(environmentIds) : [],
      keypairIds.length ? this.#store.latestOfKeypairs(keypairIds, ['keypair.created', 'keypair.updated', 'keypair.removed']) : [],
    ]);
    const keypairs = new Map<string, string>();
    for (const doc of named) {
      if (doc.keypairId && !keypairs.has(doc.keypairId) && typeof doc.details?.name === 'string') keypairs.set(doc.keypairId, doc.details.name);
    }
    return {
      users: new Map(users.map((u) => [u._id, u.email])),
      environments: new Map(environments.map((e) => [e._id, e.name])),
      keypairs,
    };
  }
}

/** Optional narrowing of an audit page: by action, by actor, and by time (from inclusive, to exclusive). */
export interface AuditNarrowing { action?: string; actor?: string; from?: Date; to?: Date }

const ACTION_PATTERN = /^[a-z_]{1,40}\.[a-z_]{1,40}$/;
const ACTOR_PATTERN = /^(?:user:[A-Za-z0-9_-]{1,64}|keypair:[A-Za-z0-9_]{1,64}|cli|system)$/;

function narrowed(filter: { accountId?: string; environmentId?: string; keypairId?: string } & AuditNarrowing): AuditQuery {
  const { action, actor, from, to, ...owner } = filter;
  const query: AuditQuery = { ...owner };
  if (action !== undefined) {
    if (!ACTION_PATTERN.test(action)) throw invalidInput('action is not valid');
    query.action = action;
  }
  if (actor !== undefined) {
    if (!ACTOR_PATTERN.test(actor)) throw invalidInput('actor is not valid');
    query.actor = actor;
  }
  for (const [name, date] of [['from', from], ['to', to]] as const) {
    if (date !== undefined && Number.isNaN(date.getTime())) throw invalidInput(`${name} is not a valid time`);
  }
  if (from) query.from = from;
  if (to) query.to = to;
  return query;
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
