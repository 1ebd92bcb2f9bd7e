// Opens the domain for one command and always closes it again, so that the
// process exits on its own (and, when the CLI had to start the embedded
// FerretDB because no server was running, stops that FerretDB).
import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import type { Database } from '../db/connection.ts';
import type { Domain } from '../domain/index.ts';
import { cleanText, type CliIo } from './output.ts';

export interface Session {
  domain: Domain;
  io: CliIo;
  /** --json: one JSON document on stdout instead of text for people. */
  json: boolean;
  /** Writes `data` as JSON, or `human()` as text. */
  print(data: unknown, human: () => string): void;
  /** Notes for people (warnings, hints) go to stderr so that stdout stays clean. */
  note(text: string): void;
}

const SIGNAL_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export async function withSession<T>(io: CliIo, json: boolean, work: (session: Session) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env);
  // Loaded on demand: keyport.ts brings the whole server (oidc-provider, koa), which
  // --help and command-line mistakes do not need.
  const { openKeyportDomain } = await import('../keyport.ts');
  // 'tool': a server started meanwhile waits for this command instead of attaching to its FerretDB.
  const { database, domain } = await openKeyportDomain(config, undefined, 'tool');
  // Ctrl-C while the database is open: close it first, or a FerretDB this
  // process started would outlive it.
  const onSignal = (signal: NodeJS.Signals) => {
    void closeQuietly(database).finally(() => process.exit(SIGNAL_EXIT_CODES[signal] ?? 1));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work({
      domain,
      io,
      json,
      print(data, human) {
        io.stdout(json ? `${JSON.stringify(data, null, 2)}\n` : cleanText(human()));
      },
      note(text) {
        if (!json) io.stderr(`${cleanText(text)}\n`);
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await closeQuietly(database);
  }
}

async function closeQuietly(database: Database): Promise<void> {
  try {
    await database.close();
  } catch {
    // The command's own outcome matters more than a failed disconnect.
  }
}

/** Runs a command's work in a session; `command` supplies the global --json flag. */
export type Runner = (command: Command, work: (session: Session) => Promise<void>) => Promise<void>;
