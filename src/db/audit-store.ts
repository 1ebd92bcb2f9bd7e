// The audit trail behind the AuditStore contract (src/db/contract.ts). Event
// ids are ObjectIds; the domain sees them as strings.
import { trusted, Types, type Model } from 'mongoose';
import type { AuditEventRecord, AuditQuery, AuditStore } from './contract.ts';
import type { AuditEventDoc } from './models/audit-event.ts';

const record = (doc: AuditEventDoc): AuditEventRecord => ({
  id: String(doc._id),
  at: doc.at,
  actor: doc.actor,
  action: doc.action,
  accountId: doc.accountId,
  environmentId: doc.environmentId,
  keypairId: doc.keypairId,
  details: doc.details,
});

export class MongooseAuditStore implements AuditStore {
  readonly #model: Model<AuditEventDoc>;

  constructor(model: Model<AuditEventDoc>) {
    this.#model = model;
  }

  async insert(event: Omit<AuditEventRecord, 'id'>, options: { webhookPending?: boolean } = {}): Promise<string> {
    const doc = await this.#model.create(options.webhookPending ? { ...event, webhook: 'pending' } : event);
    return String(doc._id);
  }

  async pendingWebhookEvents(limit: number): Promise<AuditEventRecord[]> {
    const docs = await this.#model.find({ webhook: 'pending' }).sort({ at: 1, _id: 1 }).limit(limit).lean<AuditEventDoc[]>();
    return docs.map(record);
  }

  async webhookQueued(id: string): Promise<void> {
    if (!this.isEventId(id)) return;
    await this.#model.updateOne({ _id: new Types.ObjectId(id), webhook: 'pending' }, { $unset: { webhook: 1 } });
  }

  async page(filter: AuditQuery, query: { limit: number; after?: { at: Date; id: string } }): Promise<AuditEventRecord[]> {
    const { from, to, ...equal } = filter;
    const find: Record<string, unknown> = { ...equal };
    if (from || to) find.at = trusted({ ...(from ? { $gte: from } : {}), ...(to ? { $lt: to } : {}) });
    if (query.after) {
      const { at } = query.after;
      find.$or = [{ at: trusted({ $lt: at }) }, { at, _id: trusted({ $lt: new Types.ObjectId(query.after.id) }) }];
    }
    const docs = await this.#model.find(find).sort({ at: -1, _id: -1 }).limit(query.limit).lean<AuditEventDoc[]>();
    return docs.map(record);
  }

  isEventId(id: string): boolean {
    return /^[0-9a-f]{24}$/.test(id);
  }

  async latestOfKeypairs(keyIds: string[], actions: string[]): Promise<AuditEventRecord[]> {
    if (!keyIds.length) return [];
    const docs = await this.#model.find({ keypairId: trusted({ $in: keyIds.map(String) }), action: trusted({ $in: actions }) }).sort({ at: -1, _id: -1 }).lean<AuditEventDoc[]>();
    return docs.map(record);
  }

  async latestOfKeypair(keyId: string, actions: string[]): Promise<AuditEventRecord | null> {
    const doc = await this.#model.findOne({ keypairId: String(keyId), action: trusted({ $in: actions }) }).sort({ at: -1, _id: -1 }).lean<AuditEventDoc>();
    return doc ? record(doc) : null;
  }
}
