// Loads Keyport's configuration: config/default.json, then an optional JSON file
// named by KEYPORT_CONFIG_FILE, then environment variables; validated once at
// start so that a bad setting stops the process with a message naming it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SCOPE_NAME_PATTERN } from './domain/limits.ts';

const DEFAULTS_FILE = fileURLToPath(new URL('../config/default.json', import.meta.url));

const scopeLevel = z.enum(['account', 'environment']);

/**
 * The issuer (RFC 8414 §2): an http(s) URL without query, fragment or
 * credentials; a trailing slash is dropped, so that `${issuer}/oauth/token`
 * never holds "//" and the `iss` claim has one spelling.
 */
const issuerUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .superRefine((value, ctx) => {
    if (!URL.canParse(value)) return; // reported by z.url above
    const url = new URL(value);
    if (url.search || url.hash || /[?#]/.test(value)) ctx.addIssue({ code: 'custom', message: 'must have no query (?) and no fragment (#) (RFC 8414)' });
    if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not hold a user name or password' });
  })
  .transform((value) => value.replace(/\/+$/, ''));

/** An external issuer as its tokens write `iss`: kept as written (the comparison is exact). */
const federationIssuer = z.url({ protocol: /^https?$/, error: 'must be an https:// URL (http:// only on loopback, with federation.allowLoopback)' })
  .max(512)
  .refine((value) => !/[?#]/.test(value) && !/^[a-z]+:\/\/[^/]*@/i.test(value), 'must have no query, fragment, user name or password');

const scopeName = z.string().regex(SCOPE_NAME_PATTERN, 'a scope is printable ASCII without spaces, quotes or backslashes');

const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
    issuer: issuerUrl.nullable(),
    workers: z.number().int().min(1).max(64),
    /** Behind a reverse proxy: take the client address from X-Forwarded-For (for per-address throttling and logs). */
    trustProxy: z.boolean(),
  }),
  database: z.strictObject({
    uri: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').nullable(),
    dataDir: z.string().min(1),
    ferretdbBin: z.string().min(1).nullable(),
    /**
     * Embedded database: when a commit reaches the disk. 'normal' (SQLite WAL,
     * synchronous=NORMAL): at checkpoints, so a power loss can undo the last
     * commits (a crash of Keyport or FerretDB cannot): what MongoDB's default
     * write concern risks too (its journal is flushed every 100 ms). 'full': an
     * fsync per commit, about half the write throughput (failure counting).
     */
    embeddedSync: z.enum(['normal', 'full']),
    /**
     * How long an operation waits for a reachable server before it fails (the
     * driver's serverSelectionTimeoutMS): while the database is down, a request
     * that needs it is answered 503 after this long.
     */
    serverSelectionTimeoutMs: z.number().int().min(100).max(60_000),
    /** How long opening a connection may take (connectTimeoutMS; also bounds the driver's health checks). */
    connectTimeoutMs: z.number().int().min(100).max(60_000),
    /** How often the driver checks the server (heartbeatFrequencyMS; its minimum is 500). */
    heartbeatFrequencyMs: z.number().int().min(500).max(60_000),
  }),
  secrets: z.strictObject({
    pepper: z.string().min(32, 'must be at least 32 characters (use `openssl rand -base64 32`)').nullable(),
    keyEncryptionKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be 32 bytes in base64url (43 characters): `node -e "console.log(crypto.randomBytes(32).toString(\'base64url\'))"`').nullable(),
    /** Days the hash of an ended secret is kept, so that a client still sending it is recognised (and not counted toward the lockout). */
    endedRetentionDays: z.number().int().min(1).max(365),
  }),
  tokens: z.strictObject({
    ttlSeconds: z.number().int().min(30).max(86_400),
    defaultAudience: z.url(),
    resources: z.array(z.url()).min(1),
  }),
  signingKeys: z.strictObject({
    /** Each token signing key signs this many days before the next one (published ahead of time) takes over. */
    rotationDays: z.number().int().min(1).max(3650),
  }),
  expiry: z.strictObject({
    /** How often each server process looks for keypairs that entered the 14-day window or expired, to audit them (keypair.expiring, keypair.expired). */
    sweepSeconds: z.number().int().min(1).max(86_400),
  }),
  lockout: z.strictObject({
    mode: z.enum(['temporary', 'permanent']),
    maxFailures: z.number().int().min(1).max(1000),
    durationSeconds: z.number().int().min(1),
    maxTemporaryLocks: z.number().int().min(1).max(100),
    /** Failed client authentications per minute from one address before it must wait (any key). */
    maxFailuresPerAddress: z.number().int().min(1),
    /** How long an answer to an address over its budget is held back (a tarpit; 0: at once). */
    throttleDelayMs: z.number().int().min(0).max(10_000),
  }),
  scopes: z.array(z.strictObject({
    name: scopeName,
    description: z.string(),
    levels: z.array(scopeLevel).min(1),
  })).min(1),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  }),
  webhooks: z.strictObject({
    /** Endpoints on loopback addresses (localhost, 127.0.0.0/8, ::1), over http too: tests and local development only. */
    allowLoopback: z.boolean(),
    /** Endpoints on private, link-local and other non-public addresses (on-premise receivers); still https only. */
    allowPrivateNetworks: z.boolean(),
    /** How long one delivery attempt may take (connect, send, answer) before it counts as failed. */
    timeoutMs: z.number().int().min(100).max(60_000),
    /** The first retry's delay; each further retry waits twice as long (at most an hour). */
    retryBaseMs: z.number().int().min(10).max(3_600_000),
    /** Retries stop this long after the event: the delivery is then `failed` (redeliver by hand). */
    retryForHours: z.number().int().min(1).max(168),
    /** Deliveries in flight at once, across all endpoints (one at a time per endpoint). */
    maxConcurrent: z.number().int().min(1).max(256),
    /** How often the delivery worker looks for due deliveries. */
    pollMs: z.number().int().min(10).max(60_000),
  }),
  federation: z.strictObject({
    /**
     * The external OIDC issuers (GitHub Actions, a Kubernetes cluster, GitLab…)
     * whose tokens keypairs may trust, written exactly as their tokens' `iss`.
     * Empty: federated workload identity is off.
     */
    issuers: z.array(federationIssuer).max(100),
    /** Issuers on loopback addresses, over http too: tests and local development only. */
    allowLoopback: z.boolean(),
    /** Issuers on private networks (an in-cluster Kubernetes issuer); still https only. */
    allowPrivateNetworks: z.boolean(),
    /** How long fetching an issuer's discovery document or JWKS may take. */
    fetchTimeoutMs: z.number().int().min(100).max(30_000),
  }),
}).superRefine((config, ctx) => {
  if (!config.tokens.resources.includes(config.tokens.defaultAudience)) {
    ctx.addIssue({ code: 'custom', path: ['tokens', 'defaultAudience'], message: 'must be one of tokens.resources' });
  }
  const names = config.scopes.map((s) => s.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) ctx.addIssue({ code: 'custom', path: ['scopes'], message: `scope ${duplicate} is listed twice` });
});

