// The shape of one admin API route, and defineRoute, which ties a route's
// handler to its own schemas: the handler's body and query are the types its
// zod schemas produce, so no handler casts its input. The route table
// (./routes.ts) holds the erased specs; the router and the OpenAPI document
// (./openapi.ts) are both built from it.
import type { Context } from 'koa';
import type { z } from 'zod';
import type { Action } from '../../domain/access.ts';
import type { Domain } from '../../domain/index.ts';
import type { AccessTokenVerifier } from '../../oauth/access-tokens.ts';
import type { SignInFlow } from '../session/sign-in.ts';
import { parseBody, parseQuery, schemas } from './validation.ts';

export interface ApiDeps {
  domain: Domain;
  verifier: AccessTokenVerifier;
  signIn: SignInFlow;
}

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Names of response schemas in the OpenAPI document's components. */
export type ResponseSchema =
  | 'Session' | 'Account' | 'AccountList' | 'Environment' | 'EnvironmentList' | 'Member' | 'MemberList'
  | 'Keypair' | 'KeypairPage' | 'KeypairUsage' | 'IssuedKeypair' | 'ReplacedKeypair' | 'AuditPage' | 'OpenApi'
  | 'Webhook' | 'WebhookList' | 'IssuedWebhook' | 'WebhookDelivery' | 'WebhookDeliveryPage'
  | 'TrustRule' | 'TrustRuleList';

/** The path parameters, by name (checked against the id patterns before the handler runs). */
export type Params = Record<string, string>;

/** What the router and the OpenAPI document need to know of a route. */
interface RouteMeta {
  method: Method;
  /** Koa path under /api/v1, e.g. /accounts/:accountId */
  path: string;
  operationId: string;
  summary: string;
  tag: 'session' | 'accounts' | 'environments' | 'members' | 'keypairs' | 'audit' | 'webhooks' | 'meta';
  /** false: no caller needed (sign-in, the OpenAPI document). */
  auth: boolean;
  status: 200 | 201 | 204;
  response?: ResponseSchema;
  /** The policy action checked against the path's owner or keypair. */
  action?: Action;
  /** The response holds a new secret (or a CSRF token): Cache-Control: no-store. */
  noStore?: boolean;
}

type NoInput = typeof schemas.none;

/** A route as written in the table: its handler's input is typed by its own schemas. */
export interface RouteDefinition<B extends z.ZodType, Q extends z.ZodType> extends RouteMeta {
  /** The JSON body's strict schema; without one, the body must be empty. */
  body?: B;
  /** The query string's strict schema; without one, there must be no query parameters. */
  query?: Q;
  handle(ctx: Context, input: { params: Params; body: z.infer<B>; query: z.infer<Q> }, deps: ApiDeps): Promise<unknown>;
}

/** A route in the table: its schemas (for the OpenAPI document) and a handler that validates its own input. */
export interface RouteSpec extends RouteMeta {
  body?: z.ZodType;
  query?: z.ZodType;
  /** Parses the body and query with the route's schemas (400 when they do not fit), then runs the handler. */
  run(ctx: Context, params: Params, deps: ApiDeps): Promise<unknown>;
}

export function defineRoute<B extends z.ZodType = NoInput, Q extends z.ZodType = NoInput>(definition: RouteDefinition<B, Q>): RouteSpec {
  const { handle, ...meta } = definition;
  // B and Q are inferred from the schemas given; when one is left out, its type
  // parameter takes its default, the empty schema, which is the one used here.
  const body = (definition.body ?? schemas.none) as B;
  const query = (definition.query ?? schemas.none) as Q;
  return {
    ...meta,
    run: (ctx, params, deps) => handle(ctx, { params, body: parseBody(ctx, body), query: parseQuery(ctx, query) }, deps),
  };
}
