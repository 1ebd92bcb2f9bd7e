// The admin REST API under /api/v1 (docs/architecture.md, An admin API request). Routes are thin: validate
// the request (strict schemas, before any query), ask the access policy
// (src/domain/access.ts), call one domain service, shape the answer. Every
// route is declared once in ROUTES, from which both the Koa router and the
// OpenAPI document (/api/v1/openapi.json) are built, so the two cannot differ.
// Over 400 lines on purpose: the route table is read as a whole (each route's
// path, schema, policy action and OpenAPI summary side by side); each handler is
// a few lines.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Action, TargetRef } from '../../domain/access.ts';
import type { Domain } from '../../domain/index.ts';
import { DomainError } from '../../domain/errors.ts';
import { ID_PATTERNS } from '../../domain/credentials.ts';
import { DEFAULT_GRACE, RETIRE_WHEN_IDLE_NAMES, type GracePeriod } from '../../domain/limits.ts';
import { EXPIRING_WINDOW_DAYS } from '../../domain/expiry.ts';
import { COMMENT_SEARCH_MAX, TOTAL_CAP } from '../../domain/keypair-pages.ts';
import { basePath } from '../public-base.ts';
import { endSession, newCsrfToken, sessionOf } from '../session/index.ts';
import { apiState, requireCaller } from './auth.ts';
import { ApiError, notFoundError } from './errors.ts';
import { buildOpenApi } from './openapi.ts';
import { defineRoute, type ApiDeps, type Params, type RouteSpec } from './route-spec.ts';
import { schemas, type IdParam } from './validation.ts';

export const API_PREFIX = '/api/v1';

export type { ApiDeps, RouteSpec };

const NOT_FOUND_NAMES: Record<IdParam, string> = { accountId: 'account', environmentId: 'environment', userId: 'membership', keyId: 'keypair', webhookId: 'webhook', deliveryId: 'delivery' };

function refOf(params: Params): TargetRef {
  if (params.keyId) return { keyId: params.keyId };
  if (params.environmentId) return { environmentId: params.environmentId };
  return { accountId: params.accountId! };
}

/** Authorizes the route's action on the path's owner/keypair and returns what the policy resolved. */
async function authorized(ctx: Context, deps: ApiDeps, action: Action, params: Params) {
  return deps.domain.access.authorize(apiState(ctx).access, action, refOf(params));
}

const actorOf = (ctx: Context) => apiState(ctx).access.actor;

// ---- owner routes: the same for accounts and environments -------------------

