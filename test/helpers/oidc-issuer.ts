// A local OIDC issuer that stands in for GitHub Actions or a Kubernetes
// cluster in tests and in examples/federated/run.sh: it serves discovery
// (/.well-known/openid-configuration) and its JWKS over http on loopback, and
// mints workload tokens signed with its key. Tests mint in-process (mint());
// the shell example asks GET /token?audience=…&sub=… (shaped like GitHub's
// ACTIONS_ID_TOKEN_REQUEST_URL, which answers {"value": "<jwt>"}).
//
// Run it alone: node test/helpers/oidc-issuer.ts [port]  (prints "issuer listening on <url>")
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, SignJWT, type JWK } from 'jose';

export interface MintOptions {
  sub?: string;
  aud?: string | string[];
  /** Further claims (repository, ref, kubernetes.io…); null removes a default claim (jti, iat). */
  claims?: Record<string, unknown>;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  header?: Record<string, unknown>;
  /** Sign with this key instead of the issuer's (a key the JWKS does not hold). */
  key?: KeyObject;
}

export class LocalOidcIssuer {
  readonly url: string;
  readonly #server: Server;
  readonly #key: KeyObject;
  readonly kid: string;
  /** false: discovery and JWKS answer 503 (the issuer is down). */
  up = true;
  /** How many times the JWKS was fetched. */
  jwksFetches = 0;

  private constructor(url: string, server: Server, key: KeyObject, kid: string) {
    this.url = url;
    this.#server = server;
    this.#key = key;
    this.kid = kid;
  }

  static async start(port = 0): Promise<LocalOidcIssuer> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomUUID();
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
    // Set once the server listens (the handler runs only after that).
    const self: { issuer?: LocalOidcIssuer } = {};
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (!self.issuer!.up) return send(503, { error: 'down' });
      if (url.pathname === '/.well-known/openid-configuration') {
        return send(200, { issuer: self.issuer!.url, jwks_uri: `${self.issuer!.url}/jwks`, id_token_signing_alg_values_supported: ['ES256'], response_types_supported: ['id_token'], subject_types_supported: ['public'] });
      }
      if (url.pathname === '/jwks') {
        self.issuer!.jwksFetches += 1;
        return send(200, { keys: [jwk] });
      }
      if (url.pathname === '/token') {
        const claims = Object.fromEntries([...url.searchParams].filter(([name]) => !['audience', 'sub', 'expires_in'].includes(name)));
        void self.issuer!.mint({ sub: url.searchParams.get('sub') ?? undefined, aud: url.searchParams.get('audience') ?? undefined, claims, expiresIn: Number(url.searchParams.get('expires_in') ?? 300) })
          .then((value) => send(200, { value }));
        return;
      }
      send(404, { error: 'not_found' });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('no address');
    self.issuer = new LocalOidcIssuer(`http://127.0.0.1:${address.port}`, server, privateKey, kid);
    return self.issuer;
  }

  /** A workload token: iss, sub, aud, iat, exp, jti by default, signed ES256 with the issuer's key. */
  async mint(options: MintOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: this.url,
      sub: options.sub ?? 'repo:acme/api:ref:refs/heads/main',
      aud: options.aud ?? 'keyport',
      iat: now,
      nbf: now,
      exp: now + (options.expiresIn ?? 300),
      jti: randomUUID(),
      ...options.claims,
    };
    for (const [name, value] of Object.entries(claims)) if (value === null) delete claims[name];
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: this.kid, typ: 'JWT', ...options.header }).sign(options.key ?? this.#key);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }
}

if (import.meta.main) {
  const issuer = await LocalOidcIssuer.start(Number(process.argv[2] ?? 0));
  console.log(`issuer listening on ${issuer.url}`);
  const stop = () => void issuer.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
