// Keyport as a real process (`node src/main.ts`), for tests that need what only
// a process shows: its console output and logs, signals, exit codes.
import { spawn, type ChildProcess } from 'node:child_process';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

/** The test runner's environment without any Keyport setting, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('KEYPORT_') || name === 'MONGODB_URI' || name === 'FERRETDB_BIN') delete env[name];
  return { ...env, ...extra };
}

export interface KeyportProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output: () => string;
  exited: Promise<number | null>;
}

export function startProcess(env: NodeJS.ProcessEnv): KeyportProcess {
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export async function waitFor<T>(predicate: () => T | null, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const match = predicate();
    if (match) return match;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
