// Starts FerretDB (SQLite handler) as Keyport's embedded database when no
// MONGODB_URI is configured. Data lives under <dataDir>/ferretdb.
//
// Several Keyport processes may share one data directory (the server and the
// `keyport` CLI, or cluster workers): the first one starts FerretDB and records
// its port in <dataDir>/ferretdb.json; the others connect to it. Only the
// process that started FerretDB stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { canConnect, freePort } from '../net-ports.ts';
import { join, resolve } from 'node:path';
import { findFerretdbBinary, FerretdbMissingError, notBuiltMessage } from './ferretdb-build.ts';

export interface EmbeddedDatabase {
  uri: string;
  /** True when this process started FerretDB (and so must stop it). */
  owned: boolean;
  stop(): Promise<void>;
}

/**
 * 'server': a long-running Keyport server. 'tool': a short-lived process such
 * as the CLI. A server never attaches to a tool's FerretDB (it would lose it
 * when the tool exits): it waits for the tool to finish, then starts its own.
 */
export type DatabaseRole = 'server' | 'tool';
/** When an embedded-database commit reaches the disk (database.embeddedSync in config.ts). */
export type EmbeddedSync = 'normal' | 'full';

interface RuntimeFile { pid: number; port: number; role?: DatabaseRole }

const READY_TIMEOUT_MS = 20_000;
const TOOL_WAIT_MS = 60_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readRuntimeFile(file: string): RuntimeFile | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as RuntimeFile;
    return Number.isInteger(parsed.pid) && Number.isInteger(parsed.port) ? parsed : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function uriFor(port: number): string {
  return `mongodb://127.0.0.1:${port}/keyport`;
}

async function waitForPort(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`FerretDB exited with code ${child.exitCode} before it was ready:\n${output()}`);
    if (await canConnect(port)) return;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`FerretDB did not accept connections within ${READY_TIMEOUT_MS / 1000} s:\n${output()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => { clearTimeout(killer); resolveStop(); });
    child.kill('SIGTERM');
  });
}

/** Connects to the data directory's running FerretDB, or starts one. */
export async function startEmbeddedFerretdb(options: { dataDir: string; ferretdbBin: string | null; sync?: EmbeddedSync; role?: DatabaseRole }): Promise<EmbeddedDatabase> {
  const role = options.role ?? 'server';
  const dataDir = resolve(options.dataDir);
  const storage = join(dataDir, 'ferretdb');
  const runtimeFile = join(dataDir, 'ferretdb.json');
  const lockFile = join(dataDir, 'ferretdb.lock');
  mkdirSync(storage, { recursive: true, mode: 0o700 });

  const deadline = Date.now() + TOOL_WAIT_MS;
  while (Date.now() < deadline) {
    const running = readRuntimeFile(runtimeFile);
    if (running && isAlive(running.pid) && await canConnect(running.port)) {
      if (role === 'server' && running.role === 'tool') {
        await sleep(100);
        continue;
      }
      return { uri: uriFor(running.port), owned: false, stop: async () => {} };
    }
    // Exclusive create: only one process starts FerretDB for a data directory.
    let lock: number;
    try {
      lock = openSync(lockFile, 'wx');
    } catch {
      const holder = Number(readFileSync(lockFile, 'utf8') || 0);
      if (holder && !isAlive(holder)) rmSync(lockFile, { force: true });
      await sleep(100);
      continue;
    }
    writeFileSync(lockFile, String(process.pid));
    closeSync(lock);
    try {
      return await launch(options.ferretdbBin, options.sync ?? 'normal', storage, runtimeFile, role);
    } finally {
      rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`could not start or reach the embedded database in ${dataDir} (is ${lockFile} left over from a crash?)`);
}

async function launch(configuredBin: string | null, sync: EmbeddedSync, storage: string, runtimeFile: string, role: DatabaseRole): Promise<EmbeddedDatabase> {
  const bin = findFerretdbBinary(configuredBin);
  if (!bin) throw new FerretdbMissingError(`${notBuiltMessage()}\n(The embedded database is used because MONGODB_URI is not set.)`);
  const port = await freePort();
  const child = spawn(bin, [
    '--handler=sqlite',
    // BEGIN IMMEDIATE: a write transaction takes SQLite's write lock when it starts,
    // waiting (busy_timeout) for another writer to finish, instead of failing with
    // SQLITE_BUSY when it finds it cannot upgrade a read it began under another commit.
    // synchronous: database.embeddedSync (config.ts says what each value risks).
    `--sqlite-url=file:${storage}/?_txlock=immediate&_pragma=synchronous(${sync})`,
    `--state-dir=${storage}`,
    `--listen-addr=127.0.0.1:${port}`,
    '--debug-addr=-',
    '--telemetry=disable',
    '--log-level=warn',
    '--log-format=json',
  ], {
    // Our end of its standard input closes when this process exits, however it
    // exits: Keyport's build of FerretDB then stops (ferretdb-build.ts, KEYPORT_STOP_WITH_PARENT_GO).
    stdio: ['pipe', 'ignore', 'pipe'],
    env: { ...process.env, KEYPORT_STOP_WITH_PARENT: '1' },
  });
  child.stdin?.on('error', () => { /* it has exited; stop() and the exit handler deal with that */ });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  await waitForPort(child, port, () => stderr);
  writeFileSync(runtimeFile, JSON.stringify({ pid: child.pid!, port, role } satisfies RuntimeFile));
  // If this process dies without stop(), do not leave the database running.
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  return {
    uri: uriFor(port),
    owned: true,
    async stop() {
      process.off('exit', onExit);
      if (readRuntimeFile(runtimeFile)?.pid === child.pid) rmSync(runtimeFile, { force: true });
      await stopChild(child);
    },
  };
}
