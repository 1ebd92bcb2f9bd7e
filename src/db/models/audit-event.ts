// The audit trail. Never holds a secret, a hash or a token.
import { Schema, Types } from 'mongoose';
import type { AuditEventRecord } from '../contract.ts';

/** The contract's record, under an ObjectId (increasing, so that pages follow it). */
export type AuditEventDoc = Omit<AuditEventRecord, 'id'> & { _id: Types.ObjectId; webhook?: 'pending' };

export const auditEventSchema = new Schema<AuditEventDoc>({
  at: { type: Date, required: true },
  actor: { type: String, required: true },
  action: { type: String, required: true },
  accountId: { type: String, default: null },
  environmentId: { type: String, default: null },
  keypairId: { type: String, default: null },
  details: { type: Schema.Types.Mixed, default: {} },
  /** 'pending' while the event's webhook deliveries are still to be written (the outbox); absent otherwise and on older events. */
  webhook: { type: String },
}, { versionKey: false, strict: 'throw', minimize: false });
auditEventSchema.index({ accountId: 1, at: -1 });
auditEventSchema.index({ environmentId: 1, at: -1 });
auditEventSchema.index({ keypairId: 1, at: -1 });
// The delivery worker looks for the few pending events at every poll.
auditEventSchema.index({ webhook: 1 });
