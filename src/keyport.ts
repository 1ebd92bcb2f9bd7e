// Starts one Keyport server: config → database → domain → signing keys →
// oidc-provider → HTTP. Used by src/main.ts, the tests and the benchmark.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestHandler } from './app.ts';
import { ConfigError, issuerOf, issuerPath, type KeyportConfig } from './config.ts';
import { openDatabase, type Database } from './db/connection.ts';
import type { DatabaseRole } from './db/embedded-ferretdb.ts';
import { bootstrapAdminFromEnv } from './domain/bootstrap.ts';
import type { Clock } from './domain/clock.ts';
import { DomainError } from './domain/errors.ts';
import { createDomain, type Domain } from './domain/index.ts';
import { createStores } from './db/stores.ts';
import { Metrics } from './http/metrics.ts';
import { LoginThrottle } from './db/sign-in-throttle.ts';
import { createLogger, flushLog, type Logger } from './log.ts';
import { AddressThrottle } from './oauth/address-throttle.ts';
import { createProvider } from './oauth/provider.ts';
import { FederatedTokenChecker } from './oauth/federated-auth.ts';
import { RevocationFeedPublisher } from './oauth/revocation-feed.ts';
import { SigningKeyRing } from './oauth/signing-keys.ts';
import { resolveServerSecrets } from './server-secrets.ts';
import { startTracing, traceDatabase, traceKeypairs, traceSigning, type Tracing } from './tracing.ts';
import { WebhookWorker } from './webhooks/worker.ts';

export interface RunningKeyport {
  url: string;
  issuer: string;
  port: number;
  domain: Domain;
  database: Database;
  metrics: Metrics;
  log: Logger;
  /** The one-time setup link printed at start on an empty database (null when not needed). */
  setupUrl: string | null;
  /** This process's token signing keys: `check()` performs scheduled rotations now (tests move a clock). */
  signingKeys: SigningKeyRing;
  /** Delivers webhooks from the database's queue (one process at a time holds the lease); `kick()` looks for due deliveries now. */
  webhooks: WebhookWorker;
  close(): Promise<void>;
}

/**
 * First start on an empty database (src/domain/bootstrap.ts): creates the
 * bootstrap admin from KEYPORT_BOOTSTRAP_ADMIN_EMAIL / _PASSWORD, or issues a
 * one-time setup link, printed through the logger and on the console. Run by
 * the one process that owns startup (a single server, or the cluster primary).
 */