export type KeyportConfig = z.infer<typeof configSchema>;

/** The audience of tokens for Keyport's own admin API: always registered, whatever tokens.resources says. */
export const ADMIN_API_RESOURCE = 'urn:keyport:admin-api';
export type ScopeLevel = z.infer<typeof scopeLevel>;

/** Environment variables and the config path each one sets. */
export const ENVIRONMENT_VARIABLES: Record<string, { path: string[]; type: 'string' | 'int' | 'list' | 'boolean' }> = {
  KEYPORT_HOST: { path: ['server', 'host'], type: 'string' },
  KEYPORT_PORT: { path: ['server', 'port'], type: 'int' },
  KEYPORT_ISSUER: { path: ['server', 'issuer'], type: 'string' },
  KEYPORT_WORKERS: { path: ['server', 'workers'], type: 'int' },
  KEYPORT_TRUST_PROXY: { path: ['server', 'trustProxy'], type: 'boolean' },
  MONGODB_URI: { path: ['database', 'uri'], type: 'string' },
  KEYPORT_DATA_DIR: { path: ['database', 'dataDir'], type: 'string' },
  FERRETDB_BIN: { path: ['database', 'ferretdbBin'], type: 'string' },
  KEYPORT_EMBEDDED_DB_SYNC: { path: ['database', 'embeddedSync'], type: 'string' },
  KEYPORT_DB_SERVER_SELECTION_TIMEOUT_MS: { path: ['database', 'serverSelectionTimeoutMs'], type: 'int' },
  KEYPORT_DB_CONNECT_TIMEOUT_MS: { path: ['database', 'connectTimeoutMs'], type: 'int' },
  KEYPORT_DB_HEARTBEAT_MS: { path: ['database', 'heartbeatFrequencyMs'], type: 'int' },
  KEYPORT_SECRET_PEPPER: { path: ['secrets', 'pepper'], type: 'string' },
  KEYPORT_KEY_ENCRYPTION_KEY: { path: ['secrets', 'keyEncryptionKey'], type: 'string' },
  KEYPORT_ENDED_SECRET_RETENTION_DAYS: { path: ['secrets', 'endedRetentionDays'], type: 'int' },
  KEYPORT_TOKEN_TTL: { path: ['tokens', 'ttlSeconds'], type: 'int' },
  KEYPORT_DEFAULT_AUDIENCE: { path: ['tokens', 'defaultAudience'], type: 'string' },
  KEYPORT_RESOURCES: { path: ['tokens', 'resources'], type: 'list' },
  KEYPORT_SIGNING_KEY_ROTATION_DAYS: { path: ['signingKeys', 'rotationDays'], type: 'int' },
  KEYPORT_EXPIRY_SWEEP_SECONDS: { path: ['expiry', 'sweepSeconds'], type: 'int' },
  KEYPORT_LOCKOUT_MODE: { path: ['lockout', 'mode'], type: 'string' },
  KEYPORT_LOCKOUT_MAX_FAILURES: { path: ['lockout', 'maxFailures'], type: 'int' },
  KEYPORT_LOCKOUT_DURATION: { path: ['lockout', 'durationSeconds'], type: 'int' },
  KEYPORT_LOCKOUT_MAX_TEMPORARY_LOCKS: { path: ['lockout', 'maxTemporaryLocks'], type: 'int' },
  KEYPORT_LOCKOUT_MAX_FAILURES_PER_ADDRESS: { path: ['lockout', 'maxFailuresPerAddress'], type: 'int' },
  KEYPORT_LOCKOUT_THROTTLE_DELAY_MS: { path: ['lockout', 'throttleDelayMs'], type: 'int' },
  KEYPORT_LOG_LEVEL: { path: ['log', 'level'], type: 'string' },
  KEYPORT_WEBHOOKS_ALLOW_LOOPBACK: { path: ['webhooks', 'allowLoopback'], type: 'boolean' },
  KEYPORT_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: { path: ['webhooks', 'allowPrivateNetworks'], type: 'boolean' },
  KEYPORT_WEBHOOKS_TIMEOUT_MS: { path: ['webhooks', 'timeoutMs'], type: 'int' },
  KEYPORT_WEBHOOKS_RETRY_BASE_MS: { path: ['webhooks', 'retryBaseMs'], type: 'int' },
  KEYPORT_WEBHOOKS_RETRY_FOR_HOURS: { path: ['webhooks', 'retryForHours'], type: 'int' },
  KEYPORT_WEBHOOKS_MAX_CONCURRENT: { path: ['webhooks', 'maxConcurrent'], type: 'int' },
  KEYPORT_WEBHOOKS_POLL_MS: { path: ['webhooks', 'pollMs'], type: 'int' },
  KEYPORT_FEDERATION_ISSUERS: { path: ['federation', 'issuers'], type: 'list' },
  KEYPORT_FEDERATION_ALLOW_LOOPBACK: { path: ['federation', 'allowLoopback'], type: 'boolean' },
  KEYPORT_FEDERATION_ALLOW_PRIVATE_NETWORKS: { path: ['federation', 'allowPrivateNetworks'], type: 'boolean' },
  KEYPORT_FEDERATION_FETCH_TIMEOUT_MS: { path: ['federation', 'fetchTimeoutMs'], type: 'int' },
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; arrays and scalars are replaced whole. */
function deepMerge(base: Json, override: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (key === '__proto__' || key === 'constructor') continue;
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key], value) : value;
  }
  return out;
}

