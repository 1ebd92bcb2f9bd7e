// A protected demo API (the "resource server") that accepts Keyport access
// tokens through the resource-server kit, `keyport/verify`:
//   GET  /orders   needs orders:read
//   POST /orders   needs orders:write
//   GET  /whoami   any valid token
//   GET  /healthz  no token
//
// Run it from the repository root (Node 24, TypeScript runs as is):
//   KEYPORT_URL=http://localhost:3000 KEYPORT_ACCOUNT=acc_… node examples/protected-api/server.ts
// Environment: KEYPORT_URL (the issuer, required), KEYPORT_ACCOUNT (required:
// the account whose tokens it accepts, or several, comma-separated; tokens of
// every other account get 403 wrong_tenant), API_AUDIENCE (default
// https://api.example.com), HOST (127.0.0.1), PORT (4000), and optionally
// KEYPORT_INTROSPECTION_KEY_ID + KEYPORT_INTROSPECTION_SECRET: a keypair with
// the keyport:introspect scope, to refuse revoked tokens at once.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { createVerifier, koaMiddleware, type VerifiedToken, type VerifierOptions } from 'keyport/verify';

export interface ProtectedApiOptions {
  issuer: string;
  /** The tenants it serves: Keyport signs every account's tokens for the same audience. */
  tenants: VerifierOptions['tenants'];
  audience?: string;
  host?: string;
  port?: number;
  introspection?: VerifierOptions['introspection'];
}

export interface RunningProtectedApi {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const ORDERS = [
  { id: 'ord_1001', item: 'keyboard', quantity: 2 },
  { id: 'ord_1002', item: 'monitor', quantity: 1 },
];

export function createProtectedApi(options: ProtectedApiOptions): Koa {
  const verifier = createVerifier({
    issuer: options.issuer,
    audience: options.audience ?? 'https://api.example.com',
    tenants: options.tenants,
    realm: 'orders-api',
    ...(options.introspection ? { introspection: options.introspection } : {}),
  });
  const auth = (scopes: string[] = []) => koaMiddleware(verifier, { scopes });
  const caller = (state: Record<string, unknown>) => (state.auth as VerifiedToken).clientId;

  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/orders', auth(['orders:read']), (ctx) => {
    ctx.body = { caller: caller(ctx.state), orders: ORDERS };
  });
  router.post('/orders', auth(['orders:write']), (ctx) => {
    ctx.status = 201;
    ctx.body = { caller: caller(ctx.state), order: { id: `ord_${1000 + ORDERS.length + 1}`, status: 'accepted' } };
  });
  router.get('/whoami', auth(), (ctx) => {
    const { claims, scopes } = ctx.state.auth as VerifiedToken;
    ctx.body = { client_id: claims.client_id, account: claims.acc, environment: claims.env ?? null, scopes };
  });

  const app = new Koa();
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

export async function startProtectedApi(options: ProtectedApiOptions): Promise<RunningProtectedApi> {
  const app = createProtectedApi(options);
  const host = options.host ?? '127.0.0.1';
  const server = app.listen(options.port ?? 4000, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    }),
  };
}

if (import.meta.main) {
  const issuer = process.env.KEYPORT_URL;
  if (!issuer) {
    console.error('set KEYPORT_URL to the Keyport issuer, e.g. KEYPORT_URL=http://localhost:3000');
    process.exit(2);
  }
  const accounts = (process.env.KEYPORT_ACCOUNT ?? '').split(',').map((id) => id.trim()).filter(Boolean);
  if (!accounts.length) {
    console.error('set KEYPORT_ACCOUNT to the account whose tokens this API accepts, e.g. KEYPORT_ACCOUNT=acc_… (several: comma-separated)');
    process.exit(2);
  }
  const { KEYPORT_INTROSPECTION_KEY_ID: clientId, KEYPORT_INTROSPECTION_SECRET: clientSecret } = process.env;
  const api = await startProtectedApi({
    issuer,
    tenants: { accounts },
    audience: process.env.API_AUDIENCE || 'https://api.example.com',
    host: process.env.HOST || '127.0.0.1',
    port: process.env.PORT ? Number(process.env.PORT) : 4000,
    ...(clientId && clientSecret ? { introspection: { clientId, clientSecret } } : {}),
  });
  console.log(`protected API listening on ${api.url} (issuer ${issuer}, accounts ${accounts.join(' ')}${clientId ? ', introspection on' : ''})`);
  const stop = () => void api.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
