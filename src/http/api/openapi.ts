// The OpenAPI 3.1 document of the admin API, built from the same route table
// that registers the routes (src/http/api/routes.ts) and the same zod schemas
// that validate requests, so the document and the API cannot drift apart.
import { z } from 'zod';
import { API_ERROR_CODES } from './errors.ts';
import type { ResponseSchema, RouteSpec } from './route-spec.ts';
import { ID_PATTERNS } from '../../domain/credentials.ts';
import { RETIRE_WHEN_IDLE_NAMES } from '../../domain/limits.ts';
import { COMMENT_SEARCH_MAX, KEYPAIR_SORTS, TOTAL_CAP } from '../../domain/keypair-pages.ts';
import type { IdParam } from './validation.ts';

type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const str = { type: 'string' };
const time = { type: 'string', format: 'date-time' };
const nullable = (schema: Json) => ({ anyOf: [schema, { type: 'null' }] });
const status = { type: 'string', enum: ['active', 'closing', 'closed'] };

const COMPONENT_SCHEMAS: Record<string, Json> = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message', 'details'],
        properties: { code: { type: 'string', enum: [...API_ERROR_CODES] }, message: str, details: {} },
      },
    },
  },
  User: {
    type: 'object',
    required: ['id', 'email', 'operator', 'createdAt'],
    properties: { id: str, email: str, operator: { type: 'boolean', description: 'the instance-wide operator role: may create accounts (granted with the CLI)' }, createdAt: time },
  },
  Session: {
    type: 'object',
    required: ['csrfToken'],
    properties: {
      user: ref('User'),
      keypair: { type: 'object', properties: { keyId: str, accountId: str, scopes: { type: 'array', items: str } } },
      csrfToken: { ...nullable(str), description: 'send it as X-CSRF-Token on every state-changing request made with the session cookie' },
    },
  },
  Account: {
    type: 'object',
    required: ['id', 'name', 'status', 'createdAt'],
    properties: {
      id: str, name: str, status, createdAt: time,
      maxKeypairLifetimeDays: { ...nullable({ type: 'integer' }), description: 'the longest lifetime, in days, of a new keypair of the account or its environments; null: no limit' },
    },
  },
  AccountList: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('Account') } } },
  Environment: { type: 'object', required: ['id', 'accountId', 'name', 'status', 'createdAt'], properties: { id: str, accountId: str, name: str, status, createdAt: time } },
  EnvironmentList: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('Environment') } } },
  Member: {
    type: 'object',
    required: ['userId', 'email', 'role', 'accountId', 'environmentId'],
    properties: { userId: str, email: str, role: { type: 'string', enum: ['admin', 'member'] }, accountId: str, environmentId: nullable(str), createdAt: time },
  },
  MemberList: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('Member') } } },
  Keypair: {
    type: 'object',
    description: 'A keypair. Never holds a secret or a hash.',
    properties: {
      keyId: str, name: str, comment: str, scopes: { type: 'array', items: str },
      ownerType: { type: 'string', enum: ['account', 'environment'] }, accountId: str, environmentId: nullable(str),
      status: { type: 'string', enum: ['enabled', 'disabled', 'locked'] }, enabled: { type: 'boolean' }, locked: { type: 'boolean' },
      lockedUntil: nullable(time), lockedPermanently: { type: 'boolean' }, failedAttempts: { type: 'integer' },
      secrets: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: ['current', 'previous'] },
            hint: { ...nullable(str), description: 'the secret\'s last 4 characters, as kps_…AbC9 (null: issued before hints existed); the secret itself is never shown again' },
            createdAt: time,
            expiresAt: { ...nullable(time), description: 'the end of the grace period (previous secret)' },
            endsAt: { ...nullable(time), description: 'when it stops working: expiresAt, or earlier with retireWhenIdle' },
            lastUsedAt: { ...nullable(time), description: 'last successful use (written about once a minute)' },
            useCount: { type: 'integer' },
            retireWhenIdle: nullable({ type: 'string', enum: [...RETIRE_WHEN_IDLE_NAMES] }),
          },
        },
      },
      previousSecret: {
        ...nullable({
          type: 'object',
          properties: {
            hint: nullable(str), lastUsedAt: nullable(time),
            usedSinceRotation: { type: 'boolean', description: 'some client still used it after the rotation' },
            usedInLastHour: { type: 'boolean', description: 'ending it now needs "force": true' },
            expiresAt: time, endsAt: time, retireWhenIdle: nullable({ type: 'string', enum: [...RETIRE_WHEN_IDLE_NAMES] }),
            extendableUntil: { ...time, description: 'the latest end an extension may set (72 hours after the rotation)' },
          },
        }),
        description: 'during a grace period: whether the previous secret is still used (null: no grace period)',
      },
      endedSecrets: {
        type: 'array',
        description: 'secrets that ended within secrets.endedRetentionDays, newest first (hashes kept, never the secrets)',
        items: {
          type: 'object',
          properties: {
            hint: nullable(str), createdAt: time, endedAt: time, lastUsedAt: nullable(time), useCount: { type: 'integer' },
            stillInUse: {
              ...nullable({ type: 'object', properties: { count: { type: 'integer' }, lastSeenAt: nullable(time), lastAddress: nullable(str) } }),
              description: '"ended secret still in use": presented after it ended (refused, not counted toward lockout): how often, when last, from which address',
            },
          },
        },
      },
      createdAt: time, createdBy: str, lastUsedAt: nullable(time), lastRotatedAt: nullable(time),
      tokensRevokedAt: { ...nullable(time), description: 'when the tokens issued until then were last revoked (a regeneration or a disable)' },
      expiresAt: { ...nullable(time), description: 'when the keypair stops getting tokens (invalid_client) and its tokens introspect inactive; null: never' },
      expired: { type: 'boolean', description: 'expiresAt has passed' },
      expiringSoon: { type: 'boolean', description: 'expires within 14 days and has not yet' },
      dpopRequired: { type: 'boolean', description: 'token requests must carry a DPoP proof (RFC 9449); without one they get 400 invalid_dpop_proof' },
      publicKeys: {
        type: 'array',
        description: 'public keys for private_key_jwt (never a private key); retired keys show until their grace period ends',
        items: {
          type: 'object',
          properties: {
            thumbprint: { ...str, description: 'RFC 7638 SHA-256 JWK thumbprint (base64url): the key\'s id in the API' },
            kid: { ...str, description: 'the kid an assertion may name (the uploaded JWK\'s kid, else the thumbprint)' },
            kty: str, crv: nullable(str), algs: { type: 'array', items: str },
            state: { type: 'string', enum: ['current', 'retiring'] }, createdAt: time, expiresAt: nullable(time), lastUsedAt: nullable(time),
          },
        },
      },
      recentFailures: {
        type: 'array',
        description: 'source addresses of counted failed authentications (wrong secrets, refused assertions) within the last 24 hours, newest first, at most 10 distinct addresses',
        items: { type: 'object', properties: { address: str, count: { type: 'integer' }, lastSeenAt: time } },
      },
      trustRules: { type: 'array', items: ref('TrustRule'), description: 'trust rules for federated workload identity (secretless)' },
    },
  },
  KeypairUsage: {
    type: 'object',
    required: ['days'],
    properties: {
      days: {
        type: 'array',
        description: 'one entry per UTC day, oldest first, up to today; kept 90 days',
        items: {
          type: 'object',
          required: ['day', 'authenticated', 'failed'],
          properties: {
            day: { type: 'string', format: 'date' },
            authenticated: { type: 'integer', description: 'successful client authentications with a secret (token requests, and introspection or revocation calls by the keypair)' },
            failed: { type: 'integer', description: 'failed authentications counted toward the lockout (wrong secrets, failed assertions)' },
          },
        },
      },
    },
  },
  KeypairPage: {
    type: 'object',
    required: ['items', 'total', 'totalIsExact', 'searchedComments', 'limit', 'offset', 'sort', 'next', 'previous'],
    properties: {
      items: {
        type: 'array',
        items: {
          allOf: [ref('Keypair'), {
            type: 'object',
            properties: { environment: { ...nullable({ type: 'object', required: ['id', 'name'], properties: { id: str, name: str } }), description: 'with ?include=environments only: the keypair\'s environment, null for one of the account\'s own' } },
          }],
        },
      },
      total: { type: 'integer', description: `how many keypairs match, counted up to ${TOTAL_CAP}` },
      totalIsExact: { type: 'boolean', description: `false: more than "total" match (counts stop at ${TOTAL_CAP})` },
      searchedComments: { type: 'boolean', description: `whether ?q= also looked into comments: only in lists of at most ${COMMENT_SEARCH_MAX} keypairs (false without q, and when q found a key id)` },
      limit: { type: 'integer' },
      offset: { type: 'integer' },
      sort: { type: 'string', enum: [...KEYPAIR_SORTS] },
      next: { ...nullable(str), description: 'pass as ?cursor= for the next page; null on the last page' },
      previous: { ...nullable(str), description: 'pass as ?cursor= for the page before; null on the first page' },
    },
  },
  TrustRule: {
    type: 'object',
    description: 'A trust rule: an OIDC token of an external issuer (GitHub Actions, Kubernetes…) that matches it authenticates the keypair (client_assertion, jwt-bearer)',
    required: ['id', 'issuer', 'subject', 'subjectMatch', 'audience', 'claims', 'createdAt', 'lastUsedAt'],
    properties: {
      id: str, issuer: str,
      subject: { ...str, description: 'the token\'s "sub": exact, or a prefix followed by a trailing "*"' },
      subjectMatch: { type: 'string', enum: ['exact', 'prefix'] },
      audience: { ...str, description: 'a value the token\'s "aud" must hold' },
      claims: { type: 'array', items: { type: 'object', required: ['name', 'value'], properties: { name: str, value: str } }, description: 'further claims the token must have, each equal to its value; a name with "/" reaches into nested claims (kubernetes.io/namespace)' },
      createdAt: time, lastUsedAt: nullable(time),
    },
  },
  TrustRuleList: {
    type: 'object',
    required: ['issuers', 'rules'],
    properties: {
      issuers: { type: 'array', items: str, description: 'the issuers this instance trusts (federation.issuers): a rule may name only these' },
      rules: { type: 'array', items: ref('TrustRule') },
    },
  },
  IssuedKeypair: {
    type: 'object',
    required: ['keypair', 'secret'],
    properties: { keypair: ref('Keypair'), secret: { ...nullable(str), description: 'the new secret: shown in this response only, never again (null for a keypair created without a secret)' } },
  },
  ReplacedKeypair: {
    type: 'object',
    required: ['keypair', 'secret', 'replaces'],
    properties: {
      keypair: ref('Keypair'),
      secret: { type: 'string', description: 'the new keypair\'s secret: shown in this response only, never again' },
      replaces: { type: 'string', description: 'the key id of the keypair replaced (deleted)' },
    },
  },
  AuditEvent: {
    type: 'object',
    properties: { id: str, at: time, actor: str, action: str, accountId: nullable(str), environmentId: nullable(str), keypairId: nullable(str), details: { type: 'object' } },
  },
  AuditPage: {
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: ref('AuditEvent') }, nextCursor: { ...nullable(str), description: 'pass as ?cursor= for the next (older) page' } },
  },
  Webhook: {
    type: 'object',
    description: 'A webhook endpoint of an account. Never holds its signing secret.',
    properties: {
      id: str, accountId: str, url: str, description: str,
      secretHint: { type: 'string', description: 'the signing secret\'s last 4 characters' },
      events: { type: 'array', items: str, description: 'the event types sent to it' },
      createdAt: time, createdBy: str,
    },
  },
  WebhookList: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('Webhook') } } },
  IssuedWebhook: {
    type: 'object',
    required: ['webhook', 'secret'],
    properties: { webhook: ref('Webhook'), secret: { type: 'string', description: 'the signing secret (whsec_…): shown in this response only, never again' } },
  },
  WebhookDelivery: {
    type: 'object',
    description: 'One event sent (or to be sent) to one endpoint.',
    properties: {
      id: str, endpointId: str, eventId: { type: 'string', description: 'the same in every delivery of the event: receivers deduplicate on it' }, type: str,
      status: { type: 'string', enum: ['pending', 'delivered', 'failed'] }, attempts: { type: 'integer' },
      createdAt: time, nextAttemptAt: nullable(time), retryUntil: time, lastAttemptAt: nullable(time),
      lastResponseStatus: nullable({ type: 'integer' }), lastError: nullable(str), deliveredAt: nullable(time),
      redeliveryOf: { ...nullable(str), description: 'the delivery this one repeats' },
      payload: { type: 'object', description: 'the JSON body as sent' },
    },
  },
  WebhookDeliveryPage: {
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: ref('WebhookDelivery') }, nextCursor: { ...nullable(str), description: 'pass as ?cursor= for the next (older) page' } },
  },
  OpenApi: { type: 'object', description: 'this document' },
};

