// Registers every model on a connection; one module per model beside this one.
import type { Connection, Model } from 'mongoose';
import { adminSessionSchema, type AdminSessionDoc } from './admin-session.ts';
import { replaySchema, type ReplayDoc } from './replay.ts';
import { keypairUsageDaySchema, type KeypairUsageDayDoc } from './keypair-usage-day.ts';
import { auditEventSchema, type AuditEventDoc } from './audit-event.ts';
import { changeSchema, type ChangeDoc } from './change.ts';
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
  Replay: Model<ReplayDoc>;
  KeypairUsageDay: Model<KeypairUsageDayDoc>;
  AdminSession: Model<AdminSessionDoc>;
  SetupToken: Model<SetupTokenDoc>;
  Change: Model<ChangeDoc>;
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
    Replay: connection.model<ReplayDoc>('Replay', replaySchema, 'replays'),
    KeypairUsageDay: connection.model<KeypairUsageDayDoc>('KeypairUsageDay', keypairUsageDaySchema, 'keypair_usage_days'),
    AdminSession: connection.model<AdminSessionDoc>('AdminSession', adminSessionSchema, 'admin_sessions'),
    SetupToken: connection.model<SetupTokenDoc>('SetupToken', setupTokenSchema, 'setup_tokens'),
    Change: connection.model<ChangeDoc>('Change', changeSchema, 'changes'),
    WebhookEndpoint: connection.model<WebhookEndpointDoc>('WebhookEndpoint', webhookEndpointSchema, 'webhook_endpoints'),
    WebhookDelivery: connection.model<WebhookDeliveryDoc>('WebhookDelivery', webhookDeliverySchema, 'webhook_deliveries'),
  };
}
