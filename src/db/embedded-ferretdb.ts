// Starts FerretDB (SQLite handler) as Keyport's embedded database when no
// MONGODB_URI is configured. Data lives under <dataDir>/ferretdb.
//
// Several Keyport processes may share one data directory (the server and the
// `keyport` CLI, or cluster workers): the first one starts FerretDB and records
// its port in <dataDir>/ferretdb.json; the others connect to it. Only the
// process that started FerretDB stops it.
//
// That process also restarts it when it exits unexpectedly (a crash, an OOM
// kill), with backoff, on the same port: every connection string to it stays
// valid, so the MongoDB drivers of this process and of those attached to it
// reconnect by themselves. An attached process never restarts it (it cannot
// keep it: FerretDB stops with the process that started it); while the owner
// restarts it, a process starting up waits instead of starting a second
// FerretDB on the same data.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { canConnect, freePort } from '../net-ports.ts';
import { join, resolve } from 'node:path';
import type { Logger } from '../log.ts';
import { findFerretdbBinary, FerretdbMissingError, notBuiltMessage } from './ferretdb-build.ts';

export interface EmbeddedDatabase {
  uri: string;
  /** True when this process started FerretDB (and so must stop it, and restarts it). */
  owned: boolean;
  /** FerretDB's process id now (null while the owner restarts it). */
  pid(): number | null;
  /** Called each time this process starts FerretDB again after it exited (owner only). */
  onRestart(listener: () => void): void;
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

interface RuntimeFile {
  /** FerretDB's process id. */
  pid: number;
  port: number;
  role?: DatabaseRole;
  /** The Keyport process that started it (and restarts it). */
  owner?: number;
  /** Set while the owner restarts FerretDB after it exited: others wait for it. */
  restarting?: boolean;
}

const READY_TIMEOUT_MS = 20_000;
const TOOL_WAIT_MS = 60_000;
/** Restart backoff: the first restart waits this long, each failed one twice as long as the last... */
const RESTART_FIRST_DELAY_MS = 500;
/** ...up to this. */
const RESTART_MAX_DELAY_MS = 30_000;
/** After running this long, FerretDB counts as healthy again: its next restart waits the first delay. */
const RESTART_STABLE_MS = 60_000;

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
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`FerretDB exited with ${child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode} before it was ready:\n${output()}`);
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
export async function startEmbeddedFerretdb(options: { dataDir: string; ferretdbBin: string | null; sync?: EmbeddedSync; role?: DatabaseRole; log?: Logger }): Promise<EmbeddedDatabase> {
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
      return attached(running.port, runtimeFile);
    }
    // Its owner is starting it again on the same port: wait rather than start a second FerretDB on this data.
    if (running?.restarting && running.owner !== undefined && isAlive(running.owner)) {
      await sleep(100);
      continue;
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
      return await launch({ configuredBin: options.ferretdbBin, sync: options.sync ?? 'normal', storage, runtimeFile, role, log: options.log });
    } finally {
      rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`could not start or reach the embedded database in ${dataDir} (is ${lockFile} left over from a crash?)`);
}

/** Another process's FerretDB: used, never stopped nor restarted here. */
function attached(port: number, runtimeFile: string): EmbeddedDatabase {
  return {
    uri: uriFor(port),
    owned: false,
    pid: () => readRuntimeFile(runtimeFile)?.pid ?? null,
    onRestart: () => {},
    stop: async () => {},
  };
}

interface LaunchOptions {
  configuredBin: string | null;
  sync: EmbeddedSync;
  storage: string;
  runtimeFile: string;
  role: DatabaseRole;
  log: Logger | undefined;
}

/** Starts FerretDB on `port` and waits until it accepts connections. `started` gets the process and its recent stderr at once. */
async function startFerretdb(bin: string, options: LaunchOptions, port: number, started: (child: ChildProcess, output: () => string) => void): Promise<ChildProcess> {
  const { storage, sync } = options;
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
  started(child, () => stderr);
  await waitForPort(child, port, () => stderr);
  return child;
}

async function launch(options: LaunchOptions): Promise<EmbeddedDatabase> {
  const bin = findFerretdbBinary(options.configuredBin);
  if (!bin) throw new FerretdbMissingError(`${notBuiltMessage()}\n(The embedded database is used because MONGODB_URI is not set.)`);
  const port = await freePort();
  const supervisor = new Supervisor(bin, options, port);
  await supervisor.start();
  // If this process dies without stop(), do not leave the database running.
  const onExit = () => supervisor.kill();
  process.once('exit', onExit);
  return {
    uri: uriFor(port),
    owned: true,
    pid: () => supervisor.pid(),
    onRestart: (listener) => supervisor.onRestart(listener),
    async stop() {
      process.off('exit', onExit);
      await supervisor.stop();
    },
  };
}

