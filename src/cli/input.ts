// Reading a password without putting it on the command line (where `ps` and
// shell history would see it): piped stdin, or a prompt that does not echo.
import { UsageError } from './errors.ts';
import type { CliIo } from './output.ts';

/** All of stdin, without the one trailing newline that `echo` or a here-string adds. */
export async function readStdin(stdin: CliIo['stdin']): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads one line from a terminal with echo off. Ctrl-C or Ctrl-D abandons the command. */
export function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const { stdin } = io;
  if (!stdin.isTTY || !stdin.setRawMode) throw new UsageError('no terminal to prompt for the password: use --password-stdin');
  io.stderr(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.off('data', onData);
      io.stderr('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || char === '\u0004') return finish(new UsageError('cancelled'));
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else if (char >= ' ') value += char;
      }
    };
    stdin.on('data', onData);
  });
}

/** --password, --password-stdin, or (at a terminal) a prompt asked twice. */
export async function readPassword(io: CliIo, options: { password?: string; passwordStdin?: boolean }): Promise<string> {
  if (options.password !== undefined && options.passwordStdin) throw new UsageError('give either --password or --password-stdin, not both');
  if (options.password !== undefined) return options.password;
  if (options.passwordStdin) return readStdin(io.stdin);
  const first = await promptHidden(io, 'Password: ');
  const second = await promptHidden(io, 'Repeat password: ');
  if (first !== second) throw new UsageError('the two passwords differ');
  return first;
}
