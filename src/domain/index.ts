// Wires the domain services together. HTTP layers, the CLI and the OAuth layer
// all go through this object; none of them touches a model directly.
import type { KeyportConfig } from '../config.ts';
import type { Models } from '../db/models/index.ts';
import { MongooseKeypairStore } from '../db/keypair-store.ts';
import { PollingChangeFeed } from '../db/change-feed.ts';
import { MongooseOwnerStore } from '../db/owner-store.ts';
import { MongooseAuditStore } from '../db/audit-store.ts';
import { MongooseRevocationStore } from '../db/revocation-store.ts';
import { MongooseSessionStore } from '../db/session-store.ts';
import { MongooseSetupTokenStore } from '../db/setup-token-store.ts';
import { MongooseMembershipStore, MongooseUserStore } from '../db/user-store.ts';
import type { ChangeFeed } from './stores.ts';
import { AccessService } from './access.ts';
import { AuditLog } from './audit.ts';
import { Bootstrap } from './bootstrap.ts';
import { systemClock, type Clock } from './clock.ts';
import { SecretHasher } from './credentials.ts';
import { OwnerClosing } from './closing.ts';
import { KeypairService } from './keypairs.ts';
import { OwnerService } from './owners.ts';
import { RevocationList } from './revocations.ts';
import { ScopeCatalog } from './scope-catalog.ts';
import { AdminSessionStore } from './sessions.ts';
import { SigningKeyService } from './signing-keys.ts';
import { UserService } from './users.ts';

export interface Domain {
  audit: AuditLog;
  owners: OwnerService;
  users: UserService;
  keypairs: KeypairService;
  scopes: ScopeCatalog;
  revocations: RevocationList;
  access: AccessService;
  closing: OwnerClosing;
  sessions: AdminSessionStore;
  bootstrap: Bootstrap;
  signingKeys: SigningKeyService;
  /** Tells every process's caches about changes; servers start() it. */
  changes: ChangeFeed;
  clock: Clock;
}

export function createDomain(options: { models: Models; config: KeyportConfig; pepper: string; keyEncryptionKey: Uint8Array; clock?: Clock }): Domain {
  const clock = options.clock ?? systemClock;
  const audit = new AuditLog(new MongooseAuditStore(options.models.AuditEvent), clock);
  const changes = new PollingChangeFeed(options.models);
  const ownerStore = new MongooseOwnerStore(options.models, changes);
  const owners = new OwnerService(ownerStore, audit, clock, changes);
  const scopes = new ScopeCatalog(options.config.scopes);
  const keypairStore = new MongooseKeypairStore({
    model: options.models.Keypair,
    changes,
    // The embedded FerretDB writes one document at a time anyway: more failure counts in
    // flight would only queue inside it, at a higher CPU cost (failure-counts.ts).
    failureWritesInFlight: options.config.database.uri ? 8 : 1,
  });
  const keypairs = new KeypairService({
    store: keypairStore,
    owners,
    scopes,
    hasher: new SecretHasher(options.pepper),
    audit,
    clock,
    lockout: options.config.lockout,
  });
  const users = new UserService({ users: new MongooseUserStore(options.models.User), memberships: new MongooseMembershipStore(options.models) }, audit, clock);
  return {
    audit,
    owners,
    users,
    keypairs,
    access: new AccessService({ users, owners, keypairs, audit }),
    closing: new OwnerClosing({ ownerStore, keypairStore, owners, keypairs, audit }),
    sessions: new AdminSessionStore(new MongooseSessionStore(options.models.AdminSession), clock),
    scopes,
    revocations: new RevocationList({ store: new MongooseRevocationStore(options.models.RevokedToken), audit, clock, changes, maxTokenLifetimeMs: options.config.tokens.ttlSeconds * 1000 }),
    bootstrap: new Bootstrap({ store: new MongooseSetupTokenStore(options.models.SetupToken), users, owners, audit, clock }),
    signingKeys: new SigningKeyService({
      models: options.models,
      audit,
      clock,
      changes,
      keyEncryptionKey: options.keyEncryptionKey,
      rotationDays: options.config.signingKeys.rotationDays,
      tokenTtlSeconds: options.config.tokens.ttlSeconds,
    }),
    changes,
    clock,
  };
}
