// A keypair's stored secrets as plain data: which of them authenticate now,
// which have ended (and are still recognised), what a rotation and the
// rotation-safety actions do to the lists, and how counted usage is merged in
// (docs/architecture.md, Rotation and regeneration). Hashing and comparing are
// in credentials.ts; nothing here reads a clock or a database.

import type { EndedSecret, KeypairRecord, SecretUsageBatch, StoredSecret } from '../db/contract.ts';
import { DomainError, invalidInput } from './errors.ts';
import { MAX_GRACE_AFTER_ROTATION_MS } from './limits.ts';

export type { EndedSecret, SecretUsageBatch, StoredSecret } from '../db/contract.ts';

/** At most this many ended secrets are kept per keypair (the newest): each one costs a comparison per failed check. */
export const MAX_ENDED_SECRETS = 10;
/** Ending the previous secret needs `force` when it was used this recently. */
export const RECENT_USE_MS = 3_600_000;
/** The "still in use" audit events come at most once a day per secret. */
export const USE_AUDIT_INTERVAL_MS = 86_400_000;

type Secrets = Pick<KeypairRecord, 'secrets' | 'endedSecrets'>;

/**
 * A secret's hint: its last 4 characters. They belong to the checksum (the
 * last 6 characters of a secret, credentials.ts), so a hint reveals nothing
 * of the secret's random part.
 */
export function secretHint(secret: string): string {
  return secret.slice(-4);
}

/** How a hint is shown: `kps_…AbC9`; null for secrets stored before hints existed. */
export function shownHint(hint: string | null | undefined): string | null {
  return hint ? `kps_…${hint}` : null;
}

/** When the secrets were last rotated: the current secret's creation (the rotation that made the previous one previous). */
export function rotatedAt(record: Pick<KeypairRecord, 'secrets'>): Date | null {
  return record.secrets.find((s) => s.expiresAt === null)?.createdAt ?? null;
}

/**
 * When a secret stops authenticating: never (null) for the current one; for a
 * previous one the end of its grace period, or earlier once it has gone
 * unused for `retireWhenIdleMs` (counted from its last use or from when the
 * option was set, whichever is later).
 */
export function secretEnd(secret: StoredSecret): Date | null {
  if (secret.expiresAt === null) return null;
  if (!secret.retireWhenIdleMs) return secret.expiresAt;
  const idleSince = Math.max(secret.lastUsedAt?.getTime() ?? 0, secret.retireWhenIdleSince?.getTime() ?? 0);
  return new Date(Math.min(secret.expiresAt.getTime(), idleSince + secret.retireWhenIdleMs));
}

/** Secrets that authenticate at `now`: the current one, and a previous one until its end (secretEnd). */
export function liveSecrets<S extends StoredSecret>(record: { secrets: S[] }, now: Date): S[] {
  return record.secrets.filter((s) => s.expiresAt === null || secretEnd(s)! > now);
}

/** The live previous secret at `now`, if any. */
export function previousSecret(record: Pick<KeypairRecord, 'secrets'>, now: Date): StoredSecret | null {
  return record.secrets.find((s) => s.expiresAt !== null && secretEnd(s)! > now) ?? null;
}

function endedFrom(secret: StoredSecret, endedAt: Date): EndedSecret {
  return {
    hash: secret.hash,
    hint: secret.hint ?? null,
    createdAt: secret.createdAt,
    endedAt,
    lastUsedAt: secret.lastUsedAt ?? null,
    useCount: secret.useCount ?? 0,
    endedUseCount: 0,
    endedLastSeenAt: null,
    endedLastAddress: null,
    endedAuditedAt: null,
  };
}

/**
 * The secrets that have ended and are still recognised at `now`: those kept in
 * `endedSecrets` for less than the retention, and a previous secret whose end
 * has passed but that no write has moved there yet. Newest first.
 */
export function endedSecrets(record: Secrets, now: Date, retentionMs: number): EndedSecret[] {
  const cutoff = now.getTime() - retentionMs;
  const pending = record.secrets
    .filter((s) => s.expiresAt !== null && secretEnd(s)! <= now && !record.endedSecrets?.some((e) => e.hash === s.hash))
    .map((s) => endedFrom(s, secretEnd(s)!));
  return [...pending, ...(record.endedSecrets ?? [])]
    .filter((e) => e.endedAt.getTime() > cutoff)
    .sort((a, b) => b.endedAt.getTime() - a.endedAt.getTime())
    .slice(0, MAX_ENDED_SECRETS);
}

