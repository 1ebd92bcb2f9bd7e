// Configuration: defaults, environment variables, a config file, and errors that name the bad setting.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError, loadConfig } from '../src/config.ts';
import { resolveServerSecrets } from '../src/server-secrets.ts';

test('defaults: port 3000, 10-minute tokens, 10 failures lock for 15 minutes, a throttled address held back 1 s, embedded database', (t) => {
  const config = loadConfig({});
  t.is(config.server.port, 3000);
  t.is(config.tokens.ttlSeconds, 600);
  t.deepEqual(config.lockout, { mode: 'temporary', maxFailures: 10, durationSeconds: 900, maxTemporaryLocks: 5, maxFailuresPerAddress: 100, throttleDelayMs: 1000 });
  t.is(config.database.uri, null);
  t.is(config.database.dataDir, './data');
  t.is(config.database.embeddedSync, 'normal');
  t.is(config.signingKeys.rotationDays, 90);
  t.true(config.scopes.some((s) => s.name === 'keyport:manage' && s.levels.join() === 'account'));
});

test('environment variables override the defaults', (t) => {
  const config = loadConfig({
    KEYPORT_PORT: '8080',
    KEYPORT_TOKEN_TTL: '300',
    MONGODB_URI: 'mongodb://db:27017/keyport',
    KEYPORT_RESOURCES: 'https://a.test, https://b.test',
    KEYPORT_DEFAULT_AUDIENCE: 'https://b.test',
    KEYPORT_LOCKOUT_MODE: 'permanent',
    KEYPORT_EMBEDDED_DB_SYNC: 'full',
    KEYPORT_SIGNING_KEY_ROTATION_DAYS: '30',
  });
  t.is(config.server.port, 8080);
  t.is(config.tokens.ttlSeconds, 300);
  t.is(config.database.uri, 'mongodb://db:27017/keyport');
  t.deepEqual(config.tokens.resources, ['https://a.test', 'https://b.test', 'urn:keyport:admin-api'], 'the admin API audience is always registered');
  t.is(config.lockout.mode, 'permanent');
  t.is(config.database.embeddedSync, 'full');
  t.is(config.signingKeys.rotationDays, 30);
});

test('database driver timeouts: short by default (a request fails fast while the database is down), set by environment variables, within bounds', (t) => {
  const defaults = loadConfig({}).database;
  t.deepEqual([defaults.serverSelectionTimeoutMs, defaults.connectTimeoutMs, defaults.heartbeatFrequencyMs], [750, 2000, 1000]);
  const set = loadConfig({ KEYPORT_DB_SERVER_SELECTION_TIMEOUT_MS: '1500', KEYPORT_DB_CONNECT_TIMEOUT_MS: '5000', KEYPORT_DB_HEARTBEAT_MS: '2000' }).database;
  t.deepEqual([set.serverSelectionTimeoutMs, set.connectTimeoutMs, set.heartbeatFrequencyMs], [1500, 5000, 2000]);
  const heartbeat = t.throws(() => loadConfig({ KEYPORT_DB_HEARTBEAT_MS: '100' }), { instanceOf: ConfigError });
  t.regex(heartbeat.message, /database\.heartbeatFrequencyMs \(KEYPORT_DB_HEARTBEAT_MS\)/, 'the driver refuses heartbeats under 500 ms');
  const selection = t.throws(() => loadConfig({ KEYPORT_DB_SERVER_SELECTION_TIMEOUT_MS: '0' }), { instanceOf: ConfigError });
  t.regex(selection.message, /database\.serverSelectionTimeoutMs \(KEYPORT_DB_SERVER_SELECTION_TIMEOUT_MS\)/);
});

test('a config file is deep-merged over the defaults; env wins over the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keyport-config-'));
  const file = join(dir, 'keyport.json');
  writeFileSync(file, JSON.stringify({ tokens: { ttlSeconds: 120 }, lockout: { maxFailures: 3 }, scopes: [{ name: 'billing:read', description: 'x', levels: ['account'] }] }));
  const config = loadConfig({ KEYPORT_CONFIG_FILE: file, KEYPORT_LOCKOUT_MAX_FAILURES: '4' });
  t.is(config.tokens.ttlSeconds, 120);
  t.is(config.tokens.defaultAudience, 'https://api.example.com', 'untouched keys keep their defaults');
  t.is(config.lockout.maxFailures, 4);
  t.is(config.lockout.durationSeconds, 900);
  t.deepEqual(config.scopes.map((s) => s.name), ['billing:read'], 'arrays are replaced whole');
});

