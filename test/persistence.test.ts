// What the database holds: keypairs and signing keys survive a restart, and
// secrets and private keys are never stored in the clear.
import anyTest, { type TestFn } from 'ava';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { getToken, seedKeypair, tokenRequest } from './helpers/oauth.ts';

const test = anyTest as TestFn<{ kp: TestKeyport }>;

test.before(async (t) => {
  t.context.kp = await startTestKeyport();
});
test.after.always(async (t) => {
  await t.context.kp?.close();
});

async function rawCollection(kp: TestKeyport, name: string) {
  return kp.keyport.database.connection.db!.collection(name).find({}).toArray();
}

test.serial('a secret is stored only as an HMAC hash; private signing keys only encrypted', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  await getToken(kp.url, seed);
  const db = kp.keyport.database.connection.db!;
  const collections = await db.listCollections().toArray();
  for (const { name } of collections) {
    const dump = JSON.stringify(await rawCollection(kp, name));
    t.false(dump.includes(seed.secret), `collection ${name} holds the secret`);
    t.false(dump.includes(seed.secret.slice(4, 30)), `collection ${name} holds part of the secret`);
  }
  const raw = await db.collection('keypairs').findOne({ _id: seed.keyId as never });
  t.truthy(raw);
  t.is(raw!.secrets.length, 1);
  t.regex(raw!.secrets[0].hash, /^[A-Za-z0-9_-]{43}$/, 'a 256-bit HMAC in base64url');
  const keys = await rawCollection(kp, 'signing_keys');
  t.true(keys.length >= 1);
  for (const key of keys) {
    t.false('d' in key.publicJwk, 'public part only in the clear');
    t.is(key.encryptedPrivateJwk.split('.').length, 5, 'private key is a compact JWE');
    t.false(JSON.stringify(key).includes('"d":'));
  }
});

test.serial('after a restart: keypairs still authenticate and tokens issued before still verify', async (t) => {
  const { kp } = t.context;
  const seed = await seedKeypair(kp.keyport);
  const before = await getToken(kp.url, seed);
  const jwksBefore = await (await fetch(`${kp.url}/oauth/jwks`)).json() as JSONWebKeySet;

  await kp.restart();

  const jwksAfter = await (await fetch(`${kp.url}/oauth/jwks`)).json() as JSONWebKeySet;
  t.deepEqual(jwksAfter, jwksBefore, 'the same signing keys are published');
  const { payload } = await jwtVerify(before, createLocalJWKSet(jwksAfter), { issuer: kp.url, audience: 'https://api.example.com', typ: 'at+jwt', algorithms: ['ES256'] });
  t.is(payload.client_id, seed.keyId);
  const again = await tokenRequest(kp.url, seed);
  t.is(again.status, 200, 'the keypair survived the restart');
});

test.serial('the embedded database keeps its data on disk under the data directory', async (t) => {
  const { kp } = t.context;
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(`${kp.dataDir}/ferretdb`);
  t.true(files.some((f) => f.endsWith('.sqlite')), `SQLite files in ${kp.dataDir}/ferretdb: ${files.join(', ')}`);
  t.is(kp.keyport.database.kind, process.env.KEYPORT_TEST_MONGODB_URI ? 'mongodb' : 'ferretdb');
});
