// Registers every model on a connection; one module per model beside this one.
import type { Connection, Model } from 'mongoose';
import { adminSessionSchema, type AdminSessionDoc } from './admin-session.ts';
import { assertionReplaySchema, type AssertionReplayDoc } from './assertion-replay.ts';
import { auditEventSchema, type AuditEventDoc } from './audit-event.ts';
import { changeSchema, type ChangeDoc } from './change.ts';
import { dpopProofSchema, type DpopProofDoc } from './dpop-proof.ts';
import { keypairSchema, type KeypairDoc } from './keypair.ts';
import { accountSchema, environmentSchema, type AccountDoc, type EnvironmentDoc } from './owner.ts';
import { revocationEventSchema, type RevocationEventDoc } from './revocation-event.ts';
import { revokedTokenSchema, type RevokedTokenDoc } from './revoked-token.ts';
import { setupTokenSchema, type SetupTokenDoc } from './setup-token.ts';
import { signingKeySchema, type SigningKeyDoc } from './signing-key.ts';
import { membershipSchema, userSchema, type MembershipDoc, type UserDoc } from './user.ts';
import { webhookDeliverySchema, webhookEndpointSchema, type WebhookDeliveryDoc, type WebhookEndpointDoc } from './webhook.ts';

export interface Models {
  Account: Model<AccountDoc>;
  Environment: Model<EnvironmentDoc>;
  User: Model<UserDoc>;
  Membership: Model<MembershipDoc>;
  Keypair: Model<KeypairDoc>;
  AuditEvent: Model<AuditEventDoc>;
  SigningKey: Model<SigningKeyDoc>;
  RevokedToken: Model<RevokedTokenDoc>;
  RevocationEvent: Model<RevocationEventDoc>;
  AssertionReplay: Model<AssertionReplayDoc>;
  AdminSession: Model<AdminSessionDoc>;
  SetupToken: Model<SetupTokenDoc>;
  Change: Model<ChangeDoc>;
  DpopProof: Model<DpopProofDoc>;
  WebhookEndpoint: Model<WebhookEndpointDoc>;
  WebhookDelivery: Model<WebhookDeliveryDoc>;
}

export function registerModels(connection: Connection): Models {
  return {
    Account: connection.model<AccountDoc>('Account', accountSchema, 'accounts'),
    Environment: connection.model<EnvironmentDoc>('Environment', environmentSchema, 'environments'),
    User: connection.model<UserDoc>('User', userSchema, 'users'),
    Membership: connection.model<MembershipDoc>('Membership', membershipSchema, 'memberships'),
    Keypair: connection.model<KeypairDoc>('Keypair', keypairSchema, 'keypairs'),
    AuditEvent: connection.model<AuditEventDoc>('AuditEvent', auditEventSchema, 'audit_events'),
    SigningKey: connection.model<SigningKeyDoc>('SigningKey', signingKeySchema, 'signing_keys'),
    RevokedToken: connection.model<RevokedTokenDoc>('RevokedToken', revokedTokenSchema, 'revoked_tokens'),
    RevocationEvent: connection.model<RevocationEventDoc>('RevocationEvent', revocationEventSchema, 'revocation_events'),
    AssertionReplay: connection.model<AssertionReplayDoc>('AssertionReplay', assertionReplaySchema, 'assertion_replays'),
    AdminSession: connection.model<AdminSessionDoc>('AdminSession', adminSessionSchema, 'admin_sessions'),
    SetupToken: connection.model<SetupTokenDoc>('SetupToken', setupTokenSchema, 'setup_tokens'),
    Change: connection.model<ChangeDoc>('Change', changeSchema, 'changes'),
    DpopProof: connection.model<DpopProofDoc>('DpopProof', dpopProofSchema, 'dpop_proofs'),
    WebhookEndpoint: connection.model<WebhookEndpointDoc>('WebhookEndpoint', webhookEndpointSchema, 'webhook_endpoints'),
    WebhookDelivery: connection.model<WebhookDeliveryDoc>('WebhookDelivery', webhookDeliverySchema, 'webhook_deliveries'),
  };
}
