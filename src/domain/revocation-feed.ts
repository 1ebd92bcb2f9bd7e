// What the revocation feed lists (docs/revocation.md): every revocation that a
// token still within its lifetime could be affected by. Resource servers that
// validate tokens offline fetch it (keyport/verify) instead of asking Keyport
// about each token.
//
// The source is the database, so that every process serves the same feed:
// revocations of single tokens (the revoked_tokens the introspection endpoint
// uses) and revocation events of whole credentials, written by the domain call
// that makes the change. An event is kept for the longest token lifetime after
// it (plus a margin for validators' clock tolerance): after that every token it
// could refuse has expired anyway, so the feed stays as small as the recent
// revocations. Nothing here runs on the token endpoint.
import type { ChangeFeed, RevocationEventRecord, RevocationEventStore, RevocationStore } from '../db/contract.ts';
import type { Clock } from './clock.ts';

/** Kept this much longer than a token lives: validators accept a token a few seconds past `exp` (clock tolerance). */
const EXPIRY_MARGIN_MS = 60_000;
/** A feed read from the database serves this long in one process (other processes' revocations reach it within this). */
const REREAD_MS = 1000;

/** The feed's contents, as the signed feed carries them. */
export interface RevocationFeedContents {
  /** Key id → tokens below this generation are revoked (`gen` claim), or `all` (a removed keypair). */
  keypairs: Record<string, { gen_below: number } | { all: true }>;
  /** Every token of these accounts (`acc`) or environments (`env`) is revoked: they were closed. */
  accounts: string[];
  environments: string[];
  /** Single tokens revoked at /oauth/revoke, by their `jti` (not named `jti`: that claim is the feed's own id in a JWT). */
  tokens: string[];
}

/** The contents and when they were read: a feed is as fresh as the read that began at `readAt` (ms), not as its signature. */
export interface RevocationFeedSnapshot {
  contents: RevocationFeedContents;
  readAt: number;
}

export class RevocationFeed {
  readonly #events: RevocationEventStore;
  readonly #tokens: RevocationStore;
  readonly #clock: Clock;
  readonly #keepMs: number;
  #cached: { at: number; contents: Promise<RevocationFeedSnapshot> } | null = null;

  constructor(deps: { events: RevocationEventStore; tokens: RevocationStore; clock: Clock; changes: ChangeFeed; maxTokenLifetimeMs: number }) {
    this.#events = deps.events;
    this.#tokens = deps.tokens;
    this.#clock = deps.clock;
    this.#keepMs = deps.maxTokenLifetimeMs + EXPIRY_MARGIN_MS;
    // A token revoked in this process (or, within a poll, in another) is in the next feed at once.
    deps.changes.onChange((kind) => {
      if (kind === 'revocation') this.#cached = null;
    });
  }

  /** Tokens of the keypair below `generation` are no longer honoured (disabled, or regenerated with revokeTokens). */
  keypairTokensBelow(keyId: string, generation: number): Promise<void> {
    return this.#record({ kind: 'keypair', subject: keyId, generationBelow: generation });
  }

  /** Every token of the keypair is revoked: it was removed (or replaced). */
  keypairRemoved(keyId: string): Promise<void> {
    return this.#record({ kind: 'keypair', subject: keyId });
  }

  /** Every token of an account or environment is revoked: it is being closed. */
  ownerClosed(type: 'account' | 'environment', id: string): Promise<void> {
    return this.#record({ kind: type, subject: id });
  }

  /** The feed as the database holds it, re-read at most once a second per process (and at once after a change here). */
  snapshot(): Promise<RevocationFeedSnapshot> {
    const now = Date.now();
    if (!this.#cached || now - this.#cached.at >= REREAD_MS) {
      const contents = this.#read().then((read) => ({ contents: read, readAt: now }));
      const entry = { at: now, contents };
      this.#cached = entry;
      // A failed read is not served again: the next request reads anew.
      contents.catch(() => { if (this.#cached === entry) this.#cached = null; });
    }
    return this.#cached.contents;
  }

  async #record(event: Omit<RevocationEventRecord, 'at' | 'expiresAt'>): Promise<void> {
    const at = this.#clock.now();
    await this.#events.add({ ...event, at, expiresAt: new Date(at.getTime() + this.#keepMs) });
    this.#cached = null;
    // Expired events are dead weight: dropped on each new one (FerretDB v1 does not expire documents).
    await this.#events.deleteExpired(at);
  }

  async #read(): Promise<RevocationFeedContents> {
    const now = this.#clock.now();
    const [events, tokens] = await Promise.all([this.#events.unexpired(now), this.#tokens.unexpired(now)]);
    const keypairs: RevocationFeedContents['keypairs'] = {};
    const accounts = new Set<string>();
    const environments = new Set<string>();
    for (const event of events) {
      if (event.kind === 'account') accounts.add(event.subject);
      else if (event.kind === 'environment') environments.add(event.subject);
      else {
        // Merged per keypair: `all` wins, otherwise the highest generation.
        const known = keypairs[event.subject];
        if (known && 'all' in known) continue;
        if (event.generationBelow === undefined || event.generationBelow === null) keypairs[event.subject] = { all: true };
        else if (!known || known.gen_below < event.generationBelow) keypairs[event.subject] = { gen_below: event.generationBelow };
      }
    }
    return { keypairs, accounts: [...accounts], environments: [...environments], tokens: tokens.map((token) => token.jti) };
  }
}
