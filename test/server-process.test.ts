// `npm start` as a real process: it prints where to go, serves, logs no secrets,
// stops cleanly (with its embedded database), and refuses bad configuration clearly.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadConfig } from '../src/config.ts';
import { openKeyportDomain } from '../src/keyport.ts';
import { freePort } from '../src/net-ports.ts';
import { getToken } from './helpers/oauth.ts';
import { cleanEnv, startProcess, waitFor } from './helpers/process.ts';

/** The FerretDB process serving a data directory, found by its command line (null: none). */
function ferretdbProcess(dataDir: string): { pid: number; commandLine: string } | null {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    if (args.some((arg) => arg.startsWith('--state-dir=') && arg.includes(dataDir))) return { pid: Number(pid), commandLine: args.join(' ') };
  }
  return null;
}

test('starts on the embedded database, prints its URL, serves, logs no secret, and stops cleanly', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyport-process-'));
  const proc = startProcess(cleanEnv({ KEYPORT_DATA_DIR: dataDir, KEYPORT_PORT: '0' }));
  try {
    const [, url] = await waitFor(() => proc.output().match(/Keyport is ready at (http:\/\/\S+)/), 'the ready line');
    t.regex(proc.output(), /database: embedded FerretDB/);
    t.is((await fetch(`${url}/healthz`)).status, 200);
    const ready = await (await fetch(`${url}/readyz`)).json() as { database: boolean };
    t.true(ready.database);

    // A second process on the same data directory shares the running database.
    const { database, domain } = await openKeyportDomain(loadConfig(cleanEnv({ KEYPORT_DATA_DIR: dataDir })));
    const account = await domain.owners.createAccount({ name: 'Acme' }, 'system');
    const issued = await domain.keypairs.create({ accountId: account.id }, { name: 'ci', scopes: ['orders:read'] }, 'system');
    await database.close();
    const token = await getToken(url!, { keyId: issued.keypair.keyId, secret: issued.secret });
    await getToken(url!, { keyId: issued.keypair.keyId, secret: issued.secret, method: 'post' });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    t.regex(metrics, /keyport_token_requests_total\{outcome="issued"\} 2/);
    // Log lines are written in blocks, and at least every LOG_FLUSH_MS: a quiet
    // server's lines still show up while it runs, not only when it exits.
    await waitFor(() => proc.output().includes('"path":"/oauth/token"'), 'the access log line of a token request while the server runs', 5_000);
    // A client's bad request is answered, and not logged as a server error.
    const oversized = `email=${'a'.repeat(40_000)}`;
    for (const path of ['/ui/login', '/oauth/introspect']) {
      const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: oversized });
      t.is(response.status, 413, path);
    }

    proc.child.kill('SIGTERM');
    t.is(await proc.exited, 0);
    const output = proc.output();
    t.regex(output, /"msg":"request"/, 'requests are logged as JSON');
    t.true(output.split('\n').some((line) => line.includes('"path":"/oauth/token"') && line.includes(`"clientId":"${issued.keypair.keyId}"`)), 'token requests are logged with their key id');
    t.false(output.includes(issued.secret), 'the secret is never logged');
    t.false(output.includes(token), 'the token is never logged');
    t.false(output.includes('"level":50'), 'no error was logged');
    t.false(existsSync(join(dataDir, 'ferretdb.json')), 'the embedded database was stopped with the server');
  } finally {
    proc.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('cluster mode: workers share stdout, and every log line of every worker arrives whole (none lost, none interleaved)', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyport-process-'));
  const proc = startProcess(cleanEnv({
    KEYPORT_DATA_DIR: dataDir,
    KEYPORT_PORT: '0',
    KEYPORT_WORKERS: '2',
    KEYPORT_BOOTSTRAP_ADMIN_EMAIL: 'admin@example.com',
    KEYPORT_BOOTSTRAP_ADMIN_PASSWORD: 'correct horse battery staple',
  }));
  try {
    const [, url] = await waitFor(() => proc.output().match(/Keyport is ready at (http:\/\/\S+)/), 'the ready line');
    // Both workers write blocks of access lines to the one pipe at the same time,
    // while nobody reads it (a slow log collector): the pipe fills, writes wait.
    proc.child.stdout!.pause();
    const requests = 4000;
    let sent = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (sent < requests) {
        sent++;
        const response = await fetch(`${url}/healthz?n=${sent}`);
        await response.arrayBuffer();
      }
    }));
    proc.child.stdout!.resume();
    proc.child.kill('SIGTERM');
    t.is(await proc.exited, 0);
    const lines = proc.output().split('\n');
    const broken = lines.filter((line) => line.includes('{') && !(line.startsWith('{') && (() => { try { JSON.parse(line); return true; } catch { return false; } })()));
    t.deepEqual(broken.slice(0, 3), [], 'every line with JSON in it is one whole JSON line');
    const logged = lines.filter((line) => line.startsWith('{') && line.includes('"path":"/healthz"')).length;
    t.is(logged, requests, 'one access line per request, from both workers, all written by the time the server exits');
  } finally {
    proc.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('behind a path (KEYPORT_ISSUER=…/auth/): every link the console prints answers', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyport-process-'));
  const port = await freePort();
  const proc = startProcess(cleanEnv({ KEYPORT_DATA_DIR: dataDir, KEYPORT_PORT: String(port), KEYPORT_ISSUER: `http://127.0.0.1:${port}/auth/` }));
  try {
    await waitFor(() => proc.output().match(/Keyport is ready at (http:\/\/\S+)/), 'the ready line');
    t.regex(proc.output(), new RegExp(`Keyport is ready at http://127\\.0\\.0\\.1:${port}/auth +\\(issuer http://127\\.0\\.0\\.1:${port}/auth;`));
    const links = [...new Set(proc.output().match(/http:\/\/\S+/g) ?? [])].map((link) => link.replace(/[;)]$/, ''));
    t.true(links.length >= 5, links.join(' '));
    t.true(links.some((link) => link.includes('/ui/setup?token=')), 'the one-time setup link');
    for (const link of links) {
      t.true(link.startsWith(`http://127.0.0.1:${port}/`), link);
      // The token endpoint takes POST only: asked without credentials, it answers with an OAuth error.
      const response = await fetch(link, link.endsWith('/oauth/token') ? { method: 'POST' } : { redirect: 'manual' });
      t.not(response.status, 404, link);
      t.true(response.status < 500, `${link}: ${response.status}`);
    }
  } finally {
    proc.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a bad setting stops the start with a message naming it', async (t) => {
  const proc = startProcess(cleanEnv({ KEYPORT_TOKEN_TTL: '1', KEYPORT_DATA_DIR: mkdtempSync(join(tmpdir(), 'keyport-process-')) }));
  t.is(await proc.exited, 1);
  t.regex(proc.output(), /tokens\.ttlSeconds \(KEYPORT_TOKEN_TTL\)/);
});

