// Webhook endpoints and deliveries behind the WebhookStore contract
// (src/db/contract.ts), and the delivery worker's lease.
import { trusted, type Model } from 'mongoose';
import type { WebhookDeliveryRecord, WebhookEndpointRecord, WebhookStore } from './contract.ts';

const LEASE_ID = 'webhook-deliveries';

interface Lease {
  _id: string;
  holder: string;
  expiresAt: Date;
}

function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

export class MongooseWebhookStore implements WebhookStore {
  readonly #endpoints: Model<WebhookEndpointRecord>;
  readonly #deliveries: Model<WebhookDeliveryRecord>;

  constructor(endpoints: Model<WebhookEndpointRecord>, deliveries: Model<WebhookDeliveryRecord>) {
    this.#endpoints = endpoints;
    this.#deliveries = deliveries;
  }

  async insertEndpoint(endpoint: WebhookEndpointRecord): Promise<void> {
    await this.#endpoints.create(endpoint);
  }

  findEndpoint(endpointId: string): Promise<WebhookEndpointRecord | null> {
    return this.#endpoints.findById(String(endpointId)).lean<WebhookEndpointRecord>().exec();
  }

  endpointsOf(accountId: string): Promise<WebhookEndpointRecord[]> {
    return this.#endpoints.find({ accountId: String(accountId) }).sort({ createdAt: 1, _id: 1 }).lean<WebhookEndpointRecord[]>().exec();
  }

  async deleteEndpoint(endpointId: string): Promise<WebhookEndpointRecord | null> {
    const doc = await this.#endpoints.findOneAndDelete({ _id: String(endpointId) }).lean<WebhookEndpointRecord>();
    if (doc) await this.#deliveries.deleteMany({ endpointId: doc._id });
    return doc;
  }

  async insertDeliveries(deliveries: WebhookDeliveryRecord[]): Promise<void> {
    if (!deliveries.length) return;
    try {
      // Unordered: the deliveries not there yet are inserted even when others are.
      await this.#deliveries.insertMany(deliveries, { ordered: false });
    } catch (err) {
      const writeErrors = (err as { writeErrors?: unknown[] }).writeErrors;
      if (isDuplicateKey(err) && (!writeErrors || writeErrors.every(isDuplicateKey))) return;
      throw err;
    }
  }

  findDelivery(deliveryId: string): Promise<WebhookDeliveryRecord | null> {
    return this.#deliveries.findById(String(deliveryId)).lean<WebhookDeliveryRecord>().exec();
  }

  deliveriesOf(endpointId: string, query: { limit: number; before?: { createdAt: Date; id: string } }): Promise<WebhookDeliveryRecord[]> {
    const find: Record<string, unknown> = { endpointId: String(endpointId) };
    if (query.before) {
      const { createdAt, id } = query.before;
      find.$or = [{ createdAt: trusted({ $lt: createdAt }) }, { createdAt, _id: trusted({ $lt: id }) }];
    }
    return this.#deliveries.find(find).sort({ createdAt: -1, _id: -1 }).limit(query.limit).lean<WebhookDeliveryRecord[]>().exec();
  }

  nextDue(now: Date, busyEndpoints: string[]): Promise<WebhookDeliveryRecord | null> {
    const find: Record<string, unknown> = { status: 'pending', nextAttemptAt: trusted({ $lte: now }) };
    if (busyEndpoints.length) find.endpointId = trusted({ $nin: busyEndpoints });
    return this.#deliveries.findOne(find).sort({ nextAttemptAt: 1, createdAt: 1, _id: 1 }).lean<WebhookDeliveryRecord>().exec();
  }

  async settle(deliveryId: string, set: Partial<WebhookDeliveryRecord>): Promise<void> {
    await this.#deliveries.updateOne({ _id: String(deliveryId) }, { $set: set });
  }

  async acquireWorkerLease(holder: string, until: Date): Promise<boolean> {
    const leases = this.#endpoints.db.collection<Lease>('webhook_worker_leases');
    const now = Date.now();
    const current = await leases.findOne({ _id: LEASE_ID });
    if (current?.holder === holder) {
      // Renewed once half of it is left: a write every few polls, not at every one.
      if (current.expiresAt.getTime() - now > (until.getTime() - now) / 2) return true;
      const renewed = await leases.updateOne({ _id: LEASE_ID, holder }, { $set: { expiresAt: until } });
      return renewed.matchedCount === 1;
    }
    if (current) {
      if (current.expiresAt.getTime() >= now) return false;
      // Left by a process that stopped without releasing it.
      await leases.deleteOne({ _id: LEASE_ID, holder: current.holder });
    }
    // An insert against the unique _id is atomic on every database (FerretDB v1 included): one process wins.
    try {
      await leases.insertOne({ _id: LEASE_ID, holder, expiresAt: until });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async releaseWorkerLease(holder: string): Promise<void> {
    await this.#endpoints.db.collection<Lease>('webhook_worker_leases').deleteOne({ _id: LEASE_ID, holder });
  }
}
