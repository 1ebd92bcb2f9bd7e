// Request validation for the admin REST API: strict zod schemas (unknown fields
// are errors, so mass assignment of failedAttempts, locked, secretHash or owner
// ids cannot happen), plus a pass over the raw JSON that refuses MongoDB
// operators and prototype keys anywhere, before anything reaches a query.
import type { Context } from 'koa';
import { z } from 'zod';
import { TRUST_RULE_CLAIMS_MAX, TRUST_RULE_VALUE_MAX, TRUST_RULES_MAX } from '../../domain/trust-rules.ts';
import type { IdKind } from '../../domain/credentials.ts';
import { COMMENT_MAX, EMAIL_MAX, GRACE_PERIOD_NAMES, NAME_MAX, RETIRE_WHEN_IDLE_NAMES, PASSWORD_MAX, SCOPE_NAME_MAX, SCOPE_NAME_PATTERN, SCOPES_MAX } from '../../domain/limits.ts';
import { MAX_KEYPAIR_LIFETIME_DAYS } from '../../domain/expiry.ts';
import { WEBHOOK_DESCRIPTION_MAX } from '../../domain/webhooks.ts';
import { WEBHOOK_URL_MAX } from '../../domain/webhook-urls.ts';
import { PUBLIC_KEY_INPUT_MAX, PUBLIC_KEYS_MAX } from '../../domain/public-keys.ts';
import { ApiError, validationError } from './errors.ts';
import { USAGE_CHART_DAYS, USAGE_RETENTION_DAYS } from '../../domain/daily-usage.ts';
import { KEYPAIR_SORTS } from '../../domain/keypair-pages.ts';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 8;

/** Throws 400 for a `$`-key, a dotted key or a prototype key at any depth of a parsed JSON value. */
export function assertSafeJson(value: unknown, path: string[] = [], depth = 0): void {
  if (value === null || typeof value !== 'object') return;
  if (depth > MAX_DEPTH) throw new ApiError(400, 'invalid_request', 'the request body is nested too deeply');
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.keys(value).map((k) => [k, (value as Record<string, unknown>)[k]] as const);
  for (const [key, child] of entries) {
    if (!Array.isArray(value) && (key.startsWith('$') || key.includes('.') || FORBIDDEN_KEYS.has(key))) {
      throw new ApiError(400, 'invalid_request', `field name not allowed: ${JSON.stringify(key)}`, { path: ['body', ...path, key].join('.') });
    }
    assertSafeJson(child, [...path, key], depth + 1);
  }
}

/** The parsed JSON body (an empty object when there is none), checked against a strict schema. */
export function parseBody<T extends z.ZodType>(ctx: Context, schema: T): z.infer<T> {
  const raw = (ctx.request as unknown as { body?: unknown }).body;
  const body = raw === undefined || raw === null || (typeof raw === 'string' && raw === '') ? {} : raw;
  assertSafeJson(body);
  const result = schema.safeParse(body);
  if (!result.success) throw validationError(result.error, 'body');
  return result.data;
}

export function parseQuery<T extends z.ZodType>(ctx: Context, schema: T): z.infer<T> {
  const query = { ...ctx.query };
  for (const key of Object.keys(query)) {
    if (key.startsWith('$') || key.includes('[') || FORBIDDEN_KEYS.has(key)) {
      throw new ApiError(400, 'invalid_request', `query parameter not allowed: ${JSON.stringify(key)}`, { path: `query.${key}` });
    }
  }
  const result = schema.safeParse(query);
  if (!result.success) throw validationError(result.error, 'query');
  return result.data;
}

// ---- building blocks -------------------------------------------------------