function jsonSchemaOf(schema: z.ZodType): Json {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return out;
}

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });

function operation(spec: RouteSpec): Json {
  const pathParams = [...spec.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  const parameters: Json[] = pathParams.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string', ...(name in ID_PATTERNS ? { pattern: ID_PATTERNS[name as IdParam].source } : {}) },
  }));
  if (spec.query) {
    const query = jsonSchemaOf(spec.query) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, schema });
    }
  }
  const responses: Json = {};
  responses[String(spec.status)] = spec.status === 204
    ? { description: 'done' }
    : { description: 'success', content: { 'application/json': { schema: ref(spec.response as ResponseSchema) } } };
  responses['400'] = errorResponse('invalid request: bad JSON, unknown fields, wrong types, operator or prototype keys');
  if (spec.auth) {
    responses['401'] = errorResponse('no or invalid credentials');
    responses['403'] = errorResponse('the caller may see the target but not do this (or, with the session cookie, the CSRF token is missing, or the request came from another site: cross_site_request)');
  }
  if (pathParams.length) responses['404'] = errorResponse('not found, or not visible to the caller');
  if (spec.method !== 'get') responses['409'] = errorResponse('conflict, e.g. the owner is closing or closed');
  if (spec.body) {
    responses['413'] = errorResponse('the body is too large');
    responses['415'] = errorResponse('the body is not application/json');
  }
  if (spec.operationId === 'signIn') responses['429'] = errorResponse('too many failed sign-ins (see Retry-After)');
  responses['503'] = errorResponse('database_unavailable: the database cannot be reached right now; try again after Retry-After seconds');
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    tags: [spec.tag],
    ...(spec.action ? { 'x-keyport-permission': spec.action } : {}),
    security: spec.auth ? [{ session: [], csrf: [] }, { bearer: [] }] : [],
    ...(parameters.length ? { parameters } : {}),
    ...(spec.body ? { requestBody: { required: false, content: { 'application/json': { schema: jsonSchemaOf(spec.body) } } } } : {}),
    responses,
  };
}

