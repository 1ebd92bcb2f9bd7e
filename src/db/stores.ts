// Builds every store of the storage contract (src/db/contract.ts) on one
// database's models: what createDomain() receives instead of a connection.
import type { Stores } from './contract.ts';
import { MongooseAuditStore } from './audit-store.ts';
import { PollingChangeFeed } from './change-feed.ts';
import { MongooseKeypairStore } from './keypair-store.ts';
import type { Models } from './models/index.ts';
import { MongooseOwnerStore } from './owner-store.ts';
import { MongooseRevocationEventStore } from './revocation-event-store.ts';
import { MongooseReplayStore } from './replay-store.ts';
import { MongooseKeypairUsageStore } from './keypair-usage-store.ts';
import { MongooseRevocationStore } from './revocation-store.ts';
import { MongooseSessionStore } from './session-store.ts';
import { MongooseSetupTokenStore } from './setup-token-store.ts';
import { MongooseSigningKeyStore } from './signing-key-store.ts';
import { MongooseMembershipStore, MongooseUserStore } from './user-store.ts';
import { MongooseWebhookStore } from './webhook-store.ts';

/** `embedded`: the embedded FerretDB (one writer at a time), rather than MongoDB. */
export function createStores(models: Models, options: { embedded: boolean }): Stores {
  const changes = new PollingChangeFeed(models);
  return {
    changes,
    keypairs: new MongooseKeypairStore({
      model: models.Keypair,
      changes,
      // The embedded FerretDB writes one document at a time anyway: more failure counts in
      // flight would only queue inside it, at a higher CPU cost (src/domain/failure-counts.ts).
      failureWritesInFlight: options.embedded ? 1 : 8,
    }),
    owners: new MongooseOwnerStore(models, changes),
    users: new MongooseUserStore(models.User),
    memberships: new MongooseMembershipStore(models),
    audit: new MongooseAuditStore(models.AuditEvent),
    revocations: new MongooseRevocationStore(models.RevokedToken),
    revocationEvents: new MongooseRevocationEventStore(models.RevocationEvent),
    replays: new MongooseReplayStore(models.Replay),
    keypairUsage: new MongooseKeypairUsageStore(models.KeypairUsageDay),
    sessions: new MongooseSessionStore(models.AdminSession),
    setupTokens: new MongooseSetupTokenStore(models.SetupToken),
    signingKeys: new MongooseSigningKeyStore(models.SigningKey),
    webhooks: new MongooseWebhookStore(models.WebhookEndpoint, models.WebhookDelivery),
  };
}
