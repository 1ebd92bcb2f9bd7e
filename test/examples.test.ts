// Runs every quickstart in examples/ as a child process, the way a person
// would, against a real Keyport and the protected demo API (itself started as
// `node examples/protected-api/server.ts`). Each ecosystem is one test: it must
// get a token, validate it, call GET /orders and exit 0; and it must exit
// non-zero, without calling the API, on a wrong secret, on a token for another
// audience, on a token of another account than the one the API serves, and on
// a token without orders:read. Dependencies come from examples/setup.sh (run it first).
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { getToken, seedKeypair } from './helpers/oauth.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { freePort } from '../src/net-ports.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const examples = join(root, 'examples');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(command: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

/** The test's environment without any KEYPORT_* or API_* settings of the machine. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('KEYPORT_') && !name.startsWith('API_') && name !== 'PORT') env[name] = value;
  }
  return { ...env, ...extra };
}

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** How to run each quickstart, and what setup must have produced first. */
interface Ecosystem {
  command: string;
  args: string[];
  /** Built or installed by examples/setup.sh; must exist (and be newer than `sources`). */
  artifact?: string;
  sources?: string[];
}

const ECOSYSTEMS: Record<string, Ecosystem> = {
  curl: { command: 'bash', args: [join(examples, 'curl/quickstart.sh')] },
  node: { command: process.execPath, args: [join(examples, 'node/quickstart.mjs')], artifact: join(examples, 'node/node_modules/.package-lock.json'), sources: [join(examples, 'node/package-lock.json')] },
  python: { command: join(examples, 'python/.venv/bin/python'), args: [join(examples, 'python/quickstart.py')], artifact: join(examples, 'python/.venv/.keyport-stamp'), sources: [join(examples, 'python/requirements.txt')] },
  go: { command: join(examples, 'go/bin/quickstart'), args: [], artifact: join(examples, 'go/bin/quickstart'), sources: ['main.go', 'go.mod', 'go.sum'].map((f) => join(examples, 'go', f)) },
  java: { command: 'java', args: ['-jar', join(examples, 'java/target/keyport-quickstart.jar')], artifact: join(examples, 'java/target/keyport-quickstart.jar'), sources: [join(examples, 'java/pom.xml'), join(examples, 'java/src')] },
};

function setupProblem(name: string, ecosystem: Ecosystem): string | undefined {
  if (!ecosystem.artifact) return undefined;
  if (!existsSync(ecosystem.artifact)) return `${ecosystem.artifact} is missing: run examples/setup.sh ${name}`;
  const built = statSync(ecosystem.artifact).mtimeMs;
  const changed = (ecosystem.sources ?? []).find((source) => newestMtime(source) > built);
  return changed ? `${changed} changed after the last build: run examples/setup.sh ${name}` : undefined;
}

let keyport: TestKeyport;
let api: { url: string; child: ChildProcess };
let good: { keyId: string; secret: string; accountId: string };
let wrong: { keyId: string; secret: string };
/** A keypair of another account, with the scope GET /orders needs. */
let foreign: { keyId: string; secret: string; accountId: string };

function startApi(issuer: string, account: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(examples, 'protected-api/server.ts')], {
    cwd: root,
    env: cleanEnv({ KEYPORT_URL: issuer, KEYPORT_ACCOUNT: account, PORT: '0', HOST: '127.0.0.1' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`the protected API did not start: ${output}`)), 20_000);
    const onData = (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1]!, child });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the protected API exited with ${code}: ${output}`));
    });
  });
}

/** Where examples/federated/run.sh starts its local OIDC issuer: trusted by this test's Keyport. */
let issuerPort: number;

test.before(async () => {
  issuerPort = await freePort();
  keyport = await startTestKeyport({ overrides: { federation: { issuers: [`http://127.0.0.1:${issuerPort}`], allowLoopback: true } } });
  good = await seedKeypair(keyport.keyport, { scopes: ['orders:read', 'orders:write'] });
  // Wrong-secret runs use a keypair of their own, so that their failures never lock `good`.
  const other = await seedKeypair(keyport.keyport, { scopes: ['orders:read'] });
  wrong = { keyId: other.keyId, secret: `${other.secret.slice(0, -8)}AAAAAAAA` };
  foreign = await seedKeypair(keyport.keyport, { owner: 'account', scopes: ['orders:read', 'orders:write'] });
  api = await startApi(keyport.url, good.accountId);
});

