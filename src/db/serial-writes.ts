// One writer at a time per document, for databases whose single-document
// updates are not atomic.
//
// FerretDB v1 (the embedded database) implements findAndModify and update as:
// read the matching documents, apply the operators in Go, write each whole
// document back by _id, with no isolation in between. Two concurrent updates of
// one document therefore lose one of them: $inc counts vanish, a conditional
// update matches a state that is already gone, and a write of one field (a
// failure count, lastUsedAt) can put back an older value of every other field
// (undoing a lock, a disable, a rotation). MongoDB's updates are atomic, and so
// are those of Keyport's own build of FerretDB (ferretdb-build.ts,
// patch level ATOMIC_WRITES_PATCH_LEVEL and up): there only the in-process
// queue below runs (it costs nothing without contention).
//
// On any other FerretDB v1 (FERRETDB_BIN), what is atomic is an insert against
// a unique index. So the writes of a document are serialised:
//  - within this process, by a promise queue per key;
//  - across processes (cluster workers, the CLI), where the database needs it,
//    by a lease: a document in `collection` whose _id is the key. Inserting it
//    acquires the lease, deleting it releases it; a lease older than LEASE_MS is
//    taken to be left by a crashed process and removed.
import { randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import { ATOMIC_WRITES_PATCH_LEVEL } from './ferretdb-build.ts';
import { StoreConflictError } from './contract.ts';

interface Lease {
  _id: string;
  holder: string;
  /** Wall-clock time (never a test clock): the lease is about processes, not the domain. */
  expiresAt: Date;
}

const LEASE_MS = 10_000;
const WAIT_MS = 15_000;

function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

/**
 * True for a database whose single-document updates are not atomic: FerretDB
 * before v2, unless it is Keyport's build from the patch level that made them
 * atomic (its version reads `v1.24.2-keyport.N`). `ferretdbVersion` is what
 * buildInfo reports (absent on MongoDB).
 */
export function updatesNeedLeases(ferretdbVersion: string | null): boolean {
  if (ferretdbVersion === null) return false;
  const major = Number(/^v?(\d+)/.exec(ferretdbVersion)?.[1] ?? 1);
  if (major >= 2) return false;
  const patchLevel = Number(/-keyport\.(\d+)$/.exec(ferretdbVersion)?.[1] ?? 0);
  return patchLevel < ATOMIC_WRITES_PATCH_LEVEL;
}

export async function needsWriteLeases(connection: Connection): Promise<boolean> {
  const info = await connection.db!.admin().command({ buildInfo: 1 });
  return updatesNeedLeases(typeof info.ferretdbVersion === 'string' ? info.ferretdbVersion : null);
}

export class SerialWrites {
  readonly #connection: Connection;
  readonly #collection: string;
  readonly #queues = new Map<string, Promise<void>>();
  #leasesNeeded: Promise<boolean> | null = null;

  /**
   * `leases: 'always'` takes the lease on MongoDB too: for a rule that spans
   * several documents (an account keeps an admin), which no single atomic
   * update can hold, so that processes take turns whatever the database.
   */
  constructor(connection: Connection, collection: string, options: { leases?: 'when-needed' | 'always' } = {}) {
    this.#connection = connection;
    this.#collection = collection;
    if (options.leases === 'always') this.#leasesNeeded = Promise.resolve(true);
  }

  /** Runs `write` once every earlier write of the same key (here and, where needed, elsewhere) is done. */
  async run<T>(key: string, write: () => PromiseLike<T>): Promise<T> {
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.#underLease(key, write));
    const tail = run.then(() => {}, () => {});
    this.#queues.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    }
  }

  async #underLease<T>(key: string, write: () => PromiseLike<T>): Promise<T> {
    if (!(await this.#needsLeases())) return write();
    const leases = this.#connection.collection<Lease>(this.#collection);
    const holder = randomUUID();
    await this.#acquire(key, holder);
    try {
      return await write();
    } finally {
      await leases.deleteOne({ _id: key, holder }).catch(() => { /* it expires on its own */ });
    }
  }

  #needsLeases(): Promise<boolean> {
    if (!this.#leasesNeeded) {
      const probe = needsWriteLeases(this.#connection);
      // Ask again after a failure (the database may have been unreachable).
      probe.catch(() => { this.#leasesNeeded = null; });
      this.#leasesNeeded = probe;
    }
    return this.#leasesNeeded;
  }

  async #acquire(key: string, holder: string): Promise<void> {
    const leases = this.#connection.collection<Lease>(this.#collection);
    const deadline = Date.now() + WAIT_MS;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      try {
        await leases.insertOne({ _id: key, holder, expiresAt: new Date(Date.now() + LEASE_MS) });
        return;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      const current = await leases.findOne({ _id: key });
      if (current && current.expiresAt.getTime() < Date.now()) {
        await leases.deleteOne({ _id: key, holder: current.holder });
        continue;
      }
      if (Date.now() > deadline) throw new StoreConflictError('another process holds this record for too long; try again');
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
