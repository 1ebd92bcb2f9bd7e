// Wires the domain services together. HTTP layers, the CLI and the OAuth layer
// all go through this object; none of them touches a model directly. It receives
// the stores (src/db/contract.ts), which src/db builds on the database.
import type { KeyportConfig } from '../config.ts';
import type { ChangeFeed, Stores } from '../db/contract.ts';
import { AccessService } from './access.ts';
import { AuditLog } from './audit.ts';
import { Bootstrap } from './bootstrap.ts';
import { systemClock, type Clock } from './clock.ts';
import { SecretHasher } from './credentials.ts';
import { DpopProofLog } from './dpop-proofs.ts';
import { OwnerClosing } from './closing.ts';
import { KeypairKeyService } from './keypair-keys.ts';
import { KeypairTrustService } from './keypair-trust.ts';
import { KeypairService } from './keypairs.ts';
import { ExpirySweep } from './expiry.ts';
import { OwnerService } from './owners.ts';
import { RevocationFeed } from './revocation-feed.ts';
import { ReplayGuard } from './replays.ts';
import { RevocationList } from './revocations.ts';
import { ScopeCatalog } from './scope-catalog.ts';
import { AdminSessionStore } from './sessions.ts';
import { SigningKeyService } from './signing-keys.ts';
import { UserService } from './users.ts';
import { WebhookService } from './webhooks.ts';
import { KeypairAuthenticator } from './keypair-auth.ts';
import { DailyUsage } from './daily-usage.ts';
import { KeypairBulk } from './keypair-bulk.ts';

export interface Domain {
  audit: AuditLog;
  owners: OwnerService;
  users: UserService;
  /** The keypair lifecycle: create, edit, rotate, replace, remove (the admin surfaces). */
  keypairs: KeypairService;
  /** Keypair authentication for the OAuth layer, and the failure counts and usage it writes after each answer. */
  keypairAuth: KeypairAuthenticator;
  /** Each keypair's authentications and failures per day (its 30-day chart). */
  usage: DailyUsage;
  /** Audits keypairs that enter the expiring window or expire; servers start() it. */
  expiry: ExpirySweep;
  /** The public keys of keypairs (private_key_jwt). */
  keypairKeys: KeypairKeyService;
  /** The trust rules of keypairs (federated workload identity). */
  keypairTrust: KeypairTrustService;
  /** Single use of client assertions' jti. */
  replays: ReplayGuard;
  scopes: ScopeCatalog;
  revocations: RevocationList;
  /** What resource servers that validate offline must refuse (the signed revocation feed). */
  revocationFeed: RevocationFeed;
  access: AccessService;
  /** Disable or remove a selection of an owner's keypairs, each checked and audited as a single action. */
  keypairBulk: KeypairBulk;
  closing: OwnerClosing;
  sessions: AdminSessionStore;
  bootstrap: Bootstrap;
  signingKeys: SigningKeyService;
  /** DPoP proofs seen at the token endpoint (replay detection shared by every process). */
  dpopProofs: DpopProofLog;
  webhooks: WebhookService;
  /** Tells every process's caches about changes; servers start() it. */
  changes: ChangeFeed;
  clock: Clock;
}

export function createDomain(options: { stores: Stores; config: KeyportConfig; pepper: string; keyEncryptionKey: Uint8Array; clock?: Clock }): Domain {
  const { stores } = options;
  const clock = options.clock ?? systemClock;
  const audit = new AuditLog(stores.audit, clock, { users: stores.users, owners: stores.owners });
  const changes = stores.changes;
  const owners = new OwnerService(stores.owners, audit, clock, changes);
  const scopes = new ScopeCatalog(options.config.scopes);
  const maxTokenLifetimeMs = options.config.tokens.ttlSeconds * 1000;
  const revocationFeed = new RevocationFeed({ events: stores.revocationEvents, tokens: stores.revocations, clock, changes, maxTokenLifetimeMs });
  const hasher = new SecretHasher(options.pepper);
  const endedRetentionDays = options.config.secrets.endedRetentionDays;
  const usage = new DailyUsage({ store: stores.keypairUsage, clock });
  const keypairAuth = new KeypairAuthenticator({ store: stores.keypairs, owners, hasher, audit, clock, lockout: options.config.lockout, endedRetentionDays, daily: usage });
  const keypairs = new KeypairService({ store: stores.keypairs, owners, scopes, hasher, audit, clock, auth: keypairAuth, revocationFeed, endedRetentionDays, trustIssuers: options.config.federation.issuers });
  const webhooks = new WebhookService({ store: stores.webhooks, audit, clock, keyEncryptionKey: options.keyEncryptionKey, policy: options.config.webhooks });
  audit.useOutbox(webhooks);
  const users = new UserService({ users: stores.users, memberships: stores.memberships }, audit, clock);
  const replays = new ReplayGuard(stores.replays, clock);
  const access = new AccessService({ users, owners, keypairs, audit });
  return {
    audit,
    owners,
    users,
    keypairs,
    keypairAuth,
    usage,
    expiry: new ExpirySweep({ store: stores.keypairs, audit, clock, revocationFeed }),
    keypairKeys: new KeypairKeyService({ store: stores.keypairs, audit, clock }),
    keypairTrust: new KeypairTrustService({ store: stores.keypairs, audit, clock, issuers: options.config.federation.issuers }),
    replays,
    access,
    keypairBulk: new KeypairBulk({ access, keypairs }),
    closing: new OwnerClosing({ ownerStore: stores.owners, keypairStore: stores.keypairs, owners, keypairs, audit, revocationFeed }),
    sessions: new AdminSessionStore(stores.sessions, clock),
    scopes,
    revocationFeed,
    revocations: new RevocationList({ store: stores.revocations, audit, clock, changes, maxTokenLifetimeMs: options.config.tokens.ttlSeconds * 1000 }),
    bootstrap: new Bootstrap({ store: stores.setupTokens, users, owners, audit, clock }),
    signingKeys: new SigningKeyService({
      store: stores.signingKeys,
      audit,
      clock,
      changes,
      keyEncryptionKey: options.keyEncryptionKey,
      rotationDays: options.config.signingKeys.rotationDays,
      tokenTtlSeconds: options.config.tokens.ttlSeconds,
    }),
    dpopProofs: new DpopProofLog({ replays }),
    webhooks,
    changes,
    clock,
  };
}