function ownerRoutes(kind: 'account' | 'environment'): RouteSpec[] {
  const base = kind === 'account' ? '/accounts/:accountId' : '/environments/:environmentId';
  const tag = kind === 'account' ? 'accounts' : 'environments';
  const Kind = kind === 'account' ? 'Account' : 'Environment';
  const get = (domain: Domain, id: string) => (kind === 'account' ? domain.owners.getAccount(id) : domain.owners.getEnvironment(id));
  const ownerRef = (params: Params) => (kind === 'account' ? { accountId: params.accountId! } : { environmentId: params.environmentId! });
  return [
    defineRoute({
      method: 'get', path: base, operationId: `get${Kind}`, summary: `Read an ${kind === 'account' ? 'account' : 'environment'}`, tag, auth: true, status: 200, response: Kind, action: 'owner.read',
      async handle(ctx, { params }, deps) {
        const { target } = await authorized(ctx, deps, 'owner.read', params);
        return get(deps.domain, target.type === 'account' ? target.accountId : target.environmentId);
      },
    }),
    defineRoute({
      method: 'patch', path: base, operationId: `rename${Kind}`, summary: `Rename an ${kind}`, tag, auth: true, body: schemas.named, status: 200, response: Kind, action: 'owner.rename',
      async handle(ctx, { params, body: { name } }, deps) {
        const { target } = await authorized(ctx, deps, 'owner.rename', params);
        return target.type === 'account'
          ? deps.domain.owners.renameAccount(target.accountId, name, actorOf(ctx))
          : deps.domain.owners.renameEnvironment(target.environmentId, name, actorOf(ctx));
      },
    }),
    defineRoute({
      method: 'post', path: `${base}/close`, operationId: `close${Kind}`,
      summary: kind === 'account'
        ? 'Close an account and all its environments: every keypair is removed, irreversibly (idempotent)'
        : 'Close an environment: every keypair it owns is removed, irreversibly (idempotent)',
      tag, auth: true, body: schemas.empty, status: 200, response: Kind, action: 'owner.close',
      async handle(ctx, { params }, deps) {
        const { target } = await authorized(ctx, deps, 'owner.close', params);
        return target.type === 'account'
          ? deps.domain.closing.closeAccount(target.accountId, actorOf(ctx))
          : deps.domain.closing.closeEnvironment(target.environmentId, actorOf(ctx));
      },
    }),
    defineRoute({
      method: 'get', path: `${base}/members`, operationId: `list${Kind}Members`, summary: `List the members of an ${kind} (direct memberships)`, tag: 'members', auth: true, status: 200, response: 'MemberList', action: 'members.read',
      async handle(ctx, { params }, deps) {
        const { owner } = await authorized(ctx, deps, 'members.read', params);
        return { items: await deps.domain.users.listMembers(owner) };
      },
    }),
    defineRoute({
      method: 'post', path: `${base}/members`, operationId: `add${Kind}Member`, summary: `Add an existing user to an ${kind} with a role, or change their role`, tag: 'members', auth: true, body: schemas.addMember, status: 200, response: 'Member', action: 'members.manage',
      async handle(ctx, { params, body }, deps) {
        const { owner } = await authorized(ctx, deps, 'members.manage', params);
        const member = await deps.domain.access.addMember(apiState(ctx).access, owner, body);
        return { ...member, accountId: owner.accountId, environmentId: owner.environmentId };
      },
    }),
    defineRoute({
      method: 'delete', path: `${base}/members/:userId`, operationId: `remove${Kind}Member`, summary: `Remove a user's membership of an ${kind}`, tag: 'members', auth: true, status: 204, action: 'members.manage',
      async handle(ctx, { params }, deps) {
        const { owner } = await authorized(ctx, deps, 'members.manage', params);
        await deps.domain.access.removeMember(apiState(ctx).access, owner, params.userId!);
        return undefined;
      },
    }),
    defineRoute({
      method: 'get', path: `${base}/keypairs`, operationId: `list${Kind}Keypairs`, summary: `List the keypairs of an ${kind}, newest first or in ?sort= order (pages by cursor: follow "next" with ?cursor=, or by ?offset= for small lists; "total" counts up to ${TOTAL_CAP}, and "totalIsExact": false means more; ?status=enabled: enabled and not locked, disabled: disabled whether locked or not, locked: locked whether enabled or not, expiring: expiring within ${EXPIRING_WINDOW_DAYS} days and not yet expired, expired: past their expiresAt; ?q=: names starting with it, in any case, or the keypair with that key id, and in lists of at most ${COMMENT_SEARCH_MAX} keypairs also comments holding it, in any case ("searchedComments" says whether they were searched)${kind === 'account' ? '; ?include=environments: every keypair of the account, its own and all its environments\', in one list, each with its "environment" (null: the account\'s own); this needs rights on the account itself, not only on an environment' : ''})`, tag: 'keypairs', auth: true, query: kind === 'account' ? schemas.listAccountKeypairs : schemas.listKeypairs, status: 200, response: 'KeypairPage', action: 'keypairs.read',
      async handle(ctx, { params, query: q }, deps) {
        const { owner } = await authorized(ctx, deps, 'keypairs.read', params);
        const limit = q.limit ?? 50;
        const offset = q.offset ?? 0;
        const request = { limit, offset, ...(q.status ? { status: q.status } : {}), ...(q.q ? { search: q.q } : {}), ...(q.sort ? { sort: q.sort } : {}), ...(q.cursor !== undefined ? { cursor: q.cursor } : {}) };
        // The account-wide view is authorized on the account: an environment's admin is refused as for the account's own keypairs.
        const page = 'include' in q && q.include === 'environments'
          ? await deps.domain.keypairs.listAcrossEnvironments(owner.accountId, request)
          : await deps.domain.keypairs.listPage(owner, request);
        return { items: page.items, total: page.total, totalIsExact: page.totalIsExact, searchedComments: page.searchedComments, limit, offset, sort: page.sort, next: page.next, previous: page.previous };
      },
    }),
    defineRoute({
      method: 'post', path: `${base}/keypairs`, operationId: `create${Kind}Keypair`, summary: `Create a keypair owned by the ${kind}; the response holds its secret, shown this once. "expiresAt" (future; null: never) defaults to the account's maximum keypair lifetime from now, if it has one, and may not exceed it; "dpopRequired": its token requests must carry a DPoP proof; with "publicKeys" it also authenticates with private_key_jwt, with "trustRules" with workload tokens of trusted issuers (secretless); with "secret": false it has no secret (it then needs keys or trust rules) and "secret" is null`, tag: 'keypairs', auth: true, body: schemas.createKeypair, status: 201, response: 'IssuedKeypair', action: 'keypairs.manage', noStore: true,
      async handle(ctx, { params, body: input }, deps) {
        await authorized(ctx, deps, 'keypairs.manage', params);
        return deps.domain.keypairs.create(ownerRef(params), {
          name: input.name, ...(input.comment !== undefined ? { comment: input.comment } : {}), ...(input.scopes ? { scopes: input.scopes } : {}),
          ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt } : {}), ...(input.dpopRequired !== undefined ? { dpopRequired: input.dpopRequired } : {}),
          ...(input.publicKeys ? { publicKeys: input.publicKeys } : {}), ...(input.secret !== undefined ? { secret: input.secret } : {}),
          ...(input.trustRules ? { trustRules: input.trustRules } : {}),
        }, actorOf(ctx));
      },
    }),
    defineRoute({
      method: 'get', path: `${base}/audit`, operationId: `list${Kind}Audit`,
      summary: kind === 'account' ? 'The audit trail of an account (with its environments), newest first' : 'The audit trail of an environment, newest first',
      tag: 'audit', auth: true, query: schemas.listAudit, status: 200, response: 'AuditPage', action: 'audit.read',
      async handle(ctx, { params, query: q }, deps) {
        const { target } = await authorized(ctx, deps, 'audit.read', params);
        const filter = target.type === 'account' ? { accountId: target.accountId } : { environmentId: target.environmentId };
        return deps.domain.audit.page(filter, { limit: q.limit ?? 50, ...(q.cursor ? { cursor: q.cursor } : {}) });
      },
    }),
  ];
}

