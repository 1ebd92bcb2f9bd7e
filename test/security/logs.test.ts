// Nothing secret reaches the logs, even at the most verbose level: a real
// Keyport process runs at KEYPORT_LOG_LEVEL=trace through a whole lifecycle
// (sign-ins, keypairs created, rotated and regenerated, tokens issued,
// introspected and revoked, wrong secrets, bad requests), then everything it
// wrote to stdout and stderr is searched for every secret it handled.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ApiClient } from '../helpers/api.ts';
import { basic, getToken, introspect, tokenRequest } from '../helpers/oauth.ts';
import { cleanEnv, startProcess, waitFor } from '../helpers/process.ts';
import { UiClient } from '../helpers/ui.ts';

const EMAIL = 'operator@example.com';
const PASSWORD = 'a long and secret bootstrap password';

test('a trace-level run logs no secret, token, password, session, CSRF token, server secret or private key', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyport-logs-'));
  const proc = startProcess(cleanEnv({
    KEYPORT_DATA_DIR: dataDir,
    KEYPORT_PORT: '0',
    KEYPORT_LOG_LEVEL: 'trace',
    KEYPORT_BOOTSTRAP_ADMIN_EMAIL: EMAIL,
    KEYPORT_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
  }));
  const secrets: [what: string, value: string][] = [['the admin password', PASSWORD]];
  try {
    const [, url] = await waitFor(() => proc.output().match(/Keyport is ready at (http:\/\/\S+)/), 'the ready line');

    // An administrator through the API: password, session cookie, CSRF token.
    const admin = await ApiClient.signIn(url!, EMAIL, PASSWORD);
    secrets.push(['the API session cookie', admin.cookie!.split('=')[1]!], ['the CSRF token', admin.csrf!]);
    t.is((await ApiClient.anonymous(url!).post('/session', { email: EMAIL, password: `${PASSWORD}!` })).status, 401);
    secrets.push(['a wrong password', `${PASSWORD}!`]);
    const accountId = (await admin.get('/accounts')).body.items[0].id as string;

    // Keypairs: created, rotated, regenerated: every secret shown once.
    const created = await admin.post(`/accounts/${accountId}/keypairs`, { name: 'worker', scopes: ['orders:read', 'keyport:introspect', 'keyport:manage'] });
    t.is(created.status, 201);
    const keyId = created.body.keypair.keyId as string;
    const rotated = await admin.post(`/keypairs/${keyId}/rotate`, { grace: '0' });
    secrets.push(['a created secret', created.body.secret], ['a rotated secret', rotated.body.secret]);
    const key = { keyId, secret: rotated.body.secret as string };

    // Tokens: both client authentication methods, introspection, revocation, the admin API.
    const token = await getToken(url!, key);
    const postToken = await getToken(url!, { ...key, method: 'post' });
    const adminToken = await getToken(url!, { ...key, scope: 'keyport:manage', resource: 'urn:keyport:admin-api' });
    secrets.push(['an access token', token], ['an access token (post)', postToken], ['an admin API token', adminToken]);
    t.is((await introspect(url!, key, token)).active, true);
    const revoked = await fetch(`${url}/oauth/revoke`, { method: 'POST', headers: { authorization: basic(keyId, key.secret), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: postToken }) });
    t.is(revoked.status, 200);
    t.is((await ApiClient.withToken(url!, adminToken).get(`/keypairs/${keyId}`)).status, 200);

    // Failures: a wrong secret, the old secret, a malformed header, a bad body.
    const wrong = `${key.secret.slice(0, -8)}AAAAAAAA`;
    secrets.push(['a wrong secret', wrong], ['a replaced secret', created.body.secret]);
    t.is((await tokenRequest(url!, { keyId, secret: wrong })).status, 401);
    t.is((await tokenRequest(url!, { keyId, secret: created.body.secret, method: 'post' })).status, 401);
    t.is((await fetch(`${url}/oauth/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${keyId}:${key.secret}`).toString('base64')}==`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })).status >= 400, true);
    t.is((await fetch(`${url}/oauth/introspect`, { method: 'POST', headers: { authorization: basic(keyId, key.secret), 'content-type': 'application/json' }, body: JSON.stringify({ token }) })).status, 400);
    const oversized = await fetch(`${url}/ui/sign-in`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `email=${EMAIL}&password=${encodeURIComponent(PASSWORD)}&pad=${'a'.repeat(40_000)}` });
    t.is(oversized.status, 413);

    // Regenerate (its tokens are revoked), then the web UI's sign-in form.
    const regenerated = await admin.post(`/keypairs/${keyId}/regenerate`, {});
    secrets.push(['a regenerated secret', regenerated.body.secret]);
    const ui = await UiClient.signIn(url!, EMAIL, PASSWORD);
    secrets.push(['the UI session cookie', [...ui.cookies.values()].join(';')]);
    t.is((await new UiClient(url!).submit('/ui/sign-in', '/ui/sign-in', { email: EMAIL, password: 'not the password at all' })).status, 401);
    secrets.push(['a wrong UI password', 'not the password at all']);

    proc.child.kill('SIGTERM');
    t.is(await proc.exited, 0);
    const output = proc.output();
    const lines = output.split('\n').filter((line) => line.startsWith('{'));
    t.true(lines.some((line) => /"level":(10|20)\b/.test(line)), 'the run logged below info: trace level was on');
    t.true(lines.length > 20, 'the run logged its requests');

    const stored = JSON.parse(readFileSync(join(dataDir, 'keyport-secrets.json'), 'utf8')) as { pepper: string; keyEncryptionKey: string };
    secrets.push(['the secret pepper', stored.pepper], ['the key encryption key', stored.keyEncryptionKey]);
    for (const [what, value] of secrets) {
      t.false(output.includes(value), `${what} is not in the output`);
    }
    // A token's signature alone is as good as the token to find it: none either.
    for (const jwt of [token, postToken, adminToken]) t.false(output.includes(jwt.split('.')[2]!), 'no token signature');
    t.notRegex(output, /"d"\s*:\s*"/, 'no private JWK member');
    t.notRegex(output, /PRIVATE KEY/, 'no PEM private key');
    t.notRegex(output, /authorization"\s*:|Basic [A-Za-z0-9+/=]{8}|Bearer ey/i, 'no Authorization header or credentials');
  } finally {
    proc.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