function readJson(file: string): Json {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!isPlainObject(parsed)) throw new Error('the top level must be an object');
    delete parsed.$comment;
    return parsed;
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
}

function fromEnvironment(env: NodeJS.ProcessEnv): Json {
  const out: Json = {};
  for (const [name, { path, type }] of Object.entries(ENVIRONMENT_VARIABLES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (type === 'int') {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
      value = Number(raw);
    } else if (type === 'boolean') {
      if (!/^(true|false|1|0)$/i.test(raw.trim())) throw new ConfigError(`${name} must be true or false, got "${raw}"`);
      value = /^(true|1)$/i.test(raw.trim());
    } else if (type === 'list') {
      value = raw.split(',').map((s) => s.trim()).filter(Boolean);
    }
    let node = out;
    for (const key of path.slice(0, -1)) {
      node[key] = isPlainObject(node[key]) ? node[key] : {};
      node = node[key] as Json;
    }
    node[path.at(-1)!] = value;
  }
  return out;
}

function envNameFor(path: PropertyKey[]): string | undefined {
  const dotted = path.join('.');
  return Object.entries(ENVIRONMENT_VARIABLES).find(([, v]) => v.path.join('.') === dotted)?.[0];
}

/**
 * Builds the configuration. `overrides` (deep-merged last) lets tests and the
 * benchmark start Keyport with settings of their own without touching process.env.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Json = {}): KeyportConfig {
  let merged = readJson(DEFAULTS_FILE);
  if (env.KEYPORT_CONFIG_FILE) merged = deepMerge(merged, readJson(env.KEYPORT_CONFIG_FILE));
  merged = deepMerge(merged, fromEnvironment(env));
  merged = deepMerge(merged, overrides);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const where = issue.path.join('.') || '(root)';
      const envName = envNameFor(issue.path);
      return `  ${where}${envName ? ` (${envName})` : ''}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  if (!config.tokens.resources.includes(ADMIN_API_RESOURCE)) config.tokens.resources.push(ADMIN_API_RESOURCE);
  return config;
}

/** The issuer: configured, or derived from the listening port for local use. */
export function issuerOf(config: KeyportConfig, port: number): string {
  return config.server.issuer ?? `http://localhost:${port}`;
}

/**
 * The issuer's path ('' for an issuer at the root, '/auth' for
 * https://example.com/auth): Keyport serves everything under it.
 */
export function issuerPath(issuer: string): string {
  return new URL(issuer).pathname.replace(/\/+$/, '');
}

/** RFC 8414 §3: the metadata's well-known path goes between the host and the issuer's path. */
export function metadataUrl(issuer: string): string {
  return `${new URL(issuer).origin}/.well-known/oauth-authorization-server${issuerPath(issuer)}`;
}