// ---- keypair routes -----------------------------------------------------------

function keypairAction(name: 'disable' | 'enable' | 'unlock', summary: string): RouteSpec {
  return defineRoute({
    method: 'post', path: `/keypairs/:keyId/${name}`, operationId: `${name}Keypair`, summary, tag: 'keypairs', auth: true, body: schemas.empty, status: 200, response: 'Keypair', action: 'keypairs.manage',
    async handle(ctx, { params }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      const keyId = params.keyId!;
      if (name === 'unlock') return deps.domain.keypairs.unlock(keyId, actorOf(ctx));
      return deps.domain.keypairs.setEnabled(keyId, name === 'enable', actorOf(ctx));
    },
  });
}

const keypairRoutes: RouteSpec[] = [
  defineRoute({
    method: 'get', path: '/keypairs/:keyId', operationId: 'getKeypair', summary: 'Read a keypair (never its secret): each secret\'s hint (kps_…AbC9) and use, whether the previous secret is still used during a grace period, ended secrets a client still sends, and the source addresses of recent failed attempts (last 24 hours, at most 10)', tag: 'keypairs', auth: true, status: 200, response: 'Keypair', action: 'keypairs.read',
    async handle(ctx, { params }, deps) {
      return (await authorized(ctx, deps, 'keypairs.read', params)).keypair;
    },
  }),
  defineRoute({
    method: 'patch', path: '/keypairs/:keyId', operationId: 'updateKeypair', summary: 'Edit name, comment, scopes, dpopRequired (they apply to new tokens) or expiresAt (in the future, within the account\'s maximum keypair lifetime from now; null: never)', tag: 'keypairs', auth: true, body: schemas.updateKeypair, status: 200, response: 'Keypair', action: 'keypairs.manage',
    async handle(ctx, { params, body: input }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      return deps.domain.keypairs.update(params.keyId!, {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.comment !== undefined ? { comment: input.comment } : {}),
        ...(input.scopes !== undefined ? { scopes: input.scopes } : {}),
        ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt } : {}),
        ...(input.dpopRequired !== undefined ? { dpopRequired: input.dpopRequired } : {}),
      }, actorOf(ctx));
    },
  }),
  defineRoute({
    method: 'delete', path: '/keypairs/:keyId', operationId: 'removeKeypair', summary: 'Remove a keypair, irreversibly (its tokens introspect inactive; the audit trail stays)', tag: 'keypairs', auth: true, status: 204, action: 'keypairs.manage',
    async handle(ctx, { params }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      await deps.domain.keypairs.remove(params.keyId!, actorOf(ctx));
      return undefined;
    },
  }),
  keypairAction('disable', 'Disable a keypair: no new tokens, and the tokens issued so far are revoked for good (enabling again does not revive them)'),
  keypairAction('enable', 'Enable a disabled keypair'),
  keypairAction('unlock', 'Clear a lockout without changing the secret'),
  defineRoute({
    method: 'post', path: '/keypairs/:keyId/rotate', operationId: 'rotateKeypair',
    summary: `Issue a new secret (shown this once); the old one works for the grace period (default ${DEFAULT_GRACE}; "0" ends it at once), or until unused for "retireWhenIdle" (${RETIRE_WHEN_IDLE_NAMES.join(', ')}). A planned rotation keeps the tokens already issued; "revokeTokens": true ends them too`,
    tag: 'keypairs', auth: true, body: schemas.rotate, status: 200, response: 'IssuedKeypair', action: 'keypairs.manage', noStore: true,
    async handle(ctx, { params, body: input }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      const grace: GracePeriod = input.grace ?? DEFAULT_GRACE;
      return deps.domain.keypairs.rotate(params.keyId!, grace, actorOf(ctx), { revokeTokens: input.revokeTokens ?? false, ...(input.retireWhenIdle ? { retireWhenIdle: input.retireWhenIdle } : {}) });
    },
  }),
  defineRoute({
    method: 'post', path: '/keypairs/:keyId/previous-secret/end', operationId: 'endPreviousSecret',
    summary: 'End the previous secret now, before its grace period is over (it is still recognised as an ended secret). Refused with 409 previous_secret_in_use when it was used within the last hour, unless "force": true',
    tag: 'keypairs', auth: true, body: schemas.endPreviousSecret, status: 200, response: 'Keypair', action: 'keypairs.manage',
    async handle(ctx, { params, body: { force } }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      return deps.domain.keypairs.endPreviousSecret(params.keyId!, actorOf(ctx), { force: force ?? false });
    },
  }),
  defineRoute({
    method: 'post', path: '/keypairs/:keyId/previous-secret/extend', operationId: 'extendGracePeriod',
    summary: 'Extend the grace period of the previous secret to "until" (an ISO 8601 date-time later than its current end, at most 72 hours after the rotation)',
    tag: 'keypairs', auth: true, body: schemas.extendGrace, status: 200, response: 'Keypair', action: 'keypairs.manage',
    async handle(ctx, { params, body: { until } }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      return deps.domain.keypairs.extendGrace(params.keyId!, new Date(until), actorOf(ctx));
    },
  }),
  defineRoute({
    method: 'post', path: '/keypairs/:keyId/previous-secret/retire-when-idle', operationId: 'setRetireWhenIdle',
    summary: `End the previous secret early once it has been unused for "retireWhenIdle" (${RETIRE_WHEN_IDLE_NAMES.join(', ')}; counted from now at the earliest), or null to wait for the end of the grace period`,
    tag: 'keypairs', auth: true, body: schemas.retireWhenIdle, status: 200, response: 'Keypair', action: 'keypairs.manage',
    async handle(ctx, { params, body: { retireWhenIdle } }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      return deps.domain.keypairs.setRetireWhenIdle(params.keyId!, retireWhenIdle, actorOf(ctx));
    },
  }),
  defineRoute({
    method: 'post', path: '/keypairs/:keyId/regenerate', operationId: 'regenerateKeypair',
    summary: 'Issue a new secret (shown this once) after a leak: the old one stops at once, the tokens already issued are revoked (unless "revokeTokens": false), and a lock is cleared',
    tag: 'keypairs', auth: true, body: schemas.regenerate, status: 200, response: 'IssuedKeypair', action: 'keypairs.manage', noStore: true,
    async handle(ctx, { params, body: { revokeTokens } }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      return deps.domain.keypairs.rotate(params.keyId!, '0', actorOf(ctx), { revokeTokens: revokeTokens ?? true });
    },
  }),
  defineRoute({
    method: 'post', path: '/keypairs/:keyId/replace', operationId: 'replaceKeypair',
    summary: 'Replace the whole keypair: a new key id and a new secret (shown this once) with the same name, comment, scopes and owner; the old keypair is removed at once, irreversibly (its tokens introspect inactive). The audit trail links the two (keypair.replaced, keypair.created)',
    tag: 'keypairs', auth: true, body: schemas.empty, status: 200, response: 'ReplacedKeypair', action: 'keypairs.manage', noStore: true,
    async handle(ctx, { params }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      return deps.domain.keypairs.replace(params.keyId!, actorOf(ctx));
    },
  }),
  defineRoute({
    method: 'post', path: '/keypairs/:keyId/keys', operationId: 'addKeypairPublicKey',
    summary: 'Add a public key for private_key_jwt (JWK or PEM; ES256, ES384, EdDSA, or RSA of at least 2048 bits for RS256/PS256; at most 5 keys). Private, symmetric and small RSA keys are refused with 400',
    tag: 'keypairs', auth: true, body: schemas.addPublicKey, status: 201, response: 'Keypair', action: 'keypairs.manage',
    async handle(ctx, { params, body: { key } }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      const { doc } = await deps.domain.keypairKeys.add(params.keyId!, key, actorOf(ctx));
      return deps.domain.keypairs.view(doc);
    },
  }),
  defineRoute({
    method: 'post', path: '/keypairs/:keyId/keys/:thumbprint/retire', operationId: 'retireKeypairPublicKey',
    summary: 'Retire a public key, at once (grace "0", the default) or after a grace period (1h, 3h, 24h, 48h, 72h) during which it still authenticates. A keypair without a secret keeps at least one current key',
    tag: 'keypairs', auth: true, body: schemas.retirePublicKey, status: 200, response: 'Keypair', action: 'keypairs.manage',
    async handle(ctx, { params, body: { grace } }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      if (!/^[A-Za-z0-9_-]{43}$/.test(params.thumbprint!)) throw notFoundError('public key');
      return deps.domain.keypairs.view(await deps.domain.keypairKeys.retire(params.keyId!, params.thumbprint!, grace ?? '0', actorOf(ctx)));
    },
  }),
  defineRoute({
    method: 'get', path: '/keypairs/:keyId/trust-rules', operationId: 'listKeypairTrustRules',
    summary: 'The keypair\'s trust rules (federated workload identity), and the issuers this instance trusts (a rule may name only these)',
    tag: 'keypairs', auth: true, status: 200, response: 'TrustRuleList', action: 'keypairs.read',
    async handle(ctx, { params }, deps) {
      await authorized(ctx, deps, 'keypairs.read', params);
      const view = await deps.domain.keypairs.get(params.keyId!);
      return { issuers: deps.domain.keypairTrust.issuers, rules: view.trustRules };
    },
  }),
  defineRoute({
    method: 'post', path: '/keypairs/:keyId/trust-rules', operationId: 'addKeypairTrustRule',
    summary: 'Trust OIDC tokens of an external issuer (GitHub Actions, Kubernetes…): a token whose iss is the issuer, whose sub matches the subject (exact, or a prefix with a trailing "*"), whose aud holds the audience and whose claims equal the given ones gets this keypair\'s tokens, sent as client_assertion (jwt-bearer) with client_id = the key id. At most 10 rules; an issuer not on the instance\'s federation.issuers is refused with 400',
    tag: 'keypairs', auth: true, body: schemas.addTrustRule, status: 201, response: 'TrustRule', action: 'keypairs.manage',
    async handle(ctx, { params, body }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      return (await deps.domain.keypairTrust.add(params.keyId!, body, actorOf(ctx))).rule;
    },
  }),
  defineRoute({
    method: 'delete', path: '/keypairs/:keyId/trust-rules/:ruleId', operationId: 'removeKeypairTrustRule',
    summary: 'Remove a trust rule at once: tokens that matched only it no longer authenticate the keypair (tokens issued already stay valid until they expire)',
    tag: 'keypairs', auth: true, status: 204, action: 'keypairs.manage',
    async handle(ctx, { params }, deps) {
      await authorized(ctx, deps, 'keypairs.manage', params);
      await deps.domain.keypairTrust.remove(params.keyId!, params.ruleId!, actorOf(ctx));
    },
  }),
  defineRoute({
    method: 'get', path: '/keypairs/:keyId/usage', operationId: 'getKeypairUsage', summary: 'Authentications and counted failures per UTC day, for the last ?days= days (default 30, at most 90): the figures behind the keypair page\'s chart, from batched writes (never a write per request)', tag: 'keypairs', auth: true, query: schemas.keypairUsage, status: 200, response: 'KeypairUsage', action: 'keypairs.read',
    async handle(ctx, { params, query: q }, deps) {
      await authorized(ctx, deps, 'keypairs.read', params);
      // Counts still batched in this process are written first, so that the figures include every answer given so far.
      await deps.domain.keypairAuth.usageRecorded(params.keyId);
      await deps.domain.keypairAuth.failuresCounted(params.keyId);
      return { days: await deps.domain.usage.series(params.keyId!, q.days ?? 30) };
    },
  }),
  defineRoute({
    method: 'get', path: '/keypairs/:keyId/audit', operationId: 'listKeypairAudit', summary: 'The audit trail of one keypair, newest first; it stays readable after the keypair is removed (for those who may read its former owner\'s trail)', tag: 'audit', auth: true, query: schemas.listAudit, status: 200, response: 'AuditPage', action: 'audit.read',
    async handle(ctx, { params, query: q }, deps) {
      await authorized(ctx, deps, 'audit.read', params);
      return deps.domain.audit.page({ keypairId: params.keyId! }, { limit: q.limit ?? 50, ...(q.cursor ? { cursor: q.cursor } : {}) });
    },
  }),
];

