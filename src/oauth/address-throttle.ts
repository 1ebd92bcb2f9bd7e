// Throttling of failed client authentications per source address (DESIGN.md §14):
// the per-key lockout can be abused to lock other people's keys, and every
// wrong secret costs database writes, so one address gets a bounded number of
// failures per minute, whatever keys it tries. Past that it gets 429 slow_down
// with Retry-After, before any database work. Per process (memory store): with
// N workers an address gets at most N times the limit.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export class AddressThrottle {
  readonly #failures: RateLimiterMemory;

  constructor(maxFailuresPerMinute: number) {
    this.#failures = new RateLimiterMemory({ points: maxFailuresPerMinute, duration: 60, blockDuration: 60 });
  }

  /** Seconds to wait when the address is over its budget; 0 when it may try. */
  async retryAfter(address: string): Promise<number> {
    const state = await this.#failures.get(address);
    if (!state || state.remainingPoints > 0) return 0;
    return Math.max(1, Math.ceil(state.msBeforeNext / 1000));
  }

  async failed(address: string): Promise<void> {
    try {
      await this.#failures.consume(address);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err; // over the budget: blocked, nothing else to do
    }
  }
}

/** The answer to an address over its budget (RFC 6585 429; `slow_down` as in RFC 8628). */
export function throttledResponse(retryAfterSeconds: number): { status: number; body: { error: string; error_description: string } } {
  return {
    status: 429,
    body: { error: 'slow_down', error_description: `too many failed client authentications from this address; retry in ${retryAfterSeconds} s` },
  };
}
