// Entry of the `keyport` command (bin/keyport.js, `npm run keyport`).
import { processIo } from './output.ts';
import { runCli } from './program.ts';

// `keyport … | head`: the reader went away; stop quietly instead of crashing on EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2), processIo());
// The database is closed by now and the process ends by itself; should a stray
// handle keep it alive, this unref'd timer still ends it (it never delays a clean exit).
setTimeout(() => process.exit(), 2_000).unref();
