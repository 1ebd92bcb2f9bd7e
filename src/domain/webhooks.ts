// Webhooks: an account's endpoints, and the deliveries of its keypair events
// to them (docs/architecture.md, Webhooks).
//
// Deliveries come from the audit trail, which is the outbox: a keypair action
// that is a webhook event of an account with endpoints is recorded with a
// pending mark, in the one insert of the audit record. queue() then writes one
// delivery per endpoint (ids derived from the event and the endpoint, so that
// writing them twice adds nothing) and clears the mark: at once, before the
// domain call that made the change returns, and otherwise (a crash, a database
// error in between) by the delivery worker from the marked events. The worker
// (src/webhooks/worker.ts) sends from the deliveries, so an event survives a
// restart, and the requests that made it never wait for a receiver.
import type { Actor, AuditLog, AuditOutbox } from './audit.ts';
import type { Clock } from './clock.ts';
import { createHash } from 'node:crypto';
import { randomBase62 } from './credentials.ts';
import { invalidInput, notFound } from './errors.ts';
import { openText, sealText } from './sealed.ts';
import { checkWebhookUrl, type WebhookUrlPolicy } from './webhook-urls.ts';
import type { AuditEventRecord, WebhookDeliveryRecord, WebhookDeliveryStatus, WebhookEndpointRecord, WebhookStore } from '../db/contract.ts';

/** The keypair actions of the audit trail that are sent as webhook events (under the same names). */
export const WEBHOOK_EVENT_TYPES: ReadonlySet<string> = new Set([
  'keypair.created', 'keypair.rotated', 'keypair.regenerated', 'keypair.replaced', 'keypair.disabled', 'keypair.enabled',
  'keypair.removed', 'keypair.locked', 'keypair.expiring', 'keypair.expired',
  'keypair.previous_secret_still_used', 'keypair.ended_secret_used',
]);

/** An account keeps at most this many endpoints (each event is one delivery per endpoint). */
export const ENDPOINTS_MAX = 10;
export const WEBHOOK_DESCRIPTION_MAX = 500;
/** Retries never wait longer than this between two attempts. */
const MAX_RETRY_DELAY_MS = 3_600_000;

export interface WebhookPolicy extends WebhookUrlPolicy {
  retryBaseMs: number;
  retryForHours: number;
}

export interface WebhookEndpointView {
  id: string;
  accountId: string;
  url: string;
  description: string;
  /** The signing secret's last 4 characters. */
  secretHint: string;
  events: string[];
  createdAt: string;
  createdBy: string;
}

export interface WebhookDeliveryView {
  id: string;
  endpointId: string;
  eventId: string;
  type: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  createdAt: string;
  nextAttemptAt: string | null;
  retryUntil: string;
  lastAttemptAt: string | null;
  lastResponseStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  redeliveryOf: string | null;
  /** The JSON body as sent. */
  payload: unknown;
}

/** What the worker sends: the delivery, where, and the secret to sign with. */
export interface DueDelivery {
  delivery: WebhookDeliveryRecord;
  url: string;
  secret: string;
}

/** An attempt's outcome: the receiver's HTTP status, or why there was none. */
export type AttemptOutcome = { status: number } | { error: string };

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function endpointView(doc: WebhookEndpointRecord): WebhookEndpointView {
  return {
    id: doc._id,
    accountId: doc.accountId,
    url: doc.url,
    description: doc.description,
    secretHint: `whsec_…${doc.secretHint}`,
    events: [...WEBHOOK_EVENT_TYPES],
    createdAt: doc.createdAt.toISOString(),
    createdBy: doc.createdBy,
  };
}

