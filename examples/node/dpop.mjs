// Keyport DPoP quickstart for Node.js (RFC 9449): the token is bound to a key
// this process holds, so that a leaked token is useless without it.
// openid-client makes the DPoP proofs (for the token request and for each API
// call) and the token request; jose validates the token as a resource server
// would, including its binding (cnf.jkt = our key's thumbprint). Then it calls
// the protected API with the token and a proof, and shows that the same token
// presented as a plain Bearer token is refused. Exits non-zero on any failure.
import { calculateJwkThumbprint, createRemoteJWKSet, exportJWK, jwtVerify } from 'jose';
import * as client from 'openid-client';

// What GET /orders needs: a token of the account the API serves, with this scope.
const REQUIRED_SCOPE = 'orders:read';

function env(name, fallback) {
  const value = process.env[name] || fallback;
  if (!value) throw new Error(`set ${name}`);
  return value;
}

async function main() {
  const keyportUrl = new URL(env('KEYPORT_URL'));
  const keyId = env('KEYPORT_KEY_ID');
  const secret = env('KEYPORT_SECRET');
  const apiUrl = env('API_URL', 'http://localhost:4000').replace(/\/+$/, '');
  const audience = env('KEYPORT_AUDIENCE', 'https://api.example.com');
  const scope = env('KEYPORT_SCOPE', 'orders:read');
  const account = env('KEYPORT_ACCOUNT'); // acc_…: the account whose tokens the API accepts

  // 1. Discovery (RFC 8414). Keyport lists the proof algorithms it accepts.
  const config = await client.discovery(keyportUrl, keyId, undefined, client.ClientSecretBasic(secret), {
    algorithm: 'oauth2',
    ...(keyportUrl.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
  });
  const metadata = config.serverMetadata();
  if (!metadata.dpop_signing_alg_values_supported?.includes('ES256')) throw new Error('the server does not accept ES256 DPoP proofs');

  // 2. A key pair for this process only: its private key never leaves memory.
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const thumbprint = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
  const DPoP = client.getDPoPHandle(config, keyPair);

  // 3. Client credentials grant with a DPoP proof: the token comes back bound.
  const tokens = await client.clientCredentialsGrant(config, { scope }, { DPoP });
  if (tokens.token_type !== 'dpop') throw new Error(`expected a DPoP token, got token_type ${tokens.token_type}`);

  // 4. Validate as a resource server (ES256 only, typ at+jwt, issuer, audience),
  //    then the tenant, the scope and the binding to our key.
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
  const { payload } = await jwtVerify(tokens.access_token, jwks, {
    issuer: metadata.issuer,
    audience,
    typ: 'at+jwt',
    algorithms: ['ES256'],
    clockTolerance: 5,
    requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'client_id', 'jti', 'acc', 'cnf'],
  });
  if (payload.acc !== account) throw new Error(`wrong_tenant: the token belongs to account ${payload.acc}, this API serves ${account}`);
  if (!String(payload.scope ?? '').split(' ').includes(REQUIRED_SCOPE)) throw new Error(`insufficient_scope: the token lacks ${REQUIRED_SCOPE}`);
  if (payload.cnf?.jkt !== thumbprint) throw new Error('the token is not bound to this process\'s key (cnf.jkt)');
  console.log(`token valid: client_id=${payload.client_id} acc=${payload.acc} aud=${payload.aud} scope=${payload.scope} bound to jkt=${thumbprint}`);

  // 5. Call the protected API: Authorization: DPoP <token>, plus a fresh proof for this request.
  const url = new URL(`${apiUrl}/orders`);
  const response = await client.fetchProtectedResource(config, tokens.access_token, url, 'GET', undefined, undefined, { DPoP });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET /orders: HTTP ${response.status} ${response.headers.get('www-authenticate') ?? ''} ${body}`);
  console.log(`GET /orders -> ${body}`);

  // 6. The same token without its proof, as a plain Bearer token: refused.
  const stolen = await fetch(url, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  if (stolen.status !== 401) throw new Error(`the token was accepted as a Bearer token: HTTP ${stolen.status}`);
  console.log(`as Bearer -> ${stolen.status} ${stolen.headers.get('www-authenticate')}`);
}

main().catch((error) => {
  const oauth = error.error ? ` [${error.status ?? ''} ${error.error}: ${error.error_description ?? ''}]` : error.status ? ` [HTTP ${error.status}]` : '';
  console.error(`quickstart failed: ${error.name}: ${error.message}${error.code ? ` (${error.code})` : ''}${oauth}`);
  process.exitCode = 1;
});
