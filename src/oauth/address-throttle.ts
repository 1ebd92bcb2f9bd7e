// Throttling of failed client authentications per source address (docs/architecture.md, Lockout):
// the per-key lockout can be abused to lock other people's keys, and every
// wrong secret costs database writes, so one address gets a bounded number of
// failures per minute, whatever keys it tries. Past that it gets 429 slow_down
// with Retry-After, before any database work, and that answer is held back a
// moment (a tarpit): a client that floods over its budget from a few
// connections then gets a few answers a second instead of tens of thousands, so
// that it cannot crowd other clients out of the event loop. Per process (memory
// store): with N workers an address gets at most N times the limit.
import type { IncomingMessage } from 'node:http';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** Blocked addresses kept before expired ones are swept out. */
const SWEEP_AT = 10_000;
/**
 * Throttled answers held back at once, at most; past that they go out at once
 * with Connection: close. Each held answer is an open socket and a timer: the
 * bound keeps a flood over many connections from holding memory without end.
 */
const MAX_HELD = 10_000;

export class AddressThrottle {
  readonly #failures: RateLimiterMemory;
  /**
   * Addresses out of budget, until when (epoch ms). Every token request asks
   * retryAfter(); this answers it without the limiter's promise (its get() is
   * asynchronous), which is only needed when a failure is counted.
   */
  readonly #blockedUntil = new Map<string, number>();

  /** How long a throttled answer is held back (0: sent at once). */
  readonly #holdMs: number;
  #held = 0;

  constructor(maxFailuresPerMinute: number, holdMs = 0) {
    this.#failures = new RateLimiterMemory({ points: maxFailuresPerMinute, duration: 60, blockDuration: 60 });
    this.#holdMs = holdMs;
  }

  /**
   * Settles when a throttled answer may go out: after the hold time, or at once
   * (true: close the connection after it) when too many answers are held already.
   */
  hold(): Promise<boolean> {
    if (this.#holdMs === 0) return Promise.resolve(false);
    if (this.#held >= MAX_HELD) return Promise.resolve(true);
    this.#held++;
    return new Promise((resolve) => {
      setTimeout(() => {
        this.#held--;
        resolve(false);
      }, this.#holdMs).unref();
    });
  }

  /** Seconds to wait when the address is over its budget; 0 when it may try. */
  retryAfter(address: string): number {
    const until = this.#blockedUntil.get(address);
    if (until === undefined) return 0;
    const ms = until - Date.now();
    if (ms > 0) return Math.max(1, Math.ceil(ms / 1000));
    this.#blockedUntil.delete(address);
    return 0;
  }

  async failed(address: string): Promise<void> {
    let state: RateLimiterRes;
    try {
      state = await this.#failures.consume(address);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      state = err; // over the budget: blocked for the block duration
    }
    // The budget is spent from the last failure it allows: the next request waits, even with the right secret.
    if (state.remainingPoints <= 0) this.#block(address, Date.now() + state.msBeforeNext);
  }

  #block(address: string, until: number): void {
    if (this.#blockedUntil.size >= SWEEP_AT) {
      const now = Date.now();
      for (const [other, end] of this.#blockedUntil) if (end <= now) this.#blockedUntil.delete(other);
    }
    this.#blockedUntil.set(address, until);
  }
}

/**
 * The address a request's failures count against: what Koa's ctx.ip gives
 * with app.proxy = trustProxy (behind a trusted proxy the first X-Forwarded-For
 * entry, else the peer). The token endpoint is answered outside Koa's apps
 * (src/app.ts), introspection and revocation inside one: both use this, so
 * that an address has one budget whichever endpoint it tries.
 */
export function requestAddress(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = trustProxy ? req.headers['x-forwarded-for'] : undefined;
  const first = typeof forwarded === 'string' ? forwarded.split(',', 1)[0]!.trim() : '';
  return first || req.socket.remoteAddress || '';
}

/** The answer to an address over its budget (RFC 6585 429; `slow_down` as in RFC 8628). */
export function throttledResponse(retryAfterSeconds: number): { status: number; body: { error: string; error_description: string } } {
  return {
    status: 429,
    body: { error: 'slow_down', error_description: `too many failed client authentications from this address; retry in ${retryAfterSeconds} s` },
  };
}