// ---- webhooks ---------------------------------------------------------------------

/**
 * Authorizes an action on a webhook endpoint through its account's policy; an
 * endpoint the caller may not see is not found, exactly like one that does not exist.
 */
async function authorizedWebhook(ctx: Context, deps: ApiDeps, action: Action, webhookId: string) {
  const webhook = await deps.domain.webhooks.get(webhookId);
  try {
    await deps.domain.access.authorize(apiState(ctx).access, action, { accountId: webhook.accountId });
  } catch (err) {
    if (err instanceof DomainError && err.code === 'not_found') throw notFoundError('webhook');
    throw err;
  }
  return webhook;
}

const webhookRoutes: RouteSpec[] = [
  defineRoute({
    method: 'get', path: '/accounts/:accountId/webhooks', operationId: 'listWebhooks', summary: 'The webhook endpoints of an account (account admins, keyport:admin tokens): every keypair event of the account and its environments is sent to each', tag: 'webhooks', auth: true, status: 200, response: 'WebhookList', action: 'webhooks.read',
    async handle(ctx, { params }, deps) {
      const { target } = await authorized(ctx, deps, 'webhooks.read', params);
      return { items: await deps.domain.webhooks.list(target.accountId) };
    },
  }),
  defineRoute({
    method: 'post', path: '/accounts/:accountId/webhooks', operationId: 'createWebhook',
    summary: 'Add a webhook endpoint (https:// on a public address); the response holds its signing secret, shown this once. Requests carry Keyport-Signature: t=<unix>,v1=<HMAC-SHA-256(secret, "<t>.<body>")>',
    tag: 'webhooks', auth: true, body: schemas.createWebhook, status: 201, response: 'IssuedWebhook', action: 'webhooks.manage', noStore: true,
    async handle(ctx, { params, body }, deps) {
      const { target } = await authorized(ctx, deps, 'webhooks.manage', params);
      const { endpoint, secret } = await deps.domain.webhooks.create(target.accountId, { url: body.url, ...(body.description !== undefined ? { description: body.description } : {}) }, actorOf(ctx));
      return { webhook: endpoint, secret };
    },
  }),
  defineRoute({
    method: 'get', path: '/webhooks/:webhookId', operationId: 'getWebhook', summary: 'Read a webhook endpoint (never its secret)', tag: 'webhooks', auth: true, status: 200, response: 'Webhook', action: 'webhooks.read',
    async handle(ctx, { params }, deps) {
      return authorizedWebhook(ctx, deps, 'webhooks.read', params.webhookId!);
    },
  }),
  defineRoute({
    method: 'delete', path: '/webhooks/:webhookId', operationId: 'removeWebhook', summary: 'Remove a webhook endpoint with its delivery log; deliveries not yet made are dropped', tag: 'webhooks', auth: true, status: 204, action: 'webhooks.manage',
    async handle(ctx, { params }, deps) {
      await authorizedWebhook(ctx, deps, 'webhooks.manage', params.webhookId!);
      await deps.domain.webhooks.remove(params.webhookId!, actorOf(ctx));
      return undefined;
    },
  }),
  defineRoute({
    method: 'get', path: '/webhooks/:webhookId/deliveries', operationId: 'listWebhookDeliveries', summary: 'The delivery log of an endpoint, newest first: status (pending, delivered, failed), attempts, the last answer, the payload', tag: 'webhooks', auth: true, query: schemas.listDeliveries, status: 200, response: 'WebhookDeliveryPage', action: 'webhooks.read',
    async handle(ctx, { params, query: q }, deps) {
      await authorizedWebhook(ctx, deps, 'webhooks.read', params.webhookId!);
      return deps.domain.webhooks.deliveries(params.webhookId!, { limit: q.limit ?? 50, ...(q.cursor ? { cursor: q.cursor } : {}) });
    },
  }),
  defineRoute({
    method: 'get', path: '/webhooks/:webhookId/deliveries/:deliveryId', operationId: 'getWebhookDelivery', summary: 'One delivery of an endpoint', tag: 'webhooks', auth: true, status: 200, response: 'WebhookDelivery', action: 'webhooks.read',
    async handle(ctx, { params }, deps) {
      await authorizedWebhook(ctx, deps, 'webhooks.read', params.webhookId!);
      return deps.domain.webhooks.delivery(params.webhookId!, params.deliveryId!);
    },
  }),
  defineRoute({
    method: 'post', path: '/webhooks/:webhookId/deliveries/:deliveryId/redeliver', operationId: 'redeliverWebhook', summary: 'Send a delivery\'s event again, as a new delivery (same event id, fresh signature and retries), whatever became of the first', tag: 'webhooks', auth: true, body: schemas.empty, status: 201, response: 'WebhookDelivery', action: 'webhooks.manage',
    async handle(ctx, { params }, deps) {
      await authorizedWebhook(ctx, deps, 'webhooks.manage', params.webhookId!);
      return deps.domain.webhooks.redeliver(params.webhookId!, params.deliveryId!, actorOf(ctx));
    },
  }),
];

