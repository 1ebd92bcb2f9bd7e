// The server process: `npm start` (or `node src/main.ts`).
import { ConfigError, loadConfig } from './config.ts';
import { redactUri } from './db/connection.ts';
import { FerretdbMissingError } from './db/ferretdb-build.ts';
import { startKeyport } from './keyport.ts';

try {
  const config = loadConfig();
  const keyport = await startKeyport(config);
  const database = keyport.database.kind === 'ferretdb'
    ? `embedded FerretDB, data in ${config.database.dataDir}`
    : `MongoDB at ${redactUri(keyport.database.uri)}`;
  console.log(`\nKeyport is ready at ${keyport.url}  (issuer ${keyport.issuer}; database: ${database})`);
  console.log(`  token endpoint   ${keyport.issuer}/oauth/token`);
  console.log(`  discovery        ${keyport.issuer}/.well-known/oauth-authorization-server`);
  console.log(`  create a keypair npx keyport --help\n`);

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
} catch (err) {
  if (err instanceof ConfigError || err instanceof FerretdbMissingError) {
    console.error(err.message);
  } else {
    console.error('Keyport failed to start:', err);
  }
  process.exit(1);
}
