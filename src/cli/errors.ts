// How failures end the keyport command: a one-line message on stderr and an
// exit code scripts can test (1: the operation failed, 2: the command was wrong).
import { CommanderError } from 'commander';
import { ConfigError } from '../config.ts';
import { FerretdbMissingError } from '../db/ferretdb-build.ts';
import { DomainError } from '../domain/errors.ts';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A command line that is well-formed for commander but makes no sense (e.g. both --account and --environment). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Failure { message: string | null; exitCode: number }

export function describeFailure(err: unknown): Failure {
  // Commander has already printed its message (and the help hint) by the time it throws.
  if (err instanceof CommanderError) return { message: null, exitCode: err.exitCode === 0 ? 0 : EXIT_USAGE };
  if (err instanceof UsageError) return { message: `error: ${err.message}\n(run with --help for usage)`, exitCode: EXIT_USAGE };
  if (err instanceof DomainError) return { message: `error: ${err.message}`, exitCode: EXIT_FAILURE };
  // Config messages name the bad setting on lines of their own: keep them whole.
  if (err instanceof ConfigError || err instanceof FerretdbMissingError) return { message: err.message, exitCode: EXIT_FAILURE };
  const message = err instanceof Error ? err.message : String(err);
  return { message: `error: ${message.split('\n')[0]}`, exitCode: EXIT_FAILURE };
}