// ---- accounts, environments, session -------------------------------------------------

const accountRoutes: RouteSpec[] = [
  defineRoute({
    method: 'get', path: '/accounts', operationId: 'listAccounts', summary: 'The accounts the caller is a member of (or, for a token, its account)', tag: 'accounts', auth: true, status: 200, response: 'AccountList',
    async handle(ctx, _input, deps) {
      return { items: await deps.domain.access.visibleAccounts(apiState(ctx).access) };
    },
  }),
  defineRoute({
    method: 'post', path: '/accounts', operationId: 'createAccount', summary: 'Create an account: operators only (users with the instance-wide operator role, granted with the CLI); the operator becomes its admin', tag: 'accounts', auth: true, body: schemas.named, status: 201, response: 'Account',
    async handle(ctx, { body }, deps) {
      return deps.domain.access.createAccount(apiState(ctx).access, body);
    },
  }),
  defineRoute({
    method: 'put', path: '/accounts/:accountId/keypair-lifetime', operationId: 'setMaxKeypairLifetime',
    summary: 'Set the account\'s maximum keypair lifetime in days (null: no limit): new keypairs of the account and its environments then expire within it (by default at its end). Account admins only; existing keypairs keep their expiry',
    tag: 'accounts', auth: true, body: schemas.keypairLifetime, status: 200, response: 'Account', action: 'account.settings',
    async handle(ctx, { params, body }, deps) {
      const { target } = await authorized(ctx, deps, 'account.settings', params);
      return deps.domain.owners.setMaxKeypairLifetime(target.accountId, body.maxKeypairLifetimeDays, actorOf(ctx));
    },
  }),
  defineRoute({
    method: 'get', path: '/accounts/:accountId/environments', operationId: 'listEnvironments', summary: 'The environments of an account that the caller reaches', tag: 'environments', auth: true, status: 200, response: 'EnvironmentList', action: 'owner.read',
    async handle(ctx, { params }, deps) {
      const { target } = await authorized(ctx, deps, 'owner.read', params);
      return { items: await deps.domain.access.visibleEnvironments(apiState(ctx).access, target.accountId) };
    },
  }),
  defineRoute({
    method: 'post', path: '/accounts/:accountId/environments', operationId: 'createEnvironment', summary: 'Create an environment in an account', tag: 'environments', auth: true, body: schemas.named, status: 201, response: 'Environment', action: 'environment.create',
    async handle(ctx, { params, body }, deps) {
      const { target } = await authorized(ctx, deps, 'environment.create', params);
      return deps.domain.owners.createEnvironment(target.accountId, body, actorOf(ctx));
    },
  }),
];