/** Koa's /accounts/:accountId → OpenAPI's /accounts/{accountId}. */
export const openApiPath = (koaPath: string) => koaPath.replace(/:(\w+)/g, '{$1}');

/** `serverPath`: the issuer's path ('' at the root), which the paths below are relative to. */
export function buildOpenApi(routes: RouteSpec[], prefix: string, serverPath = ''): Json {
  const paths: Record<string, Json> = {};
  for (const spec of routes) {
    const path = openApiPath(`${prefix}${spec.path}`);
    paths[path] ??= {};
    paths[path][spec.method] = operation(spec);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Keyport admin API',
      version: '1.0.0',
      description: [
        'Manage API keypairs of accounts and environments.',
        'Authenticate with the admin session (POST /api/v1/session; send the returned CSRF token as X-CSRF-Token on every state-changing request),',
        'or with a Keyport access token (Authorization: Bearer) requested with resource=urn:keyport:admin-api and carrying keyport:read or keyport:manage;',
        'such a token acts for its keypair\'s account only, on keypairs and the audit trail (keyport:admin adds environments, memberships and webhook endpoints).',
        'Errors are { "error": { "code", "message", "details" } }. 404 also means "not visible to you".',
      ].join(' '),
    },
    // Relative to the document's own host, so that it holds wherever the proxy publishes it.
    servers: [{ url: serverPath || '/' }],
    paths,
    components: {
      schemas: COMPONENT_SCHEMAS,
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'keyport.sid' },
        csrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (Keyport access token, aud urn:keyport:admin-api)' },
      },
    },
  };
}
