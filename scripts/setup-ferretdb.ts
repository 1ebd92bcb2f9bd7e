// `npm run setup`: builds Keyport's embedded database (FerretDB v1) once.
// With --if-needed (used by `npm start` and `npm test`), it does nothing when
// MONGODB_URI or FERRETDB_BIN is set or the binary is already there.
import { buildFerretdb, findFerretdbBinary, FerretdbMissingError } from '../src/db/ferretdb-build.ts';

const ifNeeded = process.argv.includes('--if-needed');

try {
  if (ifNeeded && (process.env.MONGODB_URI || findFerretdbBinary(process.env.FERRETDB_BIN || null))) process.exit(0);
  await buildFerretdb();
} catch (err) {
  console.error(err instanceof FerretdbMissingError ? err.message : `FerretDB setup failed: ${(err as Error).message}`);
  process.exit(1);
}
