// Replays raced against each other over HTTP on the embedded database: many
// simultaneous presentations of the same client assertion (same jti) or of the
// same DPoP proof. Exactly one gets a token and every other one gets the OAuth
// error of a replay, never a 500, however the database reports the collision.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import test from 'ava';
import { exportJWK, SignJWT } from 'jose';
import { dpopKey, dpopProof, dpopTokenRequest } from './helpers/dpop.ts';
import { startTestKeyport, type TestKeyport } from './helpers/keyport.ts';
import { seedKeypair } from './helpers/oauth.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const AT_ONCE = 50;
const ROUNDS = 4;

let tk: TestKeyport;

test.before(async () => {
  // Every replay is a failed authentication: neither the keypair's lockout nor the address budget may be what refuses them here.
  tk = await startTestKeyport({ overrides: { lockout: { mode: 'temporary', maxFailures: 1000, durationSeconds: 900, maxTemporaryLocks: 5, maxFailuresPerAddress: 100_000 } } });
});
test.after.always(async () => {
  await tk?.close();
});

type Answer = { status: number; body: Record<string, unknown> };
const answerOf = async (response: Response): Promise<Answer> => ({ status: response.status, body: await response.json() as Record<string, unknown> });

/** How many answers of each kind: "200", "401 invalid_client", ... */
function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status, body } of answers) {
    const kind = status === 200 ? '200' : `${status} ${String(body.error)}`;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

async function assertion(keyId: string, privateKey: KeyObject): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: keyId, sub: keyId, aud: `${tk.url}/oauth/token`, jti: randomUUID(), iat: now, exp: now + 120 })
    .setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
}

test.serial(`the same client assertion sent ${AT_ONCE} times at once, ${ROUNDS} rounds: one token, every replay 401 invalid_client`, async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const seed = await seedKeypair(tk.keyport);
  const issued = await tk.keyport.domain.keypairs.create({ environmentId: seed.environmentId }, { name: 'signer', scopes: ['orders:read'], secret: false, publicKeys: [await exportJWK(publicKey)] }, 'system');
  const { keyId } = issued.keypair;
  for (let round = 1; round <= ROUNDS; round++) {
    const raced = await assertion(keyId, privateKey);
    const answers = await Promise.all(Array.from({ length: AT_ONCE }, () => fetch(`${tk.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: raced }),
    }).then(answerOf)));
    t.deepEqual(tally(answers), { 200: 1, '401 invalid_client': AT_ONCE - 1 }, `round ${round}`);
  }
});

test.serial(`the same DPoP proof sent ${AT_ONCE} times at once, ${ROUNDS} rounds: one token, every replay 400 invalid_dpop_proof`, async (t) => {
  const seed = await seedKeypair(tk.keyport);
  const key = await dpopKey();
  for (let round = 1; round <= ROUNDS; round++) {
    const raced = await dpopProof(key, 'POST', `${tk.url}/oauth/token`);
    const answers = await Promise.all(Array.from({ length: AT_ONCE }, () => dpopTokenRequest(tk.url, seed, raced).then(answerOf)));
    t.deepEqual(tally(answers), { 200: 1, '400 invalid_dpop_proof': AT_ONCE - 1 }, `round ${round}`);
  }
});

test.serial('a client assertion and a DPoP proof with the same jti are each first used: separate records, not one', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const seed = await seedKeypair(tk.keyport);
  const issued = await tk.keyport.domain.keypairs.create({ environmentId: seed.environmentId }, { name: 'signer-dpop', scopes: ['orders:read'], secret: false, publicKeys: [await exportJWK(publicKey)] }, 'system');
  const { keyId } = issued.keypair;
  const jti = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const clientAssertion = await new SignJWT({ iss: keyId, sub: keyId, aud: `${tk.url}/oauth/token`, jti, iat: now, exp: now + 120 }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
  const key = await dpopKey();
  const proof = await dpopProof(key, 'POST', `${tk.url}/oauth/token`, { claims: { jti } });
  const answer = await answerOf(await fetch(`${tk.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion }),
  }));
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(answer.body.token_type, 'DPoP');
  // Each is still single use on its own.
  const again = await answerOf(await fetch(`${tk.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(keyId, privateKey) }),
  }));
  t.is(again.status, 400);
  t.is(again.body.error, 'invalid_dpop_proof');
});
