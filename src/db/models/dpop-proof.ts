// DPoP proofs already presented to the token endpoint (RFC 9449 §11.1): one
// record per proof, shared by every process, kept while the proof's iat window
// could still accept it.
import { Schema } from 'mongoose';

export interface DpopProofDoc {
  _id: string; // SHA-256 of the client id and the proof's jti
  expiresAt: Date;
}

export const dpopProofSchema = new Schema<DpopProofDoc>({
  _id: { type: String, required: true },
  expiresAt: { type: Date, required: true },
}, { versionKey: false, strict: 'throw' });
dpopProofSchema.index({ expiresAt: 1 });
