// Request validation for the admin REST API: strict zod schemas (unknown fields
// are errors, so mass assignment of failedAttempts, locked, secretHash or owner
// ids cannot happen), plus a pass over the raw JSON that refuses MongoDB
// operators and prototype keys anywhere, before anything reaches a query.
import type { Context } from 'koa';
import { z } from 'zod';
import type { IdKind } from '../../domain/credentials.ts';
import { COMMENT_MAX, EMAIL_MAX, GRACE_PERIOD_NAMES, NAME_MAX, PASSWORD_MAX, SCOPE_NAME_MAX, SCOPE_NAME_PATTERN, SCOPES_MAX } from '../../domain/limits.ts';
import { PUBLIC_KEY_INPUT_MAX, PUBLIC_KEYS_MAX } from '../../domain/public-keys.ts';
import { ApiError, validationError } from './errors.ts';

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
/** One public key as uploaded: PEM or JWK text, or a JWK object (src/domain/public-keys.ts checks what it holds). */
const publicKey = z.union([z.string().min(1).max(PUBLIC_KEY_INPUT_MAX), z.record(z.string(), z.unknown())]);
const intParam = (min: number, max: number) => z.string().regex(/^\d{1,7}$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

/** The ids that appear as path parameters; their shapes are ID_PATTERNS (src/domain/credentials.ts). */
export type IdParam = Exclude<IdKind, 'membershipId'>;

// ---- bodies ----------------------------------------------------------------

export const schemas = {
  signIn: z.strictObject({ email: z.string().min(1).max(EMAIL_MAX), password: z.string().min(1).max(PASSWORD_MAX) }),
  empty: z.strictObject({}),
  named: z.strictObject({ name }),
  addMember: z.strictObject({ email: z.email().max(EMAIL_MAX), role: z.enum(['admin', 'member']) }),
  createKeypair: z.strictObject({
    name, comment: comment.optional(), scopes: scopes.optional(),
    publicKeys: z.array(publicKey).max(PUBLIC_KEYS_MAX).optional().describe('public keys for private_key_jwt: JWK (object or JSON text) or PEM public keys'),
    secret: z.boolean().optional().describe('false: a key-only keypair, without a secret (needs publicKeys); default true'),
  }),
  addPublicKey: z.strictObject({ key: publicKey.describe('a public key: JWK (object or JSON text) or PEM ("-----BEGIN PUBLIC KEY-----")') }),
  retirePublicKey: z.strictObject({ grace: z.enum(GRACE_PERIOD_NAMES).optional().describe('"0": at once (the default); otherwise the key keeps working this long') }),
  updateKeypair: z.strictObject({ name: name.optional(), comment: comment.optional(), scopes: scopes.optional() })
    .refine((v) => v.name !== undefined || v.comment !== undefined || v.scopes !== undefined, 'give at least one of name, comment, scopes'),
  rotate: z.strictObject({ grace: z.enum(GRACE_PERIOD_NAMES).optional(), revokeTokens: z.boolean().optional() }),
  regenerate: z.strictObject({ revokeTokens: z.boolean().optional() }),
  listKeypairs: z.strictObject({
    limit: intParam(1, 100).optional(),
    offset: intParam(0, 1_000_000).optional(),
    status: z.enum(['enabled', 'disabled', 'locked']).optional(),
    q: z.string().max(NAME_MAX).optional(),
  }),
  listAudit: z.strictObject({
    limit: intParam(1, 200).optional(),
    cursor: z.string().min(1).max(200).regex(/^[A-Za-z0-9_-]+$/).optional(),
  }),
  none: z.strictObject({}),
} as const;