/**
 * The hashes of the ended secrets still recognised: what the token endpoint
 * compares a secret with after the live ones. Allocates nothing for the
 * common keypair that has none.
 */
export function endedSecretHashes(record: Secrets, now: Date, retentionMs: number): readonly string[] {
  if (!record.endedSecrets?.length && !record.secrets.some((s) => s.expiresAt !== null && secretEnd(s)! <= now)) return NO_HASHES;
  return endedSecrets(record, now, retentionMs).map((e) => e.hash);
}
const NO_HASHES: readonly string[] = Object.freeze([]);

/** The lists with every secret that has ended by `now` moved to `endedSecrets` (plus `ending`, ended at `now`). */
function settled(record: Secrets, now: Date, retentionMs: number, ending: StoredSecret[] = []): Required<Secrets> {
  const endingHashes = new Set(ending.map((s) => s.hash));
  const secrets = record.secrets.filter((s) => !endingHashes.has(s.hash) && (s.expiresAt === null || secretEnd(s)! > now));
  const ended = endedSecrets({ secrets: record.secrets.filter((s) => !endingHashes.has(s.hash)), endedSecrets: record.endedSecrets ?? [] }, now, retentionMs);
  return { secrets, endedSecrets: [...ending.map((s) => endedFrom(s, now)), ...ended].slice(0, MAX_ENDED_SECRETS) };
}

export interface RotationOptions {
  /** The new secret's hint (secretHint). */
  hint?: string;
  /** The previous secret ends early once unused for this long. */
  retireWhenIdleMs?: number;
  /** How long ended secrets are recognised (secrets.endedRetentionDays). */
  retentionMs?: number;
}

/**
 * The secret lists after a rotation to the secret hashed as `hash` at `now`.
 * With no grace (`graceMs` 0, a regeneration) or no current secret: the new
 * secret alone. Otherwise the new secret, then the old current one ending at
 * now + grace; a previous secret still in its grace period ends at once
 * (never more than two live secrets). `endedEarlierPrevious` says whether that
 * happened, so that the surfaces can warn. Every secret that ends goes to
 * `endedSecrets`, with its hint and usage.
 */
export function rotatedSecrets(secrets: StoredSecret[], hash: string, now: Date, graceMs: number, options: RotationOptions & { endedSecrets?: EndedSecret[] } = {}): { secrets: StoredSecret[]; endedSecrets: EndedSecret[]; endedEarlierPrevious: boolean } {
  const current = secrets.find((s) => s.expiresAt === null);
  const fresh: StoredSecret = { hash, createdAt: now, expiresAt: null, ...(options.hint ? { hint: options.hint } : {}) };
  const livePrevious = secrets.filter((s) => s.expiresAt !== null && secretEnd(s)! > now);
  const ending = [...(graceMs === 0 && current ? [current] : []), ...livePrevious];
  const { endedSecrets: ended } = settled({ secrets, endedSecrets: options.endedSecrets ?? [] }, now, options.retentionMs ?? Infinity, ending);
  const previous: StoredSecret | null = graceMs === 0 || !current ? null : {
    ...current,
    expiresAt: new Date(now.getTime() + graceMs),
    ...(options.retireWhenIdleMs ? { retireWhenIdleMs: options.retireWhenIdleMs, retireWhenIdleSince: now } : {}),
  };
  return { secrets: previous ? [fresh, previous] : [fresh], endedSecrets: ended, endedEarlierPrevious: livePrevious.length > 0 };
}

/**
 * Ends the previous secret at `now` (it joins the ended secrets). Refused
 * unless `force` when it was used within RECENT_USE_MS: a client may still
 * depend on it. `recentUse` is its last use as known now (the record's, or a
 * later one still counted in memory).
 */
export function withPreviousEnded(record: Secrets, now: Date, retentionMs: number, options: { force: boolean; lastUsedAt: Date | null }): Required<Secrets> & { previous: StoredSecret } {
  const previous = previousSecret(record, now);
  if (!previous) throw noPrevious();
  if (!options.force && options.lastUsedAt && now.getTime() - options.lastUsedAt.getTime() < RECENT_USE_MS) {
    throw new DomainError('previous_secret_in_use', `the previous secret was last used ${options.lastUsedAt.toISOString()}, within the last hour: a client may still depend on it; end it with force to do so anyway`, { lastUsedAt: options.lastUsedAt.toISOString() });
  }
  return { ...settled(record, now, retentionMs, [previous]), previous };
}

const noPrevious = () => new DomainError('conflict', 'the keypair has no previous secret in a grace period', { reason: 'no_previous_secret' });