test('errors name the setting and its environment variable', (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ KEYPORT_PORT: 'eighty' }, /KEYPORT_PORT must be a whole number/],
    [{ KEYPORT_TOKEN_TTL: '5' }, /tokens\.ttlSeconds \(KEYPORT_TOKEN_TTL\)/],
    [{ MONGODB_URI: 'postgres://x' }, /database\.uri \(MONGODB_URI\): must start with mongodb/],
    [{ KEYPORT_LOCKOUT_MODE: 'sometimes' }, /lockout\.mode \(KEYPORT_LOCKOUT_MODE\)/],
    [{ KEYPORT_EMBEDDED_DB_SYNC: 'off' }, /database\.embeddedSync \(KEYPORT_EMBEDDED_DB_SYNC\)/],
    [{ KEYPORT_DEFAULT_AUDIENCE: 'https://not-registered.test' }, /tokens\.defaultAudience.*must be one of tokens\.resources/],
    [{ KEYPORT_KEY_ENCRYPTION_KEY: 'short' }, /secrets\.keyEncryptionKey \(KEYPORT_KEY_ENCRYPTION_KEY\)/],
    [{ KEYPORT_SIGNING_KEY_ROTATION_DAYS: '0' }, /signingKeys\.rotationDays \(KEYPORT_SIGNING_KEY_ROTATION_DAYS\): Too small/],
    [{ KEYPORT_SIGNING_KEY_ROTATION_DAYS: '1.5' }, /KEYPORT_SIGNING_KEY_ROTATION_DAYS must be a whole number/],
    [{ KEYPORT_CONFIG_FILE: '/nonexistent/keyport.json' }, /cannot read config file \/nonexistent\/keyport.json/],
  ];
  for (const [env, message] of cases) {
    const error = t.throws(() => loadConfig(env), { instanceOf: ConfigError });
    t.regex(error.message, message, JSON.stringify(env));
  }
});

test('the issuer: an http(s) URL without query, fragment or credentials (RFC 8414); a trailing slash is dropped', (t) => {
  t.is(loadConfig({ KEYPORT_ISSUER: 'https://example.com/auth/' }).server.issuer, 'https://example.com/auth');
  t.is(loadConfig({ KEYPORT_ISSUER: 'https://example.com/' }).server.issuer, 'https://example.com');
  t.is(loadConfig({ KEYPORT_ISSUER: 'https://example.com/a/b' }).server.issuer, 'https://example.com/a/b');
  const refused: [string, RegExp][] = [
    ['https://example.com/auth?tenant=1', /no query \(\?\) and no fragment/],
    ['https://example.com/auth?', /no query/],
    ['https://example.com/auth#x', /no fragment/],
    ['https://user:pass@example.com/auth', /user name or password/],
    ['ftp://example.com/auth', /http:\/\/ or https:\/\//],
    ['example.com/auth', /http:\/\/ or https:\/\//],
  ];
  for (const [issuer, message] of refused) {
    const error = t.throws(() => loadConfig({ KEYPORT_ISSUER: issuer }), { instanceOf: ConfigError }, issuer);
    t.regex(error.message, /server\.issuer \(KEYPORT_ISSUER\)/, issuer);
    t.regex(error.message, message, issuer);
  }
});

test('with MONGODB_URI, the pepper and key encryption key are required (never generated)', (t) => {
  const config = loadConfig({ MONGODB_URI: 'mongodb://db:27017/keyport' });
  const error = t.throws(() => resolveServerSecrets(config), { instanceOf: ConfigError });
  t.regex(error.message, /KEYPORT_SECRET_PEPPER/);
  t.regex(error.message, /KEYPORT_KEY_ENCRYPTION_KEY/);
});

test('embedded mode generates the server secrets once and reuses them', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keyport-secrets-'));
  const config = loadConfig({ KEYPORT_DATA_DIR: dir });
  const first = resolveServerSecrets(config);
  const second = resolveServerSecrets(config);
  t.is(first.pepper, second.pepper);
  t.deepEqual(first.keyEncryptionKey, second.keyEncryptionKey);
  t.is(first.keyEncryptionKey.length, 32);
});