/**
 * Runs FerretDB for its owner: starts it, and starts it again on the same port
 * when it exits without stop(), waiting RESTART_FIRST_DELAY_MS, then twice as
 * long after each restart that did not last RESTART_STABLE_MS, up to
 * RESTART_MAX_DELAY_MS. If another program has taken the port meanwhile,
 * FerretDB cannot listen there: it is tried again with the same backoff until
 * the port is free, since every connection string names that port (moving to
 * another one would strand the processes attached to it).
 */
class Supervisor {
  readonly #bin: string;
  readonly #options: LaunchOptions;
  readonly #port: number;
  readonly #listeners = new Set<() => void>();
  /** The FerretDB process, from its spawn (so that stop() also ends one still starting). */
  #child: ChildProcess | null = null;
  /** Its last lines on stderr (FerretDB logs at warn level: why it stopped, if it could say). */
  #output: () => string = () => '';
  #startedAt = 0;
  #delayMs = RESTART_FIRST_DELAY_MS;
  #timer: NodeJS.Timeout | null = null;
  #stopping = false;

  constructor(bin: string, options: LaunchOptions, port: number) {
    this.#bin = bin;
    this.#options = options;
    this.#port = port;
  }

  async start(): Promise<void> {
    const child = await startFerretdb(this.#bin, this.#options, this.#port, (child, output) => { this.#child = child; this.#output = output; });
    this.#running(child);
  }

  pid(): number | null {
    const child = this.#child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid ?? null : null;
  }

  onRestart(listener: () => void): void {
    this.#listeners.add(listener);
  }

  /** Ends FerretDB at once (this process is exiting). */
  kill(): void {
    this.#stopping = true;
    this.#child?.kill('SIGTERM');
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (readRuntimeFile(this.#options.runtimeFile)?.owner === process.pid) rmSync(this.#options.runtimeFile, { force: true });
    if (this.#child) await stopChild(this.#child);
  }

  #running(child: ChildProcess): void {
    this.#startedAt = Date.now();
    this.#writeRuntimeFile(child.pid!, false);
    // It may have exited already (something else answered on its port): then its 'exit' event is past.
    if (child.exitCode !== null || child.signalCode !== null) this.#exited(child, child.exitCode, child.signalCode);
    else child.once('exit', (code, signal) => this.#exited(child, code, signal));
  }

  #writeRuntimeFile(pid: number, restarting: boolean): void {
    const { runtimeFile, role } = this.#options;
    writeFileSync(runtimeFile, JSON.stringify({ pid, port: this.#port, role, owner: process.pid, ...(restarting ? { restarting } : {}) } satisfies RuntimeFile));
  }

  #exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#stopping || child !== this.#child) return;
    if (Date.now() - this.#startedAt >= RESTART_STABLE_MS) this.#delayMs = RESTART_FIRST_DELAY_MS;
    this.#writeRuntimeFile(child.pid!, true);
    this.#options.log?.warn({ pid: child.pid, code, signal, port: this.#port, restartInMs: this.#delayMs, output: this.#output().slice(-1000) }, 'the embedded database (FerretDB) exited unexpectedly; restarting it');
    this.#schedule();
  }

  #schedule(): void {
    const delay = this.#delayMs;
    this.#delayMs = Math.min(delay * 2, RESTART_MAX_DELAY_MS);
    this.#timer = setTimeout(() => void this.#restart(), delay);
    this.#timer.unref();
  }

  async #restart(): Promise<void> {
    this.#timer = null;
    if (this.#stopping) return;
    // Ours is gone, so whatever answers on the port is another program: FerretDB could not listen there.
    if (await canConnect(this.#port)) {
      if (this.#stopping) return;
      this.#options.log?.warn({ port: this.#port, restartInMs: this.#delayMs }, 'the embedded database cannot start again: another program listens on its port; trying again');
      this.#schedule();
      return;
    }
    for (const listener of this.#listeners) listener();
    let child: ChildProcess;
    try {
      child = await startFerretdb(this.#bin, this.#options, this.#port, (child, output) => { this.#child = child; this.#output = output; });
    } catch (err) {
      if (this.#stopping) return;
      this.#options.log?.warn({ port: this.#port, restartInMs: this.#delayMs, err: { message: (err as Error).message } }, 'the embedded database (FerretDB) did not start again; trying again');
      this.#schedule();
      return;
    }
    if (this.#stopping) {
      await stopChild(child);
      return;
    }
    this.#running(child);
    this.#options.log?.info({ pid: child.pid, port: this.#port }, 'the embedded database (FerretDB) is running again');
  }
}