export async function runBootstrap(domain: Domain, log: Logger, options: { issuer: string; env?: Record<string, string | undefined>; console?: boolean }): Promise<string | null> {
  let outcome;
  try {
    outcome = await domain.bootstrap.atStartup(bootstrapAdminFromEnv(options.env ?? process.env));
  } catch (err) {
    if (err instanceof DomainError && (err.code === 'invalid_input' || err.code === 'conflict')) {
      throw new ConfigError(`KEYPORT_BOOTSTRAP_ADMIN_EMAIL / KEYPORT_BOOTSTRAP_ADMIN_PASSWORD: ${err.message}`);
    }
    throw err;
  }
  if (outcome.kind === 'admin_created') {
    log.info({ userId: outcome.user.id, email: outcome.user.email, accountId: outcome.account.id }, 'created the bootstrap administrator');
    return null;
  }
  if (outcome.kind !== 'setup_token') return null;
  const url = `${options.issuer}/ui/setup?token=${outcome.token}`;
  const expires = outcome.expiresAt.toISOString();
  // The link holds a one-time secret: it goes to the console only, never into the (shipped, stored) logs.
  log.warn({ expiresAt: expires }, 'no administrator yet: a one-time setup link was printed on the console');
  if (options.console !== false) {
    console.log(`\nNo administrator yet. Open this one-time setup link to create the first one (valid until ${expires}, or until used):\n\n  ${url}\n`);
  }
  return url;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** package.json's version: the service.version of traces. */
function keyportVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Opens the database and builds the domain: shared by the server and the CLI. */
export async function openKeyportDomain(config: KeyportConfig, clock?: Clock, role: DatabaseRole = 'server', log?: Logger, options: { monitorCommands?: boolean } = {}): Promise<{ database: Database; domain: Domain; keyEncryptionKey: Uint8Array }> {
  const secrets = resolveServerSecrets(config);
  const database = await openDatabase(config, { role, ...(log ? { log } : {}), monitorCommands: options.monitorCommands ?? false });
  const domain = createDomain({ stores: createStores(database.models, { embedded: !config.database.uri }), config, pepper: secrets.pepper, keyEncryptionKey: secrets.keyEncryptionKey, ...(clock ? { clock } : {}) });
  return { database, domain, keyEncryptionKey: secrets.keyEncryptionKey };
}

export async function startKeyport(config: KeyportConfig, options: { clock?: Clock; log?: Logger; tracing?: Tracing | null } = {}): Promise<RunningKeyport> {
  const log = options.log ?? createLogger(config.log.level);
  // Traces (src/tracing.ts): off unless the OTEL_* variables turn them on; the tests pass their own.
  const tracing = options.tracing !== undefined ? options.tracing : startTracing(process.env, { version: keyportVersion() });
  const { database, domain } = await openKeyportDomain(config, options.clock, 'server', log, { monitorCommands: tracing !== null });
  if (tracing) {
    traceKeypairs(tracing, domain.keypairAuth);
    traceSigning(tracing);
    traceDatabase(tracing, database.connection.getClient());
    log.info('OpenTelemetry traces are on');
  }
  const metrics = new Metrics({ defaultMetrics: true });
  database.onEmbeddedRestart(() => metrics.databaseRestarts.inc());
  // Other processes' changes (CLI, workers, hosts) reach this server's caches.
  // While the database is unreachable the feed cannot read: one line when that starts, one when it ends.
  domain.changes.onHealthChange((healthy, err) => {
    if (healthy) log.info('the change feed reads the database again');
    else log.warn({ err: { message: err instanceof Error ? err.message : String(err) } }, 'the change feed cannot read the database');
  });
  domain.changes.start();
  domain.keypairAuth.onBackgroundError((err, what) => log.error({ err: { message: err instanceof Error ? err.message : String(err) } }, `failed: ${what}`));
  // Every process sweeps: each notice is claimed by one conditional update (src/domain/expiry.ts).
  domain.expiry.start(config.expiry.sweepSeconds * 1000, (err) => log.error({ err: { message: err instanceof Error ? err.message : String(err) } }, 'failed: the keypair expiry sweep'));
  // In the background: the server answers at once, and clients that come first are cached first anyway.
  domain.keypairAuth.warmUp().catch(() => { /* only an optimisation: requests read through the cache as usual */ });
  // In the background: one pass over the keypairs (SQLite reads each of them on the embedded database), needed only after an upgrade.
  domain.keypairs.fillInListKeys().then(
    (filled) => { if (filled > 0) log.info({ keypairs: filled }, 'wrote the list sort keys of keypairs written by an older Keyport'); },
    (err: unknown) => log.error({ err: { message: err instanceof Error ? err.message : String(err) } }, 'failed: writing the list sort keys of older keypairs'),
  );
  const server = createServer();
  let stopSigningKeys = () => {};
  try {
    // Finish any account or environment left 'closing' (docs/architecture.md, Closing an owner) before serving.
    const resumed = await domain.closing.resumePending();
    if (resumed.accounts.length || resumed.environments.length) log.info(resumed, 'finished closing owners left half-way');
    await LoginThrottle.prepare(database.connection);
    const initialKeys = await SigningKeyRing.load(domain);
    const port = await listen(server, config.server.port, config.server.host);
    const issuer = issuerOf(config, port);
    // In cluster mode the primary has done this before forking (src/cluster.ts).
    const setupUrl = cluster.isWorker ? null : await runBootstrap(domain, log, { issuer, console: config.log.level !== 'silent' });
    // One for every provider built for new signing keys: the issuers' keys it caches outlive them.
    const federation = new FederatedTokenChecker({ issuers: config.federation.issuers, policy: config.federation, replays: domain.replays });
    const signingKeys = new SigningKeyRing({
      domain,
      initial: initialKeys,
      issuer,
      log,
      buildProvider: (material) => createProvider({
        issuer,
        config,
        domain,
        signingKeys: material,
        hooks: { onAuthenticationFailure: (reason) => metrics.authenticationFailures.inc({ reason }) },
        federation,
      }),
    });
    stopSigningKeys = () => signingKeys.stop();
    signingKeys.providers.each((provider) => {
      provider.on('server_error', (_ctx, err) => log.error({ err: { message: err.message, stack: err.stack } }, 'oidc-provider server error'));
    });
    server.on('request', createRequestHandler({
      tracing,
      addressThrottle: new AddressThrottle(config.lockout.maxFailuresPerAddress, config.lockout.throttleDelayMs),
      trustProxy: config.server.trustProxy,
      domain,
      providers: signingKeys.providers,
      verifier: signingKeys.verifier,
      revocationFeed: new RevocationFeedPublisher({ feed: domain.revocationFeed, issuer, signingKey: () => signingKeys.signingKey() }),
      metrics,
      log,
      ping: () => database.ping(),
      issuer,
      signInThrottle: new LoginThrottle({ connection: database.connection }),
    }));
    const webhooks = new WebhookWorker({ webhooks: domain.webhooks, settings: config.webhooks, log });
    webhooks.start();
    const displayHost = config.server.host === '0.0.0.0' || config.server.host === '::' ? 'localhost' : config.server.host;
    return {
      // Without a configured issuer, the derived one (http://localhost:<port>) is the address to use;
      // with one, this server's own address, under the issuer's path (nothing is served outside it).
      url: config.server.issuer ? `http://${displayHost.includes(':') ? `[${displayHost}]` : displayHost}:${port}${issuerPath(issuer)}` : issuer,
      issuer,
      port,
      domain,
      database,
      metrics,
      log,
      setupUrl,
      signingKeys,
      webhooks,
      async close() {
        signingKeys.stop();
        await domain.expiry.stop();
        await webhooks.stop();
        domain.changes.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        // Wrong secrets already answered are counted before the database goes.
        await domain.keypairAuth.failuresCounted();
        await domain.keypairAuth.close(); // per-secret usage still counted in memory
        await database.close();
        // The last spans go out; a collector that cannot take them must not fail the shutdown.
        await tracing?.shutdown().catch((err: unknown) => log.warn({ err: { message: err instanceof Error ? err.message : String(err) } }, 'could not send the last traces'));
        await flushLog(log);
      },
    };
  } catch (err) {
    stopSigningKeys();
    await domain.expiry.stop();
    domain.changes.stop();
    server.close();
    await database.close();
    throw err;
  }
}