const name = z.string().trim().min(1, 'must not be empty').max(NAME_MAX);
const comment = z.string().max(COMMENT_MAX);
const scope = z.string().min(1).max(SCOPE_NAME_MAX).regex(SCOPE_NAME_PATTERN, 'not a scope name');
const scopes = z.array(scope).max(SCOPES_MAX);
/** An ISO 8601 date and time with its offset (e.g. 2027-01-31T00:00:00Z), or null for "never". */
const expiresAt = z.iso.datetime({ offset: true }).transform((value) => new Date(value)).nullable();
/** One public key as uploaded: PEM or JWK text, or a JWK object (src/domain/public-keys.ts checks what it holds). */
const publicKey = z.union([z.string().min(1).max(PUBLIC_KEY_INPUT_MAX), z.record(z.string(), z.unknown())]);
const intParam = (min: number, max: number) => z.string().regex(/^\d{1,7}$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

/** The ids that appear as path parameters; their shapes are ID_PATTERNS (src/domain/credentials.ts). */
export type IdParam = Exclude<IdKind, 'membershipId'>;

/** The query of a keypair list (an account's takes one more: listAccountKeypairs). */
const listKeypairsShape = {
  limit: intParam(1, 100).optional(),
  offset: intParam(0, 1_000_000).optional(),
  status: z.enum(['enabled', 'disabled', 'locked', 'expiring', 'expired']).optional(),
  q: z.string().max(NAME_MAX).optional(),
  sort: z.enum(KEYPAIR_SORTS).optional().describe('-created: newest first (the default), created: oldest first, name: name A to Z (any case), -name: Z to A; with q the default is name'),
  cursor: z.string().max(4096).optional().describe('the "next" or "previous" of a page: the page after (or before) it, in the same order and with the same filters'),
};

/** A trust rule (federated workload identity): src/domain/trust-rules.ts checks what it says. */
const trustRule = z.strictObject({
  issuer: z.string().min(1).max(TRUST_RULE_VALUE_MAX).describe('the external issuer, exactly as its tokens write "iss"; must be on the instance\'s federation.issuers'),
  subject: z.string().min(1).max(TRUST_RULE_VALUE_MAX).describe('the token\'s "sub": exact, or a prefix ending in one "*" (e.g. "repo:acme/api:*")'),
  audience: z.string().min(1).max(TRUST_RULE_VALUE_MAX).describe('a value the token\'s "aud" must hold'),
  claims: z.array(z.strictObject({ name: z.string().min(1).max(300), value: z.string().min(1).max(TRUST_RULE_VALUE_MAX) })).max(TRUST_RULE_CLAIMS_MAX).optional()
    .describe('further claims, each equal to the given string (e.g. [{"name": "repository", "value": "acme/api"}]); "/" reaches into nested claims ("kubernetes.io/namespace")'),
});

// ---- bodies ----------------------------------------------------------------

export const schemas = {
  signIn: z.strictObject({ email: z.string().min(1).max(EMAIL_MAX), password: z.string().min(1).max(PASSWORD_MAX) }),
  empty: z.strictObject({}),
  named: z.strictObject({ name }),
  addMember: z.strictObject({ email: z.email().max(EMAIL_MAX), role: z.enum(['admin', 'member']) }),
  createKeypair: z.strictObject({
    name, comment: comment.optional(), scopes: scopes.optional(), expiresAt: expiresAt.optional(), dpopRequired: z.boolean().optional(),
    publicKeys: z.array(publicKey).max(PUBLIC_KEYS_MAX).optional().describe('public keys for private_key_jwt: JWK (object or JSON text) or PEM public keys'),
    secret: z.boolean().optional().describe('false: a keypair without a secret (needs publicKeys or trustRules); default true'),
    trustRules: z.array(trustRule).max(TRUST_RULES_MAX).optional().describe('trust rules for federated workload identity (secretless): OIDC tokens of trusted issuers that authenticate the keypair'),
  }),
  addPublicKey: z.strictObject({ key: publicKey.describe('a public key: JWK (object or JSON text) or PEM ("-----BEGIN PUBLIC KEY-----")') }),
  addTrustRule: trustRule,
  retirePublicKey: z.strictObject({ grace: z.enum(GRACE_PERIOD_NAMES).optional().describe('"0": at once (the default); otherwise the key keeps working this long') }),
  updateKeypair: z.strictObject({ name: name.optional(), comment: comment.optional(), scopes: scopes.optional(), expiresAt: expiresAt.optional(), dpopRequired: z.boolean().optional() })
    .refine((v) => v.name !== undefined || v.comment !== undefined || v.scopes !== undefined || v.expiresAt !== undefined || v.dpopRequired !== undefined, 'give at least one of name, comment, scopes, expiresAt, dpopRequired'),
  keypairLifetime: z.strictObject({ maxKeypairLifetimeDays: z.number().int().min(1).max(MAX_KEYPAIR_LIFETIME_DAYS).nullable() }),
  rotate: z.strictObject({ grace: z.enum(GRACE_PERIOD_NAMES).optional(), revokeTokens: z.boolean().optional(), retireWhenIdle: z.enum(RETIRE_WHEN_IDLE_NAMES).optional() }),
  endPreviousSecret: z.strictObject({ force: z.boolean().optional() }),
  extendGrace: z.strictObject({ until: z.iso.datetime({ offset: true }) }),
  retireWhenIdle: z.strictObject({ retireWhenIdle: z.enum(RETIRE_WHEN_IDLE_NAMES).nullable() }),
  regenerate: z.strictObject({ revokeTokens: z.boolean().optional() }),
  listKeypairs: z.strictObject(listKeypairsShape),
  // An account's list may take in its environments' keypairs too (the account-wide view).
  listAccountKeypairs: z.strictObject({
    ...listKeypairsShape,
    include: z.literal('environments').optional().describe('environments: every keypair of the account, its own and all its environments\', in one list; each item then has "environment" ({id, name}, null for the account\'s own)'),
  }),
  keypairUsage: z.strictObject({ days: intParam(1, USAGE_RETENTION_DAYS).optional().describe(`how many days, up to today (default ${USAGE_CHART_DAYS}, at most ${USAGE_RETENTION_DAYS})`) }),
  listAudit: z.strictObject({
    limit: intParam(1, 200).optional(),
    cursor: z.string().min(1).max(200).regex(/^[A-Za-z0-9_-]+$/).optional(),
  }),
  createWebhook: z.strictObject({ url: z.string().min(1).max(WEBHOOK_URL_MAX), description: z.string().max(WEBHOOK_DESCRIPTION_MAX).optional() }),
  listDeliveries: z.strictObject({
    limit: intParam(1, 200).optional(),
    cursor: z.string().min(1).max(200).regex(/^[A-Za-z0-9_-]+$/).optional(),
  }),
  none: z.strictObject({}),
} as const;
