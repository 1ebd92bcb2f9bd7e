// Token signing keys rotate, over HTTP against a real Keyport whose clock the
// test moves: the next key is published before it signs, the old one stays
// published until its tokens have expired, a revoked one is gone at once; every
// step is in the audit trail, and processes sharing the database agree.
import test, { type ExecutionContext } from 'ava';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { createVerifier, type FetchLike } from 'keyport/verify';
import { openKeyportDomain } from '../../src/keyport.ts';
import { PUBLISH_LEAD_MS } from '../../src/domain/signing-key-schedule.ts';
import type { SigningKeyView } from '../../src/domain/signing-keys.ts';
import { startTestKeyport, type TestKeyport } from '../helpers/keyport.ts';
import { getToken, introspect, seedKeypair } from '../helpers/oauth.ts';

const DAY = 86_400_000;
const MINUTE = 60_000;
const TTL_SECONDS = 600;
/** How long a retired key stays published: the token lifetime plus 5 minutes of clock skew. */
const RETAIN_MS = TTL_SECONDS * 1000 + 5 * MINUTE;

async function withKeyport(t: ExecutionContext, work: (kp: TestKeyport, client: { keyId: string; secret: string }) => Promise<void>): Promise<void> {
  const kp = await startTestKeyport({ overrides: { tokens: { ttlSeconds: TTL_SECONDS, defaultAudience: 'https://api.example.com', resources: ['https://api.example.com'] } } });
  try {
    const client = await seedKeypair(kp.keyport, { scopes: ['orders:read'] });
    await work(kp, client);
  } finally {
    await kp.close();
  }
  t.pass();
}

async function jwksKids(kp: TestKeyport): Promise<string[]> {
  const jwks = await (await fetch(`${kp.url}/oauth/jwks`)).json() as JSONWebKeySet;
  return jwks.keys.map((key) => key.kid!).sort();
}

function kidOf(token: string): string {
  return decodeProtectedHeader(token).kid!;
}

async function keys(kp: TestKeyport): Promise<SigningKeyView[]> {
  return kp.keyport.domain.signingKeys.list();
}

async function kidIn(kp: TestKeyport, state: SigningKeyView['state']): Promise<string> {
  const found = (await keys(kp)).filter((key) => key.state === state);
  if (found.length !== 1) throw new Error(`expected one ${state} key, found ${JSON.stringify(found)}`);
  return found[0]!.kid;
}

async function systemEvents(kp: TestKeyport) {
  const { items } = await kp.keyport.domain.audit.page({ instance: true }, { limit: 100 });
  return items.filter((event) => event.action.startsWith('signing_key.')).reverse();
}

/** Moves the server's clock and lets it perform what is due (its own check runs every minute). */
async function advance(kp: TestKeyport, ms: number): Promise<void> {
  kp.clock.advance(ms);
  await kp.keyport.signingKeys.check();
}

function countingFetch(): { fetch: FetchLike; jwksFetches: () => number } {
  const urls: string[] = [];
  return { fetch: (url, init) => { urls.push(url); return fetch(url, init); }, jwksFetches: () => urls.filter((url) => url.endsWith('/oauth/jwks')).length };
}

test('the JWKS may be cached for 5 minutes, and already publishes the key that signs next', (t) => withKeyport(t, async (kp, client) => {
  const response = await fetch(`${kp.url}/oauth/jwks`);
  t.is(response.status, 200);
  t.is(response.headers.get('cache-control'), 'public, max-age=300');
  const current = await kidIn(kp, 'current');
  const next = await kidIn(kp, 'next');
  t.deepEqual(await jwksKids(kp), [current, next].sort());
  t.is(kidOf(await getToken(kp.url, client)), current);
  const list = await keys(kp);
  t.is(Date.parse(list.find((key) => key.kid === next)!.signsFrom) - Date.parse(list.find((key) => key.kid === current)!.signsFrom), 90 * DAY, 'the next key signs 90 days after the first');
}));

