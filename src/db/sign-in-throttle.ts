// Throttling of admin sign-in failures (rate-limiter-flexible), so that passwords
// cannot be guessed at speed: per email and source address (a few consecutive
// failures), and per source address (many emails from one place). A success
// clears the per-email counter.
//
// It lives with storage because its counters do: the sign-in flow
// (src/http/session/sign-in.ts) sees only the SignInThrottle interface, and
// src/keyport.ts builds this one on the database connection.
//
// Store: the MongoDB store of rate-limiter-flexible on Keyport's own database
// connection (it works on FerretDB v1 too: findOneAndUpdate with upsert; the
// TTL index is not created — FerretDB v1 does not expire documents — and the
// limiter replaces expired entries itself). Without a connection: memory.
import type { Connection } from 'mongoose';
import { RateLimiterMemory, RateLimiterMongo, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface ThrottleLimits {
  /** Consecutive failures for one email from one address before a pause. */
  perEmailAndAddress: number;
  /** Failures from one address (any email) per hour. */
  perAddress: number;
  /** How long a blocked pair or address waits, in seconds. */
  blockSeconds: number;
}

export const DEFAULT_LIMITS: ThrottleLimits = { perEmailAndAddress: 5, perAddress: 50, blockSeconds: 900 };

const TABLE = 'rate_limits';

export class LoginThrottle {
  readonly #byEmailAndAddress: RateLimiterAbstract;
  readonly #byAddress: RateLimiterAbstract;
  readonly store: 'mongo' | 'memory';

  constructor(options: { connection?: Connection; limits?: ThrottleLimits } = {}) {
    const limits = options.limits ?? DEFAULT_LIMITS;
    const pair = { keyPrefix: 'login_email_ip', points: limits.perEmailAndAddress, duration: limits.blockSeconds, blockDuration: limits.blockSeconds };
    const address = { keyPrefix: 'login_ip', points: limits.perAddress, duration: 3600, blockDuration: limits.blockSeconds };
    if (options.connection) {
      const common = { storeClient: options.connection, tableName: TABLE, disableIndexesCreation: true };
      this.#byEmailAndAddress = new RateLimiterMongo({ ...common, ...pair });
      this.#byAddress = new RateLimiterMongo({ ...common, ...address });
      this.store = 'mongo';
    } else {
      this.#byEmailAndAddress = new RateLimiterMemory(pair);
      this.#byAddress = new RateLimiterMemory(address);
      this.store = 'memory';
    }
  }

  /** Creates the unique key index the MongoDB store relies on (the TTL index is left out, see above). */
  static async prepare(connection: Connection): Promise<void> {
    await connection.collection(TABLE).createIndex({ key: 1 }, { unique: true });
  }

  #key(email: string, address: string): string {
    return `${email.trim().toLowerCase()}|${address}`;
  }

  /** Seconds to wait when sign-in is paused for this email and address; 0 when it may proceed. */
  async retryAfter(email: string, address: string): Promise<number> {
    const [pair, ip] = await Promise.all([this.#byEmailAndAddress.get(this.#key(email, address)), this.#byAddress.get(address)]);
    const blocked = [pair, ip].filter((res): res is RateLimiterRes => res !== null && res.remainingPoints <= 0);
    return blocked.length ? Math.max(1, Math.ceil(Math.max(...blocked.map((r) => r.msBeforeNext)) / 1000)) : 0;
  }

  async failed(email: string, address: string): Promise<void> {
    // consume() rejects with a RateLimiterRes once the limit is reached (and blocks the key): expected here.
    const count = (limiter: RateLimiterAbstract, key: string) => limiter.consume(key, 1).catch((res: unknown) => {
      if (!(res instanceof RateLimiterRes)) throw res;
    });
    await Promise.all([count(this.#byEmailAndAddress, this.#key(email, address)), count(this.#byAddress, address)]);
  }

  async succeeded(email: string, address: string): Promise<void> {
    await this.#byEmailAndAddress.delete(this.#key(email, address));
  }
}