const sessionRoutes: RouteSpec[] = [
  defineRoute({
    method: 'post', path: '/session', operationId: 'signIn', summary: 'Sign in with email and password: sets the session cookie and returns the CSRF token', tag: 'session', auth: false, body: schemas.signIn, status: 200, response: 'Session', noStore: true,
    async handle(ctx, { body: { email, password } }, deps) {
      const session = sessionOf(ctx);
      if (!session) throw new ApiError(500, 'internal_error', 'sessions are not available');
      const csrfToken = newCsrfToken();
      const result = await deps.signIn.signIn(email, password, ctx.ip, async (user) => {
        session.userId = user.id;
        session.csrf = csrfToken;
        await session.regenerate(); // a new session key at sign-in (no session fixation)
      });
      if (result.outcome === 'throttled') throw new ApiError(429, 'rate_limited', 'too many failed sign-ins; try again later', { retryAfterSeconds: result.retryAfterSeconds });
      if (result.outcome === 'refused') throw new ApiError(401, 'unauthenticated', 'wrong email or password');
      return { user: result.user, csrfToken };
    },
  }),
  defineRoute({
    method: 'get', path: '/session', operationId: 'getSession', summary: 'The signed-in user and the CSRF token (for a bearer token: its keypair and scopes)', tag: 'session', auth: true, status: 200, response: 'Session', noStore: true,
    async handle(ctx, _input, deps) {
      const { access } = apiState(ctx);
      const { principal } = access;
      if (principal.kind === 'keypair') return { keypair: { keyId: principal.keyId, accountId: principal.accountId, scopes: principal.scopes }, csrfToken: null };
      return { user: await deps.domain.users.get(principal.userId), csrfToken: sessionOf(ctx)?.csrf ?? null };
    },
  }),
  defineRoute({
    method: 'delete', path: '/session', operationId: 'signOut', summary: 'Sign out (requires the CSRF token)', tag: 'session', auth: true, status: 204,
    async handle(ctx, _input, deps) {
      const { principal } = apiState(ctx).access;
      if (principal.kind !== 'user') throw new ApiError(400, 'invalid_request', 'there is no session to end: the request was made with a bearer token');
      endSession(ctx);
      await deps.domain.users.recordSignOut(principal.userId);
      return undefined;
    },
  }),
];

