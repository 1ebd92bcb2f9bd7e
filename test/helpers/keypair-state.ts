// Helpers for tests that look at a keypair's stored state and move time to a
// boundary exactly (lockouts, grace periods).
import { createHmac } from 'node:crypto';
import type { KeypairDoc } from '../../src/db/models/keypair.ts';
import { resolveServerSecrets } from '../../src/server-secrets.ts';
import type { TestClock, TestKeyport } from './keyport.ts';

/**
 * The raw stored document, read straight from the database (not through the
 * domain), once the wrong secrets already answered are counted (they are
 * written after their 401, as an admin read would wait for).
 */
export async function rawKeypair(t: TestKeyport, keyId: string): Promise<KeypairDoc> {
  await t.keyport.domain.keypairAuth.failuresCounted();
  const doc = await t.keyport.database.models.Keypair.findById(keyId).lean<KeypairDoc>();
  if (!doc) throw new Error(`keypair ${keyId} is not stored`);
  return doc;
}

/**
 * Stops the test clock at `at`: every domain read of "now" returns exactly this
 * instant until the next call (the TestClock alone keeps moving with real time).
 */
export function freezeClock(clock: TestClock, at: Date): Date {
  const fixed = at.getTime();
  clock.now = () => new Date(fixed);
  return new Date(fixed);
}

/** The HMAC Keyport stores for a secret, computed with the server's pepper. */
export function storedHashOf(t: TestKeyport, secret: string): string {
  const { pepper } = resolveServerSecrets(t.config);
  return createHmac('sha256', Buffer.from(pepper, 'utf8')).update(secret, 'utf8').digest('base64url');
}

/** Audit events of one keypair with the given action. */
export async function auditActions(t: TestKeyport, keyId: string, action: string) {
  await t.keyport.domain.keypairAuth.failuresCounted(); // a lock's event is written with its count
  const events = (await t.keyport.domain.audit.page({ keypairId: keyId }, { limit: 1000 })).items;
  return events.filter((event) => event.action === action);
}

/** Polls `read` until `done` holds (for writes made off the request path). Fails after `ms`. */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not reached within ${ms} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
