// The `keyport` command as a real process, for tests: pointed at a test
// server's database the way an operator's shell would be (only the settings that
// name that database and its secrets), with its exit code and both outputs.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KeyportConfig } from '../../src/config.ts';

const NODE = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/keyport.js', import.meta.url));

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** The environment a user would have: this test's database and server secrets, no other Keyport setting; `extra` on top. */
export function cliEnv(config: { database: Pick<KeyportConfig['database'], 'dataDir' | 'uri'>; secrets: KeyportConfig['secrets'] }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('KEYPORT_') && name !== 'MONGODB_URI') env[name] = value;
  }
  env.KEYPORT_DATA_DIR = config.database.dataDir;
  env.KEYPORT_LOG_LEVEL = 'silent';
  // On CI with MongoDB the test server uses MONGODB_URI and fixed secrets: so must the CLI.
  if (config.database.uri) env.MONGODB_URI = config.database.uri;
  if (config.secrets.pepper) env.KEYPORT_SECRET_PEPPER = config.secrets.pepper;
  if (config.secrets.keyEncryptionKey) env.KEYPORT_KEY_ENCRYPTION_KEY = config.secrets.keyEncryptionKey;
  return { ...env, ...extra };
}

/** Runs `keyport …args` with `stdin`; killed after a minute (a hung command fails the test rather than the run). */
export function runCli(env: NodeJS.ProcessEnv, args: string[], stdin = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(killer); resolve({ code, stdout, stderr }); });
    child.stdin.end(stdin);
  });
}

/** Runs a command that must succeed and returns its --json output. */
export async function cliJson<T>(env: NodeJS.ProcessEnv, args: string[], stdin?: string): Promise<T> {
  const result = await runCli(env, ['--json', ...args], stdin);
  if (result.code !== 0) throw new Error(`keyport ${args.join(' ')} exited with ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}