test('scheduled rotation: the next key signs after the interval; the old one stays published until its tokens have expired', (t) => withKeyport(t, async (kp, client) => {
  const first = await kidIn(kp, 'current');
  const second = await kidIn(kp, 'next');
  const early = await getToken(kp.url, client);
  t.is(kidOf(early), first);
  // A resource server that fetched the JWKS before the rotation.
  const { fetch: countedFetch, jwksFetches } = countingFetch();
  const verifier = createVerifier({ issuer: kp.url, audience: 'https://api.example.com', tenants: 'any', fetch: countedFetch });
  await verifier.verify(early);
  t.is(jwksFetches(), 1);

  await advance(kp, 90 * DAY - MINUTE);
  t.is(kidOf(await getToken(kp.url, client)), first, 'a minute before the interval ends, the first key still signs');
  t.deepEqual(await jwksKids(kp), [first, second].sort());

  await advance(kp, 2 * MINUTE);
  const late = await getToken(kp.url, client);
  t.is(kidOf(late), second, 'past the interval, the second key signs');
  const third = await kidIn(kp, 'next');
  t.deepEqual(await jwksKids(kp), [first, second, third].sort(), 'the first key is still published; the third is published ahead of its turn');
  t.is((await introspect(kp.url, client, early)).active, true, 'tokens of the first key stay valid');
  await verifier.verify(late);
  t.is(jwksFetches(), 1, 'the resource server had the new key before it signed: no refetch');
  const list = await keys(kp);
  t.is(list.find((key) => key.kid === first)!.state, 'retired');
  const removeAfter = Date.parse(list.find((key) => key.kid === first)!.removeAfter!);
  t.is(removeAfter - Date.parse(list.find((key) => key.kid === first)!.retiredAt!), RETAIN_MS);

  await advance(kp, RETAIN_MS - 2 * MINUTE);
  t.true((await jwksKids(kp)).includes(first), 'just before its removal time the first key is still published');
  await advance(kp, 2 * MINUTE);
  t.deepEqual(await jwksKids(kp), [second, third].sort(), 'once its tokens have expired, the first key leaves the JWKS');
  t.is((await introspect(kp.url, client, early)).active, false, 'a token of the removed key is no longer accepted');
  t.is((await introspect(kp.url, client, late)).active, true);
  t.is((await keys(kp)).find((key) => key.kid === first)!.state, 'removed');

  const events = (await systemEvents(kp)).map((e) => ({ actor: e.actor, action: e.action, kid: e.details.kid, previousKid: e.details.previousKid }));
  t.deepEqual(events, [
    { actor: 'system', action: 'signing_key.created', kid: first, previousKid: undefined },
    { actor: 'system', action: 'signing_key.created', kid: second, previousKid: undefined },
    { actor: 'system', action: 'signing_key.rotated', kid: second, previousKid: first },
    { actor: 'system', action: 'signing_key.created', kid: third, previousKid: undefined },
  ]);
}));

test('revoking the signing key: out of the JWKS at once, its tokens refused (also ones checked before), the next key signs', (t) => withKeyport(t, async (kp, client) => {
  const first = await kidIn(kp, 'current');
  const second = await kidIn(kp, 'next');
  const token = await getToken(kp.url, client);
  t.is((await introspect(kp.url, client, token)).active, true, 'checked once, so the verifier remembers it');

  const outcome = await kp.keyport.domain.signingKeys.revoke(first, 'system');
  t.is(outcome.signingKid, second);
  t.is(outcome.revoked.state, 'revoked');
  await kp.keyport.signingKeys.refresh();

  const kids = await jwksKids(kp);
  t.false(kids.includes(first), 'the revoked key is gone from the JWKS');
  t.true(kids.includes(second));
  t.is(kids.length, 2, 'a new next key is published behind the one that took over');
  t.is((await introspect(kp.url, client, token)).active, false, 'its tokens are refused at once');
  t.is(kidOf(await getToken(kp.url, client)), second, 'new tokens are signed by the next key');

  const events = await systemEvents(kp);
  const revoked = events.find((e) => e.action === 'signing_key.revoked')!;
  t.deepEqual(revoked.details, { kid: first, state: 'current', replacedBy: second });
  await t.throwsAsync(kp.keyport.domain.signingKeys.revoke(first, 'system'), { message: /already revoked/ });
  await t.throwsAsync(kp.keyport.domain.signingKeys.revoke('no-such-kid', 'system'), { message: 'signing key not found' });
}));

test('revoking the next key: it never signs; a replacement keeps the schedule', (t) => withKeyport(t, async (kp, client) => {
  const first = await kidIn(kp, 'current');
  const second = await kidIn(kp, 'next');
  const scheduled = (await keys(kp)).find((key) => key.kid === second)!.signsFrom;
  await kp.keyport.domain.signingKeys.revoke(second, 'system');
  await kp.keyport.signingKeys.refresh();
  const replacement = await kidIn(kp, 'next');
  t.not(replacement, second);
  t.deepEqual(await jwksKids(kp), [first, replacement].sort());
  t.is((await keys(kp)).find((key) => key.kid === replacement)!.signsFrom, scheduled);
  t.is(kidOf(await getToken(kp.url, client)), first);
}));

