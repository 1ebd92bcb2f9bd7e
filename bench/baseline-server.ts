// The benchmark's baseline: a minimal oidc-provider 9 server with one static
// client, the client credentials grant and ES256 JWT access tokens of Keyport's
// format (resource indicators with a default resource, accessTokenFormat 'jwt',
// the same scopes and an `acc` claim) — and no database. It is the practical
// ceiling of this stack; Keyport's figures are reported as a ratio of it.
//
// Started by bench/servers.ts as a child process (with an IPC channel); reports
// { type: 'ready', port, issuer, clientId, clientSecret } once it listens.
//
// oidc-provider 9 refuses to introspect JWT access tokens, so POST
// /oauth/introspect is answered by a small middleware in the provider's own Koa
// app: the static client's secret check plus jose jwtVerify — the same work as
// Keyport's introspection minus its database reads.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';

const BASELINE_CLIENT_ID = 'bench-baseline-client';
// As long as a Keyport secret (53 characters); oidc-provider compares it in plain text.
const BASELINE_CLIENT_SECRET = `kps_${'b'.repeat(43)}000000`;
const SCOPES = ['keyport:introspect', 'orders:read', 'orders:write', 'reports:read'];
const AUDIENCE = process.env.BENCH_AUDIENCE ?? 'https://api.example.com';
const TTL = 600;
const INTROSPECT = '/oauth/introspect';

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const issuer = `http://127.0.0.1:${port}`;

const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
const kid = 'baseline-es256';
const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
const publicJwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };

const resourceServer = {
  scope: SCOPES.join(' '),
  audience: AUDIENCE,
  accessTokenTTL: TTL,
  accessTokenFormat: 'jwt' as const,
  jwt: { sign: { alg: 'ES256' as const } },
};

const configuration: Configuration = {
  clients: [{
    client_id: BASELINE_CLIENT_ID,
    client_secret: BASELINE_CLIENT_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
    scope: SCOPES.join(' '),
  }],
  jwks: { keys: [privateJwk] },
  routes: { token: '/oauth/token', jwks: '/oauth/jwks' },
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  scopes: SCOPES,
  responseTypes: ['none'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => resourceServer,
    },
  },
  ttl: { ClientCredentials: TTL },
  // Keyport adds the owning account (and environment); keep tokens the same size.
  extraTokenClaims: () => ({ acc: 'acc_0000000000000000' }),
  renderError(ctx, out) {
    ctx.type = 'application/json';
    ctx.body = out;
  },
};

const provider = new Provider(issuer, configuration);
const keys = createLocalJWKSet(publicJwks);
const expected = Buffer.from(`${BASELINE_CLIENT_ID}:${BASELINE_CLIENT_SECRET}`);

provider.use(async (ctx, next) => {
  if (ctx.path !== INTROSPECT || ctx.method !== 'POST') return next();
  let raw = '';
  for await (const chunk of ctx.req) raw += chunk;
  const header = ctx.get('authorization');
  const presented = Buffer.from(header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '');
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'application/json';
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    ctx.status = 401;
    ctx.body = { error: 'invalid_client' };
    return;
  }
  const token = new URLSearchParams(raw).get('token') ?? '';
  try {
    const { payload } = await jwtVerify(token, keys, { issuer, typ: 'at+jwt', algorithms: ['ES256'] });
    ctx.body = { active: true, ...payload, token_type: 'Bearer' };
  } catch {
    ctx.body = { active: false };
  }
});

// eslint-disable-next-line @typescript-eslint/no-misused-promises -- a Koa callback answers its own errors; its promise never rejects
server.on('request', provider.callback());

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.send?.({ type: 'ready', port, issuer, clientId: BASELINE_CLIENT_ID, clientSecret: BASELINE_CLIENT_SECRET });