/**
 * The previous secret's grace period moved to `until`: later than its current
 * end, and at most MAX_GRACE_AFTER_ROTATION_MS after the rotation.
 */
export function withGraceExtended(record: Secrets, now: Date, until: Date): StoredSecret[] {
  const previous = previousSecret(record, now);
  const rotation = rotatedAt(record);
  if (!previous || !rotation) throw noPrevious();
  const latest = new Date(rotation.getTime() + MAX_GRACE_AFTER_ROTATION_MS);
  if (until.getTime() <= previous.expiresAt!.getTime()) throw invalidInput(`until must be later than the grace period's current end (${previous.expiresAt!.toISOString()})`);
  if (until > latest) throw invalidInput(`until must be at most 72 hours after the rotation (${latest.toISOString()})`, { latest: latest.toISOString() });
  return record.secrets.map((s) => (s === previous ? { ...s, expiresAt: until } : s));
}

/** The previous secret with retireWhenIdle set from `now` (or cleared: null). */
export function withRetireWhenIdle(record: Secrets, now: Date, idleMs: number | null): StoredSecret[] {
  const previous = previousSecret(record, now);
  if (!previous) throw noPrevious();
  return record.secrets.map((s) => (s === previous ? { ...s, retireWhenIdleMs: idleMs, retireWhenIdleSince: idleMs ? now : null } : s));
}

export type UsageEvent =
  | { action: 'keypair.previous_secret_still_used'; details: { hint: string | null; lastUsedAt: string | null; useCount: number; expiresAt: string | null } }
  | { action: 'keypair.ended_secret_used'; details: { hint: string | null; endedAt: string; count: number; lastSeenAt: string | null; lastAddress: string | null } };

const later = (a: Date | null | undefined, b: Date | null): Date | null => (!a ? b : !b ? a : a > b ? a : b);
const auditDue = (last: Date | null | undefined, now: Date) => !last || now.getTime() - last.getTime() >= USE_AUDIT_INTERVAL_MS;

/**
 * The lists with counted usage merged in (matched by hash, wherever the
 * secret is now), ended secrets settled, and the audit events due: a
 * previous secret used during its grace period, an ended secret presented,
 * each at most once a day per secret.
 */
export function withUsage(record: Secrets, batches: SecretUsageBatch[], now: Date, retentionMs: number): Required<Secrets> & { events: UsageEvent[] } {
  const byHash = new Map(batches.map((b) => [b.hash, b]));
  const events: UsageEvent[] = [];
  const counted = new Set<string>();
  const secrets = record.secrets.map((s): StoredSecret => {
    const batch = byHash.get(s.hash);
    if (!batch || batch.uses === 0) return s;
    counted.add(s.hash);
    const next: StoredSecret = { ...s, useCount: (s.useCount ?? 0) + batch.uses, lastUsedAt: later(s.lastUsedAt, batch.lastUsedAt) };
    if (s.expiresAt !== null && auditDue(s.stillUsedAuditedAt, now)) {
      next.stillUsedAuditedAt = now;
      events.push({ action: 'keypair.previous_secret_still_used', details: { hint: shownHint(s.hint), lastUsedAt: next.lastUsedAt?.toISOString() ?? null, useCount: next.useCount!, expiresAt: s.expiresAt.toISOString() } });
    }
    return next;
  });
  const settledLists = settled({ secrets, endedSecrets: record.endedSecrets ?? [] }, now, retentionMs);
  const ended = settledLists.endedSecrets.map((e): EndedSecret => {
    const batch = byHash.get(e.hash);
    if (!batch) return e;
    const next: EndedSecret = { ...e };
    if (batch.uses > 0 && !counted.has(e.hash)) {
      // Used while still live, written after it ended.
      next.useCount += batch.uses;
      next.lastUsedAt = later(e.lastUsedAt, batch.lastUsedAt);
    }
    if (batch.endedUses > 0) {
      next.endedUseCount += batch.endedUses;
      next.endedLastSeenAt = later(e.endedLastSeenAt, batch.endedLastSeenAt);
      next.endedLastAddress = batch.endedLastAddress ?? e.endedLastAddress;
      if (auditDue(e.endedAuditedAt, now)) {
        next.endedAuditedAt = now;
        events.push({ action: 'keypair.ended_secret_used', details: { hint: shownHint(e.hint), endedAt: e.endedAt.toISOString(), count: next.endedUseCount, lastSeenAt: next.endedLastSeenAt?.toISOString() ?? null, lastAddress: next.endedLastAddress } });
      }
    }
    return next;
  });
  return { secrets: settledLists.secrets, endedSecrets: ended, events };
}