test('rotate: a next key published less than an hour ago signs once it has been; --immediately at once', (t) => withKeyport(t, async (kp, client) => {
  const first = await kidIn(kp, 'current');
  const second = await kidIn(kp, 'next');
  const created = Date.parse((await keys(kp)).find((key) => key.kid === second)!.createdAt);

  const safe = await kp.keyport.domain.signingKeys.rotate({}, 'cli');
  t.true(safe.changed);
  t.is(safe.signing.kid, second);
  t.is(safe.signing.state, 'next');
  t.is(Date.parse(safe.signing.signsFrom), created + PUBLISH_LEAD_MS);
  await kp.keyport.signingKeys.refresh();
  t.is(kidOf(await getToken(kp.url, client)), first, 'not before the lead time');
  t.false((await kp.keyport.domain.signingKeys.rotate({}, 'cli')).changed, 'asking again changes nothing');

  await advance(kp, PUBLISH_LEAD_MS);
  t.is(kidOf(await getToken(kp.url, client)), second);
  const third = await kidIn(kp, 'next');

  const urgent = await kp.keyport.domain.signingKeys.rotate({ immediately: true }, 'cli');
  t.is(urgent.signing.kid, third);
  t.is(urgent.signing.state, 'current');
  await kp.keyport.signingKeys.refresh();
  t.is(kidOf(await getToken(kp.url, client)), third);
  t.deepEqual((await jwksKids(kp)).length, 4, 'first and second retired, third signing, a fourth next');

  const rotations = (await systemEvents(kp)).filter((e) => e.action === 'signing_key.rotated');
  t.deepEqual(rotations.map((e) => [e.actor, e.details.kid, e.details.previousKid, e.details.immediately]), [
    ['cli', second, first, false],
    ['cli', third, second, true],
  ], 'the operator\'s rotations are recorded once, not again when they take effect');
}));

test('two processes performing the scheduled steps at the same time make one next key between them', (t) => withKeyport(t, async (kp) => {
  const other = await openKeyportDomain(kp.config, kp.clock, 'tool');
  try {
    kp.clock.advance(90 * DAY + MINUTE);
    await Promise.all([kp.keyport.signingKeys.check(), other.domain.signingKeys.ensure(), other.domain.signingKeys.ensure()]);
    const list = await keys(kp);
    t.is(list.length, 3);
    t.deepEqual(list.map((key) => key.state), ['next', 'current', 'retired']);
    const events = await systemEvents(kp);
    t.is(events.filter((e) => e.action === 'signing_key.rotated').length, 1);
    t.is(events.filter((e) => e.action === 'signing_key.created').length, 3);
    t.deepEqual((await other.domain.signingKeys.current()).version, (await kp.keyport.domain.signingKeys.current()).version);
  } finally {
    await other.database.close();
  }
}));

test('a revocation made by another process reaches the server through the change feed', (t) => withKeyport(t, async (kp, client) => {
  const first = await kidIn(kp, 'current');
  const token = await getToken(kp.url, client);
  t.is((await introspect(kp.url, client, token)).active, true);
  const other = await openKeyportDomain(kp.config, kp.clock, 'tool');
  try {
    await other.domain.signingKeys.revoke(first, 'cli');
  } finally {
    await other.database.close();
  }
  await kp.keyport.domain.changes.poll();
  await kp.keyport.signingKeys.refresh();
  t.false((await jwksKids(kp)).includes(first));
  t.is((await introspect(kp.url, client, token)).active, false);
  t.not(kidOf(await getToken(kp.url, client)), first);
}));

test('keys written before scheduled rotation (one active flag) are taken over after an upgrade, and their tokens stay valid', (t) => withKeyport(t, async (kp, client) => {
  const first = await kidIn(kp, 'current');
  const token = await getToken(kp.url, client);
  // What an older Keyport stored: one key, { active: true }, no schedule.
  const raw = kp.keyport.database.connection.db!.collection('signing_keys');
  await raw.deleteMany({ _id: { $ne: first } as never });
  await raw.updateOne({ _id: first as never }, { $set: { active: true }, $unset: { generation: '', signFrom: '', revokedAt: '', rotationRecorded: '' } });

  await kp.restart();
  t.is((await introspect(kp.url, client, token)).active, true);
  t.is(kidOf(await getToken(kp.url, client)), first, 'the key keeps signing');
  const list = await keys(kp);
  t.deepEqual(list.map((key) => [key.generation, key.state]), [[2, 'next'], [1, 'current']]);
  const upgraded = await kp.keyport.database.connection.db!.collection('signing_keys').findOne({ _id: first as never });
  t.false('active' in upgraded!);
  t.deepEqual(await jwksKids(kp), list.map((key) => key.kid).sort());
}));