test('a missing FerretDB binary gives a clear message', async (t) => {
  const proc = startProcess(cleanEnv({ FERRETDB_BIN: '/nonexistent/ferretdb', KEYPORT_DATA_DIR: mkdtempSync(join(tmpdir(), 'keyport-process-')) }));
  t.is(await proc.exited, 1);
  t.regex(proc.output(), /FERRETDB_BIN points to \/nonexistent\/ferretdb, which does not exist/);
});

test('MONGODB_URI without the server secrets is refused before connecting', async (t) => {
  const proc = startProcess(cleanEnv({ MONGODB_URI: 'mongodb://127.0.0.1:9/keyport' }));
  t.is(await proc.exited, 1);
  t.regex(proc.output(), /KEYPORT_SECRET_PEPPER/);
});

test('the embedded database commits with the configured durability (synchronous=NORMAL by default, FULL on request)', async (t) => {
  const { startEmbeddedFerretdb } = await import('../src/db/embedded-ferretdb.ts');
  for (const sync of [undefined, 'full', 'normal'] as const) {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyport-sync-'));
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const database = await startEmbeddedFerretdb({ dataDir, ferretdbBin: null, role: 'tool', ...(sync ? { sync } : {}) });
    try {
      t.regex(ferretdbProcess(dataDir)?.commandLine ?? 'none', new RegExp(`--sqlite-url=\\S*_pragma=synchronous\\(${sync ?? 'normal'}\\)`), `sync: ${sync ?? 'default'}`);
    } finally {
      await database.stop();
    }
  }
});

test('a Keyport process that is killed outright (SIGKILL) takes its embedded database with it', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyport-process-'));
  const proc = startProcess(cleanEnv({ KEYPORT_DATA_DIR: dataDir, KEYPORT_PORT: '0' }));
  try {
    await waitFor(() => proc.output().match(/Keyport is ready at (http:\/\/\S+)/), 'the ready line');
    const database = ferretdbProcess(dataDir);
    t.truthy(database, 'FerretDB runs for this data directory');
    proc.child.kill('SIGKILL'); // no exit handler runs
    await proc.exited;
    await waitFor(() => (ferretdbProcess(dataDir) === null ? 'gone' : null), 'FerretDB to stop', 15_000);
    t.is(ferretdbProcess(dataDir), null);
  } finally {
    proc.child.kill('SIGKILL');
    const orphan = ferretdbProcess(dataDir);
    if (orphan) process.kill(orphan.pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
