// The keyport command line: builds the commander program and runs it, turning
// every outcome into an exit code (0 ok, 1 failed, 2 wrong command line).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerCatalogCommands } from './catalog.ts';
import { describeFailure } from './errors.ts';
import { registerKeypairCommands } from './keypairs.ts';
import { registerMemberCommands } from './members.ts';
import { cleanText, type CliIo } from './output.ts';
import { registerOwnerCommands } from './owners.ts';
import { withSession, type Runner } from './session.ts';
import { registerSigningKeyCommands } from './signing-keys.ts';
import { registerUserCommands } from './users.ts';
import { registerWebhookCommands } from './webhooks.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const FOOTER = `
Configuration comes from the same environment variables as the server:
  KEYPORT_DATA_DIR   data directory of the embedded database (default ./data)
  MONGODB_URI        use this MongoDB instead (then also KEYPORT_SECRET_PEPPER
                     and KEYPORT_KEY_ENCRYPTION_KEY, the server's values)
  KEYPORT_CONFIG_FILE  JSON config file (scopes, lockout, ...)
The CLI works whether or not the server is running: with the embedded database
it uses the server's, or starts its own for the duration of the command.

Examples:
  keyport account create --name Acme
  keyport environment create --account acc_… --name production
  keyport member add --account acc_… --email ops@acme.example --role admin
  keyport keypair create --environment env_… --name ci --scope orders:read
  keyport keypair list --environment env_…
  keyport keypair rotate kp_… --grace 1h
  keyport --json keypair show kp_…
  keyport signing-keys list
  keyport webhook add --account acc_… --url https://hooks.example.com/keyport

Exit codes: 0 done, 1 the operation failed, 2 the command line is wrong.
`;

export function buildProgram(io: CliIo): Command {
  const program = new Command('keyport');
  const run: Runner = (command, work) => withSession(io, Boolean(command.optsWithGlobals().json), work);
  program
    .description('Manage Keyport accounts, environments, administrators, API keypairs, webhooks and token signing keys.')
    .version(version, '-V, --version')
    .option('--json', 'print JSON for scripts instead of text (global: also after the command)')
    .addHelpText('after', FOOTER)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false });
  registerOwnerCommands(program, run);
  registerUserCommands(program, run, io);
  registerMemberCommands(program, run);
  registerKeypairCommands(program, run);
  registerCatalogCommands(program, run);
  registerSigningKeyCommands(program, run);
  registerWebhookCommands(program, run);
  // Every command and subcommand: throw instead of calling process.exit, and write through io.
  const configure = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    if (command !== program) command.showHelpAfterError('(run with --help for usage)').configureHelp({ showGlobalOptions: true });
    command.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Runs one command line (without the node and script arguments) and returns the exit code. */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  // A group command without a subcommand (`keyport keypair`) prints its help and fails like a usage error.
  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    const failure = describeFailure(err);
    if (failure.message) io.stderr(`${cleanText(failure.message)}\n`);
    return failure.exitCode;
  }
}
