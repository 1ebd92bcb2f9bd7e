// Starts a real Keyport (HTTP on a free loopback port) on a real embedded
// FerretDB with a fresh data directory, for one test file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type KeyportConfig } from '../../src/config.ts';
import type { Clock } from '../../src/domain/clock.ts';
import { startKeyport, type RunningKeyport } from '../../src/keyport.ts';
import type { Tracing } from '../../src/tracing.ts';

/** A clock the test moves forward by hand (the server reads it through the domain). */
export class TestClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

type Overrides = Record<string, unknown>;

export interface TestKeyport {
  keyport: RunningKeyport;
  /** The issuer, which is also the base URL to call. */
  url: string;
  dataDir: string;
  config: KeyportConfig;
  clock: TestClock;
  /** Stops the server and its database, then starts both again on the same data. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export function testConfig(dataDir: string, overrides: Overrides = {}): KeyportConfig {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('KEYPORT_') || name === 'MONGODB_URI') delete env[name];
  // MONGODB_URI from the outside (CI with MongoDB) is kept: the same tests then run on MongoDB.
  if (process.env.KEYPORT_TEST_MONGODB_URI) env.MONGODB_URI = `${process.env.KEYPORT_TEST_MONGODB_URI.replace(/\/$/, '')}/${dataDir.split('/').pop()}`;
  return loadConfig(env, {
    server: { host: '127.0.0.1', port: 0 },
    database: { dataDir },
    secrets: process.env.KEYPORT_TEST_MONGODB_URI ? { pepper: 'test-pepper-0123456789abcdef0123456789', keyEncryptionKey: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } : {},
    // Errors only (a test that fails on a 500 then shows why); KEYPORT_TEST_LOG_LEVEL=info for more.
    log: { level: (process.env.KEYPORT_TEST_LOG_LEVEL ?? 'error') as KeyportConfig['log']['level'] },
    ...overrides,
  });
}

/** `tracing`: OpenTelemetry traces for this server (src/tracing.ts); none by default. */
export async function startTestKeyport(options: { overrides?: Overrides; tracing?: Tracing } = {}): Promise<TestKeyport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyport-test-'));
  const clock = new TestClock();
  let config = testConfig(dataDir, options.overrides);
  const tracing = options.tracing ?? null;
  let keyport = await startKeyport(config, { clock, tracing });
  // The issuer must stay the same across a restart for old tokens to verify: pin the port.
  const pinned = testConfig(dataDir, { ...options.overrides, server: { host: '127.0.0.1', ...(options.overrides?.server as Overrides | undefined), port: keyport.port } });
  config = pinned;
  const handle: TestKeyport = {
    keyport,
    url: keyport.issuer,
    dataDir,
    config,
    clock,
    async restart() {
      await keyport.close();
      keyport = await startKeyport(pinned, { clock, tracing });
      handle.keyport = keyport;
    },
    async close() {
      await keyport.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}