function deliveryView(doc: WebhookDeliveryRecord): WebhookDeliveryView {
  return {
    id: doc._id,
    endpointId: doc.endpointId,
    eventId: doc.eventId,
    type: doc.type,
    status: doc.status,
    attempts: doc.attempts,
    createdAt: doc.createdAt.toISOString(),
    nextAttemptAt: doc.status === 'pending' ? doc.nextAttemptAt.toISOString() : null,
    retryUntil: doc.retryUntil.toISOString(),
    lastAttemptAt: iso(doc.lastAttemptAt),
    lastResponseStatus: doc.lastResponseStatus,
    lastError: doc.lastError,
    deliveredAt: iso(doc.deliveredAt),
    redeliveryOf: doc.redeliveryOf,
    payload: JSON.parse(doc.body),
  };
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Pending marked events the worker queues per poll at most. */
const PENDING_EVENTS_PER_POLL = 100;

/** The id of an event's delivery to an endpoint: the same each time it is derived, so that a delivery is written once however often its event is queued. */
function deliveryIdOf(eventId: string, endpointId: string): string {
  const digest = createHash('sha256').update(`${eventId}\0${endpointId}`).digest();
  return `whd_${Array.from(digest.subarray(0, 20), (byte) => BASE62[byte % 62]).join('')}`;
}

/** The delay before retry number `attempts` (1: the first retry): base, 2 × base, 4 × base…, at most an hour. */
export function retryDelayMs(attempts: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempts - 1), MAX_RETRY_DELAY_MS);
}

const encodeCursor = (doc: WebhookDeliveryRecord) => Buffer.from(`${doc.createdAt.getTime()}.${doc._id}`, 'utf8').toString('base64url');

function decodeCursor(value: string): { createdAt: Date; id: string } {
  const match = /^(\d{1,15})\.(whd_[0-9A-Za-z]{20})$/.exec(Buffer.from(value, 'base64url').toString('utf8'));
  if (!match) throw invalidInput('cursor is not valid');
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}

export class WebhookService implements AuditOutbox {
  readonly #store: WebhookStore;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #kek: Uint8Array;
  readonly #policy: WebhookPolicy;
  readonly #resolve: ((host: string) => Promise<string[]>) | undefined;
  readonly #enqueued = new Set<() => void>();

  constructor(deps: { store: WebhookStore; audit: AuditLog; clock: Clock; keyEncryptionKey: Uint8Array; policy: WebhookPolicy; resolve?: (host: string) => Promise<string[]> }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#kek = deps.keyEncryptionKey;
    this.#policy = deps.policy;
    this.#resolve = deps.resolve;
  }

  get policy(): WebhookPolicy {
    return this.#policy;
  }