const metaRoutes: RouteSpec[] = [
  defineRoute({
    method: 'get', path: '/openapi.json', operationId: 'getOpenApi', summary: 'This API, as an OpenAPI 3.1 document', tag: 'meta', auth: false, status: 200, response: 'OpenApi',
    async handle(ctx) {
      return openApiDocument(basePath(ctx));
    },
  }),
];

export const ROUTES: RouteSpec[] = [
  ...sessionRoutes,
  ...accountRoutes,
  ...ownerRoutes('account'),
  ...ownerRoutes('environment'),
  ...keypairRoutes,
  ...webhookRoutes,
  ...metaRoutes,
];

const cachedDocuments = new Map<string, Record<string, unknown>>();
/** The document for Keyport under `serverPath` (the issuer's path, '' at the root). */
export function openApiDocument(serverPath = ''): Record<string, unknown> {
  let document = cachedDocuments.get(serverPath);
  if (!document) {
    document = buildOpenApi(ROUTES, API_PREFIX, serverPath);
    cachedDocuments.set(serverPath, document);
  }
  return document;
}

/** Path parameters must have the shape of Keyport ids; anything else is simply not found. */
function checkParams(params: Params): void {
  for (const [name, value] of Object.entries(params)) {
    const pattern = ID_PATTERNS[name as IdParam];
    if (pattern && !pattern.test(value)) throw notFoundError(NOT_FOUND_NAMES[name as IdParam]);
  }
}

export function createApiRouter(deps: ApiDeps): Router {
  const router = new Router({ prefix: API_PREFIX });
  const authenticate = requireCaller(deps.domain, deps.verifier);
  for (const spec of ROUTES) {
    const handler = async (ctx: Context, params: Params = {}) => {
      checkParams(params);
      const result = await spec.run(ctx, params, deps);
      if (spec.noStore) {
        ctx.set('Cache-Control', 'no-store');
        ctx.set('Pragma', 'no-cache');
      }
      ctx.status = spec.status;
      if (spec.status !== 204) ctx.body = result;
    };
    if (spec.auth) router[spec.method](spec.path, authenticate, (ctx) => handler(ctx, ctx.params));
    else router[spec.method](spec.path, (ctx) => handler(ctx, ctx.params));
  }
  return router;
}
