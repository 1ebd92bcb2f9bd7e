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
   * One page of events, newest first: of an account, an environment, a keypair,
   * or of the instance itself. The cursor is opaque to callers: the time and id
   * of the last event of the previous page, so that events recorded in the same
   * millisecond are neither skipped nor repeated.
   */
  async page(filter: ({ accountId?: string; environmentId?: string; keypairId?: string } & AuditNarrowing) | { instance: true }, page: { limit: number; cursor?: string }): Promise<{ items: AuditEventView[]; nextCursor: string | null }> {
    // Instance-wide events (users, the operator role, sign-ins, setup) belong to no account.
    const query: Record<string, unknown> = 'instance' in filter ? { accountId: null, environmentId: null, keypairId: null } : narrowed(filter);
    if (page.cursor) {
      const after = decodeCursor(page.cursor);
      query.$or = [{ at: trusted({ $lt: after.at }) }, { at: after.at, _id: trusted({ $lt: after.id }) }];
    }
    const docs = await this.#models.AuditEvent.find(query).sort({ at: -1, _id: -1 }).limit(page.limit + 1).lean<AuditEventDoc[]>();
    const items = docs.slice(0, page.limit).map(eventView);
    const last = docs.length > page.limit ? docs[page.limit - 1] : undefined;
    return { items, nextCursor: last ? encodeCursor(last) : null };
  }

  /**
   * Where a keypair that no longer exists belonged, from its own events (every
   * keypair event carries its owner): null when the trail knows no such keypair.
   */
  async formerKeypair(keyId: string): Promise<{ accountId: string; environmentId: string | null; name: string } | null> {
    const doc = await this.#models.AuditEvent.findOne({ keypairId: String(keyId), action: trusted({ $in: ['keypair.removed', 'keypair.created'] }) })
      .sort({ at: -1, _id: -1 }).lean<AuditEventDoc>();
    if (!doc?.accountId) return null;
    const name = typeof doc.details?.name === 'string' ? doc.details.name : String(keyId);
    return { accountId: doc.accountId, environmentId: doc.environmentId, name };
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
      userIds.size ? this.#models.User.find({ _id: trusted({ $in: [...userIds] }) }, { email: 1 }).lean<{ _id: string; email: string }[]>() : [],
      environmentIds.length ? this.#models.Environment.find({ _id: trusted({ $in: environmentIds }) }, { name: 1 }).lean<{ _id: string; name: string }[]>() : [],
      keypairIds.length
        ? this.#models.AuditEvent.find({ keypairId: trusted({ $in: keypairIds }), action: trusted({ $in: ['keypair.created', 'keypair.updated', 'keypair.removed'] }) }, { keypairId: 1, details: 1 })
          .sort({ at: -1, _id: -1 }).lean<AuditEventDoc[]>()
        : [],
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

function narrowed(filter: { accountId?: string; environmentId?: string; keypairId?: string } & AuditNarrowing): Record<string, unknown> {
  const { action, actor, from, to, ...owner } = filter;
  const query: Record<string, unknown> = { ...owner };
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
  if (from || to) query.at = trusted({ ...(from ? { $gte: from } : {}), ...(to ? { $lt: to } : {}) });
  return query;
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
