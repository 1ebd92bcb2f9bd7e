// Keyport quickstart for Node.js: get an access token with the client
// credentials grant (openid-client: RFC 8414 discovery + token request), the
// keypair authenticating with its secret (HTTP Basic) or, when
// KEYPORT_PRIVATE_KEY_FILE is set, with a JWT signed by its private key
// (private_key_jwt: Keyport holds only the public key),
// validate it as a resource server would (jose: remote JWKS, ES256 only,
// typ at+jwt, issuer, audience; then the tenant and the scope), then call the
// protected API with it. Exits non-zero on any failure.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, importPKCS8, jwtVerify } from 'jose';
import * as client from 'openid-client';

// What GET /orders needs: a token of the account the API serves, with this scope.
const REQUIRED_SCOPE = 'orders:read';

function env(name, fallback) {
  const value = process.env[name] || fallback;
  if (!value) throw new Error(`set ${name}`);
  return value;
}

/** The JWS algorithm a private key signs with (ES256, ES384, EdDSA; RS256 for RSA). */
function algorithmOf(pem) {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType === 'ec') return { 'prime256v1': 'ES256', 'secp384r1': 'ES384' }[key.asymmetricKeyDetails.namedCurve];
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  throw new Error(`unsupported private key type ${key.asymmetricKeyType}`);
}

/** HTTP Basic with the secret, or private_key_jwt with the private key (PKCS#8 PEM) in KEYPORT_PRIVATE_KEY_FILE. */
async function clientAuthentication() {
  const keyFile = process.env.KEYPORT_PRIVATE_KEY_FILE;
  if (!keyFile) return client.ClientSecretBasic(env('KEYPORT_SECRET'));
  const pem = readFileSync(keyFile, 'utf8');
  // Not extractable: the key can sign, and nothing in this process can read it back.
  const key = await importPKCS8(pem, algorithmOf(pem), { extractable: false });
  // openid-client signs a fresh assertion per request: iss = sub = key id, aud = issuer, a random jti, exp in 60 s.
  return client.PrivateKeyJwt(key);
}

async function main() {
  const keyportUrl = new URL(env('KEYPORT_URL'));
  const keyId = env('KEYPORT_KEY_ID');
  const apiUrl = env('API_URL', 'http://localhost:4000').replace(/\/+$/, '');
  const audience = env('KEYPORT_AUDIENCE', 'https://api.example.com');
  const scope = env('KEYPORT_SCOPE', 'orders:read');
  const account = env('KEYPORT_ACCOUNT'); // acc_…: the account whose tokens the API accepts

  // 1. Discovery (RFC 8414, /.well-known/oauth-authorization-server); openid-client
  //    checks that the document names the same issuer. Plain http is for local use only.
  const config = await client.discovery(keyportUrl, keyId, undefined, await clientAuthentication(), {
    algorithm: 'oauth2',
    ...(keyportUrl.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
  });
  const metadata = config.serverMetadata();

  // 2. Client credentials grant.
  const tokens = await client.clientCredentialsGrant(config, { scope });

  // 3. Validate as a resource server: a cached, rate-limited remote JWKS; ES256
  //    only; typ at+jwt (RFC 9068); exact issuer; our audience.
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
  const { payload } = await jwtVerify(tokens.access_token, jwks, {
    issuer: metadata.issuer,
    audience,
    typ: 'at+jwt',
    algorithms: ['ES256'],
    clockTolerance: 5,
    requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'client_id', 'jti', 'acc'],
  });
  // Keyport signs every account's tokens for the same audience: the tenant must be
  // checked, or any account's keypair with the scope would be served.
  if (payload.acc !== account) throw new Error(`wrong_tenant: the token belongs to account ${payload.acc}, this API serves ${account}`);
  if (!String(payload.scope ?? '').split(' ').includes(REQUIRED_SCOPE)) throw new Error(`insufficient_scope: the token lacks ${REQUIRED_SCOPE}`);
  console.log(`token valid: client_id=${payload.client_id} acc=${payload.acc} aud=${payload.aud} scope=${payload.scope} expires=${new Date(payload.exp * 1000).toISOString()}`);

  // 4. Call the protected API with the token.
  const response = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${apiUrl}/orders`), 'GET');
  const body = await response.text();
  if (response.status !== 200) {
    throw new Error(`GET /orders: HTTP ${response.status} ${response.headers.get('www-authenticate') ?? ''} ${body}`);
  }
  console.log(`GET /orders -> ${body}`);
}

main().catch((error) => {
  // openid-client's errors carry the OAuth error (invalid_client, invalid_scope…) and the HTTP status.
  const oauth = error.error ? ` [${error.status ?? ''} ${error.error}: ${error.error_description ?? ''}]` : error.status ? ` [HTTP ${error.status}]` : '';
  console.error(`quickstart failed: ${error.name}: ${error.message}${error.code ? ` (${error.code})` : ''}${oauth}`);
  process.exitCode = 1;
});
