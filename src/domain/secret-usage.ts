// Usage counted in memory and written in batches: successful authentications
// of each live secret, of each public key (private_key_jwt) and of each trust
// rule (federated workload identity), and
// presentations of ended secrets. The token endpoint only adds to a map (no
// database work, no promise); a timer writes each key's counts about once a
// minute, as ONE update of the keypair that also carries its lastUsedAt, and
// admin reads write a key's counts first so that they show them.
import type { PublicKeyUsageBatch, SecretUsageBatch, TrustRuleUsageBatch } from '../db/contract.ts';

export const USAGE_FLUSH_INTERVAL_MS = 60_000;
/** Keys with unwritten counts beyond which counting waits for the next write (a flood of distinct keys cannot grow memory without bound). */
const MAX_PENDING_KEYS = 100_000;

/** One keypair's counts since its last write. */
export interface KeypairUsageBatch {
  secrets: SecretUsageBatch[];
  keys: PublicKeyUsageBatch[];
  rules: TrustRuleUsageBatch[];
}

export type UsageWriter = (keyId: string, usage: KeypairUsageBatch) => Promise<void>;

type Pending = { secrets: Map<string, SecretUsageBatch>; keys: Map<string, PublicKeyUsageBatch>; rules: Map<string, TrustRuleUsageBatch> };

export class SecretUsageCounter {
  readonly #write: UsageWriter;
  readonly #onError: (err: unknown, what: string) => void;
  /** Counts not yet written: key id → secret hash (or key thumbprint) → batch. */
  #pending = new Map<string, Pending>();
  /** Writes under way, by key: a key's next write waits for it. */
  readonly #writing = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | null = null;

  constructor(options: { write: UsageWriter; onError: (err: unknown, what: string) => void; intervalMs?: number }) {
    this.#write = options.write;
    this.#onError = options.onError;
    this.#timer = setInterval(() => { void this.flush(); }, options.intervalMs ?? USAGE_FLUSH_INTERVAL_MS);
    this.#timer.unref();
  }

  #ofKey(keyId: string): Pending | null {
    let ofKey = this.#pending.get(keyId);
    if (!ofKey) {
      if (this.#pending.size >= MAX_PENDING_KEYS) return null;
      ofKey = { secrets: new Map(), keys: new Map(), rules: new Map() };
      this.#pending.set(keyId, ofKey);
    }
    return ofKey;
  }

  #batch(keyId: string, hash: string): SecretUsageBatch | null {
    const ofKey = this.#ofKey(keyId);
    if (!ofKey) return null;
    let batch = ofKey.secrets.get(hash);
    if (!batch) {
      batch = { hash, uses: 0, lastUsedAt: null, endedUses: 0, endedLastSeenAt: null, endedLastAddress: null };
      ofKey.secrets.set(hash, batch);
    }
    return batch;
  }

  /** A successful authentication with the secret hashed as `hash`. */
  used(keyId: string, hash: string, at: Date): void {
    const batch = this.#batch(keyId, hash);
    if (!batch) return;
    batch.uses++;
    if (!batch.lastUsedAt || at > batch.lastUsedAt) batch.lastUsedAt = at;
  }

  /** An ended secret presented from `address`. */
  endedSeen(keyId: string, hash: string, at: Date, address: string | null): void {
    const batch = this.#batch(keyId, hash);
    if (!batch) return;
    batch.endedUses++;
    if (!batch.endedLastSeenAt || at >= batch.endedLastSeenAt) {
      batch.endedLastSeenAt = at;
      if (address) batch.endedLastAddress = address;
    }
  }

  /** A successful client assertion signed with the public key `thumbprint`. */
  keyUsed(keyId: string, thumbprint: string, at: Date): void {
    const ofKey = this.#ofKey(keyId);
    if (ofKey) countUse(ofKey.keys, thumbprint, at, () => ({ thumbprint, uses: 0, lastUsedAt: at }));
  }

  /** A successful federated exchange admitted by the trust rule `ruleId`. */
  ruleUsed(keyId: string, ruleId: string, at: Date): void {
    const ofKey = this.#ofKey(keyId);
    if (ofKey) countUse(ofKey.rules, ruleId, at, () => ({ ruleId, uses: 0, lastUsedAt: at }));
  }

  /** The last use of a secret counted here and not yet written (null: none). */
  pendingLastUse(keyId: string, hash: string): Date | null {
    return this.#pending.get(keyId)?.secrets.get(hash)?.lastUsedAt ?? null;
  }

  /** Writes the counts of `keyId` (or of every key) counted so far; settles once written or reported. Never rejects. */
  async flush(keyId?: string): Promise<void> {
    const keys = keyId === undefined ? [...new Set([...this.#pending.keys(), ...this.#writing.keys()])] : [keyId];
    await Promise.all(keys.map((key) => this.#flushKey(key)));
  }

  #flushKey(keyId: string): Promise<void> {
    const before = this.#writing.get(keyId) ?? Promise.resolve();
    const ofKey = this.#pending.get(keyId);
    if (!ofKey) return before;
    this.#pending.delete(keyId);
    const run = before.then(async () => {
      try {
        await this.#write(keyId, { secrets: [...ofKey.secrets.values()], keys: [...ofKey.keys.values()], rules: [...ofKey.rules.values()] });
      } catch (err) {
        this.#onError(err, `writing the usage of keypair ${keyId}`);
      }
    });
    this.#writing.set(keyId, run);
    void run.finally(() => {
      if (this.#writing.get(keyId) === run) this.#writing.delete(keyId);
    });
    return run;
  }

  /** Writes what is left and stops the timer (at shutdown). */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }
}

/** One more use of a key or rule in its batch (made by `create` on the first), keeping the latest time. */
function countUse<Batch extends { uses: number; lastUsedAt: Date }>(batches: Map<string, Batch>, id: string, at: Date, create: () => Batch): void {
  let batch = batches.get(id);
  if (!batch) {
    batch = create();
    batches.set(id, batch);
  }
  batch.uses++;
  if (at > batch.lastUsedAt) batch.lastUsedAt = at;
}
