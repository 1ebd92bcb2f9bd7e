// The two servers under test, each in a child process of its own so that the
// load generator (in the benchmark's process) never shares their event loop:
//  - Keyport: the production entry point src/main.ts, configured through its
//    environment variables like `npm start`, on the benchmark's database;
//  - the baseline: bench/baseline-server.ts.
// Every child is tracked here and stopped by stopAllServers() (and, as a last
// resort, killed when the benchmark process exits).
import { join } from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/net-ports.ts';

const PRELOAD = fileURLToPath(new URL('./child-preload.ts', import.meta.url));
const KEYPORT_MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const BASELINE_MAIN = fileURLToPath(new URL('./baseline-server.ts', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

export interface ChildServer {
  name: 'keyport' | 'baseline';
  /** Where to connect (always 127.0.0.1). */
  url: string;
  /** The issuer in the tokens the server signs. */
  issuer: string;
  pid: number;
  /** Sends a message to the child's preload and waits for the reply of type `replyType`. */
  ask<T>(message: object, replyType: string): Promise<T>;
  stop(): Promise<void>;
}

export interface BaselineServer extends ChildServer {
  clientId: string;
  clientSecret: string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function track(child: ChildProcess): () => string {
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  return () => stderr;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => { clearTimeout(killer); resolve(); });
    child.kill('SIGTERM');
  });
}

function asker(child: ChildProcess) {
  return <T>(message: object, replyType: string): Promise<T> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.off('message', onMessage); reject(new Error(`no ${replyType} reply from pid ${child.pid}`)); }, 10_000);
    const onMessage = (reply: { type?: string }) => {
      if (reply?.type !== replyType) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(reply as T);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

function exitError(child: ChildProcess, what: string, stderr: () => string): Error {
  return new Error(`${what} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready:\n${stderr()}`);
}

/**
 * Starts `node src/main.ts` with `env` (the KEYPORT_* and MONGODB_URI variables
 * the benchmark chose) and waits for /readyz.
 */
export async function startKeyportServer(options: { env: NodeJS.ProcessEnv; cpuProfDir?: string | null }): Promise<ChildServer> {
  const port = await freePort();
  const execArgv = ['--import', PRELOAD];
  if (options.cpuProfDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfDir, 'keyport')}`);
  const child = fork(KEYPORT_MAIN, [], {
    execArgv,
    env: { ...options.env, KEYPORT_HOST: '127.0.0.1', KEYPORT_PORT: String(port) },
    // stdout carries the request log (pino, level from KEYPORT_LOG_LEVEL): discarded, unless
    // BENCH_SERVER_LOGS=1 sends it to the benchmark's stderr (debugging).
    stdio: ['ignore', process.env.BENCH_SERVER_LOGS === '1' ? process.stderr : 'ignore', 'pipe', 'ipc'],
  });
  const stderr = track(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw exitError(child, 'Keyport', stderr);
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (response.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`Keyport was not ready within ${READY_TIMEOUT_MS / 1000} s:\n${stderr()}`);
    }
    await sleep(100);
  }
  const discovery = await (await fetch(`${url}/.well-known/oauth-authorization-server`)).json() as { issuer: string };
  return { name: 'keyport', url, issuer: discovery.issuer, pid: child.pid!, ask: asker(child), stop: () => stopChild(child) };
}

export async function startBaselineServer(options: { audience: string; cpuProfDir?: string | null }): Promise<BaselineServer> {
  const execArgv = ['--import', PRELOAD];
  if (options.cpuProfDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfDir, 'baseline')}`);
  const child = fork(BASELINE_MAIN, [], {
    execArgv,
    env: { ...process.env, BENCH_AUDIENCE: options.audience },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const stderr = track(child);
  const ready = await new Promise<{ port: number; issuer: string; clientId: string; clientSecret: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the baseline server was not ready within ${READY_TIMEOUT_MS / 1000} s:\n${stderr()}`)), READY_TIMEOUT_MS);
    child.on('message', (message: { type?: string; port: number; issuer: string; clientId: string; clientSecret: string }) => {
      if (message?.type === 'ready') { clearTimeout(timer); resolve(message); }
    });
    child.once('exit', () => { clearTimeout(timer); reject(exitError(child, 'the baseline server', stderr)); });
  });
  return {
    name: 'baseline',
    url: `http://127.0.0.1:${ready.port}`,
    issuer: ready.issuer,
    pid: child.pid!,
    clientId: ready.clientId,
    clientSecret: ready.clientSecret,
    ask: asker(child),
    stop: () => stopChild(child),
  };
}

/** Stops every child server still running (SIGTERM, then SIGKILL after 10 s). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...live].map(stopChild));
}

/** Kills every child at once (second Ctrl-C). */
export function killAllServers(): void {
  for (const child of live) child.kill('SIGKILL');
}

/**
 * CPU seconds (user + system) a process and its live descendants (cluster
 * workers) but `exclude` have used so far, from /proc; null where there is no /proc.
 */
export function cpuSeconds(pid: number | null, exclude: number | null = null): number | null {
  if (!pid) return null;
  const own = processCpuSeconds(pid);
  if (own === null) return null;
  // The embedded FerretDB is a child of the Keyport process that started it: counted apart.
  return childPids(pid).filter((child) => child !== exclude).reduce((sum, child) => sum + (cpuSeconds(child, exclude) ?? 0), own);
}

/** True when `child` is a direct child process of `parent` (from /proc). */
export function isChildOf(child: number, parent: number): boolean {
  return childPids(parent).includes(child);
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), in clock ticks (USER_HZ, 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** The pid of the embedded FerretDB serving a data directory (null for MongoDB). */
export function ferretdbPid(dataDir: string | null): number | null {
  if (!dataDir) return null;
  try {
    return (JSON.parse(readFileSync(`${dataDir}/ferretdb.json`, 'utf8')) as { pid: number }).pid;
  } catch {
    return null;
  }
}
