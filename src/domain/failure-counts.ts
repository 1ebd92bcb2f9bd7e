// Wrong secrets waiting to be counted in the database, and the writer that
// counts them.
//
// A wrong secret is answered at once and counted afterwards (KeypairService
// says why). The failures of one key that arrive before its count is written
// join one batch, counted by one write; the writes run a few at a time (one on
// the embedded database), keys taking turns in the order they first failed.
// So a flood of wrong secrets costs the database at most what it can write,
// however fast the requests come: beyond that the batches grow, not the
// writes. (Measured on the embedded FerretDB, 32 connections of wrong secrets
// over 50 keys: one write at a time 8,700-9,600 answers/s with the database
// at 0.18 of a core; four at a time 7,200-8,700/s at 0.40; a write per
// request, each answer waiting for its own, 6,000-7,000/s at 0.60.)

import { FailureSourceTally, type FailureSource } from './failure-sources.ts';

interface Batch<R> {
  count: number;
  /** The batch's source addresses (failure-sources.ts), written by the same write as its count. */
  sources: FailureSourceTally;
  /** The record the first failure of the batch was checked against. */
  record: R;
  done: Promise<void>;
  finish: () => void;
}

export type CountWriter<R> = (key: string, record: R, count: number, sources: FailureSource[]) => Promise<void>;

export class FailureCounts<R> {
  readonly #write: CountWriter<R>;
  readonly #maxInFlight: number;
  readonly #onError: (err: unknown, what: string) => void;
  /** Batches waiting for a write, in the order their keys first failed (a Map keeps insertion order). */
  readonly #waiting = new Map<string, Batch<R>>();
  /** Batches being written, by key: at most one per key. */
  readonly #writing = new Map<string, Batch<R>>();
  #scheduled = false;

  constructor(options: { write: CountWriter<R>; maxInFlight: number; onError: (err: unknown, what: string) => void }) {
    this.#write = options.write;
    this.#maxInFlight = Math.max(1, options.maxInFlight);
    this.#onError = options.onError;
  }

  /** One more wrong secret of `key`; `record` is what it was checked against; `source` where it came from, when known. Never waits. */
  add(key: string, record: R, source?: { address: string; at: Date }): void {
    const waiting = this.#waiting.get(key);
    if (waiting) {
      waiting.count++;
      if (source) waiting.sources.add(source.address, source.at);
      return;
    }
    let finish!: () => void;
    const done = new Promise<void>((resolve) => { finish = resolve; });
    const sources = new FailureSourceTally();
    if (source) sources.add(source.address, source.at);
    this.#waiting.set(key, { count: 1, sources, record, done, finish });
    // After the answer has gone out: the write's own work (building and sending
    // it) must not delay the 401 either.
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#startWrites();
      });
    }
  }

  /** True while failures of `key` are waiting or being written. */
  pending(key: string): boolean {
    return this.#waiting.has(key) || this.#writing.has(key);
  }

  /**
   * Settles once the failures added so far (of `key`, or of every key) are
   * written, or their write has failed and been reported. Never rejects.
   */
  async counted(key?: string): Promise<void> {
    const batches = key === undefined
      ? [...this.#waiting.values(), ...this.#writing.values()]
      : [this.#waiting.get(key), this.#writing.get(key)];
    await Promise.all(batches.map((batch) => batch?.done));
  }

  #startWrites(): void {
    if (this.#writing.size >= this.#maxInFlight) return;
    for (const [key, batch] of this.#waiting) {
      if (this.#writing.size >= this.#maxInFlight) return;
      // A key's next batch waits for its previous one: the count of a batch depends on the one before.
      if (this.#writing.has(key)) continue;
      this.#waiting.delete(key);
      this.#writing.set(key, batch);
      void this.#runWrite(key, batch);
    }
  }

  async #runWrite(key: string, batch: Batch<R>): Promise<void> {
    try {
      await this.#write(key, batch.record, batch.count, batch.sources.sources());
    } catch (err) {
      this.#onError(err, `counting ${batch.count} failed authentication(s) of keypair ${key}`);
    } finally {
      this.#writing.delete(key);
      batch.finish();
      this.#startWrites();
    }
  }
}