  /** Adds an endpoint; the signing secret is in this answer only (it is stored encrypted, to sign with). */
  async create(accountId: string, input: { url: string; description?: string }, actor: Actor): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
    const description = (input.description ?? '').trim();
    if (description.length > WEBHOOK_DESCRIPTION_MAX) throw invalidInput(`description must be at most ${WEBHOOK_DESCRIPTION_MAX} characters`);
    const url = await checkWebhookUrl(input.url, this.#policy, this.#resolve);
    const existing = await this.#store.endpointsOf(accountId);
    if (existing.length >= ENDPOINTS_MAX) throw invalidInput(`an account has at most ${ENDPOINTS_MAX} webhook endpoints; remove one first`);
    const id = `whk_${randomBase62(16)}`;
    const secret = `whsec_${randomBase62(40)}`;
    const doc: WebhookEndpointRecord = {
      _id: id,
      accountId,
      url,
      description,
      encryptedSecret: await sealText(secret, id, this.#kek),
      secretHint: secret.slice(-4),
      createdAt: this.#clock.now(),
      createdBy: actor,
    };
    await this.#store.insertEndpoint(doc);
    await this.#audit.record({ actor, action: 'webhook.created', accountId, details: { webhookId: id, url } });
    return { endpoint: endpointView(doc), secret };
  }

  async list(accountId: string): Promise<WebhookEndpointView[]> {
    return (await this.#store.endpointsOf(accountId)).map(endpointView);
  }

  async get(webhookId: string): Promise<WebhookEndpointView> {
    const doc = await this.#store.findEndpoint(webhookId);
    if (!doc) throw notFound('webhook');
    return endpointView(doc);
  }

  /** Removes an endpoint and its delivery log; its pending deliveries are not sent. */
  async remove(webhookId: string, actor: Actor): Promise<void> {
    const doc = await this.#store.deleteEndpoint(webhookId);
    if (!doc) throw notFound('webhook');
    await this.#audit.record({ actor, action: 'webhook.removed', accountId: doc.accountId, details: { webhookId: doc._id, url: doc.url } });
  }

  /** An endpoint's delivery log, newest first. */
  async deliveries(webhookId: string, page: { limit: number; cursor?: string }): Promise<{ items: WebhookDeliveryView[]; nextCursor: string | null }> {
    const before = page.cursor ? decodeCursor(page.cursor) : undefined;
    const docs = await this.#store.deliveriesOf(webhookId, { limit: page.limit + 1, ...(before ? { before } : {}) });
    const items = docs.slice(0, page.limit);
    return { items: items.map(deliveryView), nextCursor: docs.length > page.limit ? encodeCursor(items.at(-1)!) : null };
  }

  async delivery(webhookId: string, deliveryId: string): Promise<WebhookDeliveryView> {
    const doc = await this.#store.findDelivery(deliveryId);
    if (!doc || doc.endpointId !== webhookId) throw notFound('delivery');
    return deliveryView(doc);
  }

  /**
   * Sends an event again, as a new delivery (same event id and body, a fresh
   * signature and retry period), whatever became of the first one.
   */
  async redeliver(webhookId: string, deliveryId: string, actor: Actor): Promise<WebhookDeliveryView> {
    const original = await this.#store.findDelivery(deliveryId);
    if (!original || original.endpointId !== webhookId) throw notFound('delivery');
    const now = this.#clock.now();
    const copy = this.#newDelivery(original.endpointId, original.accountId, original.eventId, original.type, original.body, now);
    copy.redeliveryOf = original._id;
    await this.#store.insertDeliveries([copy]);
    await this.#audit.record({ actor, action: 'webhook.redelivered', accountId: original.accountId, details: { webhookId, deliveryId: copy._id, redeliveryOf: original._id, eventId: original.eventId, type: original.type } });
    this.#notify();
    return deliveryView(copy);
  }

  /** The outbox (AuditLog.record): a webhook event of an account that has endpoints is recorded with the pending mark. */
  async wants(event: Omit<AuditEventRecord, 'id'>): Promise<boolean> {
    if (!WEBHOOK_EVENT_TYPES.has(event.action) || !event.accountId) return false;
    return (await this.#store.endpointsOf(event.accountId)).length > 0;
  }

  /** One delivery per endpoint of the event's account (written once, however often this runs), then the event's mark cleared. */
  async queue(event: AuditEventRecord): Promise<void> {
    const endpoints = event.accountId && WEBHOOK_EVENT_TYPES.has(event.action) ? await this.#store.endpointsOf(event.accountId) : [];
    if (endpoints.length) {
      const body = this.#body(event);
      const now = this.#clock.now();
      await this.#store.insertDeliveries(endpoints.map((e) => this.#newDelivery(e._id, e.accountId, event.id, event.action, body, now, deliveryIdOf(event.id, e._id))));
    }
    await this.#audit.webhookQueued(event.id);
    if (endpoints.length) this.#notify();
  }

  /** For the delivery worker, under its lease: queues the marked events whose deliveries were not written when they were recorded. */
  async queuePending(): Promise<number> {
    const events = await this.#audit.pendingWebhookEvents(PENDING_EVENTS_PER_POLL);
    for (const event of events) await this.queue(event);
    return events.length;
  }

  #body(event: AuditEventRecord): string {
    return JSON.stringify({
      id: event.id,
      type: event.action,
      createdAt: event.at.toISOString(),
      accountId: event.accountId,
      environmentId: event.environmentId,
      keypairId: event.keypairId,
      actor: event.actor,
      data: event.details,
    });
  }

  /** Called after deliveries were queued in this process (the worker then looks at once, rather than at its next poll). */
  onEnqueued(listener: () => void): () => void {
    this.#enqueued.add(listener);
    return () => this.#enqueued.delete(listener);
  }

  /** The pending delivery due first of an endpoint not in `busyEndpoints`, with where to send it and the secret to sign with. */
  async nextDue(busyEndpoints: string[]): Promise<DueDelivery | null> {
    for (;;) {
      const delivery = await this.#store.nextDue(this.#clock.now(), busyEndpoints);
      if (!delivery) return null;
      const endpoint = await this.#store.findEndpoint(delivery.endpointId);
      if (endpoint) {
        const secret = await openText(endpoint.encryptedSecret, this.#kek, 'cannot decrypt').catch(() => null);
        if (secret !== null) return { delivery, url: endpoint.url, secret };
        // Never sent unsigned, and never left at the head of the queue.
        await this.#store.settle(delivery._id, { status: 'failed', lastError: 'cannot decrypt the endpoint\'s signing secret: KEYPORT_KEY_ENCRYPTION_KEY is not the key it was stored with' });
        continue;
      }
      // The endpoint was removed while its delivery was read: the log went with it.
      await this.#store.settle(delivery._id, { status: 'failed', lastError: 'the endpoint was removed' });
    }
  }

  /**
   * Records an attempt: 2xx is delivered; anything else is retried after the
   * backoff delay, unless that falls after the retry period: then failed.
   */
  async recordAttempt(delivery: WebhookDeliveryRecord, outcome: AttemptOutcome): Promise<WebhookDeliveryStatus> {
    const now = this.#clock.now();
    const attempts = delivery.attempts + 1;
    const ok = 'status' in outcome && outcome.status >= 200 && outcome.status < 300;
    const base = { attempts, lastAttemptAt: now, lastResponseStatus: 'status' in outcome ? outcome.status : null, lastError: 'error' in outcome ? outcome.error : null };
    if (ok) {
      await this.#store.settle(delivery._id, { ...base, status: 'delivered', deliveredAt: now });
      return 'delivered';
    }
    const next = new Date(now.getTime() + retryDelayMs(attempts, this.#policy.retryBaseMs));
    if (next > delivery.retryUntil) {
      await this.#store.settle(delivery._id, { ...base, status: 'failed' });
      await this.#audit.record({ actor: 'system', action: 'webhook.delivery_failed', accountId: delivery.accountId, details: { webhookId: delivery.endpointId, deliveryId: delivery._id, eventId: delivery.eventId, type: delivery.type, attempts } });
      return 'failed';
    }
    await this.#store.settle(delivery._id, { ...base, nextAttemptAt: next });
    return 'pending';
  }

  holdWorkerLease(holder: string, until: Date): Promise<boolean> {
    return this.#store.acquireWorkerLease(holder, until);
  }

  releaseWorkerLease(holder: string): Promise<void> {
    return this.#store.releaseWorkerLease(holder);
  }

  #newDelivery(endpointId: string, accountId: string, eventId: string, type: string, body: string, now: Date, id = `whd_${randomBase62(20)}`): WebhookDeliveryRecord {
    return {
      _id: id,
      endpointId,
      accountId,
      eventId,
      type,
      body,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      retryUntil: new Date(now.getTime() + this.#policy.retryForHours * 3_600_000),
      createdAt: now,
      lastAttemptAt: null,
      lastResponseStatus: null,
      lastError: null,
      deliveredAt: null,
      redeliveryOf: null,
    };
  }

  #notify(): void {
    for (const listener of this.#enqueued) listener();
  }
}
