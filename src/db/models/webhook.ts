// Webhook endpoints (the signing secret only encrypted) and deliveries: the
// outbox the delivery worker sends from, which is also each endpoint's log.
import { Schema } from 'mongoose';
import type { WebhookDeliveryRecord, WebhookEndpointRecord } from '../contract.ts';

export type WebhookEndpointDoc = WebhookEndpointRecord;
export type WebhookDeliveryDoc = WebhookDeliveryRecord;

export const webhookEndpointSchema = new Schema<WebhookEndpointDoc>({
  _id: { type: String, required: true },
  accountId: { type: String, required: true },
  url: { type: String, required: true },
  description: { type: String, default: '' },
  encryptedSecret: { type: String, required: true },
  secretHint: { type: String, required: true },
  createdAt: { type: Date, required: true },
  createdBy: { type: String, required: true },
}, { versionKey: false, strict: 'throw' });
webhookEndpointSchema.index({ accountId: 1, createdAt: 1 });

export const webhookDeliverySchema = new Schema<WebhookDeliveryDoc>({
  _id: { type: String, required: true },
  endpointId: { type: String, required: true },
  accountId: { type: String, required: true },
  eventId: { type: String, required: true },
  type: { type: String, required: true },
  body: { type: String, required: true },
  status: { type: String, enum: ['pending', 'delivered', 'failed'], required: true },
  attempts: { type: Number, required: true, default: 0 },
  nextAttemptAt: { type: Date, required: true },
  retryUntil: { type: Date, required: true },
  createdAt: { type: Date, required: true },
  lastAttemptAt: { type: Date, default: null },
  lastResponseStatus: { type: Number, default: null },
  lastError: { type: String, default: null },
  deliveredAt: { type: Date, default: null },
  redeliveryOf: { type: String, default: null },
}, { versionKey: false, strict: 'throw' });
webhookDeliverySchema.index({ status: 1, nextAttemptAt: 1 });
webhookDeliverySchema.index({ endpointId: 1, createdAt: -1 });
