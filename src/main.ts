// The server process: `npm start` (or `node src/main.ts`). With KEYPORT_WORKERS > 1
// it becomes a cluster primary that forks that many workers (src/cluster.ts).
import cluster from 'node:cluster';
import { runPrimary, runWorker } from './cluster.ts';
import { ConfigError, loadConfig, metadataUrl, type KeyportConfig } from './config.ts';
import { redactUri } from './db/connection.ts';
import { FerretdbMissingError } from './db/ferretdb-build.ts';
import { startKeyport, type RunningKeyport } from './keyport.ts';

export function readyBanner(config: KeyportConfig, keyport: Pick<RunningKeyport, 'url' | 'issuer'> & { databaseKind: string; databaseUri: string }, workers = 1): string {
  const database = keyport.databaseKind === 'ferretdb'
    ? `embedded FerretDB, data in ${config.database.dataDir}`
    : `MongoDB at ${redactUri(keyport.databaseUri)}`;
  return [
    '',
    `Keyport is ready at ${keyport.url}  (issuer ${keyport.issuer}; database: ${database}; ${workers} worker${workers === 1 ? '' : 's'})`,
    `  admin web UI     ${keyport.issuer}/ui/`,
    `  token endpoint   ${keyport.issuer}/oauth/token`,
    `  discovery        ${metadataUrl(keyport.issuer)}`,
    '  create a keypair npx keyport --help',
    '',
  ].join('\n');
}

async function runSingle(config: KeyportConfig): Promise<void> {
  const keyport = await startKeyport(config);
  console.log(readyBanner(config, { url: keyport.url, issuer: keyport.issuer, databaseKind: keyport.database.kind, databaseUri: keyport.database.uri }));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    keyport.log.info({ signal }, 'shutting down');
    await keyport.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

try {
  const config = loadConfig();
  if (cluster.isWorker) await runWorker(config);
  else if (config.server.workers > 1) await runPrimary(config, readyBanner);
  else await runSingle(config);
} catch (err) {
  if (err instanceof ConfigError || err instanceof FerretdbMissingError) {
    console.error(err.message);
  } else {
    console.error('Keyport failed to start:', err);
  }
  process.exit(1);
}
