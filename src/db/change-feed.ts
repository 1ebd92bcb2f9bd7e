// Keeps in-process caches honest across processes. A change made here is
// applied to this process's caches at once (listeners run before publish()
// returns) and recorded in the `changes` collection; every process polls that
// collection and applies the changes of the others. So a disable, rotation,
// lock, removal or owner closing takes effect at once in the process that made
// it, and within one poll interval (250 ms by default) everywhere else.
//
// Why polling: MongoDB change streams need a replica set, and FerretDB v1 has
// none. The collection stays small (20 seconds of changes), so a poll is cheap even
// where the database scans it.
import { randomUUID } from 'node:crypto';
import { trusted } from 'mongoose';
import type { Models } from './models/index.ts';
import type { ChangeDoc } from './models/change.ts';
import type { ChangeFeed, ChangeKind, ChangeListener as Listener, HealthListener } from './contract.ts';

/** How far back each poll looks: covers slow inserts and small clock differences between hosts. */
const WINDOW_MS = 10_000;
/** Twice the window: each poll reads the whole collection where the database cannot use an index (FerretDB v1). */
const KEEP_MS = 20_000;

/** The ChangeFeed contract (src/db/contract.ts) over the `changes` collection. */
export class PollingChangeFeed implements ChangeFeed {
  readonly #models: Models;
  readonly #origin = randomUUID();
  readonly #listeners = new Set<Listener>();
  /** Ids of other processes' changes already applied, with their time (pruned after WINDOW_MS). */
  readonly #applied = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  /** The poll running now, if any. */
  #inFlight: Promise<void> | null = null;
  /** The one poll queued behind it (callers that came while it ran share it). */
  #next: Promise<void> | null = null;
  #lastTrim = 0;
  /** False from a failed poll until the next one that succeeds. */
  #healthy = true;
  readonly #healthListeners = new Set<HealthListener>();

  constructor(models: Models) {
    this.#models = models;
  }

  onChange(listener: Listener): void {
    this.#listeners.add(listener);
  }

  async publish(kind: ChangeKind, key: string): Promise<void> {
    this.#emit(kind, key);
    await this.#models.Change.create({ origin: this.#origin, kind, key, at: new Date() });
  }

  /**
   * Reports the feed's health: once when polls start failing (the database is
   * unreachable) and once when they work again, not at every failed poll.
   */
  onHealthChange(listener: HealthListener): void {
    this.#healthListeners.add(listener);
  }

  /** A change only this process's caches need to hear of (nothing is recorded for the others). */
  applyHere(kind: ChangeKind, key: string): void {
    this.#emit(kind, key);
  }

  /** Starts watching other processes' changes (servers do; a one-shot CLI command need not). */
  start(pollMs = 250): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.poll(), pollMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * Applies the changes other processes made up to now. A poll already running
   * may have read before the caller's change was written, so the caller waits
   * for it and for one more (shared by all who came meanwhile: polls never pile up).
   */
  poll(): Promise<void> {
    if (this.#inFlight) {
      this.#next ??= this.#inFlight.then(() => {
        this.#next = null;
        return this.poll();
      });
      return this.#next;
    }
    this.#inFlight = this.#pollOnce().finally(() => { this.#inFlight = null; });
    return this.#inFlight;
  }

  async #pollOnce(): Promise<void> {
    try {
      const now = Date.now();
      const docs = await this.#models.Change.find({ at: trusted({ $gte: new Date(now - WINDOW_MS) }) }).lean<ChangeDoc[]>();
      for (const doc of docs) {
        const id = String(doc._id);
        if (doc.origin === this.#origin || this.#applied.has(id)) continue;
        this.#applied.set(id, doc.at.getTime());
        this.#emit(doc.kind, doc.key);
      }
      for (const [id, at] of this.#applied) if (at < now - 2 * WINDOW_MS) this.#applied.delete(id);
      if (now - this.#lastTrim > KEEP_MS / 2) {
        this.#lastTrim = now;
        await this.#models.Change.deleteMany({ at: trusted({ $lt: new Date(now - KEEP_MS) }) });
      }
      if (!this.#healthy) {
        this.#healthy = true;
        for (const listener of this.#healthListeners) listener(true);
      }
    } catch (err) {
      // The database is unreachable for a while: the caches' TTL bounds staleness; try again next tick.
      if (this.#healthy) {
        this.#healthy = false;
        for (const listener of this.#healthListeners) listener(false, err);
      }
    }
  }

  #emit(kind: ChangeKind, key: string): void {
    for (const listener of this.#listeners) listener(kind, key);
  }
}