test.after.always(async () => {
  api?.child.kill('SIGTERM');
  await keyport?.close();
});

function describeRun(result: Run): string {
  return `exit ${result.code ?? result.signal} after ${result.ms} ms\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

for (const [name, ecosystem] of Object.entries(ECOSYSTEMS)) {
  test(`quickstart: ${name}`, async (t) => {
    const problem = setupProblem(name, ecosystem);
    if (problem) {
      t.fail(problem);
      return;
    }
    const base = { KEYPORT_URL: keyport.url, API_URL: api.url, KEYPORT_ACCOUNT: good.accountId };

    const ok = await run(ecosystem.command, ecosystem.args, { ...base, KEYPORT_KEY_ID: good.keyId, KEYPORT_SECRET: good.secret });
    t.is(ok.code, 0, describeRun(ok));
    t.regex(ok.stdout, /token valid/, describeRun(ok));
    t.regex(ok.stdout, /GET \/orders -> .*ord_1001/, describeRun(ok));
    t.true(ok.stdout.includes(good.keyId), 'the API saw the keypair as the caller');
    t.false(`${ok.stdout}${ok.stderr}`.includes(good.secret), 'the quickstart never prints the secret');
    t.log(`${name}: ${ok.ms} ms`);

    const badSecret = await run(ecosystem.command, ecosystem.args, { ...base, KEYPORT_KEY_ID: wrong.keyId, KEYPORT_SECRET: wrong.secret });
    t.not(badSecret.code, 0, `a wrong secret must fail: ${describeRun(badSecret)}`);
    t.notRegex(badSecret.stdout, /GET \/orders/);

    // The token is issued for the default audience; a quickstart that expects
    // another one must refuse it (the audience pin is real) and not call the API.
    const otherAudience = await run(ecosystem.command, ecosystem.args, { ...base, KEYPORT_KEY_ID: good.keyId, KEYPORT_SECRET: good.secret, KEYPORT_AUDIENCE: 'https://other-api.example.com' });
    t.not(otherAudience.code, 0, `a token for another audience must be refused: ${describeRun(otherAudience)}`);
    t.notRegex(otherAudience.stdout, /GET \/orders/);

    // A valid token of another account, with the scope: the tenant check refuses it before the API is called.
    const otherAccount = await run(ecosystem.command, ecosystem.args, { ...base, KEYPORT_KEY_ID: foreign.keyId, KEYPORT_SECRET: foreign.secret });
    t.not(otherAccount.code, 0, `a token of another account must be refused: ${describeRun(otherAccount)}`);
    t.regex(otherAccount.stderr, new RegExp(`wrong_tenant: the token belongs to account ${foreign.accountId}, this API serves ${good.accountId}`), describeRun(otherAccount));
    t.notRegex(otherAccount.stdout, /GET \/orders/);

    // A valid token without orders:read: refused by the scope check, before the API is called.
    const noScope = await run(ecosystem.command, ecosystem.args, { ...base, KEYPORT_KEY_ID: good.keyId, KEYPORT_SECRET: good.secret, KEYPORT_SCOPE: 'orders:write' });
    t.not(noScope.code, 0, `GET /orders without orders:read must fail: ${describeRun(noScope)}`);
    t.regex(noScope.stderr, /insufficient_scope: the token lacks orders:read/, describeRun(noScope));
    t.notRegex(noScope.stdout, /GET \/orders/);
  });
}

// The DPoP quickstarts (RFC 9449), on their ecosystem's setup: the token must
// come back bound to the process's key, the API must accept it with a proof and
// refuse it as a plain Bearer token; a keypair that requires DPoP works with
// them and refuses the plain quickstarts.
const DPOP_QUICKSTARTS: Record<string, { ecosystem: string; args: string[] }> = {
  node: { ecosystem: 'node', args: [join(examples, 'node/dpop.mjs')] },
  python: { ecosystem: 'python', args: [join(examples, 'python/dpop.py')] },
};

for (const [name, quickstart] of Object.entries(DPOP_QUICKSTARTS)) {
  test(`DPoP quickstart: ${name}`, async (t) => {
    const ecosystem = ECOSYSTEMS[quickstart.ecosystem]!;
    const problem = setupProblem(quickstart.ecosystem, ecosystem);
    if (problem) {
      t.fail(problem);
      return;
    }
    const base = { KEYPORT_URL: keyport.url, API_URL: api.url, KEYPORT_ACCOUNT: good.accountId };
    const required = await keyport.keyport.domain.keypairs.create({ accountId: good.accountId }, { name: `dpop-${name}`, scopes: ['orders:read'], dpopRequired: true }, 'system');
    for (const keypair of [{ keyId: good.keyId, secret: good.secret }, { keyId: required.keypair.keyId, secret: required.secret }]) {
      const ok = await run(ecosystem.command, quickstart.args, { ...base, KEYPORT_KEY_ID: keypair.keyId, KEYPORT_SECRET: keypair.secret });
      t.is(ok.code, 0, describeRun(ok));
      t.regex(ok.stdout, /token valid: .* bound to jkt=[A-Za-z0-9_-]{43}/, describeRun(ok));
      t.regex(ok.stdout, /GET \/orders -> .*ord_1001/, describeRun(ok));
      t.regex(ok.stdout, /as Bearer -> 401 DPoP .*error="invalid_token"/, describeRun(ok));
      t.false(`${ok.stdout}${ok.stderr}`.includes(keypair.secret), 'the quickstart never prints the secret');
      t.log(`${name} DPoP: ${ok.ms} ms`);
    }

    const badSecret = await run(ecosystem.command, quickstart.args, { ...base, KEYPORT_KEY_ID: wrong.keyId, KEYPORT_SECRET: wrong.secret });
    t.not(badSecret.code, 0, `a wrong secret must fail: ${describeRun(badSecret)}`);
    t.notRegex(badSecret.stdout, /GET \/orders/);

    const otherAccount = await run(ecosystem.command, quickstart.args, { ...base, KEYPORT_KEY_ID: foreign.keyId, KEYPORT_SECRET: foreign.secret });
    t.not(otherAccount.code, 0, describeRun(otherAccount));
    t.regex(otherAccount.stderr, /wrong_tenant/, describeRun(otherAccount));
    t.notRegex(otherAccount.stdout, /GET \/orders/);

    // The plain (Bearer) quickstart with the keypair that requires DPoP: refused at the token endpoint.
    const plain = await run(ecosystem.command, ecosystem.args, { ...base, KEYPORT_KEY_ID: required.keypair.keyId, KEYPORT_SECRET: required.secret });
    t.not(plain.code, 0, describeRun(plain));
    t.regex(plain.stderr, /invalid_dpop_proof/, describeRun(plain));
  });
}

/** The quickstarts that also authenticate with private_key_jwt (KEYPORT_PRIVATE_KEY_FILE: a PKCS#8 PEM private key). */
const KEY_QUICKSTARTS = ['node', 'python', 'go', 'java'] as const;

for (const name of KEY_QUICKSTARTS) {
  test(`quickstart with private_key_jwt: ${name}`, async (t) => {
    const ecosystem = ECOSYSTEMS[name]!;
    const problem = setupProblem(name, ecosystem);
    if (problem) {
      t.fail(problem);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'keyport-quickstart-key-'));
    try {
      // A key-only keypair of the API's account (no secret exists to leak), holding the public key.
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const created = await keyport.keyport.domain.keypairs.create({ accountId: good.accountId }, {
        name: `${name} signer`, scopes: ['orders:read'], secret: false, publicKeys: [pair.publicKey.export({ type: 'spki', format: 'pem' })],
      }, 'system');
      const keyFile = join(dir, 'client.key');
      writeFileSync(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      const base = { KEYPORT_URL: keyport.url, API_URL: api.url, KEYPORT_ACCOUNT: good.accountId, KEYPORT_KEY_ID: created.keypair.keyId };

      const ok = await run(ecosystem.command, ecosystem.args, { ...base, KEYPORT_PRIVATE_KEY_FILE: keyFile });
      t.is(ok.code, 0, describeRun(ok));
      t.regex(ok.stdout, /token valid/, describeRun(ok));
      t.regex(ok.stdout, /GET \/orders -> .*ord_1001/, describeRun(ok));
      t.true(ok.stdout.includes(created.keypair.keyId), 'the API saw the keypair as the caller');

      // A private key whose public key the keypair does not hold: refused, the API is not called.
      const strangerFile = join(dir, 'stranger.key');
      writeFileSync(strangerFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      const stranger = await run(ecosystem.command, ecosystem.args, { ...base, KEYPORT_PRIVATE_KEY_FILE: strangerFile });
      t.not(stranger.code, 0, `another private key must fail: ${describeRun(stranger)}`);
      t.regex(stranger.stderr, /invalid_client/, describeRun(stranger));
      t.notRegex(stranger.stdout, /GET \/orders/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// The federated (secretless) shell example: it starts the local OIDC issuer,
// mints a workload token, exchanges it with curl for a token of a keypair that
// has no secret at all, sees the same token refused a second time, and calls
// the API; a keypair whose rule names another subject is refused (invalid_client).
test('federated example: shell (examples/federated/run.sh)', async (t) => {
  const issuer = `http://127.0.0.1:${issuerPort}`;
  const secretless = await keyport.keyport.domain.keypairs.create({ accountId: good.accountId }, {
    name: 'ci secretless', scopes: ['orders:read'], secret: false,
    trustRules: [{ issuer, subject: 'repo:acme/api:ref:refs/heads/main', audience: 'keyport', claims: [{ name: 'repository', value: 'acme/api' }] }],
  }, 'system');
  t.is(secretless.secret, null);
  const keyId = secretless.keypair.keyId;
  const base = { KEYPORT_URL: keyport.url, API_URL: api.url, ISSUER_PORT: String(issuerPort), KEYPORT_KEY_ID: keyId };
  const script = join(examples, 'federated/run.sh');

  const ok = await run('bash', [script], base);
  t.is(ok.code, 0, describeRun(ok));
  t.regex(ok.stdout, new RegExp(`token valid: .*"client_id":"${keyId}"`), describeRun(ok));
  t.regex(ok.stdout, /replay refused: invalid_client/, describeRun(ok));
  t.regex(ok.stdout, /GET \/orders -> .*ord_1001/, describeRun(ok));
  t.log(`federated: ${ok.ms} ms`);

  const otherBranch = await run('bash', [script], { ...base, SUBJECT: 'repo:acme/api:ref:refs/heads/feature' });
  t.not(otherBranch.code, 0, describeRun(otherBranch));
  t.regex(otherBranch.stderr, /token request: HTTP 401 .*invalid_client/, describeRun(otherBranch));
  t.notRegex(otherBranch.stdout, /GET \/orders/);
});

// The demo API itself, as the quickstarts' checks would be skipped by a client that calls it directly.
test('the demo API refuses a token of another account (403 wrong_tenant) and one without the scope (403 insufficient_scope)', async (t) => {
  const call = async (keypair: { keyId: string; secret: string }, scope: string) => fetch(`${api.url}/orders`, {
    headers: { authorization: `Bearer ${await getToken(keyport.url, { keyId: keypair.keyId, secret: keypair.secret, scope })}` },
  });
  const stranger = await call(foreign, 'orders:read');
  t.is(stranger.status, 403);
  t.regex(stranger.headers.get('www-authenticate') ?? '', /error="wrong_tenant"/);
  const noScope = await call(good, 'orders:write');
  t.is(noScope.status, 403);
  t.regex(noScope.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  t.is((await call(good, 'orders:read')).status, 200);
});

test('the demo API does not start without the account it serves', async (t) => {
  const result = await run(process.execPath, [join(examples, 'protected-api/server.ts')], { KEYPORT_URL: keyport.url, PORT: '0' });
  t.is(result.code, 2, describeRun(result));
  t.regex(result.stderr, /set KEYPORT_ACCOUNT/);
});
