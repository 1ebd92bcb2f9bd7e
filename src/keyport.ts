// Starts one Keyport server: config → database → domain → signing keys →
// oidc-provider → HTTP. Used by src/main.ts, the tests and the benchmark.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestHandler } from './app.ts';
import { issuerOf, type KeyportConfig } from './config.ts';
import { openDatabase, type Database } from './db/connection.ts';
import type { DatabaseRole } from './db/embedded-ferretdb.ts';
import type { Clock } from './domain/clock.ts';
import { createDomain, type Domain } from './domain/index.ts';
import { Metrics } from './http/metrics.ts';
import { LoginThrottle } from './http/session/throttle.ts';
import { createLogger, type Logger } from './log.ts';
import { AccessTokenVerifier } from './oauth/access-tokens.ts';
import { createProvider } from './oauth/provider.ts';
import { loadSigningKeys } from './oauth/signing-keys.ts';
import { resolveServerSecrets } from './server-secrets.ts';

export interface RunningKeyport {
  url: string;
  issuer: string;
  port: number;
  domain: Domain;
  database: Database;
  log: Logger;
  close(): Promise<void>;
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

/** Opens the database and builds the domain: shared by the server and the CLI. */
export async function openKeyportDomain(config: KeyportConfig, clock?: Clock, role: DatabaseRole = 'server'): Promise<{ database: Database; domain: Domain; keyEncryptionKey: Uint8Array }> {
  const secrets = resolveServerSecrets(config);
  const database = await openDatabase(config, role);
  const domain = createDomain({ models: database.models, config, pepper: secrets.pepper, ...(clock ? { clock } : {}) });
  return { database, domain, keyEncryptionKey: secrets.keyEncryptionKey };
}

export async function startKeyport(config: KeyportConfig, options: { clock?: Clock; log?: Logger } = {}): Promise<RunningKeyport> {
  const log = options.log ?? createLogger(config.log.level);
  const { database, domain, keyEncryptionKey } = await openKeyportDomain(config, options.clock);
  const server = createServer();
  try {
    // Finish any account or environment left 'closing' (DESIGN.md §7) before serving.
    const resumed = await domain.closing.resumePending();
    if (resumed.accounts.length || resumed.environments.length) log.info(resumed, 'finished closing owners left half-way');
    await LoginThrottle.prepare(database.connection);
    const signingKeys = await loadSigningKeys(database.models, keyEncryptionKey);
    const port = await listen(server, config.server.port, config.server.host);
    const issuer = issuerOf(config, port);
    const metrics = new Metrics({ defaultMetrics: true });
    const provider = createProvider({
      issuer,
      config,
      domain,
      signingKeys,
      hooks: { onAuthenticationFailure: (reason) => metrics.authenticationFailures.inc({ reason }) },
    });
    provider.on('server_error', (_ctx, err) => log.error({ err: { message: err.message, stack: err.stack } }, 'oidc-provider server error'));
    server.on('request', createRequestHandler({
      domain,
      provider,
      verifier: new AccessTokenVerifier(issuer, signingKeys.publicJwks),
      metrics,
      log,
      ping: () => database.ping(),
      issuer,
      throttleConnection: database.connection,
    }));
    const displayHost = config.server.host === '0.0.0.0' || config.server.host === '::' ? 'localhost' : config.server.host;
    return {
      // Without a configured issuer, the derived one (http://localhost:<port>) is the address to use.
      url: config.server.issuer ? `http://${displayHost.includes(':') ? `[${displayHost}]` : displayHost}:${port}` : issuer,
      issuer,
      port,
      domain,
      database,
      log,
      async close() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await database.close();
        log.flush();
      },
    };
  } catch (err) {
    server.close();
    await database.close();
    throw err;
  }
}
